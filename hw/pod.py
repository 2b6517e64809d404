"""Weight-stationary HBFP systolic pod (issue 5). See docs/pod.md for the full protocol.

An R x C array of :class:`hw.pe.PE`. Weights are stationary (double-buffered per PE), activation
rows stream in from the left through an input skew, partial sums flow down the columns in exact
integer arithmetic, and an output de-skew realigns the C column sums into one result beat.

Streams (``amaranth.lib.stream``, flat packed payloads, LSB first; layout in
:class:`golden.systolic.PodLayout`):

* ``w``   -- one beat per weight row of a fold: C mantissas (+ C N:M indices) + C exponents.
  Beat j of a fold writes physical row j (row 0 first); the exponents are taken from beat R-1.
* ``act`` -- one beat per activation row: ``Kf`` mantissas, the shared exponent, ``last`` on the
  fold's final row. Beats of fold f use fold f's weights (folds are paired in order).
* ``res`` -- one beat per activation row, ``R + C - 1`` advancing cycles later: C exact integer
  sums, C exponents ``e_a + e_w[c]``, and ``last`` copied from the activation beat.

Backpressure: the whole datapath advances only when the result register is empty or being
taken (a global clock-enable stall), so results are never dropped. Weight loading is independent
of the stall; a bank is refilled only when every token that uses it has left (``cnt >= j + C``).
"""

from __future__ import annotations

import operator

from amaranth.hdl import (
    Cat,
    ClockSignal,
    Const,
    Instance,
    Module,
    Mux,
    ResetSignal,
    Signal,
    signed,
    unsigned,
)
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.facts import EXP_WIDTH, PROD_EXP_WIDTH, index_bits
from hw.pe import PE

__all__ = ["Pod", "PodRow"]


