"""Stimulus generators of the block testbenches: pure NumPy, seeded, vectorized.

One home for the vectors that both tiers of verification drive: the cocotb co-simulations of
the generated Verilog (``sim/tb_*.py``) and the Amaranth-simulator tests (``tests/test_hw_*.py``),
so that both exercise the same directed corners and the same seeded random streams. Every
generator takes its seed (or a :class:`numpy.random.Generator`) explicitly and consumes it in a
fixed order: a seed names a vector set for good.

Each block's *expected* results come from its golden twin (:mod:`golden.arith_fp`,
:mod:`golden.arith_dot`, :mod:`golden.nm_hw`, :mod:`golden.systolic`); the ``*Stim`` dataclasses
carry an ``expected`` method that calls it.

Contents, by block:

* FP32 -> HBFP converter: :func:`convert_directed`, :func:`convert_random` (:func:`random_f32`
  makes raw FP32 bit patterns for every block);
* HBFP -> FP32 normalizer: :func:`normalize_directed`, :func:`normalize_random`;
* FP32 MAC: :func:`mac_directed`, :func:`mac_random`;
* dot unit: :class:`DotStim`, :func:`dot_stim`;
* N:M decoder: :class:`DecoderStim`, :func:`decoder_stim` (:func:`pruned_indices`,
  :func:`edge_indices`, :func:`corrupt`);
* sparse dot unit: :class:`SparseDotStim`, :func:`sparsedot_stim`;
* systolic pod: :func:`pod_operands`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from golden import nm_hw
from golden.arith_dot import dot_blocks
from golden.arith_fp import bits_f32, f32_bits, fp32_add_ftz, fp32_mul_ftz
from golden.facts import MAX_BLOCK_EXP, ZERO_BLOCK_EXP
from golden.formats import hbfp_encode
from golden.sparsity import nm_compress, nm_prune
from golden.systolic import PodGeometry, random_hbfp_operands

__all__ = [
    "POS_INF",
    "NEG_INF",
    "QNAN",
    "random_f32",
    "convert_directed",
    "convert_random",
    "normalize_directed",
    "normalize_random",
    "mac_directed",
    "mac_random",
    "EXP_MIN",
    "EXP_MAX",
    "DotStim",
    "dot_stim",
    "DecoderStim",
    "decoder_stim",
    "pruned_indices",
    "edge_indices",
    "corrupt",
    "SparseDotStim",
    "sparsedot_stim",
    "pod_operands",
    "engine_operands",
]



# ---------------------------------------------------------------------------------------------
# FP32 bit patterns and the FP32 -> HBFP converter

def random_f32(rng: np.random.Generator, shape, *, lo: int = 1, hi: int = 254) -> np.ndarray:
    """Random FP32 bit patterns with exponent fields uniform in [lo, hi]."""
    sign = rng.integers(0, 2, shape, dtype=np.uint32) << np.uint32(31)
    ex = rng.integers(lo, hi + 1, shape).astype(np.uint32) << np.uint32(23)
    fr = rng.integers(0, 1 << 23, shape, dtype=np.uint32)
    return sign | ex | fr


POS_INF, NEG_INF, QNAN = 0x7F800000, 0xFF800000, 0x7FC00000


def convert_directed(k: int, m: int) -> np.ndarray:
    """Directed corner blocks, ``uint32 [n, k]``."""
    rng = np.random.default_rng(1234)
    blocks = []
    f32 = np.float32

    def add(vals) -> None:
        blocks.append(np.broadcast_to(np.asarray(vals, dtype=np.uint32), (k,)).copy())

    add(0)  # all +0: e = -125, mantissas 0
    add(0x80000000)  # all -0
    add(0x00000001)  # smallest subnormal everywhere
    add(0x007FFFFF)  # largest subnormal everywhere
    add(rng.integers(0, 1 << 23, k, dtype=np.uint32) | (np.uint32(1) << 31) * (np.arange(k) % 2))
    add(0x00800000)  # smallest normal: e = -125
    add(0x7F7FFFFF)  # largest finite: e = 128, saturates on round-up
    add(0xFF7FFFFF)
    add(0x3F7FFFFF)  # just below 1.0: rounds up to 2^m, saturates to 2^m - 1
    add(0xBF7FFFFF)  # same, negative
    add(0x3F800000)  # exact power of two
    for e in (-125, -3, 0, 9, 128):  # most-negative mantissas: -(2^m - 1) * 2^(e - m)
        add(f32(-((1 << m) - 1) * 2.0 ** (e - m)).view(np.uint32))
    # one huge lane among tiny ones (the tiny ones flush to 0 or +-1)
    b = random_f32(rng, k, lo=1, hi=40)
    b[k // 2] = 0x7E000000
    add(b)
    b = random_f32(rng, k, lo=100, hi=130)
    b[0] = 0xC2FF0000
    add(b)
    # exact ties at half an LSB: lane0 = 2^(E-1) fixes e = E; others (j + 1/2) * 2^(E - m)
    E = 3
    t = np.array([2.0 ** (E - 1)] + [((j % ((1 << m) - 1)) + 0.5) * 2.0 ** (E - m)
                                      for j in range(1, k)])
    t[1::2] *= -1
    add(t.astype(np.float32).view(np.uint32))
    # NaN / Inf policy
    for special in (POS_INF, NEG_INF, QNAN, 0xFFFFFFFF):
        b = random_f32(rng, k, lo=100, hi=140)
        b[rng.integers(0, k)] = special
        add(b)
    # exponent spread across the whole range within one block
    add(random_f32(rng, k, lo=0, hi=254))
    return np.stack(blocks)


def convert_random(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random blocks: per-block base exponent, per-lane spread, zeros, subnormals, NaN/Inf."""
    base = rng.integers(1, 255, (n, 1))
    spread = np.minimum(rng.geometric(0.15, (n, k)) - 1, 300)
    field = np.clip(base - spread, 0, 254).astype(np.uint32)
    sign = rng.integers(0, 2, (n, k), dtype=np.uint32)
    frac = rng.integers(0, 1 << 23, (n, k), dtype=np.uint32)
    bits = (sign << np.uint32(31)) | (field << np.uint32(23)) | frac
    zero = rng.random((n, k)) < 0.05
    bits[zero] &= np.uint32(0x80000000)
    special = rng.random(n) < 0.01
    lane = rng.integers(0, k, n)
    sp = np.array([POS_INF, NEG_INF, QNAN, 0x7F800001], dtype=np.uint32)
    bits[special, lane[special]] = sp[rng.integers(0, 4, special.sum())]
    return bits

