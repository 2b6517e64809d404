"""Golden magnitude pruning (N:M and unstructured) and the N:M compressed form.

Pure NumPy; semantics from REFERENCE.md section 4, documented in docs/golden.md.

One tie rule everywhere (*ours*): elements are ranked by magnitude, larger first, and among
equal magnitudes the **lower index is kept** (flat C-order index for unstructured pruning).
After quantization many magnitudes are equal, so this rule decides which element dies in a
Q->S pipeline.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from golden._common import check_int, from_blocks, magnitude, norm_axis, to_blocks

__all__ = [
    "nm_mask",
    "nm_prune",
    "unstructured_mask",
    "unstructured_prune",
    "nm_compress",
    "nm_decompress",
    "pack_2to4_nibbles",
    "unpack_2to4_nibbles",
]


def _check_nm(n: Any, m: Any) -> tuple[int, int]:
    ni = check_int(n, "n", 1)
    mi = check_int(m, "m", 1)
    if ni > mi:
        raise ValueError(f"n must be <= m, got n={ni} > m={mi}")
    return ni, mi


def _check_no_nan(x: np.ndarray) -> None:
    if np.issubdtype(x.dtype, np.floating) and np.isnan(x).any():
        raise ValueError("x contains NaN; magnitude pruning needs ordered magnitudes")


def _keep_top(mag: np.ndarray, n: int) -> np.ndarray:
    """Boolean mask keeping the ``n`` largest entries along the last axis, lower index on ties.

    A stable sort of the negated magnitudes puts equal magnitudes in index order, so the
    lowest indices come first and are kept.
    """
    order = np.argsort(-mag, axis=-1, kind="stable")
    keep = np.zeros(mag.shape, dtype=bool)
    np.put_along_axis(keep, order[..., :n], True, axis=-1)
    return keep


def nm_mask(x: Any, n: int, m: int, axis: int = -1) -> np.ndarray:
    """N:M magnitude mask: in each group of ``m`` consecutive elements along ``axis``, keep
    the ``n`` largest ``|x|``.

    Parameters
    ----------
    x : array_like
        Real input (float or int; NaN is refused).
    n, m : int
        Keep ``n`` of every ``m`` (``1 <= n <= m``).
    axis : int
        Grouping (reduction) axis. A short tail group is padded with zeros for ranking, so it
        keeps at most ``n`` of its real elements.

    Returns
    -------
    numpy.ndarray
        bool, ``x``'s shape, True = kept. Ties: the lower index is kept.
    """
    ni, mi = _check_nm(n, m)
    xa = np.asarray(x)
    ax = norm_axis(xa, axis)
    _check_no_nan(xa)
    mag = magnitude(np.moveaxis(xa, ax, -1))
    keep = _keep_top(to_blocks(mag, mi), ni)
    return np.ascontiguousarray(np.moveaxis(from_blocks(keep, xa.shape[ax]), -1, ax))


def nm_prune(x: Any, n: int, m: int, axis: int = -1) -> np.ndarray:
    """``x`` with everything outside :func:`nm_mask` set to zero (same dtype)."""
    xa = np.asarray(x)
    return np.where(nm_mask(xa, n, m, axis), xa, np.zeros((), xa.dtype))


def _check_fraction(fraction: Any) -> Fraction:
    if isinstance(fraction, (bool, np.bool_)) or not isinstance(
        fraction, (int, float, np.integer, np.floating, Fraction)
    ):
        raise ValueError(f"fraction must be a number in [0, 1], got {fraction!r}")
    if not (math.isfinite(float(fraction)) and 0 <= fraction <= 1):
        raise ValueError(f"fraction must be in [0, 1], got {fraction!r}")
    return Fraction(float(fraction)) if not isinstance(fraction, Fraction) else fraction


def unstructured_mask(x: Any, fraction: float) -> np.ndarray:
    """Unstructured magnitude mask: prune the ``floor(fraction * numel)`` smallest ``|x|``.

    ``floor`` is taken exactly on the float's value (``Fraction``), so no rounding error of
    ``fraction * numel`` can move the count. Ties: ranking is by ``|x|`` descending and, among
    equal magnitudes, by flat (C-order) index ascending; the first ``numel - k`` are kept.
    So among equal magnitudes the **higher** flat index is pruned first (the lower is kept),
    the same rule as :func:`nm_mask`.

    Returns
    -------
    numpy.ndarray
        bool, ``x``'s shape, True = kept.
    """
    fr = _check_fraction(fraction)
    xa = np.asarray(x)
    _check_no_nan(xa)
    numel = xa.size
    k = math.floor(fr * numel)
    if k == 0 or k == numel:
        return np.full(xa.shape, k == 0, dtype=bool)
    flat = magnitude(xa.reshape(-1))
    # O(numel) instead of a full sort: t is the smallest kept magnitude (the k-th smallest,
    # 0-based); everything above t is kept, and of the entries equal to t the lowest flat
    # indices fill the remaining slots, which is the documented tie rule.
    t = np.partition(flat, k)[k]
    keep = flat > t
    need = (numel - k) - int(np.count_nonzero(keep))
    keep[np.flatnonzero(flat == t)[:need]] = True
    return keep.reshape(xa.shape)


def unstructured_prune(x: Any, fraction: float) -> np.ndarray:
    """``x`` with the entries outside :func:`unstructured_mask` set to zero (same dtype)."""
    xa = np.asarray(x)
    return np.where(unstructured_mask(xa, fraction), xa, np.zeros((), xa.dtype))


def nm_compress(x: Any, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Compress an N:M-sparse array along its last axis into values and in-group indices.

    Parameters
    ----------
    x : array_like
        Last-axis length ``G * m``; every group of ``m`` holds at most ``n`` non-zeros
        (prune first with :func:`nm_prune`).
    n, m : int
        ``1 <= n <= m <= 256`` (indices are stored as uint8).

    Returns
    -------
    values : numpy.ndarray
        ``(..., G * n)``, ``x``'s dtype; the kept values of each group in index order.
    indices : numpy.ndarray
        uint8 ``(..., G * n)``; each value's index inside its group, strictly increasing per
        group. A group with fewer than ``n`` non-zeros is padded with zero values taken at its
        lowest unused positions.

    Raises
    ------
    ValueError
        The last axis is empty or not a multiple of ``m``, or a group has more than ``n``
        non-zeros.
    """
    ni, mi = _check_nm(n, m)
    if mi > 256:
        raise ValueError(f"m must be <= 256 for uint8 indices, got m={mi}")
    xa = np.asarray(x)
    norm_axis(xa, -1)
    length = xa.shape[-1]
    if length % mi:
        raise ValueError(
            f"nm_compress needs the last-axis length to be a multiple of m={mi}, got {length}; "
            "pad the tensor (the compressed form has no partial groups)"
        )
    g = xa.reshape(*xa.shape[:-1], length // mi, mi)
    nz = g != 0
    counts = nz.sum(axis=-1)
    if counts.size and counts.max() > ni:
        where = np.unravel_index(int(np.argmax(counts)), counts.shape)
        raise ValueError(
            f"x is not {ni}:{mi} sparse: group {tuple(int(i) for i in where)} "
            f"has {int(counts.max())} non-zeros"
        )
    # Non-zeros first, then zero positions in index order; the first n are the slots.
    order = np.argsort(~nz, axis=-1, kind="stable")[..., :ni]
    idx = np.sort(order, axis=-1)
    vals = np.take_along_axis(g, idx, axis=-1)
    out_shape = (*xa.shape[:-1], (length // mi) * ni)
    return vals.reshape(out_shape), idx.astype(np.uint8).reshape(out_shape)


def nm_decompress(values: Any, indices: Any, n: int, m: int) -> np.ndarray:
    """Inverse of :func:`nm_compress`: scatter values back into dense groups of ``m``.

    Returns ``(..., G * m)`` of ``values``' dtype. Raises ``ValueError`` if the shapes differ,
    the last axis is not a multiple of ``n``, or indices are outside ``[0, m)`` or not
    strictly increasing within a group.
    """
    ni, mi = _check_nm(n, m)
    v = np.asarray(values)
    ix = np.asarray(indices)
    if v.shape != ix.shape:
        raise ValueError(
            f"values and indices must have the same shape, got {v.shape} and {ix.shape}"
        )
    norm_axis(v, -1)
    if not np.issubdtype(ix.dtype, np.integer):
        raise ValueError(f"indices must be an integer array, got dtype {ix.dtype}")
    if v.shape[-1] % ni:
        raise ValueError(f"last-axis length must be a multiple of n={ni}, got {v.shape[-1]}")
    groups = v.shape[-1] // ni
    vg = v.reshape(*v.shape[:-1], groups, ni)
    ig = ix.reshape(vg.shape).astype(np.int64)
    if ig.size and (ig.min() < 0 or ig.max() >= mi):
        raise ValueError(f"indices must lie in [0, {mi}), got [{ig.min()}, {ig.max()}]")
    if ni > 1 and (np.diff(ig, axis=-1) <= 0).any():
        raise ValueError("indices must be strictly increasing within each group")
    dense = np.zeros((*vg.shape[:-1], mi), dtype=v.dtype)
    np.put_along_axis(dense, ig, vg, axis=-1)
    return dense.reshape(*v.shape[:-1], groups * mi)


def pack_2to4_nibbles(indices: Any) -> np.ndarray:
    """Pack 2:4 indices into one nibble per group: ``idx0 | idx1 << 2``.

    ``indices`` is ``(..., 2G)`` as from ``nm_compress(x, 2, 4)`` (pairs with
    ``idx0 < idx1 < 4``). Returns uint8 ``(..., G)``, one nibble (0..15) per byte, the low bits
    holding ``idx0``: ``0b0100`` means {0, 1}, ``0b1110`` means {2, 3}.
    """
    ix = np.asarray(indices)
    if not np.issubdtype(ix.dtype, np.integer):
        raise ValueError(f"indices must be an integer array, got dtype {ix.dtype}")
    norm_axis(ix, -1, "indices axis")
    if ix.shape[-1] % 2:
        raise ValueError(f"indices last-axis length must be even (2 per group), got {ix.shape[-1]}")
    pairs = ix.reshape(*ix.shape[:-1], ix.shape[-1] // 2, 2).astype(np.int64)
    i0, i1 = pairs[..., 0], pairs[..., 1]
    if pairs.size and (pairs.min() < 0 or pairs.max() > 3 or (i0 >= i1).any()):
        raise ValueError("indices must be pairs idx0 < idx1 in [0, 3]")
    return (i0 | (i1 << 2)).astype(np.uint8)


def unpack_2to4_nibbles(nibbles: Any) -> np.ndarray:
    """Inverse of :func:`pack_2to4_nibbles`: ``(..., G)`` nibbles -> uint8 ``(..., 2G)``."""
    nb = np.asarray(nibbles)
    if not np.issubdtype(nb.dtype, np.integer):
        raise ValueError(f"nibbles must be an integer array, got dtype {nb.dtype}")
    nb = nb.astype(np.int64)
    if nb.size and (nb.min() < 0 or nb.max() > 15):
        raise ValueError(f"nibbles must lie in [0, 15], got [{nb.min()}, {nb.max()}]")
    i0, i1 = nb & 3, nb >> 2
    if (i0 >= i1).any():
        raise ValueError("nibbles must encode idx0 < idx1 (0b0100 = {0,1} ... 0b1110 = {2,3})")
    out = np.stack([i0, i1], axis=-1).astype(np.uint8)
    return out.reshape(*nb.shape[:-1], nb.shape[-1] * 2) if nb.ndim else out
