"""Conventions shared by every HBFP block (see README "Number formats" and REFERENCE.md).

An HBFP block is a shared exponent ``e`` plus signed integer mantissas ``q`` in
``[-(2^m - 1), 2^m - 1]``; element value ``q * 2^(e - m)``. ``e = max unbiased FP32 exponent of the
block + 1``, with exponent field 0 (zero/subnormal) read as field 1, so an all-zero block has
``e = -125``. ``e`` therefore lies in [-125, 128] for finite inputs.
"""

#: Width of a signed shared block exponent port (holds e in [-125, 128]).
EXP_WIDTH = 9
#: Width of a signed product exponent port (e_a + e_b).
PROD_EXP_WIDTH = 10
#: e of an all-zero block (exponent field 0 is read as 1: 1 - 127 + 1).
ZERO_BLOCK_EXP = -125


def mant_width(mant_bits: int) -> int:
    """Signed port width of an m-bit magnitude mantissa (sign + m bits)."""
    return mant_bits + 1
