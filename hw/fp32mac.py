"""FP32 multiply-accumulate baseline (issue 3, block 4): the area reference for provisioning.

``acc <- round(round(a * b) + acc)``: a non-fused IEEE-style multiplier feeding an IEEE-style
adder, both round half to even, with denormals flushed to zero on inputs and outputs (FTZ/DAZ,
as most DNN accelerators' FP32 units do). Golden twin: ``golden.arith_fp.fp32_mac_sequence``.
"""

from __future__ import annotations

import operator

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from golden.facts import ParamError, check_index
from hw.block import Block
from hw.normalize import leading_zeros
from hw.signatures import valid_stream

__all__ = ["FP32MAC", "fp32_mul", "fp32_add", "CANONICAL_NAN", "NEG_ZERO"]

#: The only NaN produced (quiet, positive, zero payload).
CANONICAL_NAN = 0x7FC00000
#: -0.0: the addend used on ``first``; -0 + p == p for every p, including +-0.
NEG_ZERO = 0x80000000


def _pack(m: Module, res: Signal, sign, e, frac, *, nan, inf, zero) -> None:
    """Drive ``res`` from a rounded (sign, biased exponent e, 23-bit frac) and special flags.

    Priority: NaN > Inf > zero > overflow (e >= 255 -> Inf) > underflow (e <= 0 -> flush to a
    zero of the result's sign) > normal.
    """
    with m.If(nan):
        m.d.comb += res.eq(CANONICAL_NAN)
    with m.Elif(inf | (e >= 255)):
        m.d.comb += res.eq(Cat(Const(0, 23), Const(0xFF, 8), sign))
    with m.Elif(zero | (e <= 0)):
        m.d.comb += res.eq(Cat(Const(0, 31), sign))
    with m.Else():
        m.d.comb += res.eq(Cat(frac, e[0:8], sign))


def fp32_mul(m: Module, a, b, name: str = "mul") -> Signal:
    """Combinational FTZ FP32 multiplier (RNE) on 32-bit patterns; returns the packed result.

    24x24-bit significand product, one-bit normalization, round with guard + sticky,
    exponent ``ea + eb - 127 (+1 normalize) (+1 round carry)``.
    """
    sa, ea, fa = a[31], a[23:31], a[0:23]
    sb, eb, fb = b[31], b[23:31], b[0:23]
    za, zb = ea == 0, eb == 0  # zero or subnormal: flushed
    ia, ib = (ea == 0xFF) & (fa == 0), (eb == 0xFF) & (fb == 0)
    na, nb = (ea == 0xFF) & (fa != 0), (eb == 0xFF) & (fb != 0)
    sign = sa ^ sb
    nan = na | nb | (ia & zb) | (ib & za)
    inf = ia | ib
    zero = za | zb

    prod = Signal(48, name=f"{name}_prod")
    m.d.comb += prod.eq(Cat(fa, Const(1, 1)) * Cat(fb, Const(1, 1)))
    hi = prod[47]  # product in [2, 4): shift one more
    top = Mux(hi, prod[24:48], prod[23:47])
    guard = Mux(hi, prod[23], prod[22])
    sticky = Mux(hi, prod[0:23].any(), prod[0:22].any())
    r = Signal(25, name=f"{name}_r")
    m.d.comb += r.eq(top + (guard & (sticky | top[0])))
    e = Signal(signed(11), name=f"{name}_e")
    m.d.comb += e.eq(ea + eb - 127 + hi + r[24])
    res = Signal(32, name=f"{name}_res")
    _pack(m, res, sign, e, r[0:23], nan=nan, inf=inf, zero=zero)
    return res


