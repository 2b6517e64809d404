"""Processing element of the weight-stationary HBFP pod (``hw/pod.py``).

One PE is a registered multiply-accumulate stage:

* it holds **two weight banks** (double buffering, as in SOSA): each bank is one signed HBFP
  weight mantissa, plus its index inside the N:M group when the pod is sparse;
* the activation bus (``sel`` mantissas: one when dense, the M-wide group when N:M sparse) and a
  bank-select bit pass through it left to right, one register per PE;
* ``psum_out <= psum_in + w[bank] * a[idx]``: the partial sum moves down the column in exact
  integer arithmetic.

The weight write port is independent of ``en`` (the pod's global stall) on purpose: the next
fold's weights keep loading while a full result sink stalls the array.
"""

from __future__ import annotations

import operator

from amaranth.hdl import Array, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["PE"]


class PE(wiring.Component):
    """Weight-stationary MAC with a double-buffered weight and an M:1 activation select.

    Parameters
    ----------
    mant_bits:
        Magnitude mantissa bits ``m``; operands are ``m + 1``-bit signed.
    acc_width:
        Width of the partial-sum input/output (signed).
    sel:
        Activations on the bus: 1 when dense, ``M`` for N:M sparsity (the stored index picks one).

    Ports
    -----
    en: In(1)
        Advance: when 0 every datapath register holds (the pod's global stall).
    a_in: In(unsigned(sel * (m+1)))
        Packed activation bus, element i at bit ``i*(m+1)``.
    bank_in: In(1)
        Which weight bank the activation in ``a_in`` uses.
    psum_in: In(signed(acc_width))
        Partial sum from the PE above (0 for the top row).
    w_in, w_idx, w_we, w_bank:
        Weight write port: on a clock edge with ``w_we`` bank ``w_bank`` takes ``w_in``
        (and ``w_idx`` when sparse). Not gated by ``en``.
    a_out, bank_out, psum_out: Out
        Registered ``a_in``, ``bank_in`` and ``psum_in + w[bank_in] * a_in[idx]``.

    Latency 1 cycle (of ``en``) on every output; throughput one MAC per enabled cycle.
    """

    def __init__(self, *, mant_bits: int, acc_width: int, sel: int = 1):
        self.mant_bits = operator.index(mant_bits)
        self.acc_width = operator.index(acc_width)
        self.sel = operator.index(sel)
        if self.mant_bits < 1 or self.acc_width < 2 * (self.mant_bits + 1) or self.sel < 1:
            self._MustUse__silence = True  # a refused PE is not an unused one
            raise ValueError("PE needs mant_bits >= 1, acc_width >= 2(m+1) and sel >= 1")
        mw = self.mant_bits + 1
        members = {
            "en": In(1),
            "a_in": In(unsigned(self.sel * mw)),
            "bank_in": In(1),
            "psum_in": In(signed(self.acc_width)),
            "w_in": In(signed(mw)),
            "w_we": In(1),
            "w_bank": In(1),
            "a_out": Out(unsigned(self.sel * mw)),
            "bank_out": Out(1),
            "psum_out": Out(signed(self.acc_width)),
        }
        if self.sel > 1:
            members["w_idx"] = In(unsigned(self.idx_bits))
        super().__init__(members)

    @property
    def idx_bits(self) -> int:
        """Bits of a stored N:M index (0 when dense)."""
        return (self.sel - 1).bit_length()

    @property
    def latency(self) -> int:
        return 1

    @property
    def register_bits(self) -> int:
        """Flip-flops in one PE."""
        return self.count_register_bits(self.mant_bits, self.acc_width, self.sel)

    @staticmethod
    def count_register_bits(mant_bits: int, acc_width: int, sel: int = 1) -> int:
        """Flip-flops in one PE: activation bus, bank bit, partial sum, two weight banks."""
        mw = mant_bits + 1
        return sel * mw + 1 + acc_width + 2 * (mw + (sel - 1).bit_length())

    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        mw = self.mant_bits + 1
        # Datapath registers need no reset: nothing leaves the pod without a valid token.
        w = [Signal(signed(mw), name=f"w{b}", reset_less=True) for b in range(2)]
        with m.If(self.w_we):
            with m.If(self.w_bank):
                m.d.sync += w[1].eq(self.w_in)
            with m.Else():
                m.d.sync += w[0].eq(self.w_in)
        w_sel = Mux(self.bank_in, w[1], w[0])
        if self.sel > 1:
            idx = [Signal(self.idx_bits, name=f"idx{b}", reset_less=True) for b in range(2)]
            with m.If(self.w_we):
                with m.If(self.w_bank):
                    m.d.sync += idx[1].eq(self.w_idx)
                with m.Else():
                    m.d.sync += idx[0].eq(self.w_idx)
            # Pad to 2^idx_bits lanes (indices >= M select 0) so the select is a full case.
            lanes = Array([self.a_in[i * mw:(i + 1) * mw].as_signed() for i in range(self.sel)]
                          + [Const(0, signed(mw))] * ((1 << self.idx_bits) - self.sel))
            a_sel = lanes[Mux(self.bank_in, idx[1], idx[0])]
        else:
            a_sel = self.a_in.as_signed()
        prod = Signal(signed(2 * mw))
        m.d.comb += prod.eq(w_sel * a_sel)
        a_r = Signal.like(self.a_out, reset_less=True)
        bank_r = Signal(reset_less=True)
        psum_r = Signal.like(self.psum_out, reset_less=True)
        with m.If(self.en):
            m.d.sync += [
                a_r.eq(self.a_in),
                bank_r.eq(self.bank_in),
                psum_r.eq(self.psum_in + prod),
            ]
        m.d.comb += [self.a_out.eq(a_r), self.bank_out.eq(bank_r), self.psum_out.eq(psum_r)]
        return m
