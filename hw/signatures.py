"""Signature classes the blocks share, so that neighbours connect with ``wiring.connect``.

Each is written from the *producer's* side (members ``Out``); a consumer takes it as
``In(...)``. The systolic chain uses them at every level with the same port names:
``in_act``/``out_act`` (activations and their weight-bank bit, flowing east),
``in_psum``/``out_psum`` (partial sums, flowing south) and ``w`` (the weight write port).

The datapath blocks' stream payload layouts (:class:`HBFPBlock`, :class:`DotOperands`,
:class:`DotResult`) and :func:`valid_stream` are at the end.
"""

from __future__ import annotations

import operator

from amaranth.hdl import Shape, ShapeLike, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import Out

from golden.facts import EXP_WIDTH, PROD_EXP_WIDTH, mant_width

__all__ = ["ActBus", "PsumBus", "WeightWrite", "valid_stream", "HBFPBlock", "DotOperands",
           "DotResult"]


class ActBus(wiring.Signature):
    """Activations passed east: ``data`` (packed mantissas), ``bank`` (weight bank to use) and,
    with ``mode``, the narrow-mode bit the activation was accepted with.

    Parameters
    ----------
    width:
        Bits of ``data``: ``sel`` mantissas of ``m + 1`` bits, element i at bit ``i*(m+1)``.
    mode:
        Add the ``mode`` bit (pods with an Accuracy Boosters narrow mode).
    """

    def __init__(self, *, width: int, mode: bool = False):
        self.width = operator.index(width)
        self.mode = bool(mode)
        members = {"data": Out(unsigned(self.width)), "bank": Out(1)}
        if self.mode:
            members["mode"] = Out(1)
        super().__init__(members)


class PsumBus(wiring.Signature):
    """Partial sums passed south: ``data`` (one signed sum, or C packed column sums)."""

    def __init__(self, *, shape: ShapeLike):
        self.shape = Shape.cast(shape)
        super().__init__({"data": Out(self.shape)})


class WeightWrite(wiring.Signature):
    """A weight write port: on a clock edge with ``we`` set, bank ``bank`` takes ``data``.

    Parameters
    ----------
    shape:
        Shape of ``data`` (one mantissa, or C packed mantissas of a row).
    idx_bits:
        Bits of ``idx``, the N:M in-group indices stored with the weights (0: no ``idx``).
    rows:
        Width of ``we``: 1 for a PE or a row, R (one enable per row) for the array.
    """

    def __init__(self, *, shape: ShapeLike, idx_bits: int = 0, rows: int = 1):
        self.shape = Shape.cast(shape)
        self.idx_bits = operator.index(idx_bits)
        self.rows = operator.index(rows)
        members = {"data": Out(self.shape)}
        if self.idx_bits:
            members["idx"] = Out(unsigned(self.idx_bits))
        members.update(we=Out(self.rows), bank=Out(1))
        super().__init__(members)


# ---- payload layouts of the datapath streams ------------------------------------------------
# The datapath blocks (converter, dot unit, normalizer, MACs, N:M decoder, sparse dot) have no
# backpressure: each takes an input stream ``i`` and presents an output stream ``o``, both
# ``stream.Signature(<layout>, always_ready=True)`` (Verilog ``i__payload``, ``i__valid``, no
# ``ready``). The layouts a producer and a consumer share are defined here once, so that
# neighbours (dot -> normalizer, N:M decoder -> dot) connect with ``wiring.connect``. Fields
# are packed LSB first in the order listed; an ``ArrayLayout`` holds element i at bits
# ``[i*w, (i+1)*w)`` of its field, two's complement where signed.


def valid_stream(payload: ShapeLike) -> stream.Signature:
    """A producer-side stream without backpressure: ``valid`` qualifies ``payload``, ``ready``
    is the constant 1 (``always_ready=True``), so no Verilog ``ready`` port exists."""
    return stream.Signature(payload, always_ready=True)


class HBFPBlock(data.StructLayout):
    """One HBFP block: ``mant`` (``lanes`` signed ``m+1``-bit mantissas, lane i at bit
    ``i*(m+1)``) then ``exp`` (the shared exponent ``e`` itself, signed ``EXP_WIDTH``); value of
    lane i ``mant[i] * 2^(exp - m)``. The packing equals the pod's ``act`` payload without
    ``last`` (``data`` = the mantissas, then ``exp``)."""

    def __init__(self, lanes: int, mant_bits: int):
        self.lanes = operator.index(lanes)
        self.mant_bits = operator.index(mant_bits)
        super().__init__({
            "mant": data.ArrayLayout(signed(mant_width(self.mant_bits)), self.lanes),
            "exp": signed(EXP_WIDTH),
        })


class DotOperands(data.StructLayout):
    """A beat of the dot unit: two HBFP blocks ``a`` and ``b`` of ``lanes`` mantissas, ``first``
    (restart the accumulation with this block pair) and, with ``mode``, the narrow-mode bit."""

    def __init__(self, lanes: int, mant_bits: int, *, mode: bool = False):
        self.lanes = operator.index(lanes)
        self.mant_bits = operator.index(mant_bits)
        self.mode = bool(mode)
        fields: dict[str, ShapeLike] = {"a": HBFPBlock(self.lanes, self.mant_bits),
                                        "b": HBFPBlock(self.lanes, self.mant_bits),
                                        "first": unsigned(1)}
        if self.mode:
            fields["mode"] = unsigned(1)
        super().__init__(fields)


class DotResult(data.StructLayout):
    """A fixed-point result ``acc * 2^(exp - frac_bits)``: ``acc`` (signed ``acc_width``) then
    ``exp`` (signed ``exp_width``, default ``PROD_EXP_WIDTH``: ``e_a + e_b``). The dot unit
    produces it, the normalizer consumes it."""

    def __init__(self, acc_width: int, exp_width: int = PROD_EXP_WIDTH):
        self.acc_width = operator.index(acc_width)
        self.exp_width = operator.index(exp_width)
        super().__init__({"acc": signed(self.acc_width), "exp": signed(self.exp_width)})
