"""Golden model of the FP32-in/FP32-out engine (golden/engine.py), checked independently.

The engine's result is checked against a float64 evaluation of the same HBFP quantization
(``golden.formats.hbfp_quantize`` with block Kf) with the K-fold sums added in FP32 left to
right, so the pod arithmetic, the normalizer and the fold order are each exercised by a model
that shares no code path with ``engine_gemm`` beyond the quantizer.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from golden.arith_fp import CANONICAL_NAN, bits_f32, f32_bits
from golden.engine import (
    EngineGeometry,
    EngineLayout,
    encode_weights,
    engine_cycles,
    engine_gemm,
    engine_program,
    engine_schedule,
)
from golden.facts import ParamError
from golden.formats import hbfp_quantize
from golden.sparsity import nm_prune
from golden.systolic import cycles as pod_cycles


def _reference(a: np.ndarray, w: np.ndarray, geo: EngineGeometry, mb: int) -> np.ndarray:
    """float64 products of the quantized operands per fold, rounded to FP32, added in FP32."""
    kf = geo.kf
    aq = hbfp_quantize(a, mb, kf).astype(np.float64)
    wq = hbfp_quantize(np.ascontiguousarray(w.T), mb, kf).T.astype(np.float64)
    K = a.shape[1]
    acc = None
    for k in range(math.ceil(K / kf)):
        ks = slice(k * kf, (k + 1) * kf)
        part = (aq[:, ks] @ wq[ks]).astype(np.float32)  # exact sum, one rounding to FP32
        acc = part if acc is None else (acc + part).astype(np.float32)
    return acc


GEOS = [
    dict(rows=4, cols=4, mant_bits=7, acc_width=29, tile=5),
    dict(rows=4, cols=3, mant_bits=5, acc_width=25, tile=16),
    dict(rows=4, cols=4, mant_bits=5, acc_width=25, tile=3, sparsity=(2, 4)),
    dict(rows=8, cols=2, mant_bits=3, acc_width=20, tile=7),
]


@pytest.mark.parametrize("shape", [(11, 6, 13), (1, 1, 1), (9, 8, 40)])
@pytest.mark.parametrize("g", GEOS, ids=lambda g: f"{g['rows']}x{g['cols']}m{g['mant_bits']}"
                         f"t{g['tile']}{'s' if 'sparsity' in g else ''}")
def test_engine_matches_independent_reference(g, shape):
    geo = EngineGeometry(**g)
    M, N, K = shape
    rng = np.random.default_rng(M * 100 + K)
    a = rng.standard_normal((M, K)).astype(np.float32)
    w = rng.standard_normal((K, N)).astype(np.float32)
    wp = nm_prune(w, *geo.sparsity, axis=0) if geo.sparsity != (1, 1) else w
    got = engine_program(a, w, geo).out
    ref = _reference(a, wp, geo, geo.mant_bits)
    bad = got != f32_bits(ref)
    assert not bad.any(), f"{bad.sum()}/{bad.size} mismatches: {got[bad][:4]} vs {ref[bad][:4]}"


def test_narrow_mode_is_the_narrow_format():
    geo = EngineGeometry(rows=4, cols=4, mant_bits=5, acc_width=25, tile=8, narrow_mant_bits=3)
    rng = np.random.default_rng(3)
    a = rng.standard_normal((10, 20)).astype(np.float32)
    w = rng.standard_normal((20, 7)).astype(np.float32)
    got = engine_program(a, w, geo, narrow=True).out
    assert (got == f32_bits(_reference(a, w, geo, 3))).all()
    wide = engine_program(a, w, geo, narrow=False).out
    assert (wide == f32_bits(_reference(a, w, geo, 5))).all()
    assert (got != wide).any()


def test_nan_inf_rows_become_canonical_nan_and_others_are_untouched():
    geo = EngineGeometry(rows=4, cols=4, mant_bits=7, acc_width=29, tile=4)
    rng = np.random.default_rng(4)
    a = rng.standard_normal((6, 12)).astype(np.float32)
    w = rng.standard_normal((12, 5)).astype(np.float32)
    clean = engine_program(a, w, geo).out
    a[2, 9] = np.inf
    a[4, 0] = np.nan
    got = engine_program(a, w, geo).out
    assert (got[[2, 4]] == CANONICAL_NAN).all()
    keep = [0, 1, 3, 5]
    assert (got[keep] == clean[keep]).all()


def test_zero_and_padded_columns_are_plus_zero():
    geo = EngineGeometry(rows=4, cols=4, mant_bits=7, acc_width=29, tile=4)
    a = np.zeros((3, 5), np.float32)
    w = np.ones((5, 3), np.float32)
    p = engine_program(a, w, geo)
    assert (p.out == 0).all() and (p.res == 0).all()
    assert p.res.shape == (3, 4)  # one padded column comes out of the stream too


def test_schedule_order_and_flags():
    geo = EngineGeometry(rows=4, cols=4, mant_bits=7, acc_width=29, tile=3)
    s = engine_schedule(7, 9, 10, geo)
    assert [(f.n, f.tile, f.k) for f in s[:4]] == [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 0)]
    assert len(s) == 3 * 3 * 3
    assert [f.rows for f in s if f.n == 0 and f.k == 0] == [3, 3, 1]
    assert all(f.first == (f.k == 0) and f.final == (f.k == 2) for f in s)


def test_cycles_reduce_to_the_pod_model_with_one_tile():
    geo = EngineGeometry(rows=4, cols=4, mant_bits=7, acc_width=29, tile=64)
    for M, N, K in [(64, 8, 12), (9, 4, 4), (20, 13, 17)]:
        assert engine_cycles(M, N, K, geo) == pod_cycles(M, N, K, 4, 4) + geo.out_latency


def test_cycles_closed_form_when_tiles_hide_loads():
    geo = EngineGeometry(rows=4, cols=4, mant_bits=7, acc_width=29, tile=16)
    M, N, K = 48, 8, 12
    folds = len(engine_schedule(M, N, K, geo))
    R, C = 4, 4
    assert engine_cycles(M, N, K, geo) == folds * 16 + 2 * R + C - 1 + geo.out_latency


def test_stream_layout_and_beats():
    geo = EngineGeometry(rows=4, cols=2, mant_bits=5, acc_width=25, tile=2, narrow_mant_bits=3)
    lay = EngineLayout(geo)
    assert [n for n, _ in lay.act] == ["data", "first", "final", "last", "narrow"]
    assert lay.width(lay.act) == 4 * 32 + 4
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 8)).astype(np.float32)
    p = engine_program(a, rng.standard_normal((8, 2)).astype(np.float32), geo)
    assert len(p.act_beats) == 2 * 3 and len(p.w_beats) == 4 * p.folds
    offs = lay.offsets(lay.act)
    lanes = [(p.act_beats[0] >> (32 * i)) & 0xFFFFFFFF for i in range(4)]
    assert lanes == f32_bits(a[0, :4]).tolist()
    flags = [[(b >> offs[f][0]) & 1 for f in ("first", "final", "last")] for b in p.act_beats]
    assert flags == [[1, 0, 0], [1, 0, 1], [0, 1, 0], [0, 1, 1], [1, 0, 1], [0, 1, 1]]
    assert p.res.shape == (3, 2) and p.res_last.tolist() == [0, 1, 1]
    assert (bits_f32(p.res) == bits_f32(p.out)).all()


def test_stochastic_rounding_follows_the_stream_order():
    base = dict(rows=4, cols=4, mant_bits=3, acc_width=20, tile=2)
    rng = np.random.default_rng(6)
    a = rng.standard_normal((4, 8)).astype(np.float32)
    w = rng.standard_normal((8, 8)).astype(np.float32)
    g1 = EngineGeometry(**base, stochastic=True)
    o1 = engine_program(a, w, g1).out
    o2 = engine_program(a, w, EngineGeometry(**base, stochastic=True, seed=7)).out
    assert (o1 == engine_program(a, w, g1).out).all()
    assert (o1 != o2).any()
    qw, ew = encode_weights(w, g1)
    _, tr = engine_gemm(a, qw, ew, g1, trace=True)
    # every beat (row fold slice) is rounded anew: the same row in two n-folds differs
    assert tr.qa.shape[0] == 2 * 2 * 2 * 2


@pytest.mark.parametrize("bad, field", [(dict(tile=0), "tile"),
                                        (dict(convert_latency=4), "pipeline")])
def test_bad_geometry(bad, field):
    g = dict(rows=4, cols=4, mant_bits=7, acc_width=29, tile=4) | bad
    with pytest.raises(ParamError) as e:
        EngineGeometry(**g)
    assert e.value.field == field


def test_fp32_engine_is_a_chain_of_float32_multiply_adds():
    """FP32 baseline: per fold, acc = +0 then acc = f32(acc + f32(w[r] * a[r])) top to bottom;
    folds added in ascending k; checked with NumPy float32 arithmetic (no subnormals here)."""
    geo = EngineGeometry(rows=4, cols=3, mant_bits=23, acc_width=32, tile=5, arith="fp32",
                         convert_latency=0)
    rng = np.random.default_rng(8)
    M, N, K = 7, 5, 10
    a = rng.standard_normal((M, K)).astype(np.float32)
    w = rng.standard_normal((K, N)).astype(np.float32)
    got = engine_program(a, w, geo).out
    kp = 12
    ap = np.zeros((M, kp), np.float32)
    ap[:, :K] = a
    wp = np.zeros((kp, N), np.float32)
    wp[:K] = w
    ref = np.zeros((M, N), np.float32)
    for k in range(3):
        part = np.zeros((M, N), np.float32)
        for r in range(4):
            part = (part + (ap[:, 4 * k + r, None] * wp[None, 4 * k + r]).astype(np.float32)
                    ).astype(np.float32)
        ref = part if k == 0 else (ref + part).astype(np.float32)
    assert (got == f32_bits(ref)).all()
    with pytest.raises(ParamError):
        EngineGeometry(rows=4, cols=3, mant_bits=23, acc_width=32, tile=5, arith="fp32")


def test_int8_engine_is_scaled_int32_sums():
    """INT8 baseline: codes q_a = sat(rne(a / s_a)), q_w per column (s_w = amax / 127), the
    INT32 fold sums times f32(s_a s_w) rounded once, folds added in ascending k; checked
    against an exact-rational reference, and close to A @ W."""
    from fractions import Fraction

    geo = EngineGeometry(rows=4, cols=3, mant_bits=7, acc_width=32, tile=5, arith="int8")
    rng = np.random.default_rng(81)
    M, N, K = 6, 5, 10
    a = rng.standard_normal((M, K)).astype(np.float32)
    w = rng.standard_normal((K, N)).astype(np.float32)
    prog = engine_program(a, w, geo)
    s_a = np.float32(np.abs(a).max() / np.float32(127))
    inv = np.float32(1) / s_a
    qa = np.clip(np.rint((a * inv).astype(np.float32)), -127, 127).astype(np.int64)
    s_w = (np.abs(w).max(axis=0) / np.float32(127)).astype(np.float32)
    qw = np.clip(np.rint(w / s_w), -127, 127).astype(np.int64)
    sc = (s_a * s_w).astype(np.float32)
    for i in range(M):
        for j in range(N):
            acc = None
            for k in range(0, K, 4):
                part = int(qa[i, k:k + 4] @ qw[k:k + 4, j])
                v = np.float32(float(Fraction(part) * Fraction(float(sc[j]))))  # one rounding
                acc = v if acc is None else np.float32(acc + v)
            assert prog.out[i, j] == f32_bits(np.array([acc]))[0], (i, j)
    ref = a @ w
    assert np.abs(prog.out.view(np.float32) - ref).max() < 0.05 * np.abs(ref).max()
    for bad in (dict(sparsity=(2, 4)), dict(narrow_mant_bits=3), dict(acc_width=24),
                dict(stochastic=True)):
        with pytest.raises(ParamError):
            EngineGeometry(**(dict(rows=4, cols=3, mant_bits=7, acc_width=32, tile=5,
                                   arith="int8") | bad))
