"""Bit-exact golden twin of the HBFP dot-product unit (``hw.dot.HBFPDot``), pure NumPy.

Semantics (documented in ``docs/dot.md``):

* Block sum ``S = sum_i a_i * b_i`` over the lanes, exact. In narrow mode (``mode = 1``) each
  operand is first reduced to its low ``n + 1`` bits (two's complement, ``n`` =
  ``narrow_mant_bits``) and shifted left by ``m - n``: the narrow mantissa, MSB-aligned in the
  wide datapath. Product exponent ``p = e_a + e_b`` (each wrapped to the 9-bit port first).
* Accumulator ``(acc, x)``, value ``acc * 2^(x - 2m)``; reset state ``(0, RESET_EXP)``. On
  ``first``: ``(S, p)``. Otherwise with ``d = p - x``: ``d > 0`` -> ``acc = sat((acc >> d) + S)``,
  ``x = p``; ``d <= 0`` -> ``acc = sat(acc + (S >> -d))``. ``>>`` is arithmetic (floor),
  ``sat`` clamps to the signed ``acc_width`` range.
* Output per block: ``out_acc = acc``, ``out_exp = x - 2(m - n)`` in narrow mode, ``x``
  otherwise, wrapped to ``PROD_EXP_WIDTH`` bits, so ``value = out_acc * 2^(out_exp - 2 m_mode)``.
"""

from __future__ import annotations

import numpy as np

from golden.facts import EXP_WIDTH, PROD_EXP_WIDTH  # noqa: F401 (re-exported)

# Constants stay out of __all__: golden.arith star-imports several modules.
__all__ = ["block_sums", "dot_blocks", "dot_value"]

#: Accumulator exponent after reset (most negative PROD_EXP_WIDTH value), as in ``hw.dot``.
RESET_EXP = -(1 << (PROD_EXP_WIDTH - 1))


def _wrap(v: np.ndarray | int, bits: int) -> np.ndarray:
    """Two's complement wrap of integers to ``bits`` bits (signed)."""
    v = np.asarray(v, dtype=np.int64)
    half = np.int64(1) << (bits - 1)
    return ((v + half) & ((half << 1) - 1)) - half


def _mode_array(mode: object, nblocks: int, narrow_mant_bits: int | None) -> np.ndarray:
    if mode is None:
        return np.zeros(nblocks, dtype=bool)
    md = np.broadcast_to(np.asarray(mode, dtype=np.int64), (nblocks,)).astype(bool)
    if md.any() and narrow_mant_bits is None:
        raise ValueError("mode = 1 (narrow) needs narrow_mant_bits")
    return md


def block_sums(
    a_man: np.ndarray,
    b_man: np.ndarray,
    mode: object = None,
    *,
    mant_bits: int,
    narrow_mant_bits: int | None = None,
) -> np.ndarray:
    """Exact per-block sums ``S`` in wide units, shape ``(nblocks,)`` int64.

    ``a_man``/``b_man`` are ``(nblocks, lanes)`` integers as driven on the ``m + 1``-bit ports
    (values outside the port range are wrapped like the wires would).
    """
    a = _wrap(np.atleast_2d(a_man), mant_bits + 1)
    b = _wrap(np.atleast_2d(b_man), mant_bits + 1)
    if a.shape != b.shape:
        raise ValueError(f"a_man {a.shape} and b_man {b.shape} must have the same shape")
    md = _mode_array(mode, a.shape[0], narrow_mant_bits)
    if md.any():
        sh = mant_bits - narrow_mant_bits  # type: ignore[operator]
        an = _wrap(a, narrow_mant_bits + 1) << sh  # type: ignore[operator]
        bn = _wrap(b, narrow_mant_bits + 1) << sh  # type: ignore[operator]
        a = np.where(md[:, None], an, a)
        b = np.where(md[:, None], bn, b)
    # |S| <= lanes * 2^30 for m <= 15: int64 is exact for any realistic lane count.
    return (a * b).sum(axis=1)


