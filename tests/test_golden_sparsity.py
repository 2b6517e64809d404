"""golden.sparsity: N:M and unstructured magnitude pruning, the compressed form, 2:4 nibbles.

The masks are checked against a per-group Python reference that sorts by ``(-|x|, index)``,
which states the tie rule (lower index kept) directly.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from golden.sparsity import (
    nm_compress,
    nm_decompress,
    nm_mask,
    nm_prune,
    pack_2to4_nibbles,
    unpack_2to4_nibbles,
    unstructured_mask,
    unstructured_prune,
)

SETTINGS = settings(max_examples=100, deadline=None, derandomize=True, database=None)

# Few distinct magnitudes (and both signs) so ties are frequent, as after quantization.
tie_values = st.sampled_from([0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 2.0, 3.0, -3.0])
values = st.one_of(tie_values, st.floats(-100, 100, width=32))


def arrays(max_rows: int = 4, max_len: int = 40, elements=values, dtype=np.float32):
    return hnp.arrays(
        dtype, st.tuples(st.integers(1, max_rows), st.integers(1, max_len)), elements=elements
    )


@st.composite
def nm(draw, max_m: int = 9):
    m = draw(st.integers(1, max_m))
    return draw(st.integers(1, m)), m


def ref_nm_mask_rows(x: np.ndarray, n: int, m: int) -> np.ndarray:
    """Per-group reference along the last axis: keep the first n of sorted (-|x|, index)."""
    keep = np.zeros(x.shape, bool)
    for r, row in enumerate(x.reshape(-1, x.shape[-1])):
        for g0 in range(0, len(row), m):
            grp = [abs(float(v)) for v in row[g0 : g0 + m]]
            grp += [0.0] * (m - len(grp))  # zero padding of a short tail
            order = sorted(range(m), key=lambda i, grp=grp: (-grp[i], i))[:n]
            for i in order:
                if g0 + i < len(row):
                    keep.reshape(-1, x.shape[-1])[r, g0 + i] = True
    return keep


def assert_same(a, b, what=""):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    bad = np.argwhere(a != b)
    assert not bad.size, f"{what}: {len(bad)}/{a.size} mismatches, first at {bad[:5].tolist()}"


# --------------------------------------------------------------------------------------------
# N:M masks
# --------------------------------------------------------------------------------------------
@SETTINGS
@given(x=arrays(), nm=nm())
def test_nm_mask_matches_reference_and_counts(x, nm):
    n, m = nm
    keep = nm_mask(x, n, m)
    assert keep.dtype == np.bool_ and keep.shape == x.shape
    assert_same(keep, ref_nm_mask_rows(x, n, m), "mask vs reference")
    # Kept count per group: exactly n in a full group, min(n, tail length) in the tail.
    length = x.shape[-1]
    for g0 in range(0, length, m):
        cnt = keep[:, g0 : g0 + m].sum(axis=1)
        assert (cnt == min(n, len(range(g0, min(g0 + m, length))))).all()
    pruned = nm_prune(x, n, m)
    assert pruned.dtype == x.dtype
    assert_same(pruned, np.where(keep, x, 0), "prune")


@SETTINGS
@given(x=hnp.arrays(np.int8, st.tuples(st.integers(1, 12), st.integers(1, 3))), nm=nm(6))
def test_nm_mask_axis_and_integer_dtype(x, nm):
    n, m = nm
    # int8 -128 must rank as magnitude 128, not wrap to -128.
    assert_same(nm_mask(x, n, m, axis=0), nm_mask(x.T, n, m).T, "axis=0")
    assert_same(nm_mask(x.T, n, m), ref_nm_mask_rows(x.T.astype(np.int64), n, m), "int8")


def test_nm_mask_tie_rule_and_examples():
    x = np.array([[1.0, -1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]], np.float32)
    assert nm_mask(x, 2, 4).tolist() == [[True, True, False, False, True, True, False, False]]
    x = np.array([[0.1, -3.0, 2.0, 0.5]], np.float32)
    assert nm_mask(x, 2, 4).tolist() == [[False, True, True, False]]
    assert nm_mask(x, 4, 4).all() and nm_mask(x, 1, 1).all()
    # Tail group [5, -7] of a 2:4 pattern keeps both real elements (padding ranks last).
    x = np.array([1.0, 2, 3, 4, 5, -7], np.float32)
    assert nm_mask(x, 2, 4).tolist() == [False, False, True, True, True, True]
    assert nm_mask(x, 1, 4).tolist() == [False, False, False, True, False, True]


# --------------------------------------------------------------------------------------------
# Unstructured
# --------------------------------------------------------------------------------------------
@SETTINGS
@given(x=arrays(), frac=st.floats(0, 1))
def test_unstructured_mask_count_order_ties(x, frac):
    keep = unstructured_mask(x, frac)
    k = math.floor(Fraction(frac) * x.size)  # exact, as documented
    assert (~keep).sum() == k
    flat = np.abs(x.reshape(-1).astype(np.float64))
    order = sorted(range(flat.size), key=lambda i: (-flat[i], i))
    want = np.zeros(flat.size, bool)
    want[order[: flat.size - k]] = True
    assert_same(keep.reshape(-1), want, "unstructured vs reference")
    assert_same(unstructured_prune(x, frac), np.where(keep, x, 0), "prune")


def test_unstructured_exact_floor_and_ties():
    x = np.ones(100, np.float32)
    # 0.29 * 100 == 28.999999999999996 in floats; the exact value of 0.29 is below 0.29 too.
    assert (~unstructured_mask(x, 0.29)).sum() == 28
    assert (~unstructured_mask(x, 0.5)).sum() == 50
    # Ties: the higher flat indices are pruned first, the lower ones kept.
    assert unstructured_mask(np.ones((2, 3)), 0.5).tolist() == [[True] * 3, [False] * 3]
    assert unstructured_mask(np.array([3.0, 1.0, 2.0, 1.0]), 0.5).tolist() == [
        True,
        False,
        True,
        False,
    ]
    assert unstructured_mask(np.zeros(4), 1.0).sum() == 0


# --------------------------------------------------------------------------------------------
# Compressed form
# --------------------------------------------------------------------------------------------
@st.composite
def nm_sparse(draw):
    """An N:M-sparse array (rows, G*m) of a random dtype, with some groups under-full."""
    n, m = draw(nm(8))
    shape = (draw(st.integers(1, 4)), m * draw(st.integers(1, 5)))
    x = draw(hnp.arrays(np.float32, shape, elements=values))
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int8, np.int32]))
    return nm_prune(x, n, m).astype(dtype), n, m


@SETTINGS
@given(case=nm_sparse())
def test_nm_compress_roundtrip(case):
    dense, n, m = case
    vals, idx = nm_compress(dense, n, m)
    groups = dense.shape[1] // m
    assert vals.shape == idx.shape == (dense.shape[0], groups * n)
    assert vals.dtype == dense.dtype and idx.dtype == np.uint8
    ig = idx.reshape(dense.shape[0], groups, n).astype(int)
    assert (np.diff(ig, axis=-1) > 0).all() and ig.max() < m
    # Every non-zero is stored; padding slots are the lowest unused positions.
    dg = dense.reshape(dense.shape[0], groups, m)
    for r, g in itertools.product(range(dense.shape[0]), range(groups)):
        nz = [i for i in range(m) if dg[r, g, i] != 0]
        pad = [i for i in range(m) if i not in nz][: n - len(nz)]
        assert ig[r, g].tolist() == sorted(nz + pad)
    assert_same(nm_decompress(vals, idx, n, m), dense, "decompress(compress(x))")


def test_nm_compress_examples_and_errors():
    x = np.array([[0, 0, 0, 5.0, 1, 0, 2, 0]], np.float32)
    v, i = nm_compress(x, 2, 4)
    assert v.tolist() == [[0.0, 5.0, 1.0, 2.0]] and i.tolist() == [[0, 3, 0, 2]]
    with pytest.raises(ValueError, match="multiple of m=4"):
        nm_compress(np.zeros((2, 6)), 2, 4)
    with pytest.raises(ValueError, match="not 2:4 sparse"):
        nm_compress(np.array([[1.0, 1, 1, 0]]), 2, 4)
    with pytest.raises(ValueError, match="empty axis"):
        nm_compress(np.zeros((2, 0)), 2, 4)
    with pytest.raises(ValueError, match="strictly increasing"):
        nm_decompress(np.ones((1, 2)), np.array([[2, 1]]), 2, 4)
    with pytest.raises(ValueError, match="indices must lie"):
        nm_decompress(np.ones((1, 2)), np.array([[1, 4]]), 2, 4)
    with pytest.raises(ValueError, match="same shape"):
        nm_decompress(np.ones((1, 2)), np.array([[1]]), 2, 4)


def test_2to4_nibbles():
    pairs = list(itertools.combinations(range(4), 2))
    idx = np.array([p for p in pairs], np.uint8).reshape(1, -1)
    nib = pack_2to4_nibbles(idx)
    assert nib.dtype == np.uint8 and nib.shape == (1, 6)
    assert nib[0].tolist() == [a | b << 2 for a, b in pairs]
    assert pack_2to4_nibbles(np.array([0, 1]))[0] == 0b0100
    assert pack_2to4_nibbles(np.array([2, 3]))[0] == 0b1110
    assert_same(unpack_2to4_nibbles(nib), idx, "unpack(pack)")
    x = np.random.default_rng(0).standard_normal((3, 16)).astype(np.float32)
    _, i = nm_compress(nm_prune(x, 2, 4), 2, 4)
    assert_same(unpack_2to4_nibbles(pack_2to4_nibbles(i)), i, "nibbles of compress")
    with pytest.raises(ValueError, match="idx0 < idx1"):
        pack_2to4_nibbles(np.array([1, 1]))
    with pytest.raises(ValueError, match="even"):
        pack_2to4_nibbles(np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="idx0 < idx1"):
        unpack_2to4_nibbles(np.array([0b0001]))  # {1, 0}
    with pytest.raises(ValueError, match="nibbles must lie"):
        unpack_2to4_nibbles(np.array([16]))


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n", "m", "needle"),
    [
        (5, 4, "n must be <= m"),
        (0, 4, "n must be >= 1"),
        (2, 0, "m must be >= 1"),
        (2.0, 4, "n must be an integer"),
        (2, "4", "m must be an integer"),
    ],
)
def test_nm_bad_parameters(n, m, needle):
    x = np.ones((2, 8), np.float32)
    for fn in (nm_mask, nm_prune, nm_compress):
        with pytest.raises(ValueError, match=needle):
            fn(x, n, m)


def test_sparsity_bad_input():
    with pytest.raises(ValueError, match="empty axis"):
        nm_mask(np.zeros((3, 0)), 2, 4)
    with pytest.raises(ValueError, match="NaN"):
        nm_mask(np.array([1.0, np.nan]), 1, 2)
    for frac in (-0.1, 1.5, float("nan"), "0.5", True):
        with pytest.raises(ValueError, match="fraction"):
            unstructured_mask(np.ones(4), frac)


def test_nm_mask_unsigned_ranks_zero_lowest():
    # A negated uint wraps: the old ranking kept zeros over larger values.
    x = np.array([0, 5, 3, 0], np.uint8)
    assert nm_mask(x, 2, 4).tolist() == [False, True, True, False]
    assert nm_mask(np.array([5, 3], np.uint16), 2, 4).tolist() == [True, True]
    assert nm_mask(np.array([True, False, True, True]), 2, 4).tolist() == [True, False, True,
                                                                          False]
