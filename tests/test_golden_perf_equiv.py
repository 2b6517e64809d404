"""Bit-exact equivalence of the fast MX / N:M golden paths with their former implementations.

``golden.formats.mx_quantize`` and ``golden.sparsity.nm_mask`` / ``nm_prune`` were rewritten
for speed (FP32 bit patterns, cache-sized chunks, pairwise comparisons); ``mx_encode`` keeps the
float64 path, refactored into helpers. The ``_ref_*`` functions below are verbatim copies of the
code they replaced (only renamed), so every test here asserts that the rewrite changed no output
bit: float results are compared as integer bit patterns (``-0.0`` and ``0.0`` differ), masks and
integer results exactly, error messages literally.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from golden._common import check_choice, check_int, norm_axis
from golden.formats import MX_FORMATS, MXFormat, mx_encode, mx_quantize
from golden.sparsity import nm_mask, nm_prune

MX_NAMES = tuple(MX_FORMATS)  # fixed order: int8, fp8_e4m3, fp8_e5m2, fp6_e3m2, fp6_e2m3, fp4_e2m1
MX_ROUNDINGS = ("even", "nearest")
FLT_MAX = float(np.finfo(np.float32).max)


# --------------------------------------------------------------------------------------------
# Reference copies (verbatim, renamed with a _ref prefix)
# --------------------------------------------------------------------------------------------
def _ref_to_blocks(a: np.ndarray, block: int, fill: Any = 0) -> np.ndarray:
    """Reshape the last axis of ``a`` (length L) into ``(ceil(L/block), block)``.

    A short tail is padded with ``fill`` (a copy is made only then); otherwise the result is a
    view when ``a`` is C-contiguous, which keeps the fast HBFP path free of full-size copies.
    """
    n = a.shape[-1]
    g = -(-n // block)
    pad = g * block - n
    if pad:
        widths = [(0, 0)] * (a.ndim - 1) + [(0, pad)]
        a = np.pad(a, widths, constant_values=fill)
    return a.reshape(*a.shape[:-1], g, block)


def _ref_from_blocks(a: np.ndarray, n: int) -> np.ndarray:
    """Inverse of :func:`to_blocks`: merge the last two axes and drop the padding."""
    flat = a.reshape(*a.shape[:-2], a.shape[-2] * a.shape[-1])
    return flat if flat.shape[-1] == n else flat[..., :n]


def _ref_magnitude(x: np.ndarray) -> np.ndarray:
    """``|x|`` for ranking, safe for signed integers (``abs(int8(-128))`` would wrap)."""
    if np.issubdtype(x.dtype, np.signedinteger):
        return np.abs(x.astype(np.int64))
    if np.issubdtype(x.dtype, np.unsignedinteger) or x.dtype == np.bool_:
        return x.astype(np.uint64)
    return np.abs(x)


def _ref_floor_log2(a: np.ndarray) -> np.ndarray:
    """Exact ``floor(log2(a))`` for positive finite float64 ``a`` (via frexp, no log)."""
    return np.frexp(a)[1].astype(np.int64) - 1


def _ref_mx_elements(
    x: Any, elem_format: Any, block_size: Any, axis: Any, rounding: Any
) -> tuple[MXFormat, int, int, np.ndarray, np.ndarray, tuple[int, ...]]:
    """Validate, block and quantize. Returns ``(fmt, ax, L, s, a_q, shape)``.

    ``s`` (int64, ``(..., G)``): shared scale exponents; ``a_q`` (float64, ``(..., G, B)``):
    quantized elements in element units (exact multiples of the element grid, clamped to
    ``±max_norm``), so the value is ``a_q * 2^s``.
    """
    fmt_name = check_choice(elem_format, "elem_format", tuple(MX_FORMATS))
    fmt = MX_FORMATS[fmt_name]
    bs = check_int(block_size, "block_size", 1)
    check_choice(rounding, "rounding", MX_ROUNDINGS)
    x32 = np.asarray(x, dtype=np.float32)
    ax = norm_axis(x32, axis)
    if not np.isfinite(x32).all():
        bad = x32[~np.isfinite(x32)]
        raise ValueError(
            f"x contains {bad.size} non-finite value(s) (first: {bad.flat[0]!r}); "
            "the golden MX model accepts finite inputs only"
        )
    xb = _ref_to_blocks(np.moveaxis(x32, ax, -1).astype(np.float64), bs)
    amax = np.abs(xb).max(axis=-1)
    # Library: floor(log2(amax + 2^-126 * (amax == 0))), minus emax, clamped at -127.
    s = _ref_floor_log2(np.where(amax == 0, 2.0**-126, amax)) - fmt.emax
    s = np.maximum(s, -127)
    a = np.ldexp(xb, -s[..., None])  # exact: x is float32, |s| <= 127
    if fmt.ebits:
        absa = np.abs(a)
        # Private exponent; the library takes log2(|a| + (a == 0)), i.e. 0 for zeros.
        p = np.maximum(_ref_floor_log2(np.where(absa == 0, 1.0, absa)), fmt.min_exp)
        sh = fmt.frac_bits - p
    else:
        sh = np.int64(fmt.frac_bits)
    scaled = np.ldexp(a, sh)
    if rounding == "even":
        r = np.rint(scaled)
    else:  # half away from zero; |scaled| + 0.5 is exact in float64 here
        r = np.copysign(np.floor(np.abs(scaled) + 0.5), scaled)
    aq = np.clip(np.ldexp(r, -sh), -fmt.max_norm, fmt.max_norm)
    return fmt, ax, x32.shape[ax], s, aq, x32.shape


def _ref_mx_quantize(
    x: Any, elem_format: str, block_size: int = 32, axis: int = -1, rounding: str = "even"
) -> np.ndarray:
    _, ax, n, s, aq, _ = _ref_mx_elements(x, elem_format, block_size, axis, rounding)
    v = np.ldexp(aq, s[..., None]).astype(np.float32)
    return np.ascontiguousarray(np.moveaxis(_ref_from_blocks(v, n), -1, ax))


def _ref_mx_encode(
    x: Any, elem_format: str, block_size: int = 32, axis: int = -1, rounding: str = "even"
) -> tuple[np.ndarray, np.ndarray]:
    fmt, ax, n, s, aq, _ = _ref_mx_elements(x, elem_format, block_size, axis, rounding)
    if fmt.ebits == 0:
        codes = np.ldexp(aq, fmt.frac_bits).astype(np.int8)
    else:
        mag = np.abs(aq)
        sub = mag < 2.0**fmt.min_exp
        p = np.where(sub, fmt.min_exp, _ref_floor_log2(np.where(mag == 0, 1.0, mag)))
        frac = np.ldexp(mag, fmt.frac_bits - p).astype(np.int64)  # exact integer
        frac = np.where(sub, frac, frac - 2**fmt.frac_bits)
        field = np.where(sub, 0, p + fmt.bias)
        sign = np.signbit(aq).astype(np.int64)
        codes = ((sign << (fmt.ebits + fmt.frac_bits)) | (field << fmt.frac_bits) | frac).astype(
            np.uint8
        )
    scales = (s + 127).astype(np.uint8)
    codes = _ref_from_blocks(codes, n)
    return (
        np.ascontiguousarray(np.moveaxis(scales, -1, ax)),
        np.ascontiguousarray(np.moveaxis(codes, -1, ax)),
    )


def _ref_check_nm(n: Any, m: Any) -> tuple[int, int]:
    ni = check_int(n, "n", 1)
    mi = check_int(m, "m", 1)
    if ni > mi:
        raise ValueError(f"n must be <= m, got n={ni} > m={mi}")
    return ni, mi


def _ref_check_no_nan(x: np.ndarray) -> None:
    if np.issubdtype(x.dtype, np.floating) and np.isnan(x).any():
        raise ValueError("x contains NaN; magnitude pruning needs ordered magnitudes")


def _ref_keep_top(mag: np.ndarray, n: int) -> np.ndarray:
    """Boolean mask keeping the ``n`` largest entries along the last axis, lower index on ties.

    A stable sort of the negated magnitudes puts equal magnitudes in index order, so the
    lowest indices come first and are kept.
    """
    # One deliberate change from the copied code: unsigned magnitudes are complemented, not
    # negated (a negated uint wraps and ranked 0 as the largest: a bug, fixed in golden too).
    key = ~mag if np.issubdtype(mag.dtype, np.unsignedinteger) else -mag
    order = np.argsort(key, axis=-1, kind="stable")
    keep = np.zeros(mag.shape, dtype=bool)
    np.put_along_axis(keep, order[..., :n], True, axis=-1)
    return keep


def _ref_nm_mask(x: Any, n: int, m: int, axis: int = -1) -> np.ndarray:
    ni, mi = _ref_check_nm(n, m)
    xa = np.asarray(x)
    ax = norm_axis(xa, axis)
    _ref_check_no_nan(xa)
    mag = _ref_magnitude(np.moveaxis(xa, ax, -1))
    keep = _ref_keep_top(_ref_to_blocks(mag, mi), ni)
    return np.ascontiguousarray(np.moveaxis(_ref_from_blocks(keep, xa.shape[ax]), -1, ax))


def _ref_nm_prune(x: Any, n: int, m: int, axis: int = -1) -> np.ndarray:
    xa = np.asarray(x)
    return np.where(_ref_nm_mask(xa, n, m, axis), xa, np.zeros((), xa.dtype))


# --------------------------------------------------------------------------------------------
# Comparison helpers
# --------------------------------------------------------------------------------------------
def _bits(a: np.ndarray) -> np.ndarray:
    """Integer view of ``a``'s bit patterns (bool as uint8)."""
    a = np.ascontiguousarray(a)
    if a.dtype == np.bool_:
        return a.view(np.uint8)
    return a.view(np.dtype(f"u{a.dtype.itemsize}"))