def dot_blocks(
    a_exp: np.ndarray,
    a_man: np.ndarray,
    b_exp: np.ndarray,
    b_man: np.ndarray,
    first: np.ndarray,
    mode: object = None,
    *,
    mant_bits: int,
    acc_width: int,
    narrow_mant_bits: int | None = None,
    state: tuple[int, int] | None = None,
    return_state: bool = False,
):
    """Expected ``(out_acc, out_exp)`` of ``HBFPDot`` for a sequence of valid input blocks.

    Parameters
    ----------
    a_exp, b_exp : array_like, shape (nblocks,)
        Shared exponents ``e`` (signed, as on the ``EXP_WIDTH`` ports).
    a_man, b_man : array_like, shape (nblocks, lanes)
        Mantissas as driven on the ports (narrow mode: low ``n+1`` bits are used).
    first : array_like of bool, shape (nblocks,)
        Restart accumulation with this block.
    mode : array_like of bool or None
        Narrow mode per block (``None``: all wide).
    mant_bits, acc_width, narrow_mant_bits : int
        The unit's parameters.
    state : (acc, exp) or None
        Accumulator state before the first block; ``None`` is the reset state ``(0, RESET_EXP)``.
    return_state : bool
        Also return the final ``(acc, exp)`` state, to continue a stream in chunks.

    Returns
    -------
    out_acc, out_exp : ndarray
        One entry per block: the running accumulation after it (int64 if ``acc_width <= 63``,
        else Python ints in an object array) and its exponent. ``(out_acc, out_exp, state)``
        with ``return_state``.
    """
    s = block_sums(a_man, b_man, mode, mant_bits=mant_bits, narrow_mant_bits=narrow_mant_bits)
    nb = s.shape[0]
    # The 9-bit exponent ports wrap first; their sum always fits PROD_EXP_WIDTH bits.
    p = _wrap(a_exp, EXP_WIDTH) + _wrap(b_exp, EXP_WIDTH)
    p = np.broadcast_to(p, (nb,))
    fst = np.broadcast_to(np.asarray(first, dtype=bool), (nb,))
    md = _mode_array(mode, nb, narrow_mant_bits)

    hi, lo = (1 << (acc_width - 1)) - 1, -(1 << (acc_width - 1))
    acc, x = (0, RESET_EXP) if state is None else (int(state[0]), int(state[1]))
    accs = [0] * nb
    xs = np.empty(nb, dtype=np.int64)
    # The recurrence is inherently sequential (alignment depends on the running exponent);
    # Python ints keep it exact for any acc_width. Block sums above are vectorized.
    for i, (si, pi, fi) in enumerate(zip(s.tolist(), p.tolist(), fst.tolist(), strict=True)):
        if fi:
            acc, x = si, pi
        else:
            d = pi - x
            if d > 0:
                acc, x = (acc >> d) + si, pi
            else:
                acc = acc + (si >> -d)
            acc = hi if acc > hi else lo if acc < lo else acc
        accs[i] = acc
        xs[i] = x
    offs = 0 if narrow_mant_bits is None else 2 * (mant_bits - narrow_mant_bits)
    out_exp = _wrap(xs - np.where(md, offs, 0), PROD_EXP_WIDTH)
    out_acc = np.array(accs, dtype=np.int64 if acc_width <= 63 else object)
    if return_state:
        return out_acc, out_exp, (acc, x)
    return out_acc, out_exp


def dot_value(
    out_acc: np.ndarray, out_exp: np.ndarray, mode: object, *, mant_bits: int,
    narrow_mant_bits: int | None = None,
) -> np.ndarray:
    """Real value ``out_acc * 2^(out_exp - 2 m_mode)`` of outputs (float64, for reports)."""
    acc = np.asarray(out_acc, dtype=np.float64)
    md = _mode_array(mode, acc.shape[0], narrow_mant_bits)
    mm = np.where(md, narrow_mant_bits or 0, mant_bits)
    return np.ldexp(acc, (np.asarray(out_exp, dtype=np.int64) - 2 * mm).astype(np.int32))
