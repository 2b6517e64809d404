"""Private helpers shared by the golden modules: argument checks and block reshaping.

Every check raises :class:`golden.facts.ParamError` (a ``ValueError``) whose message names the
parameter and the offending value, so a bad call fails loudly instead of being clamped into
something plausible.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from golden.facts import ParamError, check_index

#: Integer argument check (booleans and floats refused): the registry's one definition.
check_int = check_index


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise :class:`ParamError` listing them."""
    if not isinstance(value, str) or value not in choices:
        raise ParamError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def norm_axis(x: np.ndarray, axis: Any, name: str = "axis") -> int:
    """Normalize ``axis`` for ``x`` and refuse empty axes and 0-d arrays."""
    ax = check_int(axis, name)
    if x.ndim == 0:
        raise ParamError(f"x must have at least one dimension, got a 0-d array ({name}={ax})")
    if not -x.ndim <= ax < x.ndim:
        raise ParamError(f"{name}={ax} is out of range for an array of {x.ndim} dimension(s)")
    ax %= x.ndim
    if x.shape[ax] == 0:
        raise ParamError(f"x has an empty axis: {name}={ax} has length 0 (shape {x.shape})")
    return ax


def to_blocks(a: np.ndarray, block: int, fill: Any = 0) -> np.ndarray:
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


def from_blocks(a: np.ndarray, n: int) -> np.ndarray:
    """Inverse of :func:`to_blocks`: merge the last two axes and drop the padding."""
    flat = a.reshape(*a.shape[:-2], a.shape[-2] * a.shape[-1])
    return flat if flat.shape[-1] == n else flat[..., :n]


def magnitude(x: np.ndarray) -> np.ndarray:
    """``|x|`` for ranking, safe for signed integers (``abs(int8(-128))`` would wrap)."""
    if np.issubdtype(x.dtype, np.signedinteger):
        return np.abs(x.astype(np.int64))
    if np.issubdtype(x.dtype, np.unsignedinteger) or x.dtype == np.bool_:
        return x.astype(np.uint64)
    return np.abs(x)
