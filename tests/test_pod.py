"""Amaranth-simulator tests of the systolic pod (hw/pod.py) against golden.systolic.

Small pods only (the Python simulator is slow); the generated Verilog of bigger pods is checked
by sim/tb_pod.py under cocotb.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

from golden.systolic import PodGeometry, PodLayout, pod_program, random_hbfp_operands
from hw.pod import Pod


def run_pod(geo: PodGeometry, prog, *, stall_p: float = 0.0, seed: int = 0,
            narrow=False, w_gap_p: float = 0.0, max_cycles: int = 20000, modes=None,
            stall: str = "enable"):
    """Drive ``prog`` through an Amaranth :class:`Pod`; return (result words, cycles).

    ``cycles`` counts rising edges from the first one with valid sources to the edge that takes
    the last result, inclusive (the definition of :func:`golden.systolic.cycles`).
    ``narrow`` is a bool or a function of the edge number; ``modes`` (a list), if given,
    receives the narrow value each activation beat was accepted with.
    """
    dut = Pod(rows=geo.rows, cols=geo.cols, mant_bits=geo.mant_bits, acc_width=geo.acc_width,
              sparsity=geo.sparsity, narrow_mant_bits=geo.narrow_mant_bits, stall=stall)
    rng = np.random.default_rng(seed)
    n_res = len(prog.act_beats)
    ready_seq = (rng.random(max_cycles) >= stall_p).tolist()
    wvalid_seq = (rng.random(max_cycles) >= w_gap_p).tolist()
    out: list[int] = []
    info = {}

    async def tb(ctx):
        mode_at = narrow if callable(narrow) else (lambda _e: narrow)
        wi = ai = 0
        edge = 0
        while len(out) < n_res:
            if geo.narrow_mant_bits is not None:
                ctx.set(dut.narrow, int(mode_at(edge)))
            assert edge < max_cycles, f"timeout: {len(out)}/{n_res} results"
            wv = wi < len(prog.w_beats) and wvalid_seq[edge]
            av = ai < len(prog.act_beats)
            ctx.set(dut.w.valid, int(wv))
            ctx.set(dut.w.payload.as_value(), prog.w_beats[wi] if wi < len(prog.w_beats) else 0)
            ctx.set(dut.act.valid, int(av))
            ctx.set(dut.act.payload.as_value(),
                    prog.act_beats[ai] if ai < len(prog.act_beats) else 0)
            ctx.set(dut.res.ready, int(ready_seq[edge]))
            w_fire = wv and ctx.get(dut.w.ready)
            a_fire = av and ctx.get(dut.act.ready)
            r_fire = ctx.get(dut.res.valid) and ready_seq[edge]
            if r_fire:
                out.append(ctx.get(dut.res.payload.as_value()))
            if a_fire and modes is not None:
                modes.append(bool(mode_at(edge)))
            await ctx.tick()
            wi += int(w_fire)
            ai += int(a_fire)
            edge += 1
        info["cycles"] = edge
        # nothing more may come out
        ctx.set(dut.res.ready, 1)
        for _ in range(geo.rows + geo.cols + 2):
            assert not ctx.get(dut.res.valid), "extra result beat"
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return out, info["cycles"]


def check(geo: PodGeometry, prog, words):
    lay = PodLayout(geo)
    d, e, last = lay.decode_res(words)
    F, M, C = prog.psum.shape
    assert d.shape == (F * M, C)
    exp_d = prog.psum.reshape(-1, C)
    exp_e = prog.exp.reshape(-1, C)
    bad = np.argwhere((d != exp_d) | (e != exp_e))
    assert len(bad) == 0, (
        f"{len(bad)}/{d.size} mismatches, first at beat/col {bad[0].tolist()}: "
        f"got {d[tuple(bad[0])]}*2^{e[tuple(bad[0])]} want {exp_d[tuple(bad[0])]}"
        f"*2^{exp_e[tuple(bad[0])]}"
    )
    assert (last == prog.expected_last).all(), "last flags differ"


CASES = [
    # rows, cols, m, sparsity, bf (block = bf * Kf: a block may span folds), M, N, K
    (2, 2, 5, (1, 1), 1, 3, 3, 5),
    (4, 4, 7, (1, 1), 1, 9, 6, 10),
    (4, 3, 3, (2, 4), 1, 5, 4, 11),
    (3, 2, 5, (1, 1), 2, 1, 2, 13),
    (3, 2, 5, (1, 3), 1, 4, 3, 20),
    (1, 1, 7, (1, 1), 1, 2, 2, 3),
    (1, 4, 5, (1, 1), 1, 6, 7, 3),  # 1-row pod: load_row is a constant 1-bit counter
    (2, 1, 5, (2, 4), 1, 5, 1, 9),
]


STALLS = pytest.mark.parametrize("stall", ["enable", "queue"])


@STALLS
@pytest.mark.parametrize("rows,cols,mb,sp,bf,M,N,K", CASES)
def test_pod_gemm_exact_and_cycles(rows, cols, mb, sp, bf, M, N, K, stall):
    kf = rows // sp[0] * sp[1]
    geo = PodGeometry(rows, cols, mb, acc_width=2 * (mb + 1) + 6, block_size=bf * kf,
                      sparsity=sp)
    rng = np.random.default_rng(1234 + rows * 7 + M)
    prog = pod_program(*random_hbfp_operands(M, N, K, geo, rng), geo)
    words, n_cycles = run_pod(geo, prog, stall=stall)
    check(geo, prog, words)
    assert n_cycles == prog.cycles


@STALLS
@pytest.mark.parametrize("seed", [5, 6])
def test_pod_backpressure_and_weight_gaps(stall, seed):
    geo = PodGeometry(3, 3, 5, acc_width=20, block_size=6)
    rng = np.random.default_rng(99)
    prog = pod_program(*random_hbfp_operands(4, 7, 11, geo, rng), geo)
    words, n_cycles = run_pod(geo, prog, stall_p=0.4, w_gap_p=0.3, seed=seed, stall=stall)
    check(geo, prog, words)
    assert n_cycles > prog.cycles  # stalls can only cost cycles


@pytest.mark.parametrize("sp", [(1, 1), (1, 2)])
def test_pod_narrow_mode(sp):
    geo = PodGeometry(2, 2, 7, acc_width=20, block_size=2 * sp[1], narrow_mant_bits=3,
                      sparsity=sp)
    rng = np.random.default_rng(3)
    qa, ea, qw, ew = random_hbfp_operands(3, 3, 4, geo, rng, narrow=True)
    # garbage in the ignored upper bits must not matter in narrow mode
    junk = 0b1010000
    prog = pod_program(qa, ea, qw, ew, geo, narrow=True)
    prog_junk = pod_program(qa ^ junk, ea, qw ^ (junk * (qw != 0)), ew, geo, narrow=True)
    np.testing.assert_array_equal(prog.psum, prog_junk.psum)
    words, _ = run_pod(geo, prog_junk, narrow=True)
    check(geo, prog, words)


def test_pod_rejects_bad_params():
    with pytest.raises(ValueError):
        Pod(rows=3, cols=2, mant_bits=5, acc_width=20, sparsity=(2, 4))
    with pytest.raises(ValueError):
        Pod(rows=4, cols=2, mant_bits=7, acc_width=10)


# ---- narrow mode (Accuracy Boosters) at any switch point ----------------------------------
def _two_gemms(geo, progs):
    """Back-to-back GEMMs as one stream: the second's weights preload during the first."""
    return SimpleNamespace(w_beats=progs[0].w_beats + progs[1].w_beats,
                           act_beats=progs[0].act_beats + progs[1].act_beats)


