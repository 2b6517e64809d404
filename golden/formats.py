"""Golden number formats: HBFP, OCP MX (microxcaling semantics) and per-channel INT8.

Pure NumPy. The semantics are fixed by ``REFERENCE.md`` sections 1-3 and documented in
``docs/golden.md``; the RTL and every cocotb scoreboard are checked against these functions.

HBFP in one paragraph: blocks of ``block_size`` consecutive elements along ``axis`` (a short tail
is zero-padded internally) share an exponent ``e = max(field, 1) - 126`` where ``field`` is the
largest FP32 exponent field in the block (so ``e = floor(log2 max|x|) + 1`` for normal inputs,
and an all-zero block gets ``e = -125``). Each element becomes a signed integer
``q = RNE(x / 2^(e - m))`` saturated to ``[-(2^m - 1), 2^m - 1]``; its value is ``q * 2^(e - m)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from golden._common import check_choice, check_int, from_blocks, norm_axis, to_blocks
from golden.facts import MAX_BLOCK_EXP, MX_FORMATS, ZERO_BLOCK_EXP, MXFormat

__all__ = [
    "HBFP_ROUNDINGS",
    "MX_FORMATS",
    "MX_ROUNDINGS",
    "INT8_MODES",
    "ZERO_BLOCK_EXP",
    "MXFormat",
    "hbfp_quantize",
    "hbfp_encode",
    "hbfp_decode",
    "mx_quantize",
    "mx_encode",
    "mx_decode",
    "int8_quantize",
    "int8_encode",
]

HBFP_ROUNDINGS = ("nearest_even", "stochastic")
MX_ROUNDINGS = ("even", "nearest")
INT8_MODES = ("symmetric", "asymmetric")


# --------------------------------------------------------------------------------------------
# HBFP
# --------------------------------------------------------------------------------------------
def _pow2_f32(k: np.ndarray) -> np.ndarray:
    """Exact float32 ``2**k`` for integer ``k`` in [-149, 127] (subnormals included)."""
    return np.ldexp(np.ones(k.shape, np.float32), k.astype(np.int32))


def _hbfp_prepare(
    x: Any, mant_bits: Any, block_size: Any, axis: Any, rounding: Any
) -> tuple[np.ndarray, int, int, int, np.ndarray]:
    """Validate arguments, move ``axis`` last and block the data.

    Returns ``(x32, ax, m, B, xb)``: the float32 input, the normalized axis, the widths and
    the blocked data ``(..., G, B)`` (a view of ``x32`` unless padding or a move forced a copy).
    """
    m = check_int(mant_bits, "mant_bits", 1, 15)
    bs = check_int(block_size, "block_size", 1)
    check_choice(rounding, "rounding", HBFP_ROUNDINGS)
    with np.errstate(over="ignore"):  # out-of-range float64 becomes Inf, rejected later
        x32 = np.asarray(x, dtype=np.float32)
    ax = norm_axis(x32, axis)
    xm = x32 if ax == x32.ndim - 1 else np.moveaxis(x32, ax, -1)
    return x32, ax, m, bs, to_blocks(xm, bs)


def _block_shift(xb: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Shared exponents ``e`` (int32, ``xb.shape[:-1]``) and ``shift = m - e``.

    Raises ``ValueError`` if a block holds NaN/Inf.
    """
    # Integer max of the magnitude bits: for finite floats the bit pattern with the sign cleared
    # orders like |x|, and integer reductions vectorize where float max (NaN-aware) does not
    # (4x faster on 64-element blocks). Inf/NaN patterns sort above every finite one.
    amax_bits = np.bitwise_and(xb.view(np.int32), np.int32(0x7FFFFFFF)).max(axis=-1)
    if amax_bits.size and amax_bits.max() >= 0x7F800000:
        bad = xb[~np.isfinite(xb)]
        raise ValueError(
            f"x contains {bad.size} non-finite value(s) (first: {bad.flat[0]!r}); "
            "HBFP has no encoding for NaN/Inf"
        )
    # The largest magnitude carries the largest exponent field; field 0 (zero, subnormal)
    # reads as 1, the same scale 2^-126 the subnormal significand 0.f uses.
    e = (np.maximum(amax_bits >> 23, 1) - 126).astype(np.int32)
    return e, (m - e).astype(np.int32)


