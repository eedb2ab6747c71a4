"""Tests of the on-chip data movement: tile-buffer bandwidth and the mesh network, by hand."""
from __future__ import annotations

import dataclasses
import math

import pytest
from torch import nn

from reram.cost.chip import Chip
from reram.cost.interconnect import (InterconnectSpec, buffer_times, layer_traffic, mesh_hops,
                                     node_supply_v, transfer_cost, transfer_traffic, with_transfers)
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
    # not overlapped (DNN+NeuroSim's accounting): the buffer's and the network's times add
    serial = transfer_cost(conv, RERAM, dataclasses.replace(NET, overlap=False), 3, "forward",
                           tiles=2, extra_buffer_bytes=100)
    assert serial.per_sample_s == pytest.approx(buffer_s + network_s)
    assert serial.energy_j == pytest.approx(cost.energy_j)
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
    network_s = transfer_traffic(layer, RERAM, serial.memory.interconnect, "forward")[1] / (4 * 1.2e9)
    assert network_s > 0
    assert added.per_sample_s == pytest.approx(compute + buffer_s + network_s)


def test_node_supply_by_hand():
    assert node_supply_v(32) == 0.9 and node_supply_v(45.0) == 1.0 and node_supply_v(7) == 0.7
    # 28 nm: between 22 nm (0.85 V) and 32 nm (0.9 V), linear in log(node)
    t = math.log(28 / 22) / math.log(32 / 22)
    assert node_supply_v(28) == pytest.approx(0.85 + t * 0.05)
    assert node_supply_v(3) == 0.7 and node_supply_v(250) == 1.3  # held beyond the table
    for bad in (0, -5, float("nan"), True, "32"):
        with pytest.raises(ValueError, match="node_nm"):
            node_supply_v(bad)


def test_wire_energy_from_the_floorplan_by_hand():
    assert NET.wire_energy_per_bit_hop_j == 0.0  # not placed on a chip: no wire length known
    placed = NET.on_floorplan(0.5, 32)
    spacing = math.sqrt(4 * 0.5)  # 4 tiles of 0.5 mm2 a router, routers on a square grid
    assert placed.router_spacing_mm == pytest.approx(spacing) and placed.wire_supply_v == 0.9
    # half the wires toggle, each C L V^2 / 2, C = 0.2 pF/mm
    wire = 0.5 * 0.2e-12 * spacing * 0.9 ** 2 / 2
    assert placed.wire_energy_per_bit_hop_j == pytest.approx(wire)
    assert placed.hop_energy_per_bit_j == pytest.approx(NET.energy_per_bit_hop_j + wire)
    # what the spec states is kept
    fixed = InterconnectSpec(router_spacing_mm=2.0, wire_supply_v=1.0).on_floorplan(0.5, 32)
    assert (fixed.router_spacing_mm, fixed.wire_supply_v) == (2.0, 1.0)
    # the transfers pay routers and wires
    conv = one(nn.Conv2d(16, 40, 3, padding=1), (16, 8, 8))
    cost = transfer_cost(conv, RERAM, placed, 3, "forward", tiles=2)
    net = 16 * 64 * 2 + 40 * 64 * 2
    assert cost.parts["interconnect"] == pytest.approx(3 * net * 8 * 1.0 * (NET.energy_per_bit_hop_j + wire))
    with pytest.raises(ValueError, match="tile_area_mm2"):
        NET.on_floorplan(0.0, 32)


def test_chip_places_its_network_on_its_floorplan():
    network = CHIP.costed_training().memory.interconnect
    link = sum(c.area_mm2 for c in CHIP.components() if c.name == "link_phy")
    per_tile = (CHIP.area_mm2() - link) / CHIP.hardware.reram.tiles  # training silicon included
    assert network.router_spacing_mm == pytest.approx(math.sqrt(4 * per_tile))
    assert network.wire_supply_v == 0.9  # ISAAC's 32 nm
    assert CHIP.training.memory.interconnect.router_spacing_mm is None  # the chip's spec unchanged
    # a smaller node: shorter wires at a lower supply
    small = CHIP.at_node(16).costed_training().memory.interconnect
    assert small.router_spacing_mm < network.router_spacing_mm
    assert small.wire_energy_per_bit_hop_j < network.wire_energy_per_bit_hop_j
    # no silicon section, no floorplan: the spec as it is
    legacy = Chip(config=None, hardware=dataclasses.replace(CHIP.hardware, silicon=None))
    assert legacy.costed_training() == legacy.training