# ---------------------------------------------------------------------------------------------
# HBFP -> FP32 normalizer

def normalize_directed(aw: int, fb: int, ew: int) -> tuple[np.ndarray, np.ndarray]:
    """Corner (acc, exp) pairs: zero, extremes, rounding ties/carry, exponent range edges."""
    amin, amax = -(1 << (aw - 1)), (1 << (aw - 1)) - 1
    emin, emax = -(1 << (ew - 1)), (1 << (ew - 1)) - 1
    accs = [0, 0, 0, 1, -1, amax, amin, amin + 1, 2, -2, 3]
    exps = [emin, 0, emax, 0, 0, 0, 0, 0, emax, emin, fb - 127]
    # rounding: carry (2^25 - 1 -> 2^25), ties to even both ways, just above/below half
    for a in ((1 << 25) - 1, (1 << 25) + 2, (1 << 25) + 6, (1 << 25) + 1, (1 << 25) + 3,
              (1 << 24) + 1, (1 << 40) - 1, (3 << 38) + (1 << 14)):
        if a <= amax:
            accs += [a, -a]
            exps += [0, 0]
    # biased exponent exactly 0, 1, 254, 255 (before rounding) for acc = 1 and for amax
    for a in (1, amax, amin):
        p = abs(a).bit_length() - 1
        for biased in (-1, 0, 1, 2, 253, 254, 255, 256):
            e = biased - p + fb - 127
            if emin <= e <= emax:
                accs.append(a)
                exps.append(e)
    a, e = np.array(accs, dtype=np.int64), np.array(exps, dtype=np.int64)
    ok = (a >= amin) & (a <= amax) & (e >= emin) & (e <= emax)  # tiny configs drop some
    return a[ok], e[ok]


def normalize_random(aw: int, fb: int, ew: int, n: int, rng: np.random.Generator):
    """Random accumulators of random bit length and sign; exponents mostly near the FP32 range."""
    nbits = rng.integers(0, aw, n)  # magnitude bits below the sign
    raw = rng.integers(0, 1 << 64, n, dtype=np.uint64)
    mag = (raw & ((np.uint64(1) << nbits.astype(np.uint64)) - np.uint64(1))).astype(np.int64)
    acc = np.where(rng.random(n) < 0.5, -mag, mag)
    if aw == 64:
        acc[rng.random(n) < 0.01] = np.iinfo(np.int64).min
    emin, emax = -(1 << (ew - 1)), (1 << (ew - 1)) - 1
    p = np.maximum(nbits - 1, 0)
    near = rng.integers(-40, 300, n) - p + fb - 127  # biased exponent in [-40, 300)
    full = rng.integers(emin, emax + 1, n)
    exp = np.clip(np.where(rng.random(n) < 0.3, full, near), emin, emax)
    return acc.astype(np.int64), exp.astype(np.int64)

# ---------------------------------------------------------------------------------------------
# FP32 multiply-accumulate

ONE = 0x3F800000