def _hbfp_nearest(
    xb: np.ndarray, shift: np.ndarray, m: int, out: np.ndarray | None = None
) -> np.ndarray:
    """Float32 array ``(..., G, B)`` of RNE-rounded, saturated mantissas (integral values)."""
    # shift lies in [m - 128, m + 125]; float32 powers of two stop at 2^127, so blocks of tiny
    # numbers (shift > 127, rare) get a second exact multiplication below. Any product that
    # underflows has true magnitude < 2^-126, far below 0.5, so it rounds to 0 either way.
    v = np.multiply(xb, _pow2_f32(np.minimum(shift, 127))[..., None], out=out)
    big = shift > 127
    if big.any():
        v[big] *= _pow2_f32(shift[big] - 127)[..., None]
    np.rint(v, out=v)  # half to even, exact on the exact products above
    qmax = np.float32(2**m - 1)
    np.clip(v, -qmax, qmax, out=v)
    return v


#: Elements per chunk of the fast quantize path: the chunk and its temporaries stay in cache.
_CHUNK_ELEMS = 1 << 18


def _hbfp_stochastic(
    xb: np.ndarray, shift: np.ndarray, m: int, k: np.ndarray, offset_bits: int
) -> np.ndarray:
    """Int64 mantissas ``floor((floor(v * 2^b) + k) / 2^b)`` saturated, ``v = x * 2^shift``.

    float64 holds ``v * 2^b`` exactly (24 significant bits, exponent well inside range), so the
    integer definition shared with the RTL's LFSR rounding is evaluated without error.
    """
    v = xb.astype(np.float64) * np.ldexp(1.0, shift.astype(np.int64) + offset_bits)[..., None]
    t = np.floor(v).astype(np.int64)
    q = (t + k) >> offset_bits  # arithmetic shift == floor division, also for negative t
    qmax = 2**m - 1
    return np.clip(q, -qmax, qmax)


def _stochastic_offsets(
    x32: np.ndarray, ax: int, bs: int, seed: Any, offsets: Any, offset_bits: int
) -> np.ndarray:
    """Offsets ``k`` in x's shape (drawn or given), moved and blocked like the data."""
    if offsets is None:
        k = np.random.default_rng(seed).integers(0, 2**offset_bits, x32.shape, dtype=np.int64)
    else:
        k = np.asarray(offsets)
        if k.shape != x32.shape:
            raise ValueError(f"offsets must have x's shape {x32.shape}, got {k.shape}")
        if not np.issubdtype(k.dtype, np.integer):
            raise ValueError(f"offsets must be an integer array, got dtype {k.dtype}")
        k = k.astype(np.int64)
        if k.size and (k.min() < 0 or k.max() >= 2**offset_bits):
            raise ValueError(
                f"offsets must lie in [0, 2**offset_bits) = [0, {2**offset_bits}), "
                f"got values in [{k.min()}, {k.max()}]"
            )
    if ax != k.ndim - 1:
        k = np.moveaxis(k, ax, -1)
    return to_blocks(k, bs)


def _check_offset_args(rounding: str, offsets: Any, offset_bits: Any) -> int:
    check_choice(rounding, "rounding", HBFP_ROUNDINGS)
    ob = check_int(offset_bits, "offset_bits", 1, 32)
    if offsets is not None and rounding != "stochastic":
        raise ValueError(f"offsets only apply to rounding='stochastic', got rounding={rounding!r}")
    return ob


