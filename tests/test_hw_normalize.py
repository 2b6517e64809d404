# amaranth: UnusedElaboratable=no
"""Fast Amaranth-simulator tests of the HBFP -> FP32 normalizer and its golden twin.

The golden twin (``golden.arith_fp.normalize``, vectorized NumPy) is checked against an
independent arbitrary-precision reference written here; the RTL is checked against the twin.
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from gen.config import ConfigError
from golden.arith_fp import normalize
from golden.stimulus import normalize_directed, normalize_random
from hw.normalize import HBFPToFP32


def ref_normalize(acc: int, exp: int, fb: int) -> int:
    """Python-int reference: RNE to 24 bits, then Inf / flush-to-signed-zero / +0 rules."""
    if acc == 0:
        return 0
    s, mag = int(acc < 0), abs(acc)
    p = mag.bit_length() - 1
    if p > 23:
        sh = p - 23
        q, rem, half = mag >> sh, mag & ((1 << sh) - 1), 1 << (sh - 1)
        q += rem > half or (rem == half and q & 1)
    else:
        q = mag << (23 - p)
    if q == 1 << 24:
        q, p = q >> 1, p + 1
    b = p + exp - fb + 127
    if b >= 255:
        return (s << 31) | 0x7F800000
    if b <= 0:
        return s << 31
    return (s << 31) | (b << 23) | (q & 0x7FFFFF)


@pytest.mark.parametrize("aw,fb,ew", [(2, 0, 2), (18, 4, 10), (30, 14, 10), (53, 20, 12),
                                      (64, 30, 16)])
def test_golden_normalize_matches_reference(aw, fb, ew):
    rng = np.random.default_rng(aw)
    da, de = normalize_directed(aw, fb, ew)
    ra, re_ = normalize_random(aw, fb, ew, 3000, rng)
    acc, exp = np.concatenate([da, ra]), np.concatenate([de, re_])
    got = normalize(acc, exp, fb)
    want = [ref_normalize(int(a), int(e), fb) for a, e in zip(acc, exp, strict=True)]
    bad = np.nonzero(got != np.array(want, dtype=np.uint32))[0]
    assert len(bad) == 0, f"{len(bad)}/{len(acc)} mismatches, first {acc[bad[:3]]} {exp[bad[:3]]}"


def test_golden_normalize_agrees_with_numpy_float_where_normal():
    """Where the result is a normal FP32 number, it is the IEEE RNE conversion of the value."""
    rng = np.random.default_rng(5)
    acc = rng.integers(-(1 << 52), 1 << 52, 20000)
    exp = rng.integers(-60, 60, 20000)
    v = acc.astype(np.float64) * np.exp2(exp - 20.0)  # exact in float64
    ieee = v.astype(np.float32)
    normal = np.abs(ieee) >= np.float32(2.0**-126)
    got = normalize(acc, exp, 20).view(np.float32)
    assert np.array_equal(got[normal], ieee[normal])


def run_pysim(dut, acc, exp):
    got = []

    async def tb(ctx):
        for t in range(len(acc) + dut.latency + 1):
            v = t < len(acc)
            ctx.set(dut.i.valid, int(v))
            if v:
                ctx.set(dut.i.payload.acc, int(acc[t]))
                ctx.set(dut.i.payload.exp, int(exp[t]))
            await ctx.tick()
            if ctx.get(dut.o.valid):
                got.append(ctx.get(dut.o.payload.f32))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return np.array(got, dtype=np.uint32)


@pytest.mark.parametrize("aw,fb,ew,pipe", [(2, 0, 2, 1), (22, 10, 10, 2), (64, 30, 12, 3),
                                           (25, 6, 9, 1)])
def test_normalize_pysim_matches_golden(aw, fb, ew, pipe):
    rng = np.random.default_rng(aw * 7 + pipe)
    da, de = normalize_directed(aw, fb, ew)
    ra, re_ = normalize_random(aw, fb, ew, 300, rng)
    acc, exp = np.concatenate([da, ra]), np.concatenate([de, re_])
    dut = HBFPToFP32(acc_width=aw, frac_bits=fb, exp_width=ew, pipeline=pipe)
    got = run_pysim(dut, acc, exp)
    want = normalize(acc, exp, fb)
    assert len(got) == len(want)
    bad = np.nonzero(got != want)[0]
    assert len(bad) == 0, (
        f"{len(bad)}/{len(acc)} mismatches: acc={acc[bad[:3]]} exp={exp[bad[:3]]} "
        f"got={[hex(x) for x in got[bad[:3]]]} want={[hex(x) for x in want[bad[:3]]]}"
    )


@pytest.mark.parametrize(
    "kw,msg",
    [
        ({"acc_width": 1, "frac_bits": 0}, "accumulator width"),
        ({"acc_width": 65, "frac_bits": 0}, "accumulator width"),
        ({"acc_width": 20, "frac_bits": -1}, "frac_bits"),
        ({"acc_width": 20, "frac_bits": 4, "exp_width": 1}, "exponent width"),
        ({"acc_width": 20, "frac_bits": 4, "pipeline": 0}, "pipeline"),
    ],
)
def test_normalize_refuses_bad_parameters(kw, msg):
    with pytest.raises(ConfigError, match=msg):
        HBFPToFP32(**kw)


def test_normalize_properties():
    dut = HBFPToFP32(acc_width=30, frac_bits=14, pipeline=2)
    assert (dut.acc_width, dut.frac_bits, dut.exp_width, dut.latency) == (30, 14, 10, 2)
