"""PE arithmetics: what one processing element computes, as a parameter of the array.

An arithmetic object describes the operand and accumulator shapes of a MAC and builds its
combinational expression. :class:`hw.pe.PE` (and so the row, the array and the pod) takes one,
so a single generator builds an HBFP mantissa array now and the INT8 and FP32 arrays of the
engine issue later by adding an arithmetic here, not a new array.

An arithmetic is a frozen value: two equal arithmetics build identical Verilog, which is what
lets :func:`gen.hier.emit_hierarchy` emit the PE once.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

from amaranth.hdl import Module, Mux, Shape, Value, signed, unsigned

from golden.facts import EXP_WIDTH, HBFP_MANT_BITS_RANGE, ParamError, mant_width
from hw.fp32mac import fp32_add, fp32_mul

__all__ = ["Arithmetic", "MantissaMAC", "FloatMAC", "IntMAC"]


class Arithmetic:
    """Interface of a PE arithmetic (see :class:`MantissaMAC`)."""

    #: Short name, used in module names and manifests.
    name: str

    @property
    def operand_shape(self) -> Shape:
        """Shape of one weight or activation operand."""
        raise NotImplementedError

    @property
    def acc_shape(self) -> Shape:
        """Shape of the partial sum that flows down a column."""
        raise NotImplementedError

    #: The operands share block exponents that the pod adds per result (HBFP); else none.
    block_exponent: bool = False
    #: Bits of per-column side data the weights carry and the pod hands out with every result
    #: (HBFP: the weight block exponent; INT8: the FP32 output scale; FP32: none).
    column_bits: int = 0
    #: Operands carry a narrow-mode bit.
    has_mode: bool = False

    def weight(self, w: Value, mode: Value | None) -> Value:
        """The weight operand as used (an arithmetic with a mode may reinterpret it)."""
        return w

    def mac(self, acc: Value, w: Value, a: Value, m: Module | None = None) -> Value:
        """``acc + w * a`` as this arithmetic defines it (combinational; ``m`` is the module
        an arithmetic with named intermediate signals adds them to)."""
        raise NotImplementedError


@dataclass(frozen=True)
class MantissaMAC(Arithmetic):
    """HBFP mantissa multiply-accumulate: exact ``(m+1)``-bit signed products into an integer sum.

    The shared exponents never enter the PE: the pod adds them once per result beat. The sum
    is exact while the column's accumulator is at least
    :func:`golden.facts.min_acc_width` wide (the pod checks its own height).

    Parameters
    ----------
    mant_bits:
        Magnitude mantissa bits ``m`` (7/5/3 for HBFP8/6/4).
    acc_width:
        Partial-sum width in bits (signed), at least ``2(m+1)``.
    narrow_mant_bits:
        Accuracy Boosters' narrow mode: with ``mode`` set, :meth:`weight` reads a stored weight
        from its low ``narrow_mant_bits + 1`` bits (sign-extended). The mode travels with each
        activation, so the weights are stored as loaded and interpreted when *used*.
    """

    mant_bits: int
    acc_width: int
    narrow_mant_bits: int | None = None
    name: str = "hbfp"
    block_exponent: bool = True
    column_bits: int = EXP_WIDTH

    def __post_init__(self) -> None:
        object.__setattr__(self, "mant_bits", operator.index(self.mant_bits))
        object.__setattr__(self, "acc_width", operator.index(self.acc_width))
        lo, hi = HBFP_MANT_BITS_RANGE
        if not lo <= self.mant_bits <= hi:
            raise ParamError(f"mant_bits must be in [{lo}, {hi}], not {self.mant_bits}")
        if self.narrow_mant_bits is not None:
            nb = operator.index(self.narrow_mant_bits)
            object.__setattr__(self, "narrow_mant_bits", nb)
            if not 1 <= nb < self.mant_bits:
                raise ParamError(f"narrow_mant_bits must be in [1, {self.mant_bits}), not {nb}")
        if self.acc_width < 2 * mant_width(self.mant_bits):
            raise ParamError(f"acc_width {self.acc_width} is narrower than one product "
                             f"(2(m+1) = {2 * mant_width(self.mant_bits)} bits)")

    @property
    def operand_shape(self) -> Shape:
        return signed(mant_width(self.mant_bits))

    @property
    def acc_shape(self) -> Shape:
        return signed(self.acc_width)

    @property
    def has_mode(self) -> bool:
        """True when operands carry a narrow-mode bit."""
        return self.narrow_mant_bits is not None

    def weight(self, w: Value, mode: Value | None) -> Value:
        """The weight operand as used: narrowed when ``mode`` is 1 (if there is a mode)."""
        if self.narrow_mant_bits is None or mode is None:
            return w
        return Mux(mode, w[: self.narrow_mant_bits + 1].as_signed(), w)

    def mac(self, acc: Value, w: Value, a: Value, m: Module | None = None) -> Value:
        return acc + w * a


@dataclass(frozen=True)
class FloatMAC(Arithmetic):
    """FP32 multiply-add, the baseline array's PE: ``acc + round(w * a)``, rounded again.

    Non-fused, round half to even, denormals flushed on inputs and outputs, canonical NaN
    (:func:`hw.fp32mac.fp32_mul`, :func:`hw.fp32mac.fp32_add`; golden
    ``golden.arith_fp.fp32_mac_ftz``). A column's sum is therefore taken top to bottom, one
    rounding per row, starting from +0.
    """

    name: str = "fp32"

    @property
    def operand_shape(self) -> Shape:
        return unsigned(32)

    @property
    def acc_shape(self) -> Shape:
        return unsigned(32)

    def mac(self, acc: Value, w: Value, a: Value, m: Module | None = None) -> Value:
        if m is None:
            raise ValueError("FloatMAC.mac needs the module to build its FP32 units in")
        return fp32_add(m, acc, fp32_mul(m, w, a, name="pe_mul"), name="pe_add")


@dataclass(frozen=True)
class IntMAC(Arithmetic):
    """Integer multiply-accumulate, the INT8 baseline array's PE: ``acc + w * a`` wrapping at
    ``acc_width`` bits (two's complement, like INT32 hardware).

    The operands are symmetric INT8 codes; their FP32 scales never enter the PE: every weight
    column carries one FP32 output scale (:attr:`column_bits` = 32) that the pod hands out
    with each result, and the engine multiplies once per result (``golden.arith_fp``
    ``dequantize_int8``).
    """

    width: int = 8
    acc_width: int = 32
    name: str = "int8"
    column_bits: int = 32

    def __post_init__(self) -> None:
        object.__setattr__(self, "width", operator.index(self.width))
        object.__setattr__(self, "acc_width", operator.index(self.acc_width))
        if self.width < 2 or self.acc_width < 2 * self.width:
            raise ParamError(f"an INT MAC needs operands of 2+ bits and an accumulator of at "
                             f"least 2x their width, not {self.width}/{self.acc_width}")

    @property
    def operand_shape(self) -> Shape:
        return signed(self.width)

    @property
    def acc_shape(self) -> Shape:
        return signed(self.acc_width)

    def mac(self, acc: Value, w: Value, a: Value, m: Module | None = None) -> Value:
        # The PE's register is acc_width bits wide: the wider sum wraps on assignment.
        return acc + w * a
