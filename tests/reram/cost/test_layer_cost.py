"""Hand-computed checks of the per-layer cost functions."""
from __future__ import annotations

import dataclasses

import pytest
from torch import nn

from reram.cost.layer_cost import (crossbar_cycle_s, crossbar_phase_cost, crossbar_update_cost,
                        digital_phase_cost, gpu_phase_cost, gpu_work, link_cost, map_layer)
from reram.cost.chip import Chip
from reram.cost.trace import trace_model
from reram.cost.writes import WriteActivity, WriteModel

#: The ISAAC chip preset: 16-bit weights as 15 magnitude bits over 8 two-bit slices x a G+/G-
#: pair, 16-bit inputs streamed one bit a cycle (15 cycles a sign phase), 100 ns reads.
ISAAC = Chip.preset("isaac").hardware


def small_reram(**changes):
    """A 32x32-crossbar chip with round numbers: 4-bit weights on 2-bit cells, 4 input cycles."""
    base = dict(crossbar_rows=32, crossbar_cols=32, cell_bits=2, weight_bits=4, input_bits=4,
                dac_bits=1, adc_bits=8, differential_weights=False, read_latency_s=1e-7,
                crossbar_energy_per_cycle_j=1e-12, dac_energy_per_cycle_j=0.0,
                adcs_per_crossbar=1, adc_conversions_per_s=1e9,
                adc_energy_per_conversion_j=1e-12, write_latency_s=1e-8,
                write_energy_per_cell_j=1e-9, cells_written_per_step=32, tiles=4,
                crossbars_per_tile=4, buffer_energy_per_byte_j=0.0, digital_ops_per_s=1e9,
                digital_energy_per_op_j=0.0, shift_add_energy_per_op_j=None,
                signed_input_phases=False, analog_row_sum=False, mvm_extra_cycles=0)
    base.update(changes)
    return dataclasses.replace(ISAAC.reram, **base)


def one(net, shape):
    return trace_model(net, shape).layers[0]


def test_linear_on_one_isaac_crossbar():
    layer = one(nn.Linear(100, 10), (100,))
    m = map_layer(layer, ISAAC.reram)
    assert (m.row_blocks, m.col_blocks, m.slices, m.signs, m.crossbars, m.cells) == (
        1, 1, 8, 2, 16, 16000)
    cost = crossbar_phase_cost(layer, ISAAC.reram, 1, "forward")
    # 15 input cycles (non-negative input) x max(100 ns read, 10 conversions / 1.28 GSps)
    assert cost.per_sample_s == pytest.approx(15 * 100e-9)
    analog = 16 * 15 * (30e-12 + 50e-12)            # crossbars x cycles x (array + DACs)
    conversions = 10 * 16 * 15                       # columns x crossbars x cycles
    digital = conversions * (1.5625e-12 + 1.953e-14)  # ADC + shift-add per conversion
    buffer = (100 + 10) * 2 * 5.4e-13                # 16-bit in and out through the eDRAM
    assert cost.energy_j == pytest.approx(analog + digital + buffer)
    signed = crossbar_phase_cost(layer, ISAAC.reram, 1, "forward", signed_input=True)
    assert signed.per_sample_s == pytest.approx(30 * 100e-9)  # two sign phases


