"""FP32 -> HBFP block converter (issue 3, block 1).

A block of ``block_size`` FP32 lanes becomes one shared exponent ``e`` and ``block_size``
signed ``m``-bit mantissas, exactly as :func:`golden.formats.hbfp_encode` defines it (see
``docs/datapath_fp.md`` and ``golden.arith_fp.convert_blocks``, its golden twin).
"""

from __future__ import annotations

import operator

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from golden.facts import EXP_WIDTH, ParamError, check_index
from hw.block import Block, check_input_bits
from hw.signatures import HBFPBlock, valid_stream

__all__ = ["FP32ToHBFP", "lfsr_jump_masks", "LFSR_WIDTH", "LFSR_TAPS"]

#: Must equal golden.arith_fp.LFSR_WIDTH / LFSR_TAPS / lfsr_lane_seeds (kept as literals so the
#: hardware package does not import the golden model; tests check they agree).
LFSR_WIDTH = 32
LFSR_TAPS = (32, 22, 2, 1)
_LANE_STRIDE = 0x9E3779B9


def lfsr_jump_masks(steps: int, width: int = LFSR_WIDTH, taps: tuple[int, ...] = LFSR_TAPS):
    """GF(2) masks of an LFSR advanced ``steps`` shifts at once.

    Bit ``j`` of the new state is the XOR of the old state bits set in ``masks[j]``. One shift is
    ``s <- (s << 1) | XOR(s[t - 1] for t in taps)``. Unrolling it in Python gives each next-state
    bit as a flat XOR of old bits, so the hardware is one XOR level per bit, not a chain.
    """
    cur = [1 << j for j in range(width)]
    for _ in range(steps):
        fb = 0
        for t in taps:
            fb ^= cur[t - 1]
        cur = [fb] + cur[:-1]
    return cur


def _lane_seed(seed: int, lane: int) -> int:
    s = (seed + _LANE_STRIDE * (lane + 1)) & 0xFFFFFFFF
    return s or 1


def _max_tree(vals: list) -> object:
    """Balanced tree of unsigned maxima (depth ceil(log2 n))."""
    while len(vals) > 1:
        nxt = []
        for i in range(0, len(vals) - 1, 2):
            a, b = vals[i], vals[i + 1]
            nxt.append(Mux(a > b, a, b))
        if len(vals) % 2:
            nxt.append(vals[-1])
        vals = nxt
    return vals[0]


