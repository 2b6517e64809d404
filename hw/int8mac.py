"""INT8 multiply-accumulate: the fixed-point baseline of the silicon-provisioning report.

An 8x8 signed multiplier feeding a 32-bit accumulator, the per-PE arithmetic of an INT8
systolic array (for example SOSA's 8-bit PEs). Not part of any HBFP datapath; it exists so that
``docs/area.md`` can put the HBFP lanes beside the common INT8 hardware point.
"""

from __future__ import annotations

import operator

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from golden.facts import ParamError, check_index
from hw.block import Block
from hw.signatures import valid_stream

__all__ = ["Int8Mac"]


class Int8Mac(Block):
    """Signed ``width`` x ``width`` multiply with an ``acc_width``-bit accumulator.

    Every input beat (``i.valid`` high): ``acc <= (first ? 0 : acc) + a*b`` (two's complement,
    the accumulator wraps modulo ``2^acc_width``). Without a beat the accumulator holds, and
    ``first`` is ignored.

    Parameters
    ----------
    width : int
        Operand width in bits (8 for INT8).
    acc_width : int
        Accumulator width in bits (32 by default); at least ``2*width``.

    Ports
    -----
    i : In(valid_stream(StructLayout({"a": signed(width), "b": signed(width), "first": 1})))
        One multiply-accumulate per beat (``i.valid`` is the old enable): operands ``a``, ``b``;
        ``first`` starts a new sum with this product (drops the old accumulator value).
        Verilog ``i__valid``, ``i__payload``; ``always_ready``: no backpressure.
    o : Out(valid_stream(StructLayout({"acc": signed(acc_width)})))
        The registered accumulator ``acc``; ``o.valid`` pulses once per input beat, with the
        accumulator that includes that beat's product (the payload holds otherwise).

    Latency and throughput
    ----------------------
    ``latency`` = 1: a product presented in cycle t is in ``acc`` (with ``o.valid``) after the
    clock edge ending cycle t. One MAC per cycle.
    """

    @classmethod
    def check(cls, *, width: int = 8, acc_width: int = 32) -> None:
        width = check_index(width, "INT MAC operand width")
        acc_width = check_index(acc_width, "INT MAC accumulator width")
        if width < 2:
            raise ParamError(f"INT MAC operand width must be at least 2, not {width}")
        if acc_width < 2 * width:
            raise ParamError(f"INT MAC accumulator width {acc_width} is narrower than one "
                             f"product (2*{width} = {2 * width} bits)")

    def __init__(self, *, width: int = 8, acc_width: int = 32) -> None:
        width, acc_width = operator.index(width), operator.index(acc_width)
        self._width, self._acc_width = width, acc_width
        super().__init__({
            "i": In(valid_stream(data.StructLayout({
                "a": signed(width), "b": signed(width), "first": unsigned(1)}))),
            "o": Out(valid_stream(data.StructLayout({"acc": signed(acc_width)}))),
        })

    @property
    def width(self) -> int:
        return self._width

    @property
    def acc_width(self) -> int:
        return self._acc_width

    @property
    def latency(self) -> int:
        """Cycles from an input beat to its product being included in ``o.payload.acc``."""
        return 1

    def elaborate(self, platform) -> Module:
        m = Module()
        ins, acc = self.i.payload, self.o.payload.acc
        prod = Signal(signed(2 * self._width))
        m.d.comb += prod.eq(ins.a * ins.b)
        base = Signal(signed(self._acc_width))
        m.d.comb += base.eq(acc)
        with m.If(ins.first):
            m.d.comb += base.eq(0)
        m.d.sync += self.o.valid.eq(self.i.valid)
        with m.If(self.i.valid):
            # .eq truncates the (acc_width+1)-bit sum: the accumulator wraps like INT32 hardware.
            m.d.sync += acc.eq(base + prod)
        return m
