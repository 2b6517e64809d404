"""Processing element of the weight-stationary pod: one registered multiply-accumulate.

* It holds **two weight banks** (double buffering, as in SOSA): each bank is one weight operand,
  plus its index inside the N:M group when the pod is sparse.
* The activation bus (``sel`` operands: one when dense, the M-wide group when N:M sparse) and
  its bank-select bit pass through it west to east, one register per PE.
* ``out_psum <= arith.mac(in_psum, w[bank], a[idx])``: the partial sum moves south.

The arithmetic is a parameter (:mod:`hw.arith`), so the same PE, row, array and pod serve every
number format that has one. The weight write port is independent of ``en`` (the pod's stall)
on purpose: the next fold's weights keep loading while a full result sink stalls the array.
"""

from __future__ import annotations

import operator
from typing import Any

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.facts import ParamError, index_bits
from hw.arith import Arithmetic
from hw.block import Block
from hw.signatures import ActBus, PsumBus, WeightWrite

__all__ = ["PE"]


class PE(Block):
    """Weight-stationary MAC with a double-buffered weight and an M:1 activation select.

    Parameters
    ----------
    arith:
        The PE arithmetic (:class:`hw.arith.MantissaMAC` for HBFP).
    sel:
        Operands on the activation bus: 1 when dense, ``M`` for N:M sparsity (the stored index
        picks one).
    gated:
        With an ``en`` port (the pod's global stall, the default); ``False``: no enable, the
        stage register loads on every edge (a pod that never stalls its array,
        ``Pod(stall="queue")``), which saves the IHP library's enable multiplexer per bit.

    Ports
    -----
    en: In(1)
        Advance: when 0 every datapath register holds (the pod's stall). Only when gated.
    in_act: In(ActBus)
        ``data``: packed operands, element i at bit ``i * width(operand)``; ``bank``: the weight
        bank this activation uses; ``mode`` (arithmetics with a narrow mode only): read the
        weight from its low bits for this activation (:meth:`hw.arith.MantissaMAC.weight`).
    in_psum: In(PsumBus)
        Partial sum from the PE above (0 for the top row).
    w: In(WeightWrite)
        On a clock edge with ``w.we`` bank ``w.bank`` takes ``w.data`` (and ``w.idx`` when
        sparse). Not gated by ``en``.
    out_act, out_psum: Out
        Registered ``in_act`` and ``arith.mac(in_psum, w[bank], a[idx])``.

    Latency 1 cycle (of ``en``) on every output; throughput one MAC per enabled cycle.
    """

    @classmethod
    def check(cls, *, arith: Any, sel: int = 1, gated: bool = True) -> None:  # noqa: ARG003
        if not isinstance(arith, Arithmetic):
            raise ParamError(f"PE arith must be an hw.arith.Arithmetic, not {arith!r}")
        if operator.index(sel) < 1:
            raise ParamError(f"PE sel must be >= 1, not {sel}")

    @staticmethod
    def signature_of(*, arith: Arithmetic, sel: int = 1, gated: bool = True
                     ) -> wiring.Signature:
        """The PE's signature, without building a PE (parents place black boxes from it)."""
        ow = arith.operand_shape.width
        return wiring.Signature({
            **({"en": In(1)} if gated else {}),
            "w": In(WeightWrite(shape=arith.operand_shape,
                                idx_bits=index_bits(sel) if sel > 1 else 0)),
            "in_act": In(ActBus(width=sel * ow, mode=arith.has_mode)),
            "in_psum": In(PsumBus(shape=arith.acc_shape)),
            "out_act": Out(ActBus(width=sel * ow, mode=arith.has_mode)),
            "out_psum": Out(PsumBus(shape=arith.acc_shape)),
        })

    def __init__(self, *, arith: Arithmetic, sel: int = 1, gated: bool = True):
        self.arith = arith
        self.sel = operator.index(sel)
        self.gated = bool(gated)
        super().__init__(self.signature_of(arith=arith, sel=self.sel, gated=self.gated))

    @property
    def idx_bits(self) -> int:
        """Bits of a stored N:M index (0 when dense)."""
        return index_bits(self.sel) if self.sel > 1 else 0

    @property
    def latency(self) -> int:
        return 1

    @property
    def register_bits(self) -> int:
        """Flip-flops in one PE."""
        return self.count_register_bits(self.arith, self.sel)

    @staticmethod
    def count_register_bits(arith: Arithmetic, sel: int = 1) -> int:
        """Flip-flops in one PE: activation bus, bank bit, partial sum, two weight banks."""
        ow, aw = arith.operand_shape.width, arith.acc_shape.width
        ib = index_bits(sel) if sel > 1 else 0
        return sel * ow + 1 + int(arith.has_mode) + aw + 2 * (ow + ib)

    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        ops = self.arith.operand_shape
        ow = ops.width
        # Datapath registers need no reset: nothing leaves the pod without a valid token.
        w = [Signal(ops, name=f"w{b}", reset_less=True) for b in range(2)]
        with m.If(self.w.we):
            with m.If(self.w.bank):
                m.d.sync += w[1].eq(self.w.data)
            with m.Else():
                m.d.sync += w[0].eq(self.w.data)
        bank = self.in_act.bank
        mode = self.in_act.mode if self.arith.has_mode else None
        # The narrow mode travels with the activation: a weight is interpreted when it is used.
        w_sel = self.arith.weight(Mux(bank, w[1], w[0]), mode)
        a = self.in_act.data
        if self.sel > 1:
            idx = [Signal(self.idx_bits, name=f"idx{b}", reset_less=True) for b in range(2)]
            with m.If(self.w.we):
                with m.If(self.w.bank):
                    m.d.sync += idx[1].eq(self.w.idx)
                with m.Else():
                    m.d.sync += idx[0].eq(self.w.idx)
            # Pad to 2^idx_bits lanes (indices >= M select 0) and select with a tree of 2:1
            # muxes, one level per index bit. (An Array index becomes a `casez` in an
            # `always @*` block, which a 4-state simulator does not evaluate until an input
            # changes: its output stays X from time 0 while the lanes and index keep their
            # initial values, although the hardware is a plain mux.)
            lanes = ([a[i * ow:(i + 1) * ow].as_signed() for i in range(self.sel)]
                     + [Const(0, ops)] * ((1 << self.idx_bits) - self.sel))
            sel_idx = Mux(bank, idx[1], idx[0])
            for b in range(self.idx_bits):
                lanes = [Mux(sel_idx[b], lanes[i + 1], lanes[i]) for i in range(0, len(lanes), 2)]
            a_sel = lanes[0]
        else:
            a_sel = a.as_signed()
        acc = self.arith.mac(self.in_psum.data, w_sel, a_sel, m)
        # The stage register (activation, bank bit, [mode bit,] partial sum) is one signal
        # written under one enable, and the sum is not a named wire of its own. Under
        # Verilator with cocotb's --public-flat-rw every named signal and every process is
        # kept and re-evaluated separately on each evaluation; one process and one register
        # per PE instead of three (plus an alias each) is what keeps the pod as fast to
        # simulate as the hand-wired one. Same flip-flops, same enable, still no reset.
        outs = [self.out_act.data, self.out_act.bank]
        ins = [a, bank]
        if mode is not None:
            outs.append(self.out_act.mode)
            ins.append(mode)
        outs.append(self.out_psum.data)
        ins.append(acc[:len(self.out_psum.data)])
        stage = Signal(sum(len(o) for o in outs), name="stage", reset_less=True)
        if self.gated:
            with m.If(self.en):
                m.d.sync += stage.eq(Cat(*ins))
        else:
            m.d.sync += stage.eq(Cat(*ins))
        lo = 0
        for o in outs:
            m.d.comb += o.eq(stage[lo:lo + len(o)])
            lo += len(o)
        return m
