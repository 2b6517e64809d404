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

    A stable sort of the descending key puts equal magnitudes in index order, so the lowest
    indices come first and are kept. Unsigned magnitudes are complemented, not negated (a
    negated uint wraps and would rank 0 as the largest).
    """
    key = ~mag if np.issubdtype(mag.dtype, np.unsignedinteger) else -mag
    order = np.argsort(key, axis=-1, kind="stable")
    keep = np.zeros(mag.shape, dtype=bool)
    np.put_along_axis(keep, order[..., :n], True, axis=-1)
    return keep


#: Elements per chunk of the fast N:M path (whole groups): a chunk and its temporaries stay in
#: cache, so x is read from memory once and the result written once.
_NM_CHUNK_ELEMS = 1 << 17
#: Largest group size of the pairwise path; beyond it the stable sort of _keep_top is used.
_NM_PAIRWISE_MAX_M = 16
_NM_NAN_MSG = "x contains NaN; magnitude pruning needs ordered magnitudes"


def _nm_fast_dtype(dt: np.dtype) -> bool:
    """Dtypes with an unsigned integer key ordered like ``magnitude`` (see ``_nm_keys``).

    Unsigned and bool inputs stay on the sorting path (``_keep_top``), which ranks them by
    their complement.
    """
    return dt.isnative and (
        (dt.kind == "f" and dt.itemsize in (2, 4, 8))
        or (dt.kind == "i" and dt.itemsize in (1, 2, 4, 8))
    )


def _nm_keys(c: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Unsigned keys of the contiguous chunk ``c`` into ``out`` (same itemsize): larger key =
    larger magnitude, equal magnitudes equal keys, exactly as ``magnitude`` orders them.

    Floats: the bit pattern without its sign (``-0.0`` and ``0.0`` both 0; NaN, refused here,
    would sort above Inf). Signed ints: ``abs`` read as unsigned, so ``abs(-128)`` (which wraps
    to -128 in int8) reads as 128, the largest magnitude, as in the int64 ``magnitude``.
    """
    if c.dtype.kind == "f":
        bits = 8 * c.dtype.itemsize
        np.bitwise_and(c.view(out.dtype), out.dtype.type((1 << (bits - 1)) - 1), out=out)
        inf_key = np.array(np.inf, c.dtype).view(out.dtype)
        if out.size and out.max() > inf_key:
            raise ValueError(_NM_NAN_MSG)
    else:
        np.abs(c, out=out.view(c.dtype))
    return out