def mac_directed() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Corner (a, b, first) triples, run back to back."""
    seq: list[tuple[int, int, int]] = []

    def add(a, b, first=0):
        seq.append((a & 0xFFFFFFFF, b & 0xFFFFFFFF, first))

    add(0, 0, 1)                      # +0 * +0 = +0
    add(0x80000000, 0, 1)             # -0 product starts a sum: acc = -0
    add(0x80000000, 0x3F800000)       # -0 + -0 = -0
    add(0, 0x3F800000)                # -0 + +0 = +0
    add(ONE, ONE, 1)                  # 1
    add(ONE, 0x33800000)              # 1 + 2^-24: tie, stays 1 (even)
    add(0x3F800001, ONE, 1)           # 1 + 2^-23
    add(ONE, 0x33800000)              # tie, rounds up to 1 + 2^-22 (even)
    add(0x3F800800, 0x3F800800, 1)    # (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24: product tie
    add(0x3FFFFFFF, 0x3FFFFFFF, 1)    # (2 - 2^-23)^2: product rounds with carry
    add(ONE, 0xBF800000, 1)           # -1
    add(ONE, ONE)                     # -1 + 1 = +0 (exact cancellation)
    add(0x7F7FFFFF, 0x7F7FFFFF, 1)    # overflow -> +Inf
    add(ONE, 0xFF800000)              # +Inf + -Inf = NaN
    add(ONE, ONE)                     # NaN sticks
    add(0x7F800000, 0, 1)             # Inf * 0 = NaN
    add(0x7FC00001, ONE, 1)           # NaN operand
    add(0xFF800000, 0x40000000, 1)    # -Inf
    add(ONE, ONE)                     # -Inf + 1 = -Inf
    add(0x00400000, 0x7F000000, 1)    # subnormal input flushed: 0 * big = +0
    add(0x80000001, 0x3F800000, 1)    # -subnormal -> -0
    add(0x1F800000, 0x1F800000, 1)    # 2^-64 * 2^-64 = 2^-128: flushed to +0
    add(0x20000000, 0x1F800000, 1)    # 2^-63 * 2^-64 = 2^-127 -> 0
    add(0x20000000, 0x20000000, 1)    # 2^-126: smallest normal, kept
    add(0x20000000, 0xA0000000)       # 2^-126 - 2^-126 = +0
    add(0x00800000, ONE, 1)           # 2^-126
    add(0x00800001, 0xBF800000)       # 2^-126 - (2^-126 + 2^-149) = -2^-149: flushed, -0
    add(0x7F000000, 0x40000000, 1)    # 2^127 * 2 = 2^128: overflow
    add(0x7F7FFFFF, ONE, 1)           # max finite
    add(0x73800000, ONE)              # max + 2^104 (one ulp) -> +Inf
    add(0x7F7FFFFF, ONE, 1)
    add(0x73000000, ONE)              # max + half an ulp: tie, odd mantissa rounds up -> +Inf
    add(0x7F7FFFFE, ONE, 1)
    add(0x73000000, ONE)              # tie with even mantissa: stays
    add(0x7F7FFFFF, ONE, 1)
    add(0x7F7FFFFF, ONE)              # max + max -> +Inf
    add(0x4B800000, ONE, 1)           # 2^24
    add(ONE, ONE)                     # 2^24 + 1: tie -> 2^24
    add(0x4B800001, ONE, 1)           # 2^24 + 2
    add(ONE, ONE)                     # + 1: tie -> 2^24 + 4
    a = np.array([s[0] for s in seq], dtype=np.uint32)
    b = np.array([s[1] for s in seq], dtype=np.uint32)
    f = np.array([s[2] for s in seq], dtype=bool)
    return a, b, f


def mac_random(n: int, rng: np.random.Generator, profile: str):
    """Random (a, b, first) with aimed cancellations; ``profile`` "mixed" or "edges"."""

    if profile == "edges":
        # exponent sums near underflow (ea + eb ~ 127 - 126) and overflow (~ 127 + 254)
        ea = rng.integers(1, 255, n)
        tgt = np.where(rng.random(n) < 0.5, rng.integers(124, 131, n), rng.integers(377, 384, n))
        eb = np.clip(tgt - ea, 1, 254)
        sign = rng.integers(0, 2, (2, n), dtype=np.uint32) << np.uint32(31)
        fr = rng.integers(0, 1 << 23, (2, n), dtype=np.uint32)
        a = sign[0] | (ea.astype(np.uint32) << np.uint32(23)) | fr[0]
        b = sign[1] | (eb.astype(np.uint32) << np.uint32(23)) | fr[1]
        sp = rng.random(n) < 0.05
        a[sp] = random_f32(rng, int(sp.sum()), lo=0, hi=255)
    else:
        a = random_f32(rng, n, lo=110, hi=144)
        b = random_f32(rng, n, lo=110, hi=144)
        wide = rng.random(n) < 0.1
        a[wide] = random_f32(rng, int(wide.sum()), lo=0, hi=255)
    first = rng.random(n) < 0.08
    first[0] = True
    aim = (rng.random(n) < 0.12) & ~first
    delta = rng.integers(-3, 4, n)
    # Walk the stream to aim some products at -acc (massive cancellation, d <= 1 alignments).
    acc = np.uint32(0)
    for i in range(n):
        if aim[i] and (acc & 0x7F800000) not in (0, 0x7F800000):
            target = (int(acc) ^ 0x80000000) + int(delta[i])
            a[i], b[i] = ONE, np.uint32(target & 0xFFFFFFFF)
            if rng.random() < 0.3:  # a power of two other than 1 shifts the exponents
                a[i] = 0x40000000
                b[i] = f32_bits(bits_f32(np.array([b[i]], dtype=np.uint32)) * np.float32(0.5))[0]
        p = fp32_mul_ftz(a[i:i + 1], b[i:i + 1])
        acc = p[0] if first[i] else fp32_add_ftz(p, np.array([acc], dtype=np.uint32))[0]
    return a, b, first

# ---------------------------------------------------------------------------------------------
# HBFP dot-product unit

EXP_MIN, EXP_MAX = ZERO_BLOCK_EXP, MAX_BLOCK_EXP  # HBFP shared-exponent range


@dataclass
class DotStim:
    """Per-cycle stimulus. Rows where ``valid`` is 0 carry junk that the DUT must ignore."""

    valid: np.ndarray  # (T,) bool
    first: np.ndarray  # (T,) bool
    mode: np.ndarray  # (T,) bool (all False without a narrow mode)
    a_exp: np.ndarray  # (T,) int
    b_exp: np.ndarray
    a: np.ndarray  # (T, lanes) int, as driven on the ports
    b: np.ndarray
    n_directed: int  # the first n_directed valid blocks are the directed corners

    def expected(self, *, mant_bits: int, acc_width: int, narrow_mant_bits: int | None):
        """Golden ``(out_acc, out_exp)`` for the valid blocks, in order."""
        v = self.valid
        return dot_blocks(self.a_exp[v], self.a[v], self.b_exp[v], self.b[v], self.first[v],
                          self.mode[v] if narrow_mant_bits is not None else None,
                          mant_bits=mant_bits, acc_width=acc_width,
                          narrow_mant_bits=narrow_mant_bits)


def _dot_directed(lanes: int, mb: int, n: int | None, aw: int, rng: np.random.Generator) -> list:
    """Corner blocks as (first, mode, ea, eb, a[], b[]) tuples, all back to back."""
    top = (1 << mb) - 1
    blocks: list = []

    def add(first, ea, eb, a, b, mode=0):
        a = np.broadcast_to(np.asarray(a, dtype=np.int64), (lanes,)).copy()
        b = np.broadcast_to(np.asarray(b, dtype=np.int64), (lanes,)).copy()
        blocks.append((int(first), int(mode), int(ea), int(eb), a, b))

    def rnd(lim=top):
        return rng.integers(-lim, lim + 1, lanes)

    # Stream starts without in_first: the reset state (acc 0, exp -512) must act as a restart.
    add(0, 3, -2, rnd(), rnd())
    add(0, 1, 1, rnd(), rnd())
    # All-zero blocks (the encoder's e = -125), alone and accumulated.
    add(1, EXP_MIN, EXP_MIN, 0, 0)
    add(0, EXP_MIN, EXP_MIN, 0, 0)
    add(0, 5, 7, 0, 0)
    # One huge lane among small ones.
    a = np.zeros(lanes, dtype=np.int64)
    a[rng.integers(lanes)] = top
    add(1, EXP_MAX, EXP_MAX, a, top)
    add(0, EXP_MAX, EXP_MAX, rnd(1), rnd(1))
    # Exponent extremes: +506 and -506 differences shift a side out completely.
    add(1, EXP_MIN, EXP_MIN, rnd(), rnd())
    add(0, EXP_MAX, EXP_MAX, rnd(), rnd())
    add(0, EXP_MIN, EXP_MIN, top, top)
    add(0, EXP_MIN, EXP_MAX, -top, top)
    add(0, EXP_MAX, EXP_MIN, rnd(), rnd())
    # Alignment distances around the shifter clamp (acc_width): d = W-1, W, W+1, both ways.
    for d in (aw - 1, aw, aw + 1, 1, 0):
        add(1, 0, 0, rnd(), rnd())
        add(0, min(d, EXP_MAX), d - min(d, EXP_MAX), rnd(), rnd())
        add(1, 0, 0, -top, top)
        add(0, -min(d, 125), -(d - min(d, 125)), rnd(), rnd())
    # Most-negative port values (-2^m, outside HBFP's symmetric range but exact in the tree)
    # and the most negative legal mantissa; two -2^m * -2^m blocks overflow a minimum-width
    # accumulator by exactly one: saturation on the first LSB beyond range.
    add(1, EXP_MAX, EXP_MAX, -(top + 1), -(top + 1))
    add(0, EXP_MAX, EXP_MAX, -(top + 1), -(top + 1))
    add(0, EXP_MAX, EXP_MAX, -(top + 1), top)
    add(1, 0, 0, -top, -top)
    add(0, 0, 0, -top, -(top + 1))
    # Positive and negative saturation: equal-exponent max blocks until clipped, then back.
    s = lanes * top * top
    reps = min((1 << (aw - 1)) // s + 3, 1500)
    add(1, 10, 10, top, top)
    for _ in range(reps):
        add(0, 10, 10, top, top)
    add(0, 10, 10, -top, top)  # leaves saturation by one block
    add(1, -20, 20, top, -top)
    for _ in range(reps):
        add(0, -20, 20, top, -top)
    add(0, -20, 20, top, top)
    # A saturated accumulator meeting a larger exponent gets shifted, then accumulates again.
    add(0, 21, 20, rnd(), rnd())
    if n is not None:
        ntop = (1 << n) - 1

        def sext(lim=ntop):
            return rng.integers(-lim, lim + 1, lanes)

        # Mode switches mid-stream (no restart), with equal and different exponents.
        add(1, 4, 4, rnd(), rnd(), 0)
        for i in range(24):
            md = i % 2 if i < 12 else int(rng.integers(2))
            ea, eb = (4, 4) if i < 6 else (int(rng.integers(-6, 7)), int(rng.integers(-6, 7)))
            add(0, ea, eb, sext() if md else rnd(), sext() if md else rnd(), md)
        # Narrow extremes: most-negative narrow -2^n, max narrow magnitudes, saturation.
        add(1, EXP_MAX, EXP_MAX, -(ntop + 1), -(ntop + 1), 1)
        add(0, EXP_MAX, EXP_MAX, ntop, -(ntop + 1), 1)
        add(1, EXP_MIN, EXP_MIN, ntop, ntop, 1)
        add(0, EXP_MAX, EXP_MIN, ntop, ntop, 0)
        add(0, EXP_MIN, EXP_MAX, ntop, ntop, 1)
        # Narrow mode ignores the upper port bits (documented): drive junk there.
        junk = rng.integers(-(top + 1), top + 1, lanes)
        add(1, 2, 3, junk, rnd(), 1)
        add(0, 2, 3, rnd(), junk, 1)
        add(1, 3, 3, rnd(), rnd(), 1)  # a restart in narrow mode, then wide
        add(0, 3, 3, rnd(), rnd(), 0)
    return blocks


def dot_stim(lanes: int, mant_bits: int, narrow_mant_bits: int | None, acc_width: int,
              n_random: int, seed: int, *, valid_rate: float = 0.85,
              directed: bool = True) -> DotStim:
    """Directed corners (back to back) then ``n_random`` random blocks with bubbles."""
    rng = np.random.default_rng(seed)
    mb, n = mant_bits, narrow_mant_bits
    top = (1 << mb) - 1
    blocks = _dot_directed(lanes, mb, n, acc_width, rng) if directed else []
    nd = len(blocks)

    # Random blocks, vectorized. Exponents mostly cluster around a slowly moving base (so that
    # alignment shifts are small and bits survive) with some uniform jumps over the full range.
    r = n_random
    base = np.cumsum(rng.integers(-1, 2, r) * (rng.random(r) < 0.1)) + rng.integers(-20, 21)
    near = rng.random(r) < 0.8
    ea = np.where(near, base + rng.integers(-3, 4, r), rng.integers(EXP_MIN, EXP_MAX + 1, r))
    eb = np.where(near, -base // 2 + rng.integers(-3, 4, r),
                  rng.integers(EXP_MIN, EXP_MAX + 1, r))
    ea, eb = np.clip(ea, EXP_MIN, EXP_MAX), np.clip(eb, EXP_MIN, EXP_MAX)
    a = rng.integers(-top, top + 1, (r, lanes))
    b = rng.integers(-top, top + 1, (r, lanes))
    a = np.where(rng.random((r, lanes)) < 0.03, -(top + 1), a)
    b = np.where(rng.random((r, lanes)) < 0.1, 0, b)
    first = rng.random(r) < 0.08
    if n is not None:
        # Modes in runs, as a training schedule would switch, plus some isolated flips.
        mode = (np.cumsum(rng.random(r) < 0.05) % 2).astype(bool) ^ (rng.random(r) < 0.03)
        ntop = (1 << n) - 1
        an = rng.integers(-ntop - 1, ntop + 1, (r, lanes))
        bn = rng.integers(-ntop - 1, ntop + 1, (r, lanes))
        a = np.where(mode[:, None], an, a)
        b = np.where(mode[:, None], bn, b)
    else:
        mode = np.zeros(r, dtype=bool)

    if nd:
        d_first = np.array([blk[0] for blk in blocks], dtype=bool)
        d_mode = np.array([blk[1] for blk in blocks], dtype=bool)
        d_ea = np.array([blk[2] for blk in blocks], dtype=np.int64)
        d_eb = np.array([blk[3] for blk in blocks], dtype=np.int64)
        d_a = np.stack([blk[4] for blk in blocks])
        d_b = np.stack([blk[5] for blk in blocks])
        first = np.concatenate([d_first, first])
        mode = np.concatenate([d_mode, mode])
        ea, eb = np.concatenate([d_ea, ea]), np.concatenate([d_eb, eb])
        a, b = np.concatenate([d_a, a]), np.concatenate([d_b, b])
    nblk = first.size

    # Spread the random blocks over cycles with bubbles; the bubble cycles carry random junk
    # (including in_first = 1) that must not reach the accumulator.
    gaps = np.zeros(nblk, dtype=np.int64)
    gaps[nd:] = rng.geometric(valid_rate, r) - 1
    t_len = nblk + int(gaps.sum())
    pos = np.cumsum(gaps + 1) - 1
    valid = np.zeros(t_len, dtype=bool)
    valid[pos] = True
    c_first = rng.random(t_len) < 0.5
    c_mode = (rng.random(t_len) < 0.5) & (n is not None)
    c_ea = rng.integers(EXP_MIN, EXP_MAX + 1, t_len)
    c_eb = rng.integers(EXP_MIN, EXP_MAX + 1, t_len)
    c_a = rng.integers(-top - 1, top + 1, (t_len, lanes))
    c_b = rng.integers(-top - 1, top + 1, (t_len, lanes))
    c_first[pos], c_mode[pos], c_ea[pos], c_eb[pos] = first, mode, ea, eb
    c_a[pos], c_b[pos] = a, b
    return DotStim(valid=valid, first=c_first, mode=c_mode, a_exp=c_ea, b_exp=c_eb, a=c_a,
                   b=c_b, n_directed=nd)

# ---------------------------------------------------------------------------------------------
# N:M sparse-index decoder

@dataclass
class DecoderStim:
    """Per-cycle stimulus of the decoder (T cycles)."""

    valid: np.ndarray  # (T,) bool
    clear: np.ndarray  # (T,) bool
    act: np.ndarray  # (T, G*M) int
    idx: np.ndarray  # (T, G*N) uint8, possibly corrupted

    def expected(self, n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(selected activations (T, G*N), violation (T,), meta_error (T+1,)) from golden."""
        sel = nm_hw.decode_select(self.act, self.idx, n, m)
        viol = nm_hw.meta_violation(self.idx, n, m)
        return sel, viol, nm_hw.meta_error_trace(self.valid, viol, self.clear)


