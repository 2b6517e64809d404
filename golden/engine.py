"""Golden model of the FP32-in / FP32-out HBFP GEMM engine (``hw/engine.py``, issue 12).

Pure NumPy. The engine is the pod plus the FP32 stages HBFP puts around every dot product:

1. **Activations in as FP32.** Each activation beat carries one fold slice of one row of A
   (``Kf`` FP32 lanes). The converter (:func:`golden.arith_fp.convert_blocks`) turns it into
   one HBFP block: the engine's HBFP block size *is* the fold depth ``Kf``. Blocks are
   converted in stream order (the stochastic LFSR advances once per beat, whatever its mode).
2. **Weights in pre-encoded.** Weights are static: :func:`encode_weights` prunes the FP32
   weights N:M along K (sparsify before quantizing), then encodes each ``Kf`` slice of a column
   as one HBFP block. The engine's weight stream is the pod's (``golden.systolic.PodLayout.w``).
3. **The pod** computes exact integer column sums per fold (``golden.systolic.pod_gemm``).
4. **Per column**, the normalizer (:func:`golden.arith_fp.normalize`) turns each sum into FP32,
   and an FP32 adder (:func:`golden.arith_fp.fp32_add_ftz`, RNE, denormals flushed) adds the
   K-folds in ascending k order into an output buffer of ``tile`` rows:
   ``acc = v_0; acc = acc + v_1; ...; acc = acc + v_{K-1}`` (left to right, one rounding per
   add). The last fold's sums leave as the FP32 result stream instead of going back.

Tiling (SOSA's row partition): n-folds outer, row tiles of ``tile`` rows next, k-folds inner.
Each fold streams the rows of one tile (the last tile may be shorter); the output buffer holds
one tile of C FP32 columns. Weights are therefore sent once per (n, tile, k) fold.

Special values: an activation block with a NaN or Inf lane is flagged by the converter; every
column sum of that row and fold becomes the canonical NaN (``0x7FC00000``), which the FP32 adds
propagate. FP32 subnormal inputs are what the converter makes of them (docs/datapath_fp.md).
Zeros encode as zero blocks and give +0. A normalized sum beyond the FP32 range is +-Inf, and
Inf + (-Inf) in the adds is the canonical NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from golden.arith_fp import (
    CANONICAL_NAN,
    DEFAULT_LFSR_SEED,
    INT8_QMAX,
    bits_f32,
    convert_blocks,
    dequantize_int8,
    fp32_add_ftz,
    fp32_mul_ftz,
    lfsr_offsets,
    normalize,
    quantize_int8,
    wrap_int32,
)
from golden.facts import EXP_WIDTH, MAX_TILE, ParamError, check_index
from golden.formats import hbfp_encode, int8_encode
from golden.sparsity import nm_prune
from golden.systolic import PodGeometry, PodLayout, _sext, compress_fold, fold_cycles

__all__ = [
    "EngineGeometry",
    "EngineFold",
    "EngineLayout",
    "EngineProgram",
    "engine_schedule",
    "engine_cycles",
    "engine_cycles_formula",
    "encode_weights",
    "engine_gemm",
    "engine_program",
    "int8_act_scale",
    "FP32_WORD",
    "ENGINE_ARITHS",
]

#: Bits of one FP32 lane.
FP32_WORD = 32
#: The engine's PE arithmetics: HBFP, and the FP32 and INT8 baseline arrays in the same shell.
ENGINE_ARITHS = ("hbfp", "fp32", "int8")
#: Bits of an INT8 code in the pod.
INT8_WORD = 8


@dataclass(frozen=True)
class EngineGeometry:
    """Static facts of one engine instance (mirrors ``hw.engine.Engine``'s parameters).

    ``convert_latency`` and ``normalize_latency`` are the pipeline depths of the converter
    and the normalizer inside; the engine adds one FIFO register on the way in and one on the
    way out (see :attr:`in_latency`, :attr:`out_latency`).
    """

    rows: int
    cols: int
    mant_bits: int
    acc_width: int
    tile: int
    sparsity: tuple[int, int] = (1, 1)
    narrow_mant_bits: int | None = None
    stochastic: bool = False
    offset_bits: int = 8
    seed: int = DEFAULT_LFSR_SEED
    convert_latency: int = 1
    normalize_latency: int = 1
    #: ``"hbfp"``; ``"fp32"``: the FP32 baseline array (FP32 multiply-add PEs, no converter
    #: (``convert_latency`` 0), a register for the normalizer, dense, no narrow mode);
    #: ``"int8"``: the INT8 baseline array (8-bit PEs, INT32 column sums, a per-tensor FP32
    #: activation scale and per-column FP32 weight scales; ``mant_bits`` 7, ``acc_width`` 32,
    #: dense, no narrow mode).
    arith: str = "hbfp"

    def __post_init__(self) -> None:
        if self.arith not in ENGINE_ARITHS:
            raise ParamError(f"engine arithmetic must be one of {', '.join(ENGINE_ARITHS)}, "
                             f"not {self.arith!r}", field="format")
        if self.arith == "fp32" and (self.convert_latency != 0 or self.sparsity != (1, 1)
                                     or self.narrow_mant_bits is not None):
            raise ParamError("the FP32 engine is dense, without a narrow mode or a converter "
                             "(convert_latency 0)", field="format")
        if self.arith == "int8" and (self.sparsity != (1, 1) or self.narrow_mant_bits is not None
                                     or self.mant_bits != INT8_WORD - 1
                                     or self.acc_width != 32 or self.stochastic):
            raise ParamError("the INT8 engine is dense, nearest-even, without a narrow mode, "
                             "with 8-bit codes (mant_bits 7) and 32-bit sums", field="format")
        t = check_index(self.tile, "tile height")
        if not 1 <= t <= MAX_TILE:
            raise ParamError(f"tile height must be 1..{MAX_TILE} rows, not {t}", field="tile")
        if self.in_latency > self.rows:
            raise ParamError(
                f"a {self.rows}-row engine cannot hide a {self.convert_latency}-stage converter "
                "behind its first weight load: use a converter pipeline of at most "
                f"{self.rows - 1}", field="pipeline")

    @property
    def pod(self) -> PodGeometry:
        """The pod inside: its HBFP block is one fold (``Kf`` lanes)."""
        kf = PodGeometry(self.rows, self.cols, self.mant_bits, self.acc_width, 1,
                         self.sparsity).kf
        return PodGeometry(self.rows, self.cols, self.mant_bits, self.acc_width, kf,
                           self.sparsity, self.narrow_mant_bits)

    @property
    def kf(self) -> int:
        """FP32 lanes per activation beat (the fold depth, also the HBFP block size)."""
        return self.pod.kf

    @property
    def in_latency(self) -> int:
        """Cycles from an accepted FP32 activation beat to the pod seeing its HBFP block."""
        return self.convert_latency + 1

    @property
    def out_latency(self) -> int:
        """Cycles from the pod handing over a result row to the engine handing over its FP32
        row (normalizer, then the add and write into the output FIFO, then the FIFO head)."""
        return self.normalize_latency + 1

    @property
    def latency(self) -> int:
        """Activation beat in to its result beat out, when nothing waits (final fold)."""
        return self.in_latency + self.pod.latency + self.out_latency


@dataclass(frozen=True)
class EngineFold:
    """One fold of the engine's schedule: weights of (k, n), rows ``r0 <= r < r1`` of A."""

    n: int
    tile: int
    k: int
    r0: int
    r1: int
    first: bool   #: k == 0: the tile's buffer rows are written, not added to
    final: bool   #: last k: the sums leave as results

    @property
    def rows(self) -> int:
        return self.r1 - self.r0


def _check_shape(M: int, N: int, K: int) -> tuple[int, int, int]:
    dims = tuple(check_index(d, name) for d, name in ((M, "M"), (N, "N"), (K, "K")))
    if min(dims) < 1:
        raise ParamError(f"GEMM dimensions must be positive, not M={M} N={N} K={K}",
                         field="gemm")
    return dims  # type: ignore[return-value]


def engine_schedule(M: int, N: int, K: int, geo: EngineGeometry) -> list[EngineFold]:
    """Fold order: n-folds outer, row tiles next, k-folds inner."""
    M, N, K = _check_shape(M, N, K)
    nkf, nnf = math.ceil(K / geo.kf), math.ceil(N / geo.cols)
    ntile = math.ceil(M / geo.tile)
    out = []
    for n in range(nnf):
        for t in range(ntile):
            r0, r1 = t * geo.tile, min(M, (t + 1) * geo.tile)
            for k in range(nkf):
                out.append(EngineFold(n, t, k, r0, r1, k == 0, k == nkf - 1))
    return out


def engine_cycles(M: int, N: int, K: int, geo: EngineGeometry) -> int:
    """Exact RTL cycle count of the engine for an M x K by K x N GEMM.

    Counted like the pod's (``golden.systolic.cycles``): from the first rising edge after
    reset with both input streams valid, to the edge that hands over the last FP32 result row,
    inclusive, with an always-ready result sink. The input pipeline (``in_latency <= R``) hides
    behind the first weight load; the FP32 stages add ``out_latency``.
    """
    sched = engine_schedule(M, N, K, geo)
    return fold_cycles([f.rows for f in sched], geo.rows, geo.cols) + geo.out_latency


def engine_cycles_formula() -> str:
    """The cycle formula as text, for the manifest and docs."""
    return (
        "folds in order n, tile, k with rows_f = rows of the tile; pod recurrence "
        "(golden.systolic.fold_cycles) over rows_f, plus out_latency = normalize_latency + 1. "
        "When every tile has at least R+C rows: F*tile-rows sum + 2R + C - 1 + out_latency."
    )


def int8_act_scale(a: np.ndarray) -> np.float32:
    """The INT8 engine's per-tensor activation scale ``s_a = amax / 127`` (float32), ``amax``
    over the finite values of ``a`` (1 when they are all zero): calibrated offline on the
    tensor itself, like the per-column weight scales."""
    v = bits_f32(_f32_bits(a)).astype(np.float32)
    fin = v[np.isfinite(v)]
    amax = np.float32(np.abs(fin).max()) if fin.size else np.float32(0)
    return np.float32(1) if amax == 0 else np.float32(amax / np.float32(INT8_QMAX))


def _inv_scale_bits(s_a: np.float32) -> np.uint32:
    """The multiplier the INT8 converter applies: ``1 / s_a`` in float32 (its bit pattern)."""
    return np.float32(np.float32(1) / np.float32(s_a)).view(np.uint32)


def encode_weights(w: np.ndarray, geo: EngineGeometry, *, narrow: bool = False,
                   prune: bool = True, act_scale: float | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Encode FP32 weights ``K x N`` offline into the engine's HBFP weights.

    N:M pruning along K first (``prune=False`` when ``w`` is already N:M sparse), then one HBFP
    block per ``Kf`` slice of every column, nearest-even, at the wide mantissa width (or the
    narrow one with ``narrow``).

    INT8 engine: per-column symmetric codes (``golden.formats.int8_encode`` along K,
    ``s_w = amax / 127``), and per column the FP32 output scale ``fp32(s_a * s_w)`` with the
    activation scale ``act_scale`` (:func:`int8_act_scale`), which the pod carries like the
    HBFP exponents. FP32 engine: the weights' bit patterns.

    Returns
    -------
    qw, ew:
        Mantissas (INT8 codes, FP32 patterns) ``K x N`` (int64) and the per-fold column side
        data ``ceil(K / Kf) x N``: exponents (HBFP), FP32 output-scale patterns (INT8), zeros.
    """
    w = np.asarray(w, dtype=np.float32)
    if w.ndim != 2:
        raise ValueError(f"weights must be K x N, got shape {w.shape}")
    n, m = geo.sparsity
    if prune and (n, m) != (1, 1):
        w = nm_prune(w, n, m, axis=0)
    if not np.isfinite(w).all():
        raise ValueError("weights must be finite: HBFP has no NaN or Inf encoding")
    nkf = math.ceil(w.shape[0] / geo.kf)
    if geo.arith == "fp32":  # FP32 weights are sent as they are (bit patterns)
        return w.view(np.uint32).astype(np.int64), np.zeros((nkf, w.shape[1]), np.int64)
    if geo.arith == "int8":
        if act_scale is None:
            raise ValueError("INT8 weights need the activation scale (int8_act_scale(a))")
        q, s_w = int8_encode(w, axis=0)
        s_a = np.asarray(np.float32(act_scale)).view(np.uint32)
        sc = fp32_mul_ftz(np.broadcast_to(s_a, s_w.shape), s_w.astype(np.float32).view(
            np.uint32))
        return q.astype(np.int64), np.repeat(sc.astype(np.int64), nkf, axis=0)
    mb = geo.narrow_mant_bits if narrow else geo.mant_bits
    if mb is None:
        raise ValueError("narrow weights need an engine with a narrow format")
    e, q = hbfp_encode(w, mb, geo.kf, axis=0)
    return q.astype(np.int64), e.astype(np.int64)


def _narrow_flags(narrow: bool | np.ndarray, beats: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(narrow, dtype=bool), (beats,)).copy()


def _act_lanes(a_bits: np.ndarray, sched: list[EngineFold], kf: int) -> np.ndarray:
    """FP32 lanes of every activation beat, in stream order: shape (beats, Kf) uint32."""
    M, K = a_bits.shape
    kp = math.ceil(K / kf) * kf
    a = np.zeros((M, kp), np.uint32)
    a[:, :K] = a_bits
    return np.concatenate([a[f.r0:f.r1, f.k * kf:(f.k + 1) * kf] for f in sched])


def _f32_bits(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype == np.float32:
        return x.view(np.uint32)
    if x.dtype == np.uint32:
        return x
    if np.issubdtype(x.dtype, np.floating):
        return x.astype(np.float32).view(np.uint32)
    raise ValueError(f"activations must be float32 values or uint32 FP32 patterns, not {x.dtype}")


@dataclass
class EngineTrace:
    """Per-beat intermediate values (stream order), for debugging and tests."""

    ea: np.ndarray        #: (beats,) activation block exponents
    qa: np.ndarray        #: (beats, Kf) activation mantissas
    invalid: np.ndarray   #: (beats,) NaN/Inf flags
    narrow: np.ndarray    #: (beats,) narrow-mode flags
    psum: np.ndarray      #: (beats, C) exact pod sums
    exp: np.ndarray       #: (beats, C) their exponents e_a + e_w
    fp32: np.ndarray      #: (beats, C) normalized FP32 patterns (NaN where invalid)


def engine_gemm(a: np.ndarray, qw: np.ndarray, ew: np.ndarray, geo: EngineGeometry, *,
                narrow: bool | np.ndarray = False, trace: bool | str = False,
                act_scale: float | None = None
                ) -> np.ndarray | tuple[np.ndarray, EngineTrace]:
    """Bit-exact FP32 result ``M x N`` (uint32 patterns) of the engine for ``A @ W``.

    Parameters
    ----------
    a:
        Activations ``M x K``: float32 values or uint32 FP32 bit patterns (NaN/Inf allowed).
    qw, ew:
        Encoded weights from :func:`encode_weights`.
    narrow:
        Narrow mode for the whole GEMM, or one flag per activation beat in stream order.
    trace:
        Also return the per-beat :class:`EngineTrace`; ``"padded"`` also keeps the padded
        columns (``N`` rounded up to a multiple of C), as the result stream carries them.
    act_scale:
        INT8 engine: the activation scale ``s_a`` the weights were encoded with (default
        :func:`int8_act_scale` of ``a``); every beat carries ``1 / s_a`` to the converter.
    """
    bits = _f32_bits(a)
    M, K = bits.shape
    qw = np.asarray(qw, np.int64)
    if qw.shape[0] != K:
        raise ValueError(f"inner dimensions differ: {K} vs {qw.shape[0]}")
    N = qw.shape[1]
    kf, C, mb = geo.kf, geo.cols, geo.mant_bits
    sched = engine_schedule(M, N, K, geo)
    lanes = _act_lanes(bits, sched, kf)
    beats = lanes.shape[0]
    modes = _narrow_flags(narrow, beats)
    if modes.any() and geo.narrow_mant_bits is None:
        raise ValueError("narrow beats need an engine with a narrow format")
    if geo.arith in ("fp32", "int8"):
        if geo.arith == "fp32":
            v = _fp32_array_sums(lanes, qw, sched, geo, N)
        else:
            s_a = int8_act_scale(bits) if act_scale is None else act_scale
            v = _int8_array_sums(lanes, qw, ew, _inv_scale_bits(s_a), sched, geo)
        out = _accumulate(v, sched, M, math.ceil(N / C) * C, C)
        if trace == "padded":
            return out, None
        return out[:, :N]
    # The converter: one LFSR sequence over all beats; each beat rounded at its mode's width.
    offs = lfsr_offsets(beats, kf, geo.offset_bits, geo.seed) if geo.stochastic else None
    ea = np.empty(beats, np.int64)
    qa = np.empty((beats, kf), np.int64)
    invalid = np.empty(beats, bool)
    for flag, width in ((False, mb), (True, geo.narrow_mant_bits)):
        sel = modes == flag
        if not sel.any():
            continue
        e, q, inv = convert_blocks(lanes[sel], width, stochastic=geo.stochastic,
                                   offset_bits=geo.offset_bits,
                                   offsets=None if offs is None else offs[sel])
        ea[sel], qa[sel], invalid[sel] = e, q, inv
    # The pod: exact sums of each beat with its fold's weights (narrow beats read the low bits).
    nkf, nnf = math.ceil(K / kf), math.ceil(N / C)
    w = np.zeros((nkf * kf, nnf * C), np.int64)
    w[:K, :N] = qw
    ewp = np.full((nkf, nnf * C), -125, np.int64)
    ewp[: ew.shape[0], :N] = ew
    psum = np.empty((beats, C), np.int64)
    exp = np.empty((beats, C), np.int64)
    wn = _sext(w, geo.narrow_mant_bits + 1) if modes.any() else w
    an = _sext(qa, geo.narrow_mant_bits + 1) if modes.any() else qa
    b = 0
    for f in sched:
        ks, ns = slice(f.k * kf, (f.k + 1) * kf), slice(f.n * C, (f.n + 1) * C)
        bs = slice(b, b + f.rows)
        psum[bs] = qa[bs] @ w[ks, ns]
        nm = modes[bs]
        if nm.any():
            psum[bs][nm] = an[bs][nm] @ wn[ks, ns]
        exp[bs] = ea[bs, None] + ewp[None, f.k, ns]
        b += f.rows
    # Normalizer: narrow rows scale by 2^(exp - 2 m_n) = 2^((exp + 2(m - m_n)) - 2m).
    shift = np.where(modes, 2 * (mb - (geo.narrow_mant_bits or mb)), 0)
    v = normalize(psum, exp + shift[:, None], 2 * mb)
    v = np.where(invalid[:, None], np.uint32(CANONICAL_NAN), v).astype(np.uint32)
    out = _accumulate(v, sched, M, nnf * C, C)
    if trace == "padded":
        return out, EngineTrace(ea, qa, invalid, modes, psum, exp, v)
    res = out[:, :N]
    if trace:
        return res, EngineTrace(ea, qa, invalid, modes, psum, exp, v)
    return res


def _accumulate(v: np.ndarray, sched: list[EngineFold], M: int, width: int, C: int
                ) -> np.ndarray:
    """FP32 accumulation of the per-beat sums ``v`` over k, in order, per (n, tile)."""
    out = np.zeros((M, width), np.uint32)
    b = 0
    acc: np.ndarray | None = None
    for f in sched:
        vf = v[b:b + f.rows]
        acc = vf.copy() if f.first else fp32_add_ftz(acc, vf)
        if f.final:
            out[f.r0:f.r1, f.n * C:(f.n + 1) * C] = acc
        b += f.rows
    return out


def _fp32_array_sums(lanes: np.ndarray, qw: np.ndarray, sched: list[EngineFold],
                     geo: EngineGeometry, N: int) -> np.ndarray:
    """Column sums of the FP32 array per beat: ``acc = +0``, then for r = 0..R-1 (top to
    bottom) ``acc = round(acc + round(w[r] * a[r]))`` (FTZ, RNE, canonical NaN)."""
    kf, C = geo.kf, geo.cols
    K = qw.shape[0]
    nkf, nnf = math.ceil(K / kf), math.ceil(N / C)
    w = np.zeros((nkf * kf, nnf * C), np.uint32)
    w[:K, :N] = np.asarray(qw, np.int64).astype(np.uint32)
    v = np.empty((lanes.shape[0], C), np.uint32)
    b = 0
    for f in sched:
        a = lanes[b:b + f.rows]
        wf = w[f.k * kf:(f.k + 1) * kf, f.n * C:(f.n + 1) * C]
        acc = np.zeros((f.rows, C), np.uint32)
        for r in range(kf):
            acc = fp32_add_ftz(acc, fp32_mul_ftz(np.broadcast_to(a[:, r, None], acc.shape),
                                                 np.broadcast_to(wf[None, r], acc.shape)))
        v[b:b + f.rows] = acc
        b += f.rows
    return v


def _int8_array_sums(lanes: np.ndarray, qw: np.ndarray, sc: np.ndarray, inv: np.uint32,
                     sched: list[EngineFold], geo: EngineGeometry) -> np.ndarray:
    """FP32 value per beat and column of the INT8 array: codes ``q_a`` from the converter,
    the INT32 fold sum ``q_a . q_w``, times the column's FP32 scale rounded once; NaN rows."""
    kf, C = geo.kf, geo.cols
    K, N = qw.shape
    nkf, nnf = math.ceil(K / kf), math.ceil(N / C)
    w = np.zeros((nkf * kf, nnf * C), np.int64)
    w[:K, :N] = qw
    scp = np.zeros((nkf, nnf * C), np.uint32)  # padded columns: scale 0, results +0
    scp[:, :N] = np.asarray(sc, np.int64).astype(np.uint32)
    qa, invalid = quantize_int8(lanes, inv)
    v = np.empty((lanes.shape[0], C), np.uint32)
    b = 0
    for f in sched:
        bs, ns = slice(b, b + f.rows), slice(f.n * C, (f.n + 1) * C)
        acc = wrap_int32(qa[bs] @ w[f.k * kf:(f.k + 1) * kf, ns])
        v[bs] = dequantize_int8(acc, np.broadcast_to(scp[f.k, ns], acc.shape))
        b += f.rows
    return np.where(invalid[:, None], np.uint32(CANONICAL_NAN), v).astype(np.uint32)


class EngineLayout:
    """Bit layout of the engine's flat stream payloads (LSB first).

    * ``act``: ``data`` (Kf FP32 lanes, lane i at bit ``32 i``), ``first``, ``final``, ``last``
      and, with a narrow format, ``narrow`` (1 bit each); INT8: then ``scale`` (32, the FP32
      multiplier ``1 / s_a``).
    * ``w``: the pod's weight payload (``golden.systolic.PodLayout.w``); FP32: ``data`` (C
      words); INT8: ``data`` (C 8-bit codes), ``scale`` (C FP32 output scales).
    * ``res``: ``data`` (C FP32 words, column c at bit ``32 c``), ``last`` (1).
    """

    def __init__(self, geo: EngineGeometry):
        self.geo = geo
        self.pod = PodLayout(geo.pod)
        self.act = [("data", geo.kf * FP32_WORD), ("first", 1), ("final", 1), ("last", 1)]
        if geo.narrow_mant_bits is not None:
            self.act.append(("narrow", 1))
        if geo.arith == "int8":
            self.act.append(("scale", FP32_WORD))
        # FP32 weights: C words per row, no exponents; INT8: C codes and C output scales
        self.w = {"hbfp": self.pod.w, "fp32": [("data", geo.cols * FP32_WORD)],
                  "int8": [("data", geo.cols * INT8_WORD), ("scale", geo.cols * FP32_WORD)]
                  }[geo.arith]
        self.res = [("data", geo.cols * FP32_WORD), ("last", 1)]

    width = staticmethod(PodLayout.width)
    offsets = staticmethod(PodLayout.offsets)

    def decode_res(self, words: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Result payload ints -> ``(fp32 (n, C) uint32, last (n,))``."""
        offs = self.offsets(self.res)
        d = PodLayout.unpack_vec(words, self.geo.cols, FP32_WORD, offs["data"][0], signed=False)
        last = np.array([(w >> offs["last"][0]) & 1 for w in words], np.int64)
        return d.astype(np.uint32), last


@dataclass
class EngineProgram:
    """Everything a testbench needs for one GEMM on the engine."""

    w_beats: list[int]        #: weight payload ints, R per fold, in fold order
    act_beats: list[int]      #: activation payload ints, one per row of every fold
    res: np.ndarray           #: expected result rows (n_res, C) uint32, in stream order
    res_last: np.ndarray      #: expected ``last`` of each result row
    out: np.ndarray           #: the M x N FP32 result (uint32)
    folds: int
    cycles: int               #: :func:`engine_cycles`
    schedule: list[EngineFold] = field(repr=False, default_factory=list)


def engine_program(a: np.ndarray, w: np.ndarray, geo: EngineGeometry, *,
                   narrow: bool | np.ndarray = False, encoded: tuple | None = None,
                   act_scale: float | None = None) -> EngineProgram:
    """Stimulus and expected results for ``A (M x K) @ W (K x N)`` on the engine.

    ``w`` holds FP32 weights (encoded here with :func:`encode_weights`, narrow when ``narrow``
    is ``True``), or pass ``encoded=(qw, ew)`` directly. ``narrow`` is the mode of the whole
    GEMM or of every activation beat. INT8: ``act_scale`` is ``s_a`` (default
    :func:`int8_act_scale` of ``a``), given with ``encoded`` weights made with the same value.
    """
    bits = _f32_bits(a)
    M, K = bits.shape
    s_a = None
    if geo.arith == "int8":
        s_a = int8_act_scale(bits) if act_scale is None else np.float32(act_scale)
    if encoded is None:
        qw, ew = encode_weights(w, geo, narrow=bool(np.all(narrow)) and np.any(narrow),
                                act_scale=s_a)
    else:
        qw, ew = (np.asarray(x, np.int64) for x in encoded)
    N = qw.shape[1]
    lay = EngineLayout(geo)
    pod, kf, C = geo.pod, geo.kf, geo.cols
    sched = engine_schedule(M, N, K, geo)
    nkf, nnf = math.ceil(K / kf), math.ceil(N / C)
    wp = np.zeros((nkf * kf, nnf * C), np.int64)
    wp[:K, :N] = qw
    ewp = np.full((nkf, nnf * C), -125, np.int64)
    ewp[: ew.shape[0], :N] = ew
    lanes = _act_lanes(bits, sched, kf)
    beats = lanes.shape[0]
    modes = _narrow_flags(narrow, beats)
    w_cache: dict[tuple[int, int], list[int]] = {}
    w_beats: list[int] = []
    flags = np.zeros((beats, 4), np.int64)  # first, final, last, narrow
    b = 0
    for f in sched:
        key = (f.k, f.n)
        if key not in w_cache:
            ks, ns = slice(f.k * kf, (f.k + 1) * kf), slice(f.n * C, (f.n + 1) * C)
            parts: dict[str, list[int]] = {}
            if geo.arith == "fp32":
                parts["data"] = lay.pod.pack_vec(wp[ks, ns], FP32_WORD)
            elif geo.arith == "int8":
                parts["data"] = lay.pod.pack_vec(wp[ks, ns], INT8_WORD)
                scp = np.zeros(nnf * C, np.int64)
                scp[:N] = ew[f.k]
                parts["scale"] = lay.pod.pack_vec(
                    np.repeat(scp[None, ns], geo.rows, axis=0), FP32_WORD)
            elif pod.sparse:
                vals, idx = compress_fold(wp[ks, ns], pod.n, pod.m)
                parts["data"] = lay.pod.pack_vec(vals, pod.mw)
                parts["idx"] = lay.pod.pack_vec(idx, pod.idx_bits)
            else:
                parts["data"] = lay.pod.pack_vec(wp[ks, ns], pod.mw)
            if geo.arith == "hbfp":
                parts["exp"] = lay.pod.pack_vec(
                    np.repeat(ewp[None, f.k, ns], geo.rows, axis=0), EXP_WIDTH)
            w_cache[key] = lay.pod.join(lay.w, parts)
        w_beats += w_cache[key]
        flags[b:b + f.rows, 0] = f.first
        flags[b:b + f.rows, 1] = f.final
        flags[b + f.rows - 1, 2] = 1
        b += f.rows
    flags[:, 3] = modes
    parts = {"data": lay.pod.pack_vec(lanes, FP32_WORD), "first": flags[:, 0].tolist(),
             "final": flags[:, 1].tolist(), "last": flags[:, 2].tolist()}
    if geo.narrow_mant_bits is not None:
        parts["narrow"] = flags[:, 3].tolist()
    if s_a is not None:
        parts["scale"] = [int(_inv_scale_bits(s_a))] * beats
    act_beats = lay.pod.join(lay.act, parts)
    # Padded columns (N not a multiple of C) come out too: +0, or NaN on an invalid row.
    full, _ = engine_gemm(bits, qw, ew, geo, narrow=modes, trace="padded", act_scale=s_a)
    rows, last = [], []
    for f in sched:
        if f.final:
            rows.append(full[f.r0:f.r1, f.n * C:(f.n + 1) * C])
            lst = np.zeros(f.rows, np.int64)
            lst[-1] = 1
            last.append(lst)
    return EngineProgram(w_beats, act_beats, np.concatenate(rows), np.concatenate(last),
                         full[:, :N],
                         len(sched), engine_cycles(M, N, K, geo), sched)