def assert_bits_equal(got: np.ndarray, want: np.ndarray, x: Any = None, what: str = "") -> None:
    """Same dtype, shape and every bit; on failure report "N/M mismatches" and the first few."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    bad = np.argwhere(_bits(got) != _bits(want))
    if bad.size:
        xa = None if x is None else np.asarray(x)
        rows = []
        for ix in bad[:8]:
            t = tuple(int(i) for i in ix)
            src = "" if xa is None or xa.shape != got.shape else f" (x = {xa[t]!r})"
            rows.append(f"  at {t}: got {got[t]!r}, want {want[t]!r}{src}")
        pytest.fail(f"{what}: {len(bad)}/{got.size} mismatches\n" + "\n".join(rows))


def _assert_same_error(fast, ref, *args, **kwargs) -> None:
    with pytest.raises(ValueError) as want:
        ref(*args, **kwargs)
    with pytest.raises(ValueError) as got:
        fast(*args, **kwargs)
    assert str(got.value) == str(want.value)


def _check_mx(x: Any, fmt: str, bs: int, axis: int = -1, rnd: str = "even", what: str = "") -> None:
    label = f"{what} {fmt}/{rnd}/bs={bs}/axis={axis}"
    got = mx_quantize(x, fmt, bs, axis, rnd)
    want = _ref_mx_quantize(x, fmt, bs, axis, rnd)
    assert got.flags.c_contiguous
    assert_bits_equal(got, want, x, label)


# --------------------------------------------------------------------------------------------
# MX data
# --------------------------------------------------------------------------------------------
def _f32_from_bits(b: Any) -> np.ndarray:
    return np.asarray(b, dtype=np.uint32).view(np.float32)


def _mx_mixture(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Rows of different kinds over the whole float32 range: Gaussian with a random scale
    2^-160..2^126 per row, random bit patterns (every exponent, subnormals), dyadic grids that
    land on rounding ties, plus scattered zeros / -0.0 / +-FLT_MAX / tiny subnormals."""
    rows = int(np.prod(shape[:-1]))
    cols = shape[-1]
    kind = rng.integers(0, 4, (rows, 1))
    gauss = rng.standard_normal((rows, cols)) * 2.0 ** rng.integers(-160, 127, (rows, 1))
    raw = _f32_from_bits(rng.integers(0, 0x7F800000, (rows, cols), dtype=np.uint32)).astype(
        np.float64
    ) * rng.choice([-1.0, 1.0], (rows, cols))
    dyadic = rng.integers(-4096, 4097, (rows, cols)) / 2.0 ** rng.integers(-10, 16, (rows, 1))
    halves = (2 * rng.integers(-64, 64, (rows, cols)) + 1) * 2.0 ** rng.integers(
        -150, 110, (rows, 1)
    )
    with np.errstate(over="ignore"):
        x = np.select([kind == 0, kind == 1, kind == 2], [gauss, raw, dyadic], halves)
        x = np.clip(x, -FLT_MAX, FLT_MAX).astype(np.float32)
    u = rng.random((rows, cols))
    x[u < 0.04] = 0.0
    x[(u >= 0.04) & (u < 0.07)] = -0.0
    x[(u >= 0.07) & (u < 0.075)] = FLT_MAX
    x[(u >= 0.075) & (u < 0.08)] = -(2.0**-149)
    return x.reshape(shape)


