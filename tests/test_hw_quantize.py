# amaranth: UnusedElaboratable=no
"""The INT8 engine's FP32 stages: the FP32 -> INT8 quantizer (RTL and golden) and the
dequantizer's golden twin, each against an exact-rational reference written here."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden import arith_fp as G
from hw.quantize import INT8_QMAX, FP32ToINT8


def f2q(b: int) -> Fraction | None:
    """Exact value of an FP32 pattern (None for NaN/Inf); subnormals flushed to 0."""
    e, fr = (b >> 23) & 0xFF, b & 0x7FFFFF
    if e == 0xFF:
        return None
    v = Fraction(0) if e == 0 else Fraction(fr | 1 << 23) * Fraction(2) ** (e - 150)
    return -v if b >> 31 else v


def ref_quant(x: int, inv: int) -> int:
    """The quantizer's definition: fp32_mul (checked elsewhere), then sat(rne(.))."""
    if f2q(x) is None:
        return 0
    p = int(G.fp32_mul_ftz(np.uint32(x), np.uint32(inv)))
    v = f2q(p)
    if v is None:  # Inf or NaN product: saturate by the sign bit
        return -INT8_QMAX if p >> 31 else INT8_QMAX
    return max(-INT8_QMAX, min(INT8_QMAX, round(v)))  # Fraction rounds half to even


def corners() -> tuple[np.ndarray, np.ndarray]:
    """Lanes around every rounding and saturation boundary, NaN/Inf, zeros, subnormals."""
    vals = [0.0, -0.0, 0.5, 1.5, 2.5, -0.5, -1.5, 0.49999997, 0.50000006, 126.5, 127.49998,
            127.5, -127.5, 128.0, 1e30, -1e30, 3.0e-39, 1.0e-45, 63.5, 64.5, 0.25, 0.75, 1.0]
    x = np.array(vals, np.float32).view(np.uint32).tolist()
    x += [0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001]
    inv = [np.float32(1).view(np.uint32)] * len(x)
    return np.array(x, np.uint32), np.array(inv, np.uint32)


def random_lanes(rng, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = (rng.standard_normal(n) * np.exp2(rng.integers(-8, 8, n))).astype(np.float32)
    inv = np.exp2(rng.uniform(-3, 6, n)).astype(np.float32)
    bits = x.view(np.uint32).copy()
    raw = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    pick = rng.random(n) < 0.15  # raw patterns: any exponent, NaN/Inf included
    bits[pick] = raw[pick]
    return bits, inv.view(np.uint32)


def test_golden_quantize_matches_reference():
    rng = np.random.default_rng(11)
    x, inv = corners()
    rx, rinv = random_lanes(rng, 4000)
    x, inv = np.concatenate([x, rx]), np.concatenate([inv, rinv])
    q, bad = G.quantize_int8(x[:, None], inv[:, None])
    ref = [ref_quant(int(a), int(b)) for a, b in zip(x, inv, strict=True)]
    mism = [(hex(int(a)), int(g), r) for a, g, r in zip(x, q[:, 0], ref, strict=True) if g != r]
    assert not mism, f"{len(mism)}/{len(x)} mismatches, e.g. {mism[:5]}"
    assert bad.tolist() == [((int(a) >> 23) & 0xFF) == 0xFF for a in x]


def test_golden_dequantize_matches_reference():
    rng = np.random.default_rng(12)
    acc = np.concatenate([rng.integers(-2**31, 2**31, 3000), [0, 1, -1, 2**31 - 1, -2**31]])
    sc = np.exp2(rng.uniform(-140, 100, acc.size)).astype(np.float32).view(np.uint32)
    sc[:5] = np.float32(0.37).view(np.uint32)
    got = G.dequantize_int8(acc, sc)
    for a, s, g in zip(acc.tolist(), sc.tolist(), got.tolist(), strict=True):
        v = a * f2q(s)
        want = G.normalize(np.array([a * ((s & 0x7FFFFF) | 1 << 23 if s >> 23 & 0xFF else 0)]),
                           np.array([(s >> 23) & 0xFF]), G.INT8_SCALE_FRAC)[0]
        assert g == want
        if v != 0 and 2.0**-126 <= abs(v) < 2.0**127:  # normal range: the correctly rounded value
            assert np.float32(float(v)).view(np.uint32) == np.uint32(g), (a, hex(s))
    assert G.dequantize_int8(np.array([2**32 + 5]), np.float32(1).view(np.uint32))[0] == \
        np.float32(5).view(np.uint32)  # INT32 wrap


def run_pysim(dut: FP32ToINT8, x: np.ndarray, inv: np.ndarray, valid: np.ndarray):
    k = dut.lanes
    got, rows = [], iter(range(x.shape[0]))

    async def tb(ctx):
        for t in range(len(valid) + dut.latency + 1):
            v = t < len(valid) and bool(valid[t])
            ctx.set(dut.i.valid, int(v))
            if v:
                r = next(rows)
                ctx.set(dut.i.payload.scale, int(inv[r]))
                for i in range(k):
                    ctx.set(dut.i.payload.x[i], int(x[r, i]))
            else:
                ctx.set(dut.i.payload.scale, 0x7F800000)  # junk under i.valid = 0
            await ctx.tick()
            if ctx.get(dut.o.valid):
                got.append(([ctx.get(dut.o.payload.q[i]) for i in range(k)],
                            ctx.get(dut.o.payload.invalid)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return got


@pytest.mark.parametrize("lanes,pipe", [(1, 1), (4, 1), (3, 2), (5, 3)])
def test_quantizer_pysim_matches_golden(lanes, pipe):
    rng = np.random.default_rng(100 + lanes * 10 + pipe)
    cx, cinv = corners()
    n = 60
    rx, rinv = random_lanes(rng, n * lanes)
    xs = np.concatenate([np.resize(cx, (len(cx) // lanes + 1) * lanes), rx]).reshape(-1, lanes)
    inv = np.concatenate([np.resize(cinv, (len(cx) // lanes + 1)), rinv[:n]])[: xs.shape[0]]
    valid = rng.random(xs.shape[0] * 2) < 0.6
    valid[-1] = True
    beats = int(valid.sum())
    xs, inv = np.resize(xs, (beats, lanes)), np.resize(inv, beats)
    got = run_pysim(FP32ToINT8(lanes=lanes, pipeline=pipe), xs, inv, valid)
    q, bad = G.quantize_int8(xs, inv[:, None])
    assert len(got) == beats
    mism = [(r, g, q[r].tolist()) for r, (g, b) in enumerate(got)
            if g != q[r].tolist() or b != bad[r]]
    assert not mism, f"{len(mism)}/{beats} mismatches, e.g. {mism[:3]}"


def test_quantizer_constants_agree_and_refuses():
    assert INT8_QMAX == G.INT8_QMAX
    from golden.facts import ParamError
    with pytest.raises(ParamError, match="pipeline"):
        FP32ToINT8.check(lanes=4, pipeline=0)
    with pytest.raises(ParamError, match="lanes"):
        FP32ToINT8.check(lanes=0)