class Pod(wiring.Component):
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
        If set, a run-time ``narrow`` input port: while it is 1 every mantissa operand is read
        from its low ``narrow_mant_bits + 1`` bits (sign-extended), as in the dot unit.
    pe_module, row_module:
        ``None``: rows and PEs are Amaranth submodules (for the Python simulator). A name: the
        rows (:class:`PodRow`) / PEs are ``Instance`` s of that Verilog module, so each is
        emitted once (see :func:`gen.cmd_pod.generate_pod`): this keeps the Verilog small and
        the conversion time linear in R + C rather than R * C.

    Latency ``R + C - 1`` advancing cycles from an accepted activation beat to its result beat.
    Throughput one activation row (``R*C`` MACs, ``R*C*M/N`` dense-equivalent) per cycle once a
    fold's weights are loaded; loading the next fold is hidden when a fold streams at least
    ``R + C`` rows (exact count: :func:`golden.systolic.cycles`).
    """

    def __init__(self, *, rows: int, cols: int, mant_bits: int, acc_width: int,
                 sparsity: tuple[int, int] = (1, 1), narrow_mant_bits: int | None = None,
                 pe_module: str | None = None, row_module: str | None = None):
        self.rows = operator.index(rows)
        self.cols = operator.index(cols)
        self.mant_bits = operator.index(mant_bits)
        self.acc_width = operator.index(acc_width)
        self.n, self.m = (operator.index(x) for x in sparsity)
        self.narrow_mant_bits = (None if narrow_mant_bits is None
                                 else operator.index(narrow_mant_bits))
        self.pe_module = pe_module
        self.row_module = row_module
        self._MustUse__silence = True  # until validated: a refused pod is not an unused one
        if self.rows < 1 or self.cols < 1:
            raise ValueError("pod rows and cols must be positive")
        if self.rows % self.n:
            raise ValueError(f"pod rows {self.rows} must be a multiple of N={self.n}")
        need = self.rows * ((1 << self.mant_bits) - 1) ** 2
        if (1 << (self.acc_width - 1)) - 1 < need:
            raise ValueError(f"acc_width {self.acc_width} cannot hold a {self.rows}-row sum")
        if self.narrow_mant_bits is not None and not 1 <= self.narrow_mant_bits < self.mant_bits:
            raise ValueError("narrow_mant_bits must be in [1, mant_bits)")
        self._MustUse__silence = False
        mw = self.mant_bits + 1
        C = self.cols
        w_fields = {"data": unsigned(C * mw)}
        if self.sparse:
            w_fields["idx"] = unsigned(C * self.idx_bits)
        w_fields["exp"] = unsigned(C * EXP_WIDTH)
        members = {
            "act": In(stream.Signature(data.StructLayout({
                "data": unsigned(self.kf * mw), "exp": signed(EXP_WIDTH), "last": unsigned(1),
            }))),
            "w": In(stream.Signature(data.StructLayout(w_fields))),
            "res": Out(stream.Signature(data.StructLayout({
                "data": unsigned(C * self.acc_width), "exp": unsigned(C * PROD_EXP_WIDTH),
                "last": unsigned(1),
            }))),
        }
        if self.narrow_mant_bits is not None:
            members["narrow"] = In(1)
        super().__init__(members)

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

    def make_pe(self) -> PE:
        """A fresh PE of this pod (the module emitted once and instantiated R x C times)."""
        return PE(mant_bits=self.mant_bits, acc_width=self.acc_width,
                  sel=self.m if self.sparse else 1)

    def make_row(self, pe_module: str | None = None) -> PodRow:
        """A fresh row of C PEs (emitted once, instantiated R times when ``row_module`` is set)."""
        return PodRow(cols=self.cols, mant_bits=self.mant_bits, acc_width=self.acc_width,
                      sel=self.m if self.sparse else 1, pe_module=pe_module or self.pe_module)

    @property
    def register_bits(self) -> dict[str, int]:
        """Flip-flop count by part (all registers; the pod has no SRAM)."""
        R, C, mw = self.rows, self.cols, self.mant_bits + 1
        sel = self.m if self.sparse else 1
        sat_bits = (R + C - 1).bit_length()
        parts = {
            "pe_array": R * C * PE.count_register_bits(self.mant_bits, self.acc_width, sel),
            "input_skew": R * (R - 1) // 2 * (sel * mw + 1),
            "output_deskew": C * (C - 1) // 2 * self.acc_width,
            "token_pipeline": self.latency * (3 + EXP_WIDTH),
            "weight_exponents": 2 * C * EXP_WIDTH,  # ew0/ew1
            "control": 2 + 2 * sat_bits + 2 + (R - 1).bit_length(),
        }
        parts["total"] = sum(parts.values())
        return parts

    # ---- RTL --------------------------------------------------------------------------------
    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        R, C = self.rows, self.cols
        mw = self.mant_bits + 1
        sel = self.m if self.sparse else 1
        L = self.latency
        SAT = R + C - 1  # counter saturation: the largest threshold, j + C for j = R - 1

        def operand(x):
            """A mantissa field as the PEs read it (narrow mode keeps the low bits)."""
            x = x.as_signed()
            if self.narrow_mant_bits is None:
                return x
            return Mux(self.narrow, x[: self.narrow_mant_bits + 1].as_signed(), x)

        def shift_line(m, value, depth: int, name: str, en):
            """``depth`` registers in one wide signal (newest at the LSBs), enabled by ``en``."""
            if depth == 0:
                return value
            w = len(value)
            line = Signal(depth * w, name=name, reset_less=True)
            with m.If(en):
                m.d.sync += line.eq(Cat(value, line[: (depth - 1) * w]) if depth > 1 else value)
            return line[(depth - 1) * w:]

        # ---- control: weight banks, fold pairing, global stall ----------------------------
        full = [Signal(name=f"bank{b}_full") for b in range(2)]
        cnt = [Signal(range(SAT + 1), init=SAT, name=f"bank{b}_drain") for b in range(2)]
        ab = Signal()  # bank the activation stream is using
        lb = Signal()  # bank the weight loader is filling
        load_row = Signal(range(R), name="load_row")
        ew = [Signal(C * EXP_WIDTH, name=f"ew{b}", reset_less=True) for b in range(2)]

        advance = Signal()
        tv = Signal(L, name="tok_valid")  # one valid bit per pipeline stage
        # The stall is global: when the result register holds an untaken beat nothing moves.
        m.d.comb += advance.eq(~tv[L - 1] | self.res.ready)

        full_ab = Mux(ab, full[1], full[0])
        full_lb = Mux(lb, full[1], full[0])
        cnt_lb = Mux(lb, cnt[1], cnt[0])
        m.d.comb += [
            self.act.ready.eq(advance & full_ab),
            # Row j of bank lb may be overwritten once the last token of the bank's previous
            # fold has passed PE(j, C-1) (j + C - 1 advances) and, for j = R-1, left the result
            # register, whose exponent reads the bank's ew: hence j + C.
            self.w.ready.eq(~full_lb & (cnt_lb >= load_row + C)),
        ]
        act_fire = Signal()
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
                        m.d.sync += [full[b].eq(1), ew[b].eq(self.w.payload.exp)]
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
        tok = shift_line(m, Cat(self.act.payload.exp, self.act.payload.last, ab), L, "tok_data",
                         advance)
        t_exp = tok[:EXP_WIDTH].as_signed()
        t_last, t_bank = tok[EXP_WIDTH], tok[EXP_WIDTH + 1]

        # ---- input skew: row r sees its activations (and bank bit) r cycles late -----------
        a_data = self.act.payload.data
        elems = [operand(a_data[i * mw:(i + 1) * mw]) for i in range(self.kf)]
        row_in = []
        for r in range(R):
            g = r // self.n
            row_in.append(shift_line(m, Cat(*elems[g * sel:(g + 1) * sel], ab), r,
                                     f"skew{r}", advance))

        # ---- weights: broadcast one row per beat, written into bank lb ----------------------
        w_data = self.w.payload.data
        w_bus = Cat(*(operand(w_data[c * mw:(c + 1) * mw]) for c in range(C)))

        # ---- R identical rows of C PEs --------------------------------------------------------
        psum = Const(0, C * self.acc_width)
        for r in range(R):
            ins = {
                "en": advance, "a_in": row_in[r][: sel * mw], "bank_in": row_in[r][sel * mw],
                "psum_in": psum, "w_in": w_bus, "w_we": w_fire & (load_row == r), "w_bank": lb,
            }
            if self.sparse:
                ins["w_idx"] = self.w.payload.idx
            out = Signal(C * self.acc_width, name=f"psum_row{r}")
            if self.row_module is None:
                row = self.make_row()
                m.submodules[f"row{r}"] = row
                m.d.comb += [getattr(row, k).eq(v) for k, v in ins.items()]
                m.d.comb += out.eq(row.psum_out)
            else:
                kw = {"i_clk": ClockSignal("sync"), "i_rst": ResetSignal("sync"),
                      "o_psum_out": out}
                kw.update({f"i_{k}": v for k, v in ins.items()})
                m.submodules[f"row{r}"] = Instance(self.row_module, **kw)
            psum = out

        # ---- output de-skew: column c waits C-1-c cycles ------------------------------------
        aw = self.acc_width
        cols_out = [shift_line(m, psum[c * aw:(c + 1) * aw], C - 1 - c, f"deskew{c}", advance)
                    for c in range(C)]
        res_exp = []
        for c in range(C):
            e = Signal(signed(PROD_EXP_WIDTH), name=f"res_exp{c}")
            sl = slice(c * EXP_WIDTH, (c + 1) * EXP_WIDTH)
            m.d.comb += e.eq(t_exp + Mux(t_bank, ew[1][sl].as_signed(), ew[0][sl].as_signed()))
            res_exp.append(e)
        m.d.comb += [
            self.res.valid.eq(tv[L - 1]),
            self.res.payload.data.eq(Cat(*cols_out)),
            self.res.payload.exp.eq(Cat(*res_exp)),
            self.res.payload.last.eq(t_last),
        ]
        return m


class PodRow(wiring.Component):
    """One row of C PEs: the unit the pod instantiates R times (identical for every row).

    Ports: ``en``, ``a_in``/``bank_in`` (the row's skewed activation bus, enters column 0),
    ``psum_in``/``psum_out`` (C packed partial sums, column c at bit ``c*acc_width``), and the
    weight write port ``w_in`` (C packed mantissas), ``w_idx`` (sparse), ``w_we``, ``w_bank``.
    Latency 1 cycle (of ``en``) from ``psum_in`` to ``psum_out``; column c sees ``a_in`` c
    cycles late.
    """

    def __init__(self, *, cols: int, mant_bits: int, acc_width: int, sel: int = 1,
                 pe_module: str | None = None):
        self.cols = operator.index(cols)
        self.mant_bits = operator.index(mant_bits)
        self.acc_width = operator.index(acc_width)
        self.sel = operator.index(sel)
        self.pe_module = pe_module
        mw = self.mant_bits + 1
        ib = (self.sel - 1).bit_length()
        C = self.cols
        members = {
            "en": In(1),
            "a_in": In(unsigned(self.sel * mw)),
            "bank_in": In(1),
            "psum_in": In(unsigned(C * self.acc_width)),
            "w_in": In(unsigned(C * mw)),
            "w_we": In(1),
            "w_bank": In(1),
            "psum_out": Out(unsigned(C * self.acc_width)),
        }
        if self.sel > 1:
            members["w_idx"] = In(unsigned(C * ib))
        super().__init__(members)

    def make_pe(self) -> PE:
        return PE(mant_bits=self.mant_bits, acc_width=self.acc_width, sel=self.sel)

    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        C, aw, mw = self.cols, self.acc_width, self.mant_bits + 1
        ib = (self.sel - 1).bit_length()
        a_prev, b_prev = self.a_in, self.bank_in
        outs = []
        for c in range(C):
            a_out = Signal(self.sel * mw, name=f"a{c}")
            b_out = Signal(name=f"bank{c}")
            p_out = Signal(signed(aw), name=f"psum{c}")
            ins = {
                "en": self.en, "a_in": a_prev, "bank_in": b_prev,
                "psum_in": self.psum_in[c * aw:(c + 1) * aw].as_signed(),
                "w_in": self.w_in[c * mw:(c + 1) * mw].as_signed(), "w_we": self.w_we,
                "w_bank": self.w_bank,
            }
            if self.sel > 1:
                ins["w_idx"] = self.w_idx[c * ib:(c + 1) * ib]
            o = {"a_out": a_out, "bank_out": b_out, "psum_out": p_out}
            if self.pe_module is None:
                pe = self.make_pe()
                m.submodules[f"pe{c}"] = pe
                m.d.comb += [getattr(pe, k).eq(v) for k, v in ins.items()]
                m.d.comb += [v.eq(getattr(pe, k)) for k, v in o.items()]
            else:
                kw = {"i_clk": ClockSignal("sync"), "i_rst": ResetSignal("sync")}
                kw.update({f"i_{k}": v for k, v in ins.items()})
                kw.update({f"o_{k}": v for k, v in o.items()})
                m.submodules[f"pe{c}"] = Instance(self.pe_module, **kw)
            # PE(r, c+1) takes PE(r, c)'s registered activation and bank bit.
            a_prev, b_prev = a_out, b_out
            outs.append(p_out)
        m.d.comb += self.psum_out.eq(Cat(*outs))
        return m
