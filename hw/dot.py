"""HBFP dot-product unit with a mixed-mantissa (Accuracy Boosters) narrow mode.

The MAC of the array: one pair of HBFP blocks (``lanes`` mantissas each, one shared exponent each)
per clock, an exact integer adder tree over the ``lanes`` products, and an accumulator that keeps a
running exponent across blocks. The golden twin is :func:`golden.arith_dot.dot_blocks`; the
semantics below are what both implement bit for bit (see ``docs/dot.md``).

Arithmetic
----------
* Block sum ``S = sum_i a_i * b_i`` is exact (every port value, including ``-2^m``, is exact).
* Accumulator state ``(acc, x)``: value ``acc * 2^(x - 2m)`` with the *wide* ``m``. A block
  with product exponent ``p = e_a + e_b`` is aligned to the larger of ``x`` and ``p``: the side with
  the smaller exponent is shifted right arithmetically (floor) by the difference, then the two are
  added and saturated to ``acc_width`` bits (two's complement range). ``first`` restarts:
  ``acc = S``, ``x = p``. Reset leaves ``acc = 0, x = -512`` so a stream that starts without
  ``first`` behaves exactly as if it had.
* Narrow mode (``mode = 1``): each operand's low ``n+1`` bits (``n = narrow_mant_bits``) are the
  narrow mantissa (the upper port bits are ignored; drive them as its sign extension). The unit
  feeds the multipliers ``q << (m - n)``, i.e. the narrow mantissa MSB-aligned in the wide
  datapath, so the low ``m - n`` operand bits and low ``2(m - n)`` bits of every product and tree
  node are constant zero: they do not toggle (operand isolation), and the accumulator stays in
  wide units, which makes mid-stream mode switches exact. Only the reported exponent changes:
  ``exp = x - 2(m - n)`` in narrow mode, so ``acc * 2^(exp - 2 m_mode)`` (the output payload)
  holds for the mode of the block just accumulated.
"""

from __future__ import annotations

import operator

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib.wiring import In, Out

from golden.facts import EXP_WIDTH, PROD_EXP_WIDTH, ParamError, min_acc_width
from hw.block import Block, check_input_bits
from hw.signatures import DotOperands, DotResult, valid_stream

__all__ = ["HBFPDot", "MIN_MANT_BITS", "MAX_MANT_BITS", "RESET_EXP", "register_cuts"]

#: Supported magnitude mantissa widths ``m`` (sign bit on top), issue 3.
MIN_MANT_BITS = 2
MAX_MANT_BITS = 15
#: Accumulator exponent after reset: the most negative PROD_EXP_WIDTH value, so that any block
#: exponent is >= it and the (zero) accumulator is simply shifted out.
RESET_EXP = -(1 << (PROD_EXP_WIDTH - 1))


def _int(value: object, what: str, field: str) -> int:
    if isinstance(value, bool):
        raise ParamError(f"{what} must be an integer, not {value!r}", field=field)
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ParamError(f"{what} must be an integer, not {value!r}", field=field) from None


#: Widest accumulator the dot unit builds (as gen.config.LIMITS; the normalizer takes 64).
MAX_ACC_WIDTH = 64


