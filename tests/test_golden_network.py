"""The golden network twin (golden/network.py) on its own: structure, formulas, guarantees.

The RTL is compared with the twin in tests/test_hw_network.py; here the twin's own claims are
checked, on networks larger than the Python RTL simulator could run: every pair routes to its
destination, every path has the documented length, nothing is lost, duplicated or reordered,
and the throughput figures docs/network.md quotes are in their ranges.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from golden.facts import ParamError
from golden.network import (
    KINDS,
    POWER_PER_BYTE_W,
    check_network,
    delivery_problems,
    hotspot_traffic,
    network_power,
    permutation_traffic,
    plane_of,
    saturation_throughput,
    simulate,
    topology,
    uniform_traffic,
    zero_load_latency,
)

POINTS = [("butterfly", n, e) for n in (2, 4, 8, 16, 64) for e in range(5) if 1 << e <= n] + [
    ("benes", n, 0) for n in (2, 4, 8, 16, 64)] + [
    (k, n, 0) for k in ("crossbar", "bus") for n in (1, 3, 4, 8, 13)]


def _walk(consumer: dict, s: int, d: int) -> tuple[int, int]:
    """Follow pair (s, d) through the topology: (link it ends in, register stages crossed)."""
    ln, hops = s, 0
    while ln in consumer:
        nd = consumer[ln]
        ln = nd.outputs[nd.route(s, d)]
        hops += 1
    return ln, hops


@pytest.mark.parametrize("kind,ports,expand", POINTS)
def test_every_pair_reaches_its_output_in_latency_stages(kind, ports, expand):
    topo = topology(kind, ports, expand)
    lat = zero_load_latency(kind, ports, expand)
    assert topo.stages == lat
    consumer = {ln: nd for nd in topo.nodes for ln in nd.inputs}
    for s in range(ports):
        for d in range(ports):
            end, hops = _walk(consumer, s, d)
            assert end == topo.outputs[d], f"pair {s}->{d} ends in {topo.links[end]}"
            assert hops == lat
    # every register link has one driver; every link at most one reader; stages increase
    drivers = [ln for nd in topo.nodes for ln in nd.outputs]
    assert sorted(drivers) == list(range(ports, len(topo.links)))
    readers = [ln for nd in topo.nodes for ln in nd.inputs]
    assert len(readers) == len(set(readers))
    stage_of = {ln: nd.stage for nd in topo.nodes for ln in nd.outputs}
    for nd in topo.nodes:
        assert all(stage_of.get(ln, -1) == nd.stage - 1 for ln in nd.inputs), nd.name


def test_sosa_latency_formulas():
    assert zero_load_latency("crossbar", 64) == 1 and zero_load_latency("bus", 7) == 1
    assert zero_load_latency("benes", 64) == 2 * 6 - 1
    assert [zero_load_latency("butterfly", 64, e) for e in range(5)] == [6, 8, 10, 12, 14]


def test_sosa_power_formula():
    w = 32  # bytes
    k = POWER_PER_BYTE_W * w
    assert network_power("crossbar", 16, w) == pytest.approx(k * 256)
    assert network_power("benes", 16, w) == pytest.approx(k * 2 * 16 * 4)
    assert network_power("benes_copy", 16, w) == pytest.approx(k * 4 * 16 * 4)
    assert network_power("butterfly", 16, w, 2) == pytest.approx(k * 64 * 6)
    assert network_power("bus", 16, w) == pytest.approx(k)
    assert network_power("butterfly", 256, 1) == pytest.approx(2.875e-5 * 256 * 8)
    for bad, field in ((dict(kind="ring"), "kind"), (dict(ports=0), "ports"),
                       (dict(width_bytes=0), "width"), (dict(width_bytes=math.nan), "width"),
                       (dict(kind="benes", expand=1), "expand")):
        kw = {"kind": "crossbar", "ports": 8, "width_bytes": 4, **bad}
        with pytest.raises(ParamError) as ei:
            network_power(**kw)
        assert ei.value.field == field


def test_plane_rule_spreads_pairs_evenly():
    for e in (1, 2, 3):
        for s in range(16):
            counts = np.bincount([plane_of(s, d, e) for d in range(16)], minlength=1 << e)
            assert (counts == 16 >> e).all()


@pytest.mark.parametrize("kind,ports,expand", [("butterfly", 16, 0), ("butterfly", 32, 2),
                                               ("benes", 16, 0), ("crossbar", 12, 0),
                                               ("bus", 6, 0), ("butterfly", 64, 1)])
def test_guarantees_on_large_networks(kind, ports, expand):
    """Random traffic with gaps and stalls: each pair's beats arrive once, in order."""
    rng = np.random.default_rng(ports + expand)
    beats = uniform_traffic(ports, 30, rng, width=16)
    gaps = [(rng.geometric(0.6, 30) - 1).tolist() for _ in range(ports)]
    ready = [(rng.random(3000) > 0.4).tolist() for _ in range(ports)]
    run = simulate(kind, ports, beats, expand=expand, width=16, gaps=gaps, ready=ready)
    assert delivery_problems(beats, run.received) == []
    assert [len(a) for a in run.accepted] == [30] * ports
    # each output transfer happens on a ready cycle, at most one per cycle
    for d, rec in enumerate(run.received):
        cyc = [c for _, _, c in rec]
        assert cyc == sorted(set(cyc)) and all(ready[d][c] for c in cyc if c < 3000)


