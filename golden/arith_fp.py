"""Golden twins of the FP32<->HBFP converter, the HBFP->FP32 normalizer and the FP32 MAC.

Pure NumPy and vectorized. Every function here is a bit-exact model of the Verilog that
``python -m gen convert|normalize|fp32mac`` emits (see ``docs/datapath_fp.md``):

- :func:`convert_blocks` models ``hw.convert.FP32ToHBFP``. Rounding itself is delegated to
  :func:`golden.formats.hbfp_encode` (one definition of HBFP for the whole project); this module
  adds what only the hardware has: the per-lane stochastic-rounding LFSR
  (:func:`lfsr_offsets`) and the NaN/Inf policy (``out_invalid``).
- :func:`normalize` models ``hw.normalize.HBFPToFP32``: ``acc * 2^(exp - frac_bits)`` rounded
  half to even to FP32, overflow to +-Inf, flush to signed zero on underflow.
- :func:`fp32_mul_ftz`, :func:`fp32_add_ftz`, :func:`fp32_mac_ftz` and :func:`fp32_mac_sequence`
  model ``hw.fp32mac.FP32MAC``: non-fused multiply then add, RNE, denormals flushed.

Float values travel as ``uint32`` FP32 bit patterns so that signed zeros and NaN payloads are
explicit.
"""

from __future__ import annotations

import numpy as np

from golden.formats import hbfp_encode

__all__ = [
    "LFSR_WIDTH",
    "LFSR_TAPS",
    "DEFAULT_LFSR_SEED",
    "INVALID_BLOCK_EXP",
    "CANONICAL_NAN",
    "lfsr_lane_seeds",
    "lfsr_step",
    "lfsr_sequence",
    "lfsr_offsets",
    "convert_blocks",
    "convert_block",
    "normalize",
    "fp32_mul_ftz",
    "fp32_add_ftz",
    "fp32_mac_ftz",
    "fp32_mac_sequence",
    "INT8_QMAX",
    "INT8_SCALE_FRAC",
    "quantize_int8",
    "dequantize_int8",
    "wrap_int32",
    "f32_bits",
    "bits_f32",
]

#: Fibonacci LFSR of the stochastic-rounding converter: 32 bits, feedback polynomial
#: x^32 + x^22 + x^2 + x + 1 (primitive, so every non-zero seed has period 2^32 - 1).
LFSR_WIDTH = 32
#: Taps in the usual 1-based numbering: the new bit is s[31] ^ s[21] ^ s[1] ^ s[0].
LFSR_TAPS = (32, 22, 2, 1)
#: Seed used when none is given (lane i derives its own state from it, see lfsr_lane_seeds).
DEFAULT_LFSR_SEED = 0x5EED
#: Shared exponent reported for a block holding a NaN or an Inf (one above the largest finite e).
INVALID_BLOCK_EXP = 129
#: The only NaN the FP32 MAC emits.
CANONICAL_NAN = 0x7FC00000

_MASK32 = np.uint64(0xFFFFFFFF)


def f32_bits(x: np.ndarray) -> np.ndarray:
    """FP32 values -> their ``uint32`` bit patterns."""
    return np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)


def bits_f32(b: np.ndarray) -> np.ndarray:
    """``uint32`` bit patterns -> FP32 values."""
    return np.ascontiguousarray(b, dtype=np.uint32).view(np.float32)


# ---- stochastic-rounding LFSR ---------------------------------------------------------------


def lfsr_lane_seeds(block_size: int, seed: int = DEFAULT_LFSR_SEED) -> np.ndarray:
    """Reset state of each lane's LFSR: ``(seed + 0x9E3779B9 * (i + 1)) mod 2^32`` (0 -> 1).

    The golden-ratio stride spreads the lanes far apart along the one m-sequence, so that
    neighbouring lanes do not round in lock step. A zero state would lock the LFSR, hence 0 -> 1.
    """
    i = np.arange(1, block_size + 1, dtype=np.uint64)
    s = (np.uint64(seed & 0xFFFFFFFF) + np.uint64(0x9E3779B9) * i) & _MASK32
    return np.where(s == 0, np.uint64(1), s)


