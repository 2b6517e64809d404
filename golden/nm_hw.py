"""Bit-exact golden twins of the N:M sparse hardware (``hw.decoder``, ``hw.sparsedot``).

Pure NumPy. This module is the one place that knows how compressed N:M metadata is laid out on
the RTL ports (:func:`pack_meta`, :func:`meta_layout`); tests, cocotb benches, benches and the
generator manifests all go through it. Compression itself (which indices, padding of short
groups, the 2:4 nibble) comes from :mod:`golden.sparsity`.

Conventions shared with the RTL (documented in ``docs/sparsity.md``):

* A beat covers ``G`` groups of ``M`` dense activations and carries ``L = G*N`` kept weights.
  Lane ``k = g*N + j`` is the ``j``-th kept element of group ``g``; its index ``idx[k]`` is the
  position inside the group, ``ceil(log2 M)`` bits.
* **Selection window** (*ours*): with strictly increasing indices lane ``j`` of a group can only
  ever hold an index in ``[j, M-N+j]``, so its selector is an ``(M-N+1):1`` multiplexer, not
  ``M:1``. An index outside that window (only possible with corrupted metadata) selects 0.
* **Metadata violation** of a beat: some group has ``idx[j] >= idx[j+1]`` for a ``j``, or
  (``M`` not a power of two) its last index is ``>= M``. Strictly increasing plus ``last < M`` is
  exactly "every lane inside its window", so the window rule and the error agree.
* **Sticky ``meta_error``**: a register, 0 after reset.
  ``err[t+1] = (err[t] and not clear[t]) or (valid[t] and violation[t])``: it rises one cycle
  after the offending beat is presented (with the registered decoder's output for that beat)
  and a violation wins over a simultaneous clear.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from golden.arith_dot import dot_blocks
from golden.facts import check_nm, index_bits
from golden.sparsity import nm_decompress, pack_2to4_nibbles

__all__ = [
    "index_bits",
    "lane_window",
    "decode_select",
    "meta_violation",
    "meta_error_trace",
    "pack_meta",
    "meta_layout",
    "sparse_dot_expected",
    "dense_dot_expected",
    "check_nm",
]


def lane_window(n: int, m: int, j: int) -> tuple[int, int]:
    """Inclusive index range ``(lo, hi)`` lane ``j`` of a group can select: ``(j, M-N+j)``."""
    return j, m - n + j


def _groups(idx: np.ndarray, n: int) -> np.ndarray:
    idx = np.asarray(idx)
    if idx.shape[-1] % n:
        raise ValueError(f"index lanes {idx.shape[-1]} is not a multiple of N={n}")
    return idx.reshape(*idx.shape[:-1], idx.shape[-1] // n, n).astype(np.int64)


def decode_select(act: np.ndarray, idx: np.ndarray, n: int, m: int) -> np.ndarray:
    """The decoder's data output: per lane the activation its index selects.

    Parameters
    ----------
    act : array (..., G*M)
        Dense activations of a beat.
    idx : array (..., G*N)
        Per-lane in-group indices (any values; out-of-window lanes give 0).

    Returns
    -------
    array (..., G*N), dtype of ``act``.
    """
    n, m = check_nm(n, m)
    act = np.asarray(act)
    ig = _groups(idx, n)
    g = ig.shape[-2]
    if act.shape[-1] != g * m:
        raise ValueError(f"activations have {act.shape[-1]} lanes, need G*M = {g}*{m}")
    ag = act.reshape(*act.shape[:-1], g, m)
    j = np.arange(n)
    ok = (ig >= j) & (ig <= m - n + j)
    sel = np.take_along_axis(ag, np.where(ok, ig, 0), axis=-1)
    out = np.where(ok, sel, 0).astype(act.dtype)
    return out.reshape(*act.shape[:-1], g * n)


def meta_violation(idx: np.ndarray, n: int, m: int) -> np.ndarray:
    """Per beat: True when some group's indices are not strictly increasing or reach ``M``.

    ``idx`` is (..., G*N); the result has shape ``idx.shape[:-1]``.
    """
    n, m = check_nm(n, m)
    ig = _groups(idx, n)
    bad = np.zeros(ig.shape[:-1], dtype=bool)
    if n > 1:
        bad |= np.any(ig[..., :-1] >= ig[..., 1:], axis=-1)
    bad |= ig[..., -1] >= m  # never true for M a power of two (the field cannot hold M)
    return np.any(bad, axis=-1)


def meta_error_trace(
    valid: np.ndarray, violation: np.ndarray, clear: np.ndarray | None = None
) -> np.ndarray:
    """Cycle-exact value of the sticky ``meta_error`` output.

    Parameters
    ----------
    valid, violation, clear : bool arrays (T,)
        Per input cycle ``t``: ``in_valid``, :func:`meta_violation` of the presented beat,
        ``in_clear`` (default all 0).

    Returns
    -------
    bool array (T+1,)
        ``err[t]`` is ``meta_error`` during cycle ``t`` (between rising edges ``t`` and ``t+1``,
        cycle 0 being the first cycle after reset); ``err[0]`` is 0.
    """
    valid = np.asarray(valid, dtype=bool)
    violation = np.asarray(violation, dtype=bool)
    clear = np.zeros_like(valid) if clear is None else np.asarray(clear, dtype=bool)
    hit = valid & violation
    t_len = valid.shape[0]
    # Sticky OR with clears: err[t+1] is 1 iff there is a hit at some s <= t with no clear in
    # (s, t] (a clear at s itself loses to the hit). Vectorized via "last hit" vs "last clear".
    pos = np.arange(t_len)
    last_hit = np.maximum.accumulate(np.where(hit, pos, -1))
    last_clear = np.maximum.accumulate(np.where(clear & ~hit, pos, -1))
    err = np.zeros(t_len + 1, dtype=bool)
    err[1:] = last_hit > last_clear
    return err


def pack_meta(indices: np.ndarray, n: int, m: int, *, packed24: bool = False) -> np.ndarray:
    """Metadata exactly as the RTL ports take it, for each beat.

    Parameters
    ----------
    indices : uint array (..., G*N)
        In-group indices as produced by :func:`golden.sparsity.nm_compress` (one beat per row).
    packed24 : bool
        ``False``: the per-lane index ports ``*_idx__k`` (``k = g*N + j``), each
        ``ceil(log2 M)`` bits; the result is those port values, uint8 (..., G*N).
        ``True`` (2:4 only): the flat nibble bus ``*_meta`` of ``4*G`` bits, group ``g`` in bits
        ``[4g+3:4g]`` holding REFERENCE.md's nibble ``idx0 | idx1 << 2``
        (:func:`golden.sparsity.pack_2to4_nibbles`); the result is one Python ``int`` per beat
        (object array of shape ``indices.shape[:-1]``), as wide buses exceed 64 bits.

    Raises
    ------
    ValueError
        An index does not fit the port field, or ``packed24`` with N:M other than 2:4.
    """
    n, m = check_nm(n, m)
    idx = np.asarray(indices)
    if idx.shape[-1] % n:
        raise ValueError(f"index lanes {idx.shape[-1]} is not a multiple of N={n}")
    ib = index_bits(m)
    if idx.size and (idx.min() < 0 or idx.max() >= (1 << ib)):
        raise ValueError(f"an index does not fit the {ib}-bit field of M={m}")
    if not packed24:
        return idx.astype(np.uint8)
    if (n, m) != (2, 4):
        raise ValueError(f"packed24 is the 2:4 nibble form; N:M={n}:{m}")

    # The bus holds lane k = 2g + j at bits [2k+1:2k]; any index pair is representable,
    # including corrupted ones, so the bus value is built from the lanes directly ...
    lanes = idx.shape[-1]
    weights = np.array([1 << (2 * k) for k in range(lanes)], dtype=object)
    flat = (idx.astype(object) * weights).sum(axis=-1) if lanes else np.zeros(idx.shape[:-1],
                                                                              dtype=object)
    flat = np.asarray(flat, dtype=object)
    # ... and wherever the metadata is valid it must equal REFERENCE.md's nibble stream.
    ok = ~meta_violation(idx, n, m)
    if ok.any():
        nib = np.asarray(pack_2to4_nibbles(idx[ok].astype(np.uint8))).astype(object)
        nweights = np.array([1 << (4 * g) for g in range(nib.shape[-1])], dtype=object)
        ref = (nib * nweights).sum(axis=-1)
        assert np.array_equal(np.asarray(ref, dtype=object), flat[ok]), "nibble layout mismatch"
    return flat


def meta_layout(
    n: int, m: int, groups: int, *, packed24: bool = False, prefix: str = "in_idx"
) -> list[dict[str, Any]]:
    """Where each (group, lane) index sits on the RTL ports; used verbatim in manifests.

    Each entry: ``{"group": g, "lane": j, "flat_lane": g*N+j, "port": name, "bits": "[hi:lo]"}``.
    ``prefix`` is the port base name (``in_idx`` generic, ``in_meta`` packed; the sparse dot
    unit uses ``in_w_idx`` / ``in_w_meta``).
    """
    n, m = check_nm(n, m)
    ib = index_bits(m)
    rows = []
    for g in range(groups):
        for j in range(n):
            k = g * n + j
            if packed24:
                lo = 4 * g + 2 * j
                rows.append({"group": g, "lane": j, "flat_lane": k, "port": prefix,
                             "bits": f"[{lo + 1}:{lo}]"})
            else:
                rows.append({"group": g, "lane": j, "flat_lane": k, "port": f"{prefix}__{k}",
                             "bits": f"[{ib - 1}:0]"})
    return rows


def sparse_dot_expected(
    w_exp: np.ndarray,
    w_vals: np.ndarray,
    w_idx: np.ndarray,
    a_exp: np.ndarray,
    a_man: np.ndarray,
    first: np.ndarray,
    mode: np.ndarray | None = None,
    *,
    n: int,
    m: int,
    mant_bits: int,
    acc_width: int,
    narrow_mant_bits: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Expected ``(out_acc, out_exp)`` of :class:`hw.sparsedot.SparseHBFPDot`, one per beat.

    Models what the hardware computes for *any* metadata: the HBFP dot product
    (:func:`golden.arith_dot.dot_blocks`) of the compressed weights with the activations the
    decoder selects (:func:`decode_select`). With valid metadata this equals the dense dot
    product of the decompressed weights, which callers should check too
    (:func:`dense_dot_expected`).
    """

    sel = decode_select(a_man, w_idx, n, m)
    return dot_blocks(
        np.asarray(w_exp), np.asarray(w_vals), np.asarray(a_exp), sel, np.asarray(first),
        None if mode is None else np.asarray(mode), mant_bits=mant_bits, acc_width=acc_width,
        narrow_mant_bits=narrow_mant_bits,
    )


def dense_dot_expected(
    w_exp: np.ndarray,
    w_vals: np.ndarray,
    w_idx: np.ndarray,
    a_exp: np.ndarray,
    a_man: np.ndarray,
    first: np.ndarray,
    mode: np.ndarray | None = None,
    *,
    n: int,
    m: int,
    mant_bits: int,
    acc_width: int,
    narrow_mant_bits: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The issue's reference: dense HBFP dot product of the *decompressed* weights.

    Uses :func:`golden.sparsity.nm_decompress`; only defined for valid metadata.
    """

    dense_w = np.asarray(nm_decompress(np.asarray(w_vals), np.asarray(w_idx), n, m))
    return dot_blocks(
        np.asarray(w_exp), dense_w.astype(np.int64), np.asarray(a_exp), np.asarray(a_man),
        np.asarray(first), None if mode is None else np.asarray(mode), mant_bits=mant_bits,
        acc_width=acc_width, narrow_mant_bits=narrow_mant_bits,
    )
