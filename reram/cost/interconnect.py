"""On-chip data movement of a crossbar layer: buffer bandwidth and the on-chip network.

Every MVM reads its input vector from a tile buffer and writes its outputs back; the layer's
inputs (forward) or output errors (input gradient) arrive over the on-chip network from the
tiles of the neighbouring layer, and partial sums of a layer spread over several tiles travel to
the tile that adds them. This module costs that movement per sample:

* **buffer time**: the bytes the layer's MVMs (and, in the backward stage, the digital
  weight-gradient unit's operands) read and write, over the buffer bandwidth of the layer's tiles.
  Its *energy* is already charged per byte as ``"buffer"`` by :func:`reram.cost.layer_cost.mvm_cost`
  and :func:`reram.cost.training.weight_gradient_cost` (one per-byte figure, not two);
* **network time and energy** (``"interconnect"``): the layer's incoming vector copied to each
  block of arrays that needs it (a unicast mesh, no multicast), plus the partial sums between
  tiles, over the tiles' router ports; each byte crosses ``1 + 2(k^2 - 1)/(3k)`` hops (one from
  the neighbouring layer's tiles, then the mean Manhattan distance of uniform traffic in the
  ``k x k`` mesh of the layer's routers), at an energy per bit per hop: the router's, plus the
  wire to the next router (:attr:`InterconnectSpec.wire_energy_per_bit_hop_j`: ``activity x
  C_wire x L x V^2 / 2`` per bit, ``L`` the routers' spacing on the chip's floorplan, ``V`` the
  supply of the chip's node, :meth:`InterconnectSpec.on_floorplan`). On an H-tree
  (``InterconnectSpec.topology="htree"``, DNN+NeuroSim's chip interconnect) the same bytes go
  through a chip-level buffer at the root instead: wires only, :func:`network_bit_hops`;
* **a buffer hierarchy** where the spec has one (DNN+NeuroSim V2.1's): tile input and output
  buffers apart, a global buffer at the H-tree's root whose bus the tiles share, and activation
  at a chip-level block, so outputs leave the tiles as partial sums (:class:`Traffic`, the
  bytes at every level; :func:`buffer_times`, their seconds).

What overlaps: the transfers of one MVM's operands run while the previous MVM computes (the
input/output registers of an ISAAC IMA are double-buffered), so with ``overlap=True`` a layer's
per-sample time is ``max(compute, buffer, network)``; ``overlap=False`` adds them (DNN+NeuroSim
V2's accounting, which sums buffer and interconnect latency with compute per layer). The head
latency of a packet (a few router cycles per hop) is paid once per batch and is not charged.
Element-wise layers' and DRAM traffic are not charged here (DRAM: :mod:`reram.cost.memory`).

This module imports only :mod:`reram.cost.hardware`, :mod:`reram.cost.trace`,
:mod:`reram.cost.layer_cost` and :mod:`reram.cost.silicon`.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from reram.cost.hardware import ReramSpec
from reram.cost.layer_cost import PhaseCost, map_layer
from reram.cost.silicon import node_factors
from reram.cost.trace import LayerTrace

__all__ = ["ACTIVATION_SITES", "InterconnectSpec", "NODE_SUPPLY_V", "TOPOLOGIES", "Traffic",
           "buffer_times", "kept_operand_bytes", "layer_traffic", "mesh_hops", "network_bit_hops",
           "network_seconds", "node_supply_v", "transfer_cost", "transfer_traffic",
           "with_transfers"]

#: On-chip network topologies (``InterconnectSpec.topology``).
TOPOLOGIES = ("mesh", "htree")

#: Where activations and pooling are applied (``InterconnectSpec.activation_site``).
ACTIVATION_SITES = ("tile", "chip")

#: Nominal supply voltage by technology node (nm -> V): the Predictive Technology Model's
#: (ptm.asu.edu) nominal supplies, as DNN+NeuroSim V2.1 tabulates them per node (facts, not code).
NODE_SUPPLY_V = {130.0: 1.3, 90.0: 1.2, 65.0: 1.1, 45.0: 1.0, 32.0: 0.9, 22.0: 0.85, 14.0: 0.8,
                 10.0: 0.75, 7.0: 0.7}


def node_supply_v(node_nm: float) -> float:
    """The nominal supply at ``node_nm`` (:data:`NODE_SUPPLY_V`), linear in ``log(node)``
    between the tabulated nodes and held at the ends beyond them."""
    if isinstance(node_nm, bool) or not isinstance(node_nm, (int, float)) \
            or not math.isfinite(node_nm) or node_nm <= 0:
        raise ValueError(f"node_nm must be a finite number > 0, got {node_nm!r}")
    nodes = sorted(NODE_SUPPLY_V)
    if node_nm <= nodes[0]:
        return NODE_SUPPLY_V[nodes[0]]
    if node_nm >= nodes[-1]:
        return NODE_SUPPLY_V[nodes[-1]]
    upper = next(n for n in nodes if n >= node_nm)
    lower = nodes[nodes.index(upper) - 1]
    t = math.log(node_nm / lower) / math.log(upper / lower)
    return NODE_SUPPLY_V[lower] + t * (NODE_SUPPLY_V[upper] - NODE_SUPPLY_V[lower])


@dataclass(frozen=True)
class InterconnectSpec:
    """Tile buffers' bandwidth and the on-chip mesh network.

    Attributes:
        buffer_bytes_per_s_per_tile: bandwidth of one tile's buffer, bytes/s. Default 38.4 GB/s:
            ISAAC's eDRAM tile buffer with a 256-bit bus (Shafiee et al., ISCA 2016, Table
            'ISAAC parameters'), one access per 1.2 GHz cycle (the same assumption the presets'
            ``buffer_energy_per_byte_j`` is derived with).
        flit_bytes: bytes a router port moves per cycle. Default 4: ISAAC's 32-bit flits (same
            Table).
        router_clock_hz: router clock, Hz. Default 1.2 GHz: ISAAC's digital clock.
        tiles_per_router: tiles sharing one router (concentration). Default 4: ISAAC's c-mesh
            (same Table: a router shared by 4 tiles).
        energy_per_bit_hop_j: energy of one bit crossing one router, J. Default
            0.137 pJ: ISAAC's router, 42 mW for 8 ports of 32-bit flits at 1.2 GHz (same Table),
            i.e. its power taken as full-load power over its full-load throughput (derived; at a
            lighter load the same power per bit would be higher). The router alone: the wire
            to the next router is :attr:`wire_energy_per_bit_hop_j`. Stated at
            :attr:`router_node_nm`; :meth:`on_floorplan` moves it to the chip's node.
        router_node_nm: the technology node :attr:`energy_per_bit_hop_j` is stated at, nm.
            Default 32: ISAAC's (same Table). :meth:`on_floorplan` moves the router's energy to
            the chip's node by the digital rule of :func:`reram.cost.silicon.node_factors`
            (energy per operation x ``node / router_node_nm``, as the router's silicon power
            moves in :meth:`reram.cost.chip.Chip.at_node`) and states the result at that node.
        partial_sum_bytes: bytes of a partial sum sent between tiles. Default 2: ISAAC's 16-bit
            outputs of an IMA's shift-and-add.
        overlap: transfers overlap compute (double-buffered operands): a layer's per-sample time
            is the longest of compute, buffer and network; False adds all three (DNN+NeuroSim
            V2's accounting).
        wire_capacitance_f_per_mm: capacitance of an on-chip wire per mm, F/mm. Default 0.2 pF/mm
            (0.2 fF/um): the figure DNN+NeuroSim V2.1 uses for its H-tree and bus wires at every
            node; an intermediate-layer copper wire stays near it across nodes because its
            height and spacing shrink together (Ho, Mai and Horowitz, 'The future of wires',
            Proc. IEEE 2001). The wire's own capacitance: the repeaters a long hop would need
            add their gate capacitance, not charged (a lower bound).
        switching_activity: fraction of a link's wires that change state per bit sent; each
            change dissipates ``C V^2 / 2``. Default 0.5: uncorrelated data.
        router_spacing_mm: wire length of one hop, mm: between neighbouring routers (mesh), or
            from the H-tree's root to a leaf (``topology="htree"``). ``None`` (default): from the
            chip's floorplan, ``sqrt(tiles_per_router x tile area)`` on a mesh, ``sqrt(tiles x
            tile area)`` on an H-tree (:meth:`on_floorplan`, which
            :meth:`reram.cost.chip.Chip.costed_training` calls with the chip's tile area and
            tiles); a spec not placed on a floorplan charges no wire energy.
        wire_supply_v: the wires' voltage swing, V. ``None`` (default): the nominal supply of the
            chip's node (:func:`node_supply_v`, set by :meth:`on_floorplan`).
        topology: ``"mesh"`` (default: ISAAC's concentrated mesh, above) or ``"htree"`` (an H-tree
            bus from one chip-level global buffer at the chip's centre to every tile, DNN+NeuroSim
            V2.1's chip-level interconnect, its HTree.cpp and Chip.cpp: no routers, every transfer
            from the root to a leaf tile or back). With ``"htree"`` a layer's incoming vector
            crosses two root-to-leaf paths (up from the tiles that made it, down to the layer's)
            and a partial sum one (up to the root, where it is added): :func:`network_bit_hops`;
            wire only (the router energy is not charged), each path as long as
            :meth:`on_floorplan` sets from the chip's floorplan: an H-tree's stages halve from
            half the chip's side in each direction, so root to leaf is about the side,
            ``sqrt(tiles x tile area)``. Its time is the same port model as the mesh's
            (``flit_bytes`` a tile per ``router_clock_hz`` cycle).
        output_buffer_bytes_per_s_per_tile: a tile's separate output buffer, bytes/s: the MVMs'
            outputs are written to it (and read out of it to the network) while
            :attr:`buffer_bytes_per_s_per_tile` is then the input buffer's alone, and the two
            buffers' times add (``overlap=False``) or overlap. ``None`` (default): one buffer a
            tile holds inputs and outputs (ISAAC's eDRAM). DNN+NeuroSim V2.1's tiles have an
            input and an output buffer (Tile.cpp, register files of 32-bit lines).
        global_buffer_bytes_per_s_per_tile: a chip-level global buffer at the H-tree's root
            (``topology="htree"`` only), bytes/s per tile: its bus is partitioned among the
            chip's tiles, so a layer on ``t`` tiles moves ``t`` times this. Every layer's incoming
            vector is read from it and its outputs are written to it, in every phase; in the
            backward phase the weight gradient's operands (the kept input and the error) are
            read from it too. ``None`` (default): no global buffer (ISAAC: tiles send to tiles).
            DNN+NeuroSim V2.1: one global buffer, its bus ``globalBusWidth`` bits wide, shared
            by all tiles (Chip.cpp).
        activation_site: where activations and pooling are applied. ``"tile"`` (default:
            ISAAC's sigmoid and max-pool units in every tile): the digital units of the tiles
            that hold the producing layer, and a layer's outputs leave its tiles activated
            (``activation_bytes`` each). ``"chip"`` (DNN+NeuroSim V2.1's ``chipActivation =
            true``, ``topology="htree"`` only): a chip-level block at the root applies them at
            :attr:`activation_ops_per_s`, so every output leaves each tile that holds some of
            its rows as a partial sum of :attr:`partial_sum_bits`, through the tile's output
            buffer and up the tree to the root, where the sums are added and activated.
        activation_ops_per_s: the chip-level activation and pooling block's rate, element
            operations per second (``activation_site="chip"``: required; else unused).
        partial_sum_bits: bits of a partial sum leaving a tile. ``None`` (default):
            ``8 x partial_sum_bytes``.
        unrolled_inputs: a layer's tiles receive their forward inputs already unrolled, one
            ``rows``-long vector a position (``groups x rows x P`` values to each column block),
            as DNN+NeuroSim V2.1's global buffer sends them (Chip.cpp: a layer's global-buffer
            reads are ``C k^2 x numBitInput x P`` bits); the network and the global buffer carry
            them. ``False`` (default): the feature map is sent once and each tile unrolls it
            (``input_numel`` values a column block; a 3x3 convolution's inputs are 9x fewer).
    """

    buffer_bytes_per_s_per_tile: float = 256 / 8 * 1.2e9
    flit_bytes: int = 4
    router_clock_hz: float = 1.2e9
    tiles_per_router: int = 4
    energy_per_bit_hop_j: float = 42e-3 / (8 * 32 * 1.2e9)
    router_node_nm: float = 32.0
    partial_sum_bytes: int = 2
    overlap: bool = True
    wire_capacitance_f_per_mm: float = 0.2e-12
    switching_activity: float = 0.5
    router_spacing_mm: float | None = None
    wire_supply_v: float | None = None
    topology: str = "mesh"
    output_buffer_bytes_per_s_per_tile: float | None = None
    global_buffer_bytes_per_s_per_tile: float | None = None
    activation_site: str = "tile"
    activation_ops_per_s: float | None = None
    partial_sum_bits: int | None = None
    unrolled_inputs: bool = False

    def __post_init__(self) -> None:
        for name in ("flit_bytes", "tiles_per_router", "partial_sum_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"InterconnectSpec.{name} must be an int >= 1, got {value!r}")
        for name in ("buffer_bytes_per_s_per_tile", "router_clock_hz", "energy_per_bit_hop_j",
                     "router_node_nm"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value < 0 or (value == 0 and name != "energy_per_bit_hop_j"):
                raise ValueError(f"InterconnectSpec.{name} must be a finite number > 0 "
                                 f"(energy >= 0), got {value!r}")
        for name in ("overlap", "unrolled_inputs"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"InterconnectSpec.{name} must be True or False, "
                                 f"got {getattr(self, name)!r}")
        for name, optional in (("wire_capacitance_f_per_mm", False), ("router_spacing_mm", True),
                               ("wire_supply_v", True)):
            value = getattr(self, name)
            if value is None and optional:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value < 0:
                raise ValueError(f"InterconnectSpec.{name} must be a finite number >= 0"
                                 f"{' or None' if optional else ''}, got {value!r}")
        if self.topology not in TOPOLOGIES:
            raise ValueError(f"InterconnectSpec.topology must be one of {TOPOLOGIES}, "
                             f"got {self.topology!r}")
        value = self.switching_activity
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ValueError(f"InterconnectSpec.switching_activity must be a number in [0, 1], "
                             f"got {value!r}")
        for name in ("output_buffer_bytes_per_s_per_tile", "global_buffer_bytes_per_s_per_tile",
                     "activation_ops_per_s"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value) or value <= 0):
                raise ValueError(f"InterconnectSpec.{name} must be a finite number > 0 or None, "
                                 f"got {value!r}")
        value = self.partial_sum_bits
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"InterconnectSpec.partial_sum_bits must be an int >= 1 or None, "
                             f"got {value!r}")
        if self.activation_site not in ACTIVATION_SITES:
            raise ValueError(f"InterconnectSpec.activation_site must be one of {ACTIVATION_SITES}, "
                             f"got {self.activation_site!r}")
        if self.activation_site == "chip" and self.activation_ops_per_s is None:
            raise ValueError("InterconnectSpec.activation_ops_per_s must be set (> 0) with "
                             "activation_site='chip', got None")
        for name, value in (("activation_site", self.activation_site != "tile"),
                            ("global_buffer_bytes_per_s_per_tile",
                             self.global_buffer_bytes_per_s_per_tile is not None)):
            if value and self.topology != "htree":
                raise ValueError(f"InterconnectSpec.{name} needs topology='htree' (a chip-level "
                                 f"block at the tree's root), got topology={self.topology!r}")

    def on_floorplan(self, tile_area_mm2: float, node_nm: float, tiles: int = 1) -> InterconnectSpec:
        """This spec placed on a chip of ``tiles`` tiles of ``tile_area_mm2`` each at ``node_nm``:
        the wire of one hop, ``sqrt(tiles_per_router x tile_area_mm2)`` on a mesh (routers on a
        square grid, each serving ``tiles_per_router`` tiles) or ``sqrt(tiles x tile_area_mm2)``
        on an H-tree (root to leaf, about the chip's side), and the node's supply, each only
        where the spec leaves it ``None``; the router's energy per bit moved from
        :attr:`router_node_nm` to ``node_nm`` (the digital rule) and stated there, so placing a
        placed spec again at the same node changes nothing."""
        for name, value in (("tile_area_mm2", tile_area_mm2), ("node_nm", node_nm)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        if isinstance(tiles, bool) or not isinstance(tiles, int) or tiles < 1:
            raise ValueError(f"tiles must be an int >= 1, got {tiles!r}")
        spacing = self.router_spacing_mm
        if spacing is None:
            per_hop = tiles if self.topology == "htree" else self.tiles_per_router
            spacing = math.sqrt(per_hop * tile_area_mm2)
        supply = self.wire_supply_v if self.wire_supply_v is not None else node_supply_v(node_nm)
        _, energy_f = node_factors("digital", self.router_node_nm, node_nm)
        return dataclasses.replace(self, router_spacing_mm=float(spacing), wire_supply_v=float(supply),
                                   energy_per_bit_hop_j=self.energy_per_bit_hop_j * energy_f,
                                   router_node_nm=float(node_nm))

    @property
    def partial_sum_bytes_moved(self) -> float:
        """Bytes of one partial sum leaving a tile: ``partial_sum_bits / 8`` when given, else
        :attr:`partial_sum_bytes`."""
        if self.partial_sum_bits is None:
            return float(self.partial_sum_bytes)
        return self.partial_sum_bits / 8

    @property
    def wire_energy_per_bit_hop_j(self) -> float:
        """Energy of one bit on the wire between two routers, J: ``switching_activity x
        wire_capacitance_f_per_mm x router_spacing_mm x wire_supply_v^2 / 2`` (0 until the spec
        is placed on a floorplan, :meth:`on_floorplan`)."""
        if self.router_spacing_mm is None or self.wire_supply_v is None:
            return 0.0
        return (self.switching_activity * self.wire_capacitance_f_per_mm * self.router_spacing_mm
                * self.wire_supply_v ** 2 / 2)

    @property
    def hop_energy_per_bit_j(self) -> float:
        """One bit across one hop, J: the router (:attr:`energy_per_bit_hop_j`; none on an
        H-tree) and the wire to the next one (:attr:`wire_energy_per_bit_hop_j`)."""
        router = 0.0 if self.topology == "htree" else self.energy_per_bit_hop_j
        return router + self.wire_energy_per_bit_hop_j


def mesh_hops(tiles: int, tiles_per_router: int) -> float:
    """Mean hops of a byte into a layer on ``tiles`` tiles: one from the neighbouring layer, then
    the mean Manhattan distance of uniform traffic in a ``k x k`` mesh, ``2(k^2 - 1)/(3k)``, with
    ``k = sqrt(routers)``."""
    routers = max(1, math.ceil(tiles / tiles_per_router))
    k = math.sqrt(routers)
    return 1.0 + 2.0 * (k * k - 1.0) / (3.0 * k)


def transfer_traffic(layer: LayerTrace, reram: ReramSpec, spec: InterconnectSpec, phase: str, *,
                     tiles: int = 1, needs_input_grad: bool = True) -> tuple[float, float]:
    """``(buffer_bytes, network_bytes)`` of a conv/linear layer per sample in one phase.

    Forward: the buffer reads each MVM's input vector and writes its outputs, ``groups x (rows +
    cols) x P`` values; the network carries the layer's input to each of its ``col_blocks``
    column blocks and, when the layer spans more than one tile, ``row_blocks - 1`` partial sums
    of every output. Backward (the input gradient): the same with rows and columns swapped (the
    errors to each row block, partial sums over column blocks); nothing when the layer needs no
    input gradient. With ``spec.activation_site="chip"`` the outputs leave as partial sums, one
    from each tile the layer's row blocks span (:class:`Traffic`). The tile buffers' bytes:
    input and output buffers together.
    """
    moved = layer_traffic(layer, reram, spec, phase, tiles=tiles, needs_input_grad=needs_input_grad)
    return moved.input_buffer + moved.output_buffer, moved.incoming + moved.partial


@dataclass(frozen=True)
class Traffic:
    """Bytes a conv/linear layer moves per sample in one phase (:func:`layer_traffic`).

    Attributes:
        input_buffer: read from its tiles' (input) buffers: each MVM's input vector; with
            separate output buffers (``output_buffer_bytes_per_s_per_tile``) the incoming
            vector's writes into them as well.
        output_buffer: written to its tiles' (output) buffers: each MVM's outputs, activated
            (``activation_bytes``) or, with ``activation_site="chip"``, partial sums
            (``partial_sum_bits``) added into it, one for each tile the layer's row blocks span
            (``min(row blocks, tiles)``); with separate output buffers, written and read out
            (with ``"chip"``, the sums that leave: the backward phase's folded onto the
            layer's input first).
        incoming: the network's copies of the layer's incoming vector.
        partial: the network's partial sums: between the layer's tiles, or with
            ``activation_site="chip"`` all of them, up to the root.
        global_buffer: through the chip-level global buffer (``global_buffer_bytes_per_s_per_tile``
            set, else 0): the incoming vector read, the outputs (or partial sums) written.
        extra_buffer_energy_bytes: the buffer bytes beyond those
            :func:`reram.cost.layer_cost.mvm_cost` charges energy for (``activation_bytes`` a
            value in and out): the global buffer's, and the width of partial sums above it.
    """

    input_buffer: float
    output_buffer: float
    incoming: float
    partial: float
    global_buffer: float
    extra_buffer_energy_bytes: float


def layer_traffic(layer: LayerTrace, reram: ReramSpec, spec: InterconnectSpec, phase: str, *,
                  tiles: int = 1, needs_input_grad: bool = True) -> Traffic:
    """The :class:`Traffic` of a conv/linear layer per sample in ``phase`` (the input gradient's
    in ``"backward"``: nothing when the layer needs none)."""
    if phase not in ("forward", "backward"):
        raise ValueError(f"phase must be 'forward' or 'backward', got {phase!r}")
    if isinstance(tiles, bool) or not isinstance(tiles, int) or tiles < 1:
        raise ValueError(f"tiles must be an int >= 1, got {tiles!r}")
    if phase == "backward" and not needs_input_grad:
        return Traffic(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    mapping = map_layer(layer, reram)
    positions = max(1, layer.mvms_per_sample)
    act = reram.activation_bytes
    if phase == "forward":
        incoming, copies, sums, inputs, width = (layer.input_numel, mapping.col_blocks,
                                                 mapping.row_blocks, mapping.rows, mapping.cols)
        outgoing = layer.output_numel
        if spec.unrolled_inputs:  # one rows-long vector a position, unrolled before it is sent
            incoming = mapping.groups * mapping.rows * positions
    else:
        incoming, copies, sums, inputs, width = (layer.output_numel, mapping.row_blocks,
                                                 mapping.col_blocks, mapping.cols, mapping.rows)
        outgoing = layer.input_numel
    psum = spec.partial_sum_bytes_moved
    input_buffer = mapping.groups * inputs * positions * act
    if spec.activation_site == "chip":  # every tile's sums leave it, activated at the root
        # a tile adds the partial sums of the row blocks it holds into its output buffer (and,
        # in the backward phase, folds the transposed reads' per-position values onto the
        # layer's input, col2im): each output leaves as many partial sums as tiles its blocks
        # span, at most one a block and one a tile
        spans = min(sums, tiles)
        output_buffer = mapping.groups * spans * width * positions * psum
        partial = spans * outgoing * psum
        written = leaving = partial
    else:
        output_buffer = leaving = mapping.groups * width * positions * act
        partial = mapping.groups * (sums - 1) * width * positions * psum if tiles > 1 else 0.0
        written = outgoing * act + partial
    incoming_bytes = incoming * act * copies
    if spec.output_buffer_bytes_per_s_per_tile is not None:
        # staged buffers: the incoming vector is written into the input buffer before the MVMs
        # read it, and what leaves the tile is read out of the output buffer it was written to
        input_buffer += incoming_bytes
        output_buffer += leaving
    global_buffer = (incoming_bytes + written) if spec.global_buffer_bytes_per_s_per_tile else 0.0
    charged = mapping.groups * (inputs + width) * positions * act  # by mvm_cost
    extra = global_buffer + input_buffer + output_buffer - charged
    return Traffic(float(input_buffer), float(output_buffer), float(incoming_bytes), float(partial),
                   float(global_buffer), float(extra))


def network_bit_hops(incoming_bytes: float, partial_sum_bytes: float, tiles: int,
                     spec: InterconnectSpec) -> float:
    """Bits times hops of a layer's network bytes on ``tiles`` tiles. Mesh: every byte
    :func:`mesh_hops`. H-tree: the incoming vector goes from the tiles that made it up to the
    chip-level buffer at the root and down to this layer's tiles (2 root-to-leaf paths); partial
    sums go up to the root, where they are added (1). With ``activation_site="chip"`` the
    producing layer's outputs went up as its partial sums, so the incoming vector only comes
    down (1)."""
    if spec.topology == "htree":
        paths = 1 if spec.activation_site == "chip" else 2
        return 8 * (paths * incoming_bytes + partial_sum_bytes)
    return 8 * (incoming_bytes + partial_sum_bytes) * mesh_hops(tiles, spec.tiles_per_router)


def transfer_cost(layer: LayerTrace, reram: ReramSpec, spec: InterconnectSpec, batch_size: int,
                  phase: str, *, tiles: int = 1, needs_input_grad: bool = True,
                  extra_buffer_bytes: float = 0.0) -> PhaseCost:
    """Buffer and network traffic of a conv/linear layer for a batch in one phase
    (:func:`layer_traffic`), over the buffer bandwidth and the router ports of ``tiles``.

    Args:
        layer: a conv/linear layer.
        reram: its crossbar spec (activation width).
        spec: the buffer and network spec.
        batch_size: samples per batch.
        phase: ``"forward"`` or ``"backward"``.
        tiles: tiles holding the layer's copies (their buffers and router ports share the work).
        needs_input_grad: False for the first compute layer (no error to pass back).
        extra_buffer_bytes: other bytes per sample through the same (input) buffers (the digital
            weight-gradient unit's operands). With a global buffer, the backward phase also
            reads the kept input and the error from it (``(input + output) x activation_bytes``).

    Returns:
        A :class:`PhaseCost`: ``per_sample_s`` the longest of the buffers' and the network's
        times (resources working side by side) when ``spec.overlap``, else their sum (the
        accounting ``overlap=False`` stands for: DNN+NeuroSim V2 adds a layer's buffer and
        interconnect latencies, and :func:`with_transfers` then adds the compute); ``parts =
        {"interconnect": J}`` (the network's hops: routers and wires,
        :attr:`InterconnectSpec.hop_energy_per_bit_j`) and, with a buffer hierarchy, ``"buffer"``
        for the bytes :attr:`Traffic.extra_buffer_energy_bytes` says.
    """
    moved = layer_traffic(layer, reram, spec, phase, tiles=tiles, needs_input_grad=needs_input_grad)
    kept = kept_operand_bytes(layer, reram, spec, phase)
    times = buffer_times(moved, spec, tiles, extra_buffer_bytes, kept)
    times.append(network_seconds(moved, spec, tiles))
    energy = (network_bit_hops(moved.incoming, moved.partial, tiles, spec)
              * spec.hop_energy_per_bit_j * batch_size)
    parts = {"interconnect": energy}
    extra_j = moved.extra_buffer_energy_bytes + kept
    if extra_j:
        parts["buffer"] = extra_j * reram.buffer_energy_per_byte_j * batch_size
    per_sample = max(times) if spec.overlap else sum(times)
    return PhaseCost(per_sample_s=per_sample, batch_s=per_sample * batch_size,
                     energy_j=sum(parts.values()), parts=parts)


def kept_operand_bytes(layer: LayerTrace, reram: ReramSpec, spec: InterconnectSpec,
                       phase: str) -> float:
    """Bytes a sample the weight gradient reads from the global buffer in ``phase``: the kept
    input and the error, ``(input + output) x activation_bytes``, in the backward phase of a
    chip with a global buffer; else 0."""
    if phase != "backward" or spec.global_buffer_bytes_per_s_per_tile is None:
        return 0.0
    return float((layer.input_numel + layer.output_numel) * reram.activation_bytes)


def network_seconds(moved: Traffic, spec: InterconnectSpec, tiles: int) -> float:
    """Per-sample seconds of a layer's network bytes over the router ports of its ``tiles``."""
    return (moved.incoming + moved.partial) / (tiles * spec.flit_bytes * spec.router_clock_hz)


def buffer_times(moved: Traffic, spec: InterconnectSpec, tiles: int,
                 extra_buffer_bytes: float = 0.0, extra_global_bytes: float = 0.0) -> list[float]:
    """Per-sample seconds of each buffer level a layer on ``tiles`` tiles uses: its tiles' one
    buffer (``extra_buffer_bytes`` read from it besides the MVMs' inputs), or input and output
    buffers apart (``output_buffer_bytes_per_s_per_tile``), and the global buffer's share of
    ``tiles`` (``global_buffer_bytes_per_s_per_tile``; ``extra_global_bytes`` besides)."""
    inputs = moved.input_buffer + extra_buffer_bytes
    if spec.output_buffer_bytes_per_s_per_tile is None:
        times = [(inputs + moved.output_buffer) / (tiles * spec.buffer_bytes_per_s_per_tile)]
    else:
        times = [inputs / (tiles * spec.buffer_bytes_per_s_per_tile),
                 moved.output_buffer / (tiles * spec.output_buffer_bytes_per_s_per_tile)]
    if spec.global_buffer_bytes_per_s_per_tile is not None:
        times.append((moved.global_buffer + extra_global_bytes)
                     / (tiles * spec.global_buffer_bytes_per_s_per_tile))
    return times


def with_transfers(compute: PhaseCost, transfer: PhaseCost, spec: InterconnectSpec,
                   batch_size: int) -> PhaseCost:
    """A layer's stage with its transfers: per sample ``max(compute, transfer)`` when they
    overlap (``spec.overlap``), else their sum; energies and parts added."""
    if spec.overlap:
        per_sample = max(compute.per_sample_s, transfer.per_sample_s)
    else:
        per_sample = compute.per_sample_s + transfer.per_sample_s
    parts = dict(compute.parts)
    for key, value in transfer.parts.items():
        parts[key] = parts.get(key, 0.0) + value
    return PhaseCost(per_sample_s=per_sample, batch_s=per_sample * batch_size,
                     energy_j=compute.energy_j + transfer.energy_j,
                     bytes_moved=compute.bytes_moved + transfer.bytes_moved, parts=parts)