def pruned_indices(rng: np.random.Generator, beats: int, n: int, m: int, groups: int,
                   zero_frac: float = 0.0) -> np.ndarray:
    """Indices from really pruning a random tensor: ``nm_prune`` then ``nm_compress``.

    ``zero_frac`` zeroes that share of the elements first, so some groups keep fewer than N
    non-zeros (the compressor then pads at the lowest unused positions) or none at all.
    """

    x = rng.standard_normal((beats, groups * m)).astype(np.float32)
    if zero_frac:
        x[rng.random(x.shape) < zero_frac] = 0.0
    _, idx = nm_compress(nm_prune(x, n, m), n, m)
    return np.asarray(idx, dtype=np.uint8)


def edge_indices(n: int, m: int, groups: int) -> np.ndarray:
    """Directed index patterns at the window edges, one beat per row.

    Lowest (0..N-1), highest (M-N..M-1), first lane at 0 with last at M-1, every lane at its
    own window top but one, ...; each group of a beat rotates through them.
    """
    pats = [list(range(n)), list(range(m - n, m))]
    if n >= 2:
        pats.append([0] + list(range(m - n + 1, m)))  # 0 and M-1 together
        pats.append(list(range(n - 1)) + [m - 1])
    else:
        pats += [[0], [m - 1], [m // 2]]
    beats = []
    for r in range(len(pats)):
        beats.append([i for g in range(groups) for i in pats[(r + g) % len(pats)]])
    return np.array(beats, dtype=np.uint8)


def corrupt(rng: np.random.Generator, idx: np.ndarray, n: int, m: int, rate: float) -> np.ndarray:
    """Corrupt a share ``rate`` of beats: duplicates, swaps, or indices >= M (M not 2^k)."""
    idx = idx.copy()
    ib = nm_hw.index_bits(m)
    groups = idx.shape[1] // n
    for t in np.nonzero(rng.random(idx.shape[0]) < rate)[0]:
        g = int(rng.integers(groups))
        base = g * n
        kinds = ["range"] if n == 1 else ["dup", "swap", "range"]
        kind = kinds[int(rng.integers(len(kinds)))]
        if kind == "range" and (1 << ib) == m:
            kind = "dup" if n > 1 else "none"
        if kind == "dup":
            j = int(rng.integers(n - 1))
            idx[t, base + j + 1] = idx[t, base + j]
        elif kind == "swap":
            j = int(rng.integers(n - 1))
            idx[t, base + j], idx[t, base + j + 1] = idx[t, base + j + 1], idx[t, base + j]
        elif kind == "range":
            idx[t, base + n - 1] = int(rng.integers(m, 1 << ib))
    return idx


def decoder_stim(n: int, m: int, groups: int, width: int, beats: int, seed: int, *,
              corrupt_rate: float = 0.0, clear_rate: float = 0.0,
              valid_rate: float = 0.85) -> DecoderStim:
    """Random pruned metadata + directed beats (edges, short and all-zero groups)."""
    rng = np.random.default_rng(seed)
    parts = [
        edge_indices(n, m, groups),
        pruned_indices(rng, max(4, beats // 8), n, m, groups, zero_frac=0.7),  # short groups
        pruned_indices(rng, 2, n, m, groups, zero_frac=1.0),  # all-zero groups
        pruned_indices(rng, beats, n, m, groups),
    ]
    idx = np.concatenate(parts)
    t_len = idx.shape[0]
    if corrupt_rate:
        idx = corrupt(rng, idx, n, m, corrupt_rate)
    lo, hi = -(1 << (width - 1)), (1 << (width - 1))
    act = rng.integers(lo, hi, size=(t_len, groups * m))
    act[0] = hi - 1  # a full-scale beat and the most negative value
    act[1] = lo
    valid = rng.random(t_len) < valid_rate
    valid[:4] = True
    clear = rng.random(t_len) < clear_rate
    if clear_rate:
        # Some clears land on violating beats: the violation must win (directed corner).
        clear[np.nonzero(nm_hw.meta_violation(idx, n, m))[0][::3]] = True
    return DecoderStim(valid=valid, clear=clear, act=act, idx=idx)

# ---------------------------------------------------------------------------------------------
# Sparse HBFP dot-product unit

@dataclass
class SparseDotStim:
    """Per-cycle stimulus of the sparse dot unit (T cycles)."""

    valid: np.ndarray  # (T,) bool
    clear: np.ndarray  # (T,) bool
    first: np.ndarray  # (T,) bool
    mode: np.ndarray | None  # (T,) bool or None
    w_exp: np.ndarray  # (T,)
    w_vals: np.ndarray  # (T, L) compressed weight mantissas
    w_idx: np.ndarray  # (T, L) in-group indices (possibly corrupted)
    a_exp: np.ndarray  # (T,)
    a_man: np.ndarray  # (T, K)
    valid_meta: bool  # metadata was not corrupted

    def expected(self, p: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(out_acc, out_exp) per valid beat and meta_error per cycle (T+1,)."""
        v = self.valid
        kw = dict(n=p["n"], m=p["m"], mant_bits=p["mant_bits"], acc_width=p["acc_width"],
                  narrow_mant_bits=p.get("narrow_mant_bits"))
        args = (self.w_exp[v], self.w_vals[v], self.w_idx[v], self.a_exp[v], self.a_man[v],
                self.first[v], None if self.mode is None else self.mode[v])
        acc, exp = nm_hw.sparse_dot_expected(*args, **kw)
        if self.valid_meta:
            # The criterion: identical to the dense product of the decompressed weights.
            dacc, dexp = nm_hw.dense_dot_expected(*args, **kw)
            assert np.array_equal(acc, dacc) and np.array_equal(exp, dexp), \
                "golden: decoded and decompressed dot products disagree"
        viol = nm_hw.meta_violation(self.w_idx, p["n"], p["m"])
        return np.asarray(acc), np.asarray(exp), nm_hw.meta_error_trace(self.valid, viol,
                                                                         self.clear)


def _hbfp_rows(x: np.ndarray, mant_bits: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    """HBFP-encode ``[T, block]`` rows: per-row exponents ``[T]`` and mantissas, as int64."""
    e, q = hbfp_encode(x, mant_bits, block)
    return np.asarray(e).reshape(-1).astype(np.int64), np.asarray(q).astype(np.int64)


def sparsedot_stim(p: dict, beats: int, seed: int, *, corrupt_rate: float = 0.0,
              clear_rate: float = 0.0, valid_rate: float = 0.85) -> SparseDotStim:
    """Pruned random weights + directed beats (edges, short and all-zero groups, full scale)."""

    rng = np.random.default_rng(seed)
    n, m, k, mb = p["n"], p["m"], p["block"], p["mant_bits"]
    nb = p.get("narrow_mant_bits")
    groups = k // m
    n_edge = 4
    t_len = beats + n_edge + 3
    # Per-beat scales spread the shared exponents so cross-block alignment is exercised.
    scale = np.exp2(rng.integers(-6, 7, size=(t_len, 1))).astype(np.float32)
    w = rng.standard_normal((t_len, k)).astype(np.float32) * scale
    w[n_edge: n_edge + 2][rng.random((2, k)) < 0.7] = 0.0  # groups shorter than N
    w[n_edge + 2] = 0.0  # an all-zero block (exponent -125)
    a = rng.standard_normal((t_len, k)).astype(np.float32) * scale[::-1]
    mode = None if nb is None else (rng.random(t_len) < 0.4)
    w_exp, w_man = _hbfp_rows(nm_prune(w, n, m), mb, k)
    a_exp, a_man = _hbfp_rows(a, mb, k)
    if nb is not None:
        # Narrow beats carry narrow mantissas (sign-extended on the wide ports).
        we, wm = _hbfp_rows(nm_prune(w, n, m), nb, k)
        ae, am = _hbfp_rows(a, nb, k)
        w_exp, a_exp = np.where(mode, we, w_exp), np.where(mode, ae, a_exp)
        w_man, a_man = np.where(mode[:, None], wm, w_man), np.where(mode[:, None], am, a_man)
    vals, idx = nm_compress(w_man, n, m)
    vals, idx = np.asarray(vals).astype(np.int64), np.asarray(idx).astype(np.uint8)
    # Directed: edge index patterns with full-scale values (and the most negative port value).
    edges = edge_indices(n, m, groups)[:n_edge]
    top = (1 << mb) - 1
    for r in range(edges.shape[0]):
        idx[r] = edges[r]
        vals[r] = rng.choice([top, -top, -(top + 1), 1, -1], size=vals.shape[1])
        a_man[r] = rng.choice([top, -top, -(top + 1)], size=k)
        if mode is not None:
            mode[r] = False
    if corrupt_rate:
        idx = corrupt(rng, idx, n, m, corrupt_rate)
    valid = rng.random(t_len) < valid_rate
    valid[: n_edge + 3] = True
    first = rng.random(t_len) < 0.2
    first[0] = True
    clear = rng.random(t_len) < clear_rate
    if clear_rate:
        # Some clears land on violating beats: the violation must win (directed corner).
        clear[np.nonzero(nm_hw.meta_violation(idx, n, m))[0][::3]] = True
    return SparseDotStim(valid=valid, clear=clear, first=first, mode=mode, w_exp=w_exp,
                         w_vals=vals, w_idx=idx, a_exp=a_exp, a_man=a_man,
                         valid_meta=not corrupt_rate)

# ---------------------------------------------------------------------------------------------
# Systolic pod

def pod_operands(M: int, N: int, K: int, geo: PodGeometry, rng: np.random.Generator, *,
                 narrow: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """HBFP GEMM operands ``(qa, ea, qw, ew)`` for a pod co-simulation.

    :func:`golden.systolic.random_hbfp_operands`; in ``narrow`` mode the upper mantissa bits,
    which the run-time narrow mode must ignore, are then filled with junk (zero weights stay
    zero, so the N:M pattern holds).
    """
    qa, ea, qw, ew = random_hbfp_operands(M, N, K, geo, rng, narrow=narrow)
    if narrow:
        nb = geo.narrow_mant_bits + 1
        junk = rng.integers(0, 1 << (geo.mw - nb), size=qa.shape) << nb
        qa = qa ^ junk
        junk = rng.integers(0, 1 << (geo.mw - nb), size=qw.shape) << nb
        qw = np.where(qw != 0, qw ^ junk, 0)
    return qa, ea, qw, ew


def engine_operands(M: int, N: int, K: int, rng: np.random.Generator, *,
                    specials: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """FP32 operands of an engine GEMM: activations M x K, weights K x N (float32).

    Activations are Gaussian with 5 % outliers (x 1e4) and 5 % zeros; with ``specials`` one
    row spans the whole FP32 exponent range (subnormals included), and one lane each is +Inf
    and NaN (their rows come out as the canonical NaN). Weights are Gaussian (finite: HBFP has
    no NaN/Inf encoding, and the weights are encoded offline).
    """
    a = rng.standard_normal((M, K)).astype(np.float32)
    a[rng.random((M, K)) < 0.05] *= np.float32(1e4)
    a[rng.random((M, K)) < 0.05] = 0
    if specials:
        a[min(1, M - 1)] = random_f32(rng, (K,), lo=0, hi=254).view(np.float32)
        if M > 2:
            a.view(np.uint32)[2, 0] = 0x7F800000
            a.view(np.uint32)[M - 1, K - 1] = 0x7FC00001
    w = (rng.standard_normal((K, N)) * 0.1).astype(np.float32)
    return a, w
