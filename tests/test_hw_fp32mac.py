# amaranth: UnusedElaboratable=no
"""Fast tests of the FP32 MAC baseline: golden twin vs an exact-rational reference, RTL vs twin."""

from __future__ import annotations

import math
import struct
from fractions import Fraction

import numpy as np
import pytest
from amaranth.sim import Simulator

from gen.config import ConfigError
from golden.arith_fp import CANONICAL_NAN, fp32_add_ftz, fp32_mac_sequence, fp32_mul_ftz
from golden.stimulus import mac_directed, mac_random, random_f32
from hw.fp32mac import FP32MAC


def _val(b: int) -> float:
    """FP32 pattern -> Python float with denormals flushed to a signed zero."""
    if (b >> 23) & 0xFF == 0:
        b &= 0x80000000
    return struct.unpack("<f", struct.pack("<I", b))[0]


def _round(x: Fraction, zero_sign: int) -> int:
    """Exact value -> FP32 pattern: RNE at 24 bits (unbounded exponent), Inf / flush rules."""
    if x == 0:
        return zero_sign << 31
    s, x = int(x < 0), abs(x)
    p = x.numerator.bit_length() - x.denominator.bit_length()
    if x < Fraction(2) ** p:
        p -= 1
    q = round(x / Fraction(2) ** (p - 23))  # in [2^23, 2^24], half to even
    if q == 1 << 24:
        q, p = q >> 1, p + 1
    b = p + 127
    if b >= 255:
        return (s << 31) | 0x7F800000
    if b <= 0:
        return s << 31
    return (s << 31) | (b << 23) | (q & 0x7FFFFF)


def ref_mul(a: int, b: int) -> int:
    x, y = _val(a), _val(b)
    s = (a ^ b) >> 31
    if math.isnan(x) or math.isnan(y) or (math.isinf(x) and y == 0) or (math.isinf(y) and x == 0):
        return CANONICAL_NAN
    if math.isinf(x) or math.isinf(y):
        return (s << 31) | 0x7F800000
    return _round(Fraction(x) * Fraction(y), s)


def ref_add(a: int, b: int) -> int:
    x, y = _val(a), _val(b)
    if math.isnan(x) or math.isnan(y) or (math.isinf(x) and math.isinf(y) and x != y):
        return CANONICAL_NAN
    if math.isinf(x) or math.isinf(y):
        return (int((x if math.isinf(x) else y) < 0) << 31) | 0x7F800000
    zs = int(x == 0 and y == 0 and math.copysign(1, x) < 0 and math.copysign(1, y) < 0)
    return _round(Fraction(x) + Fraction(y), zs)


def _operands(n: int, seed: int):
    rng = np.random.default_rng(seed)
    a1, b1, _ = mac_random(n, rng, "edges")
    a2 = random_f32(rng, n, lo=0, hi=255)
    b2 = random_f32(rng, n, lo=0, hi=255)
    da, db, _ = mac_directed()
    return np.concatenate([a1, a2, da]), np.concatenate([b1, b2, db])


def test_golden_mul_matches_reference():
    a, b = _operands(1500, 1)
    got = fp32_mul_ftz(a, b).tolist()
    want = [ref_mul(int(x), int(y)) for x, y in zip(a, b, strict=True)]
    bad = [(hex(x), hex(y), hex(g), hex(w))
           for x, y, g, w in zip(a, b, got, want, strict=True) if g != w]
    assert not bad, f"{len(bad)}/{len(a)} mismatches: {bad[:3]}"


def test_golden_add_matches_reference():
    a, b = _operands(1500, 2)
    # many near-cancellations: b = -a with a few ulps of difference and exponent offsets
    rng = np.random.default_rng(3)
    c = (a ^ np.uint32(0x80000000)) + rng.integers(-3, 4, len(a)).astype(np.uint32)
    a = np.concatenate([a, a, a])
    b = np.concatenate([b, c, c + (rng.integers(-2, 3, len(c)).astype(np.uint32) << 23)])
    got = fp32_add_ftz(a, b).tolist()
    want = [ref_add(int(x), int(y)) for x, y in zip(a, b, strict=True)]
    bad = [(hex(x), hex(y), hex(g), hex(w))
           for x, y, g, w in zip(a, b, got, want, strict=True) if g != w]
    assert not bad, f"{len(bad)}/{len(a)} mismatches: {bad[:3]}"


def run_pysim(dut, a, b, first, valid):
    got, cycles = [], []
    rows = iter(zip(a.tolist(), b.tolist(), first.tolist(), strict=True))

    async def tb(ctx):
        for t in range(len(valid) + dut.latency + 1):
            v = t < len(valid) and bool(valid[t])
            ctx.set(dut.i.valid, int(v))
            if v:
                x, y, f = next(rows)
                ctx.set(dut.i.payload.a, x)
                ctx.set(dut.i.payload.b, y)
                ctx.set(dut.i.payload.first, int(f))
            else:  # junk that must not reach the accumulator
                ctx.set(dut.i.payload.a, 0x7FC00000)
                ctx.set(dut.i.payload.b, 0x3F800000)
                ctx.set(dut.i.payload.first, 1)
            await ctx.tick()
            if ctx.get(dut.o.valid):
                got.append(ctx.get(dut.o.payload.acc))
                cycles.append(t)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return np.array(got, dtype=np.uint32), cycles


@pytest.mark.parametrize("pipe,profile", [(1, "mixed"), (2, "edges")])
def test_fp32mac_pysim_matches_golden(pipe, profile):
    rng = np.random.default_rng(pipe)
    da, db, df = mac_directed()
    ra, rb, rf = mac_random(250, rng, profile)
    a, b, f = np.concatenate([da, ra]), np.concatenate([db, rb]), np.concatenate([df, rf])
    valid = np.ones(len(a) + 5, dtype=bool)
    valid[[2, 9, 10, 30, 31]] = False
    dut = FP32MAC(pipeline=pipe)
    got, cycles = run_pysim(dut, a, b, f, valid)
    assert cycles == [t + pipe - 1 for t in np.nonzero(valid)[0]]
    want = fp32_mac_sequence(a, b, f)
    bad = np.nonzero(got != want)[0]
    assert len(bad) == 0, (
        f"{len(bad)}/{len(a)} mismatches: "
        + "; ".join(f"#{i} a={a[i]:#x} b={b[i]:#x} first={f[i]} prev={want[i - 1]:#x} "
                    f"got={got[i]:#x} want={want[i]:#x}" for i in bad[:3])
    )


def test_fp32mac_refuses_bad_pipeline():
    for p in (0, 3):
        with pytest.raises(ConfigError, match="pipeline"):
            FP32MAC(pipeline=p)
    assert FP32MAC(pipeline=2).latency == 2