def _check_two(geo, operands, words, modes):
    """Each GEMM's results against golden with the mode each of its beats was accepted with."""
    off = 0
    for ops, (F, M) in operands:
        beats = F * M
        want = pod_program(*ops, geo, narrow=np.array(modes[off:off + beats]).reshape(F, M))
        check(geo, want, words[off:off + beats])
        off += beats


def test_narrow_weights_preloaded_across_a_mode_change():
    """The issue's case: 4x4 hbfp6 2:4 pod, hbfp4 narrow mode; a wide GEMM of all +31
    mantissas whose weights load while the previous narrow GEMM streams reads 3,844 in every
    column (it read -124 when the mode was applied at load time)."""
    geo = PodGeometry(4, 4, 5, acc_width=20, block_size=8, narrow_mant_bits=3, sparsity=(2, 4))
    rng = np.random.default_rng(11)
    narrow_ops = random_hbfp_operands(6, 4, 8, geo, rng, narrow=True)
    qa = np.full((5, 8), 31)
    qw = np.tile(np.array([[31], [31], [0], [0]]), (2, 4))  # 2:4 along K
    wide_ops = (qa, np.zeros((5, 1), int), qw, np.zeros((1, 4), int))
    progs = [pod_program(*narrow_ops, geo, narrow=True), pod_program(*wide_ops, geo)]
    first = len(progs[0].act_beats)
    modes: list[bool] = []
    # narrow while the first GEMM's beats are accepted, wide from the second's first beat
    words, _ = run_pod(geo, _two_gemms(geo, progs), narrow=lambda e: len(modes) < first,
                       modes=modes)
    assert modes == [True] * first + [False] * len(progs[1].act_beats)
    d, _, _ = PodLayout(geo).decode_res(words[first:])
    assert (d == 3844).all(), d
    check(geo, progs[1], words[first:])