def test_delivery_problems_names_loss_duplication_reordering():
    beats = [[(1, 0xA), (1, 0xB)], [(0, 0xC)]]
    good = [[(1, 0xC, 5)], [(0, 0xA, 3), (0, 0xB, 4)]]
    assert delivery_problems(beats, good) == []
    lost = [[(1, 0xC, 5)], [(0, 0xA, 3)]]
    assert "1 beats received, 2 sent" in delivery_problems(beats, lost)[0]
    dup = [[(1, 0xC, 5), (1, 0xC, 6)], [(0, 0xA, 3), (0, 0xB, 4)]]
    assert "pair 1->0: 2 beats received, 1 sent" in delivery_problems(beats, dup)[0]
    swapped = [[(1, 0xC, 5)], [(0, 0xB, 3), (0, 0xA, 4)]]
    assert "reordered" in delivery_problems(beats, swapped)[0]
    wrong_port = [[(1, 0xC, 5), (0, 0xA, 3)], [(0, 0xB, 4)]]
    assert delivery_problems(beats, wrong_port)


def test_gap_and_ready_conventions():
    # gaps count idle cycles from the cycle after the previous transfer (StreamSource's rule)
    run = simulate("crossbar", 2, [[(1, 1), (1, 2), (1, 3)], []], gaps=[[2, 3, 0], []])
    assert run.accepted[0] == [2, 6, 7]
    assert [c for *_, c in run.received[1]] == [3, 7, 8]
    # a stalled output holds its beat; the input's next beat waits in the one-entry register
    run = simulate("crossbar", 2, [[(0, 1), (0, 2), (0, 3)], []],
                   ready=[[False, False, False, True], []])
    assert run.accepted[0] == [0, 3, 4]
    assert [c for *_, c in run.received[0]] == [3, 4, 5]
    assert run.cycles == 6


def test_simulate_refuses_bad_stimulus():
    with pytest.raises(ParamError, match="one list per input"):
        simulate("crossbar", 3, [[]])
    with pytest.raises(ParamError, match="does not fit 4 bits"):
        simulate("crossbar", 2, [[(0, 16)], []], width=4)
    with pytest.raises(ParamError) as ei:
        check_network(kind="benes", ports=12, width=8)
    assert ei.value.field == "ports"


@pytest.mark.parametrize("kind", KINDS)
def test_hot_spot_is_served_every_cycle_and_fairly(kind):
    rng = np.random.default_rng(0)
    beats = hotspot_traffic(16, 20, rng, hot=5, width=8)
    run = simulate(kind, 16, beats)
    cyc = [c for *_, c in run.received[5]]
    assert cyc == list(range(cyc[0], cyc[0] + 320))
    srcs = [s for s, *_ in run.received[5]]
    for k in range(16, 300):
        counts = np.bincount(srcs[:k], minlength=16)
        assert counts.max() - counts.min() <= 2


def test_throughput_figures():
    """The ranges docs/network.md's table falls in (accepted beats per cycle per input)."""
    def tp(kind, n, traffic, e=0):
        return saturation_throughput(kind, n, expand=e, traffic=traffic, cycles=600, warmup=100)
    assert tp("crossbar", 16, "permutation") == 1.0
    assert 0.55 < tp("crossbar", 16, "uniform") < 0.65  # HOL blocking: 2 - sqrt(2) as N grows
    assert tp("bus", 8, "uniform") == pytest.approx(1 / 8)
    assert tp("butterfly", 16, "uniform") < tp("butterfly", 16, "uniform", 1) \
        < tp("butterfly", 16, "uniform", 2)
    for kind in ("butterfly", "benes", "crossbar"):
        rng = np.random.default_rng(1)
        run = simulate(kind, 16, permutation_traffic(list(range(16)), 50, rng, width=4),
                       width=4, stop=60)
        assert sum(map(len, run.accepted)) == 16 * 50  # identity: one beat per input per cycle