def test_conv_needing_several_tiles_and_slices():
    layer = one(nn.Conv2d(16, 40, 3, padding=1), (16, 8, 8))
    reram = small_reram()
    m = map_layer(layer, reram)
    # rows 16*9 = 144 -> 5 blocks of 32; cols 40 -> 2 blocks; 4-bit weights / 2-bit cells -> 2
    assert (m.rows, m.cols, m.row_blocks, m.col_blocks, m.slices) == (144, 40, 5, 2, 2)
    assert m.crossbars == 20 and -(-m.crossbars // reram.crossbars_per_tile) == 5
    cost = crossbar_phase_cost(layer, reram, 3, "forward")
    assert cost.per_sample_s == pytest.approx(64 * 4 * 100e-9)  # 64 positions x 4 cycles
    assert cost.batch_s == pytest.approx(3 * cost.per_sample_s)
    diff = map_layer(layer, small_reram(differential_weights=True))
    assert (diff.slices, diff.signs, diff.crossbars) == (2, 2, 40)  # ceil(3/2) slices x pair


def test_transposed_backward_and_first_layer():
    layer = one(nn.Linear(64, 16), (64,))
    reram = small_reram()
    fwd = crossbar_phase_cost(layer, reram, 1, "forward").per_sample_s
    back = crossbar_phase_cost(layer, reram, 1, "backward")
    first = crossbar_phase_cost(layer, reram, 1, "backward", needs_input_grad=False)
    # the input gradient: 4 cycles through the transposed crossbars, 32 rows converted by one
    # 1 GSps ADC (32 ns) within the 100 ns read; the weight gradient is costed by the dataflow
    # (reram.cost.training), so the first layer's backward here is empty
    assert fwd == pytest.approx(4e-7) and back.per_sample_s == pytest.approx(4e-7)
    assert first.per_sample_s == 0.0 and first.energy_j == 0.0
    # 64 rows converted per crossbar column block, 2 row blocks x 2 slices
    assert back.parts["adc"] == pytest.approx(64 * 1 * 2 * 4 * 1e-12)
    assert crossbar_phase_cost(layer, reram, 1, "forward", replicas=4).per_sample_s == pytest.approx(1e-7)


def test_slow_adc_stretches_the_cycle():
    reram = small_reram(adc_conversions_per_s=1e8)  # 32 conversions at 100 MSps = 320 ns
    assert crossbar_cycle_s(32, reram) == pytest.approx(3.2e-7)
    assert crossbar_cycle_s(5, reram) == pytest.approx(1e-7)


def test_update_by_write_verify_pulses():
    layer = one(nn.Linear(40, 10), (40,))
    reram = small_reram()  # blocks: 2 rows x 1 col x 2 slices = 4 crossbars, 800 cells
    cost = crossbar_update_cost(layer, reram, replicas=3)
    # default activity: every cell moves one level, half up, half down -> each of the 32 rows
    # of an array in a SET and a RESET phase of one pulse (10 ns) and its verify read (100 ns)
    assert cost.batch_s == pytest.approx(32 * 2 * (1e-8 + 1e-7))
    verify = 32 * 2 * 4 * 1e-12  # one array read per row step, 4 arrays
    assert cost.energy_j == pytest.approx(3 * (800 * 1e-9 + verify))
    # NeuroSim's device: 60 pulse levels over the range, 3 cell levels -> 20 pulses a level;
    # open-loop (no verify); a quarter of the cells change, by 2 levels, at most 3 in a row
    writes = WriteModel(device_levels=60, verify_read_s=0.0, activity=WriteActivity(
        changed_fraction=0.25, mean_level_change=2.0, row_max_level_change=3.0))
    cost = crossbar_update_cost(layer, reram, writes=writes)
    assert cost.batch_s == pytest.approx(32 * 2 * 60 * 1e-8)
    assert cost.energy_j == pytest.approx(800 * 0.25 * 2 * 20 * 1e-9)


def test_digital_units_share_work_across_tiles():
    layer = trace_model(nn.Sequential(nn.MaxPool2d(2)), (4, 8, 8)).layers[0]
    cost = digital_phase_cost(layer, small_reram(), 2, "forward", tiles=2)
    assert cost.per_sample_s == pytest.approx(64 * 4 / 2e9)  # 64 outputs x 2x2 window, 2 tiles
    with pytest.raises(ValueError, match="tiles"):
        digital_phase_cost(layer, small_reram(), 2, "forward", tiles=0)
    # a chip-level block's own rate, whatever the tiles
    block = digital_phase_cost(layer, small_reram(), 2, "forward", tiles=2, ops_per_s=64e9)
    assert block.per_sample_s == pytest.approx(64 * 4 / 64e9)
    assert block.energy_j == pytest.approx(cost.energy_j)
    with pytest.raises(ValueError, match="ops_per_s must be a finite number > 0"):
        digital_phase_cost(layer, small_reram(), 2, "forward", ops_per_s=0.0)


def test_gpu_roofline_hand_case():
    gpu = dataclasses.replace(ISAAC.gpu, peak_flops=1e12, memory_bandwidth_bytes_per_s=1e11,
                              kernel_launch_s=1e-6, energy_per_flop_j=1e-12, energy_per_byte_j=1e-11)
    layer = one(nn.Linear(1000, 1000), (1000,))
    work = gpu_work(layer, 10, "forward", training=True)
    assert work.flops == 2 * 1000 * 1000 * 10
    assert work.bytes == (10 * 1000 + 10 * 1000 + 1000 * 1000) * 4
    cost = gpu_phase_cost(work, gpu, 10)
    # memory bound: 4.08 MB / 100 GB/s = 40.8 us, + 1 launch
    assert cost.batch_s == pytest.approx(1e-6 + 4.08e6 / 1e11)
    assert cost.energy_j == pytest.approx(2e7 * 1e-12 + 4.08e6 * 1e-11)


def test_bn_gpu_work_and_link():
    bn = one(nn.BatchNorm2d(4), (4, 8, 8))
    assert gpu_work(bn, 5, "forward", training=True).bytes == 3 * 256 * 5 * 4
    assert gpu_work(bn, 5, "forward", training=False).bytes == 2 * 256 * 5 * 4
    assert gpu_work(bn, 5, "backward", training=True).bytes == 5 * 256 * 5 * 4
    link = ISAAC.link
    cost = link_cost(2560, link)
    assert cost.bytes_moved == 2560
    assert cost.batch_s == pytest.approx(1e-6 + 2560 / 25.6e9)
    assert link_cost(0, link).batch_s == 0.0


def test_bad_inputs():
    layer = one(nn.Linear(4, 4), (4,))
    with pytest.raises(ValueError, match="batch_size"):
        crossbar_phase_cost(layer, ISAAC.reram, 0, "forward")
    with pytest.raises(ValueError, match="phase"):
        crossbar_phase_cost(layer, ISAAC.reram, 1, "sideways")
    with pytest.raises(ValueError, match="replicas"):
        crossbar_phase_cost(layer, ISAAC.reram, 1, "forward", replicas=0)
    relu = trace_model(nn.Sequential(nn.ReLU()), (4,)).layers[0]
    with pytest.raises(ValueError, match="does not map onto crossbars"):
        map_layer(relu, ISAAC.reram)