def test_plans_charge_the_wires():
    net = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1))
    bare = CHIP.replace(training=TrainingSpec(memory=MemorySpec(
        interconnect=InterconnectSpec(wire_capacitance_f_per_mm=0.0))))
    for mode in ("inference", "train"):
        wired = schedule(net, (3, 16, 16), batch_size=2, mode=mode, chip=CHIP, replicate=False)
        routers = schedule(net, (3, 16, 16), batch_size=2, mode=mode, chip=bare, replicate=False)
        hop = CHIP.costed_training().memory.interconnect
        assert wired.energy_breakdown["interconnect"] == pytest.approx(
            routers.energy_breakdown["interconnect"] * hop.hop_energy_per_bit_j / hop.energy_per_bit_hop_j)
        assert wired.latency_s == pytest.approx(routers.latency_s)  # energy only


def test_bad_wire_specs():
    with pytest.raises(ValueError, match="switching_activity"):
        InterconnectSpec(switching_activity=1.5)
    with pytest.raises(ValueError, match="router_spacing_mm"):
        InterconnectSpec(router_spacing_mm=-1.0)
    with pytest.raises(ValueError, match="wire_capacitance_f_per_mm"):
        InterconnectSpec(wire_capacitance_f_per_mm=None)
    with pytest.raises(ValueError, match="wire_supply_v"):
        InterconnectSpec(wire_supply_v=float("inf"))


def test_htree_from_the_floorplan_by_hand():
    tree = InterconnectSpec(topology="htree")
    placed = tree.on_floorplan(0.5, 32, tiles=9)
    side = math.sqrt(9 * 0.5)  # root to leaf: half the side across, half the side up
    assert placed.router_spacing_mm == pytest.approx(side)
    wire = 0.5 * 0.2e-12 * side * 0.9 ** 2 / 2
    assert placed.hop_energy_per_bit_j == pytest.approx(wire)  # wires only, no router
    # the input up to the root and down to the layer (2 paths), partial sums up (1), whatever
    # the layer's tiles
    conv = one(nn.Conv2d(16, 40, 3, padding=1), (16, 8, 8))
    incoming = 16 * 64 * 2  # 16 x 8 x 8 inputs of 2 bytes, to the layer's one column block
    for tiles in (1, 2, 64):
        cost = transfer_cost(conv, RERAM, placed, 3, "forward", tiles=tiles)
        _, net = transfer_traffic(conv, RERAM, placed, "forward", tiles=tiles)
        partial = net - incoming
        assert partial == (0 if tiles == 1 else 40 * 64 * 2)  # 2 row blocks: one partial sum
        assert cost.parts["interconnect"] == pytest.approx(3 * 8 * (2 * incoming + partial) * wire)
        mesh = transfer_cost(conv, RERAM, NET.on_floorplan(0.5, 32, tiles=9), 3, "forward", tiles=tiles)
        assert cost.per_sample_s == pytest.approx(mesh.per_sample_s)  # the same ports
    with pytest.raises(ValueError, match="topology"):
        InterconnectSpec(topology="torus")
    with pytest.raises(ValueError, match="tiles"):
        tree.on_floorplan(0.5, 32, tiles=0)


def test_mesh_spacing_ignores_the_tile_count():
    """The default (mesh) network is placed as before the H-tree existed: every preset's costed
    spec is the one placed without a tile count, so no preset's figure moves."""
    for name in ("isaac", "puma", "neurosim", "pipelayer", "deeptrain-3d"):
        chip = Chip.preset(name)
        if chip.hardware.silicon is None:
            continue
        assert chip.training.memory.interconnect.topology == "mesh"
        per_tile, _ = chip._per_tile_and_fixed(None, "area_mm2")
        old = chip.training.on_floorplan(per_tile, chip.hardware.silicon.node_nm)
        assert chip.costed_training().memory == old.memory
        assert chip.replace(scale=4).costed_training().memory.interconnect.router_spacing_mm \
            == pytest.approx(old.memory.interconnect.router_spacing_mm)


def test_htree_chip_plans_charge_its_wires():
    tree = CHIP.replace(training=TrainingSpec(memory=MemorySpec(
        interconnect=InterconnectSpec(topology="htree"))))
    network = tree.costed_training().memory.interconnect
    link = sum(c.area_mm2 for c in tree.components() if c.name == "link_phy")
    assert network.router_spacing_mm == pytest.approx(math.sqrt(tree.area_mm2() - link))
    net = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1))
    mesh = schedule(net, (3, 16, 16), batch_size=2, mode="train", chip=CHIP, replicate=False)
    htree = schedule(net, (3, 16, 16), batch_size=2, mode="train", chip=tree, replicate=False)
    # ISAAC's 168 tiles: one 10.5 mm root-to-leaf crossing costs more than 1-2 mesh hops of 1.6 mm
    assert htree.energy_breakdown["interconnect"] > mesh.energy_breakdown["interconnect"]
    assert htree.latency_s == pytest.approx(mesh.latency_s)


