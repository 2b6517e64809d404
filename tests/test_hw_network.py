# amaranth: UnusedElaboratable=no
"""Amaranth-simulator tests of the scale-out networks (hw/network.py) against golden.network.

Every run drives the RTL and the cycle-exact twin (:func:`golden.network.simulate`) with the
same beats, idle gaps and output ready patterns, and requires the two to agree on every
transfer: the ``(src, data, cycle)`` of each beat on each output and the cycle each input beat
was taken. Independently of the twin, :func:`golden.network.delivery_problems` checks the
guarantees: nothing lost, duplicated or reordered per ``(src, dest)`` pair. Small networks only
(the Python simulator is slow); sim/tb_network.py co-simulates the generated Verilog.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.facts import ParamError
from golden.network import (
    delivery_problems,
    hotspot_traffic,
    permutation_traffic,
    simulate,
    uniform_traffic,
    zero_load_latency,
)
from hw.network import Network

Beats = Sequence[Sequence[tuple[int, int]]]


def run_rtl(kind: str, ports: int, width: int, beats: Beats, *, expand: int = 0,
            gaps: Sequence[Sequence[int]] | None = None,
            ready: Sequence[Sequence[bool]] | None = None, stop: int | None = None,
            max_cycles: int = 20000):
    """Drive ``beats`` through the RTL with the twin's conventions; return (received, accepted).

    An input presents its next beat once its idle gap (counted from the cycle after the previous
    transfer) is over; ``ready[d][c]`` is ``o[d].ready`` in cycle c (ready past the end). Runs
    until every beat has left, or for ``stop`` cycles.
    """
    dut = Network(kind=kind, ports=ports, width=width, expand=expand)
    N = ports
    total = sum(map(len, beats))
    gp = [list(g) for g in gaps] if gaps is not None else [[] for _ in range(N)]
    rd = [list(r) for r in ready] if ready is not None else [[] for _ in range(N)]
    received: list[list[tuple[int, int, int]]] = [[] for _ in range(N)]
    accepted: list[list[int]] = [[] for _ in range(N)]

    async def tb(ctx):
        nxt = [0] * N
        wait = [g[0] if g else 0 for g in gp]
        c = got = 0
        while (got < total) if stop is None else (c < stop):
            assert c < max_cycles, f"timeout: {got}/{total} beats delivered"
            pres = [nxt[s] < len(beats[s]) and wait[s] == 0 for s in range(N)]
            for s in range(N):
                ctx.set(dut.i[s].valid, int(pres[s]))
                if pres[s]:
                    d, x = beats[s][nxt[s]]
                    ctx.set(dut.i[s].payload.dest, d)
                    ctx.set(dut.i[s].payload.data, x)
            rdy = [c >= len(rd[d]) or bool(rd[d][c]) for d in range(N)]
            for d in range(N):
                ctx.set(dut.o[d].ready, int(rdy[d]))
            for d in range(N):
                if rdy[d] and ctx.get(dut.o[d].valid):
                    received[d].append((ctx.get(dut.o[d].payload.src),
                                        ctx.get(dut.o[d].payload.data), c))
                    got += 1
            for s in range(N):
                if pres[s] and ctx.get(dut.i[s].ready):
                    accepted[s].append(c)
                    nxt[s] += 1
                    wait[s] = gp[s][nxt[s]] if nxt[s] < len(gp[s]) else 0
                elif not pres[s] and wait[s] > 0:
                    wait[s] -= 1
            await ctx.tick()
            c += 1
        # nothing invented after the last beat
        for d in range(N):
            ctx.set(dut.o[d].ready, 1)
        if stop is None:
            for _ in range(dut.latency + 2):
                assert not any(ctx.get(o.valid) for o in dut.o), "beat after the last one"
                await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return received, accepted


def assert_same(got: Sequence, want: Sequence, what: str, show: int = 4) -> None:
    """Fail with ``N/M mismatches`` and the first offending items of two equal-shaped lists."""
    bad = [i for i, (g, w) in enumerate(zip(got, want, strict=False)) if g != w]
    n_bad = len(bad) + abs(len(got) - len(want))
    lines = [f"{what}: {n_bad}/{max(len(got), len(want))} mismatches"]
    if len(got) != len(want):
        lines.append(f"  {len(got)} items received, {len(want)} expected")
    lines += [f"  #{i}: got {got[i]}, want {want[i]}" for i in bad[:show]]
    assert n_bad == 0, "\n".join(lines)


def check_against_twin(kind: str, ports: int, width: int, beats: Beats, *, expand: int = 0,
                       gaps=None, ready=None, stop: int | None = None):
    """RTL == twin, transfer for transfer, and the delivery guarantees; returns the twin run."""
    got, acc = run_rtl(kind, ports, width, beats, expand=expand, gaps=gaps, ready=ready,
                       stop=stop)
    tw = simulate(kind, ports, beats, expand=expand, width=width, gaps=gaps, ready=ready,
                  stop=stop)
    for d in range(ports):
        assert_same(got[d], tw.received[d], f"{kind} N={ports} e={expand} output {d} "
                    "(src, data, cycle)")
    for s in range(ports):
        assert_same(acc[s], tw.accepted[s], f"{kind} N={ports} e={expand} input {s} "
                    "accept cycles")
    if stop is None:
        probs = delivery_problems(beats, got)
        assert not probs, "\n".join(probs)
    return tw


KINDS = [("butterfly", 0), ("butterfly", 1), ("benes", 0), ("crossbar", 0), ("bus", 0)]
KIND_IDS = [f"{k}-e{e}" if k == "butterfly" else k for k, e in KINDS]


def _patterns(ports: int, beats: int, rng: np.random.Generator, *, gap_p: float,
              stall_p: float) -> tuple[list, list]:
    gaps = [(rng.geometric(1 - gap_p, beats) - 1).tolist() for _ in range(ports)]
    horizon = 40 * beats * ports
    ready = [(rng.random(horizon) >= stall_p).tolist() for _ in range(ports)]
    return gaps, ready


@pytest.mark.parametrize("width", [1, 12])
@pytest.mark.parametrize("ports", [2, 4, 8])
@pytest.mark.parametrize("kind,expand", KINDS, ids=KIND_IDS)
def test_random_traffic_with_gaps_and_stalls(kind, expand, ports, width):
    rng = np.random.default_rng(ports * 100 + width + 7 * expand + len(kind))
    n = 24 if ports == 8 else 40
    beats = uniform_traffic(ports, n, rng, width=width)
    gaps, ready = _patterns(ports, n, rng, gap_p=0.3, stall_p=0.35)
    check_against_twin(kind, ports, width, beats, expand=expand, gaps=gaps, ready=ready)


@pytest.mark.parametrize("ports", [3, 5])
@pytest.mark.parametrize("kind", ["crossbar", "bus"])
def test_any_port_count(kind, ports):
    rng = np.random.default_rng(ports)
    beats = uniform_traffic(ports, 30, rng, width=9)
    gaps, ready = _patterns(ports, 30, rng, gap_p=0.2, stall_p=0.3)
    check_against_twin(kind, ports, 9, beats, gaps=gaps, ready=ready)


@pytest.mark.parametrize("kind", ["crossbar", "bus"])
def test_one_port(kind):
    beats = [[(0, x) for x in (5, 0, 7, 7, 1)]]
    check_against_twin(kind, 1, 3, beats, gaps=[[0, 2, 0, 1, 0]],
                       ready=[[True, False, False, True, True, False]])


@pytest.mark.parametrize("ports", [4, 8])
@pytest.mark.parametrize("kind,expand", KINDS, ids=KIND_IDS)
def test_saturated_uniform_traffic(kind, expand, ports):
    """Every input always offers, every output always ready: RTL == twin while saturated."""
    rng = np.random.default_rng(ports + expand)
    beats = uniform_traffic(ports, 60, rng, width=6)
    check_against_twin(kind, ports, 6, beats, expand=expand, stop=50)


# ---- directed corners --------------------------------------------------------------------------
def _bit_reverse(ports: int) -> list[int]:
    n = ports.bit_length() - 1
    return [int(format(s, f"0{n}b")[::-1], 2) if n else 0 for s in range(ports)]


@pytest.mark.parametrize("ports", [4, 8])
@pytest.mark.parametrize("kind,expand", KINDS, ids=KIND_IDS)
def test_hot_spot_all_to_one(kind, expand, ports):
    """All inputs to one output: it takes a beat every cycle and round robin shares it."""
    rng = np.random.default_rng(3)
    beats = hotspot_traffic(ports, 12, rng, hot=ports - 1, width=8)
    tw = check_against_twin(kind, ports, 8, beats, expand=expand)
    cycles = [c for _, _, c in tw.received[ports - 1]]
    start = cycles[0]
    assert cycles == list(range(start, start + 12 * ports)), "the hot output idled"
    # fairness: while every input still has beats, no input gets two beats ahead of another
    srcs = [s for s, _, _ in tw.received[ports - 1]]
    for k in range(ports, 8 * ports):
        counts = np.bincount(srcs[:k], minlength=ports)
        assert counts.max() - counts.min() <= 2, f"unfair after {k} beats: {counts.tolist()}"


@pytest.mark.parametrize("ports", [4, 8])
@pytest.mark.parametrize("perm", ["identity", "reverse", "bitrev", "random"])
@pytest.mark.parametrize("kind,expand", KINDS, ids=KIND_IDS)
def test_permutations(kind, expand, ports, perm):
    rng = np.random.default_rng(ports)
    p = {"identity": list(range(ports)), "reverse": list(range(ports))[::-1],
         "bitrev": _bit_reverse(ports), "random": rng.permutation(ports).tolist()}[perm]
    beats = permutation_traffic(p, 10, rng, width=8)
    tw = check_against_twin(kind, ports, 8, beats, expand=expand,
                            ready=[(rng.random(200) > 0.2).tolist() for _ in range(ports)])
    if perm == "identity" and kind != "bus":
        # conflict-free: every input's beats leave on consecutive ready cycles
        tw2 = simulate(kind, ports, beats, expand=expand, width=8)
        assert tw2.cycles == 10 + zero_load_latency(kind, ports, expand)
        assert tw.cycles >= tw2.cycles


@pytest.mark.parametrize("kind,expand,ports", [("butterfly", 0, 8), ("butterfly", 2, 8),
                                               ("benes", 0, 8), ("crossbar", 0, 5),
                                               ("bus", 0, 4)])
def test_zero_load_latency(kind, expand, ports):
    """A beat in an idle network leaves exactly ``zero_load_latency`` cycles after it entered
    (three lone beats, far enough apart never to meet)."""
    want = zero_load_latency(kind, ports, expand)
    pairs = ((0, ports - 1), (ports - 1, 0), (1, 1))
    beats = [[] for _ in range(ports)]
    gaps = [[] for _ in range(ports)]
    for k, (s, d) in enumerate(pairs):  # one beat per source: its gap is its start cycle
        beats[s], gaps[s] = [(d, 0x50 + k)], [3 + 20 * k]
    got, acc = run_rtl(kind, ports, 8, beats, expand=expand, gaps=gaps)
    for k, (s, d) in enumerate(pairs):
        assert 3 + 20 * k in acc[s]
        assert (s, 0x50 + k, 3 + 20 * k + want) in got[d]
    assert Network(kind=kind, ports=ports, width=8, expand=expand).latency == want


def test_stalled_output_keeps_everything():
    """An output that stays stalled for long fills the network; nothing is dropped, and the
    other outputs keep receiving until head-of-line blocking reaches their inputs."""
    rng = np.random.default_rng(5)
    beats = uniform_traffic(4, 30, rng, width=8)
    ready = [[True] * 400 for _ in range(4)]
    ready[2] = [False] * 150 + [True] * 250
    tw = check_against_twin("butterfly", 4, 8, beats, ready=ready)
    assert min(c for _, _, c in tw.received[2]) >= 150


@pytest.mark.parametrize("kind", ["crossbar", "bus"])
def test_dest_beyond_the_ports_is_never_taken(kind):
    """With 3 ports a 2-bit dest can say 3: that input stalls, the others flow."""
    beats = [[(3, 1)], [(0, 2), (2, 3)], [(1, 4)]]
    got, acc = run_rtl(kind, 3, 4, [[], *beats[1:]])
    assert [len(a) for a in acc] == [0, 2, 1]
    dut = Network(kind=kind, ports=3, width=4)
    seen = {}

    async def tb(ctx):
        ctx.set(dut.i[0].valid, 1)
        ctx.set(dut.i[0].payload.dest, 3)
        for o in dut.o:
            ctx.set(o.ready, 1)
        for _ in range(6):
            seen.setdefault("ready", []).append(ctx.get(dut.i[0].ready))
            seen.setdefault("valid", []).append([ctx.get(o.valid) for o in dut.o])
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert not any(seen["ready"]) and not any(map(any, seen["valid"]))
    with pytest.raises(ParamError, match="dest 3 is not a port"):
        simulate(kind, 3, beats)


# ---- parameters --------------------------------------------------------------------------------
BAD = [
    (dict(kind="ring", ports=4, width=8), "kind"),
    (dict(kind=None, ports=4, width=8), "kind"),
    (dict(kind="butterfly", ports=6, width=8), "ports"),
    (dict(kind="benes", ports=1, width=8), "ports"),
    (dict(kind="butterfly", ports=2048, width=8), "ports"),
    (dict(kind="crossbar", ports=0, width=8), "ports"),
    (dict(kind="crossbar", ports=4.0, width=8), "ports"),
    (dict(kind="crossbar", ports=True, width=8), "ports"),
    (dict(kind="crossbar", ports="4", width=8), "ports"),
    (dict(kind="bus", ports=4, width=0), "width"),
    (dict(kind="bus", ports=4, width=2.5), "width"),
    (dict(kind="crossbar", ports=1000, width=100), "width"),
    (dict(kind="butterfly", ports=8, width=8, expand=5), "expand"),
    (dict(kind="butterfly", ports=8, width=8, expand=-1), "expand"),
    (dict(kind="butterfly", ports=4, width=8, expand=3), "expand"),
    (dict(kind="benes", ports=8, width=8, expand=1), "expand"),
    (dict(kind="crossbar", ports=8, width=8, expand=1), "expand"),
]


@pytest.mark.parametrize("kw,field", BAD, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD)])
def test_bad_parameters_refused_naming_the_field(kw, field):
    with pytest.raises(ParamError) as ei:
        Network(**kw)
    assert ei.value.field == field
    msg = str(ei.value)
    assert "\n" not in msg and msg


def test_parameters_are_keyword_only_and_coerced():
    with pytest.raises(TypeError):
        Network("crossbar", 4, 8)  # type: ignore[misc]
    net = Network(kind="butterfly", ports=np.int64(8), width=np.uint8(5), expand=np.int32(1))
    assert (net.ports, net.width, net.expand) == (8, 5, 1)
    assert type(net.ports) is int and net.latency == 3 + 2
    assert net.signature == Network.signature_of(kind="butterfly", ports=8, width=5, expand=1)
