"""Composition of quantization and sparsity (S->Q vs Q->S) and the error metrics.

Pure NumPy. ``compress(x, order="sq")`` is ``Q(S(x))``: prune on the original magnitudes, then
quantize. ``order="qs"`` is ``S(Q(x))``: quantize, then prune on the *quantized* magnitudes,
where equal magnitudes are common and the lower-index tie rule decides which element dies.
Quantizers and N:M groups act along the last (reduction) axis.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from golden._common import check_choice
from golden.facts import FORMATS, HBFP_FORMATS, check_nm
from golden.formats import hbfp_quantize, int8_quantize, mx_quantize
from golden.sparsity import nm_mask, unstructured_mask

__all__ = [
    "DEFAULT_HBFP_BLOCK",
    "DEFAULT_MX_BLOCK",
    "QUANT_SPECS",
    "parse_quant",
    "parse_sparsity_spec",
    "sparsity_mask",
    "compress",
    "l1_error",
    "l2_error",
    "relative_error",
    "dot_error",
    "mask_flip_rate",
]

Quantizer = Callable[[np.ndarray], np.ndarray]

#: Block size of "hbfpN" without "@block" (the interplay paper's setting).
DEFAULT_HBFP_BLOCK = 64
#: Block size of the MX specs without "@block" (OCP MX).
DEFAULT_MX_BLOCK = 32

_HBFP_M = HBFP_FORMATS
#: MX spec name -> microxcaling element-format name (from the registry).
_MX = {k: f.mx.name for k, f in FORMATS.items() if f.mx is not None}
#: Accepted spec names; "hbfp*" and "mx*" take an optional "@<block>" suffix.
QUANT_SPECS = (*_HBFP_M, *_MX, "int8", "int8_asym", "fp32")


def _identity(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float32).copy()


def parse_quant(spec: str | Callable[[np.ndarray], np.ndarray] | None) -> Quantizer:
    """Turn a quantizer spec into a callable ``x -> float32 array`` acting on the last axis.

    Parameters
    ----------
    spec : str, callable or None
        ``"hbfp8" | "hbfp6" | "hbfp4"`` with optional ``"@<block>"`` (default 64, nearest
        even); ``"mxfp8_e4m3" | "mxfp8_e5m2" | "mxfp6_e2m3" | "mxfp6_e3m2" | "mxfp4" |
        "mxint8"`` with optional ``"@<block>"`` (default 32, rounding "even");
        ``"int8"`` (symmetric per-channel, one scale per last-axis row), ``"int8_asym"`` (the
        interplay paper's scale ``2 max|x| / 255``, zero point 128); ``"fp32"`` or ``None``
        (identity, float32 copy); or any callable, returned as is.

    Raises
    ------
    ValueError
        Unknown name or a bad block suffix.
    """
    if spec is None:
        return _identity
    if callable(spec):
        return spec
    if not isinstance(spec, str):
        raise ValueError(f"quant must be a spec string, a callable or None, got {spec!r}")
    mt = re.fullmatch(r"([a-z0-9_]+)(?:@(\d+))?", spec.strip().lower())
    name = mt.group(1) if mt else spec
    if not mt or name not in QUANT_SPECS:
        raise ValueError(
            f"quant must be one of {', '.join(QUANT_SPECS)} or a callable; got {spec!r}"
        )
    block = int(mt.group(2)) if mt.group(2) else None
    if block is not None and not (name in _HBFP_M or name in _MX):
        raise ValueError(f"quant {spec!r}: only hbfp* and mx* specs take an @block suffix")
    if block == 0:
        raise ValueError(f"quant {spec!r}: block size must be >= 1")
    if name in _HBFP_M:
        return partial(
            hbfp_quantize, mant_bits=_HBFP_M[name], block_size=block or DEFAULT_HBFP_BLOCK
        )
    if name in _MX:
        return partial(mx_quantize, elem_format=_MX[name], block_size=block or DEFAULT_MX_BLOCK)
    if name == "int8":
        return partial(int8_quantize, axis=-1, mode="symmetric")
    if name == "int8_asym":
        return partial(int8_quantize, axis=-1, mode="asymmetric")
    return _identity


def parse_sparsity_spec(sparsity: Any) -> tuple[int, int] | float | None:
    """``"N:M"`` -> ``(n, m)``; a float fraction in [0, 1] -> itself; ``None`` -> ``None``."""
    if sparsity is None:
        return None
    if isinstance(sparsity, str):
        mt = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", sparsity)
        if not mt:
            raise ValueError(f"sparsity must be 'N:M', a fraction or None; got {sparsity!r}")
        return check_nm(int(mt.group(1)), int(mt.group(2)), what=f"sparsity {sparsity!r}:",
                        allow_dense=True)
    if isinstance(sparsity, (float, np.floating)) and 0.0 <= sparsity <= 1.0:
        return float(sparsity)
    raise ValueError(
        f"sparsity must be 'N:M', a float fraction in [0, 1] or None; got {sparsity!r}"
    )


def sparsity_mask(x: Any, sparsity: Any) -> np.ndarray:
    """Keep-mask of ``x`` for a sparsity spec (N:M along the last axis, or unstructured)."""
    sp = parse_sparsity_spec(sparsity)
    xa = np.asarray(x)
    if sp is None:
        return np.ones(xa.shape, dtype=bool)
    if isinstance(sp, tuple):
        return nm_mask(xa, sp[0], sp[1], axis=-1)
    return unstructured_mask(xa, sp)


def compress(
    x: Any,
    order: str = "sq",
    quant: str | Callable[[np.ndarray], np.ndarray] | None = None,
    sparsity: Any = None,
) -> np.ndarray:
    """Prune and quantize ``x`` in the given order; float32 result of ``x``'s shape.

    ``order="sq"``: ``Q(S(x))``, the mask taken on ``|x|``. ``order="qs"``: ``S(Q(x))``, the
    mask taken on ``|Q(x)|`` (ties: lower index kept). See :func:`parse_quant` and
    :func:`parse_sparsity_spec` for the specs.
    """
    check_choice(order, "order", ("sq", "qs"))
    q = parse_quant(quant)
    xa = np.asarray(x, dtype=np.float32)
    if order == "sq":
        pruned = np.where(sparsity_mask(xa, sparsity), xa, np.float32(0))
        return np.asarray(q(pruned), dtype=np.float32)
    xq = np.asarray(q(xa), dtype=np.float32)
    return np.where(sparsity_mask(xq, sparsity), xq, np.float32(0))


def _pair(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.shape != ya.shape:
        raise ValueError(f"x and y must have the same shape, got {xa.shape} and {ya.shape}")
    return xa, ya


def l1_error(x: Any, y: Any) -> float:
    """``||x - y||_1`` (sum of absolute differences, float64)."""
    xa, ya = _pair(x, y)
    return float(np.abs(xa - ya).sum())


def l2_error(x: Any, y: Any) -> float:
    """``||x - y||_2`` (Euclidean / Frobenius norm of the difference, float64)."""
    xa, ya = _pair(x, y)
    return float(np.sqrt(np.square(xa - ya).sum()))


def _rel(ref: np.ndarray, diff_norm: float) -> float:
    ref_norm = float(np.sqrt(np.square(ref).sum()))
    if ref_norm == 0.0:
        return 0.0 if diff_norm == 0.0 else float("inf")
    return diff_norm / ref_norm


def relative_error(x: Any, y: Any) -> float:
    """``||x - y||_2 / ||x||_2`` with ``x`` the reference (0 if both are 0, inf if only x is)."""
    xa, ya = _pair(x, y)
    return _rel(xa, float(np.sqrt(np.square(xa - ya).sum())))


def dot_error(x: Any, y: Any, w: Any) -> float:
    """Relative error of ``y @ w`` against ``x @ w``: ``||x@w - y@w||_2 / ||x@w||_2``.

    ``x`` is the reference operand, ``y`` its compressed version, ``w`` the second operand
    (float64 products).
    """
    xa, ya = _pair(x, y)
    wa = np.asarray(w, dtype=np.float64)
    ref = xa @ wa
    return _rel(ref, float(np.sqrt(np.square(ref - ya @ wa).sum())))


def mask_flip_rate(
    x: Any, quant: str | Callable[[np.ndarray], np.ndarray] | None, sparsity: Any
) -> float:
    """Share of keep/prune decisions that differ between the mask on ``|x|`` and on ``|Q(x)|``.

    0.0 means Q->S prunes exactly what S->Q prunes; returns 0.0 for an empty ``x``.
    """
    xa = np.asarray(x, dtype=np.float32)
    if xa.size == 0:
        return 0.0
    xq = np.asarray(parse_quant(quant)(xa), dtype=np.float32)
    return float(np.mean(sparsity_mask(xa, sparsity) != sparsity_mask(xq, sparsity)))