def _tie_block(fmt: MXFormat, s: int, rng: np.random.Generator, n: int = 64) -> np.ndarray:
    """A block with scale exponent ``s`` whose other elements sit on, or one ulp around,
    rounding ties of the element grid, in the normal and the subnormal element range."""
    emax = fmt.emax
    top = 2.0 ** (s + emax) * 1.0  # block maximum sets the scale exponent s (if >= -127)
    f = fmt.frac_bits
    min_exp = fmt.min_exp if fmt.ebits else 0
    vals = [top]
    for _ in range(n - 1):
        # element exponent from below the subnormal range up to the top binade
        e = int(rng.integers(s + min_exp - f - 3, s + emax + 1))
        k = (max(e, s + min_exp) - f) if fmt.ebits else s - f
        r = int(rng.integers(0, 2 ** (f + 2)))
        v = (r + 0.5) * 2.0**k
        vals.append(v)
    v = np.array(vals, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore"):
        v32 = np.clip(v, -FLT_MAX, FLT_MAX).astype(np.float32)
    # one ulp below / above each tie, random signs
    nudge = rng.integers(-1, 2, v32.shape).astype(np.int32)
    nudge[0] = 0
    b = v32.view(np.int32).copy()
    b = np.where((b > 0) & (b < 0x7F7FFFFF), b + nudge, b).astype(np.int32)
    out = b.view(np.float32) * rng.choice(np.array([-1, 1], np.float32), v32.shape)
    return np.where(np.abs(out) > np.float32(top), np.float32(top), out).astype(np.float32)


# --------------------------------------------------------------------------------------------
# MX tests
# --------------------------------------------------------------------------------------------
SHAPE_CASES = [
    # (shape, block, axis)
    ((9, 96), 32, -1),
    ((5, 100), 32, -1),  # tail of 4
    ((3, 7, 33), 32, 1),  # blocks along a middle axis, tail of 1
    ((70, 6), 32, 0),  # blocks along axis 0, tail of 6
    ((4, 130), 16, -1),
    ((3, 90), 7, -1),  # block not a power of two
    ((6, 24), 1, -1),
    ((2, 3, 64), 64, -1),
    ((200,), 100, 0),
]


@pytest.mark.parametrize("rnd", MX_ROUNDINGS)
@pytest.mark.parametrize("fmt", MX_NAMES)
@pytest.mark.parametrize("case", range(len(SHAPE_CASES)))
def test_mx_random_mixture(case, fmt, rnd):
    shape, bs, axis = SHAPE_CASES[case]
    rng = np.random.default_rng([case, MX_NAMES.index(fmt), MX_ROUNDINGS.index(rnd)])
    _check_mx(_mx_mixture(rng, shape), fmt, bs, axis, rnd, "mixture")


@pytest.mark.parametrize("rnd", MX_ROUNDINGS)
@pytest.mark.parametrize("fmt", MX_NAMES)
def test_mx_scale_sweep_every_exponent(fmt, rnd):
    """One block pattern scaled by every power of two: every shared exponent s in
    [-127, 127 - emax] (and the clamped ones below), so each side of every internal range
    boundary of the fast path is exercised."""
    rng = np.random.default_rng([7, MX_NAMES.index(fmt), MX_ROUNDINGS.index(rnd)])
    base = np.clip(rng.standard_normal(32) * 2.0 ** rng.integers(-30, 1, 32), -1.9, 1.9)
    base[0] = 1.9999998  # block max just below 2: finite at 2^127
    base[1:4] = [0.5, 0.75, -0.0]
    rows = [base * 2.0**j for j in range(-180, 128)]
    with np.errstate(under="ignore"):
        x = np.array(rows).astype(np.float32)
    _check_mx(x, fmt, 32, -1, rnd, "sweep")
    _check_mx(x, fmt, 8, -1, rnd, "sweep")


@pytest.mark.parametrize("rnd", MX_ROUNDINGS)
@pytest.mark.parametrize("fmt", MX_NAMES)
def test_mx_ties_and_neighbours(fmt, rnd):
    """Exact 0.5-ulp ties of the element grid and their float32 neighbours, for many scales."""
    f = MX_FORMATS[fmt]
    rng = np.random.default_rng([11, MX_NAMES.index(fmt), MX_ROUNDINGS.index(rnd)])
    svals = [-127, -126, -125, -121, -120, -113, -60, -3, 0, 1, 17, 90, 100, 104, 105, 110]
    svals += [127 - f.emax - 1, 127 - f.emax]
    blocks = [_tie_block(f, s, rng) for s in svals]
    _check_mx(np.stack(blocks), fmt, 64, -1, rnd, "ties")
    _check_mx(np.stack(blocks), fmt, 32, -1, rnd, "ties")


def _directed_values() -> np.ndarray:
    p2 = [2.0**k for k in range(-149, 128)]
    below = np.nextafter(np.array(p2[1:], np.float32), np.float32(0))  # just below 2^k
    above = np.nextafter(np.array(p2, np.float32), np.float32(np.inf))
    sub = _f32_from_bits([1, 2, 3, 0x7FFFFF, 0x400000, 0x3FFFFF, 0x400001])
    big = np.array(
        [FLT_MAX, np.nextafter(np.float32(FLT_MAX), np.float32(0)), 2.0**127], np.float32
    )
    misc = np.array([0.0, -0.0, 1.0, 1.5, 1.75, 1.875, 0.49999997, 0.5, 0.50000006], np.float32)
    fmt_max = np.array([f.max_norm for f in MX_FORMATS.values()], np.float32)
    v = np.concatenate([np.array(p2, np.float32), below, above, sub, big, misc, fmt_max])
    return np.concatenate([v, -v])


@pytest.mark.parametrize("rnd", MX_ROUNDINGS)
@pytest.mark.parametrize("fmt", MX_NAMES)
def test_mx_directed_corners(fmt, rnd):
    v = _directed_values()
    rng = np.random.default_rng([13, MX_NAMES.index(fmt)])
    # every value alone (its own block max), mixed into random blocks, and next to FLT_MAX
    _check_mx(v, fmt, 1, -1, rnd, "single")
    _check_mx(rng.permutation(v), fmt, 32, -1, rnd, "shuffled")
    for bs in (2, 5):
        _check_mx(v, fmt, bs, -1, rnd, "sorted")
    pairs = np.stack([v, np.full_like(v, FLT_MAX)], axis=-1)
    _check_mx(pairs, fmt, 2, -1, rnd, "with FLT_MAX")
    # all-zero blocks, all -0.0 blocks, subnormal-only blocks, a tail of zeros
    z = np.zeros((4, 40), np.float32)
    z[1] = -0.0
    z[2] = _f32_from_bits(rng.integers(0, 0x800000, 40, dtype=np.uint32))
    z[3, :5] = -(2.0**-149)
    _check_mx(z, fmt, 32, -1, rnd, "zeros/subnormals")
    _check_mx(z, fmt, 32, 0, rnd, "zeros/subnormals axis 0")


@pytest.mark.parametrize("fmt", ["fp8_e4m3", "fp4_e2m1", "int8"])
def test_mx_large_many_chunks(fmt):
    """More elements than one internal chunk, with exceptional rows (tiny, huge, zero) in the
    middle chunks; float64 input (converted to float32 first, as documented)."""
    rng = np.random.default_rng([17, MX_NAMES.index(fmt)])
    x = rng.standard_normal((640, 512))
    x[100] *= 2.0**-125
    x[300] *= 2.0**126
    x[301] = 0.0
    x[302] *= 2.0**-140
    x[500, ::3] = -0.0
    for rnd in MX_ROUNDINGS:
        _check_mx(x, fmt, 32, -1, rnd, "large")
    _check_mx(x, fmt, 32, 0, "even", "large axis 0")


@pytest.mark.parametrize("chunk", [64, 1000])
def test_mx_small_chunks(chunk, monkeypatch):
    """Chunk boundaries everywhere (the module's chunk size shrunk), odd block sizes."""
    import golden.formats

    monkeypatch.setattr(golden.formats, "_MX_CHUNK_ELEMS", chunk)
    rng = np.random.default_rng([31, chunk])
    x = _mx_mixture(rng, (40, 75))
    for fmt, bs, rnd in (
        ("fp8_e4m3", 32, "even"),
        ("fp4_e2m1", 7, "nearest"),
        ("int8", 100, "even"),
    ):
        _check_mx(x, fmt, bs, -1, rnd, f"chunk={chunk}")


@pytest.mark.parametrize("fmt", MX_NAMES)
def test_mx_odd_inputs(fmt):
    # python lists, float64 that round (or overflow to +-inf -> error) in the float32 conversion,
    # an empty non-block axis, 1-element arrays
    _check_mx([1.0, -2.5, 3.25, 1e-40], fmt, 2, -1, "even", "list")
    x64 = np.array([1 + 2.0**-30, 3.0000001, -7.77e-39, 1e-46, -(2.0**-150)])
    _check_mx(x64, fmt, 32, 0, "nearest", "float64")
    _check_mx(np.zeros((0, 5), np.float32), fmt, 4, -1, "even", "empty")
    _check_mx(np.array([-3.0], np.float32), fmt, 32, 0, "even", "one")
    x = np.random.default_rng(3).standard_normal((3, 40)).astype(">f4")
    _check_mx(x, fmt, 32, -1, "even", "big-endian")
    _check_mx(x[:, ::3], fmt, 4, -1, "nearest", "strided view")


@pytest.mark.parametrize("fmt", MX_NAMES)
def test_mx_errors_unchanged(fmt):
    x = np.ones((2, 8), np.float32)
    for bad in (np.nan, np.inf, -np.inf):
        y = x.copy()
        y[1, 3] = bad
        y[0, 7] = bad
        _assert_same_error(mx_quantize, _ref_mx_quantize, y, fmt, 4)
        _assert_same_error(mx_encode, _ref_mx_encode, y, fmt, 4)
    with np.errstate(over="ignore"):
        _assert_same_error(mx_quantize, _ref_mx_quantize, np.array([1e39, 1.0]), fmt)
    _assert_same_error(mx_quantize, _ref_mx_quantize, x, fmt, 0)
    _assert_same_error(mx_quantize, _ref_mx_quantize, x, fmt, 4, 2)
    _assert_same_error(mx_quantize, _ref_mx_quantize, x, fmt, 4, -1, "nearest_even")
    _assert_same_error(mx_quantize, _ref_mx_quantize, x, "fp5", 4)
    _assert_same_error(mx_quantize, _ref_mx_quantize, np.float32(1.0), fmt)


@pytest.mark.parametrize("rnd", MX_ROUNDINGS)
@pytest.mark.parametrize("fmt", MX_NAMES)
def test_mx_encode_unchanged(fmt, rnd):
    rng = np.random.default_rng([19, MX_NAMES.index(fmt), MX_ROUNDINGS.index(rnd)])
    x = _mx_mixture(rng, (12, 70))
    for bs, axis in ((32, -1), (5, 0)):
        gs, gc = mx_encode(x, fmt, bs, axis, rnd)
        ws, wc = _ref_mx_encode(x, fmt, bs, axis, rnd)
        assert_bits_equal(gs, ws, None, f"scales {fmt}/{rnd}/{bs}")
        assert_bits_equal(gc, wc, None, f"codes {fmt}/{rnd}/{bs}")


# --------------------------------------------------------------------------------------------
# N:M tests
# --------------------------------------------------------------------------------------------
NM_CASES = [(1, 2), (2, 4), (1, 4), (3, 4), (4, 8), (2, 8), (1, 8), (7, 8), (2, 3), (3, 5)]
NM_CASES += [(5, 16), (8, 16), (15, 16), (1, 16), (4, 4), (1, 1), (2, 6), (3, 20)]
NM_DTYPES = ["float32", "float64", "float16", "int8", "int16", "int32", "int64"]


def _nm_data(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Few distinct magnitudes (many ties), both signs, zeros, and the dtype's extremes."""
    dt = np.dtype(dtype)
    if dt.kind == "f":
        x = rng.integers(-4, 5, shape).astype(dt) * dt.type(0.5)
        wide = rng.standard_normal(shape).astype(dt)
        x = np.where(rng.random(shape) < 0.3, wide, x)
        flat = x.reshape(-1)
        flat[rng.random(flat.size) < 0.05] = -0.0
        flat[rng.random(flat.size) < 0.01] = np.inf
        flat[rng.random(flat.size) < 0.01] = -np.inf
        flat[rng.random(flat.size) < 0.01] = np.finfo(dt).smallest_subnormal
        flat[rng.random(flat.size) < 0.01] = -np.finfo(dt).max
        return x
    info = np.iinfo(dt)
    x = rng.integers(-3, 4, shape).astype(dt)
    flat = x.reshape(-1)
    flat[rng.random(flat.size) < 0.05] = info.min
    flat[rng.random(flat.size) < 0.05] = info.max
    flat[rng.random(flat.size) < 0.05] = -info.max
    return x


def _check_nm(x: Any, n: int, m: int, axis: int = -1, what: str = "") -> None:
    label = f"{what} {n}:{m} axis={axis} dtype={np.asarray(x).dtype}"
    gm = nm_mask(x, n, m, axis)
    assert_bits_equal(gm, _ref_nm_mask(x, n, m, axis), x, "mask " + label)
    gp = nm_prune(x, n, m, axis)
    assert gp.flags.c_contiguous
    assert_bits_equal(gp, _ref_nm_prune(x, n, m, axis), x, "prune " + label)


@pytest.mark.parametrize("dtype", NM_DTYPES)
@pytest.mark.parametrize("nm", NM_CASES, ids=[f"{n}:{m}" for n, m in NM_CASES])
def test_nm_random_with_ties(nm, dtype):
    n, m = nm
    rng = np.random.default_rng([n, m, NM_DTYPES.index(dtype)])
    x = _nm_data(rng, (6, 8 * m + 3), dtype)  # tail group of 3
    _check_nm(x, n, m, -1, "rows")
    _check_nm(x, n, m, 0, "axis 0")
    _check_nm(x[:, : 4 * m], n, m, -1, "no tail")
    _check_nm(x.reshape(2, 3, -1), n, m, 1, "3-d middle axis")


@pytest.mark.parametrize("nm", [(2, 4), (1, 2), (4, 8), (3, 8), (5, 16), (3, 5)])
def test_nm_large_many_chunks(nm):
    n, m = nm
    rng = np.random.default_rng([23, n, m])
    x = _nm_data(rng, (300, 560), "float32")
    x[7] = 1.0  # all-equal rows: ties everywhere
    x[8] = -0.0
    _check_nm(x, n, m, -1, "large")
    _check_nm(x[:, :557], n, m, -1, "large tail")
    _check_nm(np.asfortranarray(x), n, m, -1, "fortran order")
    _check_nm(x[::2, ::3], n, m, -1, "strided view")


@pytest.mark.parametrize("chunk", [12, 1000])
def test_nm_small_chunks(chunk, monkeypatch):
    import golden.sparsity

    monkeypatch.setattr(golden.sparsity, "_NM_CHUNK_ELEMS", chunk)
    rng = np.random.default_rng([37, chunk])
    x = _nm_data(rng, (30, 77), "float32")
    xi = _nm_data(rng, (30, 77), "int16")
    for n, m in ((2, 4), (3, 8), (1, 2), (2, 5), (4, 16)):
        _check_nm(x, n, m, -1, f"chunk={chunk}")
        _check_nm(xi, n, m, 0, f"chunk={chunk}")


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "uint64", "bool", "complex64", ">f4", ">i2"])
def test_nm_other_dtypes(dtype):
    """Dtypes outside the pairwise path (kept on the sorting path, unsigned ones with its
    wrapping ranking), and non-native byte order."""
    rng = np.random.default_rng(29)
    sign = 1 if dtype[0] in "ub" else rng.choice([-1, 1], (4, 27))
    x = (rng.integers(0, 4, (4, 27)) * sign).astype(dtype)
    for n, m in ((2, 4), (1, 3), (4, 8)):
        _check_nm(x, n, m, -1, "other")
        _check_nm(x, n, m, 0, "other axis 0")


