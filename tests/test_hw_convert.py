# amaranth: UnusedElaboratable=no
"""Fast Amaranth-simulator tests of the FP32 -> HBFP converter and its golden twin.

Three-way agreement: the RTL (pysim), ``golden.arith_fp.convert_blocks`` (which delegates to
``golden.formats.hbfp_encode``) and an independent exact-rational reference written here.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from amaranth.sim import Simulator

from gen.config import ConfigError
from golden import arith_fp as G
from golden.stimulus import convert_directed, convert_random
from hw import convert as H
from hw.convert import FP32ToHBFP


def ref_block(bits, m: int, offs=None, ob: int = 8):
    """Exact reference for one block of uint32 patterns: (e, q list, invalid)."""
    fields = [(int(b) >> 23) & 0xFF for b in bits]
    if 0xFF in fields:
        return 129, [0] * len(bits), True
    e = max(max(f, 1) for f in fields) - 126
    out = []
    for i, b in enumerate(bits):
        b = int(b)
        f, fr = (b >> 23) & 0xFF, b & 0x7FFFFF
        val = Fraction(fr | ((f != 0) << 23)) * Fraction(2) ** (max(f, 1) - 150)
        v = (-val if b >> 31 else val) / Fraction(2) ** (e - m)
        if offs is None:
            q = round(v)  # Fraction rounds half to even
        else:
            q = math.floor((math.floor(v * 2**ob) + int(offs[i])) / Fraction(2**ob))
        out.append(max(-(2**m - 1), min(2**m - 1, q)))
    return e, out, False


def run_pysim(dut: FP32ToHBFP, blocks: np.ndarray, valid: np.ndarray):
    """Drive ``blocks`` on the valid cycles; return outputs and the cycles they appeared."""
    k = dut.block_size
    got, cycles = [], []
    rows = iter(blocks.tolist())

    async def tb(ctx):
        for t in range(len(valid) + dut.latency + 1):
            v = t < len(valid) and bool(valid[t])
            ctx.set(dut.i.valid, int(v))
            if v:
                for i, x in enumerate(next(rows)):
                    ctx.set(dut.i.payload.x[i], x)
            else:
                for i in range(k):
                    ctx.set(dut.i.payload.x[i], 0x7F800000)  # junk (Inf) under i.valid = 0
            await ctx.tick()
            if ctx.get(dut.o.valid):
                out = dut.o.payload
                got.append((ctx.get(out.block.exp),
                            [ctx.get(out.block.mant[i]) for i in range(k)],
                            ctx.get(out.invalid)))
                cycles.append(t)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return got, cycles


CASES = [
    # k, m, pipeline, stochastic, offset_bits
    (3, 2, 1, False, 8),
    (12, 5, 2, False, 8),
    (5, 15, 1, False, 8),
    (4, 7, 2, True, 8),
    (3, 3, 3, True, 32),
    (2, 15, 1, True, 5),
]


@pytest.mark.parametrize("k,m,pipe,stoch,ob", CASES)
def test_convert_pysim_matches_golden_and_reference(k, m, pipe, stoch, ob):
    rng = np.random.default_rng(100 + k * 31 + m)
    blocks = np.concatenate([convert_directed(k, m), convert_random(k, 60, rng)])
    valid = np.ones(len(blocks) + 6, dtype=bool)
    valid[[3, 7, 8, 20, 40, 41]] = False  # bubbles: the LFSR must not advance on them
    dut = FP32ToHBFP(block_size=k, mant_bits=m, pipeline=pipe, stochastic=stoch, offset_bits=ob)
    got, cycles = run_pysim(dut, blocks, valid)
    assert cycles == [t + pipe - 1 for t in np.nonzero(valid)[0]]  # tick index = t + latency-1
    e, q, inv = G.convert_blocks(blocks, m, stochastic=stoch, offset_bits=ob)
    offs = G.lfsr_offsets(len(blocks), k, ob) if stoch else None
    bad = []
    for t in range(len(blocks)):
        ref = ref_block(blocks[t], m, None if offs is None else offs[t], ob)
        gold = (int(e[t]), q[t].tolist(), bool(inv[t]))
        hw = (got[t][0], got[t][1], bool(got[t][2]))
        if not (ref == gold == hw):
            bad.append((t, [hex(int(x)) for x in blocks[t]], hw, gold, ref))
    assert not bad, f"{len(bad)}/{len(blocks)} mismatches (hw, golden, ref): {bad[:3]}"


def test_lfsr_twin_agrees():
    assert (H.LFSR_WIDTH, H.LFSR_TAPS) == (G.LFSR_WIDTH, G.LFSR_TAPS)
    dut = FP32ToHBFP(block_size=7, mant_bits=4, stochastic=True, seed=1234)
    assert dut.lane_seeds() == G.lfsr_lane_seeds(7, 1234).tolist()
    rng = np.random.default_rng(3)
    states = rng.integers(1, 1 << 32, 50, dtype=np.uint64)
    for steps in (1, 8, 13, 32):
        masks = H.lfsr_jump_masks(steps)
        hw = [sum(((bin(int(s) & mk).count("1") & 1) << j) for j, mk in enumerate(masks))
              for s in states]
        assert hw == G.lfsr_step(states, steps).tolist()


def _polymulmod(a: int, b: int, p: int, deg: int) -> int:
    r = 0
    while b:
        if b & 1:
            r ^= a
        b >>= 1
        a <<= 1
        if (a >> deg) & 1:
            a ^= p
    return r


def test_lfsr_polynomial_is_primitive():
    """x has order 2^32 - 1 modulo the feedback polynomial, so the period is maximal."""
    deg = 32
    p = sum(1 << t for t in G.LFSR_TAPS) | 1
    n = (1 << deg) - 1

    def xpow(e: int) -> int:
        r, a = 1, 2
        while e:
            if e & 1:
                r = _polymulmod(r, a, p, deg)
            a = _polymulmod(a, a, p, deg)
            e >>= 1
        return r

    assert xpow(n) == 1
    for q in (3, 5, 17, 257, 65537):  # the prime factors of 2^32 - 1
        assert xpow(n // q) != 1


def test_lfsr_offsets_are_roughly_uniform():
    offs = G.lfsr_offsets(4000, 4, 8)
    assert offs.min() >= 0 and offs.max() < 256
    hist = np.bincount(offs.ravel() >> 6, minlength=4) / offs.size
    assert np.all(np.abs(hist - 0.25) < 0.03), hist


@pytest.mark.parametrize(
    "kw,msg",
    [
        ({"block_size": 0, "mant_bits": 5}, "block size"),
        ({"block_size": 4, "mant_bits": 1}, "mantissa width"),
        ({"block_size": 4, "mant_bits": 16}, "mantissa width"),
        ({"block_size": 4, "mant_bits": 5, "pipeline": 0}, "pipeline"),
        ({"block_size": 4, "mant_bits": 5, "stochastic": True, "offset_bits": 0}, "offset"),
        ({"block_size": 4, "mant_bits": 5, "stochastic": True, "offset_bits": 33}, "offset"),
    ],
)
def test_convert_refuses_bad_parameters(kw, msg):
    with pytest.raises(ConfigError, match=msg):
        FP32ToHBFP(**kw)


def test_convert_properties():
    dut = FP32ToHBFP(block_size=12, mant_bits=5, pipeline=2)
    assert (dut.block_size, dut.mant_bits, dut.latency, dut.stochastic) == (12, 5, 2, False)
    with pytest.raises(AttributeError):
        dut.latency = 3


def test_convert_block_single_matches_stream():
    rng = np.random.default_rng(9)
    blocks = convert_random(6, 3, rng)
    for stoch in (False, True):
        e, q, inv = G.convert_blocks(blocks, 4, stochastic=stoch, offset_bits=8)
        e0, q0, inv0 = G.convert_block(blocks[0], 4, stochastic=stoch,
                                       lfsr_state=G.lfsr_lane_seeds(6), offset_bits=8)
        assert (e0, q0.tolist(), inv0) == (int(e[0]), q[0].tolist(), bool(inv[0]))
