"""FP32 -> INT8 quantizer: the INT8 baseline engine's activation converter.

Each FP32 lane is multiplied by the beat's FP32 scale (``1 / s_a``; :func:`hw.fp32mac.fp32_mul`:
RNE, denormals flushed), rounded to an integer half to even and saturated to [-127, 127], as
:func:`golden.arith_fp.quantize_int8` (its golden twin) defines it.
"""

from __future__ import annotations

import operator

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from golden.facts import ParamError, check_index
from hw.block import Block, check_input_bits
from hw.fp32mac import fp32_mul
from hw.signatures import valid_stream

__all__ = ["FP32ToINT8", "INT8_QMAX"]

#: Largest code magnitude (symmetric INT8; equals golden.arith_fp.INT8_QMAX, checked by tests).
INT8_QMAX = 127


def fp32_to_int8(m: Module, p, *, name: str):
    """Combinational: FP32 pattern ``p`` -> signed 8-bit ``sat(rne(p))``.

    ``p = M * 2^(e - 150)`` with ``M`` the 24-bit significand. Exponent fields >= 134 (|p| >=
    128, Inf, NaN) saturate by the sign bit; a zero field is 0 (the multiplier flushed
    subnormals). Otherwise the integer part is ``M >> sh`` with ``sh = 150 - e`` (17..149, read
    as at most 26: everything below 2^-1 rounds to 0), the guard bit below it and the sticky
    OR of the rest give the half-to-even increment.
    """
    e, sign = p[23:31], p[31]
    sig = Cat(p[0:23], 1)
    sh = Signal(range(27), name=f"{name}_sh")
    m.d.comb += sh.eq(Mux(e < 124, 26, 150 - e))
    t = Signal(25, name=f"{name}_t")  # the integer part and the guard bit
    m.d.comb += t.eq(Cat(0, sig) >> sh)
    sticky = Signal(name=f"{name}_sticky")
    # The bits shifted out below the guard: sig masked to its low sh - 1 bits.
    ms = Signal(range(25), name=f"{name}_ms")  # 25 - sh, 24 (mask 0) once sh >= 25
    low_mask = Signal(24, name=f"{name}_mask")
    m.d.comb += [ms.eq(Mux(sh >= 25, 24, 25 - sh)),
                 low_mask.eq(Const((1 << 24) - 1, 24) >> ms),
                 sticky.eq((sig & low_mask).any())]
    ip, guard = t[1:], t[0]
    r = Signal(9, name=f"{name}_r")
    m.d.comb += r.eq(ip + (guard & (sticky | ip[0])))
    mag = Signal(7, name=f"{name}_mag")
    m.d.comb += mag.eq(Mux((e >= 134) | (r > INT8_QMAX), INT8_QMAX, Mux(e == 0, 0, r)))
    q = Signal(signed(8), name=name)
    m.d.comb += q.eq(Mux(sign, -mag, mag))
    return q


class FP32ToINT8(Block):
    """FP32 -> INT8 quantizer for ``lanes`` lanes per clock.

    Parameters
    ----------
    lanes : int
        FP32 lanes per beat (the engine's fold depth ``Kf``).
    pipeline : int
        Register stages (latency), >= 1: the multiply and the rounding are one combinational
        stage in front of the output registers; further stages are output registers.

    Ports
    -----
    i : In(valid_stream(StructLayout({"x": ArrayLayout(32, lanes), "scale": 32})))
        FP32 lanes and the FP32 multiplier ``1 / s_a`` of this beat; ``always_ready``.
    o : Out(valid_stream(StructLayout({"q": ArrayLayout(signed(8), lanes), "invalid": 1})))
        The codes, ``latency`` cycles later; ``invalid`` when some lane was NaN or +-Inf (its
        code is 0). The payload holds while ``o.valid`` is low.

    Latency ``pipeline`` cycles, one beat per cycle.
    """

    @classmethod
    def check(cls, *, lanes: int, pipeline: int = 1) -> None:
        k = check_index(lanes, "quantizer lanes")
        p = check_index(pipeline, "quantizer pipeline depth")
        if k < 1:
            raise ParamError(f"quantizer lanes must be at least 1, not {k}", field="block_size")
        check_input_bits(32 * k + 32, "this quantizer")
        if p < 1:
            raise ParamError(f"quantizer pipeline depth must be at least 1, not {p}",
                             field="pipeline")

    def __init__(self, *, lanes: int, pipeline: int = 1) -> None:
        self._k, self._pipeline = operator.index(lanes), operator.index(pipeline)
        super().__init__(self.signature_of(lanes=self._k))

    @staticmethod
    def signature_of(*, lanes: int) -> wiring.Signature:
        """The quantizer's signature, without building one."""
        return wiring.Signature({
            "i": In(valid_stream(data.StructLayout({
                "x": data.ArrayLayout(unsigned(32), lanes), "scale": unsigned(32)}))),
            "o": Out(valid_stream(data.StructLayout({
                "q": data.ArrayLayout(signed(8), lanes), "invalid": unsigned(1)}))),
        })

    @property
    def lanes(self) -> int:
        return self._k

    @property
    def latency(self) -> int:
        """Cycles from an input beat to its output beat."""
        return self._pipeline

    def elaborate(self, platform) -> Module:  # noqa: ARG002
        m = Module()
        qs, bad = [], []
        for i in range(self._k):
            x = self.i.payload.x[i]
            p = fp32_mul(m, x, self.i.payload.scale, name=f"qmul{i}")
            nan_inf = x[23:31] == 0xFF
            bad.append(nan_inf)
            qs.append(Mux(nan_inf, 0, fp32_to_int8(m, p, name=f"q{i}")))
        comb = Cat(*(q.as_unsigned() for q in qs), Cat(*bad).any())
        # Each stage registers under its incoming valid bit, so the payload holds while
        # o.valid is low.
        data_in, v_in = comb, self.i.valid
        for st in range(self._pipeline):
            d = Signal(len(comb), name=f"q_stage{st}", reset_less=True)
            v = Signal(name=f"q_valid{st}")
            with m.If(v_in):
                m.d.sync += d.eq(data_in)
            m.d.sync += v.eq(v_in)
            data_in, v_in = d, v
        m.d.comb += [self.o.valid.eq(v_in),
                     self.o.payload.q.as_value().eq(data_in[:8 * self._k]),
                     self.o.payload.invalid.eq(data_in[8 * self._k])]
        return m
