# amaranth: UnusedElaboratable=no
"""Fast tests of the HBFP dot-product unit: parameters, golden semantics, Amaranth simulation."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import wiring
from amaranth.sim import Simulator
from hypothesis import given, settings
from hypothesis import strategies as st

from gen.config import ConfigError, min_acc_width
from golden.arith_dot import RESET_EXP, block_sums, dot_blocks, dot_value
from golden.facts import EXP_WIDTH, PROD_EXP_WIDTH
from golden.stimulus import DotStim, dot_stim
from hw.dot import HBFPDot, register_cuts, tree_levels
from hw.normalize import HBFPToFP32
from hw.signatures import DotOperands, DotResult

# ---- parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw,msg",
    [
        ({"mant_bits": 1}, "mantissa width must be 2..15"),
        ({"mant_bits": 16}, "mantissa width must be 2..15"),
        ({"lanes": 0}, "lanes"),
        ({"acc_width": 15}, "accumulator width 15 is too narrow"),
        ({"pipeline": 0}, "pipeline depth"),
        ({"narrow_mant_bits": 5}, "narrow mantissa width must be 2..4"),
        ({"narrow_mant_bits": 1}, "narrow mantissa width must be 2..4"),
        ({"mant_bits": True}, "must be an integer"),
        ({"lanes": 2.5}, "must be an integer"),
    ],
)
def test_bad_parameters_refused(kw, msg):
    args = {"lanes": 16, "mant_bits": 5, "acc_width": 16, **kw}
    with pytest.raises(ConfigError, match=msg) as ei:
        HBFPDot(**args)
    assert "\n" not in str(ei.value)


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_min_acc_width_is_accepted_and_ports_match_interface():
    for lanes, mb in [(1, 2), (12, 2), (16, 5), (5, 15), (64, 7)]:
        aw = min_acc_width(mb, lanes)
        dut = HBFPDot(lanes=lanes, mant_bits=mb, acc_width=aw, pipeline=3)
        assert (dut.lanes, dut.mant_bits, dut.acc_width, dut.latency) == (lanes, mb, aw, 3)
        ops, res = dut.i.payload, dut.o.payload
        assert dut.narrow_mant_bits is None and "mode" not in ops.shape().members
        assert ops.shape() == DotOperands(lanes, mb) and res.shape() == DotResult(aw)
        assert len(ops.a.mant) == lanes and ops.a.mant[0].shape() == signed(mb + 1)
        assert ops.b.mant[lanes - 1].shape() == signed(mb + 1)
        assert ops.a.exp.shape() == signed(EXP_WIDTH) == ops.b.exp.shape()
        assert res.exp.shape() == signed(PROD_EXP_WIDTH) and res.acc.shape() == signed(aw)
        assert dut.signature.members["i"].signature.always_ready
        assert dut.signature.members["o"].signature.always_ready
    dut = HBFPDot(lanes=4, mant_bits=7, acc_width=20, narrow_mant_bits=3)
    assert dut.narrow_mant_bits == 3 and dut.i.payload.mode.shape() == unsigned(1)


def test_dot_output_connects_to_the_normalizer():
    """The dot's result layout is the normalizer's input: ``wiring.connect`` joins them."""
    dot = HBFPDot(lanes=4, mant_bits=5, acc_width=20, pipeline=2)
    norm = HBFPToFP32(acc_width=20, frac_bits=10)
    m = Module()
    m.submodules.dot, m.submodules.norm = dot, norm
    wiring.connect(m, dot.o, norm.i)


def test_register_cuts():
    assert register_cuts(1, 16) == []
    assert register_cuts(2, 16) == [4]
    assert register_cuts(3, 16) == [0, 4]
    assert register_cuts(4, 16) == [0, 2, 4]
    assert register_cuts(5, 12) == [0, 1, 3, 4]
    assert register_cuts(4, 1) == [0, 0, 0]
    assert [tree_levels(k) for k in (1, 2, 3, 4, 5, 12, 16, 17)] == [0, 1, 2, 2, 3, 4, 4, 5]


# ---- golden model --------------------------------------------------------------------------


def _fraction_reference(ea, a, eb, b, first, mode, mb, aw, n):
    """Independent phrasing with exact rationals: each step floors both values to the grid
    2^(max exponent - 2m) and saturates; returns (acc, exponent in wide units) per block."""
    v, x = Fraction(0), RESET_EXP
    hi, lo = 2 ** (aw - 1) - 1, -(2 ** (aw - 1))
    out = []
    for i in range(len(ea)):
        w = n if mode[i] else mb

        def narrow(q, md=bool(mode[i])):
            q = int(q)
            return ((q + 2**n) % 2 ** (n + 1)) - 2**n if md else q

        prods = sum(Fraction(narrow(p) * narrow(q)) for p, q in zip(a[i], b[i], strict=True))
        vb = prods * Fraction(2) ** (int(ea[i]) + int(eb[i]) - 2 * w)
        p = int(ea[i]) + int(eb[i])
        if first[i]:
            v, x = Fraction(0), p
            grid = Fraction(2) ** (p - 2 * mb)
            acc = vb / grid
            assert acc.denominator == 1
        else:
            x = max(x, p)
            grid = Fraction(2) ** (x - 2 * mb)
            acc = (v / grid).__floor__() + (vb / grid).__floor__()
            acc = min(max(acc, lo), hi)
        v = acc * grid
        out.append((int(acc), x))
    return out


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    lanes=st.integers(1, 9),
    mb=st.integers(2, 15),
    extra=st.integers(0, 6),
    use_narrow=st.booleans(),
)
def test_golden_matches_fraction_reference(seed, lanes, mb, extra, use_narrow):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, mb)) if use_narrow and mb > 2 else None
    aw = min_acc_width(mb, lanes) + extra
    nb = 40
    top = 2**mb
    a = rng.integers(-top, top, (nb, lanes))
    b = rng.integers(-top, top, (nb, lanes))
    ea = rng.integers(-125, 129, nb) // rng.choice([1, 20], nb)
    eb = rng.integers(-125, 129, nb) // rng.choice([1, 20], nb)
    first = rng.random(nb) < 0.2
    mode = (rng.random(nb) < 0.5) if n else np.zeros(nb, dtype=bool)
    acc, ex = dot_blocks(ea, a, eb, b, first, mode if n else None, mant_bits=mb, acc_width=aw,
                         narrow_mant_bits=n)
    ref = _fraction_reference(ea, a, eb, b, first, mode, mb, aw, n)
    assert acc.tolist() == [r[0] for r in ref]
    offs = np.where(mode, 2 * (mb - n) if n else 0, 0)
    assert ex.tolist() == [r[1] - o for r, o in zip(ref, offs, strict=True)]


def test_golden_value_semantics_single_block_narrow_and_wide():
    rng = np.random.default_rng(7)
    mb, n, lanes = 7, 3, 12
    a = rng.integers(-8, 8, (2, lanes))
    b = rng.integers(-8, 8, (2, lanes))
    ea, eb = np.array([5, -100]), np.array([-3, 128])
    mode = np.array([1, 0])
    acc, ex = dot_blocks(ea, a, eb, b, [1, 1], mode, mant_bits=mb, acc_width=24,
                         narrow_mant_bits=n)
    val = dot_value(acc, ex, mode, mant_bits=mb, narrow_mant_bits=n)
    exact = [(a[i] * b[i]).sum() * 2.0 ** (ea[i] + eb[i] - 2 * (n if mode[i] else mb))
             for i in range(2)]
    assert val.tolist() == exact
    # Narrow results sit MSB-aligned in wide units: low 2(m-n) bits zero, exponent lowered.
    assert acc[0] % 2 ** (2 * (mb - n)) == 0 and ex[0] == 2 - 2 * (mb - n)


def test_golden_saturation_and_chunking():
    lanes, mb = 4, 3
    aw = min_acc_width(mb, lanes)  # 10: +-511
    a = np.full((6, lanes), 7)
    acc, _ = dot_blocks(np.zeros(6), a, np.zeros(6), a, [1, 0, 0, 0, 0, 0], mant_bits=mb,
                        acc_width=aw)
    assert acc.tolist() == [196, 392, 511, 511, 511, 511]
    acc, _ = dot_blocks(np.zeros(3), a[:3], np.zeros(3), -a[:3], [1, 0, 0], mant_bits=mb,
                        acc_width=aw)
    assert acc.tolist() == [-196, -392, -512]
    # Chunked evaluation with carried state equals one pass.
    rng = np.random.default_rng(3)
    a, b = rng.integers(-8, 8, (50, 5)), rng.integers(-8, 8, (50, 5))
    ea, eb = rng.integers(-10, 10, 50), rng.integers(-10, 10, 50)
    first = rng.random(50) < 0.1
    full = dot_blocks(ea, a, eb, b, first, mant_bits=3, acc_width=14)
    p1 = dot_blocks(ea[:20], a[:20], eb[:20], b[:20], first[:20], mant_bits=3, acc_width=14,
                    return_state=True)
    p2 = dot_blocks(ea[20:], a[20:], eb[20:], b[20:], first[20:], mant_bits=3, acc_width=14,
                    state=p1[2])
    assert np.concatenate([p1[0], p2[0]]).tolist() == full[0].tolist()
    assert np.concatenate([p1[1], p2[1]]).tolist() == full[1].tolist()


def test_block_sums_narrow_ignores_upper_bits():
    a = np.array([[0b101011, -3]])  # low 4 bits 0b1011 = -5 as a 4-bit narrow value
    b = np.array([[1, 2]])
    s = block_sums(a, b, [1], mant_bits=5, narrow_mant_bits=3)
    assert s.tolist() == [(-5 * 1 + -3 * 2) * 16]
    with pytest.raises(ValueError):
        block_sums(a, b, [1], mant_bits=5)


# ---- Amaranth simulation -------------------------------------------------------------------


def simulate(dut: HBFPDot, stim) -> tuple[list, list, list]:
    """Drive ``stim`` cycle by cycle; return per-cycle (o.valid, o.payload.acc, .exp)."""
    lanes, narrow = dut.lanes, dut.narrow_mant_bits is not None
    cols = (stim.valid, stim.first, stim.mode, stim.a_exp, stim.b_exp, stim.a, stim.b)
    rows = list(zip(*(c.tolist() for c in cols), strict=True))
    drain = dut.latency + 2
    ops = dut.i.payload
    gv, ga, ge = [], [], []

    async def tb(ctx):
        for i in range(len(rows) + drain):
            gv.append(ctx.get(dut.o.valid))
            ga.append(ctx.get(dut.o.payload.acc))
            ge.append(ctx.get(dut.o.payload.exp))
            if i < len(rows):
                v, f, md, ea, eb, a, b = rows[i]
                ctx.set(dut.i.valid, v)
                ctx.set(ops.first, f)
                if narrow:
                    ctx.set(ops.mode, md)
                ctx.set(ops.a.exp, ea)
                ctx.set(ops.b.exp, eb)
                for j in range(lanes):
                    ctx.set(ops.a.mant[j], a[j])
                    ctx.set(ops.b.mant[j], b[j])
            else:
                ctx.set(dut.i.valid, 0)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return gv, ga, ge


@pytest.mark.parametrize(
    "lanes,mb,n,extra,pipe",
    [
        (16, 5, 3, 4, 1),
        (12, 2, None, 0, 2),
        (5, 15, 7, 0, 3),
        (1, 7, 3, 2, 5),
        (3, 4, 2, 0, 4),
    ],
)
def test_amaranth_stream_matches_golden(lanes, mb, n, extra, pipe):
    aw = min_acc_width(mb, lanes) + extra
    dut = HBFPDot(lanes=lanes, mant_bits=mb, acc_width=aw, pipeline=pipe, narrow_mant_bits=n)
    seed = 1000 + lanes * 31 + mb * 7 + pipe
    stim = dot_stim(lanes, mb, n, aw, 250, seed, valid_rate=0.7)
    gv, ga, ge = simulate(dut, stim)
    exp_acc, exp_exp = stim.expected(mant_bits=mb, acc_width=aw, narrow_mant_bits=n)
    want_v = np.zeros(len(gv), dtype=bool)
    want_v[pipe:pipe + stim.valid.size] = stim.valid
    assert np.array_equal(np.array(gv, dtype=bool), want_v), f"seed {seed}: o.valid timing"
    sel = np.array(gv, dtype=bool)
    got_acc, got_exp = np.array(ga)[sel], np.array(ge)[sel]
    bad = np.nonzero((got_acc != exp_acc) | (got_exp != exp_exp))[0]
    assert bad.size == 0, (
        f"seed {seed}: {bad.size}/{exp_acc.size} mismatches, first block {bad[0]}: "
        f"got ({got_acc[bad[0]]}, {got_exp[bad[0]]}) expected ({exp_acc[bad[0]]}, "
        f"{exp_exp[bad[0]]})"
    )
    # Outputs hold their value between pulses.
    ga_a, ge_a = np.array(ga), np.array(ge)
    for t in np.nonzero(~sel)[0]:
        if t > 0:
            assert ga_a[t] == ga_a[t - 1] and ge_a[t] == ge_a[t - 1], f"cycle {t} changed"


def test_amaranth_full_exponent_port_range():
    """Exponents beyond HBFP's [-125, 128] (any 9-bit value) agree with golden, wrap included."""
    lanes, mb, n, aw = 3, 6, 2, min_acc_width(6, 3) + 2
    rng = np.random.default_rng(11)
    t = 120
    ea = rng.choice([-256, -255, -200, 0, 200, 254, 255], t)
    eb = rng.choice([-256, -255, -130, 0, 130, 254, 255], t)
    stim = DotStim(valid=rng.random(t) < 0.9, first=rng.random(t) < 0.2,
                   mode=rng.random(t) < 0.5, a_exp=ea, b_exp=eb,
                   a=rng.integers(-64, 64, (t, lanes)), b=rng.integers(-64, 64, (t, lanes)),
                   n_directed=0)
    dut = HBFPDot(lanes=lanes, mant_bits=mb, acc_width=aw, pipeline=2, narrow_mant_bits=n)
    gv, ga, ge = simulate(dut, stim)
    sel = np.array(gv, dtype=bool)
    exp_acc, exp_exp = stim.expected(mant_bits=mb, acc_width=aw, narrow_mant_bits=n)
    assert np.array(ga)[sel].tolist() == exp_acc.tolist()
    assert np.array(ge)[sel].tolist() == exp_exp.tolist()
    assert (np.abs(exp_exp) > 300).any(), "extreme result exponents were exercised"