def _nm_keep_words(k: np.ndarray, n: int, m: int, work: dict[str, np.ndarray]) -> np.ndarray:
    """Keep mask (bool, ``k``'s length) for M in {2, 4, 8} on a little-endian machine.

    The M comparison bytes of a group are one unsigned word of 8M bits (byte p = element p).
    ``G_d[i] = k[i] >= k[i + d]`` over the flat chunk (one long comparison per distance d;
    bytes whose partner lies in the next group are garbage) says "element p beats p + d" (the
    lower index wins ties). Per word, ``L_d = G_d << 8d`` puts in byte q the verdict on the
    pair (q - d, q) and drops the garbage; ``L_d >> 8d`` is G_d without it. So the number of
    group members element p beats is, in byte p,
    ``sum_d (ones << 8d) - L_d + (L_d >> 8d)`` (exact: ring arithmetic, every byte ends in
    [0, M-1]); p is kept iff it beats at least ``M - n`` others, read off bit 7 of
    ``beats + 128 - (M - n)``.
    """
    lane = np.dtype(f"u{m}")
    bits = 8 * m
    ones = sum(1 << (8 * p) for p in range(m))
    size = k.size
    g = work["g"][:size]
    left = work["left"][: size // m]
    right = work["right"][: size // m]
    beats = work["beats"][: size // m]
    for d in range(1, m):
        np.greater_equal(k[: size - d], k[d:], out=g[: size - d])
        np.left_shift(g.view(lane), lane.type(8 * d), out=left)
        np.right_shift(left, lane.type(8 * d), out=right)
        if d == 1:
            np.subtract(right, left, out=beats)
        else:
            np.add(beats, right, out=beats)
            np.subtract(beats, left, out=beats)
    const = sum(ones << (8 * d) for d in range(1, m)) + (128 - (m - n)) * ones
    np.add(beats, lane.type(const % (1 << bits)), out=beats)
    np.right_shift(beats, lane.type(7), out=beats)
    np.bitwise_and(beats, lane.type(ones), out=beats)
    return beats.view(np.bool_)


def _nm_keep_pairs(k: np.ndarray, n: int, m: int, work: dict[str, np.ndarray]) -> np.ndarray:
    """Keep mask (bool, ``k``'s length) for any M: all M(M-1)/2 comparisons of a group's
    columns, counting for each element the members it beats (lower index wins ties)."""
    kg = k.reshape(-1, m)
    ng = kg.shape[0]
    won = work["won"][:, :ng]
    won.fill(0)
    g = work["pair"][:ng]
    for p in range(m):
        for q in range(p + 1, m):
            np.greater_equal(kg[:, p], kg[:, q], out=g)
            np.add(won[p], g, out=won[p])
            np.logical_not(g, out=g)
            np.add(won[q], g, out=won[q])
    keep = work["keep"][: ng * m].reshape(ng, m)
    np.greater_equal(won.T, m - n, out=keep)
    return keep.reshape(-1)


def _nm_fast(xb: np.ndarray, n: int, m: int, prune: bool) -> np.ndarray:
    """Mask (``prune`` False) or pruned copy of the blocked array ``xb`` ``(..., G, m)``,
    same layout, computed chunk by chunk for a dtype accepted by ``_nm_fast_dtype``."""
    flat = xb.reshape(-1)  # a copy only if xb is not contiguous
    res = np.empty(flat.shape, xb.dtype if prune else np.bool_)
    step = max(1, _NM_CHUNK_ELEMS // m) * m
    ce = min(step, flat.size)
    kdt = np.dtype(f"u{xb.dtype.itemsize}")
    words = m in (2, 4, 8) and np.little_endian
    work = {"key": np.empty(ce, kdt)}
    if words:
        lane = np.dtype(f"u{m}")
        work["g"] = np.empty(ce, np.bool_)
        for name in ("left", "right", "beats"):
            work[name] = np.empty(ce // m, lane)
    else:
        work["won"] = np.empty((m, ce // m), np.uint8)
        work["pair"] = np.empty(ce // m, np.bool_)
        work["keep"] = np.empty(ce, np.bool_)
    rbits = res.view(kdt) if prune and xb.dtype.kind == "f" else res
    for i0 in range(0, flat.size, step):
        c = flat[i0 : i0 + step]
        k = _nm_keys(c, work["key"][: c.size])
        keep = (_nm_keep_words if words else _nm_keep_pairs)(k, n, m, work)
        if prune:
            # x * keep: kept values bit for bit, the others +0 (floats multiplied as bits)
            src = c.view(kdt) if xb.dtype.kind == "f" else c
            np.multiply(src, keep, out=rbits[i0 : i0 + step])
        else:
            res[i0 : i0 + step] = keep
    return res.reshape(xb.shape)


def _nm_blocked(xa: Any, n: Any, m: Any, axis: Any) -> tuple[np.ndarray, int, int, int, int]:
    """Checks shared by nm_mask and nm_prune; returns ``(xa, ax, ni, mi, L)``."""
    ni, mi = _check_nm(n, m)
    xa = np.asarray(xa)
    ax = norm_axis(xa, axis)
    return xa, ax, ni, mi, xa.shape[ax]


def _nm_unblock(res: np.ndarray, length: int, ax: int) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(from_blocks(res, length), -1, ax))


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
    xa, ax, ni, mi, length = _nm_blocked(x, n, m, axis)
    if ni < mi <= _NM_PAIRWISE_MAX_M and _nm_fast_dtype(xa.dtype):
        keep = _nm_fast(to_blocks(np.moveaxis(xa, ax, -1), mi), ni, mi, prune=False)
        return _nm_unblock(keep, length, ax)
    _check_no_nan(xa)
    mag = magnitude(np.moveaxis(xa, ax, -1))
    keep = _keep_top(to_blocks(mag, mi), ni)
    return _nm_unblock(keep, length, ax)


def nm_prune(x: Any, n: int, m: int, axis: int = -1) -> np.ndarray:
    """``x`` with everything outside :func:`nm_mask` set to zero (same dtype)."""
    xa, ax, ni, mi, length = _nm_blocked(np.asarray(x), n, m, axis)
    if ni < mi <= _NM_PAIRWISE_MAX_M and _nm_fast_dtype(xa.dtype):
        pruned = _nm_fast(to_blocks(np.moveaxis(xa, ax, -1), mi), ni, mi, prune=True)
        return _nm_unblock(pruned, length, ax)
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