def _check_params(
    lanes: object, mant_bits: object, acc_width: object, pipeline: object,
    narrow_mant_bits: object,
) -> tuple[int, int, int, int, int | None]:
    """Coerce and validate HBFPDot parameters; raise :class:`ParamError` with one line."""
    lanes = _int(lanes, "lanes", "block_size")
    mant_bits = _int(mant_bits, "mantissa width", "mant_bits")
    acc_width = _int(acc_width, "accumulator width", "acc_width")
    pipeline = _int(pipeline, "pipeline depth", "pipeline")
    if lanes < 1:
        raise ParamError(f"lanes (block size) must be at least 1, not {lanes}", field="block_size")
    if not MIN_MANT_BITS <= mant_bits <= MAX_MANT_BITS:
        raise ParamError(
            f"mantissa width must be {MIN_MANT_BITS}..{MAX_MANT_BITS} bits, not {mant_bits}",
            field="mant_bits")
    if pipeline < 1:
        raise ParamError(f"pipeline depth must be at least 1, not {pipeline}", field="pipeline")
    need = min_acc_width(mant_bits, lanes)
    if acc_width < need:
        raise ParamError(
            f"accumulator width {acc_width} is too narrow: an exact {lanes}-term sum of "
            f"{mant_bits}-bit mantissa products needs 2(m+1)+ceil(log2 k) = {need} bits",
            field="acc_width")
    if acc_width > MAX_ACC_WIDTH:
        raise ParamError(f"accumulator width must be at most {MAX_ACC_WIDTH} bits, not "
                         f"{acc_width}", field="acc_width")
    if narrow_mant_bits is not None:
        narrow_mant_bits = _int(narrow_mant_bits, "narrow mantissa width", "narrow_mant_bits")
        if not MIN_MANT_BITS <= narrow_mant_bits < mant_bits:
            raise ParamError(
                f"narrow mantissa width must be {MIN_MANT_BITS}..{mant_bits - 1} "
                f"(narrower than the wide {mant_bits}), not {narrow_mant_bits}",
                field="narrow_mant_bits")
    return lanes, mant_bits, acc_width, pipeline, narrow_mant_bits


def tree_levels(lanes: int) -> int:
    """Adder-tree depth ``ceil(log2 lanes)`` (0 for a single lane)."""
    return (lanes - 1).bit_length()


def register_cuts(pipeline: int, lanes: int) -> list[int]:
    """Where the ``pipeline - 1`` registers before the accumulator sit.

    A cut at level 0 registers the products (after the multipliers), a cut at level ``t`` the
    partial sums after adder-tree level ``t``; level ``tree_levels(lanes)`` is the finished block
    sum. The accumulator register itself is always the last stage, because its alignment needs
    the accumulator's own exponent (a one-cycle feedback loop).

    * ``pipeline = 1``: no cut (multiply, tree and accumulate in one cycle).
    * ``pipeline = 2``: after the tree (multiply + tree | accumulate).
    * ``pipeline = 3``: after the multipliers and after the tree.
    * ``pipeline > 3``: after the multipliers, then evenly spread over the tree levels, ending at
      the tree output; more cuts than levels stack up as extra delay at the tree output.
    """
    k = pipeline - 1
    top = tree_levels(lanes)
    if k <= 0:
        return []
    if k == 1:
        return [top]
    return [0] + [round(top * j / (k - 1)) for j in range(1, k)]


