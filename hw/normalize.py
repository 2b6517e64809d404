"""HBFP -> FP32 normalizer (issue 3, block 3).

Turns a signed fixed-point result ``acc * 2^(exp - frac_bits)`` (e.g. a dot-product unit's
accumulator with ``frac_bits = 2m`` and ``exp = e_a + e_b``) into an FP32 bit pattern: leading-zero
count, normalizing shift, round half to even. Golden twin: ``golden.arith_fp.normalize``.
"""

from __future__ import annotations

import operator

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from golden.facts import PROD_EXP_WIDTH, ParamError, check_index
from hw.block import Block
from hw.signatures import DotResult, valid_stream

__all__ = ["HBFPToFP32", "leading_zeros"]


def leading_zeros(m: Module, v, name: str = "lzc") -> tuple[Signal, Signal]:
    """Tree leading-zero counter: returns ``(count, all_zero)`` signals for value ``v``.

    ``v`` is padded with zeros at the LSB end to a power of two (which leaves the count of a
    non-zero value unchanged); each tree level merges two halves with one 2:1 mux per count bit,
    so depth is ``log2(width)`` muxes instead of a ``width``-long priority chain. ``count`` is
    meaningless when ``all_zero`` is set.
    """
    n = len(v)
    width = 1
    while width < max(n, 2):
        width *= 2
    bits = Cat(Const(0, width - n), v) if width > n else v

    def rec(lo: int, size: int):
        if size == 2:
            hi_bit, lo_bit = bits[lo + 1], bits[lo]
            return ~(hi_bit | lo_bit), ~hi_bit
        half = size // 2
        zl, cl = rec(lo, half)  # lower half (less significant)
        zh, ch = rec(lo + half, half)
        return zh & zl, Cat(Mux(zh, cl, ch), zh)

    z, c = rec(0, width)
    count = Signal(range(width), name=f"{name}_count")
    zero = Signal(name=f"{name}_zero")
    m.d.comb += [count.eq(c), zero.eq(z)]
    return count, zero


