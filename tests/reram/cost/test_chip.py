"""Tests of reram.Chip and of one small network costed by hand on one chip (ISAAC preset)."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

import reram
from reram.cost.chip import Chip, available_chips, peak_ops_per_s, peak_power_w
from reram.cost.scheduler import schedule

T = 100e-9          # ISAAC read cycle
E_CELL = 3.33e-12   # NeuroSim V2.1 write pulse (4 V, 240 kOhm, 50 ns)
T_WRITE = 50e-9


def test_presets_give_both_halves_and_the_geometry_follows_the_config():
    assert {"isaac", "puma", "neurosim", "pipelayer", "deeptrain-3d"} <= set(available_chips())
    chip = Chip.preset("isaac")
    assert chip.config == reram.CrossbarConfig.preset("isaac")  # the simulation's own preset
    reram_spec = chip.hardware.reram
    assert (reram_spec.crossbar_rows, reram_spec.cell_bits, reram_spec.weight_bits) == (128, 2, 16)
    assert reram_spec.slices == chip.config.n_slices and reram_spec.signs == 2
    assert reram_spec.input_cycles == chip.config.n_cycles
    coarse = Chip.preset("isaac", adc_bits=6, weight_bits=8)
    assert coarse.config.adc_bits == 6 and coarse.hardware.reram.adc_bits == 6
    assert coarse.hardware.reram.slices == 4  # ceil(7 / 2)
    assert coarse.hardware.reram.adc_energy_per_conversion_j == pytest.approx(1.5625e-12 / 4)
    with pytest.raises(ValueError, match="chip must be one of"):
        Chip.preset("tpu")


def test_replace_scales_the_chip_and_swaps_the_gpu():
    chip = Chip.preset("isaac")
    assert chip.replace(scale=4).total_crossbars == 4 * chip.total_crossbars
    assert chip.replace(tiles=2).total_crossbars == 2 * 96
    a100 = chip.replace(gpu="a100", gpu_precision="mixed")
    assert a100.hardware.gpu.peak_flops == 3.12e14 and a100.config == chip.config
    with pytest.raises(ValueError, match="scale must be"):
        chip.replace(scale=0)


def test_isaac_peak_from_its_published_constants():
    # ISAAC's own encoding: offset sign (one crossbar per slice), 16 one-bit input cycles
    chip = Chip.preset("isaac")
    paper = dataclasses.replace(chip.hardware.reram, differential_weights=False,
                                signed_input_phases=False)
    tops = peak_ops_per_s(paper) / 1e12
    tops_per_w = tops / peak_power_w(paper, chip.hardware.link)
    assert tops == pytest.approx(41.3, rel=0.10)          # published 41.3 TOPS
    assert tops_per_w == pytest.approx(41.3 / 65.8, rel=0.10)  # 65.8 W chip
    # by hand: 2016 blocks of 8 crossbars, 2 x 128 x 128 ops per 16 x 100 ns
    assert tops * 1e12 == pytest.approx(2016 * 2 * 128 * 128 / 1.6e-6)
    # the simulated chip (G+/G- pair, 15 cycles) has half the blocks
    assert chip.peak_ops_per_s() == pytest.approx(1008 * 2 * 128 * 128 / 1.5e-6)


def test_puma_mvm_is_its_simulators_pipeline():
    # PUMA simulator at the paper's code: a 100 ns step per input bit (one ADC reads the 128
    # columns at 1.28 GS/s, no longer than the array's read), the ADC of bit k beside the read of
    # bit k+1, and 2 steps of fill per MVM: (16 + 2) x 100 ns
    chip = Chip.preset("puma")
    paper = dataclasses.replace(chip.hardware.reram, differential_weights=False,
                                signed_input_phases=False)
    assert 128 / paper.adc_conversions_per_s == pytest.approx(paper.read_latency_s)
    assert paper.mvm_cycles(False) == 16 + 2
    mvmus = 138 * 8 * 2  # tiles x cores x MVMUs of 8 crossbars
    assert paper.total_crossbars == mvmus * 8
    assert peak_ops_per_s(paper) == pytest.approx(mvmus * 2 * 128 * 128 / 1.8e-6)


def small_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10))


def test_small_network_on_one_chip_by_hand():
    """Linear(64, 32) -> BN -> ReLU -> Linear(32, 10), training, batch 2, no replication."""
    chip = Chip.preset("isaac")
    plan = schedule(small_net(), (64,), batch_size=2, mode="train", chip=chip, replicate=False)
    gpu, link = chip.hardware.gpu, chip.hardware.link
    assert [l.crossbars for l in plan.layers if l.unit == "reram"] == [16, 16]  # 8 slices x 2

    def roof(flops, nbytes):
        return gpu.kernel_launch_s + max(flops / gpu.peak_flops, nbytes / gpu.memory_bandwidth_bytes_per_s)

    hop = link.latency_s + 128 / link.bandwidth_bytes_per_s  # 32 values x 2 bytes x 2 samples
    relu = 32 / 1.2e9                                          # on the tile of Linear(64, 32)
    l1_fwd = 30 * T      # the model's input is signed: two phases of 15 one-bit cycles
    l2_fwd = 15 * T      # post-ReLU input: one phase
    # backward: the transposed read of signed errors outlasts the weight gradient on the tile's
    # digital unit (320 MACs / 256 per ns); the first layer has only its weight gradient
    l2_bwd = 30 * T
    l1_bwd = 64 * 32 / 256e9
    forward = 2 * l1_fwd + (2 * hop + roof(8 * 64, 3 * 64 * 4)) + (relu + l2_fwd + l2_fwd)
    backward = (l2_bwd + relu + l2_bwd) + (2 * hop + roof(12 * 64, 5 * 64 * 4)) + 2 * l1_bwd
    # update: the optimizer (2 ops a weight at 1.2 GHz), then write-verify of every row in a SET
    # and a RESET phase (50 ns pulse, 100 ns verify); the layers in parallel, Linear(64, 32) last
    update = 2 * 64 * 32 / 1.2e9 + 64 * 2 * (T_WRITE + T)
    assert plan.update_s == pytest.approx(update)
    assert plan.latency_s == pytest.approx(forward + backward + update)

    parts = plan.energy_breakdown
    verify = (64 * 2 + 32 * 2) * 16 * 30e-12  # one read of each of the 16 arrays per row step
    assert parts["writes"] == pytest.approx((64 * 32 + 32 * 10) * 16 * E_CELL + verify)
    assert "gradient_writes" not in parts  # the digital dataflow: no error arrays
    # a 16-bit multiply and a 32-bit add (Horowitz, 45 nm), at ISAAC's 32 nm (digital: x L)
    mac = (0.2e-12 * (16 / 8) ** 2 + 0.1e-12) * 32 / 45
    assert parts["weight_gradient"] == pytest.approx(2 * (64 * 32 + 32 * 10) * mac)
    conversions = 2 * (32 * 16 * 30 + 10 * 16 * 15 + 32 * 16 * 30)
    assert parts["adc"] == pytest.approx(conversions * 1.5625e-12)
    assert sum(l.bytes_moved for l in plan.layers) == 4 * 128  # in and out, forward and backward
    assert parts["link"] == pytest.approx(4 * 128 * link.energy_per_byte_j)
    assert parts["reram_static"] == pytest.approx(168 * 0.03699 * plan.latency_s)  # 36.99 mW a tile
    assert parts["gpu_idle"] == pytest.approx(40.0 * plan.latency_s)
    assert plan.energy_j == pytest.approx(sum(parts.values()))
    assert plan.gpu_energy_breakdown["gpu_idle"] == pytest.approx(40.0 * plan.gpu_latency_s)


def test_replicas_work_on_different_samples_linear_included():
    chip = Chip.preset("isaac")
    net = nn.Sequential(nn.Linear(64, 10))
    plan = schedule(net, (64,), batch_size=8, mode="inference", chip=chip)
    assert plan.layers[0].replicas == 8  # one copy per sample of the batch, at most
    assert plan.latency_s == pytest.approx(8 * 30 * T / 8)  # 8 samples over 8 copies
    small = chip.replace(tiles=1)  # 96 crossbars: 6 copies of 16
    assert schedule(net, (64,), batch_size=8, mode="inference", chip=small).layers[0].replicas == 6


def test_write_power_bounds_the_update():
    chip = Chip.preset("isaac")
    net = nn.Sequential(nn.Linear(128, 128))
    free = schedule(net, (128,), 1, "train", chip=chip, replicate=False)
    # the optimizer, then 128 rows, each a SET and a RESET phase of a pulse and a verify read
    assert free.update_s == pytest.approx(2 * 128 * 128 / 1.2e9 + 128 * 2 * (T_WRITE + T))
    tight = Chip(chip.config, chip.hardware.replace(**{"reram.max_write_power_w": 1e-3}))
    plan = schedule(net, (128,), 1, "train", chip=tight, replicate=False)
    # 1 mW: the write energy (one pulse a cell, one array read a row step) takes longer
    energy = 128 * 128 * 16 * E_CELL + 128 * 2 * 16 * 30e-12
    assert plan.update_s == pytest.approx(energy / 1e-3)


def test_pipelayer_overlaps_forward_and_backward_on_a_second_array_set():
    chip = Chip.preset("isaac")
    net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    layer = schedule(net, (64,), 16, "train", chip=chip, replicate=False)
    piped = schedule(net, (64,), 16, "train", chip=chip, replicate=False, pipeline="pipelayer")
    assert [l.crossbars for l in piped.layers if l.unit == "reram"] == [32, 32]
    assert piped.latency_s < layer.latency_s
    assert piped.energy_breakdown["writes"] == pytest.approx(2 * layer.energy_breakdown["writes"])
    with pytest.raises(ValueError, match="pipeline must be"):
        schedule(net, (64,), 16, "train", chip=chip, pipeline="systolic")


def test_mixed_precision_baseline_is_faster_than_fp32():
    net = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1))
    fp32 = schedule(net, (3, 32, 32), 64, "train", gpu="v100")
    mixed = schedule(net, (3, 32, 32), 64, "train", gpu="v100", gpu_precision="mixed")
    assert mixed.gpu_latency_s < fp32.gpu_latency_s and mixed.latency_s == pytest.approx(fp32.latency_s)
    assert "mixed" in mixed.gpu_name


def test_chip_round_trips_through_its_dict(tmp_path):
    import json

    chip = Chip.preset("puma", weight_bits=8, saf0_rate=0.01)
    path = tmp_path / "chip.json"
    path.write_text(json.dumps(chip.to_dict()))
    again = Chip.from_json(path)
    assert again.config == chip.config and again.hardware == chip.hardware


def test_plan_training_area_is_the_component_tables_per_tile():
    """A plan's weight-gradient-unit area is the component table's per tile, at the chip's node
    (the plan once counted Horowitz's 45 nm figures while the table moved them to 32 nm)."""
    chip = Chip.preset("isaac").replace(tiles=1)
    plan = schedule(nn.Sequential(nn.Linear(100, 10)), (100,), batch_size=2, mode="train",
                    chip=chip, replicate=False)
    assert plan.crossbars_used <= chip.hardware.reram.crossbars_per_tile  # one tile
    rows = {c.name: c for c in chip.training_components()}
    assert plan.training_area_mm2["weight_gradient_unit"] == pytest.approx(
        rows["weight_gradient_unit"].area_mm2)
    at_45 = chip.training.unit.area_mm2(chip.hardware.reram.input_bits)
    assert rows["weight_gradient_unit"].area_mm2 == pytest.approx(at_45 * (32 / 45) ** 2)
    legacy = Chip.from_hardware(dataclasses.replace(chip.hardware, silicon=None))
    assert legacy.weight_gradient_unit_area_mm2(16) == pytest.approx(chip.training.unit.area_mm2(16))


def test_at_node_moves_the_training_silicon_as_the_component_table_does():
    """``at_node`` moves the transposed read's periphery (ISAAC's 32 nm ADCs and DACs) and the
    weight-gradient MACs' energy (Horowitz's 45 nm) to the node, as ``components(node_nm=)``
    does; both once stayed at their reference nodes after ``at_node``."""
    from reram.cost.silicon import node_factors

    chip = Chip.preset("isaac")
    moved = chip.at_node(12)
    table = {c.name: c for c in chip.training_components(node_nm=12)}
    built = {c.name: c for c in moved.training_components()}
    assert built["transposed_periphery"].area_mm2 == pytest.approx(table["transposed_periphery"].area_mm2)
    at_32 = {c.name: c for c in chip.training_components()}["transposed_periphery"].area_mm2
    assert built["transposed_periphery"].area_mm2 == pytest.approx(
        at_32 * node_factors("analog", 32, 12)[0])
    assert built["transposed_periphery"].area_mm2 < at_32
    # a plan on the moved chip counts the same per-array figure as its table
    net = nn.Sequential(nn.Linear(100, 10))
    plan = schedule(net, (100,), batch_size=2, mode="train", chip=moved.replace(tiles=1), replicate=False)
    per_array = built["transposed_periphery"].area_mm2 / built["transposed_periphery"].count
    assert plan.training_area_mm2["transposed_periphery"] == pytest.approx(
        per_array * plan.crossbars_used)
    # the MACs' energy at the node: the costed spec's and the table's peak power agree
    bits = chip.hardware.reram.input_bits
    for c in (chip, moved):
        unit = c.costed_training().unit
        peak = {r.name: r for r in c.training_components()}["weight_gradient_unit"].power_w
        assert peak == pytest.approx(c.hardware.reram.tiles * unit.macs_per_tile * unit.clock_hz
                                     * unit.mac_energy_j(bits))
    assert moved.costed_training().unit.mac_energy_j(bits) < chip.costed_training().unit.mac_energy_j(bits) \
        < chip.training.unit.mac_energy_j(bits)
    legacy = Chip.from_hardware(dataclasses.replace(chip.hardware, silicon=None))
    assert legacy.costed_training().unit == legacy.training.unit


def test_infinite_or_nan_sizes_and_figures_are_refused_by_name():
    """An infinite scale, node or budget, a NaN or infinite training area, a negative eDRAM
    refresh or a zero reference geometry are refused with a one-line error naming the field
    (they passed the ``> 0`` / ``>= 0`` checks and failed later, or silently)."""
    import math

    from reram.cost.silicon import SiliconSpec, Unit
    from reram.cost.training import TrainingSpec

    chip = Chip.preset("isaac")
    for call, match in ((lambda: chip.replace(scale=math.inf), "scale must be a finite"),
                        (lambda: chip.at_node(math.inf), "node_nm must be a finite"),
                        (lambda: chip.at_area(math.inf), "area budget must be a finite"),
                        (lambda: chip.at_power(math.inf), "power budget must be a finite"),
                        (lambda: TrainingSpec(transposed_adc_area_mm2=math.nan),
                         "transposed_adc_area_mm2 must be a finite"),
                        (lambda: Unit(per="tile", area_mm2=math.inf, power_w=1.0, source="x"),
                         "Unit.area_mm2 must be a finite"),
                        (lambda: dataclasses.replace(chip.hardware.silicon,
                                                     edram_refresh_w_per_tile=-1.0),
                         "edram_refresh_w_per_tile must be a finite number >= 0"),
                        (lambda: dataclasses.replace(chip.hardware.silicon, reference={
                            **chip.hardware.silicon.reference, "rows": 0}),
                         r"reference\['rows'\] must be a finite number > 0")):
        with pytest.raises(ValueError, match=match):
            call()
    assert isinstance(chip.hardware.silicon, SiliconSpec)