class HBFPDot(Block):
    """HBFP block dot product with an exponent-aligning accumulator.

    Parameters
    ----------
    lanes : int
        Mantissas per block ``k`` (any value >= 1, not only powers of two).
    mant_bits : int
        Wide magnitude mantissa width ``m`` (2..15); ports are ``m + 1`` bits signed.
    acc_width : int
        Accumulator width ``W``, at least ``2(m+1) + ceil(log2 k)`` so a block sum is exact.
    pipeline : int
        Register stages from input to the output payload (>= 1); see :func:`register_cuts`.
    narrow_mant_bits : int or None
        Narrow width ``n`` (2..m-1) selected at run time by the payload's ``mode`` bit; ``None``
        omits the mode.

    Ports
    -----
    i : In(valid_stream(DotOperands(lanes, m, mode=narrow_mant_bits is not None)))
        One block pair per beat: ``a`` and ``b`` (:class:`hw.signatures.HBFPBlock`: ``mant``,
        ``lanes`` x signed ``m+1``, and ``exp``, signed ``EXP_WIDTH``), ``first`` (restart the
        accumulation with this block pair) and, with ``narrow_mant_bits``, ``mode``. Verilog
        ``i__valid``, ``i__payload``; ``always_ready``: no backpressure.
    o : Out(valid_stream(DotResult(acc_width)))
        One beat per input beat, ``latency`` cycles later: ``acc`` (signed ``W``, the running
        accumulation after that block) and ``exp`` (signed ``PROD_EXP_WIDTH``; value ``= acc *
        2^(exp - 2 m_mode)``, wraps modulo ``2^PROD_EXP_WIDTH`` only if the exponent inputs leave
        the HBFP range [-125, 128]). The payload holds while ``o.valid`` is low. The layout is
        the one :class:`hw.normalize.HBFPToFP32` takes, so ``wiring.connect(m, dot.o, norm.i)``.

    Notes
    -----
    Latency: ``pipeline`` cycles from an input beat (``i.valid``) to its ``o.valid`` beat.
    Throughput: one block pair per cycle, no bubbles needed between blocks or across mode
    switches or restarts.
    """

    @classmethod
    def check(cls, *, lanes: int, mant_bits: int, acc_width: int, pipeline: int = 1,
              narrow_mant_bits: int | None = None) -> None:
        lanes, mb, _, _, _ = _check_params(lanes, mant_bits, acc_width, pipeline,
                                           narrow_mant_bits)
        check_input_bits(2 * lanes * (mb + 1) + 2 * EXP_WIDTH + 3, "this dot unit")

    def __init__(
        self,
        *,
        lanes: int,
        mant_bits: int,
        acc_width: int,
        pipeline: int = 1,
        narrow_mant_bits: int | None = None,
    ) -> None:
        lanes, mant_bits, acc_width, pipeline, narrow_mant_bits = _check_params(
            lanes, mant_bits, acc_width, pipeline, narrow_mant_bits
        )
        self._lanes = lanes
        self._mant_bits = mant_bits
        self._acc_width = acc_width
        self._pipeline = pipeline
        self._narrow = narrow_mant_bits

        super().__init__({
            "i": In(valid_stream(DotOperands(lanes, mant_bits,
                                             mode=narrow_mant_bits is not None))),
            "o": Out(valid_stream(DotResult(acc_width))),
        })

    # ---- derived facts -----------------------------------------------------------------------
    @property
    def lanes(self) -> int:
        return self._lanes

    @property
    def mant_bits(self) -> int:
        return self._mant_bits

    @property
    def acc_width(self) -> int:
        return self._acc_width

    @property
    def pipeline(self) -> int:
        return self._pipeline

    @property
    def narrow_mant_bits(self) -> int | None:
        return self._narrow

    @property
    def latency(self) -> int:
        """Cycles from an input beat (``i.valid``) to its output beat (equals ``pipeline``)."""
        return self._pipeline

    @property
    def cuts(self) -> list[int]:
        """Pipeline register positions before the accumulator (see :func:`register_cuts`)."""
        return register_cuts(self._pipeline, self._lanes)

    # ---- hardware ------------------------------------------------------------------------------
    def elaborate(self, platform: object) -> Module:
        m = Module()
        mb, n, W = self._mant_bits, self._narrow, self._acc_width
        has_mode = n is not None

        ops = self.i.payload
        valid = self.i.valid
        first = ops.first
        mode = ops.mode if has_mode else None
        pexp = Signal(signed(PROD_EXP_WIDTH), name="pexp")
        m.d.comb += pexp.eq(ops.a.exp + ops.b.exp)

        # Operand selection. In narrow mode the narrow mantissa (low n+1 bits) is MSB-aligned:
        # the multiplier then sees constant-zero low bits instead of toggling sign copies.
        def operand(port: Signal, tag: str) -> Signal:
            if not has_mode:
                return port
            op = Signal(signed(mb + 1), name=tag)
            narrow = port[: n + 1].as_signed() << (mb - n)
            m.d.comb += op.eq(Mux(mode, narrow, port))
            return op

        level: list[Signal] = []
        for i in range(self._lanes):
            a = operand(ops.a.mant[i], f"op_a_{i}")
            b = operand(ops.b.mant[i], f"op_b_{i}")
            p = Signal(signed(2 * mb + 2), name=f"prod_{i}")
            m.d.comb += p.eq(a * b)
            level.append(p)

        cuts = self.cuts
        stage = 0  # pipeline stages inserted so far (names only)

        def cut(vals: list[Signal], valid, first, mode, pexp):
            """One register stage; data registers load only on a valid block (no idle toggles)."""
            nonlocal stage
            stage += 1
            r_valid = Signal(name=f"s{stage}_valid")
            m.d.sync += r_valid.eq(valid)
            r_vals = [Signal(v.shape(), name=f"s{stage}_v{j}") for j, v in enumerate(vals)]
            r_first = Signal(name=f"s{stage}_first")
            r_pexp = Signal(signed(PROD_EXP_WIDTH), name=f"s{stage}_pexp")
            r_mode = Signal(name=f"s{stage}_mode") if has_mode else None
            with m.If(valid):
                m.d.sync += [r.eq(v) for r, v in zip(r_vals, vals, strict=True)]
                m.d.sync += [r_first.eq(first), r_pexp.eq(pexp)]
                if has_mode:
                    m.d.sync += r_mode.eq(mode)
            return r_vals, r_valid, r_first, r_mode, r_pexp

        def apply_cuts(lvl: int, vals, valid, first, mode, pexp):
            for c in cuts:
                if c == lvl:
                    vals, valid, first, mode, pexp = cut(vals, valid, first, mode, pexp)
            return vals, valid, first, mode, pexp

        level, valid, first, mode, pexp = apply_cuts(0, level, valid, first, mode, pexp)
        # Balanced adder tree; an odd node passes to the next level unchanged. Widths grow one
        # bit per level, capped at W (a block sum always fits: k * 2^(2m) <= 2^(W-2)).
        for t in range(1, tree_levels(self._lanes) + 1):
            nxt: list[Signal] = []
            for j in range(0, len(level) - 1, 2):
                x, y = level[j], level[j + 1]
                width = min(max(x.shape().width, y.shape().width) + 1, W)
                s = Signal(signed(width), name=f"t{t}_{j // 2}")
                m.d.comb += s.eq(x + y)
                nxt.append(s)
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
            level, valid, first, mode, pexp = apply_cuts(t, level, valid, first, mode, pexp)
        bsum = level[0]

        # Accumulate stage: align the smaller-exponent side, add, saturate.
        acc = Signal(signed(W), name="acc")
        xacc = Signal(signed(PROD_EXP_WIDTH), init=RESET_EXP, name="acc_exp")
        diff = Signal(signed(PROD_EXP_WIDTH + 1), name="exp_diff")
        m.d.comb += diff.eq(pexp - xacc)
        blk_big = Signal(name="blk_exp_larger")
        m.d.comb += blk_big.eq(diff > 0)
        # Shifting a W-bit value by >= W-1 already leaves only sign bits, so clamp at W to keep
        # the barrel shifters log2(W) deep instead of 11 bits deep.
        mag = Signal(unsigned(PROD_EXP_WIDTH + 1), name="exp_dist")
        m.d.comb += mag.eq(Mux(blk_big, diff, -diff))
        sh = Signal(range(W + 1), name="align_shift")
        m.d.comb += sh.eq(Mux(mag > W, W, mag))
        acc_al = Signal(signed(W), name="acc_aligned")
        sum_al = Signal(signed(W), name="sum_aligned")
        m.d.comb += [
            acc_al.eq(acc >> Mux(blk_big, sh, 0)),
            sum_al.eq(bsum >> Mux(blk_big, 0, sh)),
        ]
        total = Signal(signed(W + 1), name="acc_sum")
        m.d.comb += total.eq(acc_al + sum_al)
        hi, lo = (1 << (W - 1)) - 1, -(1 << (W - 1))
        sat = Signal(signed(W), name="acc_sat")
        m.d.comb += sat.eq(Mux(total > hi, hi, Mux(total < lo, lo, total)))

        out_valid = Signal(name="out_valid_r")
        m.d.sync += out_valid.eq(valid)
        with m.If(valid):
            with m.If(first):
                m.d.sync += [acc.eq(bsum), xacc.eq(pexp)]
            with m.Else():
                m.d.sync += [acc.eq(sat), xacc.eq(Mux(blk_big, pexp, xacc))]
        m.d.comb += [self.o.valid.eq(out_valid), self.o.payload.acc.eq(acc)]
        if has_mode:
            mode_r = Signal(name="acc_mode")
            with m.If(valid):
                m.d.sync += mode_r.eq(mode)
            # Report the exponent in the scale of the block just accumulated (2*n fraction bits).
            m.d.comb += self.o.payload.exp.eq(xacc - Mux(mode_r, 2 * (mb - n), 0))
        else:
            m.d.comb += self.o.payload.exp.eq(xacc)
        return m