def lfsr_step(state: np.ndarray, steps: int = 1) -> np.ndarray:
    """Advance LFSR states (``uint64`` holding 32 bits) by ``steps`` single-bit shifts.

    One shift: ``s <- ((s << 1) | (s[31] ^ s[21] ^ s[1] ^ s[0])) mod 2^32``.
    """
    s = np.asarray(state, dtype=np.uint64).copy()
    one = np.uint64(1)
    for _ in range(steps):
        fb = ((s >> np.uint64(31)) ^ (s >> np.uint64(21)) ^ (s >> one) ^ s) & one
        s = ((s << one) | fb) & _MASK32
    return s


def lfsr_sequence(
    n_blocks: int, block_size: int, offset_bits: int, seed: int = DEFAULT_LFSR_SEED
) -> np.ndarray:
    """LFSR state of every lane before each of ``n_blocks`` accepted blocks: ``uint64 [n, k]``.

    The hardware advances each lane's LFSR by ``offset_bits`` shifts per accepted block, so the
    low ``offset_bits`` bits of consecutive states are disjoint chunks of the bit stream.
    """
    out = np.empty((n_blocks, block_size), dtype=np.uint64)
    s = lfsr_lane_seeds(block_size, seed)
    for t in range(n_blocks):
        out[t] = s
        s = lfsr_step(s, offset_bits)
    return out


def lfsr_offsets(
    n_blocks: int, block_size: int, offset_bits: int, seed: int = DEFAULT_LFSR_SEED
) -> np.ndarray:
    """Stochastic-rounding offsets ``k`` in [0, 2^offset_bits) per block and lane (int64)."""
    states = lfsr_sequence(n_blocks, block_size, offset_bits, seed)
    return (states & np.uint64((1 << offset_bits) - 1)).astype(np.int64)


# ---- FP32 -> HBFP converter -----------------------------------------------------------------