def test_router_energy_moves_with_the_node():
    """The router's energy per bit is ISAAC's at 32 nm; a chip built at another node charges it
    at that node (the digital rule, x node / 32), as its router silicon's power already moved."""
    assert NET.router_node_nm == 32.0
    placed = NET.on_floorplan(0.5, 16)
    assert placed.energy_per_bit_hop_j == pytest.approx(NET.energy_per_bit_hop_j / 2)
    assert placed.router_node_nm == 16.0
    assert placed.on_floorplan(0.5, 16) == placed  # placing a placed spec again changes nothing
    assert NET.on_floorplan(0.5, 32).energy_per_bit_hop_j == NET.energy_per_bit_hop_j
    small = CHIP.at_node(16)
    assert small.costed_training().memory.interconnect.energy_per_bit_hop_j == pytest.approx(
        CHIP.costed_training().memory.interconnect.energy_per_bit_hop_j / 2)
    # the same traffic through routers alone (no wire): half the energy at 16 nm
    no_wire = TrainingSpec(memory=MemorySpec(interconnect=InterconnectSpec(wire_capacitance_f_per_mm=0.0)))
    net = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1))
    at32 = schedule(net, (3, 16, 16), batch_size=2, mode="train", chip=CHIP.replace(training=no_wire),
                    replicate=False)
    at16 = schedule(net, (3, 16, 16), batch_size=2, mode="train",
                    chip=small.replace(training=no_wire), replicate=False)
    assert at16.energy_breakdown["interconnect"] == pytest.approx(at32.energy_breakdown["interconnect"] / 2)
    with pytest.raises(ValueError, match="router_node_nm"):
        InterconnectSpec(router_node_nm=0)


# ---- the buffer hierarchy and a chip-level activation block (DNN+NeuroSim V2.1's architecture)
HIER = InterconnectSpec(topology="htree", buffer_bytes_per_s_per_tile=8e9,
                        output_buffer_bytes_per_s_per_tile=4e9,
                        global_buffer_bytes_per_s_per_tile=30e9, activation_site="chip",
                        activation_ops_per_s=192e9, partial_sum_bits=20, overlap=False)


def test_hierarchy_defaults_leave_the_single_buffer_as_it_was():
    conv = one(nn.Conv2d(16, 40, 3, padding=1), (16, 8, 8))
    moved = layer_traffic(conv, RERAM, NET, "forward", tiles=2)
    assert (moved.global_buffer, moved.extra_buffer_energy_bytes) == (0.0, 0.0)
    assert buffer_times(moved, NET, 2) == [pytest.approx((144 + 40) * 64 * 2 / (2 * 38.4e9))]
    assert NET.partial_sum_bytes_moved == 2.0 and HIER.partial_sum_bytes_moved == 2.5


def test_hierarchy_forward_traffic_by_hand():
    # 144 rows (2 row blocks) x 40 cols, 64 positions, 2-byte values, on 2 tiles
    conv = one(nn.Conv2d(16, 40, 3, padding=1), (16, 8, 8))
    moved = layer_traffic(conv, RERAM, HIER, "forward", tiles=2)
    incoming = 16 * 64 * 2  # one column block
    sums = 2 * 40 * 64 * 2.5  # each of the 2 tiles' 40 x 64 partial sums, 20 bits
    assert moved.incoming == incoming and moved.partial == sums
    assert moved.input_buffer == 144 * 64 * 2 + incoming  # unrolled reads + the vector written
    assert moved.output_buffer == 2 * sums  # added into the output buffer, then read out
    assert moved.global_buffer == incoming + sums  # read from the root, sums written to it
    assert moved.extra_buffer_energy_bytes == pytest.approx(
        moved.global_buffer + moved.input_buffer + moved.output_buffer - (144 + 40) * 64 * 2)
    # one tile adds its row blocks itself: one sum an output leaves it
    assert layer_traffic(conv, RERAM, HIER, "forward", tiles=1).partial == 40 * 64 * 2.5
    times = buffer_times(moved, HIER, 2)
    assert times == [pytest.approx(moved.input_buffer / 16e9),
                     pytest.approx(moved.output_buffer / 8e9),
                     pytest.approx(moved.global_buffer / 60e9)]


def test_hierarchy_backward_folds_the_transposed_reads_before_they_leave():
    conv = one(nn.Conv2d(16, 40, 3, padding=1), (16, 8, 8))
    moved = layer_traffic(conv, RERAM, HIER, "backward", tiles=1)
    # 144 x 64 per-position values accumulated at 20 bits; the folded 16 x 8 x 8 input leaves
    assert moved.partial == 16 * 64 * 2.5
    assert moved.output_buffer == 144 * 64 * 2.5 + moved.partial
    assert moved.incoming == 40 * 64 * 2 * 2  # the errors to both row blocks
    assert layer_traffic(conv, RERAM, HIER, "backward", needs_input_grad=False).partial == 0.0