@pytest.mark.parametrize("sp", [(1, 1), (2, 4)])
@pytest.mark.parametrize("first_narrow", [True, False], ids=["narrow-to-wide", "wide-to-narrow"])
def test_narrow_switch_at_every_point(sp, first_narrow):
    """Two back-to-back GEMMs with preloaded weights; the mode flips at every edge of the run
    in turn (during loads, mid-fold, between GEMMs). Wide operands throughout, so narrow beats
    really truncate; every result must equal golden for the mode its beat was accepted with."""
    geo = PodGeometry(2, 2, 5, acc_width=20, block_size=2 * sp[1], narrow_mant_bits=3,
                      sparsity=sp)
    rng = np.random.default_rng(7 + sp[1])
    shapes = [(3, 3, 2 * sp[1]), (2, 3, 4 * sp[1])]
    ops = [random_hbfp_operands(M, N, K, geo, rng) for M, N, K in shapes]
    progs = [pod_program(*o, geo) for o in ops]
    folds = [(p.folds, p.m_rows) for p in progs]
    _, total = run_pod(geo, _two_gemms(geo, progs))
    for s in range(total + 1):
        modes: list[bool] = []
        words, _ = run_pod(geo, _two_gemms(geo, progs), modes=modes,
                           narrow=lambda e, s=s: first_narrow == (e < s))
        _check_two(geo, list(zip(ops, folds, strict=True)), words, modes)


# ---- what the docs promise about the stall and the reset ----------------------------------
def _drive(dut, ctx, w=None, act=None, ready=0):
    ctx.set(dut.w.valid, int(w is not None))
    ctx.set(dut.w.payload.as_value(), w or 0)
    ctx.set(dut.act.valid, int(act is not None))
    ctx.set(dut.act.payload.as_value(), act or 0)
    ctx.set(dut.res.ready, ready)


@STALLS
def test_res_ready_low_stalls_only_once_a_result_waits(stall):
    """README/docs/pod.md: res.ready = 0 does not freeze the array at once; it keeps advancing
    until a result waits in the result register: exactly R + C - 1 act beats get in (with
    the output queue: until its R + C - 1 credits are spent)."""
    geo = PodGeometry(3, 2, 5, acc_width=20, block_size=3)
    rng = np.random.default_rng(5)
    prog = pod_program(*random_hbfp_operands(12, 2, 3, geo, rng), geo)
    dut = Pod(rows=3, cols=2, mant_bits=5, acc_width=20, stall=stall)
    taken = {}

    async def tb(ctx):
        wi = ai = 0
        for _ in range(60):
            w = prog.w_beats[wi] if wi < len(prog.w_beats) else None
            a = prog.act_beats[ai] if ai < len(prog.act_beats) else None
            _drive(dut, ctx, w, a, ready=0)
            wf = w is not None and ctx.get(dut.w.ready)
            af = a is not None and ctx.get(dut.act.ready)
            await ctx.tick()
            wi, ai = wi + int(wf), ai + int(af)
        taken["act"] = ai
        taken["valid"] = ctx.get(dut.res.valid)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert taken == {"act": 3 + 2 - 1, "valid": 1}


def test_one_reset_edge_mid_gemm_then_a_fresh_gemm_is_exact():
    """docs/pod.md "Reset": one rising edge with rst = 1 (valid inputs low) clears the control
    state; the datapath registers need no reset. A GEMM after a reset mid-GEMM is bit-exact."""
    geo = PodGeometry(2, 3, 5, acc_width=20, block_size=2)
    rng = np.random.default_rng(9)
    first = pod_program(*random_hbfp_operands(5, 4, 5, geo, rng), geo)
    second = pod_program(*random_hbfp_operands(4, 3, 3, geo, rng), geo)
    dut = Pod(rows=2, cols=3, mant_bits=5, acc_width=20)
    top = Module()
    top.domains.sync = cd = ClockDomain("sync")
    top.submodules.pod = dut
    out: list[int] = []

    async def tb(ctx):
        wi = ai = 0
        for _ in range(9):  # part of the first GEMM
            w = first.w_beats[wi] if wi < len(first.w_beats) else None
            a = first.act_beats[ai] if ai < len(first.act_beats) else None
            _drive(dut, ctx, w, a, ready=1)
            wf = w is not None and ctx.get(dut.w.ready)
            af = a is not None and ctx.get(dut.act.ready)
            await ctx.tick()
            wi, ai = wi + int(wf), ai + int(af)
        assert 0 < ai < len(first.act_beats)
        _drive(dut, ctx)
        ctx.set(cd.rst, 1)
        await ctx.tick()
        ctx.set(cd.rst, 0)
        assert not ctx.get(dut.res.valid) and not ctx.get(dut.act.ready)
        assert ctx.get(dut.w.ready)
        wi = ai = 0
        for _ in range(400):
            if len(out) == len(second.act_beats):
                break
            w = second.w_beats[wi] if wi < len(second.w_beats) else None
            a = second.act_beats[ai] if ai < len(second.act_beats) else None
            _drive(dut, ctx, w, a, ready=1)
            wf = w is not None and ctx.get(dut.w.ready)
            af = a is not None and ctx.get(dut.act.ready)
            if ctx.get(dut.res.valid):
                out.append(ctx.get(dut.res.payload.as_value()))
            await ctx.tick()
            wi, ai = wi + int(wf), ai + int(af)

    sim = Simulator(top)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    check(geo, second, out)
