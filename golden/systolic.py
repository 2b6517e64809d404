"""Golden model of the weight-stationary HBFP systolic pod (``hw/pod.py``, issue 5).

Pure NumPy. Three things live here:

* the **bit-exact model** of a tiled GEMM on the pod (:func:`pod_gemm`) and the exact stream
  traffic an outside testbench sends and receives (:func:`pod_program`, packed into the flat
  payload integers of the RTL ports by :class:`PodLayout`);
* the **exact RTL cycle count** (:func:`cycles`), measured equal in cocotb;
* the SCALE-Sim v3 weight-stationary model (:func:`scalesim_ws_cycles`, REFERENCE.md section 5)
  and utilization for real layer shapes (:func:`layer_table`).

Tiling (see docs/pod.md). A = activations, M x K (streamed row by row); B = weights, K x N
(stationary). One *fold* is a ``Kf x C`` slice of B, ``Kf = R * M_sp / N_sp`` logical reduction
elements (``Kf = R`` dense). Folds are visited n-fold outer, k-fold inner; each fold streams all
M rows of A. The pod returns, per fold and row, ``C`` exact integer partial sums
``sum_k qa[m, k] * qw[k, n]`` with exponent ``ea + ew``: value ``psum * 2^(exp - 2m)``. Every fold
lies inside one HBFP block (block size is a multiple of ``Kf``), so these integers are exact;
summing the K-folds is left to FP32 outside the pod (HBFP does non-dot-product work in FP32).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from golden.facts import EXP_WIDTH, PROD_EXP_WIDTH, index_bits, parse_nm

__all__ = [
    "EXP_WIDTH",
    "PROD_EXP_WIDTH",
    "PodGeometry",
    "PodLayout",
    "PodProgram",
    "fold_depth",
    "cycles",
    "cycles_formula",
    "fold_cycles",
    "fold_schedule",
    "scalesim_ws_cycles",
    "utilization",
    "pod_gemm",
    "pod_program",
    "accumulate_fp",
    "compress_fold",
    "random_hbfp_operands",
    "BERT_BASE_GEMMS",
    "RESNET50_GEMMS",
    "layer_table",
]



def _nm(sparsity: str | tuple[int, int] | None) -> tuple[int, int]:
    """``(N, M)`` of a sparsity spec; dense is ``(1, 1)`` (one weight per group of one)."""
    return parse_nm(sparsity) or (1, 1)


def fold_depth(rows: int, sparsity: str | tuple[int, int] | None = None) -> int:
    """Logical reduction elements per fold: ``rows * M / N`` (rows must be a multiple of N)."""
    n, m = _nm(sparsity)
    if rows % n:
        raise ValueError(f"pod rows {rows} must be a multiple of N={n} for {n}:{m} sparsity")
    return rows // n * m


def fold_schedule(M: int, N: int, K: int, rows: int, cols: int,
                  sparsity: str | tuple[int, int] | None = None) -> list[tuple[int, int]]:
    """Fold order ``[(k_fold, n_fold), ...]``: n-fold outer, k-fold inner."""
    kf = math.ceil(K / fold_depth(rows, sparsity))
    nf = math.ceil(N / cols)
    return [(k, n) for n in range(nf) for k in range(kf)]


# ---------------------------------------------------------------------------------------------
# Cycle models
# ---------------------------------------------------------------------------------------------
def fold_cycles(fold_rows: Sequence[int], rows: int, cols: int) -> int:
    """The RTL's fold recurrence for folds of any row counts (sources valid, sink ready).

    ``fold_rows[f]`` is the number of activation rows fold f streams (the pod ends a fold at
    the beat with ``last`` set, so folds may differ: the engine's row tiles do).
    """
    return _cycles_folds(len(fold_rows), fold_rows, rows, cols)


def _cycles_folds(folds: int, m_rows: int | Sequence[int], rows: int, cols: int) -> int:
    """The RTL's fold recurrence (sources always valid, sink always ready).

    Edges are numbered from 0, the first rising edge after reset with both sources valid.
    ``L_f`` is the edge of fold f's last weight beat, ``S_f``/``k_f`` those of its first/last
    activation beat. Weight bank ``f % 2`` is refilled only once every PE and the output
    exponent register are done with fold ``f - 2`` (the ready rule ``cnt >= row + C`` in the
    RTL): ``L_f >= k_{f-2} + C + R``.
    """
    per_fold = [m_rows] * folds if isinstance(m_rows, int) else [int(r) for r in m_rows]
    if folds < 1 or len(per_fold) != folds or min(per_fold) < 1:
        raise ValueError("need at least one fold and one activation row per fold")
    R, C = rows, cols
    last_load: list[int] = []
    last_act: list[int] = []
    for f in range(folds):
        if f == 0:
            lf = R - 1
        elif f == 1:
            lf = last_load[0] + R
        else:
            lf = max(last_load[f - 1] + R, last_act[f - 2] + C + R)
        sf = lf + 1 if f == 0 else max(last_act[f - 1] + 1, lf + 1)
        last_load.append(lf)
        last_act.append(sf + per_fold[f] - 1)
    # The last row's result is presented after R + C - 1 more advance edges and taken on the next.
    return last_act[-1] + R + C


def cycles(M: int, N: int, K: int, rows: int, cols: int,
           sparsity: str | tuple[int, int] | None = None) -> int:
    """Exact RTL cycle count of an M x K by K x N GEMM on an R x C pod.

    Counted from the first rising edge after reset at which both input streams are valid, to
    the rising edge that hands over the last result beat, inclusive, with an always-ready
    result sink. Includes the first weight load, input skew, fill and drain. The cocotb
    regressions measure exactly this number.

    When ``M >= R + C`` the fold loads are fully hidden and the closed form is
    ``F * M + 2R + C - 1`` with ``F = ceil(K / Kf) * ceil(N / C)``.
    """
    folds = len(fold_schedule(M, N, K, rows, cols, sparsity))
    return _cycles_folds(folds, M, rows, cols)


def cycles_formula() -> str:
    """The cycle formula as text, for the manifest and docs."""
    return (
        "F = ceil(K/Kf)*ceil(N/C) folds, Kf = R*M_sp/N_sp (R when dense); for f = 0..F-1: "
        "L_0 = R-1, L_1 = 2R-1, L_f = max(L_{f-1}+R, k_{f-2}+C+R); "
        "S_0 = R, S_f = max(k_{f-1}+1, L_f+1); k_f = S_f+M-1; cycles = k_{F-1}+R+C. "
        "Closed form when M >= R+C (loads fully hidden): cycles = F*M + 2R + C - 1."
    )


def scalesim_ws_cycles(M: int, N: int, K: int, rows: int, cols: int,
                       sparsity: str | tuple[int, int] | None = None) -> int:
    """SCALE-Sim v3 weight-stationary cycles: ``folds * (2R + C + M - 2) - 1``, no overlap.

    With N:M sparsity SCALE-Sim's layer-wise model replaces K by ``K * N / M``.
    """
    n, m = _nm(sparsity)
    k_eff = math.ceil(K * n / m)
    folds = math.ceil(k_eff / rows) * math.ceil(N / cols)
    return folds * (2 * rows + cols + M - 2) - 1


def utilization(M: int, N: int, K: int, rows: int, cols: int, n_cycles: int,
                sparsity: str | tuple[int, int] | None = None) -> float:
    """``M * N * K_eff / (cycles * R * C)``, ``K_eff = K * N_sp / M_sp`` (MACs actually needed)."""
    n, m = _nm(sparsity)
    return M * N * (K * n / m) / (n_cycles * rows * cols)


# ---------------------------------------------------------------------------------------------
# Real layer shapes (batch 1). WS streams the M rows; K is the reduction; N the output features.
# ---------------------------------------------------------------------------------------------
#: BERT-base, sequence length 128 (per head for the attention products).
BERT_BASE_GEMMS: list[tuple[str, int, int, int]] = [
    ("bert qkv proj (x3)", 128, 768, 768),
    ("bert attn QK^T (per head)", 128, 128, 64),
    ("bert attn AV (per head)", 128, 64, 128),
    ("bert attn out proj", 128, 768, 768),
    ("bert ffn1", 128, 3072, 768),
    ("bert ffn2", 128, 768, 3072),
]

#: ResNet-50 convolutions as im2col GEMMs: M = Ho*Wo, N = Cout, K = Cin*kh*kw (one of each kind).
RESNET50_GEMMS: list[tuple[str, int, int, int]] = [
    ("resnet50 conv1 7x7/2", 112 * 112, 64, 3 * 7 * 7),
    ("resnet50 conv2 1x1 64->64", 56 * 56, 64, 64),
    ("resnet50 conv2 3x3 64", 56 * 56, 64, 64 * 9),
    ("resnet50 conv2 1x1 64->256", 56 * 56, 256, 64),
    ("resnet50 conv3 3x3 128", 28 * 28, 128, 128 * 9),
    ("resnet50 conv4 3x3 256", 14 * 14, 256, 256 * 9),
    ("resnet50 conv5 3x3 512", 7 * 7, 512, 512 * 9),
    ("resnet50 conv5 1x1 512->2048", 7 * 7, 2048, 512),
    ("resnet50 fc", 1, 1000, 2048),
]


def layer_table(rows: int, cols: int, sparsity: str | tuple[int, int] | None = None,
                layers: Sequence[tuple[str, int, int, int]] | None = None) -> list[dict]:
    """Per layer (name, M, N, K): pod cycles, SCALE-Sim cycles, both utilizations, speed-up."""
    out = []
    for name, M, N, K in (layers if layers is not None else BERT_BASE_GEMMS + RESNET50_GEMMS):
        pod = cycles(M, N, K, rows, cols, sparsity)
        ss = scalesim_ws_cycles(M, N, K, rows, cols, sparsity)
        out.append({
            "layer": name, "M": M, "N": N, "K": K,
            "pod_cycles": pod, "scalesim_cycles": ss,
            "pod_util": utilization(M, N, K, rows, cols, pod, sparsity),
            "scalesim_util": utilization(M, N, K, rows, cols, ss, sparsity),
            "speedup": ss / pod,
        })
    return out


# ---------------------------------------------------------------------------------------------
# Bit-exact model
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PodGeometry:
    """Static facts of one pod instance (mirrors ``hw.pod.Pod``'s parameters)."""

    rows: int
    cols: int
    mant_bits: int
    acc_width: int
    block_size: int
    sparsity: tuple[int, int] = (1, 1)
    narrow_mant_bits: int | None = None

    @property
    def n(self) -> int:
        return self.sparsity[0]

    @property
    def m(self) -> int:
        return self.sparsity[1]

    @property
    def sparse(self) -> bool:
        return self.sparsity != (1, 1)

    @property
    def kf(self) -> int:
        """Logical reduction elements per fold."""
        return fold_depth(self.rows, self.sparsity)

    @property
    def mw(self) -> int:
        """Signed mantissa port width (m + 1)."""
        return self.mant_bits + 1

    @property
    def idx_bits(self) -> int:
        """Index bits per stored weight (``ceil(log2 M)``), 0 when dense."""
        return index_bits(self.m) if self.sparse else 0

    @property
    def latency(self) -> int:
        """Cycles from an accepted activation beat to its result beat being presented."""
        return self.rows + self.cols - 1


def _sext(x: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement reinterpretation of the low ``bits`` bits (the RTL's narrow mode)."""
    x = np.asarray(x, dtype=np.int64) & ((1 << bits) - 1)
    return np.where(x >= 1 << (bits - 1), x - (1 << bits), x)


def compress_fold(wf: np.ndarray, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Compress a ``Kf x C`` N:M-sparse weight slice into ``(values, indices)`` of ``R x C``.

    Group g (logical rows ``g*M .. g*M+M-1``) maps to physical rows ``g*N .. g*N+N-1``; the
    non-zeros are kept in index order; a group with fewer than N non-zeros is padded with zero
    values at the lowest unused positions (REFERENCE.md section 4), so indices strictly increase.
    Raises ``ValueError`` if a group holds more than N non-zeros.
    """
    kf, c = wf.shape
    g = kf // m
    grp = wf.reshape(g, m, c)
    nz = grp != 0
    if (nz.sum(axis=1) > n).any():
        raise ValueError(f"weights are not {n}:{m} sparse along K")
    # rank positions: non-zeros first (in index order), then the unused positions in index order
    key = np.where(nz, 0, 1) * m + np.arange(m)[None, :, None]
    order = np.argsort(key, axis=1, kind="stable")[:, :n, :]
    idx = np.sort(order, axis=1)
    vals = np.take_along_axis(grp, idx, axis=1)
    return vals.reshape(g * n, c), idx.reshape(g * n, c)


def pod_gemm(qa: np.ndarray, ea: np.ndarray, qw: np.ndarray, ew: np.ndarray,
             geo: PodGeometry, *, narrow: bool | np.ndarray = False
             ) -> tuple[np.ndarray, np.ndarray]:
    """Bit-exact pod output for the GEMM ``A (M x K) @ B (K x N)``.

    Parameters
    ----------
    qa, ea:
        Activation mantissas (M x K ints) and shared exponents (M x ceil(K/block)).
    qw, ew:
        Weight mantissas (K x N ints, N:M sparse along K if the pod is sparse) and exponents
        (ceil(K/block) x N).
    geo:
        The pod.
    narrow:
        Run-time narrow mode: the operands of a narrow activation beat (the row's activations
        and the weights they multiply) are read from their low ``narrow_mant_bits + 1`` bits.
        ``True``/``False`` for the whole GEMM, or one flag per activation beat as an ``(F, M)``
        array in fold order (the mode the pod sampled with each beat).

    Returns
    -------
    psum, exp:
        Arrays of shape ``(F, M, C)`` in fold order (:func:`fold_schedule`): the exact integer
        column sums and their exponents ``ea + ew``. Padded columns give 0 and the exponent of
        the zero-padded weight block.
    """
    qa = np.asarray(qa, dtype=np.int64)
    qw = np.asarray(qw, dtype=np.int64)
    M, K = qa.shape
    K2, N = qw.shape
    if K2 != K:
        raise ValueError(f"inner dimensions differ: {K} vs {K2}")
    kf, C, B = geo.kf, geo.cols, geo.block_size
    if B % kf:
        raise ValueError(f"block size {B} must be a multiple of the fold depth {kf}")
    nkf, nnf = math.ceil(K / kf), math.ceil(N / C)
    kp, np_ = nkf * kf, nnf * C
    a = np.zeros((M, kp), np.int64)
    a[:, :K] = qa
    w = np.zeros((kp, np_), np.int64)
    w[:K, :N] = qw
    F = nkf * nnf
    modes = np.broadcast_to(np.asarray(narrow, dtype=bool), (F, M))
    if modes.any():
        bits = geo.narrow_mant_bits + 1
        an, wn = _sext(a, bits), _sext(w, bits)
    nb = math.ceil(kp / B)
    eap = np.full((M, nb), -125, np.int64)
    eap[:, : ea.shape[1]] = ea
    ewp = np.full((nb, np_), -125, np.int64)
    ewp[: ew.shape[0], :N] = ew
    psum = np.empty((nkf * nnf, M, C), np.int64)
    exp = np.empty((nkf * nnf, M, C), np.int64)
    for f, (k, n) in enumerate(fold_schedule(M, N, K, geo.rows, C, geo.sparsity)):
        ks, ns = slice(k * kf, (k + 1) * kf), slice(n * C, (n + 1) * C)
        psum[f] = a[:, ks] @ w[ks, ns]
        if modes[f].any():
            psum[f][modes[f]] = an[modes[f]][:, ks] @ wn[ks, ns]
        blk = k * kf // B
        exp[f] = eap[:, blk, None] + ewp[None, blk, ns]
    return psum, exp


def accumulate_fp(psum: np.ndarray, exp: np.ndarray, M: int, N: int, K: int,
                  geo: PodGeometry, *, mant_bits: int | None = None) -> np.ndarray:
    """FP accumulation outside the pod: ``sum over k-folds of psum * 2^(exp - 2m)`` (float64)."""
    mb = geo.mant_bits if mant_bits is None else mant_bits
    nkf = math.ceil(K / geo.kf)
    C = geo.cols
    nnf = math.ceil(N / C)
    val = np.ldexp(psum.astype(np.float64), (exp - 2 * mb).astype(np.int32))
    val = val.reshape(nnf, nkf, M, C).sum(axis=1)  # (nnf, M, C)
    return val.transpose(1, 0, 2).reshape(M, nnf * C)[:, :N]


def random_hbfp_operands(M: int, N: int, K: int, geo: PodGeometry, rng: np.random.Generator,
                         *, narrow: bool = False) -> tuple[np.ndarray, ...]:
    """Random HBFP operands (mantissas at full range, exponents in [-20, 20]).

    With a sparse pod the weights get a random N:M pattern along K (some groups with fewer
    non-zeros, to exercise the padding rule). In narrow mode mantissas stay within the narrow
    range.
    """
    mb = geo.narrow_mant_bits if narrow else geo.mant_bits
    lim = (1 << mb) - 1
    B = geo.block_size
    nb = math.ceil(K / B)
    qa = rng.integers(-lim, lim + 1, size=(M, K))
    qw = rng.integers(-lim, lim + 1, size=(K, N))
    if geo.sparse:
        n, m = geo.sparsity
        kp = math.ceil(K / m) * m
        keep = np.zeros((kp // m, m, N), bool)
        r = rng.random((kp // m, m, N)).argsort(axis=1)[:, :n, :]
        np.put_along_axis(keep, r, True, axis=1)
        keep &= rng.random(keep.shape) < 0.9
        qw = qw * keep.reshape(kp, N)[:K]
    ea = rng.integers(-20, 21, size=(M, nb))
    ew = rng.integers(-20, 21, size=(nb, N))
    return qa, ea, qw, ew


# ---------------------------------------------------------------------------------------------
# Stream payloads
# ---------------------------------------------------------------------------------------------
class PodLayout:
    """Bit layout of the flat stream payloads (LSB first, as Amaranth packs a StructLayout).

    * ``act``: ``data`` (Kf fields of m+1 bits, element i at bit ``i*(m+1)``), ``exp`` (9, signed),
      ``last`` (1).
    * ``w``: ``data`` (C fields of m+1 bits, column c at bit ``c*(m+1)``), ``idx`` (C fields of
      ``ceil(log2 M)`` bits, sparse only), ``exp`` (C fields of 9 bits).
    * ``res``: ``data`` (C fields of acc_width bits), ``exp`` (C fields of 10 bits), ``last`` (1).
    """

    def __init__(self, geo: PodGeometry):
        self.geo = geo
        mw, C = geo.mw, geo.cols
        self.act = [("data", geo.kf * mw), ("exp", EXP_WIDTH), ("last", 1)]
        self.w = [("data", C * mw)]
        if geo.sparse:
            self.w.append(("idx", C * geo.idx_bits))
        self.w.append(("exp", C * EXP_WIDTH))
        self.res = [("data", C * geo.acc_width), ("exp", C * PROD_EXP_WIDTH), ("last", 1)]

    @staticmethod
    def width(fields: list[tuple[str, int]]) -> int:
        return sum(w for _, w in fields)

    @staticmethod
    def offsets(fields: list[tuple[str, int]]) -> dict[str, tuple[int, int]]:
        """``name -> (lsb, width)``."""
        out, pos = {}, 0
        for name, w in fields:
            out[name] = (pos, w)
            pos += w
        return out

    @staticmethod
    def pack_vec(values: np.ndarray, bits: int) -> list[int]:
        """Pack each row of a 2-D int array into one int (element j at bit ``j*bits``)."""
        v = np.asarray(values, dtype=np.int64) & ((1 << bits) - 1)
        out = []
        for row in v.tolist():
            x = 0
            for j in range(len(row) - 1, -1, -1):
                x = (x << bits) | row[j]
            out.append(x)
        return out

    @staticmethod
    def unpack_vec(words: Sequence[int], count: int, bits: int, lsb: int = 0,
                   signed: bool = True) -> np.ndarray:
        """Inverse of :meth:`pack_vec` on words whose field starts at bit ``lsb``."""
        mask = (1 << bits) - 1
        out = np.empty((len(words), count), np.int64)
        for i, wd in enumerate(words):
            x = wd >> lsb
            for j in range(count):
                out[i, j] = (x >> (j * bits)) & mask
        if signed:
            out = np.where(out >= 1 << (bits - 1), out - (1 << bits), out)
        return out

    def join(self, fields: list[tuple[str, int]], parts: dict[str, list[int]]) -> list[int]:
        """Combine per-field packed ints into whole payload ints."""
        offs = self.offsets(fields)
        n = len(next(iter(parts.values())))
        out = [0] * n
        for name, vals in parts.items():
            lsb, w = offs[name]
            mask = (1 << w) - 1
            for i, v in enumerate(vals):
                out[i] |= (v & mask) << lsb
        return out

    def decode_res(self, words: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Result payload ints -> ``(psum (n, C), exp (n, C), last (n,))``."""
        offs = self.offsets(self.res)
        C = self.geo.cols
        d = self.unpack_vec(words, C, self.geo.acc_width, offs["data"][0])
        e = self.unpack_vec(words, C, PROD_EXP_WIDTH, offs["exp"][0])
        last = np.array([(w >> offs["last"][0]) & 1 for w in words], np.int64)
        return d, e, last


@dataclass
class PodProgram:
    """Everything a testbench needs for one GEMM: beats to send and results to expect."""

    w_beats: list[int]          #: weight payload ints, R per fold, row 0 first
    act_beats: list[int]        #: activation payload ints, M per fold, ``last`` on each fold's end
    psum: np.ndarray            #: expected (F, M, C) integer sums
    exp: np.ndarray             #: expected (F, M, C) exponents
    folds: int
    m_rows: int
    cycles: int                 #: :func:`cycles` for this GEMM

    @property
    def expected_last(self) -> np.ndarray:
        last = np.zeros((self.folds, self.m_rows), np.int64)
        last[:, -1] = 1
        return last.reshape(-1)


def pod_program(qa: np.ndarray, ea: np.ndarray, qw: np.ndarray, ew: np.ndarray,
                geo: PodGeometry, *, narrow: bool | np.ndarray = False) -> PodProgram:
    """Stimulus and expected results for the GEMM, in the pod's stream formats.

    ``narrow``: the mode of every activation beat (see :func:`pod_gemm`).
    """
    qa = np.asarray(qa, dtype=np.int64)
    qw = np.asarray(qw, dtype=np.int64)
    M, K = qa.shape
    N = qw.shape[1]
    lay = PodLayout(geo)
    kf, C, B, mw = geo.kf, geo.cols, geo.block_size, geo.mw
    sched = fold_schedule(M, N, K, geo.rows, C, geo.sparsity)
    nkf, nnf = math.ceil(K / kf), math.ceil(N / C)
    a = np.zeros((M, nkf * kf), np.int64)
    a[:, :K] = qa
    w = np.zeros((nkf * kf, nnf * C), np.int64)
    w[:K, :N] = qw
    nb = math.ceil(nkf * kf / B)
    ewp = np.full((nb, nnf * C), -125, np.int64)
    ewp[: ew.shape[0], :N] = ew
    eap = np.full((M, nb), -125, np.int64)
    eap[:, : ea.shape[1]] = ea
    w_beats: list[int] = []
    act_beats: list[int] = []
    last = np.zeros(M, np.int64)
    last[-1] = 1
    for k, n in sched:
        ks, ns = slice(k * kf, (k + 1) * kf), slice(n * C, (n + 1) * C)
        blk = k * kf // B
        wf = w[ks, ns]
        parts: dict[str, list[int]] = {}
        if geo.sparse:
            vals, idx = compress_fold(wf, geo.n, geo.m)
            parts["data"] = lay.pack_vec(vals, mw)
            parts["idx"] = lay.pack_vec(idx, geo.idx_bits)
        else:
            parts["data"] = lay.pack_vec(wf, mw)
        parts["exp"] = lay.pack_vec(np.repeat(ewp[None, blk, ns], geo.rows, axis=0), EXP_WIDTH)
        w_beats += lay.join(lay.w, parts)
        act_beats += lay.join(lay.act, {
            "data": lay.pack_vec(a[:, ks], mw),
            "exp": [int(x) for x in eap[:, blk]],
            "last": [int(x) for x in last],
        })
    psum, exp = pod_gemm(qa, ea, qw, ew, geo, narrow=narrow)
    return PodProgram(w_beats, act_beats, psum, exp, len(sched), M,
                      cycles(M, N, K, geo.rows, C, geo.sparsity))