def hbfp_quantize(
    x: Any,
    mant_bits: int,
    block_size: int,
    axis: int = -1,
    rounding: str = "nearest_even",
    seed: Any = None,
) -> np.ndarray:
    """Quantize to HBFP and return the float32 values on the HBFP grid.

    Parameters
    ----------
    x : array_like
        Input; converted to float32 first (the format is defined on FP32 bit patterns).
    mant_bits : int
        Magnitude mantissa bits ``m`` in 1..15 (HBFP8 -> 7, HBFP6 -> 5, HBFP4 -> 3).
    block_size : int
        Elements per block along ``axis`` (any value >= 1; a short tail is zero-padded).
    axis : int
        Block (reduction) axis.
    rounding : {"nearest_even", "stochastic"}
        Round half to even, or the integer stochastic rule of :func:`hbfp_encode`.
    seed : int, numpy.random.Generator seed, or None
        Seed of the stochastic offsets (``np.random.default_rng(seed)``).

    Returns
    -------
    numpy.ndarray
        float32, same shape as ``x``; ``q * 2^(e - m)`` exactly. A negative input that
        rounds to zero gives ``-0.0`` (IEEE sign kept, equal to ``0.0`` under ``==``).

    Raises
    ------
    ValueError
        NaN/Inf in ``x``, ``mant_bits`` outside 1..15 or not an integer, ``block_size < 1``,
        unknown ``rounding``, an empty ``axis``.
    """
    x32, ax, m, bs, xb = _hbfp_prepare(x, mant_bits, block_size, axis, rounding)
    if rounding == "stochastic":
        e, shift = _block_shift(xb, m)
        k = _stochastic_offsets(x32, ax, bs, seed, None, 24)
        v = _hbfp_stochastic(xb, shift, m, k, 24).astype(np.float32)
        # e - m lies in [-140, 127]: 2^(e-m) and every q * 2^(e-m) are exact float32 numbers.
        np.multiply(v, _pow2_f32(-shift)[..., None], out=v)
    else:
        # Chunks of whole blocks keep each pass (exponent, scale, round, clip, rescale) in
        # cache: one read of x and one write of the result from/to memory, not five.
        flat = xb.reshape(-1, bs)
        v = np.empty(flat.shape, np.float32)
        step = max(1, _CHUNK_ELEMS // bs)
        for b0 in range(0, flat.shape[0], step):
            chunk, o = flat[b0 : b0 + step], v[b0 : b0 + step]
            _, shift = _block_shift(chunk, m)
            _hbfp_nearest(chunk, shift, m, out=o)
            np.multiply(o, _pow2_f32(-shift)[:, None], out=o)
        v = v.reshape(xb.shape)
    out = from_blocks(v, x32.shape[ax])
    return out if ax == x32.ndim - 1 else np.ascontiguousarray(np.moveaxis(out, -1, ax))


def hbfp_encode(
    x: Any,
    mant_bits: int,
    block_size: int,
    axis: int = -1,
    rounding: str = "nearest_even",
    seed: Any = None,
    *,
    offsets: Any = None,
    offset_bits: int = 24,
) -> tuple[np.ndarray, np.ndarray]:
    """Encode to HBFP: shared block exponents and signed integer mantissas.

    Parameters
    ----------
    x, mant_bits, block_size, axis, rounding, seed
        As in :func:`hbfp_quantize`.
    offsets : array of int, optional
        Stochastic rounding only: the offsets ``k`` in ``[0, 2^offset_bits)``, one per element
        of ``x`` (same shape). The RTL converter's golden twin passes its LFSR values here.
        Default: ``np.random.default_rng(seed).integers(0, 2**offset_bits, x.shape)``.
    offset_bits : int
        Width ``b`` of the stochastic offsets, 1..32.

    Returns
    -------
    exponents : numpy.ndarray
        int32, ``x``'s shape with the ``axis`` length ``L`` replaced by ``ceil(L/block_size)``;
        values in [-125, 128].
    mantissas : numpy.ndarray
        int32, ``x``'s shape, in ``[-(2^m - 1), 2^m - 1]``.

    Notes
    -----
    Stochastic rounding is defined in integers, with ``v = x / 2^(e - m)`` exact:
    ``q = floor((floor(v * 2^b) + k) / 2^b)``, then saturation to ``±(2^m - 1)``.
    """
    ob = _check_offset_args(rounding, offsets, offset_bits)
    x32, ax, m, bs, xb = _hbfp_prepare(x, mant_bits, block_size, axis, rounding)
    e, shift = _block_shift(xb, m)
    if rounding == "stochastic":
        k = _stochastic_offsets(x32, ax, bs, seed, offsets, ob)
        q = _hbfp_stochastic(xb, shift, m, k, ob).astype(np.int32)
    else:
        q = _hbfp_nearest(xb, shift, m).astype(np.int32)
    q = from_blocks(q, x32.shape[ax])
    if ax != x32.ndim - 1:
        q, e = np.moveaxis(q, -1, ax), np.moveaxis(e, -1, ax)
    return np.ascontiguousarray(e), np.ascontiguousarray(q)


def hbfp_decode(
    exponents: Any, mantissas: Any, mant_bits: int, block_size: int, axis: int = -1
) -> np.ndarray:
    """Decode HBFP blocks to float32: ``q * 2^(e - m)`` (exact), the inverse of
    :func:`hbfp_encode`.

    Parameters
    ----------
    exponents : array of int
        Shape of ``mantissas`` with the ``axis`` length ``L`` replaced by
        ``ceil(L/block_size)``; each ``e`` must satisfy ``m - 149 <= e <= 128`` (the range
        in which every value is an exact float32).
    mantissas : array of int
        Values in ``[-(2^m - 1), 2^m - 1]``.
    mant_bits, block_size, axis
        As in :func:`hbfp_encode`.

    Returns
    -------
    numpy.ndarray
        float32, shape of ``mantissas``.
    """
    m = check_int(mant_bits, "mant_bits", 1, 15)
    bs = check_int(block_size, "block_size", 1)
    q = np.asarray(mantissas)
    e = np.asarray(exponents)
    for name, a in (("mantissas", q), ("exponents", e)):
        if not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"{name} must be an integer array, got dtype {a.dtype}")
    ax = norm_axis(q, axis)
    n = q.shape[ax]
    want = q.shape[:ax] + (-(-n // bs),) + q.shape[ax + 1 :]
    if e.shape != want:
        raise ValueError(f"exponents must have shape {want} for these mantissas, got {e.shape}")
    qmax = 2**m - 1
    if q.size and (q.min() < -qmax or q.max() > qmax):
        raise ValueError(
            f"mantissas must lie in [-{qmax}, {qmax}] for mant_bits={m}, "
            f"got values in [{q.min()}, {q.max()}]"
        )
    if e.size and (e.min() < m - 149 or e.max() > MAX_BLOCK_EXP):
        raise ValueError(
            f"exponents must lie in [{m - 149}, {MAX_BLOCK_EXP}] for mant_bits={m}, "
            f"got values in [{e.min()}, {e.max()}]"
        )
    qm = np.moveaxis(q, ax, -1).astype(np.float32)
    em = np.moveaxis(e, ax, -1).astype(np.int32)
    v = to_blocks(qm, bs) * _pow2_f32(em - m)[..., None]
    return np.ascontiguousarray(np.moveaxis(from_blocks(v, n), -1, ax))


# --------------------------------------------------------------------------------------------
# MX (OCP Microscaling), microxcaling semantics evaluated exactly (float64)
# --------------------------------------------------------------------------------------------


def _floor_log2(a: np.ndarray) -> np.ndarray:
    """Exact ``floor(log2(a))`` for positive finite float64 ``a`` (via frexp, no log)."""
    return np.frexp(a)[1].astype(np.int64) - 1


def _mx_prepare(
    x: Any, elem_format: Any, block_size: Any, rounding: Any
) -> tuple[MXFormat, int, np.ndarray]:
    """Validate the arguments and convert ``x``; returns ``(fmt, block_size, x32)``."""
    fmt_name = check_choice(elem_format, "elem_format", tuple(MX_FORMATS))
    fmt = MX_FORMATS[fmt_name]
    bs = check_int(block_size, "block_size", 1)
    check_choice(rounding, "rounding", MX_ROUNDINGS)
    return fmt, bs, np.asarray(x, dtype=np.float32)


def _mx_nonfinite(x32: np.ndarray) -> ValueError:
    bad = x32[~np.isfinite(x32)]
    return ValueError(
        f"x contains {bad.size} non-finite value(s) (first: {bad.flat[0]!r}); "
        "the golden MX model accepts finite inputs only"
    )


def _mx_round_exact(xb: np.ndarray, fmt: MXFormat, rounding: str) -> tuple[np.ndarray, np.ndarray]:
    """Scale exponents ``s`` and quantized elements ``a_q`` of finite blocks ``(..., G, B)``,
    evaluated in float64 (exact): the definition the fast float32 path must reproduce."""
    xb = xb.astype(np.float64)
    amax = np.abs(xb).max(axis=-1)
    # Library: floor(log2(amax + 2^-126 * (amax == 0))), minus emax, clamped at -127.
    s = _floor_log2(np.where(amax == 0, 2.0**-126, amax)) - fmt.emax
    s = np.maximum(s, -127)
    a = np.ldexp(xb, -s[..., None])  # exact: x is float32, |s| <= 127
    if fmt.ebits:
        absa = np.abs(a)
        # Private exponent; the library takes log2(|a| + (a == 0)), i.e. 0 for zeros.
        p = np.maximum(_floor_log2(np.where(absa == 0, 1.0, absa)), fmt.min_exp)
        sh = fmt.frac_bits - p
    else:
        sh = np.int64(fmt.frac_bits)
    scaled = np.ldexp(a, sh)
    if rounding == "even":
        r = np.rint(scaled)
    else:  # half away from zero; |scaled| + 0.5 is exact in float64 here
        r = np.copysign(np.floor(np.abs(scaled) + 0.5), scaled)
    aq = np.clip(np.ldexp(r, -sh), -fmt.max_norm, fmt.max_norm)
    return s, aq


def _mx_elements(
    x: Any, elem_format: Any, block_size: Any, axis: Any, rounding: Any
) -> tuple[MXFormat, int, int, np.ndarray, np.ndarray, tuple[int, ...]]:
    """Validate, block and quantize. Returns ``(fmt, ax, L, s, a_q, shape)``.

    ``s`` (int64, ``(..., G)``): shared scale exponents; ``a_q`` (float64, ``(..., G, B)``):
    quantized elements in element units (exact multiples of the element grid, clamped to
    ``±max_norm``), so the value is ``a_q * 2^s``.
    """
    fmt, bs, x32 = _mx_prepare(x, elem_format, block_size, rounding)
    ax = norm_axis(x32, axis)
    if not np.isfinite(x32).all():
        raise _mx_nonfinite(x32)
    s, aq = _mx_round_exact(to_blocks(np.moveaxis(x32, ax, -1), bs), fmt, rounding)
    return fmt, ax, x32.shape[ax], s, aq, x32.shape


#: Elements per chunk of the fast MX path (whole blocks): the chunk and its few int32/float32
#: temporaries stay in cache, so x is read from memory once and the result written once.
_MX_CHUNK_ELEMS = 1 << 17


def _block_max_i32(u: np.ndarray, work: np.ndarray) -> np.ndarray:
    """Max over the last axis of a C-contiguous ``(nb, B)`` int32 array.

    A reduction over a short inner axis pays numpy's per-row overhead (``max(axis=-1)`` on
    32-element rows runs at a fraction of memory speed); halving the flat array pairwise keeps
    every pass one long strided loop, and pairs never straddle two blocks while B is even.
    ``work``: int32 scratch of ``3 * u.size // 4`` elements (two ping-pong halves).
    """
    nb, w = u.shape
    r = u.reshape(-1)
    bufs = (work[: r.size // 2], work[r.size // 2 :])
    i = 0
    while w % 2 == 0:
        half = r.size // 2
        r = np.maximum(r[0::2], r[1::2], out=bufs[i][:half])
        i ^= 1
        w //= 2
    return r if w == 1 else r.reshape(nb, w).max(axis=-1)


def _mx_quantize_fast(
    c: np.ndarray,
    fmt: MXFormat,
    rounding: str,
    out: np.ndarray,
    work: tuple[np.ndarray, ...],
    x32: np.ndarray,
) -> None:
    """Quantize the float32 blocks ``c`` ``(nb, B)`` into ``out`` (same shape), bit-exactly
    as :func:`_mx_round_exact` + rescale, working on float32 bit patterns.

    The exact result rounds ``x`` to a multiple of ``2^k`` with, per element,
    ``k = max(E, s + min_exp) - frac_bits`` (``E = floor(log2|x|)``; int8: ``k = s - 6``) and
    clamps it to ``±max_norm * 2^s``; that value is always a float32, so exact float32
    arithmetic can reach it:

    * ``s`` comes from the largest exponent field of the block (field 0, a zero or subnormal
      maximum, gives the clamp -127; the definition has -126 for an all-zero int8 block,
      which changes no output bit);
    * ``M = 2^(k + 23)`` is built from the exponent fields: ``max(field(x), field(2^(s +
      min_exp)))`` plus ``23 - frac_bits``. ``|x| + M`` lies in ``[2^(k+23), 2^(k+24))``,
      whose float32 spacing is ``2^k``, so the one IEEE rounding of the sum is round-half-even
      of ``|x| / 2^k`` (M is an even multiple of 2^k), and ``(|x| + M) - M`` is exact;
    * half away from zero: with ``M' = M + 2^k`` (odd) the same sum rounds ties to odd; the
      larger of the two results is the tie rounded up, non-ties agree;
    * clamp, then restore the sign bit of ``x`` (keeps ``-0.0``).

    Blocks whose scale puts ``M`` above 2^127 (``s > 104 - emax + frac_bits``, block maxima
    of ~2^106 and more) or where float32 subnormals would need the exact ``E`` (``s < -127 -
    min_exp``, maxima below ~2^-112) are recomputed by the float64 definition.
    ``work``: int32 scratch, three of ``c.size`` elements and one of ``3 * c.size // 4`` (tree).
    """
    f = fmt.frac_bits
    min_exp = fmt.min_exp if fmt.ebits else 0  # int8: every element on the grid 2^(s - 6)
    n = c.size
    bits = c.view(np.int32)
    u, m, t = (w[:n].reshape(c.shape) for w in work[:3])
    np.bitwise_and(bits, np.int32(0x7FFFFFFF), out=u)
    amax = _block_max_i32(u, work[3])
    if amax.size and amax.max() >= 0x7F800000:
        raise _mx_nonfinite(x32)
    s = np.maximum((amax >> 23) - (127 + fmt.emax), -127)
    # An all-zero block (amax 0) is exact on the fast path too: (0 + M) - M = +0, sign restored.
    slow = ((s < -127 - min_exp) & (amax != 0)) | (s > 104 - fmt.emax + f)
    floor23 = (s + (127 + min_exp)) << 23  # bits of 2^(s + min_exp)
    bound = np.ldexp(np.float32(fmt.max_norm), s)  # exact float32, normal or not
    np.bitwise_and(u, np.int32(0x7F800000), out=m)
    np.maximum(m, floor23[:, None], out=m)
    np.add(m, np.int32((23 - f) << 23), out=m)
    a = u.view(np.float32)
    big = m.view(np.float32)
    tf = t.view(np.float32)
    np.add(a, big, out=tf)
    np.subtract(tf, big, out=tf)
    if rounding == "nearest":
        np.add(m, np.int32(1), out=m)
        np.add(a, big, out=a)  # |x| is not needed any more
        np.subtract(a, big, out=a)
        np.maximum(tf, a, out=tf)
    np.minimum(tf, bound[:, None], out=tf)
    # Sign back by bits (copysign is several times slower): t >= 0, so t | sign(x).
    np.bitwise_and(bits, np.int32(-0x80000000), out=m)
    np.bitwise_or(t, m, out=out.view(np.int32))
    if slow.any():
        rows = np.flatnonzero(slow)
        s64, aq = _mx_round_exact(c[rows], fmt, rounding)
        out[rows] = np.ldexp(aq, s64[:, None]).astype(np.float32)


def mx_quantize(
    x: Any, elem_format: str, block_size: int = 32, axis: int = -1, rounding: str = "even"
) -> np.ndarray:
    """Quantize to an OCP MX format and return float32 values (microxcaling semantics).

    Parameters
    ----------
    x : array_like
        Finite input, converted to float32 first.
    elem_format : {"int8", "fp8_e4m3", "fp8_e5m2", "fp6_e3m2", "fp6_e2m3", "fp4_e2m1"}
        Element format.
    block_size : int
        Elements sharing one E8M0 scale along ``axis`` (OCP: 32); a short tail is zero-padded.
    axis : int
        Block axis.
    rounding : {"even", "nearest"}
        Half to even, or half away from zero (the library's ``"nearest"``).

    Returns
    -------
    numpy.ndarray
        float32 of ``x``'s shape: ``element * 2^s``, exact.

    Notes
    -----
    Steps (REFERENCE.md section 2): ``s = max(floor(log2 amax) - emax, -127)`` (all-zero block:
    ``amax = 2^-126``); ``a = x / 2^s``; fp formats round ``a`` to ``frac_bits`` fraction bits
    at private exponent ``p = max(floor(log2|a|), 2 - 2^(ebits-1))`` (denormals kept), int8 to
    ``a * 64``; then clamp to ``±max_norm``. Evaluated exactly (float64 + frexp), which is what
    the library computes except where its own float32 ``log2`` mis-rounds (see docs/golden.md).
    The fast path reaches the same bits with exact float32 arithmetic on the FP32 exponent
    fields, chunk by chunk (see ``_mx_quantize_fast``).
    """
    fmt, bs, x32 = _mx_prepare(x, elem_format, block_size, rounding)
    ax = norm_axis(x32, axis)
    xb = to_blocks(x32 if ax == x32.ndim - 1 else np.moveaxis(x32, ax, -1), bs)
    flat = xb.reshape(-1, bs)
    v = np.empty(flat.shape, np.float32)
    step = max(1, _MX_CHUNK_ELEMS // bs)
    ce = min(step, flat.shape[0]) * bs
    # Scratch allocated once: fresh chunk-sized temporaries would be mmap'ed and page-faulted
    # again on every chunk.
    work = tuple(np.empty(k, np.int32) for k in (ce, ce, ce, 3 * ce // 4 + 1))
    # Blocks sent to the float64 path may overflow/NaN in the discarded float32 results.
    with np.errstate(over="ignore", invalid="ignore"):
        for b0 in range(0, flat.shape[0], step):
            _mx_quantize_fast(flat[b0 : b0 + step], fmt, rounding, v[b0 : b0 + step], work, x32)
    out = from_blocks(v.reshape(xb.shape), x32.shape[ax])
    return np.ascontiguousarray(np.moveaxis(out, -1, ax))


def mx_encode(
    x: Any, elem_format: str, block_size: int = 32, axis: int = -1, rounding: str = "even"
) -> tuple[np.ndarray, np.ndarray]:
    """Encode to MX: E8M0 scales and element codes.

    Returns
    -------
    scales : numpy.ndarray
        uint8, ``s + 127`` (E8M0, bias 127); ``x``'s shape with the ``axis`` length ``L``
        replaced by ``ceil(L/block_size)``. Never 255 (NaN) for finite input.
    codes : numpy.ndarray
        ``x``'s shape. fp formats: uint8 bit pattern ``sign | exponent | fraction`` (right
        aligned, e.g. 6 bits for fp6); a negative input that rounds to zero keeps its sign bit.
        int8: int8 two's complement of ``a * 64`` in [-127, 127].
    """
    fmt, ax, n, s, aq, _ = _mx_elements(x, elem_format, block_size, axis, rounding)
    if fmt.ebits == 0:
        codes = np.ldexp(aq, fmt.frac_bits).astype(np.int8)
    else:
        mag = np.abs(aq)
        sub = mag < 2.0**fmt.min_exp
        p = np.where(sub, fmt.min_exp, _floor_log2(np.where(mag == 0, 1.0, mag)))
        frac = np.ldexp(mag, fmt.frac_bits - p).astype(np.int64)  # exact integer
        frac = np.where(sub, frac, frac - 2**fmt.frac_bits)
        field = np.where(sub, 0, p + fmt.bias)
        sign = np.signbit(aq).astype(np.int64)
        codes = ((sign << (fmt.ebits + fmt.frac_bits)) | (field << fmt.frac_bits) | frac).astype(
            np.uint8
        )
    scales = (s + 127).astype(np.uint8)
    codes = from_blocks(codes, n)
    return (
        np.ascontiguousarray(np.moveaxis(scales, -1, ax)),
        np.ascontiguousarray(np.moveaxis(codes, -1, ax)),
    )


def mx_decode(
    scales: Any, codes: Any, elem_format: str, block_size: int = 32, axis: int = -1
) -> np.ndarray:
    """Decode MX scales and element codes (as from :func:`mx_encode`) to float32, exactly.

    Raises ``ValueError`` for a NaN scale (255), codes wider than the format, and fp8
    NaN/Inf codes (E4M3 ``S.1111.111``, E5M2 exponent field 31).
    """
    fmt = MX_FORMATS[check_choice(elem_format, "elem_format", tuple(MX_FORMATS))]
    bs = check_int(block_size, "block_size", 1)
    c = np.asarray(codes)
    sc = np.asarray(scales)
    for name, a in (("codes", c), ("scales", sc)):
        if not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"{name} must be an integer array, got dtype {a.dtype}")
    ax = norm_axis(c, axis)
    n = c.shape[ax]
    want = c.shape[:ax] + (-(-n // bs),) + c.shape[ax + 1 :]
    if sc.shape != want:
        raise ValueError(f"scales must have shape {want} for these codes, got {sc.shape}")
    if sc.size and (sc.min() < 0 or sc.max() > 254):
        raise ValueError(f"scales must be E8M0 codes in [0, 254], got [{sc.min()}, {sc.max()}]")
    c = c.astype(np.int64)
    if fmt.ebits == 0:
        if c.size and (c.min() < -127 or c.max() > 127):
            raise ValueError(f"codes must lie in [-127, 127] for int8, got [{c.min()}, {c.max()}]")
        val = np.ldexp(c.astype(np.float64), -fmt.frac_bits)
    else:
        if c.size and (c.min() < 0 or c.max() >= 2**fmt.code_bits):
            raise ValueError(
                f"codes must lie in [0, {2**fmt.code_bits - 1}] for {fmt.name}, "
                f"got [{c.min()}, {c.max()}]"
            )
        frac = c & (2**fmt.frac_bits - 1)
        field = (c >> fmt.frac_bits) & (2**fmt.ebits - 1)
        sign = c >> (fmt.ebits + fmt.frac_bits)
        sig = np.where(field == 0, frac, frac + 2**fmt.frac_bits).astype(np.float64)
        p = np.where(field == 0, fmt.min_exp, field - fmt.bias)
        mag = np.ldexp(sig, p - fmt.frac_bits)
        if c.size and mag.max() > fmt.max_norm:
            raise ValueError(f"codes contain NaN/Inf patterns of {fmt.name}")
        val = np.where(sign == 1, -mag, mag)
    vb = to_blocks(np.moveaxis(val, ax, -1), bs)
    s = np.moveaxis(sc.astype(np.int64), ax, -1) - 127
    v = np.ldexp(vb, s[..., None]).astype(np.float32)
    return np.ascontiguousarray(np.moveaxis(from_blocks(v, n), -1, ax))


# --------------------------------------------------------------------------------------------
# INT8 per channel
# --------------------------------------------------------------------------------------------
def int8_encode(x: Any, axis: int = -1, mode: str = "symmetric") -> tuple[np.ndarray, ...]:
    """Per-channel INT8 quantization codes; one scale per slice, reducing over ``axis``.

    Computed in float32 like a framework fake-quantizer: ``amax = max|x|`` over ``axis``;
    ``"symmetric"``: ``scale = amax / 127``, ``q = clip(rint(x / scale), -127, 127)`` (int8);
    ``"asymmetric"`` (the interplay paper's): ``scale = 2 * amax / 255``, zero point 128,
    ``q = clip(rint(x / scale) + 128, 0, 255)`` (uint8). An all-zero channel has scale 0 and
    ``q`` at the zero point.

    Returns
    -------
    tuple
        ``(q, scale)`` for symmetric, ``(q, scale, zero_point)`` for asymmetric; ``scale``
        (float32) and ``zero_point`` (int32, all 128) keep ``axis`` with length 1.
    """
    check_choice(mode, "mode", INT8_MODES)
    x32 = np.asarray(x, dtype=np.float32)
    ax = norm_axis(x32, axis)
    if not np.isfinite(x32).all():
        raise ValueError("x contains NaN/Inf; INT8 quantization needs finite input")
    amax = np.abs(x32).max(axis=ax, keepdims=True)
    if mode == "symmetric":
        scale = amax / np.float32(127)
        safe = np.where(scale == 0, np.float32(1), scale)
        q = np.clip(np.rint(x32 / safe), -127, 127).astype(np.int8)
        return q, scale
    scale = np.float32(2) * amax / np.float32(255)
    safe = np.where(scale == 0, np.float32(1), scale)
    q = np.clip(np.rint(x32 / safe) + 128, 0, 255).astype(np.uint8)
    return q, scale, np.full(scale.shape, 128, np.int32)


def int8_quantize(x: Any, axis: int = -1, mode: str = "symmetric") -> np.ndarray:
    """Per-channel INT8 fake quantization (see :func:`int8_encode`); float32 of ``x``'s shape.

    Dequantized as ``q * scale`` (symmetric) or ``(q - 128) * scale`` (asymmetric), in float32.
    """
    enc = int8_encode(x, axis, mode)
    if mode == "symmetric":
        q, scale = enc
        return q.astype(np.float32) * scale
    q, scale, zp = enc
    return (q.astype(np.int32) - zp).astype(np.float32) * scale
