"""Fast tests of the simulator-free parts of :mod:`sim.vlib`: patterns and the scoreboard."""

from __future__ import annotations

import numpy as np
import pytest

from sim.vlib import (
    Bernoulli,
    Bursts,
    FromIterable,
    Never,
    Periodic,
    Scoreboard,
    as_pattern,
    valid_schedule,
)


def _gaps_from_take(values: list[bool], n_beats: int) -> list[int]:
    out, run = [], 0
    for v in values:
        if v:
            run += 1
        else:
            out.append(run)
            run = 0
            if len(out) == n_beats:
                return out
    raise AssertionError("not enough beats")


@pytest.mark.parametrize("make", [
    lambda: Periodic([False, True, True, False]),
    lambda: FromIterable([True, False, True, True, False] * 50),
    lambda: Bursts(3, 2, seed=5),
])
def test_gaps_is_take_seen_at_free_cycles(make):
    # gaps() of a pattern equals reading its per-cycle values on free cycles only
    assert make().gaps(40) == _gaps_from_take(make().take(2000), 40)


def test_bernoulli_rates_and_seeds():
    a, b = Bernoulli(0.3, 7).take(20000), Bernoulli(0.3, 7).take(20000)
    assert a == b and abs(np.mean(a) - 0.3) < 0.02
    g = Bernoulli(0.3, 8).gaps(20000)
    # idle share of a gap-spread stream: E[gap] / (E[gap] + 1) = p
    assert abs(np.sum(g) / (np.sum(g) + len(g)) - 0.3) < 0.02
    assert Bernoulli(0.0, 1).never and Bernoulli(0.0, 1).gaps(3) == [0, 0, 0]
    with pytest.raises(ValueError):
        Bernoulli(1.0, 1)


def test_bernoulli_gaps_match_the_old_bubbles():
    # the geometric draw the testbenches used before the library (same stimulus per seed)
    r1, r2 = np.random.default_rng(3), np.random.default_rng(3)
    assert Bernoulli(0.15, r1).gaps(500) == (r2.geometric(0.85, 500) - 1).tolist()


def test_bursts_run_lengths():
    v = np.array(Bursts(8, 3, seed=2).take(200000))
    edges = np.flatnonzero(np.diff(v.astype(int))) + 1
    runs = np.diff(np.concatenate([[0], edges, [v.size]]))
    starts = v[np.concatenate([[0], edges])]
    assert not starts[0]  # begins busy
    assert abs(runs[~starts].mean() - 8) < 0.5 and abs(runs[starts].mean() - 3) < 0.3


def test_patterns_continue_and_convert():
    p = Periodic([True, False, False])
    assert p.take(4) + p.take(2) == [True, False, False, True, False, False]
    assert as_pattern(None).never and isinstance(as_pattern(None), Never)
    assert as_pattern([True]).take(3) == [True, False, False]  # finite iterables run out idle-free
    calls = iter([True, True, False])
    assert as_pattern(lambda: next(calls)).take(3) == [True, True, False]


def test_valid_schedule():
    v = valid_schedule(Periodic([True, False]), 3)
    assert v.tolist() == [False, True, False, True, False, True]
    assert valid_schedule(None, 4).all() and valid_schedule(None, 0).size == 0


def test_scoreboard_reports():
    sb = Scoreboard("blk k=4", seed=11)
    assert sb.compare([1, 2, 3], [1, 2, 3]) == 0 and sb.ok
    assert sb.compare(np.array([[1, 2], [3, 4], [5, 6]]), [(1, 2), (3, 5), (5, 7)],
                      what="rows", inputs=[[10], [11], [12]], fmt=hex,
                      describe=lambda i: f"beat {i}") == 2
    sb.expect(False, "latency off")
    with pytest.raises(AssertionError) as e:
        sb.check()
    msg = str(e.value)
    assert msg.startswith("blk k=4 (seed 11): rows: 2/3 mismatches")
    assert "#1: got [0x3, 0x4], want [0x3, 0x5], in 0xb (beat 1)" in msg
    assert "latency off" in msg


def test_scoreboard_lengths_and_wide_ints():
    sb = Scoreboard("wide")
    big = 1 << 300
    assert sb.compare([big, big + 1], [big, big + 1]) == 0
    assert sb.compare([1, 2], [1, 2, 3], what="beats") == 1  # one lost
    assert sb.compare([1, 9, 3, 4], [1, 2, 3], what="dup") == 2  # one invented, one wrong
    assert sb.compare([], [], what="none") == 0
    r = sb.report()
    assert "beats: 2 received, 3 expected" in r and "dup: 1/3 mismatches" in r