class HBFPToFP32(Block):
    """Signed fixed-point (accumulator, exponent) -> FP32, one value per clock.

    Parameters
    ----------
    acc_width : int
        Width of the signed accumulator input (2..64).
    frac_bits : int
        Binary point position: value = ``acc * 2^(exp - frac_bits)`` (0..1024).
    exp_width : int
        Width of the signed exponent input (2..16), default ``PROD_EXP_WIDTH``.
    pipeline : int
        Register stages (latency) >= 1. With >= 2, a register splits the absolute value and
        leading-zero count from the shift/round/pack; further stages are output registers.

    Ports
    -----
    i : In(valid_stream(DotResult(acc_width, exp_width)))
        One value per beat: ``acc`` (signed ``acc_width``) and ``exp`` (signed ``exp_width``),
        value ``acc * 2^(exp - frac_bits)``; the layout the dot unit's ``o`` produces, so the
        two connect with ``wiring.connect``. Verilog ``i__valid``, ``i__payload``;
        ``always_ready``: no backpressure.
    o : Out(valid_stream(StructLayout({"f32": 32})))
        One beat per input beat, ``latency`` cycles later: ``f32`` the FP32 bit pattern.
        ``acc == 0`` gives +0. Rounding is half to even at 24 significant bits; a biased
        exponent >= 255 after rounding gives +-Inf, <= 0 flushes to a zero of the value's sign
        (no subnormal outputs). Verilog ``o__valid``, ``o__payload`` (held while ``o.valid``
        is low).

    Notes
    -----
    Latency ``pipeline`` cycles, throughput one value per cycle (one beat every cycle).
    """

    @classmethod
    def check(cls, *, acc_width: int, frac_bits: int, exp_width: int = PROD_EXP_WIDTH,
              pipeline: int = 1) -> None:
        a = check_index(acc_width, "normalizer accumulator width")
        f = check_index(frac_bits, "normalizer frac_bits")
        ew = check_index(exp_width, "normalizer exponent width")
        p = check_index(pipeline, "normalizer pipeline depth")
        if not 2 <= a <= 64:
            raise ParamError(f"normalizer accumulator width must be 2..64 bits, not {a}",
                             field="acc_width")
        if not 0 <= f <= 1024:
            raise ParamError(f"normalizer frac_bits must be 0..1024, not {f}", field="frac_bits")
        if not 2 <= ew <= 16:
            raise ParamError(f"normalizer exponent width must be 2..16 bits, not {ew}",
                             field="exp_width")
        if p < 1:
            raise ParamError(f"normalizer pipeline depth must be at least 1, not {p}",
                             field="pipeline")

    def __init__(
        self,
        *,
        acc_width: int,
        frac_bits: int,
        exp_width: int = PROD_EXP_WIDTH,
        pipeline: int = 1,
    ) -> None:
        self._a = operator.index(acc_width)
        self._f = operator.index(frac_bits)
        self._ew = operator.index(exp_width)
        self._pipeline = operator.index(pipeline)
        super().__init__(self.signature_of(acc_width=self._a, exp_width=self._ew))

    @staticmethod
    def signature_of(*, acc_width: int, exp_width: int = PROD_EXP_WIDTH) -> wiring.Signature:
        """The normalizer's signature, without building one (a parent placing a black box)."""
        return wiring.Signature({
            "i": In(valid_stream(DotResult(acc_width, exp_width))),
            "o": Out(valid_stream(data.StructLayout({"f32": unsigned(32)}))),
        })

    @property
    def acc_width(self) -> int:
        return self._a

    @property
    def frac_bits(self) -> int:
        return self._f

    @property
    def exp_width(self) -> int:
        return self._ew

    @property
    def latency(self) -> int:
        """Cycles from an input beat (``i.valid``) to its output beat (``o.valid``)."""
        return self._pipeline

    def elaborate(self, platform) -> Module:
        m = Module()
        A, F = self._a, self._f
        in_acc, in_exp = self.i.payload.acc, self.i.payload.exp

        # Stage A: sign / magnitude (|-2^(A-1)| = 2^(A-1) still fits A unsigned bits), LZC.
        sign_a = Signal()
        mag_a = Signal(A)
        m.d.comb += [
            sign_a.eq(in_acc[A - 1]),
            mag_a.eq(Mux(sign_a, -in_acc, in_acc)),
        ]
        lz_a, zero_a = leading_zeros(m, mag_a)

        if self._pipeline >= 2:
            sign_b, mag_b, zero_b, val_b = Signal(), Signal(A), Signal(), Signal()
            lz_b = Signal.like(lz_a)
            exp_b = Signal(signed(self._ew))
            m.d.sync += [
                sign_b.eq(sign_a), mag_b.eq(mag_a), zero_b.eq(zero_a), val_b.eq(self.i.valid),
                lz_b.eq(lz_a), exp_b.eq(in_exp),
            ]
            stages_left = self._pipeline - 1
        else:
            sign_b, mag_b, zero_b, val_b, lz_b, exp_b = (
                sign_a, mag_a, zero_a, self.i.valid, lz_a, in_exp,
            )
            stages_left = self._pipeline

        # Stage B: normalize (leading one to the top), take 24 bits + guard + sticky, round.
        norm = Signal(A)
        m.d.comb += norm.eq(mag_b << lz_b)
        P = max(A, 25)
        ext = Cat(Const(0, P - A), norm) if P > A else norm
        top = ext[P - 24:P]
        guard = ext[P - 25]
        sticky = ext[0:P - 25].any() if P > 25 else Const(0, 1)
        inc = guard & (sticky | top[0])
        r = Signal(25)
        m.d.comb += r.eq(top + inc)
        carry = r[24]  # 1.111..1 rounded up to 10.000..0: fraction bits are already 0
        ew = max(self._ew, (F + 64 + 256).bit_length()) + 2
        biased = Signal(signed(ew))
        # value = 1.f * 2^(A-1-lz + exp - F); biased FP32 exponent adds 127.
        m.d.comb += biased.eq(exp_b + (A - 1 + 127 - F) - lz_b + carry)
        res = Signal(32)
        with m.If(zero_b):
            m.d.comb += res.eq(0)
        with m.Elif(biased >= 255):
            m.d.comb += res.eq(Cat(Const(0, 23), Const(0xFF, 8), sign_b))
        with m.Elif(biased <= 0):
            m.d.comb += res.eq(Cat(Const(0, 31), sign_b))
        with m.Else():
            m.d.comb += res.eq(Cat(r[0:23], biased[0:8], sign_b))

        cur_v, cur_r = val_b, res
        for s in range(stages_left):
            last = s == stages_left - 1
            nv = self.o.valid if last else Signal(name=f"v_o{s}")
            nr = self.o.payload.f32 if last else Signal(32, name=f"f_o{s}")
            m.d.sync += [nv.eq(cur_v), nr.eq(cur_r)]
            cur_v, cur_r = nv, nr
        return m