def test_nm_directed_ties_and_examples():
    x = np.array([[3.0, -3.0, 3.0, 3.0, 0.0, -0.0, 0.0, 1.0]], np.float32)
    for n, m in ((1, 4), (2, 4), (3, 4), (1, 2), (2, 8), (5, 8)):
        _check_nm(x, n, m, -1, "ties")
    i8 = np.array([-128, 127, -127, 127, 0, -128, 1, -1], np.int8)
    for n, m in ((1, 2), (2, 4), (1, 4), (3, 8)):
        _check_nm(i8, n, m, 0, "int8 extremes")
    i64 = np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max, -1, 0], np.int64)
    _check_nm(i64, 1, 4, 0, "int64 min")
    _check_nm(i64, 2, 4, 0, "int64 min")
    _check_nm([1, -5, 2, 5, 0], 2, 4, 0, "list")
    _check_nm(np.ones((3, 0)), 2, 4, 0, "empty non-group axis")


def test_nm_errors_unchanged():
    x = np.ones((2, 8), np.float32)
    y = x.copy()
    y[1, 5] = np.nan
    for fast, ref in ((nm_mask, _ref_nm_mask), (nm_prune, _ref_nm_prune)):
        _assert_same_error(fast, ref, y, 2, 4)
        _assert_same_error(fast, ref, y.astype(np.float16), 2, 4)
        _assert_same_error(fast, ref, y.astype(np.float64), 1, 2, 0)
        _assert_same_error(fast, ref, x, 5, 4)
        _assert_same_error(fast, ref, x, 0, 4)
        _assert_same_error(fast, ref, x, 2, 4, 3)
        _assert_same_error(fast, ref, np.ones((3, 0)), 2, 4)
        _assert_same_error(fast, ref, np.float32(1.0), 1, 1)
