"""Weight-stationary HBFP systolic pod (issue 5). See docs/pod.md for the full protocol.

An R x C :class:`hw.array.Array` of :class:`hw.pe.PE` (a plain grid) plus what makes it a
pod: weight banking, input skew, output de-skew, the token pipeline and three streams. Weights
are stationary (double-buffered per PE), activation rows stream in from the left through an
input skew, partial sums flow down the columns in exact integer arithmetic, and an output
de-skew realigns the C column sums into one result beat.

Streams (``amaranth.lib.stream``, flat packed payloads, LSB first; layout in
:class:`golden.systolic.PodLayout`):

* ``w``   -- one beat per weight row of a fold: C mantissas (+ C N:M indices) + C exponents.
  Beat j of a fold writes physical row j (row 0 first); the exponents are taken from beat R-1.
* ``act`` -- one beat per activation row: ``Kf`` mantissas, the shared exponent, ``last`` on the
  fold's final row. Beats of fold f use fold f's weights (folds are paired in order).
* ``res`` -- one beat per activation row, ``R + C - 1`` advancing cycles later: C exact integer
  sums, C exponents ``e_a + e_w[c]``, and ``last`` copied from the activation beat.

Backpressure (``stall``): with ``"enable"`` (the default) the whole datapath advances only when
the result register is empty or being taken (a global clock-enable stall), so results are never
dropped. With ``"queue"`` the datapath registers have no enable and advance on every edge;
results that the sink does not take wait in an output queue of ``R + C - 1`` entries, and
``act`` is accepted only while a result slot is free (a credit counter): the same cycles when
the sink is always ready, no enable multiplexer per flip-flop, one queue more. Weight loading
is independent of the stall; a bank is refilled only when every token that uses it has left
(``cnt >= j + C``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.facts import EXP_WIDTH, PROD_EXP_WIDTH, ParamError, check_nm, index_bits
from hw.arith import Arithmetic, FloatMAC, IntMAC, MantissaMAC
from hw.array import Array
from hw.block import Block
from hw.delay import Skew, shift_line
from hw.hier import place
from hw.pe import PE

__all__ = ["Pod", "ARITHS", "STALLS"]

#: The pod's PE arithmetics: HBFP mantissas with block exponents, or the FP32 and INT8
#: baselines.
ARITHS = ("hbfp", "fp32", "int8")
#: How the pod meets backpressure: a global clock enable, or an output queue with credits.
STALLS = ("enable", "queue")


class Pod(Block):
    """R x C weight-stationary HBFP pod with double-buffered weights and valid/ready streams.

    Parameters
    ----------
    rows, cols:
        Physical array shape R x C.
    mant_bits:
        HBFP magnitude mantissa bits ``m`` (7/5/3 for HBFP8/6/4).
    acc_width:
        Column partial-sum width; must hold ``R * (2^m - 1)^2``.
    sparsity:
        ``(N, M)``: each group of N physical rows serves M logical reduction elements through an
        M:1 select per PE (``(1, 1)`` = dense). R must be a multiple of N.
    narrow_mant_bits:
        If set, a run-time ``narrow`` input port (Accuracy Boosters). It is sampled with each
        accepted ``act`` beat: that activation row's mantissas, and the stored weights they
        multiply, are read from their low ``narrow_mant_bits + 1`` bits (sign-extended). The
        mode travels with the row through the array, so it may change at any beat, and
        weights may be (pre)loaded in either mode: they are stored as sent and narrowed when
        used.
    tag_bits:
        Width of an optional ``tag`` field that rides with each activation row through the
        token pipeline and comes out with its result row (0: no field). The engine uses it for
        per-row flags the pod does not interpret.
    arith:
        ``"hbfp"`` (the default: HBFP mantissas with block exponents) or ``"fp32"``: the FP32
        baseline array, FP32 multiply-add PEs (:class:`hw.arith.FloatMAC`), 32-bit operands and
        column sums, no exponent fields, dense only; ``mant_bits``/``acc_width`` are ignored.
        ``"int8"``: the INT8 baseline array (:class:`hw.arith.IntMAC`, 8-bit codes, INT32
        column sums, dense only): no exponents; instead the weight stream carries one FP32
        output scale per column (``w.payload.scale``, from beat R-1, double-buffered like the
        exponents) and each result beat hands out its fold's (``res.payload.scale``).
    stall:
        ``"enable"``: one global clock enable (``advance``) on every datapath register;
        ``"queue"``: no enable; an output queue of ``R + C - 1`` result beats and a credit
        counter on ``act`` (see the module docstring). Bit-exact alike; the cycle count is the
        same whenever the sink is ready.
    prefix:
        Module-name prefix of the children (``<prefix>_pe``, ``<prefix>_row8``,
        ``<prefix>_array16``, ``<prefix>_skew8x7``, ...). Without it every child is an Amaranth
        submodule (for the Python simulator); with it each distinct child is a module emitted
        once (:func:`gen.hier.emit_hierarchy`) and built by doubling (:mod:`hw.array`,
        :mod:`hw.delay`), which keeps the Verilog small and the generation time near-linear in
        R + C rather than quadratic.

    Latency ``R + C - 1`` advancing cycles from an accepted activation beat to its result beat.
    Throughput one activation row (``R*C`` MACs, ``R*C*M/N`` dense-equivalent) per cycle once a
    fold's weights are loaded; loading the next fold is hidden when a fold streams at least
    ``R + C`` rows (exact count: :func:`golden.systolic.cycles`).
    """

    @classmethod
    def check(cls, *, rows: int, cols: int, mant_bits: int | None = None,
              acc_width: int | None = None, sparsity: tuple[int, int] = (1, 1),
              narrow_mant_bits: int | None = None, tag_bits: int = 0, arith: str = "hbfp",
              stall: str = "enable", prefix: str | None = None) -> None:  # noqa: ARG003
        R, C = operator.index(rows), operator.index(cols)
        if stall not in STALLS:
            raise ParamError(f"pod stall must be one of {', '.join(STALLS)}, not {stall!r}",
                             field="stall")
        if R < 1 or C < 1:
            raise ParamError(f"pod rows and cols must be positive, not {R}x{C}")
        n, m = (operator.index(x) for x in sparsity)
        if (n, m) != (1, 1):
            check_nm(n, m)
        if R % n:
            raise ParamError(f"pod rows {R} must be a multiple of N={n}")
        if not 0 <= operator.index(tag_bits) <= 64:
            raise ParamError(f"pod tag_bits must be 0..64, not {tag_bits}", field="tag_bits")
        if arith not in ARITHS:
            raise ParamError(f"pod arithmetic must be one of {', '.join(ARITHS)}, not "
                             f"{arith!r}", field="format")
        if arith in ("fp32", "int8"):
            if (n, m) != (1, 1) or narrow_mant_bits is not None:
                raise ParamError(f"the {arith.upper()} array is dense and has no narrow mode",
                                 field="format")
            return
        if mant_bits is None or acc_width is None:
            raise ParamError("an HBFP pod needs mant_bits and acc_width", field="format")
        mb, aw = operator.index(mant_bits), operator.index(acc_width)
        MantissaMAC(mb, aw)  # the PE arithmetic checks its own widths
        if (1 << (aw - 1)) - 1 < R * ((1 << mb) - 1) ** 2:
            raise ParamError(f"acc_width {aw} cannot hold a {R}-row sum")
        if narrow_mant_bits is not None and not 1 <= operator.index(narrow_mant_bits) < mb:
            raise ParamError(f"narrow_mant_bits must be in [1, {mb}), not {narrow_mant_bits}")

    def __init__(self, *, rows: int, cols: int, mant_bits: int | None = None,
                 acc_width: int | None = None, sparsity: tuple[int, int] = (1, 1),
                 narrow_mant_bits: int | None = None, tag_bits: int = 0, arith: str = "hbfp",
                 stall: str = "enable", prefix: str | None = None):
        self.stall = stall
        self.rows = operator.index(rows)
        self.cols = operator.index(cols)
        self.n, self.m = (operator.index(x) for x in sparsity)
        self.narrow_mant_bits = (None if narrow_mant_bits is None
                                 else operator.index(narrow_mant_bits))
        self.arith = self.arithmetic(arith, mant_bits, acc_width, self.narrow_mant_bits)
        self.mant_bits = None if arith != "hbfp" else operator.index(mant_bits)
        self.acc_width = self.arith.acc_shape.width
        self.tag_bits = operator.index(tag_bits)
        self.prefix = prefix
        super().__init__(self.signature_of(
            rows=self.rows, cols=self.cols, mant_bits=self.mant_bits, acc_width=self.acc_width,
            sparsity=(self.n, self.m), narrow_mant_bits=self.narrow_mant_bits,
            tag_bits=self.tag_bits, arith=arith))

    @staticmethod
    def arithmetic(arith: str, mant_bits: int | None, acc_width: int | None,
                   narrow_mant_bits: int | None = None) -> Arithmetic:
        """The PE arithmetic of a pod of kind ``arith``."""
        if arith == "fp32":
            return FloatMAC()
        if arith == "int8":
            return IntMAC()
        return MantissaMAC(operator.index(mant_bits), operator.index(acc_width),
                           narrow_mant_bits)

    @staticmethod
    def signature_of(*, rows: int, cols: int, mant_bits: int | None = None,
                     acc_width: int | None = None, sparsity: tuple[int, int] = (1, 1),
                     narrow_mant_bits: int | None = None, tag_bits: int = 0,
                     arith: str = "hbfp") -> wiring.Signature:
        """The pod's signature, without building a pod (a parent placing it as a black box)."""
        n, m = sparsity
        ar = Pod.arithmetic(arith, mant_bits, acc_width, narrow_mant_bits)
        mw, aw, C = ar.operand_shape.width, ar.acc_shape.width, cols
        kf = rows // n * m
        w_fields = {"data": unsigned(C * mw)}
        if m > 1:
            w_fields["idx"] = unsigned(C * index_bits(m))
        act_fields = {"data": unsigned(kf * mw)}
        res_fields = {"data": unsigned(C * aw)}
        if ar.block_exponent:
            w_fields["exp"] = unsigned(C * EXP_WIDTH)
            act_fields["exp"] = signed(EXP_WIDTH)
            res_fields["exp"] = unsigned(C * PROD_EXP_WIDTH)
        elif ar.column_bits:  # INT8: the columns' FP32 output scales, handed out as stored
            w_fields["scale"] = unsigned(C * ar.column_bits)
            res_fields["scale"] = unsigned(C * ar.column_bits)
        act_fields["last"] = res_fields["last"] = unsigned(1)
        if tag_bits:
            act_fields["tag"] = res_fields["tag"] = unsigned(tag_bits)
        members = {
            "act": In(stream.Signature(data.StructLayout(act_fields))),
            "w": In(stream.Signature(data.StructLayout(w_fields))),
            "res": Out(stream.Signature(data.StructLayout(res_fields))),
        }
        if narrow_mant_bits is not None:
            members["narrow"] = In(1)
        return wiring.Signature(members)

    # ---- derived facts ---------------------------------------------------------------------
    @property
    def sparse(self) -> bool:
        return self.m > 1

    @property
    def kf(self) -> int:
        """Logical reduction elements per fold (``R * M / N``)."""
        return self.rows // self.n * self.m

    @property
    def idx_bits(self) -> int:
        return index_bits(self.m) if self.sparse else 0

    @property
    def latency(self) -> int:
        """Advancing cycles from an accepted activation beat to its result beat being valid."""
        return self.rows + self.cols - 1

    @property
    def ow(self) -> int:
        """Bits of one operand (``m + 1`` for HBFP, 32 for FP32)."""
        return self.arith.operand_shape.width

    @property
    def exp_bits(self) -> int:
        """Bits of the activation exponent carried per row (0 without block exponents)."""
        return EXP_WIDTH if self.arith.block_exponent else 0

    @property
    def sel(self) -> int:
        """Operands on each PE's activation bus (M when sparse, else 1)."""
        return self.m if self.sparse else 1

    def make_array(self) -> Array:
        """A fresh PE array of this pod (emitted once; see :func:`gen.hier.emit_hierarchy`)."""
        return Array(rows=self.rows, cols=self.cols, arith=self.arith, sel=self.sel,
                     gated=self.gated, prefix=self.prefix)

    @property
    def _skews(self) -> dict[str, tuple[int, int, Callable[[], Skew]]]:
        """name -> (lanes, lane width, factory) of the input skew and the output de-skew."""
        tags = 2 if self.narrow_mant_bits is not None else 1  # bank bit (+ narrow-mode bit)
        return {"skew": (self.rows, self.sel * self.ow + tags, self.make_skew),
                "deskew": (self.cols, self.acc_width, self.make_deskew)}

    def make_skew(self) -> Skew:
        """The input skew: row r's activation bus (and bank bit) delayed r cycles."""
        lanes, width, _ = self._skews["skew"]
        return Skew(lanes=lanes, width=width, gated=self.gated, prefix=self.prefix)

    def make_deskew(self) -> Skew:
        """The output de-skew (lanes in reverse column order): column c delayed C-1-c."""
        lanes, width, _ = self._skews["deskew"]
        return Skew(lanes=lanes, width=width, gated=self.gated, prefix=self.prefix)

    def children(self) -> dict[str, Callable[[], Block]]:
        """Key -> factory of each distinct child (for :func:`gen.hier.emit_hierarchy`)."""
        out: dict[str, Callable[[], Block]] = {f"array{self.rows}": self.make_array}
        for lanes, width, make in self._skews.values():
            if lanes > 1:  # a 1-lane skew is a wire, placed inline
                out[Skew.key_of(lanes, width)] = make
        return out

    @property
    def register_bits(self) -> dict[str, int]:
        """Flip-flop count by part (all registers; the pod has no SRAM)."""
        R, C, mw = self.rows, self.cols, self.ow
        sel = self.m if self.sparse else 1
        sat_bits = (R + C - 1).bit_length()
        parts = {
            "pe_array": R * C * PE.count_register_bits(self.arith, sel),
            "input_skew": R * (R - 1) // 2 * (sel * mw + 1 + int(self.arith.has_mode)),
            "output_deskew": C * (C - 1) // 2 * self.acc_width,
            "token_pipeline": self.latency * (3 + self.exp_bits + self.tag_bits),
            "weight_exponents": 2 * C * self.arith.column_bits,  # ew0/ew1 (INT8: scales)
            "control": 2 + 2 * sat_bits + 2 + (max(R, 2) - 1).bit_length(),
        }
        if not self.gated:  # the output queue (flip-flops: no SRAM here) and its counters
            D = self.queue_depth
            parts["output_queue"] = D * self.res.payload.shape().size
            # credit counter and queue level (0..D), read and write pointers (0..D-1)
            parts["control"] += 2 * D.bit_length() + 2 * (D - 1).bit_length()
        parts["total"] = sum(parts.values())
        return parts

    def _place_skew(self, m: Module, name: str):
        lanes, width, make = self._skews[name]
        if lanes == 1 or self.prefix is None:
            skew = make()
            m.submodules[name] = skew
            return skew
        return place(m, name, make, Skew.signature_of(lanes, width, self.gated),
                     f"{self.prefix}_{Skew.key_of(lanes, width)}")

    # ---- RTL --------------------------------------------------------------------------------
    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        R, C = self.rows, self.cols
        mw = self.ow
        XB = self.exp_bits
        sel = self.m if self.sparse else 1
        L = self.latency
        SAT = R + C - 1  # counter saturation: the largest threshold, j + C for j = R - 1

        def operand(x):
            """A mantissa field as the PEs read it (narrow mode keeps the low bits)."""
            if not self.arith.block_exponent:
                return x  # FP32 lanes: bit patterns
            x = x.as_signed()
            if self.narrow_mant_bits is None:
                return x
            return Mux(self.narrow, x[: self.narrow_mant_bits + 1].as_signed(), x)

        # ---- control: weight banks, fold pairing, global stall ----------------------------
        full = [Signal(name=f"bank{b}_full") for b in range(2)]
        cnt = [Signal(range(SAT + 1), init=SAT, name=f"bank{b}_drain") for b in range(2)]
        ab = Signal()  # bank the activation stream is using
        lb = Signal()  # bank the weight loader is filling
        # range(2) at least: a 1-row pod keeps a (constant 0) 1-bit counter, not a 0-bit wire.
        load_row = Signal(range(max(R, 2)), name="load_row")
        CB = self.arith.column_bits  # per-column side data: exponents (HBFP), scales (INT8)
        side = "exp" if XB else "scale"
        ew = [Signal(C * CB, name=f"ew{b}", reset_less=True) for b in range(2)] if CB else None

        tv = Signal(L, name="tok_valid")  # one valid bit per pipeline stage
        act_fire = Signal()
        # pipeline output -> res: directly, or through the output queue (stall="queue")
        p_valid, p_pay = Signal(name="p_valid"), Signal(self.res.payload.shape(), name="p_res")
        if self.gated:
            advance = Signal()
            # The stall is global: when the result register holds an untaken beat nothing
            # moves.
            m.d.comb += [advance.eq(~tv[L - 1] | self.res.ready),
                         self.res.valid.eq(p_valid), self.res.payload.eq(p_pay)]
            credit = advance
        else:
            advance = Const(1)
            credit = self._output_queue(m, p_valid, p_pay, act_fire)

        full_ab = Mux(ab, full[1], full[0])
        full_lb = Mux(lb, full[1], full[0])
        cnt_lb = Mux(lb, cnt[1], cnt[0])
        m.d.comb += [
            self.act.ready.eq(credit & full_ab),
            # Row j of bank lb may be overwritten once the last token of the bank's previous
            # fold has passed PE(j, C-1) (j + C - 1 advances) and, for j = R-1, left the result
            # register, whose exponent reads the bank's ew: hence j + C.
            self.w.ready.eq(~full_lb & (cnt_lb >= load_row + C)),
        ]
        w_fire = Signal()
        m.d.comb += [
            act_fire.eq(self.act.valid & self.act.ready),
            w_fire.eq(self.w.valid & self.w.ready),
        ]
        fold_end = act_fire & self.act.payload.last

        with m.If(w_fire):
            with m.If(load_row == R - 1):
                m.d.sync += [load_row.eq(0), lb.eq(~lb)]
                for b in range(2):
                    with m.If(lb == b):
                        m.d.sync += full[b].eq(1)
                        if CB:
                            m.d.sync += ew[b].eq(getattr(self.w.payload, side))
            with m.Else():
                m.d.sync += load_row.eq(load_row + 1)
        with m.If(fold_end):
            m.d.sync += ab.eq(~ab)
        for b in range(2):
            with m.If(fold_end & (ab == b)):
                m.d.sync += [full[b].eq(0), cnt[b].eq(0)]
            with m.Elif(advance & (cnt[b] != SAT)):
                m.d.sync += cnt[b].eq(cnt[b] + 1)

        # ---- token pipeline: valid / last / bank / activation exponent ---------------------
        with m.If(advance):
            m.d.sync += tv.eq(Cat(act_fire, tv[: L - 1]) if L > 1 else act_fire)
        en = advance if self.gated else None  # (no enable on the lines in queue mode)
        tok_in = Cat(self.act.payload.last, ab)
        if XB:
            tok_in = Cat(self.act.payload.exp, tok_in)
        if self.tag_bits:
            tok_in = Cat(tok_in, self.act.payload.tag)
        tok = shift_line(m, tok_in, L, en, "tok_data")
        t_exp = tok[:XB].as_signed() if XB else None
        t_last, t_bank = tok[XB], tok[XB + 1]

        # ---- input skew: row r sees its activations (bank bit, mode bit) r cycles late -----
        # The narrow mode is sampled with each accepted activation beat and travels with it:
        # the activation is narrowed here, the (stored, wide) weights in the PE that uses it.
        a_data = self.act.payload.data
        elems = [operand(a_data[i * mw:(i + 1) * mw]) for i in range(self.kf)]
        tags = Cat(ab, self.narrow) if self.arith.has_mode else ab
        lane_w = sel * mw + len(tags)
        skew = self._place_skew(m, "skew")
        if self.gated:
            m.d.comb += skew.en.eq(advance)
        m.d.comb += [skew.in_data.eq(Cat(*(
            Cat(*elems[r // self.n * sel:(r // self.n + 1) * sel], tags) for r in range(R))))]
        row_in = [skew.out_data[r * lane_w:(r + 1) * lane_w] for r in range(R)]

        # ---- weights: broadcast one row per beat, written as loaded into bank lb -----------
        w_bus = self.w.payload.data

        # ---- the R x C PE array ------------------------------------------------------------
        sig = Array.signature_of(rows=R, cols=C, arith=self.arith, sel=sel, gated=self.gated)
        arr = place(m, "array", self.make_array, sig,
                    None if self.prefix is None else f"{self.prefix}_array{R}")
        if self.gated:
            m.d.comb += arr.en.eq(advance)
        m.d.comb += [arr.w.data.eq(w_bus), arr.w.bank.eq(lb),
                     arr.in_psum.data.eq(0),
                     arr.w.we.eq(Cat(*(w_fire & (load_row == r) for r in range(R))))]
        if self.sparse:
            m.d.comb += arr.w.idx.eq(self.w.payload.idx)
        for r in range(R):
            m.d.comb += [arr.in_act[r].data.eq(row_in[r][: sel * mw]),
                         arr.in_act[r].bank.eq(row_in[r][sel * mw])]
            if self.arith.has_mode:
                m.d.comb += arr.in_act[r].mode.eq(row_in[r][sel * mw + 1])
        psum = arr.out_psum.data

        # ---- output de-skew: column c waits C-1-c cycles ------------------------------------
        aw = self.acc_width
        deskew = self._place_skew(m, "deskew")
        if self.gated:
            m.d.comb += deskew.en.eq(advance)
        m.d.comb += [deskew.in_data.eq(Cat(*(
            psum[c * aw:(c + 1) * aw] for c in reversed(range(C)))))]
        cols_out = [deskew.out_data[(C - 1 - c) * aw:(C - c) * aw] for c in range(C)]
        res_exp = []
        for c in range(C if XB else 0):
            e = Signal(signed(PROD_EXP_WIDTH), name=f"res_exp{c}")
            sl = slice(c * EXP_WIDTH, (c + 1) * EXP_WIDTH)
            m.d.comb += e.eq(t_exp + Mux(t_bank, ew[1][sl].as_signed(), ew[0][sl].as_signed()))
            res_exp.append(e)
        m.d.comb += [
            p_valid.eq(tv[L - 1]),
            p_pay.data.eq(Cat(*cols_out)),
            *([p_pay.exp.eq(Cat(*res_exp))] if XB else []),
            *([p_pay.scale.eq(Mux(t_bank, ew[1], ew[0]))] if CB and not XB else []),
            p_pay.last.eq(t_last),
        ]
        if self.tag_bits:
            m.d.comb += p_pay.tag.eq(tok[XB + 2:])
        return m

    @property
    def gated(self) -> bool:
        """The datapath registers have the global enable (``stall="enable"``)."""
        return self.stall == "enable"

    @property
    def queue_depth(self) -> int:
        """Output-queue entries with ``stall="queue"``: one per beat the pipeline can hold."""
        return self.latency

    def _output_queue(self, m: Module, p_valid, p_pay, act_fire):
        """``stall="queue"``: the pipeline's result beat goes straight to ``res`` when the
        queue is empty (no added latency), else into the queue behind the waiting beats.
        Returns the credit: ``act`` may be accepted while fewer than ``queue_depth`` beats are
        accepted and not yet taken (or one is taken in this cycle), so the queue never
        overflows."""
        D = self.queue_depth
        width = self.res.payload.shape().size
        q = m.submodules.out_queue = fifo.SyncFIFO(width=width, depth=D)
        res_fire = self.res.valid & self.res.ready
        with m.If(q.r_rdy):
            m.d.comb += [self.res.valid.eq(1), self.res.payload.eq(q.r_data),
                         q.r_en.eq(self.res.ready), q.w_en.eq(p_valid)]
        with m.Else():
            m.d.comb += [self.res.valid.eq(p_valid), self.res.payload.eq(p_pay),
                         q.w_en.eq(p_valid & ~self.res.ready)]
        m.d.comb += q.w_data.eq(p_pay)
        owed = Signal(range(D + 1), name="owed")  # accepted act beats whose result is untaken
        credit = Signal(name="credit")
        m.d.comb += credit.eq((owed < D) | res_fire)
        # (Written as two conditions, not ``owed + act_fire - res_fire``: Icarus evaluates a
        # combinational block only when one of its inputs changes, and a next-state sum of
        # the register itself stays X through reset; the conditions change at time 0.)
        with m.If(act_fire & ~res_fire):
            m.d.sync += owed.eq(owed + 1)
        with m.Elif(res_fire & ~act_fire):
            m.d.sync += owed.eq(owed - 1)
        return credit