def fp32_add(m: Module, x, y, name: str = "add") -> Signal:
    """Combinational FTZ FP32 adder (RNE) on 32-bit patterns; returns the packed result.

    Swap so the larger magnitude comes first, align the smaller significand with three extra
    bits (guard, round, sticky), add or subtract, normalize (right by one on carry-out, left by a
    leading-zero count after cancellation), round. Exact cancellation gives +0,
    (-0) + (-0) = -0.
    """
    sx, ex, fx = x[31], x[23:31], x[0:23]
    sy, ey, fy = y[31], y[23:31], y[0:23]
    zx, zy = ex == 0, ey == 0
    ix, iy = (ex == 0xFF) & (fx == 0), (ey == 0xFF) & (fy == 0)
    nx, ny = (ex == 0xFF) & (fx != 0), (ey == 0xFF) & (fy != 0)
    nan = nx | ny | (ix & iy & (sx != sy))

    # Order by magnitude: (exponent, fraction) compares as one 31-bit integer.
    swap = Signal(name=f"{name}_swap")
    m.d.comb += swap.eq(y[0:31] > x[0:31])
    s_big, e_big, f_big = Mux(swap, sy, sx), Mux(swap, ey, ex), Mux(swap, fy, fx)
    e_sml, f_sml = Mux(swap, ex, ey), Mux(swap, fx, fy)
    z_sml = Mux(swap, zx, zy)
    d = Signal(8, name=f"{name}_d")
    m.d.comb += d.eq(e_big - e_sml)
    dc = Signal(range(28), name=f"{name}_dc")
    m.d.comb += dc.eq(Mux(d > 27, 27, d))
    big = Cat(Const(0, 3), f_big, Const(1, 1))  # 27 bits: 1.f then G, R, S positions
    sml = Signal(27, name=f"{name}_sml")
    m.d.comb += sml.eq(Mux(z_sml, 0, Cat(Const(0, 3), f_sml, Const(1, 1))))
    lost_mask = Signal(27, name=f"{name}_mask")
    m.d.comb += lost_mask.eq(~(Const((1 << 27) - 1, 27) << dc))
    aligned = Signal(27, name=f"{name}_al")
    m.d.comb += aligned.eq((sml >> dc) | (sml & lost_mask).any())
    sub = sx ^ sy
    total = Signal(28, name=f"{name}_sum")
    m.d.comb += total.eq(Mux(sub, big - aligned, big + aligned))

    # Normalize: carry-out -> right by one (folding the dropped bit into sticky); else left.
    lz, _ = leading_zeros(m, total[0:27], name=f"{name}_lzc")
    norm = Signal(27, name=f"{name}_norm")
    e_n = Signal(signed(11), name=f"{name}_en")
    with m.If(total[27]):
        m.d.comb += [norm.eq(Cat(total[1] | total[0], total[2:28])), e_n.eq(e_big + 1)]
    with m.Else():
        m.d.comb += [norm.eq(total[0:27] << lz), e_n.eq(e_big - lz)]
    top = norm[3:27]
    guard, sticky = norm[2], norm[1] | norm[0]
    r = Signal(25, name=f"{name}_r")
    m.d.comb += r.eq(top + (guard & (sticky | top[0])))
    e = Signal(signed(11), name=f"{name}_e")
    m.d.comb += e.eq(e_n + r[24])

    res = Signal(32, name=f"{name}_res")
    with m.If(~nan & ~(ix | iy) & zx & zy):
        m.d.comb += res.eq(Cat(Const(0, 31), sx & sy))  # both zero
    with m.Elif(~nan & ~(ix | iy) & zx):
        m.d.comb += res.eq(y)
    with m.Elif(~nan & ~(ix | iy) & zy):
        m.d.comb += res.eq(x)
    with m.Else():
        inf_sign = Mux(ix, sx, sy)
        cancel = total == 0  # exact cancellation: +0 in round-to-nearest
        _pack(
            m, res, Mux(ix | iy, inf_sign, s_big & ~cancel), e, r[0:23],
            nan=nan, inf=ix | iy, zero=cancel,
        )
    return res


class FP32MAC(Block):
    """FP32 multiply-accumulate, one ``a*b`` per clock into a running FP32 accumulator.

    Parameters
    ----------
    pipeline : int
        1: multiplier and adder in one combinational stage in front of the accumulator register
        (latency 1). 2: a register holds the rounded product between multiplier and adder
        (latency 2); the adder/accumulator loop stays one cycle, so throughput is unchanged.

    Ports
    -----
    i : In(valid_stream(StructLayout({"a": 32, "b": 32, "first": 1})))
        One multiply-add per beat: ``a``, ``b`` FP32 bit patterns; ``first`` starts a new sum
        (the addend is -0.0 instead of the accumulator, so ``acc <- a*b``). Verilog
        ``i__valid``, ``i__payload``; ``always_ready``: no backpressure.
    o : Out(valid_stream(StructLayout({"acc": 32})))
        One beat per input beat, ``latency`` cycles after it: ``acc`` the accumulator (FP32 bit
        pattern) after that product was added; the payload holds while ``o.valid`` is low.

    Notes
    -----
    Latency ``pipeline`` cycles, throughput one multiply-add per cycle (one beat every cycle).
    Non-fused: the product is rounded to FP32 before the addition. Subnormal inputs read as zero
    of their sign; results that round below 2^-126 flush to a zero of their sign; overflow gives
    +-Inf; any NaN result is the canonical quiet NaN 0x7FC00000.
    """

    @classmethod
    def check(cls, *, pipeline: int = 1) -> None:
        p = check_index(pipeline, "fp32mac pipeline depth")
        if p not in (1, 2):
            raise ParamError(f"fp32mac pipeline depth must be 1 or 2, not {p}", field="pipeline")

    def __init__(self, *, pipeline: int = 1) -> None:
        self._pipeline = operator.index(pipeline)
        super().__init__({
            "i": In(valid_stream(data.StructLayout({
                "a": unsigned(32), "b": unsigned(32), "first": unsigned(1)}))),
            "o": Out(valid_stream(data.StructLayout({"acc": unsigned(32)}))),
        })

    @property
    def latency(self) -> int:
        """Cycles from an input beat (``i.valid``) to its output beat (``o.valid``)."""
        return self._pipeline

    def elaborate(self, platform) -> Module:
        m = Module()
        ins, acc = self.i.payload, self.o.payload.acc
        prod = fp32_mul(m, ins.a, ins.b)
        if self._pipeline == 2:
            p_reg, v_reg, f_reg = Signal(32), Signal(), Signal()
            m.d.sync += [p_reg.eq(prod), v_reg.eq(self.i.valid), f_reg.eq(ins.first)]
            prod, valid, first = p_reg, v_reg, f_reg
        else:
            valid, first = self.i.valid, ins.first
        addend = Mux(first, NEG_ZERO, acc)
        total = fp32_add(m, prod, addend)
        m.d.sync += self.o.valid.eq(valid)
        with m.If(valid):
            m.d.sync += acc.eq(total)
        return m