def test_hierarchy_cost_adds_its_levels_and_charges_their_energy():
    conv = one(nn.Conv2d(16, 40, 3, padding=1), (16, 8, 8))
    cost = transfer_cost(conv, RERAM, HIER, 3, "forward", tiles=1)
    moved = layer_traffic(conv, RERAM, HIER, "forward", tiles=1)
    network = (moved.incoming + moved.partial) / (4 * 1.2e9)
    assert cost.per_sample_s == pytest.approx(sum(buffer_times(moved, HIER, 1)) + network)
    assert cost.parts["buffer"] == pytest.approx(
        3 * moved.extra_buffer_energy_bytes * RERAM.buffer_energy_per_byte_j)
    overlapped = transfer_cost(conv, RERAM, dataclasses.replace(HIER, overlap=True), 3, "forward")
    assert overlapped.per_sample_s == pytest.approx(max(*buffer_times(moved, HIER, 1), network))
    # the backward phase also reads the kept input and the error from the global buffer
    back = transfer_cost(conv, RERAM, HIER, 1, "backward", needs_input_grad=False)
    kept = (16 * 64 + 40 * 64) * 2
    assert back.per_sample_s == pytest.approx(kept / 30e9)
    assert back.parts["buffer"] == pytest.approx(kept * RERAM.buffer_energy_per_byte_j)


def test_hierarchy_chip_runs_activations_on_its_block():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(8, 8, 3, padding=1))
    chip = Chip.preset("isaac").replace(training=TrainingSpec(memory=MemorySpec(interconnect=HIER)))
    plan = schedule(net, (3, 16, 16), batch_size=2, mode="train", chip=chip, replicate=False)
    relu = next(c for c in plan.layers if c.kind == "act")
    assert relu.phases["forward"] == pytest.approx(2 * 8 * 16 * 16 / 192e9)
    tiles = schedule(net, (3, 16, 16), batch_size=2, mode="train", chip=CHIP, replicate=False)
    assert next(c for c in tiles.layers if c.kind == "act").phases["forward"] > relu.phases["forward"]


@pytest.mark.parametrize("field, value, message", [
    ("activation_site", "pe", "activation_site must be one of"),
    ("activation_ops_per_s", -1.0, "activation_ops_per_s must be a finite number > 0"),
    ("global_buffer_bytes_per_s_per_tile", math.inf, "global_buffer_bytes_per_s_per_tile must be"),
    ("output_buffer_bytes_per_s_per_tile", 0, "output_buffer_bytes_per_s_per_tile must be"),
    ("partial_sum_bits", 2.5, "partial_sum_bits must be an int >= 1"),
])
def test_hierarchy_bad_values_are_refused(field, value, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(HIER, **{field: value})


def test_hierarchy_needs_its_tree_and_its_rate():
    with pytest.raises(ValueError, match="activation_ops_per_s must be set"):
        InterconnectSpec(topology="htree", activation_site="chip")
    with pytest.raises(ValueError, match="needs topology='htree'"):
        InterconnectSpec(activation_site="chip", activation_ops_per_s=1e9)
    with pytest.raises(ValueError, match="needs topology='htree'"):
        InterconnectSpec(global_buffer_bytes_per_s_per_tile=1e9)


def test_hierarchy_chip_saves_and_reads_back(tmp_path):
    import json

    chip = Chip.preset("isaac").replace(training=TrainingSpec(memory=MemorySpec(interconnect=HIER)))
    path = tmp_path / "chip.json"
    path.write_text(json.dumps(chip.to_dict()))
    assert Chip.from_json(path).training.memory.interconnect == HIER


def test_unrolled_inputs_arrive_one_vector_a_position():
    conv = one(nn.Conv2d(16, 40, 3, padding=1), (16, 8, 8))
    unrolled = dataclasses.replace(HIER, unrolled_inputs=True)
    moved = layer_traffic(conv, RERAM, unrolled, "forward", tiles=1)
    assert moved.incoming == 144 * 64 * 2  # 144 rows a position, 64 positions, one column block
    assert moved.input_buffer == 2 * 144 * 64 * 2  # written as it arrives, read by the MVMs
    assert moved.global_buffer == moved.incoming + moved.partial
    # the errors of the transposed read are not unrolled: the backward phase is as it was
    assert layer_traffic(conv, RERAM, unrolled, "backward") == layer_traffic(conv, RERAM, HIER, "backward")
    with pytest.raises(ValueError, match="unrolled_inputs must be True or False"):
        dataclasses.replace(HIER, unrolled_inputs=1)