def convert_blocks(
    lanes: np.ndarray,
    mant_bits: int,
    *,
    stochastic: bool = False,
    offset_bits: int = 8,
    seed: int = DEFAULT_LFSR_SEED,
    offsets: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expected outputs of ``FP32ToHBFP`` for a stream of blocks.

    Parameters
    ----------
    lanes:
        ``uint32`` FP32 bit patterns (or float32 values), shape ``[n_blocks, block_size]``, in
        the order the hardware accepts them (the LFSR advances once per block).
    mant_bits:
        Magnitude mantissa bits ``m``.
    stochastic, offset_bits, seed:
        Stochastic rounding with the hardware LFSR (reset state from ``seed``).
    offsets:
        Explicit offsets instead of the LFSR sequence (stochastic mode only).

    Returns
    -------
    exp : int32 [n_blocks]
        Shared exponent ``e``; :data:`INVALID_BLOCK_EXP` for a block holding NaN/Inf.
    mant : int32 [n_blocks, block_size]
        Signed mantissas; all zero for an invalid block.
    invalid : bool [n_blocks]
        The ``out_invalid`` flag: some lane has exponent field 255 (NaN or Inf).
    """

    a = np.asarray(lanes)
    bits = a.view(np.uint32) if a.dtype == np.float32 else a.astype(np.uint32)
    if bits.ndim != 2:
        raise ValueError(f"lanes must be [n_blocks, block_size], got shape {bits.shape}")
    n, k = bits.shape
    invalid = (((bits >> 23) & 0xFF) == 0xFF).any(axis=1)
    clean = np.where(invalid[:, None], np.uint32(0), bits)
    x = clean.view(np.float32)
    if stochastic:
        if offsets is None:
            offsets = lfsr_offsets(n, k, offset_bits, seed)
        e, q = hbfp_encode(
            x, mant_bits, k, axis=-1, rounding="stochastic", offsets=offsets,
            offset_bits=offset_bits,
        )
    else:
        e, q = hbfp_encode(x, mant_bits, k, axis=-1, rounding="nearest_even")
    e = np.asarray(e, dtype=np.int32).reshape(n)
    q = np.asarray(q, dtype=np.int32).reshape(n, k)
    e = np.where(invalid, np.int32(INVALID_BLOCK_EXP), e)
    q = np.where(invalid[:, None], np.int32(0), q)
    return e, q, invalid


def convert_block(
    lanes_f32: np.ndarray,
    mant_bits: int,
    *,
    stochastic: bool = False,
    lfsr_state: np.ndarray | None = None,
    offset_bits: int = 8,
) -> tuple[int, np.ndarray, bool]:
    """One block (``[block_size]``) through the converter; ``lfsr_state`` is the lanes' state.

    Returns ``(e, mantissas, invalid)``. For a stream use :func:`convert_blocks`.
    """
    lanes = np.asarray(lanes_f32)[None, :]
    offs = None
    if stochastic:
        st = lfsr_lane_seeds(lanes.shape[1]) if lfsr_state is None else np.asarray(lfsr_state)
        offs = (st.astype(np.uint64) & np.uint64((1 << offset_bits) - 1)).astype(np.int64)[None]
    e, q, inv = convert_blocks(
        lanes, mant_bits, stochastic=stochastic, offset_bits=offset_bits, offsets=offs
    )
    return int(e[0]), q[0], bool(inv[0])


# ---- HBFP -> FP32 normalizer ----------------------------------------------------------------


def _bit_length_u64(v: np.ndarray) -> np.ndarray:
    """Exact bit length of uint64 values (0 -> 0), by binary search on the shift."""
    v = v.astype(np.uint64).copy()
    n = np.zeros(v.shape, dtype=np.int64)
    for s in (32, 16, 8, 4, 2, 1):
        big = v >= (np.uint64(1) << np.uint64(s))
        n += np.where(big, s, 0)
        v = np.where(big, v >> np.uint64(s), v)
    return n + (v > 0)


def _round_shift_rne(mag: np.ndarray, sh: np.ndarray) -> np.ndarray:
    """``round_half_even(mag / 2^sh)`` for uint64 ``mag`` and 0 <= ``sh`` <= 63, exact."""
    one = np.uint64(1)
    sh = np.asarray(sh, dtype=np.int64).astype(np.uint64)
    q = mag >> sh
    rem = mag & ((one << sh) - one)
    half = np.where(sh > 0, one << (np.maximum(sh, one) - one), np.uint64(0))
    up = (sh > 0) & ((rem > half) | ((rem == half) & ((q & one) == one)))
    return q + up.astype(np.uint64)


def normalize(acc: np.ndarray, exp: np.ndarray, frac_bits: int) -> np.ndarray:
    """FP32 bit patterns of ``acc * 2^(exp - frac_bits)`` as ``HBFPToFP32`` computes them.

    Rounding is half to even at 24 significant bits with an unbounded exponent; then a biased
    exponent >= 255 gives +-Inf and a biased exponent <= 0 flushes to a zero of the value's sign.
    ``acc == 0`` gives +0. ``acc`` must fit in int64 (accumulators up to 64 bits).
    """
    acc = np.asarray(acc, dtype=np.int64)
    exp = np.asarray(exp, dtype=np.int64)
    acc, exp = np.broadcast_arrays(acc, exp)
    neg = acc < 0
    # |acc| as uint64: two's complement negate works for -2^63 too.
    mag = np.where(neg, (~acc.view(np.uint64)) + np.uint64(1), acc.view(np.uint64))
    p = _bit_length_u64(mag) - 1  # position of the leading one
    sh = np.maximum(p - 23, 0)
    sig = _round_shift_rne(mag, sh)
    sig = np.where(p < 23, mag << np.maximum(23 - p, 0).astype(np.uint64), sig)
    carry = sig >= np.uint64(1 << 24)
    sig = np.where(carry, sig >> np.uint64(1), sig)
    biased = p + exp - frac_bits + 127 + carry
    frac = (sig & np.uint64(0x7FFFFF)).astype(np.int64)
    sign = np.where(neg, np.int64(1) << 31, 0)
    out = sign | (np.clip(biased, 0, 255) << 23) | frac
    out = np.where(biased >= 255, sign | 0x7F800000, out)
    out = np.where(biased <= 0, sign, out)
    out = np.where(mag == 0, 0, out)
    return out.astype(np.uint32)


# ---- FP32 multiply-add baseline -------------------------------------------------------------


def _ftz_in(bits: np.ndarray) -> np.ndarray:
    """Flush subnormal inputs to a zero of the same sign; return float64 values."""
    b = np.asarray(bits, dtype=np.uint32)
    sub = ((b >> 23) & 0xFF) == 0
    b = np.where(sub, b & np.uint32(0x80000000), b)
    return b.view(np.float32).astype(np.float64)


def _round24_ftz(v: np.ndarray) -> np.ndarray:
    """Round float64 values to 24 significant bits (RNE, unbounded exponent), then to FP32 range.

    Biased exponent >= 255 -> +-Inf, <= 0 -> signed zero, NaN -> :data:`CANONICAL_NAN`.
    Returns uint32 bit patterns. Exact: frexp/ldexp/rint are exact in float64.
    """
    v = np.asarray(v, dtype=np.float64)
    finite = np.isfinite(v)
    vf = np.where(finite, v, 0.0)
    mant, ex = np.frexp(vf)  # vf = mant * 2^ex, 0.5 <= |mant| < 1
    r = np.ldexp(np.rint(np.ldexp(mant, 24)), ex - 24)  # rint is half-to-even
    sign = np.signbit(v)
    sbits = np.where(sign, np.uint32(0x80000000), np.uint32(0))
    big = np.abs(r) >= 2.0**128
    tiny = (np.abs(r) < 2.0**-126)
    with np.errstate(over="ignore"):
        f = r.astype(np.float32).view(np.uint32)
    out = np.where(tiny, sbits, f)
    out = np.where(big, sbits | np.uint32(0x7F800000), out)
    out = np.where(np.isinf(v), sbits | np.uint32(0x7F800000), out)
    out = np.where(np.isnan(v), np.uint32(CANONICAL_NAN), out)
    return out.astype(np.uint32)


def fp32_mul_ftz(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """FP32 product of bit patterns ``a*b``: inputs and result flushed, RNE, canonical NaN."""
    with np.errstate(invalid="ignore"):
        return _round24_ftz(_ftz_in(a) * _ftz_in(b))


def fp32_add_ftz(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """FP32 sum of bit patterns ``a+b``: inputs and result flushed, RNE, canonical NaN.

    Exact cancellation gives +0; (-0) + (-0) = -0 (IEEE 754 round-to-nearest rules).
    The float64 sum is rounded once more to 24 bits; 53 >= 2*24 + 2, so the double rounding is
    innocuous (Figueroa) and the result is the correctly rounded FP32 sum.
    """
    with np.errstate(invalid="ignore"):
        return _round24_ftz(_ftz_in(a) + _ftz_in(b))


def fp32_mac_ftz(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Non-fused ``round(round(a*b) + c)`` on FP32 bit patterns (the MAC's datapath)."""
    return fp32_add_ftz(fp32_mul_ftz(a, b), c)


def fp32_mac_sequence(a: np.ndarray, b: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Accumulator value after each accepted ``(a, b, first)`` of ``FP32MAC``.

    ``acc <- round(round(a*b) + (first ? -0.0 : acc))``; adding -0.0 returns the product
    unchanged, which is how ``first`` starts a new sum. The products are vectorized; the
    accumulation is a sequential dependence and loops over the stream.
    """
    p = fp32_mul_ftz(np.asarray(a, dtype=np.uint32), np.asarray(b, dtype=np.uint32))
    first = np.asarray(first, dtype=bool)
    out = np.empty(p.shape, dtype=np.uint32)
    acc = np.uint32(0)
    # Scalar loop with the same vectorized primitive on length-1 arrays keeps one definition.
    pv = _ftz_in(p)
    for i in range(p.shape[0]):
        if first[i]:
            acc = p[i]
        else:
            with np.errstate(invalid="ignore"):
                acc = _round24_ftz(np.array([pv[i] + _ftz_in(np.array([acc]))[0]]))[0]
        out[i] = acc
    return out


# ---- INT8 with FP32 scales (the INT8 baseline engine) --------------------------------------

#: Largest INT8 code magnitude: symmetric quantization uses [-127, 127] (no -128).
INT8_QMAX = 127
#: An FP32 scale ``s`` with exponent field ``e`` and significand ``M = 1.f * 2^23`` is
#: ``M * 2^(e - 150)``: the dequantizer hands ``acc * M`` and ``e`` to a normalizer with this
#: many fraction bits (one rounding for ``acc * s``).
INT8_SCALE_FRAC = 150


def wrap_int32(v: np.ndarray) -> np.ndarray:
    """Two's complement wrap of integers to 32 bits (an INT32 accumulator), as int64."""
    v = np.asarray(v, dtype=np.int64)
    return ((v + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def quantize_int8(x: np.ndarray, inv_scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FP32 lanes -> INT8 codes, as ``hw.quantize.FP32ToINT8`` computes them.

    Each lane: ``p = fp32_mul_ftz(x, inv_scale)`` (RNE, denormals flushed), then ``p`` rounded
    to an integer half to even and saturated to [-127, 127]; a product whose exponent field is
    255 (Inf, or NaN from an invalid ``inv_scale``) saturates by its sign bit. A lane that is
    itself NaN or +-Inf gives code 0 and flags its beat ``invalid`` (the engine makes that row's
    results the canonical NaN).

    Parameters
    ----------
    x:
        ``(..., lanes)`` uint32 FP32 patterns.
    inv_scale:
        uint32 FP32 pattern(s) broadcastable to ``x``: the multiplier ``1 / s_a``.

    Returns
    -------
    q, invalid:
        int64 codes of ``x``'s shape, and a bool per beat (``x.shape[:-1]``).
    """
    x = np.asarray(x, dtype=np.uint32)
    inv = np.broadcast_to(np.asarray(inv_scale, dtype=np.uint32), x.shape)
    p = fp32_mul_ftz(x, inv)
    bad = ((x >> 23) & 0xFF) == 0xFF
    top = ((p >> 23) & 0xFF) == 0xFF
    neg = (p >> 31) == 1
    v = np.where(top, 0, bits_f32(p).astype(np.float64))
    q = np.clip(np.rint(v), -INT8_QMAX, INT8_QMAX).astype(np.int64)
    q = np.where(top, np.where(neg, -INT8_QMAX, INT8_QMAX), q)
    q = np.where(bad, 0, q)
    return q, bad.any(axis=-1)


def dequantize_int8(acc: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """FP32 patterns of ``acc * s`` rounded once (RNE), as the INT8 engine's output stage does.

    ``acc`` is an INT32 column sum (wrapped to 32 bits first); ``s`` an FP32 scale pattern whose
    sign is ignored and whose zero or subnormal exponent field reads as 0. The product
    ``acc * M`` (``M`` the 24-bit significand) is exact and normalized with exponent ``e``
    (:func:`normalize`, :data:`INT8_SCALE_FRAC` fraction bits), so overflow gives +-Inf and
    underflow a signed zero, as there. An exponent field of 255 is not a scale (garbage out).
    """
    acc = wrap_int32(acc)
    s = np.broadcast_to(np.asarray(scale, dtype=np.uint32), acc.shape)
    e = ((s >> 23) & 0xFF).astype(np.int64)
    mant = np.where(e == 0, 0, (s & 0x7FFFFF).astype(np.int64) | (1 << 23))
    return normalize(acc * mant, e, INT8_SCALE_FRAC)