class FP32ToHBFP(Block):
    """FP32 -> HBFP converter for one block per clock.

    Parameters
    ----------
    block_size : int
        Lanes per block (any value >= 1, not only powers of two).
    mant_bits : int
        Magnitude mantissa bits ``m`` (2..15); mantissa ports are ``m + 1`` bits signed.
    pipeline : int
        Register stages (latency), >= 1. With 1, unpack/max/align/round are one combinational
        stage in front of the output registers. With >= 2, a register splits the block-maximum
        exponent tree from the per-lane align/round; further stages are output registers
        (retiming slack for synthesis).
    stochastic : bool
        Stochastic rounding with a per-lane 32-bit LFSR instead of round half to even.
    offset_bits : int
        Random bits per lane and block in stochastic mode (1..32).
    narrow_mant_bits : int or None
        Accuracy Boosters' run-time narrow mode: the input payload gains ``mode``; a beat with
        ``mode`` set is rounded to ``narrow_mant_bits`` magnitude bits (the same alignment,
        ``m - narrow_mant_bits`` places further right, saturating at ``2^narrow - 1``), so its
        mantissas are exactly those of a ``narrow_mant_bits`` converter. The LFSRs advance the
        same way in both modes.
    seed : int
        LFSR reset seed; lane ``i`` resets to ``(seed + 0x9E3779B9 (i+1)) mod 2^32`` (0 -> 1).

    Ports
    -----
    i : In(valid_stream(StructLayout({"x": ArrayLayout(32, block_size)})))
        One block of FP32 bit patterns per beat (``i.payload.x[i]`` is lane ``i``); Verilog
        ``i__valid``, ``i__payload``. ``always_ready``: no backpressure, no ``ready`` port.
    o : Out(valid_stream(StructLayout({"block": HBFPBlock(block_size, m), "invalid": 1})))
        One beat per input beat, ``latency`` cycles later (``o.valid`` is ``i.valid`` delayed):
        ``block.mant[i]`` the signed mantissas in [-(2^m - 1), 2^m - 1] (0 for an invalid
        block), ``block.exp`` the shared exponent ``e`` itself (not biased; 129 for an invalid
        block), ``invalid`` set when some lane was NaN or +-Inf (exponent field 255). Verilog
        ``o__valid``, ``o__payload``; the payload holds while ``o.valid`` is low.

    Notes
    -----
    Latency ``pipeline`` cycles, throughput one block per cycle (one beat every cycle). In
    stochastic mode every lane's LFSR advances ``offset_bits`` shifts for each block reaching the
    rounding stage, and the low ``offset_bits`` bits of the state before the advance are the
    block's offset.
    """

    @classmethod
    def check(cls, *, block_size: int, mant_bits: int, pipeline: int = 1,
              stochastic: bool = False, offset_bits: int = 8, seed: int = 0x5EED,
              narrow_mant_bits: int | None = None) -> None:
        k = check_index(block_size, "block size")
        m = check_index(mant_bits, "mantissa width")
        if narrow_mant_bits is not None and not (
                1 <= check_index(narrow_mant_bits, "narrow mantissa width") < m):
            raise ParamError(f"narrow mantissa width must be in [1, {m}), not "
                             f"{narrow_mant_bits}", field="narrow_mant_bits")
        p = check_index(pipeline, "converter pipeline depth")
        ob = check_index(offset_bits, "stochastic offset bits")
        if not 0 <= check_index(seed, "stochastic rounding seed") <= 0xFFFFFFFF:
            raise ParamError(f"stochastic rounding seed must be in 0..2**32-1, not {seed}",
                             field="seed")
        if k < 1:
            raise ParamError(f"block size must be at least 1, not {k}", field="block_size")
        check_input_bits(32 * k + 1, "this converter")
        if not 2 <= m <= 15:
            raise ParamError(f"mantissa width must be 2..15 bits, not {m}", field="mant_bits")
        if p < 1:
            raise ParamError(f"converter pipeline depth must be at least 1, not {p}",
                             field="pipeline")
        if stochastic and not 1 <= ob <= LFSR_WIDTH:
            raise ParamError(f"stochastic offset bits must be 1..{LFSR_WIDTH}, not {ob}",
                             field="offset_bits")

    def __init__(
        self,
        *,
        block_size: int,
        mant_bits: int,
        pipeline: int = 1,
        stochastic: bool = False,
        offset_bits: int = 8,
        seed: int = 0x5EED,
        narrow_mant_bits: int | None = None,
    ) -> None:
        self._k = operator.index(block_size)
        self._m = operator.index(mant_bits)
        self._pipeline = operator.index(pipeline)
        self._stochastic = bool(stochastic)
        self._offset_bits = operator.index(offset_bits)
        self._seed = operator.index(seed)
        self._narrow = None if narrow_mant_bits is None else operator.index(narrow_mant_bits)
        super().__init__(self.signature_of(block_size=self._k, mant_bits=self._m,
                                           narrow_mant_bits=self._narrow))

    @staticmethod
    def signature_of(*, block_size: int, mant_bits: int,
                     narrow_mant_bits: int | None = None) -> wiring.Signature:
        """The converter's signature, without building one (a parent placing a black box)."""
        i = {"x": data.ArrayLayout(unsigned(32), block_size)}
        if narrow_mant_bits is not None:
            i["mode"] = unsigned(1)
        return wiring.Signature({
            "i": In(valid_stream(data.StructLayout(i))),
            "o": Out(valid_stream(data.StructLayout({
                "block": HBFPBlock(block_size, mant_bits), "invalid": unsigned(1)}))),
        })

    # ---- read-only facts ----------------------------------------------------------------
    @property
    def block_size(self) -> int:
        return self._k

    @property
    def mant_bits(self) -> int:
        return self._m

    @property
    def latency(self) -> int:
        """Cycles from an input beat (``i.valid``) to its output beat (``o.valid``)."""
        return self._pipeline

    @property
    def stochastic(self) -> bool:
        return self._stochastic

    @property
    def offset_bits(self) -> int:
        return self._offset_bits

    @property
    def seed(self) -> int:
        return self._seed

    def lane_seeds(self) -> list[int]:
        """Reset state of each lane's LFSR."""
        return [_lane_seed(self._seed, i) for i in range(self._k)]

    # ---- hardware -----------------------------------------------------------------------
    def elaborate(self, platform) -> Module:
        m = Module()
        k, mb, B = self._k, self._m, self._offset_bits

        # Stage A: unpack, exponent field 0 read as 1, block maximum, NaN/Inf detection.
        xs = [self.i.payload.x[i] for i in range(k)]
        fields = [x[23:31] for x in xs]
        eff = [Mux(f == 0, 1, f) for f in fields]
        fmax = Signal(8)
        m.d.comb += fmax.eq(_max_tree(list(eff)))
        invalid_a = Signal()
        m.d.comb += invalid_a.eq(Cat(*[f == 0xFF for f in fields]).any())
        # d = how far below the block maximum each lane sits (>= 0); 24-bit significand with
        # subnormals read as 0.f, and the sign: all the per-lane datapath needs.
        dist_a = [Signal(8, name=f"dist_a{i}") for i in range(k)]
        sig_a = [Cat(x[0:23], x[23:31] != 0, x[31]) for x in xs]  # {sign, 1.f | 0.f}
        for i in range(k):
            m.d.comb += dist_a[i].eq(fmax - eff[i])

        # Optional register between the exponent tree and the per-lane datapath.
        if self._pipeline >= 2:
            x_b = [Signal(25, name=f"x_b{i}") for i in range(k)]
            dist_b = [Signal(8, name=f"dist_b{i}") for i in range(k)]
            fmax_b, inv_b, val_b = Signal(8), Signal(), Signal()
            m.d.sync += [fmax_b.eq(fmax), inv_b.eq(invalid_a), val_b.eq(self.i.valid)]
            if self._narrow is not None:
                mode_b = Signal(name="mode_b")
                m.d.sync += mode_b.eq(self.i.payload.mode)
            for i in range(k):
                m.d.sync += [x_b[i].eq(sig_a[i]), dist_b[i].eq(dist_a[i])]
            stages_left = self._pipeline - 1
        else:
            x_b, dist_b, fmax_b, inv_b, val_b = (
                sig_a, dist_a, fmax, invalid_a, self.i.valid,
            )
            if self._narrow is not None:
                mode_b = self.i.payload.mode
            stages_left = self._pipeline

        # Narrow mode: the same alignment m - n places further right, saturating at 2^n - 1.
        if self._narrow is not None:
            dist_b = [Mux(mode_b, d + (mb - self._narrow), d) for d in dist_b]

        # Stage B: per-lane alignment and rounding.
        qmax = (1 << mb) - 1
        qm = qmax if self._narrow is None else Mux(mode_b, (1 << self._narrow) - 1, qmax)
        exp_b = Signal(signed(EXP_WIDTH))
        # e = max(field, 1) - 126; a field of 255 (NaN/Inf) lands on 129, the invalid marker.
        m.d.comb += exp_b.eq(fmax_b - 126)
        mant_b = [Signal(signed(mb + 1), name=f"mant_b{i}") for i in range(k)]

        if self._stochastic:
            lfsr = [
                Signal(LFSR_WIDTH, init=s, name=f"lfsr{i}") for i, s in enumerate(self.lane_seeds())
            ]
            masks = lfsr_jump_masks(B)
            for st in lfsr:
                nxt = Cat(*[(st & Const(mk, LFSR_WIDTH)).xor() for mk in masks])
                with m.If(val_b):
                    m.d.sync += st.eq(nxt)

        for i in range(k):
            sig, sign, d = x_b[i][0:24], x_b[i][24], dist_b[i]
            if not self._stochastic:
                # A = sig * 2^(m+1) >> min(d, m+1) is exact (only appended zeros fall off), and
                # |x| / 2^(e-m) = A / 2^25: integer part, guard bit, sticky OR below it.
                dmax = mb + 1
                dc = Signal(range(dmax + 1), name=f"dc{i}")
                m.d.comb += dc.eq(Mux(d > dmax, dmax, d))
                a = Signal(24 + dmax, name=f"al{i}")
                m.d.comb += a.eq(Cat(Const(0, dmax), sig) >> dc)
                qmag = a[25:25 + mb]
                guard = a[24]
                sticky = a[0:24].any()
                inc = guard & (sticky | qmag[0])
                r = Signal(mb + 1, name=f"r{i}")
                m.d.comb += r.eq(qmag + inc)
                rs = Mux(r > qm, qm, r)  # round-up of 2^m - 1/2 and above saturates
                m.d.comb += mant_b[i].eq(Mux(sign, -rs, rs))
            else:
                # Same alignment with B more fraction bits: u = floor(|v| 2^B), the exact floor
                # of the signed value is u (x >= 0) or -(u + sticky) (x < 0); then
                # q = (t + k) >> B arithmetically, i.e. floor((floor(v 2^B) + k) / 2^B).
                dmax = mb + 1 + B
                dc = Signal(range(dmax + 1), name=f"dc{i}")
                m.d.comb += dc.eq(Mux(d > dmax, dmax, d))
                a = Signal(24 + dmax, name=f"al{i}")
                m.d.comb += a.eq(Cat(Const(0, dmax), sig) >> dc)
                u = a[25:25 + mb + B]
                sticky = a[0:25].any()
                t = Signal(signed(mb + B + 2), name=f"t{i}")
                m.d.comb += t.eq(Mux(sign, -(u + sticky), u))
                z = Signal(signed(mb + B + 2), name=f"z{i}")
                m.d.comb += z.eq(t + lfsr[i][0:B])
                q = z[B:].as_signed()
                m.d.comb += mant_b[i].eq(Mux(q > qm, qm, Mux(q < -qm, -qm, q)))

        # Output registers (stage count = stages_left >= 1); an invalid block's mantissas are 0.
        cur_v, cur_e, cur_inv = val_b, exp_b, inv_b
        cur_m = [Mux(inv_b, 0, mant_b[i]) for i in range(k)]
        for s in range(stages_left):
            last = s == stages_left - 1
            out = self.o.payload
            nv = self.o.valid if last else Signal(name=f"v_o{s}")
            ne = out.block.exp if last else Signal(signed(EXP_WIDTH), name=f"e_o{s}")
            ni = out.invalid if last else Signal(name=f"inv_o{s}")
            nm = (
                [out.block.mant[i] for i in range(k)]
                if last
                else [Signal(signed(mb + 1), name=f"m_o{s}_{i}") for i in range(k)]
            )
            m.d.sync += [nv.eq(cur_v), ne.eq(cur_e), ni.eq(cur_inv)]
            for i in range(k):
                m.d.sync += nm[i].eq(cur_m[i])
            cur_v, cur_e, cur_inv, cur_m = nv, ne, ni, nm
        return m
