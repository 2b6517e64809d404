"""Golden model of the scale-out interconnects (``hw/network.py``): SOSA's bank-to-pod networks.

Pure Python/NumPy. SOSA (REFERENCE.md section 7) connects N buffer banks to N pods through a
network; four kinds are built here: ``"butterfly"`` (with expansion factor ``2^expand``),
``"benes"``, ``"crossbar"`` and ``"bus"``. Three things live in this module:

* :func:`topology`, **the one structural description** of each network: its switch nodes, the
  one-entry link registers between them and each node's routing rule. The RTL
  (:class:`hw.network.Network`) is elaborated from it, and the twin below simulates it, so the
  two cannot disagree on the wiring; they implement the *switch semantics* independently, and
  the tests compare them cycle for cycle.
* :func:`simulate`, the **cycle-exact twin**: per-input beat lists with idle gaps, per-output
  ready patterns in, per-output received ``(src, data, cycle)`` out; plus
  :func:`saturation_throughput` (accepted beats per cycle under uniform random or permutation
  traffic) and :func:`delivery_problems` (nothing lost, duplicated or reordered per pair).
* SOSA's formulas: :func:`zero_load_latency` and :func:`network_power`.

Switch semantics (one definition; docs/network.md). Every link is a one-entry register (the
``valid`` bit reset to 0) except the N inputs, which are the input streams themselves. A node
has ``k`` input links and ``m`` output links; each beat in an input link requests the output
its routing rule names (a function of the beat's ``src`` and ``dest`` only, so a pair's beats
take one path and stay in order). Each output has a round-robin arbiter over the node's
inputs: the first requester at or after the pointer wins (wrapping), and after a transfer the
pointer moves just past the winner (reset: 0). The winner transfers when the output register
is empty or its own beat leaves in the same cycle (``ready`` is combinational from the network
outputs back to the inputs), so every link passes one beat per cycle. A beat leaves a network
output ``d`` when ``o[d].ready`` is high; the bus's single register feeds the output its beat
names.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from golden.facts import ParamError, check_index

__all__ = [
    "KINDS",
    "POWER_KINDS",
    "MAX_PORTS",
    "MAX_EXPAND",
    "POWER_PER_BYTE_W",
    "NetworkSpec",
    "check_network",
    "Route",
    "Node",
    "Topology",
    "topology",
    "plane_of",
    "benes_route",
    "zero_load_latency",
    "network_power",
    "NetworkRun",
    "simulate",
    "delivery_problems",
    "uniform_traffic",
    "permutation_traffic",
    "hotspot_traffic",
    "saturation_throughput",
]

#: The network kinds built (:class:`hw.network.Network`).
KINDS = ("butterfly", "benes", "crossbar", "bus")
#: Kinds of SOSA's power formula (``benes_copy``, the multicast Benes, is not built here).
POWER_KINDS = (*KINDS, "benes_copy")
#: Largest port count accepted (SOSA's largest configuration has 512 pods).
MAX_PORTS = 1024
#: Largest expansion exponent: expansion factor 2^e up to 16 (SOSA's code sweeps 1..16).
MAX_EXPAND = 4
#: SOSA's network power per byte of link width per unit of the kind's size term, in watts.
POWER_PER_BYTE_W = 2.875e-5


@dataclass(frozen=True)
class NetworkSpec:
    """A validated network design point (:func:`check_network` builds it).

    Attributes
    ----------
    kind, ports, width, expand:
        As given, coerced to ``str`` / ``int``.
    """

    kind: str
    ports: int
    width: int
    expand: int = 0

    @property
    def dest_bits(self) -> int:
        """Bits of the ``dest`` and ``src`` fields: ``ceil(log2 ports)``, at least 1 (Verilog
        has no zero-width port)."""
        return max(1, self.n)

    @property
    def n(self) -> int:
        """``log2 ports`` (rounded up for a crossbar or bus of any size)."""
        return (self.ports - 1).bit_length()

    @property
    def planes(self) -> int:
        """Butterfly planes: the expansion factor ``2^expand`` (1 for the other kinds)."""
        return 1 << self.expand

    @property
    def latency(self) -> int:
        """Zero-load latency in cycles (:func:`zero_load_latency`)."""
        return zero_load_latency(self.kind, self.ports, self.expand)


def _index(value: Any, what: str, fld: str) -> int:
    try:
        return check_index(value, what)
    except ParamError as e:
        raise ParamError(str(e), field=fld) from None


def check_network(*, kind: Any, ports: Any, width: Any = 1, expand: Any = 0) -> NetworkSpec:
    """Validate a network design point; raise :class:`golden.facts.ParamError` naming the field.

    Rules: ``kind`` one of :data:`KINDS`; ``ports`` a power of two 2..1024 for ``butterfly`` and
    ``benes``, 1..1024 for ``crossbar`` and ``bus``; ``width`` >= 1; ``expand`` 0..4 and only for
    ``butterfly``, with ``2^expand <= ports`` (a plane per pair of bits of ``src`` and ``dest``:
    more planes than ports would carry nothing).
    """
    if not isinstance(kind, str) or kind not in KINDS:
        raise ParamError(f"network kind must be one of {', '.join(KINDS)}, not {kind!r}",
                         field="kind")
    p = _index(ports, "ports", "ports")
    w = _index(width, "width", "width")
    e = _index(expand, "expand", "expand")
    if kind in ("butterfly", "benes"):
        if not 2 <= p <= MAX_PORTS or p & (p - 1):
            raise ParamError(f"a {kind} needs ports a power of two 2..{MAX_PORTS}, not {p}",
                             field="ports")
    elif not 1 <= p <= MAX_PORTS:
        raise ParamError(f"a {kind} needs ports 1..{MAX_PORTS}, not {p}", field="ports")
    if w < 1:
        raise ParamError(f"width must be at least 1 bit, not {w}", field="width")
    if e and kind != "butterfly":
        raise ParamError(f"expand applies to the butterfly only (a {kind} has none), not {e}",
                         field="expand")
    if not 0 <= e <= MAX_EXPAND:
        raise ParamError(f"expand must be 0..{MAX_EXPAND} (expansion factor 1..16), not {e}",
                         field="expand")
    if (1 << e) > p:
        raise ParamError(f"expand {e} means {1 << e} planes, more than the {p} ports: at most "
                         f"expand {p.bit_length() - 1}", field="expand")
    return NetworkSpec(kind, p, w, e)


# ---- topology ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    """A node's routing rule: which of its outputs a beat requests.

    ``kind``: ``"bit"`` (two outputs; output = parity of ``src & smask`` xor parity of
    ``dest & dmask``), ``"dest"`` (one output per destination: output = ``dest``) or ``"one"``
    (a single output).
    """

    kind: str
    smask: int = 0
    dmask: int = 0

    def __call__(self, src: int, dest: int) -> int:
        if self.kind == "bit":
            return ((src & self.smask).bit_count() ^ (dest & self.dmask).bit_count()) & 1
        if self.kind == "dest":
            return dest
        return 0


@dataclass(frozen=True)
class Node:
    """A switch: ``inputs`` and ``outputs`` are link ids, ``stage`` its register stage (0 first)
    and ``name`` its name in the RTL."""

    name: str
    stage: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    route: Route
    #: One transfer per cycle over all outputs (the bus): a single round-robin arbiter over
    #: the inputs whose requested output register is free (or empties this cycle).
    single: bool = False


@dataclass(frozen=True)
class Topology:
    """The structure of one network.

    Attributes
    ----------
    spec:
        The design point (width is irrelevant to the structure).
    links:
        Name of every link; links ``0..N-1`` are the input streams ``i[s]``, every other link is
        a one-entry register driven by exactly one node output.
    nodes:
        The switches, in stage order (each link is read by at most one node, and by a later
        stage than the one that drives it).
    outputs:
        ``outputs[d]``: the link presented on ``o[d]``.
    stages:
        Register stages on every path: the zero-load latency.
    """

    spec: NetworkSpec
    links: tuple[str, ...]
    nodes: tuple[Node, ...]
    outputs: tuple[int, ...]
    stages: int

    @property
    def registers(self) -> int:
        """One-entry link registers (each holds ``src``, ``dest`` and ``data``)."""
        return len(self.links) - self.spec.ports


def plane_of(src: int, dest: int, expand: int) -> int:
    """The butterfly plane of pair ``(src, dest)``: the low ``expand`` bits of ``src ^ dest``.

    Static per pair, so a pair's beats share one path and stay in order. For a fixed source
    (or a fixed destination) the planes are used equally, so uniform traffic splits evenly, and
    pairs that would collide in a plane's early stages (same low bits of ``src``) are separated
    by their destination's low bits.
    """
    return (src ^ dest) & ((1 << expand) - 1)


def benes_route(n: int, k: int) -> Route:
    """The routing rule of Benes stage ``k`` (``0 <= k <= 2n-2``), which switches position bit
    ``b = k`` (first half) or ``2n-2-k`` (second half): the beat goes to the side named by
    ``dest_b``.

    The first ``n - 1`` stages have no global setting (the looping algorithm needs the whole
    permutation in advance) and must keep a pair's beats on one path (any per-beat choice, such
    as alternating or taking the less busy output, lets a later beat overtake on a shorter
    queue). Of the deterministic rules measured (docs/network.md), routing them on the low
    destination bits did best: the first half is an LSB-first butterfly that delivers each beat
    to middle position ``(src_(n-1), dest_(n-2..0))``, the middle stage sets the top bit, and the
    last ``n - 1`` stages pass every beat straight on (each of their links carries a single
    destination, so they act as per-output buffers). Mixing source bits in (``src_k xor
    dest_j``, a Valiant-style intermediate) spreads structured permutations but adds conflicts
    in both halves and measured worse on random traffic.
    """
    bit = k if k < n else 2 * n - 2 - k
    return Route("bit", 0, 1 << bit)


class _Builder:
    def __init__(self, spec: NetworkSpec):
        self.spec = spec
        self.links: list[str] = [f"i{s}" for s in range(spec.ports)]
        self.nodes: list[Node] = []

    def link(self, name: str) -> int:
        self.links.append(name)
        return len(self.links) - 1

    def node(self, name: str, stage: int, inputs: Sequence[int], outs: Sequence[str],
             route: Route, *, single: bool = False) -> list[int]:
        ids = [self.link(o) for o in outs]
        self.nodes.append(Node(name, stage, tuple(inputs), tuple(ids), route, single))
        return ids


def _butterfly(b: _Builder, inputs: list[int], n: int, stage0: int, prefix: str) -> list[int]:
    """An MSB-first butterfly on positions: stage k pairs positions differing in bit n-1-k and
    routes the beat to the side named by that bit of ``dest``. Returns the output links by
    position (= destination)."""
    pos = list(inputs)
    for k in range(n):
        bit = 1 << (n - 1 - k)
        nxt = [0] * len(pos)
        for p in range(len(pos)):
            if p & bit:
                continue
            o0, o1 = b.node(f"{prefix}s{k}_{p}", stage0 + k, (pos[p], pos[p | bit]),
                            (f"{prefix}s{k}_p{p}", f"{prefix}s{k}_p{p | bit}"),
                            Route("bit", 0, bit))
            nxt[p], nxt[p | bit] = o0, o1
        pos = nxt
    return pos


def topology(kind: str, ports: int, expand: int = 0) -> Topology:
    """The structure of a network (see :class:`Topology` and docs/network.md).

    * ``crossbar``: one node, N inputs, N output registers, an N-way round-robin arbiter per
      output. 1 stage.
    * ``bus``: one node, N inputs, N output registers, and a *single* N-way round-robin
      arbiter: one beat per cycle crosses the bus, into the register of its destination.
      1 stage. (A bus with one register shared by all outputs deadlocks a system whose pods
      wait for each other's streams: a beat for a full pod would block every other pod.)
    * ``butterfly``: ``n = log2 N`` stages of N/2 2x2 switches (MSB-first). With ``expand = e``:
      each input's beats go through an ``e``-level demultiplexer tree to plane
      :func:`plane_of` (``2^e`` butterflies side by side), and each output merges its
      ``2^e`` plane outputs through an ``e``-level tree of 2:1 round-robin merges:
      ``n + 2e`` stages, SOSA's latency (the ``n + e`` switching stages of an ``N 2^e``-port
      butterfly whose first ``e`` stages only fan one input out, plus the ``e`` merge levels).
    * ``benes``: ``2n - 1`` stages of N/2 2x2 switches on position bits ``0, 1, ..., n-1, ...,
      1, 0``: an LSB-first butterfly and an MSB-first one sharing the middle stage, each stage
      routed by :func:`benes_route`.
    """
    spec = check_network(kind=kind, ports=ports, expand=expand)
    N, n, e = spec.ports, spec.n, spec.expand
    b = _Builder(spec)
    inputs = list(range(N))
    if kind == "crossbar":
        outs = b.node("xbar", 0, inputs, [f"xbar_o{d}" for d in range(N)], Route("dest"))
        stages = 1
    elif kind == "bus":
        outs = b.node("bus", 0, inputs, [f"bus_o{d}" for d in range(N)], Route("dest"),
                      single=True)
        stages = 1
    elif kind == "butterfly":
        P = 1 << e
        # demultiplexer trees: level j splits on plane bit e-1-j; leaf[s][plane]
        leaves = []
        for s in range(N):
            level = {0: s}
            for j in range(e):
                bit = 1 << (e - 1 - j)
                nxt = {}
                for pre, ln in level.items():
                    o0, o1 = b.node(f"dmx{s}_l{j}_{pre}", j, (ln,),
                                    (f"dmx{s}_l{j}_{pre}", f"dmx{s}_l{j}_{pre | bit}"),
                                    Route("bit", bit, bit))
                    nxt[pre], nxt[pre | bit] = o0, o1
                level = nxt
            leaves.append([level[p] for p in range(P)])
        plane_out = [_butterfly(b, [leaves[s][p] for s in range(N)], n, e,
                                f"pl{p}_" if P > 1 else "") for p in range(P)]
        outs = []
        for d in range(N):
            level = [plane_out[p][d] for p in range(P)]
            for j in range(e):
                level = [b.node(f"mrg{d}_l{j}_{q}", e + n + j, (level[2 * q], level[2 * q + 1]),
                                (f"mrg{d}_l{j}_{q}",), Route("one"))[0]
                         for q in range(len(level) // 2)]
            outs.append(level[0])
        stages = n + 2 * e
    else:  # benes
        pos = inputs
        for k in range(2 * n - 1):
            rule = benes_route(n, k)
            bit = rule.dmask
            nxt = [0] * N
            for p in range(N):
                if p & bit:
                    continue
                o0, o1 = b.node(f"s{k}_{p}", k, (pos[p], pos[p | bit]),
                                (f"s{k}_p{p}", f"s{k}_p{p | bit}"), rule)
                nxt[p], nxt[p | bit] = o0, o1
            pos = nxt
        outs, stages = pos, 2 * n - 1
    return Topology(spec, tuple(b.links), tuple(b.nodes), tuple(outs), stages)


# ---- SOSA's formulas ---------------------------------------------------------------------------
def zero_load_latency(kind: str, ports: int, expand: int = 0) -> int:
    """Cycles from a beat accepted on ``i[s]`` to its transfer on ``o[d]`` in an idle network
    with ready outputs: SOSA's figures (REFERENCE.md section 7), which the RTL meets exactly
    (one register per stage): crossbar 1, bus 1, Benes ``2n - 1``, Butterfly ``n + 2e``
    (``n = log2 ports``). SOSA adds 1 for each SRAM read and write around the network."""
    spec = check_network(kind=kind, ports=ports, expand=expand)
    n = spec.n
    if kind in ("crossbar", "bus"):
        return 1
    if kind == "benes":
        return 2 * n - 1
    return n + 2 * spec.expand


def network_power(kind: str, ports: int, width_bytes: float, expand: int = 0) -> float:
    """SOSA's network power model in watts: ``2.875e-5 W`` per byte of link width times
    crossbar ``N^2``, Benes ``2 N n``, Benes-copy ``4 N n``, Butterfly ``N' log2 N'``
    (``N' = 2^e N``), bus ``1`` (``n = log2 N``; any ``N`` >= 1 for the formula)."""
    if kind not in POWER_KINDS:
        raise ParamError(f"network kind must be one of {', '.join(POWER_KINDS)}, not {kind!r}",
                         field="kind")
    N = _index(ports, "ports", "ports")
    e = _index(expand, "expand", "expand")
    if N < 1:
        raise ParamError(f"ports must be at least 1, not {N}", field="ports")
    if e and kind != "butterfly":
        raise ParamError(f"expand applies to the butterfly only, not {e}", field="expand")
    if not 0 <= e <= MAX_EXPAND:
        raise ParamError(f"expand must be 0..{MAX_EXPAND}, not {e}", field="expand")
    w = float(width_bytes)
    if not w > 0 or not math.isfinite(w):
        raise ParamError(f"width_bytes must be positive, not {width_bytes!r}", field="width")
    n = math.log2(N)
    size = {"crossbar": N * N, "bus": 1.0, "benes": 2 * N * n, "benes_copy": 4 * N * n,
            "butterfly": (N << e) * math.log2(N << e)}[kind]
    return POWER_PER_BYTE_W * w * size


# ---- the cycle-exact twin ----------------------------------------------------------------------
@dataclass
class NetworkRun:
    """What :func:`simulate` saw.

    Attributes
    ----------
    received:
        Per output ``d``: ``(src, data, cycle)`` of every beat transferred on ``o[d]``, in order.
    accepted:
        Per input ``s``: the cycle each of its beats was transferred on ``i[s]``.
    cycles:
        Cycles simulated: up to and including the last output transfer (or ``stop``).
    """

    received: list[list[tuple[int, int, int]]]
    accepted: list[list[int]]
    cycles: int


def _check_beats(spec: NetworkSpec, beats: Sequence[Sequence[tuple[int, int]]]) -> None:
    if len(beats) != spec.ports:
        raise ParamError(f"beats: one list per input ({spec.ports}), not {len(beats)}",
                         field="beats")
    lim = 1 << spec.width
    for s, lst in enumerate(beats):
        for k, (d, x) in enumerate(lst):
            if not 0 <= d < spec.ports:
                raise ParamError(f"beats[{s}][{k}]: dest {d} is not a port (0..{spec.ports - 1})",
                                 field="beats")
            if not 0 <= x < lim:
                raise ParamError(f"beats[{s}][{k}]: data {x} does not fit {spec.width} bits",
                                 field="beats")


def simulate(kind: str, ports: int, beats: Sequence[Sequence[tuple[int, int]]], *,
             expand: int = 0, width: int = 64, gaps: Sequence[Sequence[int]] | None = None,
             ready: Sequence[Sequence[bool]] | None = None, stop: int | None = None,
             max_cycles: int | None = None) -> NetworkRun:
    """Run the network cycle by cycle, exactly as the RTL does (module docstring).

    Parameters
    ----------
    kind, ports, expand:
        The network (:func:`check_network`).
    beats:
        Per input ``s``: its beats ``(dest, data)`` in order.
    width:
        Data bits (only checks that every ``data`` fits).
    gaps:
        Per input: idle cycles before each beat, counted from the cycle after the previous
        beat was taken (before the first: from cycle 0), the convention of
        :class:`sim.vlib.StreamSource`; ``None`` or a short list: back to back.
    ready:
        Per output: ``ready`` of each cycle from cycle 0; ``None`` or past its end: ready.
    stop:
        Stop after this many cycles even if beats remain (saturation runs); default: run until
        every beat has left.
    max_cycles:
        Deadlock guard (default generous); exceeding it raises ``RuntimeError``.

    Returns
    -------
    :class:`NetworkRun`. Cycle ``c`` is the ``c``-th clock cycle after reset; a transfer "in
    cycle c" is sampled by the rising edge that ends it. Zero-load latency: a beat accepted in
    cycle ``c`` leaves in cycle ``c + stages``.
    """
    spec = check_network(kind=kind, ports=ports, width=width, expand=expand)
    topo = topology(kind, spec.ports, spec.expand)
    _check_beats(spec, beats)
    N = spec.ports
    L = len(topo.links)
    src_beats = [[(s, d, x) for d, x in lst] for s, lst in enumerate(beats)]
    src_gaps = [list(g) if g is not None else [] for g in (gaps or [None] * N)]
    rdy = [list(r) if r is not None else [] for r in (ready or [None] * N)]
    total = sum(len(x) for x in src_beats)
    if max_cycles is None:
        max_cycles = (100 + max((len(r) for r in rdy), default=0)
                      + max((sum(g) for g in src_gaps), default=0)
                      + (total + 1) * (topo.stages + 2) * 2)
    reg: list[tuple[int, int, int] | None] = [None] * L
    # one round-robin pointer per (node, output)
    ptrs = [[0] * len(nd.outputs) for nd in topo.nodes]
    nodes = [(nd.inputs, nd.outputs, nd.route, nd.single) for nd in topo.nodes]
    nxt = [0] * N          # next beat index per input
    wait = [g[0] if g else 0 for g in src_gaps]  # idle cycles left before the next beat
    out_of = {ln: d for d, ln in enumerate(topo.outputs)}
    received: list[list[tuple[int, int, int]]] = [[] for _ in range(N)]
    accepted: list[list[int]] = [[] for _ in range(N)]
    delivered = 0
    c = 0
    last = -1
    while True:
        if stop is not None and c >= stop:
            break
        if stop is None and delivered == total:
            break
        if c >= max_cycles:
            raise RuntimeError(f"network twin: no completion after {c} cycles "
                               f"({delivered}/{total} beats delivered)")
        # inputs present their beat (a source waiting out an idle gap presents nothing)
        for s in range(N):
            reg[s] = src_beats[s][nxt[s]] if nxt[s] < len(src_beats[s]) and wait[s] == 0 \
                else None
        leaving = [False] * L
        for d, ln in enumerate(topo.outputs):
            if reg[ln] is not None:
                r = rdy[d]
                leaving[ln] = c >= len(r) or bool(r[c])
        moves: list[tuple[int, int]] = []
        # Outputs before inputs: a node knows whether its output registers drain this cycle.
        for ni in range(len(nodes) - 1, -1, -1):
            ins, outs, route, single = nodes[ni]
            buckets: dict[int, list[int]] = {}
            for ii, ln in enumerate(ins):
                b = reg[ln]
                if b is not None:
                    buckets.setdefault(route(b[0], b[1]), []).append(ii)
            ptr = ptrs[ni]
            if single:  # one grant over every input whose output register can take a beat
                free = {j for j in buckets
                        if reg[outs[j]] is None or leaving[outs[j]]}
                cand = sorted(ii for j in free for ii in buckets[j])
                if cand:
                    g = next((ii for ii in cand if ii >= ptr[0]), cand[0])
                    ptr[0] = g + 1 if g + 1 < len(ins) else 0
                    leaving[ins[g]] = True
                    b = reg[ins[g]]
                    moves.append((outs[route(b[0], b[1])], ins[g]))
                continue
            for j, reqs in buckets.items():
                o = outs[j]
                if reg[o] is not None and not leaving[o]:
                    continue
                p = ptr[j]
                g = next((ii for ii in reqs if ii >= p), reqs[0])
                ptr[j] = g + 1 if g + 1 < len(ins) else 0
                leaving[ins[g]] = True
                moves.append((o, ins[g]))
        # the clock edge
        new = list(reg)
        for ln in range(N, L):
            if leaving[ln]:
                new[ln] = None
                if ln in out_of:
                    s, d, x = reg[ln]
                    # every output has a link of its own (a wiring error then shows as a
                    # lost pair)
                    received[out_of[ln]].append((s, x, c))
                    delivered += 1
                    last = c
        for o, i in moves:
            new[o] = reg[i]
        for s in range(N):
            if leaving[s]:
                accepted[s].append(c)
                nxt[s] += 1
                g = src_gaps[s]
                wait[s] = g[nxt[s]] if nxt[s] < len(g) else 0
            elif reg[s] is None and wait[s] > 0:
                wait[s] -= 1
        reg = new
        c += 1
    return NetworkRun(received, accepted, c if stop is not None else last + 1)


def delivery_problems(beats: Sequence[Sequence[tuple[int, int]]],
                      received: Sequence[Sequence[tuple[int, ...]]]) -> list[str]:
    """Check the network's guarantees: every beat from ``s`` with ``dest d`` arrives on output
    ``d`` exactly once, a pair's beats in order; nothing else arrives. ``received[d]`` holds
    ``(src, data, ...)``. Returns one line per problem (empty: all good)."""
    N = len(beats)
    problems = []
    if len(received) != N:
        return [f"{len(received)} outputs, expected {N}"]
    for d in range(N):
        for s in range(N):
            want = [x for dd, x in beats[s] if dd == d]
            got = [r[1] for r in received[d] if r[0] == s]
            if got == want:
                continue
            if sorted(got) == sorted(want):
                k = next(i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b)
                problems.append(f"pair {s}->{d}: reordered, beat {k} is {got[k]:#x}, "
                                f"expected {want[k]:#x}")
            else:
                problems.append(f"pair {s}->{d}: {len(got)} beats received, {len(want)} sent "
                                f"(first received {[hex(v) for v in got[:3]]}, sent "
                                f"{[hex(v) for v in want[:3]]})")
        bad = [r for r in received[d] if not 0 <= r[0] < N]
        if bad:
            problems.append(f"output {d}: {len(bad)} beats from no input (src {bad[0][0]})")
    return problems


# ---- traffic -----------------------------------------------------------------------------------
def uniform_traffic(ports: int, beats: int, rng: np.random.Generator, *,
                    width: int = 32) -> list[list[tuple[int, int]]]:
    """``beats`` beats per input, each to a uniformly random output, random data."""
    return [list(zip(rng.integers(0, ports, beats).tolist(),
                     _data(rng, beats, width), strict=True)) for _ in range(ports)]


def permutation_traffic(perm: Sequence[int], beats: int, rng: np.random.Generator, *,
                        width: int = 32) -> list[list[tuple[int, int]]]:
    """``beats`` beats per input ``s``, all to ``perm[s]``."""
    return [[(int(d), x) for x in _data(rng, beats, width)] for d in perm]


def hotspot_traffic(ports: int, beats: int, rng: np.random.Generator, *, hot: int = 0,
                    width: int = 32) -> list[list[tuple[int, int]]]:
    """``beats`` beats per input, all to output ``hot`` (the all-to-one corner)."""
    return permutation_traffic([hot] * ports, beats, rng, width=width)


def _data(rng: np.random.Generator, n: int, width: int) -> list[int]:
    if width <= 62:
        return rng.integers(0, 1 << width, n, dtype=np.int64).tolist()
    return [int.from_bytes(rng.bytes((width + 7) // 8), "little") & ((1 << width) - 1)
            for _ in range(n)]


def saturation_throughput(kind: str, ports: int, *, expand: int = 0, traffic: str = "uniform",
                          cycles: int = 2000, warmup: int = 200, seed: int = 1) -> float:
    """Accepted beats per cycle per input (1.0 = every input sends every cycle) with every input
    always holding a beat (infinite backlog) and every output always ready.

    ``traffic``: ``"uniform"`` (each beat to a uniformly random output) or ``"permutation"`` (one
    random permutation, input ``s`` always to ``perm[s]``). Counted over ``cycles`` cycles after
    ``warmup``.
    """
    rng = np.random.default_rng(seed)
    total = warmup + cycles
    if traffic == "uniform":
        beats = uniform_traffic(ports, total, rng, width=1)
    elif traffic == "permutation":
        beats = permutation_traffic(rng.permutation(ports).tolist(), total, rng, width=1)
    else:
        raise ParamError(f"traffic must be uniform or permutation, not {traffic!r}",
                         field="traffic")
    run = simulate(kind, ports, beats, expand=expand, width=1, stop=total)
    got = sum(sum(1 for c in acc if c >= warmup) for acc in run.accepted)
    return got / (cycles * operator.index(ports))
