"""golden.interplay: S->Q / Q->S composition, quantizer specs and the error metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from golden.formats import hbfp_quantize, int8_quantize, mx_quantize
from golden.interplay import (
    compress,
    dot_error,
    l1_error,
    l2_error,
    mask_flip_rate,
    parse_quant,
    parse_sparsity_spec,
    relative_error,
)
from golden.sparsity import nm_mask, unstructured_mask

SETTINGS = settings(max_examples=100, deadline=None, derandomize=True, database=None)

finite32 = st.one_of(
    st.floats(width=32, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, 1.0, -1.0, 0.5, 2.0**-130]),
)


def assert_same(a, b, what=""):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    bad = np.argwhere(a != b)
    assert not bad.size, f"{what}: {len(bad)}/{a.size} mismatches, first at {bad[:5].tolist()}"


@st.composite
def sq_case(draw):
    """(x, m, block, n, M) with M dividing the block size."""
    big_m = draw(st.sampled_from([1, 2, 4, 8]))
    n = draw(st.integers(1, big_m))
    block = big_m * draw(st.integers(1, 8))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 70)))
    x = draw(hnp.arrays(np.float32, shape, elements=finite32))
    return x, draw(st.integers(1, 15)), block, n, big_m


@SETTINGS
@given(case=sq_case())
def test_sq_invariant_for_hbfp(case):
    # Magnitude pruning keeps each block's max (M | block), so the exponent does not move.
    x, m, block, n, big_m = case
    q = lambda t: hbfp_quantize(t, m, block)  # noqa: E731
    got = compress(x, "sq", q, f"{n}:{big_m}")
    want = np.where(nm_mask(x, n, big_m), hbfp_quantize(x, m, block), np.float32(0))
    assert_same(got, want, "Q(S(x)) vs S_mask(x) * Q(x)")


def test_qs_prunes_on_quantized_ties():
    # After HBFP (m=2, e=1, step 0.5) 0.26 and 0.30 both become 0.5: the tie keeps index 1,
    # while pruning first keeps the truly larger index 2. That is the paper's Q->S mechanism.
    x = np.array([[1.0, 0.26, 0.30, 0.0]], np.float32)
    sq = compress(x, "sq", lambda t: hbfp_quantize(t, 2, 4), "2:4")
    qs = compress(x, "qs", lambda t: hbfp_quantize(t, 2, 4), "2:4")
    assert sq.tolist() == [[1.0, 0.0, 0.5, 0.0]]
    assert qs.tolist() == [[1.0, 0.5, 0.0, 0.0]]
    assert mask_flip_rate(x, lambda t: hbfp_quantize(t, 2, 4), "2:4") == 0.5
    assert relative_error(x, qs) > relative_error(x, sq)


def test_compress_orders_are_compositions():
    x = np.random.default_rng(1).standard_normal((8, 128)).astype(np.float32)
    q = parse_quant("hbfp4")
    for sp in ("2:4", "1:8", 0.6):
        mask = nm_mask(x, 2, 4) if sp == "2:4" else None
        sq = compress(x, "sq", "hbfp4", sp)
        qs = compress(x, "qs", "hbfp4", sp)
        if sp == "2:4":
            assert_same(sq, q(np.where(mask, x, 0)), "sq")
        xq = q(x)
        keep = (
            nm_mask(xq, 1, 8)
            if sp == "1:8"
            else (unstructured_mask(xq, sp) if sp == 0.6 else nm_mask(xq, 2, 4))
        )
        assert_same(qs, np.where(keep, xq, 0), f"qs {sp}")
    assert_same(compress(x, "qs", None, None), x, "identity")
    assert_same(compress(x, "sq", "fp32", "4:4"), x, "4:4 keeps all")


def test_parse_quant_specs():
    x = np.random.default_rng(2).standard_normal((4, 200)).astype(np.float32)
    cases = {
        "hbfp8": hbfp_quantize(x, 7, 64),
        "hbfp6@32": hbfp_quantize(x, 5, 32),
        "HBFP4@16": hbfp_quantize(x, 3, 16),
        "mxfp8_e4m3": mx_quantize(x, "fp8_e4m3", 32),
        "mxfp8_e5m2": mx_quantize(x, "fp8_e5m2", 32),
        "mxfp6_e2m3": mx_quantize(x, "fp6_e2m3", 32),
        "mxfp6_e3m2@16": mx_quantize(x, "fp6_e3m2", 16),
        "mxfp4": mx_quantize(x, "fp4_e2m1", 32),
        "mxint8": mx_quantize(x, "int8", 32),
        "int8": int8_quantize(x, -1, "symmetric"),
        "int8_asym": int8_quantize(x, -1, "asymmetric"),
        "fp32": x,
    }
    for spec, want in cases.items():
        assert_same(parse_quant(spec)(x), want, spec)
    assert_same(parse_quant(None)(x), x, "None")
    f = lambda t: t * 0  # noqa: E731
    assert parse_quant(f) is f
    for bad in ("hbfp5", "fp16", "int8@32", "hbfp8@0", "hbfp8@", 3):
        with pytest.raises(ValueError, match="quant"):
            parse_quant(bad)


def test_parse_sparsity_and_bad_input():
    assert parse_sparsity_spec("2:4") == (2, 4)
    assert parse_sparsity_spec(" 1 : 8 ") == (1, 8)
    assert parse_sparsity_spec(0.5) == 0.5 and parse_sparsity_spec(None) is None
    for bad in ("5:4", "0:4", "2-4", 1.5, -0.1, 2):
        with pytest.raises(ValueError, match="sparsity"):
            parse_sparsity_spec(bad)
    with pytest.raises(ValueError, match="order"):
        compress(np.ones(4), "xy", None, None)


def test_error_metrics():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    y = np.array([[3.0, 0.0], [0.0, 1.0]])
    assert l1_error(x, y) == 5.0
    assert l2_error(x, y) == math.sqrt(17)
    assert relative_error(x, y) == math.sqrt(17) / 5
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.zeros(3), np.ones(3)) == math.inf
    w = np.array([[1.0], [2.0]])
    # x @ w = [11, 0], y @ w = [3, 2]: ||[8, -2]|| / 11
    assert dot_error(x, y, w) == pytest.approx(math.sqrt(68) / 11, rel=1e-15)
    with pytest.raises(ValueError, match="same shape"):
        l1_error(np.ones(3), np.ones(4))


def test_mask_flip_rate_range_and_hbfp_nm_property():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((16, 256)).astype(np.float32)
    # Finer quantization flips fewer decisions; with fp32 nothing flips.
    r4 = mask_flip_rate(x, "hbfp4", "2:4")
    r8 = mask_flip_rate(x, "hbfp8", "2:4")
    assert 0.0 < r8 < r4 < 0.5
    assert mask_flip_rate(x, "fp32", "2:4") == 0.0
    assert mask_flip_rate(x, "hbfp8", None) == 0.0
