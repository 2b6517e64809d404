# amaranth: UnusedElaboratable=no
"""Fast tests of the N:M sparse hardware and its golden twin (Amaranth simulator, no cocotb).

The stimulus generators are the cocotb benches' own (``golden.stimulus.decoder_stim``,
``golden.stimulus.sparsedot_stim``), so the fast suite and the co-simulations exercise the same
vectors: really pruned random weights, directed edge/short/all-zero groups, corrupted metadata.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from amaranth.lib import data
from amaranth.sim import Simulator

from gen.config import ConfigError
from golden import nm_hw
from golden.sparsity import nm_compress, nm_decompress, nm_prune
from golden.stimulus import decoder_stim, sparsedot_stim
from hw.decoder import NMDecoder
from hw.signatures import DotOperands, HBFPBlock
from hw.sparsedot import SparseHBFPDot

# ---------------------------------------------------------------------------------------------
# golden twin against straightforward loops


def _loop_select(act, idx, n, m):
    out = np.zeros(idx.shape, dtype=np.int64)
    for t, k in itertools.product(range(idx.shape[0]), range(idx.shape[1])):
        g, j = divmod(k, n)
        i = int(idx[t, k])
        out[t, k] = act[t, g * m + i] if j <= i <= m - n + j else 0
    return out


def _loop_violation(idx, n, m):
    bad = np.zeros(idx.shape[0], dtype=bool)
    for t in range(idx.shape[0]):
        for g in range(idx.shape[1] // n):
            grp = [int(v) for v in idx[t, g * n:(g + 1) * n]]
            if any(a >= b for a, b in itertools.pairwise(grp)) or max(grp) >= m:
                bad[t] = True
    return bad


@pytest.mark.parametrize("n,m", [(1, 2), (2, 4), (1, 4), (2, 8), (4, 8), (3, 7), (1, 5),
                                 (15, 16), (5, 16)])
def test_golden_decoder_matches_loops(n, m):
    groups = 3
    stim = decoder_stim(n, m, groups, 6, 60, seed=11 * m + n, corrupt_rate=0.3,
                                clear_rate=0.1)
    sel, viol, err = stim.expected(n, m)
    assert np.array_equal(sel, _loop_select(stim.act, stim.idx, n, m))
    assert np.array_equal(viol, _loop_violation(stim.idx, n, m))
    can_fail = n > 1 or (m & (m - 1)) != 0
    assert viol.any() == can_fail
    # the sticky recurrence, literally
    e = [False]
    for v, b, c in zip(stim.valid, viol, stim.clear, strict=True):
        e.append((e[-1] and not c) or (v and b))
    assert np.array_equal(err, np.array(e))


def test_meta_error_trace_rules():
    valid = np.array([1, 1, 1, 1, 1, 0, 1, 1], bool)
    viol = np.array([0, 1, 0, 0, 1, 1, 0, 0], bool)
    clear = np.array([0, 0, 0, 1, 1, 0, 0, 1], bool)
    # rises the cycle after the bad beat; a violation beats a simultaneous clear; an invalid
    # beat never raises it; the clear in cycle 7 takes effect in cycle 8.
    want = [0, 0, 1, 1, 0, 1, 1, 1, 0]
    assert nm_hw.meta_error_trace(valid, viol, clear).astype(int).tolist() == want
    # the waveform table in docs/sparsity.md
    doc = nm_hw.meta_error_trace(np.ones(6, bool), np.array([0, 1, 0, 0, 1, 0], bool),
                                 np.array([0, 0, 0, 1, 1, 0], bool))
    assert doc.astype(int).tolist() == [0, 0, 1, 1, 0, 1, 1]


def test_decoded_selection_equals_decompression():
    # Valid metadata: selecting activations by index == dense product with decompressed weights.
    rng = np.random.default_rng(5)
    for n, m in [(2, 4), (3, 7), (1, 16)]:
        # integer weights: the two sums must agree exactly, whatever the summation order
        w = nm_prune(rng.integers(-31, 32, size=(40, 4 * m)), n, m)
        vals, idx = nm_compress(w, n, m)
        act = rng.integers(-31, 32, size=w.shape)
        sel = nm_hw.decode_select(act, idx, n, m)
        dense = nm_decompress(vals, idx, n, m)
        assert np.array_equal((vals * sel).sum(-1), (dense * act).sum(-1))
        assert not nm_hw.meta_violation(idx, n, m).any()


@pytest.mark.parametrize("n,m", [(2, 4), (3, 7), (4, 8), (1, 16)])
def test_pack_meta_matches_layout(n, m):
    rng = np.random.default_rng(m)
    groups = 4
    _, idx = nm_compress(nm_prune(rng.standard_normal((10, groups * m)), n, m), n, m)
    ports = nm_hw.pack_meta(idx, n, m)
    layout = nm_hw.meta_layout(n, m, groups)
    for row in layout:
        k = row["flat_lane"]
        assert row["port"] == f"in_idx__{k}" and row["group"] * n + row["lane"] == k
        assert np.array_equal(ports[:, k], idx[:, k])
    assert len(layout) == groups * n


def test_pack_meta_packed24_is_reference_nibbles():
    # REFERENCE.md: 0b0100 means {0,1}, 0b1110 means {2,3}; group g in bits [4g+3:4g].
    idx = np.array([[0, 1, 2, 3, 1, 3]], dtype=np.uint8)
    bus = nm_hw.pack_meta(idx, 2, 4, packed24=True)
    assert bus.tolist() == [0b0100 | 0b1110 << 4 | 0b1101 << 8]
    for row in nm_hw.meta_layout(2, 4, 3, packed24=True, prefix="in_meta"):
        hi, lo = (int(x) for x in row["bits"].strip("[]").split(":"))
        assert (bus[0] >> lo) & ((1 << (hi - lo + 1)) - 1) == idx[0, row["flat_lane"]]
    # corrupted pairs are still representable on the bus
    assert nm_hw.pack_meta(np.array([[1, 1]], np.uint8), 2, 4, packed24=True).tolist() == [5]
    with pytest.raises(ValueError, match="2:4"):
        nm_hw.pack_meta(idx, 2, 8, packed24=True)
    with pytest.raises(ValueError, match="fit"):
        nm_hw.pack_meta(np.array([[8]]), 1, 8)


# ---------------------------------------------------------------------------------------------
# Amaranth simulation of the RTL


def _sim_decoder(dut: NMDecoder, stim) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, lanes = dut.n, dut.lanes
    meta = nm_hw.pack_meta(stim.idx, n, dut.m, packed24=dut.packed24)
    got_v, got_e, got_a = [], [], []

    async def tb(ctx):
        def sample():
            got_v.append(ctx.get(dut.o.valid))
            got_e.append(ctx.get(dut.meta_error))
            got_a.append([ctx.get(dut.o.payload.act[k]) for k in range(lanes)])

        ins = dut.i.payload
        for t in range(stim.valid.size):
            sample()
            ctx.set(dut.i.valid, int(stim.valid[t]))
            ctx.set(dut.clear, int(stim.clear[t]))
            for i, v in enumerate(stim.act[t].tolist()):
                ctx.set(ins.act[i], v)
            if dut.packed24:
                ctx.set(ins.meta, int(meta[t]))
            else:
                for k, v in enumerate(meta[t].tolist()):
                    ctx.set(ins.idx[k], v)
            await ctx.tick()
        sample()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return np.array(got_v[1:], bool), np.array(got_e, bool), np.array(got_a[1:], np.int64)


@pytest.mark.parametrize(
    "n,m,groups,packed,reg",
    [(2, 4, 4, False, True), (2, 4, 4, True, True), (1, 4, 2, False, True),
     (2, 8, 2, False, True), (4, 8, 2, False, True), (3, 7, 2, False, True),
     (1, 2, 3, False, True), (15, 16, 1, False, True), (1, 5, 2, False, True),
     (2, 4, 4, True, False), (3, 7, 2, False, False)],
)
def test_decoder_pysim(n, m, groups, packed, reg):
    # The harness samples before driving the next beat, so a combinational decoder shows the
    # previous beat's selection at the same sample as a registered one: same expectations.
    width = 6
    dut = NMDecoder(n=n, m=m, groups=groups, width=width, packed24=packed, registered=reg)
    assert dut.latency == int(reg) and dut.lanes == groups * n and dut.index_bits == max(
        1, (m - 1).bit_length())
    seed = 100 * m + n
    stim = decoder_stim(n, m, groups, width, 80, seed, corrupt_rate=0.08,
                                clear_rate=0.05)
    sel, viol, err = stim.expected(n, m)
    gv, ge, ga = _sim_decoder(dut, stim)
    assert np.array_equal(gv, stim.valid)
    bad = np.nonzero(ge != err)[0]
    assert bad.size == 0, f"seed {seed}: meta_error differs at cycles {bad[:10].tolist()}"
    mism = np.nonzero(np.any(ga[stim.valid] != sel[stim.valid], axis=1))[0]
    assert mism.size == 0, f"seed {seed}: {mism.size}/{int(stim.valid.sum())} mismatches"
    if n > 1 or m & (m - 1):
        assert err.any()  # the corrupted beats did fire it


def _sim_sparsedot(dut: SparseHBFPDot, p: dict, stim) -> tuple[list, list]:
    meta = nm_hw.pack_meta(stim.w_idx, dut.n, dut.m, packed24=dut.packed24)
    got, errs = [], []
    narrow = p["narrow_mant_bits"] is not None

    async def tb(ctx):
        def sample():
            errs.append(ctx.get(dut.meta_error))
            if ctx.get(dut.o.valid):
                got.append((ctx.get(dut.o.payload.acc), ctx.get(dut.o.payload.exp)))

        ins = dut.i.payload
        for t in range(stim.valid.size):
            sample()
            ctx.set(dut.i.valid, int(stim.valid[t]))
            ctx.set(dut.clear, int(stim.clear[t]))
            ctx.set(ins.first, int(stim.first[t]))
            if narrow:
                ctx.set(ins.mode, int(stim.mode[t]))
            ctx.set(ins.a.exp, int(stim.w_exp[t]))
            ctx.set(ins.b.exp, int(stim.a_exp[t]))
            for k, v in enumerate(stim.w_vals[t].tolist()):
                ctx.set(ins.a.mant[k], v)
            for i, v in enumerate(stim.a_man[t].tolist()):
                ctx.set(ins.b.mant[i], v)
            if dut.packed24:
                ctx.set(ins.meta, int(meta[t]))
            else:
                for k, v in enumerate(meta[t].tolist()):
                    ctx.set(ins.idx[k], v)
            await ctx.tick()
        ctx.set(dut.i.valid, 0)
        for _ in range(dut.latency + 1):
            sample()
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return got, errs


@pytest.mark.parametrize(
    "n,m,block,mb,narrow,pipe,packed,dreg,corrupt",
    [
        (2, 4, 16, 5, None, 1, False, False, 0.0),
        (2, 4, 16, 5, None, 1, False, True, 0.05),
        (2, 4, 8, 7, None, 2, True, False, 0.05),
        (1, 4, 8, 3, None, 1, False, True, 0.0),
        (2, 8, 16, 5, None, 3, False, False, 0.05),
        (4, 8, 8, 5, None, 1, False, False, 0.0),
        (3, 7, 14, 5, 3, 2, False, True, 0.05),
        (3, 7, 14, 5, 3, 1, False, False, 0.05),
    ],
)
def test_sparsedot_pysim(n, m, block, mb, narrow, pipe, packed, dreg, corrupt):
    from gen.config import min_acc_width

    acc = min_acc_width(mb, block) + 4
    dut = SparseHBFPDot(n=n, m=m, block=block, mant_bits=mb, acc_width=acc, pipeline=pipe,
                        narrow_mant_bits=narrow, packed24=packed, decoder_register=dreg)
    assert dut.lanes == n * block // m and dut.latency == pipe + dreg
    p = {"n": n, "m": m, "block": block, "lanes": dut.lanes, "mant_bits": mb,
         "narrow_mant_bits": narrow, "acc_width": acc, "latency": dut.latency,
         "packed24": packed, "seed": 31 * m + n}
    stim = sparsedot_stim(p, 60, p["seed"], corrupt_rate=corrupt,
                                  clear_rate=0.05 if corrupt else 0.0)
    acc_e, exp_e, err_e = stim.expected(p)  # also asserts decoded == decompressed golden
    got, errs = _sim_sparsedot(dut, p, stim)
    assert len(got) == acc_e.size
    g = np.array(got, dtype=np.int64)
    bad = np.nonzero((g[:, 0] != acc_e) | (g[:, 1] != exp_e))[0]
    assert bad.size == 0, (
        f"seed {p['seed']}: {bad.size}/{acc_e.size} mismatches, first beat {bad[0]}: "
        f"got {g[bad[0]].tolist()} expected {[int(acc_e[bad[0]]), int(exp_e[bad[0]])]}"
    )
    assert np.array_equal(np.array(errs[: err_e.size], bool), err_e)
    assert not corrupt or err_e.any()


# ---------------------------------------------------------------------------------------------
# parameter refusal


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(n=4, m=4, groups=1, width=6), "N must be smaller"),
        (dict(n=0, m=4, groups=1, width=6), "at least 1"),
        (dict(n=2, m=17, groups=1, width=6), "at most 16"),
        (dict(n=2, m=8, groups=1, width=6, packed24=True), "2:4"),
        (dict(n=2, m=4, groups=0, width=6), "groups"),
    ],
)
def test_decoder_refuses(kw, match):
    with pytest.raises(ConfigError, match=match):
        NMDecoder(**kw)


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_sparsedot_refuses():
    with pytest.raises(ConfigError, match="must divide"):
        SparseHBFPDot(n=3, m=7, block=16, mant_bits=5, acc_width=30)
    with pytest.raises(ConfigError, match="too narrow"):
        SparseHBFPDot(n=2, m=4, block=16, mant_bits=5, acc_width=8)


def test_decoder_out_layout_passes_a_side_band_and_is_checked():
    ops = DotOperands(4, 5)
    dec = NMDecoder(n=2, m=4, groups=2, width=6, out_layout=ops, select=("b", "mant"))
    assert dec.o.payload.shape() == ops
    lay = dec.i.payload.shape()
    assert list(lay.members) == ["a", "b", "first", "idx"]
    assert data.Layout.cast(lay.members["b"]) == HBFPBlock(8, 5)  # the dense block
    with pytest.raises(ConfigError, match="must be"):
        NMDecoder(n=2, m=4, groups=2, width=5, out_layout=ops, select=("b", "mant"))
    with pytest.raises(ConfigError, match="no field"):
        NMDecoder(n=2, m=4, groups=2, width=6, out_layout=ops, select=("c",))
