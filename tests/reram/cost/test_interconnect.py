"""Tests of the on-chip data movement: tile-buffer bandwidth and the mesh network, by hand."""
from __future__ import annotations

import dataclasses

import pytest
from torch import nn

from reram.cost.chip import Chip
from reram.cost.interconnect import (InterconnectSpec, mesh_hops, transfer_cost, transfer_traffic,
                                     with_transfers)
from reram.cost.layer_cost import PhaseCost, crossbar_phase_cost, map_layer
from reram.cost.memory import MemorySpec
from reram.cost.scheduler import crossbar_stage_cost, schedule
from reram.cost.trace import trace_model
from reram.cost.training import TrainingSpec

CHIP = Chip.preset("isaac")
RERAM = CHIP.reram_for(None)
NET = InterconnectSpec()


def one(net, shape):
    return trace_model(net, shape).layers[0]


def test_defaults_are_isaacs_figures():
    assert NET.buffer_bytes_per_s_per_tile == pytest.approx(38.4e9)  # 256 bits at 1.2 GHz
    assert NET.energy_per_bit_hop_j == pytest.approx(0.1367e-12, rel=1e-3)  # 42 mW / 8x32 b x 1.2 GHz
    assert (NET.flit_bytes, NET.tiles_per_router, NET.partial_sum_bytes) == (4, 4, 2)


def test_mesh_hops_by_hand():
    assert mesh_hops(1, 4) == pytest.approx(1.0)  # one router: one hop from the neighbour
    assert mesh_hops(4, 4) == pytest.approx(1.0)
    assert mesh_hops(16, 4) == pytest.approx(1 + 2 * 3 / 6)  # 2 x 2 routers: 0.5 mean distance
    assert mesh_hops(64, 4) == pytest.approx(1 + 2 * 15 / 12)
    assert mesh_hops(17, 4) > mesh_hops(16, 4)


def test_conv_traffic_by_hand():
    # 144 rows (2 row blocks of 128) x 40 cols (1 column block), 64 positions, 16-bit values
    conv = one(nn.Conv2d(16, 40, 3, padding=1), (16, 8, 8))
    m = map_layer(conv, RERAM)
    assert (m.rows, m.cols, m.row_blocks, m.col_blocks) == (144, 40, 2, 1)
    buf, net = transfer_traffic(conv, RERAM, NET, "forward", tiles=1)
    assert buf == (144 + 40) * 64 * 2
    assert net == 16 * 8 * 8 * 2 * 1  # the input to one column block; no partial sums in one tile
    buf2, net2 = transfer_traffic(conv, RERAM, NET, "forward", tiles=2)
    assert buf2 == buf and net2 == net + 1 * 40 * 64 * 2  # one more row block's partial sums
    back, back_net = transfer_traffic(conv, RERAM, NET, "backward", tiles=2)
    # errors (40 x 8 x 8) to each of 2 row blocks; one column block: no partial sums
    assert back == buf and back_net == 40 * 64 * 2 * 2
    assert transfer_traffic(conv, RERAM, NET, "backward", needs_input_grad=False) == (0.0, 0.0)


def test_transfer_cost_by_hand():
    conv = one(nn.Conv2d(16, 40, 3, padding=1), (16, 8, 8))
    cost = transfer_cost(conv, RERAM, NET, 3, "forward", tiles=2, extra_buffer_bytes=100)
    buf = (144 + 40) * 64 * 2 + 100
    net = 16 * 64 * 2 + 40 * 64 * 2
    buffer_s, network_s = buf / (2 * 38.4e9), net / (2 * 4 * 1.2e9)
    assert network_s > buffer_s and cost.per_sample_s == pytest.approx(network_s)
    assert cost.batch_s == pytest.approx(3 * network_s)
    assert cost.parts["interconnect"] == pytest.approx(3 * net * 8 * 1.0 * NET.energy_per_bit_hop_j)
    assert cost.energy_j == cost.parts["interconnect"]
    with pytest.raises(ValueError, match="tiles"):
        transfer_cost(conv, RERAM, NET, 3, "forward", tiles=0)
    with pytest.raises(ValueError, match="phase"):
        transfer_cost(conv, RERAM, NET, 3, "update")


def test_overlap_or_add():
    compute = PhaseCost(2e-6, 8e-6, 1.0, parts={"adc": 1.0})
    moved = PhaseCost(3e-6, 12e-6, 0.5, parts={"interconnect": 0.5})
    both = with_transfers(compute, moved, NET, 4)
    assert both.per_sample_s == 3e-6 and both.batch_s == pytest.approx(12e-6)
    assert both.parts == {"adc": 1.0, "interconnect": 0.5} and both.energy_j == 1.5
    added = with_transfers(compute, moved, InterconnectSpec(overlap=False), 4)
    assert added.per_sample_s == pytest.approx(5e-6)


def test_bad_specs():
    with pytest.raises(ValueError, match="flit_bytes"):
        InterconnectSpec(flit_bytes=0)
    with pytest.raises(ValueError, match="router_clock_hz"):
        InterconnectSpec(router_clock_hz=0.0)
    with pytest.raises(ValueError, match="overlap"):
        InterconnectSpec(overlap=1)
    with pytest.raises(TypeError, match="interconnect"):
        MemorySpec(interconnect={})


def test_plans_charge_the_network_in_both_modes():
    net = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1))
    for mode in ("inference", "train"):
        plan = schedule(net, (3, 16, 16), batch_size=2, mode=mode, chip=CHIP, replicate=False)
        assert plan.energy_breakdown["interconnect"] > 0
        assert plan.energy_breakdown["buffer"] > 0
    # a stage whose transfers outlast its compute: a chip with a slow buffer
    slow = CHIP.replace(training=TrainingSpec(memory=MemorySpec(
        interconnect=InterconnectSpec(buffer_bytes_per_s_per_tile=1e6))))
    layer = trace_model(net, (3, 16, 16)).layers[2]
    fast_stage = crossbar_stage_cost(layer, RERAM, CHIP.training, 2, "forward")
    slow_stage = crossbar_stage_cost(layer, RERAM, slow.training, 2, "forward")
    buffer_s = (576 + 64) * 256 * 2 / 1e6
    assert slow_stage.per_sample_s == pytest.approx(buffer_s)
    assert slow_stage.per_sample_s > fast_stage.per_sample_s
    serial = dataclasses.replace(slow.training, memory=dataclasses.replace(
        slow.training.memory, interconnect=InterconnectSpec(buffer_bytes_per_s_per_tile=1e6,
                                                            overlap=False)))
    added = crossbar_stage_cost(layer, RERAM, serial, 2, "forward")
    compute = crossbar_phase_cost(layer, RERAM, 2, "forward").per_sample_s
    assert added.per_sample_s == pytest.approx(compute + buffer_s)
