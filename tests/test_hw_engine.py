"""Amaranth-simulator tests of the FP32 GEMM engine (hw/engine.py) against golden.engine.

Small engines only (the Python simulator is slow); the generated Verilog is co-simulated under
cocotb by sim/tb_engine.py. Every FP32 result word is compared exactly, and the cycle count
with an always-ready sink equals :func:`golden.engine.engine_cycles`.
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.arith_fp import convert_blocks, lfsr_offsets
from golden.engine import EngineGeometry, EngineLayout, engine_program
from golden.facts import ParamError
from golden.stimulus import random_f32
from hw.convert import FP32ToHBFP
from hw.engine import Engine


def make_engine(geo: EngineGeometry) -> Engine:
    return Engine(rows=geo.rows, cols=geo.cols, mant_bits=geo.mant_bits,
                  acc_width=geo.acc_width, tile=geo.tile, sparsity=geo.sparsity,
                  narrow_mant_bits=geo.narrow_mant_bits, stochastic=geo.stochastic,
                  offset_bits=geo.offset_bits, seed=geo.seed,
                  convert_pipeline=geo.convert_latency,
                  normalize_pipeline=geo.normalize_latency, arith=geo.arith)


def run_engine(geo: EngineGeometry, prog, *, stall_p: float = 0.0, gap_p: float = 0.0,
               seed: int = 0, max_cycles: int = 50000):
    """Drive ``prog`` through the engine; return (result words, cycles, error flag)."""
    dut = make_engine(geo)
    rng = np.random.default_rng(seed)
    ready = (rng.random(max_cycles) >= stall_p).tolist()
    a_ok = (rng.random(max_cycles) >= gap_p).tolist()
    w_ok = (rng.random(max_cycles) >= gap_p).tolist()
    n_res = len(prog.res)
    out: list[int] = []
    info = {}

    async def tb(ctx):
        wi = ai = edge = 0
        while len(out) < n_res:
            assert edge < max_cycles, f"timeout: {len(out)}/{n_res} results"
            wv = wi < len(prog.w_beats) and w_ok[edge]
            av = ai < len(prog.act_beats) and a_ok[edge]
            ctx.set(dut.w.valid, int(wv))
            ctx.set(dut.w.payload.as_value(), prog.w_beats[min(wi, len(prog.w_beats) - 1)])
            ctx.set(dut.act.valid, int(av))
            ctx.set(dut.act.payload.as_value(),
                    prog.act_beats[min(ai, len(prog.act_beats) - 1)])
            ctx.set(dut.res.ready, int(ready[edge]))
            w_fire = wv and ctx.get(dut.w.ready)
            a_fire = av and ctx.get(dut.act.ready)
            if ctx.get(dut.res.valid) and ready[edge]:
                out.append(ctx.get(dut.res.payload.as_value()))
            await ctx.tick()
            wi += int(w_fire)
            ai += int(a_fire)
            edge += 1
        info["cycles"] = edge
        ctx.set(dut.res.ready, 1)
        for _ in range(geo.latency + 2):
            assert not ctx.get(dut.res.valid), "extra result beat"
            await ctx.tick()
        info["error"] = ctx.get(dut.error)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return out, info["cycles"], info["error"]


def check(geo: EngineGeometry, prog, words) -> None:
    got, last = EngineLayout(geo).decode_res(words)
    assert got.shape == prog.res.shape
    bad = np.argwhere(got != prog.res)
    assert len(bad) == 0, (
        f"{len(bad)}/{got.size} mismatches, first at row/col {bad[0].tolist()}: "
        f"got {got[tuple(bad[0])]:#010x} want {prog.res[tuple(bad[0])]:#010x}")
    assert (last == prog.res_last).all(), "last flags differ"


def _operands(M, N, K, seed, *, specials=False):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((M, K)).astype(np.float32)
    a[rng.random((M, K)) < 0.05] *= 1e4  # outliers
    a[rng.random((M, K)) < 0.05] = 0
    if specials:
        a.view(np.uint32)[0, 0] = 0x7F800000   # +Inf
        a.view(np.uint32)[-1, -1] = 0x7FC00001  # NaN
        a[1 % M] = random_f32(rng, (K,)).view(np.float32)  # wide exponent range
    w = rng.standard_normal((K, N)).astype(np.float32)
    return a, w


CASES = [
    # geometry, (M, N, K)
    (dict(rows=4, cols=4, mant_bits=7, acc_width=29, tile=4), (9, 6, 10)),
    (dict(rows=2, cols=3, mant_bits=5, acc_width=25, tile=8), (5, 3, 7)),
    (dict(rows=4, cols=2, mant_bits=5, acc_width=25, tile=3, sparsity=(2, 4)), (7, 3, 17)),
    (dict(rows=4, cols=4, mant_bits=3, acc_width=20, tile=1), (3, 4, 8)),
    (dict(rows=4, cols=2, mant_bits=7, acc_width=29, tile=5, normalize_latency=3,
          convert_latency=2), (6, 3, 9)),
    # the FP32 baseline array in the same engine shell
    (dict(rows=4, cols=3, mant_bits=23, acc_width=32, tile=4, arith="fp32",
          convert_latency=0), (9, 5, 10)),
    (dict(rows=2, cols=2, mant_bits=23, acc_width=32, tile=1, arith="fp32",
          convert_latency=0), (3, 3, 5)),
    # the INT8 baseline array (per-tensor activation scale, per-column weight scales)
    (dict(rows=4, cols=3, mant_bits=7, acc_width=32, tile=4, arith="int8"), (9, 5, 10)),
    (dict(rows=2, cols=2, mant_bits=7, acc_width=32, tile=1, arith="int8",
          convert_latency=1, normalize_latency=2), (3, 3, 5)),
]


@pytest.mark.parametrize("g,shape", CASES, ids=[f"c{i}" for i in range(len(CASES))])
def test_engine_exact_and_cycles(g, shape):
    geo = EngineGeometry(**g)
    a, w = _operands(*shape[:1], shape[1], shape[2], seed=sum(shape), specials=True)
    prog = engine_program(a, w, geo)
    words, cycles, err = run_engine(geo, prog)
    check(geo, prog, words)
    assert cycles == prog.cycles
    assert not err


@pytest.mark.parametrize("stall_p,gap_p", [(0.3, 0.0), (0.0, 0.3), (0.5, 0.4)])
def test_engine_stalls_and_idle_gaps(stall_p, gap_p):
    geo = EngineGeometry(rows=4, cols=3, mant_bits=5, acc_width=25, tile=3)
    a, w = _operands(7, 5, 11, seed=9)
    prog = engine_program(a, w, geo)
    words, cycles, _ = run_engine(geo, prog, stall_p=stall_p, gap_p=gap_p, seed=3)
    check(geo, prog, words)
    assert cycles >= prog.cycles  # never faster than the model (load-bound folds absorb stalls)


def test_engine_narrow_mode_switches_per_beat():
    geo = EngineGeometry(rows=4, cols=2, mant_bits=5, acc_width=25, tile=4, narrow_mant_bits=3)
    a, w = _operands(6, 3, 12, seed=11)
    beats = 2 * 3 * 6  # n-folds x k-folds x rows
    modes = np.random.default_rng(2).random(beats) < 0.5
    prog = engine_program(a, w, geo, narrow=modes)
    words, cycles, _ = run_engine(geo, prog)
    check(geo, prog, words)
    assert cycles == prog.cycles


def test_engine_stochastic_rounding():
    geo = EngineGeometry(rows=4, cols=2, mant_bits=3, acc_width=20, tile=4, stochastic=True,
                         seed=0x1234)
    a, w = _operands(5, 2, 8, seed=12)
    prog = engine_program(a, w, geo)
    words, _, _ = run_engine(geo, prog)
    check(geo, prog, words)


def test_engine_flags_rows_beyond_the_tile():
    geo = EngineGeometry(rows=2, cols=2, mant_bits=5, acc_width=25, tile=4)
    big = EngineGeometry(rows=2, cols=2, mant_bits=5, acc_width=25, tile=6)
    a, w = _operands(6, 2, 2, seed=13)
    prog = engine_program(a, w, big)  # folds of 6 rows into a 4-row buffer
    _, _, err = run_engine(geo, prog)
    assert err


@pytest.mark.parametrize("mb,nb", [(7, 3), (5, 3), (7, 5)])
@pytest.mark.parametrize("stochastic", [False, True])
def test_converter_narrow_mode_is_a_narrow_converter(mb, nb, stochastic):
    k, n = 5, 40
    rng = np.random.default_rng(mb * 10 + nb)
    lanes = random_f32(rng, (n, k), lo=100, hi=150)
    lanes[::7, 0] = 0
    modes = rng.random(n) < 0.5
    dut = FP32ToHBFP(block_size=k, mant_bits=mb, narrow_mant_bits=nb, stochastic=stochastic,
                     pipeline=2)
    offs = lfsr_offsets(n, k, 8, 0x5EED) if stochastic else None
    want_e = np.empty(n, np.int64)
    want_q = np.empty((n, k), np.int64)
    for flag, width in ((False, mb), (True, nb)):
        e, q, _ = convert_blocks(lanes[modes == flag], width, stochastic=stochastic,
                                 offsets=None if offs is None else offs[modes == flag])
        want_e[modes == flag], want_q[modes == flag] = e, q
    got: list[tuple[int, list[int]]] = []

    async def tb(ctx):
        for i in range(n + dut.latency):
            if i < n:
                ctx.set(dut.i.valid, 1)
                ctx.set(dut.i.payload.x.as_value(),
                        sum(int(v) << (32 * j) for j, v in enumerate(lanes[i])))
                ctx.set(dut.i.payload.mode, int(modes[i]))
            else:
                ctx.set(dut.i.valid, 0)
            await ctx.tick()
            if ctx.get(dut.o.valid):
                blk = dut.o.payload.block
                got.append((ctx.get(blk.exp), [ctx.get(blk.mant[j]) for j in range(k)]))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert [g[0] for g in got] == want_e.tolist()
    assert [g[1] for g in got] == want_q.tolist()


@pytest.mark.parametrize("bad,field", [
    (dict(tile=0), "tile"), (dict(tile=1 << 17), "tile"), (dict(convert_pipeline=4), "pipeline"),
    (dict(narrow_mant_bits=7), "narrow_mant_bits")])
def test_engine_bad_parameters(bad, field):
    g = dict(rows=4, cols=4, mant_bits=7, acc_width=29, tile=4) | bad
    with pytest.raises(ParamError) as e:
        Engine(**g)
    assert getattr(e.value, "field", None) in (field, None)


def test_int8_engine_stalls_gaps_and_saturation():
    """INT8 engine under stalls and gaps, with a small activation scale: most lanes saturate
    at +-127, INT32 sums and the per-column FP32 scales still exact."""
    geo = EngineGeometry(rows=4, cols=3, mant_bits=7, acc_width=32, tile=3, arith="int8")
    a, w = _operands(7, 5, 11, seed=19)
    prog = engine_program(a, w, geo, act_scale=np.float32(1e-3))
    words, cycles, _ = run_engine(geo, prog, stall_p=0.4, gap_p=0.3, seed=5)
    check(geo, prog, words)
    assert cycles >= prog.cycles
