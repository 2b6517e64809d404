"""Sparsity x quantization interplay study (issue 7): ``python -m studies.interplay``.

``make interplay`` runs it.

Reproduces, at tensor, dot-product and model level, the three claims of Harma et al.,
*Effective Interplay between Sparsity and Quantization* (ICLR 2025):

1. sparsity before quantization (S->Q, ``Q(S(x))``) is no worse than Q->S (``S(Q(x))``) for
   max-scaled block formats;
2. the two are not orthogonal: the combined error differs from the sum of the individual errors;
3. quantization error dominates.

Sweep: every format of :data:`FORMATS` x every sparsity of :data:`SPARSITIES` x both orders, on
synthetic tensors and on every linear layer of all-MiniLM-L6-v2 (when the study extra is
installed). Tensors are pruned and quantized along their reduction axis: for a linear layer
``y = x @ W.T`` with ``W`` stored (out, in), that is the last axis of ``W``.

Metrics per combination (definitions repeated in the report):

* ``rel_l2`` = ||C(W) - W||_2 / ||W||_2 over all tensors of a data set (sums of squares pooled);
* ``rel_l1`` = ||C(W) - W||_1 / ||W||_1 (pooled the same way);
* ``dot`` = ||X C(W)^T - X W^T||_F / ||X W^T||_F, X real activations of that layer;
* ``gap_l1`` = rel_l1(C) - rel_l1(S) - rel_l1(Q) and ``gap_dot`` likewise (orthogonality gap;
  > 0 means the combination is worse than the two errors added, the paper's non-orthogonality);
* ``flip`` = share of keep/prune decisions that differ between the mask of W and the mask of Q(W).

Outputs ``build/reports/interplay/report.md``, ``results.csv``, ``layers.csv`` and PNG plots.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich import progress as rich_progress
from rich.console import Console

from golden import interplay, sparsity
from studies.minilm import StudyExtraMissing, fp32_linear, load_minilm, study_extra_missing
from studies.sentences import HANDWRITTEN, SIMILAR_PAIRS, UNRELATED_PAIRS, sentences

__all__ = [
    "FORMATS",
    "MODEL_FORMATS",
    "MODEL_SPARSITIES",
    "SPARSITIES",
    "Progress",
    "StudyResult",
    "TensorSet",
    "main",
    "model_check",
    "run_study",
    "sparsity_label",
    "sweep_tensors",
    "synthetic_sets",
    "write_report",
]

#: Quantization formats of the sweep (``golden.interplay.parse_quant`` spec strings).
FORMATS: tuple[str, ...] = (
    "hbfp8@16",
    "hbfp8@64",
    "hbfp6@16",
    "hbfp6@64",
    "hbfp4@16",
    "hbfp4@64",
    "mxfp8_e4m3",
    "mxfp6_e2m3",
    "mxfp4",
    "mxint8",
    "int8",
)
#: Sparsity patterns: N:M strings and unstructured fractions.
SPARSITIES: tuple[str | float, ...] = ("2:4", "1:4", "2:8", 0.5, 0.75)
ORDERS: tuple[str, ...] = ("sq", "qs")
#: The model-level check runs this subset (the main formats x 2:4 and 50 %).
MODEL_FORMATS: tuple[str, ...] = ("hbfp8@64", "hbfp6@64", "hbfp4@64", "mxfp8_e4m3", "mxfp4", "int8")
MODEL_SPARSITIES: tuple[str | float, ...] = ("2:4", 0.5)
#: Headline: HBFP6 block 64 with 2:4 and 50 % unstructured on the real weights.
HEADLINE_FORMAT = "hbfp6@64"
HEADLINE_SPARSITIES: tuple[str | float, ...] = ("2:4", 0.5)

#: Activation rows per layer for the dot-product errors (a fixed subsample of real tokens).
ACT_ROWS = 256
SEED = 20250101

_ORDER_LABEL = {"sq": "S→Q", "qs": "Q→S"}


def sparsity_label(sp: str | float | None) -> str:
    """``"2:4"`` stays, ``0.5`` becomes ``"50%"``, ``None`` is ``"dense"``."""
    if sp is None:
        return "dense"
    if isinstance(sp, str):
        return sp
    return f"{100 * float(sp):g}%"


# ---- progress bar ---------------------------------------------------------------------------
class Progress:
    """Progress of a long study on stderr, drawn by :mod:`rich.progress`.

    On a terminal, rich redraws one bar (label, bar, done/total, elapsed time, what runs now).
    Otherwise (CI logs, ``make`` piped) a redrawn bar would only litter the log, so the same
    information is printed as a plain line (``interplay [ 40%] 88/220  12.3s <note>``) at
    every 10 % and at least every 20 s, so slow phases show life. ``enabled=False``
    (``--quiet``) prints nothing.

    Use it as a context manager (or call :meth:`close`) so that the terminal bar is stopped
    even when the study fails half-way; it also stops by itself when ``done`` reaches
    ``total``.
    """

    def __init__(self, total: int, label: str, stream=None, enabled: bool = True) -> None:
        self.total = max(int(total), 1)
        self.label = label
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_decile = -1
        self.t0 = time.perf_counter()
        self._last_print = self.t0
        self._bar: rich_progress.Progress | None = None
        if enabled and self.tty:
            self._bar = rich_progress.Progress(
                rich_progress.TextColumn("{task.description}"),
                rich_progress.BarColumn(),
                rich_progress.MofNCompleteColumn(),
                rich_progress.TimeElapsedColumn(),
                rich_progress.TextColumn("{task.fields[note]}"),
                console=Console(file=self.stream),
            )
            self._task = self._bar.add_task(label, total=self.total, note="")
            self._bar.start()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the terminal bar (idempotent)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def update(self, n: int = 1, note: str = "") -> None:
        self.done = min(self.done + n, self.total)
        if not self.enabled:
            return
        if self.tty:
            if self._bar is not None:
                self._bar.update(self._task, completed=self.done, note=note)
                if self.done == self.total:
                    self.close()
            return
        frac = self.done / self.total
        now = time.perf_counter()
        decile = int(frac * 10)
        if decile != self._last_decile or self.done == self.total or now - self._last_print > 20:
            self._last_decile = decile
            self._last_print = now
            self.stream.write(f"{self.label} [{frac:4.0%}] {self.done}/{self.total} "
                              f"{now - self.t0:5.1f}s {note}\n")
            self.stream.flush()


# ---- data -------------------------------------------------------------------------------------
@dataclass
class TensorSet:
    """A named group of 2-D weights (out, in) with the activations (rows, in) each one sees."""

    name: str
    description: str
    weights: dict[str, np.ndarray]
    acts: dict[str, np.ndarray]


def synthetic_sets(
    acts: np.ndarray | None = None, shape: tuple[int, int] = (768, 384), seed: int = SEED
) -> list[TensorSet]:
    """The three synthetic weight tensors of the issue, with their activations.

    * Gaussian N(0, 0.02^2);
    * Laplace (scale 0.02) with 0.5 % of the elements multiplied by 50 (outliers);
    * Gaussian rows scaled by 2^u, u uniform in [-12, 12]: per-row scales spanning a wide
      exponent range (rows are output channels, each with its own reduction vector).

    ``acts`` (rows, shape[1]) are the activations for the dot-product error; the study passes
    MiniLM token-embedding rows, and falls back to Gaussian activations without the model.
    """
    rng = np.random.default_rng(seed)
    out, inn = shape
    if acts is None:
        acts = rng.standard_normal((ACT_ROWS, inn)).astype(np.float32)
    gauss = (rng.standard_normal(shape) * 0.02).astype(np.float32)
    lap = rng.laplace(0.0, 0.02, shape)
    outl = rng.random(shape) < 0.005
    lap = np.where(outl, lap * 50.0, lap).astype(np.float32)
    scales = np.exp2(rng.uniform(-12.0, 12.0, (out, 1)))
    rows = (rng.standard_normal(shape) * scales).astype(np.float32)
    mk = [
        ("gaussian", "Gaussian N(0, 0.02²)", gauss),
        ("laplace_outliers", "Laplace(0.02) with 0.5 % outliers ×50", lap),
        ("row_scales", "Gaussian rows scaled by 2^U(−12, 12)", rows),
    ]
    return [TensorSet(n, f"{d}, {out}×{inn}", {n: w}, {n: acts}) for n, d, w in mk]


def minilm_set(model, acts: dict[str, np.ndarray]) -> TensorSet:
    """Every linear layer of the model (36 tensors) with its captured FP32 input activations."""
    weights = model.linear_layers()
    n = sum(w.size for w in weights.values())
    return TensorSet(
        "minilm",
        f"all-MiniLM-L6-v2, all {len(weights)} linear layers (Q, K, V, O, FFN up, FFN down × 6),"
        f" {n / 1e6:.2f} M weights",
        weights,
        acts,
    )


def capture_activations(
    model, sents: Sequence[str], rows: int = ACT_ROWS, seed: int = SEED
) -> dict[str, np.ndarray]:
    """FP32 inputs of every linear layer on ``sents``: a fixed subsample of ``rows`` token rows.

    Sentences run one at a time so no padding row ever enters the sample.
    """

    rec: dict[str, list[np.ndarray]] = {}

    def recorder(name, x, w, b):
        rec.setdefault(name, []).append(x.reshape(-1, x.shape[-1]))
        return fp32_linear(name, x, w, b)

    model.encode(list(sents), linear=recorder, batch_size=1)
    rng = np.random.default_rng(seed)
    out = {}
    for name, parts in rec.items():
        a = np.concatenate(parts)
        idx = np.sort(rng.choice(len(a), size=min(rows, len(a)), replace=False))
        out[name] = np.ascontiguousarray(a[idx], dtype=np.float32)
    return out


# ---- tensor sweep -----------------------------------------------------------------------------
def _mask(x: np.ndarray, sp: str | float) -> np.ndarray:
    """Keep-mask of ``x`` along its last axis (the golden sparsity functions, True = kept)."""
    if isinstance(sp, str):
        n, m = (int(v) for v in sp.split(":"))
        return np.asarray(sparsity.nm_mask(x, n, m, axis=-1), dtype=bool)
    return np.asarray(sparsity.unstructured_mask(x, float(sp)), dtype=bool)


class _Acc:
    """Pooled sums for one (data set, format, sparsity, order) cell."""

    __slots__ = ("abs_err", "sq_err", "dot_err", "flips", "decisions", "nnz")

    def __init__(self) -> None:
        self.nnz = 0
        self.abs_err = 0.0
        self.sq_err = 0.0
        self.dot_err = 0.0
        self.flips = 0
        self.decisions = 0


@dataclass
class _Base:
    abs_ref: float = 0.0
    sq_ref: float = 0.0
    dot_ref: float = 0.0
    numel: int = 0


def _measure(w: np.ndarray, x: np.ndarray, cs: Sequence[np.ndarray]) -> list[dict[str, float]]:
    """L1, squared-L2 and squared output error ``||x @ (c - w).T||_F^2`` of each ``c``.

    The output errors of all candidates come from one stacked matrix product: a single large
    GEMM runs much closer to BLAS peak than a dozen small ones.
    """
    d = np.stack([c - w for c in cs])  # (k, out, in)
    a = np.abs(d).sum(axis=(1, 2), dtype=np.float64)
    s = np.square(d, dtype=np.float64).sum(axis=(1, 2))
    y = x @ d.reshape(-1, d.shape[-1]).T  # (rows, k * out)
    e = np.square(y, dtype=np.float64).reshape(y.shape[0], len(cs), -1).sum(axis=(0, 2))
    return [
        {
            "abs": float(a[i]),
            "sq": float(s[i]),
            "dot": float(e[i]),
            "nnz": int(np.count_nonzero(cs[i])),
        }
        for i in range(len(cs))
    ]


def _accumulate(acc: _Acc, m: dict[str, float]) -> None:
    acc.abs_err += m["abs"]
    acc.sq_err += m["sq"]
    acc.dot_err += m["dot"]
    acc.nnz += m["nnz"]


def _key(fmt: str | None, sp: str | float | None, order: str | None) -> tuple:
    return (fmt, sparsity_label(sp) if sp is not None else None, order)


def sweep_tensors(
    tset: TensorSet,
    formats: Sequence[str] = FORMATS,
    sparsities: Sequence[str | float] = SPARSITIES,
    progress: Progress | None = None,
) -> tuple[list[dict], list[dict]]:
    """Run every (format, sparsity, order) on one tensor set.

    The cells reuse per-tensor caches: ``Q(W)`` once per format and the mask of ``W`` once per
    sparsity, so S->Q costs one quantization and Q->S one mask per cell. The pipeline is the
    same as ``golden.interplay.compress`` (the tests check it element for element).

    Returns
    -------
    rows : list of dict
        One row per (format, sparsity) with both orders' metrics pooled over the set.
    layer_rows : list of dict
        The same metrics per tensor (for ``layers.csv``).
    """
    base = _Base()
    cells: dict[tuple, _Acc] = {}
    layer_rows: list[dict] = []
    quants = {f: interplay.parse_quant(f) for f in formats}

    def cell(k: tuple) -> _Acc:
        return cells.setdefault(k, _Acc())

    for lname, w in tset.weights.items():
        w = np.ascontiguousarray(w, dtype=np.float32)
        x = tset.acts[lname]
        ref_out = x @ w.T
        lb = {
            "abs": float(np.abs(w).sum(dtype=np.float64)),
            "sq": float(np.square(w, dtype=np.float64).sum()),
            "dot": float(np.square(ref_out, dtype=np.float64).sum()),
        }
        base.abs_ref += lb["abs"]
        base.sq_ref += lb["sq"]
        base.dot_ref += lb["dot"]
        base.numel += w.size
        masks = {sparsity_label(sp): _mask(w, sp) for sp in sparsities}
        single: dict[tuple, dict] = {}
        s_keys = [_key(None, sp, None) for sp in sparsities]
        s_ms = _measure(w, x, [np.where(masks[k[1]], w, np.float32(0)) for k in s_keys])
        for k, m in zip(s_keys, s_ms, strict=True):
            _accumulate(cell(k), m)
            single[k] = m
        for f in formats:
            q = quants[f]
            qw = np.asarray(q(w), dtype=np.float32)
            cands: list[np.ndarray] = [qw]
            keys: list[tuple] = [_key(f, None, None)]
            flips: dict[str, int] = {}
            for sp in sparsities:
                sl = sparsity_label(sp)
                mw = masks[sl]
                sq = np.asarray(q(np.where(mw, w, np.float32(0))), dtype=np.float32)
                mq = _mask(qw, sp)
                qs = np.where(mq, qw, np.float32(0))
                flips[sl] = int(np.count_nonzero(mw != mq))
                cands += [sq, qs]
                keys += [_key(f, sp, "sq"), _key(f, sp, "qs")]
            ms_all = _measure(w, x, cands)
            del cands
            qm = ms_all[0]
            _accumulate(cell(keys[0]), qm)
            single[keys[0]] = qm
            for k, m in zip(keys[1:], ms_all[1:], strict=True):
                _, sl, order = k
                acc = cell(k)
                _accumulate(acc, m)
                acc.flips += flips[sl]
                acc.decisions += w.size
                ms = single[(None, sl, None)]
                layer_rows.append(
                    {
                        "set": tset.name,
                        "tensor": lname,
                        "format": f,
                        "sparsity": sl,
                        "order": order,
                        "rel_l2": math.sqrt(m["sq"] / lb["sq"]),
                        "rel_l1": m["abs"] / lb["abs"],
                        "dot": math.sqrt(m["dot"] / lb["dot"]),
                        "gap_l1": (m["abs"] - ms["abs"] - qm["abs"]) / lb["abs"],
                        "gap_dot": (
                            math.sqrt(m["dot"]) - math.sqrt(ms["dot"]) - math.sqrt(qm["dot"])
                        )
                        / math.sqrt(lb["dot"]),
                        "flip": flips[sl] / w.size,
                        "density": m["nnz"] / w.size,
                    }
                )
            if progress is not None:
                progress.update(1, f"{tset.name}:{lname} {f}")

    def metr(acc: _Acc) -> dict[str, float]:
        return {
            "density": acc.nnz / base.numel,
            "rel_l2": math.sqrt(acc.sq_err / base.sq_ref),
            "rel_l1": acc.abs_err / base.abs_ref,
            "dot": math.sqrt(acc.dot_err / base.dot_ref),
        }

    rows = []
    for f in formats:
        qm = metr(cells[_key(f, None, None)])
        for sp in sparsities:
            sm = metr(cells[_key(None, sp, None)])
            row = {
                "set": tset.name,
                "format": f,
                "sparsity": sparsity_label(sp),
                "q_rel_l2": qm["rel_l2"],
                "s_rel_l2": sm["rel_l2"],
                "q_rel_l1": qm["rel_l1"],
                "s_rel_l1": sm["rel_l1"],
                "q_dot": qm["dot"],
                "s_dot": sm["dot"],
            }
            for order in ORDERS:
                acc = cells[_key(f, sp, order)]
                cm = metr(acc)
                row[f"{order}_rel_l2"] = cm["rel_l2"]
                row[f"{order}_rel_l1"] = cm["rel_l1"]
                row[f"{order}_dot"] = cm["dot"]
                row[f"{order}_gap_l1"] = cm["rel_l1"] - sm["rel_l1"] - qm["rel_l1"]
                row[f"{order}_gap_dot"] = cm["dot"] - sm["dot"] - qm["dot"]
                row[f"{order}_density"] = cm["density"]
                row["flip"] = acc.flips / max(acc.decisions, 1)
            rows.append(row)
    return rows, layer_rows


# ---- model-level check --------------------------------------------------------------------------
def _compressed_weights(
    model, quant: Callable | None, sp: str | float | None, order: str | None
) -> dict[str, np.ndarray]:
    out = {}
    for name, w in model.linear_layers().items():
        if sp is None:
            out[name] = np.asarray(quant(w), np.float32) if quant else w
        elif quant is None:
            out[name] = np.where(_mask(w, sp), w, np.float32(0))
        elif order == "sq":
            out[name] = np.asarray(quant(np.where(_mask(w, sp), w, np.float32(0))), np.float32)
        else:
            qw = np.asarray(quant(w), np.float32)
            out[name] = np.where(_mask(qw, sp), qw, np.float32(0))
    return out


def _compressed_linear(weights: dict[str, np.ndarray], act_quant: Callable | None):
    """Linear layer with compressed weights and (optionally) quantized input activations.

    The activations are quantized along their last axis, which is the reduction axis of
    ``x @ W.T``: the same blocking the weights use, the HBFP way of running a dot product.
    """

    last: list = [None, None]  # (input object, its quantized copy)

    def lin(name, x, w, b):
        if act_quant is not None:
            # Q, K and V read the same input array: quantize it once, not three times.
            if last[0] is not x:
                last[:] = [x, np.asarray(act_quant(x), np.float32)]
            x = last[1]
        return x @ weights[name].T + b

    return lin


def _cos_stats(ref: np.ndarray, emb: np.ndarray) -> dict[str, float]:
    cos = np.sum(ref * emb, axis=-1) / (np.linalg.norm(ref, axis=-1) * np.linalg.norm(emb, axis=-1))
    return {
        "cos_mean": float(cos.mean()),
        "cos_min": float(cos.min()),
        "cos_p5": float(np.percentile(cos, 5)),
    }


def model_check(
    model,
    sents: Sequence[str],
    formats: Sequence[str] = MODEL_FORMATS,
    sparsities: Sequence[str | float] = MODEL_SPARSITIES,
    progress: Progress | None = None,
    ref: np.ndarray | None = None,
) -> dict:
    """Cosine similarity of sentence embeddings, compressed model vs FP32, on ``sents``.

    Runs quantization alone, sparsity alone and both orders of every (format, sparsity).
    Weights are compressed as in the tensor sweep; activations entering every linear layer are
    quantized with the same format along the reduction axis (sparsity applies to weights only).
    Attention score/context products, softmax, LayerNorm and GELU stay FP32.

    Returns
    -------
    dict
        ``{"n": len(sents), "rows": [...]}``, one row per (format, sparsity) with the cosine
        statistics of each variant, and the model-level orthogonality gap on 1 - mean cosine.
    """
    if ref is None:
        ref = model.encode(sents)
    quants = {f: interplay.parse_quant(f) for f in formats}

    def run(quant, sp, order):
        w = _compressed_weights(model, quant, sp, order)
        emb = model.encode(sents, linear=_compressed_linear(w, quant))
        if progress is not None:
            progress.update(1, f"model {order or ''}")
        return _cos_stats(ref, emb)

    s_only = {sparsity_label(sp): run(None, sp, None) for sp in sparsities}
    rows = []
    for f in formats:
        q_only = run(quants[f], None, None)
        for sp in sparsities:
            sl = sparsity_label(sp)
            row = {"format": f, "sparsity": sl, "q": q_only, "s": s_only[sl]}
            for order in ORDERS:
                row[order] = run(quants[f], sp, order)
            dq = 1 - q_only["cos_mean"]
            ds = 1 - s_only[sl]["cos_mean"]
            for order in ORDERS:
                row[f"{order}_gap"] = (1 - row[order]["cos_mean"]) - dq - ds
            rows.append(row)
    return {"n": len(sents), "rows": rows}


def fp32_sanity(model) -> dict:
    """FP32 forward-pass sanity: unit norm, related pairs score above unrelated ones."""

    def cos(pairs):
        flat = [s for p in pairs for s in p]
        e = model.encode(flat)
        return [float(e[2 * i] @ e[2 * i + 1]) for i in range(len(pairs))]

    sim = cos(SIMILAR_PAIRS)
    unr = cos(UNRELATED_PAIRS)
    norms = np.linalg.norm(model.encode([p[0] for p in SIMILAR_PAIRS]), axis=-1)
    return {
        "similar": sim,
        "unrelated": unr,
        "min_similar": min(sim),
        "max_unrelated": max(unr),
        "norm_err": float(np.abs(norms - 1).max()),
        "ok": min(sim) > max(unr) and float(np.abs(norms - 1).max()) < 1e-5,
    }


# ---- the whole study ----------------------------------------------------------------------------
@dataclass
class StudyResult:
    """Everything the report needs."""

    sets: list[TensorSet]
    rows: list[dict]
    layer_rows: list[dict]
    formats: tuple[str, ...]
    sparsities: tuple[str | float, ...]
    model: dict | None = None
    sanity: dict | None = None
    skipped: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def run_study(
    formats: Sequence[str] = FORMATS,
    sparsities: Sequence[str | float] = SPARSITIES,
    *,
    real: bool = True,
    layers: Iterable[str] | None = None,
    model_level: bool = True,
    n_sentences: int | None = None,
    model_formats: Sequence[str] = MODEL_FORMATS,
    model_sparsities: Sequence[str | float] = MODEL_SPARSITIES,
    synthetic_shape: tuple[int, int] = (768, 384),
    progress: bool = True,
) -> StudyResult:
    """Run the sweep (and the model-level check) in memory.

    Parameters
    ----------
    formats, sparsities : sequence
        Sweep axes (defaults: the issue's full sweep).
    real : bool
        Include the MiniLM weights (skipped with a recorded reason when the extra is missing).
    layers : iterable of str, optional
        Restrict the real-weight sweep to these linear layers (tests use a couple).
    model_level : bool
        Run the cosine-similarity check (needs the extra).
    n_sentences : int, optional
        Use only the first ``n_sentences`` study sentences (default: all of them, >= 200).
    """

    formats = tuple(formats)
    sparsities = tuple(sparsities)
    timings: dict[str, float] = {}
    skipped: list[str] = []
    model = None
    t0 = time.perf_counter()
    if real or model_level:
        reason = study_extra_missing()
        if reason:
            skipped.append(f"real weights and model-level check skipped: {reason}")
        else:
            try:
                model = load_minilm()
            except StudyExtraMissing as exc:  # pragma: no cover - broken install
                skipped.append(f"real weights and model-level check skipped: {exc}")
    acts = None
    token_rows = None
    if model is not None:
        # The dot-product activations: FP32 inputs of each linear layer on 5 sentences of each
        # handwritten topic group, and token-embedding rows for the synthetic tensors.
        act_sents = [s for i, s in enumerate(HANDWRITTEN) if i % 8 < 5]
        acts = capture_activations(model, act_sents)
        toks = np.unique(np.concatenate([np.asarray(t) for t in model.tokenize(act_sents)]))
        emb = model.weights["embeddings.word_embeddings.weight"]
        rng = np.random.default_rng(SEED)
        pick = rng.choice(toks, size=min(ACT_ROWS, len(toks)), replace=False)
        token_rows = emb[np.sort(pick)]
        if synthetic_shape[1] != token_rows.shape[1]:
            token_rows = None
    timings["setup"] = time.perf_counter() - t0

    sets = synthetic_sets(token_rows, synthetic_shape)
    if real and model is not None:
        ms = minilm_set(model, acts)
        if layers is not None:
            keep = list(layers)
            ms.weights = {k: ms.weights[k] for k in keep}
        sets.append(ms)
    total = sum(len(s.weights) for s in sets) * len(formats)
    sents = None
    n_model = 0
    if model_level and model is not None:
        sents = sentences()
        if n_sentences is not None:
            sents = sents[: int(n_sentences)]
        n_model = len(model_sparsities) + len(model_formats) * (1 + 2 * len(model_sparsities)) + 1
    rows: list[dict] = []
    layer_rows: list[dict] = []
    mres = None
    sanity = None
    with Progress(total + n_model, "interplay", enabled=progress) as prog:
        t1 = time.perf_counter()
        for s in sets:
            r, lr = sweep_tensors(s, formats, sparsities, prog)
            rows += r
            layer_rows += lr
        timings["tensor sweep"] = time.perf_counter() - t1

        if sents is not None:
            t2 = time.perf_counter()
            sanity = fp32_sanity(model)
            ref = model.encode(sents)
            prog.update(1, "model fp32")
            mres = model_check(model, sents, model_formats, model_sparsities, prog, ref=ref)
            timings["model check"] = time.perf_counter() - t2
    if sents is None and model_level and model is None and not skipped:
        skipped.append("model-level check skipped: model not loaded")
    timings["total"] = time.perf_counter() - t0
    return StudyResult(
        sets=sets,
        rows=rows,
        layer_rows=layer_rows,
        formats=formats,
        sparsities=sparsities,
        model=mres,
        sanity=sanity,
        skipped=skipped,
        timings=timings,
    )


# ---- report -------------------------------------------------------------------------------------
def _fmt(v: float, digits: int = 4) -> str:
    if v == 0:
        return "0"
    if abs(v) < 10 ** -(digits - 1):
        return f"{v:.2e}"
    return f"{v:.{digits}f}"


def _rel_diff(a: float, b: float) -> str:
    r = (a - b) / b
    return f"{r:.2%}" if r >= 1e-4 else f"{r:.1e}"


def _verdict(sq: float, qs: float) -> str:
    """Line verdict for the claim S→Q ≤ Q→S on one metric, with the relative margin."""
    if sq == qs:
        return "held (equal)"
    if sq < qs:
        return f"held (Q→S +{_rel_diff(qs, sq)})" if sq > 0 else "held"
    return f"**did not hold** (S→Q +{_rel_diff(sq, qs)})"


def _sign_count(rows: list[dict], key: str) -> tuple[int, int]:
    pos = sum(1 for r in rows if r[key] > 0)
    return pos, len(rows)


def _plots(result: StudyResult, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    set_names = [s.name for s in result.sets]
    main_set = "minilm" if "minilm" in set_names else set_names[0]
    rows = [r for r in result.rows if r["set"] == main_set]
    fmts = list(result.formats)
    sps = [sparsity_label(s) for s in result.sparsities]

    for metric, title, fname in (
        ("rel_l2", "relative L2 error of the weights", "order_rel_l2.png"),
        ("dot", "relative error of X·Wᵀ on real activations", "order_dot.png"),
    ):
        fig, axes = plt.subplots(1, len(sps), figsize=(3.2 * len(sps), 3.8), sharey=False)
        axes = np.atleast_1d(axes)
        xs = np.arange(len(fmts))
        for ax, sl in zip(axes, sps, strict=True):
            by = {r["format"]: r for r in rows if r["sparsity"] == sl}
            ax.bar(xs - 0.2, [by[f][f"sq_{metric}"] for f in fmts], 0.4, label="S→Q")
            ax.bar(xs + 0.2, [by[f][f"qs_{metric}"] for f in fmts], 0.4, label="Q→S")
            ax.set_title(f"{sl}")
            ax.set_xticks(xs, fmts, rotation=70, fontsize=7)
            vals = [by[f][f"{o}_{metric}"] for f in fmts for o in ORDERS]
            # Linear axis zoomed on the data: the order effect is a few % of the error.
            lo, hi = min(vals), max(vals)
            ax.set_ylim(max(0.0, lo - 0.05 * (hi - lo + 1e-12) - 0.01 * lo), hi * 1.01)
        axes[0].set_ylabel(metric)
        axes[0].legend(fontsize=7)
        fig.suptitle(f"{main_set}: {title} (y axis zoomed on the data)")
        fig.tight_layout()
        fig.savefig(out / fname, dpi=110)
        plt.close(fig)
        files.append(fname)

    # Mask flip rate and Q->S / S->Q ratio heatmaps.
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    flip = np.array(
        [
            [next(r for r in rows if r["format"] == f and r["sparsity"] == s)["flip"] for s in sps]
            for f in fmts
        ]
    )
    ratio = np.array(
        [
            [
                (lambda r: r["qs_rel_l2"] / r["sq_rel_l2"])(
                    next(r for r in rows if r["format"] == f and r["sparsity"] == s)
                )
                for s in sps
            ]
            for f in fmts
        ]
    )
    for ax, data, title in (
        (axes[0], 100 * flip, "mask flip rate (%)"),
        (axes[1], ratio, "rel. L2 error ratio Q→S / S→Q"),
    ):
        im = ax.imshow(data, aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(sps)), sps)
        ax.set_yticks(range(len(fmts)), fmts, fontsize=8)
        for i in range(len(fmts)):
            for j in range(len(sps)):
                ax.text(j, i, f"{data[i, j]:.3f}", ha="center", va="center", fontsize=7, color="w")
        ax.set_title(f"{main_set}: {title}")
        fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(out / "flip_ratio.png", dpi=110)
    plt.close(fig)
    files.append("flip_ratio.png")

    if result.model:
        mrows = result.model["rows"]
        labels = [f"{r['format']}\n{r['sparsity']}" for r in mrows]
        xs = np.arange(len(mrows))
        fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(mrows)), 4))
        for off, key, lab in (
            (-0.3, "q", "Q only"),
            (-0.1, "s", "S only"),
            (0.1, "sq", "S→Q"),
            (0.3, "qs", "Q→S"),
        ):
            ax.bar(xs + off, [1 - r[key]["cos_mean"] for r in mrows], 0.2, label=lab)
        ax.set_xticks(xs, labels, fontsize=7)
        ax.set_yscale("log")
        ax.set_ylabel("1 − mean cosine to FP32")
        ax.set_title(f"MiniLM sentence embeddings ({result.model['n']} sentences)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "model_cosine.png", dpi=110)
        plt.close(fig)
        files.append("model_cosine.png")
    return files


def write_report(result: StudyResult, out_dir: str | Path) -> Path:
    """Write ``report.md``, ``results.csv``, ``layers.csv`` and the plots into ``out_dir``.

    Returns the path of ``report.md``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("results.csv", result.rows), ("layers.csv", result.layer_rows)):
        with open(out / name, "w", newline="") as fh:
            if rows:
                wr = csv.DictWriter(fh, fieldnames=list(rows[0]))
                wr.writeheader()
                wr.writerows(rows)
    plots = _plots(result, out)
    L: list[str] = []
    w = L.append
    w("# Sparsity × quantization interplay study\n")
    w(
        "Generated by `make interplay` (`python -m studies.interplay`). Reproduces, with the "
        "project's "
        "golden arithmetic, the claims of Harma et al., *Effective Interplay between Sparsity and "
        "Quantization* (ICLR 2025). Method and definitions: `docs/interplay.md`.\n"
    )
    tm = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
    w(f"Wall time: {tm}.\n")
    for s in result.skipped:
        w(f"> **Skipped:** {s}\n")
    w("## Data sets\n")
    for s in result.sets:
        w(f"- `{s.name}`: {s.description}")
    w("")
    w("## Definitions\n")
    w(
        "All errors compare the compressed tensor C(W) with the FP32 tensor W; pruning and "
        "quantization run along the reduction axis (the input dimension of each linear layer, "
        "the last axis of W stored (out, in)). Errors of a data set pool the sums over all its "
        "tensors.\n"
    )
    w("- **rel L2** = ‖C(W) − W‖₂ / ‖W‖₂.  **rel L1** = ‖C(W) − W‖₁ / ‖W‖₁.")
    w(
        "- **dot** = ‖X·C(W)ᵀ − X·Wᵀ‖_F / ‖X·Wᵀ‖_F with X real activations (FP32 inputs of that "
        "layer for MiniLM, token-embedding rows for the synthetic tensors)."
    )
    w(
        "- **Orthogonality gap**. The paper calls sparsity and quantization orthogonal when "
        "the error of their composition is no larger than the sum of the errors each one makes "
        "alone, ε(C) ≤ ε(S) + ε(Q) (its model-level form is the *orthogonality threshold*: the "
        "sum of the two individual degradations). We report gap = ε(C) − ε(S) − ε(Q) with ε the "
        "relative L1 error (`gap L1`), the dot error (`gap dot`) and, at model level, "
        "1 − cosine. gap > 0: the combination is worse than the two errors added "
        "(non-orthogonal); gap ≤ 0: within the orthogonal bound."
    )
    w(
        "- **density**: share of non-zero elements in C(W) (quantization can flush kept elements "
        "to zero, so it can be below the nominal 1 − sparsity)."
    )
    w(
        "- **Mask flip rate**: share of keep/prune decisions that differ between the mask of W and "
        "the mask of Q(W) (the Q→S mask). It is the same for both orders."
    )
    w(
        "- **S→Q ≤ Q→S** is judged per line on rel L2 and on dot separately; `equal` means the "
        "pooled error sums of the two orders are bit-identical.\n"
    )

    # Headline.
    hl = [
        r
        for r in result.rows
        if r["set"] == "minilm"
        and r["format"] == HEADLINE_FORMAT
        and r["sparsity"] in {sparsity_label(s) for s in HEADLINE_SPARSITIES}
    ]
    if hl:
        w("## Headline: HBFP6 block 64 on the real MiniLM weights\n")
        w("| sparsity | rel L2 S→Q | rel L2 Q→S | dot S→Q | dot Q→S | flip rate | S→Q ≤ Q→S |")
        w("|---|---|---|---|---|---|---|")
        for r in hl:
            w(
                f"| {r['sparsity']} | {_fmt(r['sq_rel_l2'])} | {_fmt(r['qs_rel_l2'])} | "
                f"{_fmt(r['sq_dot'])} | {_fmt(r['qs_dot'])} | {r['flip']:.2%} | "
                f"L2: {_verdict(r['sq_rel_l2'], r['qs_rel_l2'])}; "
                f"dot: {_verdict(r['sq_dot'], r['qs_dot'])} |"
            )
        w("")

    if result.model:
        m = result.model
        w(f"## Model level: MiniLM sentence embeddings vs FP32 ({m['n']} sentences)\n")
        if result.sanity:
            sn = result.sanity
            w(
                f"FP32 sanity: related pairs cosine ≥ {sn['min_similar']:.3f}, unrelated pairs ≤ "
                f"{sn['max_unrelated']:.3f}, max |‖e‖ − 1| = {sn['norm_err']:.1e}: "
                f"{'**ok**' if sn['ok'] else '**FAILED**'}.\n"
            )
        w(
            "Mean (min) cosine similarity of each compressed model's embedding to the FP32 "
            "embedding of the same sentence. Weights compressed as in the tensor sweep; "
            "activations into every linear layer quantized with the same format along the "
            "reduction axis.\n"
        )
        w("| format | sparsity | Q only | S only | S→Q | Q→S | S→Q ≥ Q→S | gap S→Q | gap Q→S |")
        w("|---|---|---|---|---|---|---|---|---|")
        for r in m["rows"]:

            def c(d):
                return f"{d['cos_mean']:.4f} ({d['cos_min']:.3f})"

            held = r["sq"]["cos_mean"] >= r["qs"]["cos_mean"]
            w(
                f"| {r['format']} | {r['sparsity']} | {c(r['q'])} | {c(r['s'])} | {c(r['sq'])} | "
                f"{c(r['qs'])} | {'held' if held else '**did not hold**'} | "
                f"{r['sq_gap']:+.4f} | {r['qs_gap']:+.4f} |"
            )
        w("")
        w(
            "Model-level gap = (1 − cos(C)) − (1 − cos(S)) − (1 − cos(Q)) on the mean cosine, the "
            "analogue of the paper's orthogonality threshold on perplexity.\n"
        )

    # Claims summary.
    w("## The paper's claims, as measured here\n")
    for s in result.sets:
        rows = [r for r in result.rows if r["set"] == s.name]
        n = len(rows)
        l2_held = sum(1 for r in rows if r["sq_rel_l2"] <= r["qs_rel_l2"])
        dot_held = sum(1 for r in rows if r["sq_dot"] <= r["qs_dot"])
        g_sq = _sign_count(rows, "sq_gap_l1")
        g_qs = _sign_count(rows, "qs_gap_l1")
        gd_sq = _sign_count(rows, "sq_gap_dot")
        gd_qs = _sign_count(rows, "qs_gap_dot")
        qdom = sum(1 for r in rows if r["q_rel_l2"] > r["s_rel_l2"])
        fails = [r for r in rows if r["sq_rel_l2"] > r["qs_rel_l2"]]
        sparser = [r for r in fails if r["sq_density"] < r["qs_density"]]
        w(
            f"- `{s.name}`: S→Q ≤ Q→S held on {l2_held}/{n} lines (rel L2) and {dot_held}/{n} "
            f"(dot). Gap L1 > 0 on {g_sq[0]}/{n} lines for S→Q, {g_qs[0]}/{n} for Q→S; gap dot > 0 "
            f"on {gd_sq[0]}/{n} (S→Q), {gd_qs[0]}/{n} (Q→S). Quantization error above sparsity "
            f"error (rel L2) on {qdom}/{n} lines."
        )
        if fails:
            w(
                f"  - Where S→Q lost on rel L2 ({len(fails)} lines: "
                + ", ".join(f"{r['format']} {r['sparsity']}" for r in fails)
                + f"), S→Q ended with fewer non-zeros than Q→S on {len(sparser)} of them "
                "(quantization flushes kept elements to zero after S→Q, while Q→S prunes those "
                "zeros first and keeps other elements instead; see `docs/interplay.md`)."
            )
    if result.model:
        mr = result.model["rows"]
        held = sum(1 for r in mr if r["sq"]["cos_mean"] >= r["qs"]["cos_mean"])
        pos = sum(1 for r in mr for o in ORDERS if r[f"{o}_gap"] > 0)
        qdom = sum(1 for r in mr if r["q"]["cos_mean"] < r["s"]["cos_mean"])
        w(
            f"- model level: S→Q at least as good as Q→S on {held}/{len(mr)} lines; model gap > 0 "
            f"on {pos}/{2 * len(mr)} (format, sparsity, order) cells; quantization alone hurts "
            f"more than sparsity alone on {qdom}/{len(mr)} lines."
        )
    w("")

    w("## Plots\n")
    for p in plots:
        w(f"![{p}]({p})\n")

    w("## Full sweep, line by line\n")
    w(
        "Errors as defined above; gaps are on rel L1 and on dot. Verdict columns say whether "
        "S→Q ≤ Q→S held on that line.\n"
    )
    for s in result.sets:
        rows = [r for r in result.rows if r["set"] == s.name]
        w(f"### `{s.name}`\n")
        w(
            "| format | sparsity | Q only L2 | S only L2 | L2 S→Q | L2 Q→S | dot S→Q | dot Q→S | "
            "gap L1 S→Q | gap L1 Q→S | gap dot S→Q | gap dot Q→S | flip | density S→Q / Q→S | "
            "S→Q ≤ Q→S (L2) | S→Q ≤ Q→S (dot) |"
        )
        w("|" + "---|" * 16)
        for r in rows:
            w(
                f"| {r['format']} | {r['sparsity']} | {_fmt(r['q_rel_l2'])} | "
                f"{_fmt(r['s_rel_l2'])} | {_fmt(r['sq_rel_l2'])} | {_fmt(r['qs_rel_l2'])} | "
                f"{_fmt(r['sq_dot'])} | {_fmt(r['qs_dot'])} | {r['sq_gap_l1']:+.2e} | "
                f"{r['qs_gap_l1']:+.2e} | {r['sq_gap_dot']:+.2e} | {r['qs_gap_dot']:+.2e} | "
                f"{r['flip']:.2%} | {r['sq_density']:.4f} / {r['qs_density']:.4f} | "
                f"{_verdict(r['sq_rel_l2'], r['qs_rel_l2'])} | "
                f"{_verdict(r['sq_dot'], r['qs_dot'])} |"
            )
        w("")
    w("Per-tensor figures: `layers.csv`; pooled figures: `results.csv`.\n")
    path = out / "report.md"
    path.write_text("\n".join(L))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m studies.interplay``: run the full sweep and write the report."""
    ap = argparse.ArgumentParser(prog="python -m studies.interplay",
                                 description=__doc__.split("\n")[0])
    ap.add_argument(
        "--out",
        default=os.path.join("build", "reports", "interplay"),
        help="report folder (default build/reports/interplay)",
    )
    ap.add_argument("--no-model", action="store_true", help="skip the model-level cosine check")
    ap.add_argument("--no-real", action="store_true", help="synthetic tensors only")
    ap.add_argument(
        "--sentences",
        type=int,
        default=None,
        help="use only the first N study sentences in the model check",
    )
    ap.add_argument(
        "--formats",
        default=",".join(FORMATS),
        help="comma-separated quantization specs (default: the full sweep)",
    )
    ap.add_argument(
        "--sparsities",
        default=",".join(str(s) for s in SPARSITIES),
        help="comma-separated N:M patterns or unstructured fractions",
    )
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    sps: list[str | float] = []
    for tok in (t.strip() for t in args.sparsities.split(",") if t.strip()):
        sps.append(tok if ":" in tok else float(tok))
    for f in formats:
        interplay.parse_quant(f)  # fail fast on a bad spec, before any work
    res = run_study(
        formats,
        sps,
        real=not args.no_real,
        model_level=not args.no_model,
        n_sentences=args.sentences,
        progress=not args.quiet,
    )
    path = write_report(res, args.out)
    for s in res.skipped:
        print(f"note: {s}", file=sys.stderr)
    print(f"wrote {path} ({res.timings['total']:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
