"""The FP32-in / FP32-out HBFP GEMM engine: converter -> pod -> normalizers -> FP32 fold adds.

HBFP's accelerator core is the pod plus the FP32 stages around it (golden twin and the full
semantics: :mod:`golden.engine`; docs: ``docs/engine.md``)::

    act (FP32 lanes) -> FP32ToHBFP -> in-FIFO -> Pod <- w (pre-encoded HBFP)
                                                  |
                              res <- out-FIFO <- [C x HBFPToFP32 -> FP32 add with buffer row]
                                                                 ^ output buffer (tile x C)

* The converter turns each activation beat (one fold slice of one row: ``Kf`` FP32 lanes) into
  one HBFP block. It has no backpressure, so a credit counter admits an activation beat only
  when the input FIFO (``convert_pipeline + 2`` entries) has room for everything in flight;
  this FIFO is deep enough that the pod never waits for it.
* The pod carries four tag bits with every row to its result: ``first`` and ``final`` (the
  row's fold starts / ends the sum over K), ``invalid`` (a NaN/Inf lane) and ``narrow``.
* Per column, a normalizer turns the exact sum into FP32, and one FP32 adder (RNE, denormals
  flushed: :func:`hw.fp32mac.fp32_add`) adds it to the row's entry of the output buffer
  (``amaranth.lib.memory``, ``tile`` words of ``C x 32`` bits, read one cycle ahead, the read
  port transparent to the write port so back-to-back folds of one-row tiles see the sum just
  written). A ``final`` row goes into the output FIFO (``normalize_pipeline + 2`` entries)
  instead of back into the buffer; a credit counter holds the pod's result stream when that
  FIFO could overflow, so backpressure on ``res`` stalls the pod and nothing is lost.

The same shell holds the baseline arrays (``arith``): ``"fp32"`` (FP32 multiply-add PEs, no
converter, a register in the normalizers' place) and ``"int8"`` (:class:`hw.quantize.FP32ToINT8`
with the beat's ``1/s_a``, INT8 PEs with INT32 sums, per column the sum times the FP32 output
scale the pod hands out, rounded once by a normalizer).

Latency: ``convert_pipeline + 1`` cycles from an accepted activation to the pod (hidden behind
the first weight load, which needs ``R >= convert_pipeline + 1``), the pod's ``R + C - 1``, and
``normalize_pipeline + 1`` to the result. Throughput: one activation row in and one result
row out per cycle, sustained (exact count: :func:`golden.engine.engine_cycles`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.arith_fp import INT8_SCALE_FRAC
from golden.engine import EngineGeometry
from golden.facts import EXP_WIDTH, MAX_TILE, PROD_EXP_WIDTH, ParamError, check_index
from hw.block import Block
from hw.convert import FP32ToHBFP
from hw.delay import shift_line
from hw.fp32mac import CANONICAL_NAN, fp32_add
from hw.hier import place
from hw.normalize import HBFPToFP32
from hw.pod import Pod
from hw.quantize import FP32ToINT8

__all__ = ["Engine", "OutputBuffer", "ENGINE_TAGS"]

#: The tag bits the pod carries from each activation row to its result row, LSB first.
ENGINE_TAGS = ("first", "final", "invalid", "narrow")
#: The INT8 output stage's normalizer: INT32 sum x 24-bit scale significand (signed 57 bits),
#: the scale's 8-bit exponent field as a signed 9-bit exponent.
INT8_NORM_ACC, INT8_NORM_EXP = 32 + 25, 9


class OutputBuffer(Block):
    """The engine's output buffer: ``depth`` words of ``width`` bits, one write port and one
    synchronous read port transparent to it (``amaranth.lib.memory``).

    Ports: ``w_addr``, ``w_data``, ``w_en`` (written on the clock edge), ``r_addr`` and
    ``r_data`` (the word at ``r_addr`` one cycle later; when that address is written on the
    same edge, the new word). A module of its own, so that the area flow reports it apart and
    a flow may swap it for an SRAM macro (two-port: one read and one write every cycle).
    """

    @classmethod
    def check(cls, *, depth: int, width: int) -> None:
        if not 1 <= check_index(depth, "buffer depth") <= MAX_TILE:
            raise ParamError(f"buffer depth must be 1..{MAX_TILE}, not {depth}", field="tile")
        if check_index(width, "buffer width") < 1:
            raise ParamError(f"buffer width must be positive, not {width}", field="cols")

    def __init__(self, *, depth: int, width: int) -> None:
        self.depth, self.width = operator.index(depth), operator.index(width)
        super().__init__(self.signature_of(depth=self.depth, width=self.width))

    @staticmethod
    def signature_of(*, depth: int, width: int) -> wiring.Signature:
        ab = max(1, (depth - 1).bit_length())
        return wiring.Signature({
            "w_addr": In(ab), "w_data": In(width), "w_en": In(1),
            "r_addr": In(ab), "r_data": Out(width)})

    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        mem = m.submodules.mem = Memory(shape=unsigned(self.width), depth=self.depth, init=[])
        wp = mem.write_port()
        rp = mem.read_port(transparent_for=(wp,))
        m.d.comb += [wp.addr.eq(self.w_addr), wp.data.eq(self.w_data), wp.en.eq(self.w_en),
                     rp.addr.eq(self.r_addr), rp.en.eq(1), self.r_data.eq(rp.data)]
        return m


class FP32Adder(Block):
    """Combinational FTZ FP32 adder (:func:`hw.fp32mac.fp32_add`): ``s = x + y`` (RNE).

    A module of its own so that a C-column engine's C accumulation adders are one module
    instantiated C times (synthesized and timed once) instead of C copies in the top.
    """

    def __init__(self) -> None:
        super().__init__(self.signature_of())

    @staticmethod
    def signature_of() -> wiring.Signature:
        return wiring.Signature({"x": In(32), "y": In(32), "s": Out(32)})

    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        m.d.comb += self.s.eq(fp32_add(m, self.x, self.y))
        return m


class Engine(Block):
    """FP32-in / FP32-out GEMM engine around an R x C HBFP pod.

    Parameters
    ----------
    rows, cols, mant_bits, acc_width, sparsity, narrow_mant_bits:
        The pod (:class:`hw.pod.Pod`). The HBFP block is one fold slice: ``Kf = R * M / N``.
    tile:
        Output buffer height: the most rows one fold may stream (SOSA's row partition).
    stochastic, offset_bits, seed:
        The converter's rounding (:class:`hw.convert.FP32ToHBFP`).
    convert_pipeline, normalize_pipeline:
        Pipeline depths of the converter and of each column's normalizer.
    prefix:
        Module-name prefix (``<prefix>_pod``, ``<prefix>_convert``, ``<prefix>_norm``, the
        pod's children); ``None`` builds everything inline (the Python simulator).

    Ports
    -----
    act : In(stream)
        ``data`` (Kf FP32 lanes, lane i at bit ``32 i``), ``first``, ``final``, ``last`` and,
        with a narrow format, ``narrow``: one fold slice of one row of A per beat.
    w : In(stream)
        The pod's weight stream, unchanged (pre-encoded HBFP mantissas, indices, exponents).
    res : Out(stream)
        ``data`` (C FP32 words, column c at bit ``32 c``) and ``last``: one result row per beat
        of a ``final`` fold, with backpressure.
    error : Out(1)
        Sticky: a fold streamed more rows than ``tile`` (the extra rows are not stored).
    """

    @classmethod
    def check(cls, *, rows: int, cols: int, mant_bits: int, acc_width: int, tile: int,
              sparsity: tuple[int, int] = (1, 1), narrow_mant_bits: int | None = None,
              stochastic: bool = False, offset_bits: int = 8, seed: int = 0x5EED,
              convert_pipeline: int = 1, normalize_pipeline: int = 1, arith: str = "hbfp",
              prefix: str | None = None) -> None:
        Pod.check(rows=rows, cols=cols, mant_bits=mant_bits, acc_width=acc_width,
                  sparsity=sparsity, narrow_mant_bits=narrow_mant_bits, arith=arith)
        cp = check_index(convert_pipeline, "converter pipeline depth")
        if operator.index(rows) < 2:
            raise ParamError(f"an engine needs at least 2 pod rows, not {rows}: its converter "
                             "hides behind the first weight load", field="rows")
        # The tile range and the rule that the input pipeline hides behind the first weight
        # load are the golden geometry's (one definition).
        EngineGeometry(operator.index(rows), operator.index(cols), 0, 0, tile,
                       convert_latency=cp, normalize_latency=1)
        if arith == "fp32":
            if cp != 0 or normalize_pipeline != 1:
                raise ParamError("the FP32 engine has no converter (convert_pipeline 0) and a "
                                 "one-register output stage (normalize_pipeline 1)",
                                 field="pipeline")
            return
        if cp < 1:
            raise ParamError(f"converter pipeline depth must be at least 1, not {cp}",
                             field="pipeline")
        if arith == "int8":
            FP32ToINT8.check(lanes=operator.index(rows), pipeline=cp)
            HBFPToFP32.check(acc_width=INT8_NORM_ACC, frac_bits=INT8_SCALE_FRAC,
                             exp_width=INT8_NORM_EXP, pipeline=normalize_pipeline)
            return
        kf = operator.index(rows) // sparsity[0] * sparsity[1]
        FP32ToHBFP.check(block_size=kf, mant_bits=mant_bits, pipeline=cp, stochastic=stochastic,
                         offset_bits=offset_bits, seed=seed, narrow_mant_bits=narrow_mant_bits)
        HBFPToFP32.check(acc_width=acc_width, frac_bits=2 * operator.index(mant_bits),
                         exp_width=PROD_EXP_WIDTH, pipeline=normalize_pipeline)

    def __init__(self, *, rows: int, cols: int, mant_bits: int, acc_width: int, tile: int,
                 sparsity: tuple[int, int] = (1, 1), narrow_mant_bits: int | None = None,
                 stochastic: bool = False, offset_bits: int = 8, seed: int = 0x5EED,
                 convert_pipeline: int = 1, normalize_pipeline: int = 1, arith: str = "hbfp",
                 prefix: str | None = None) -> None:
        self.rows, self.cols = operator.index(rows), operator.index(cols)
        self.arith = arith
        self.fp32 = arith == "fp32"
        self.int8 = arith == "int8"
        self.mant_bits = {"fp32": 23, "int8": 7}.get(arith, None) or operator.index(mant_bits)
        self.acc_width = 32 if arith != "hbfp" else operator.index(acc_width)
        self.tile = operator.index(tile)
        self.sparsity = tuple(operator.index(x) for x in sparsity)
        self.narrow_mant_bits = (None if narrow_mant_bits is None
                                 else operator.index(narrow_mant_bits))
        self.stochastic, self.offset_bits = bool(stochastic), operator.index(offset_bits)
        self.seed = operator.index(seed)
        self.convert_pipeline = operator.index(convert_pipeline)
        self.normalize_pipeline = operator.index(normalize_pipeline)
        self.prefix = prefix
        pod_sig = Pod.signature_of(**self._pod_params)
        act = {"data": unsigned(self.kf * 32), "first": unsigned(1), "final": unsigned(1),
               "last": unsigned(1)}
        if self.narrow_mant_bits is not None:
            act["narrow"] = unsigned(1)
        if self.int8:
            act["scale"] = unsigned(32)
        super().__init__({
            "act": In(stream.Signature(data.StructLayout(act))),
            "w": pod_sig.members["w"],
            "res": Out(stream.Signature(data.StructLayout({
                "data": unsigned(self.cols * 32), "last": unsigned(1)}))),
            "error": Out(1),
        })

    # ---- derived facts ---------------------------------------------------------------------
    @property
    def kf(self) -> int:
        """FP32 lanes per activation beat: the fold depth ``R * M / N``, also the HBFP block."""
        return self.rows // self.sparsity[0] * self.sparsity[1]

    @property
    def in_depth(self) -> int:
        """Input FIFO entries: the converter's pipeline plus two, so the pod never waits."""
        return self.convert_pipeline + 2

    @property
    def out_depth(self) -> int:
        """Output FIFO entries: the normalizer's pipeline plus two, so a ready sink never
        holds the pod."""
        return self.normalize_pipeline + 2

    @property
    def in_latency(self) -> int:
        return self.convert_pipeline + 1

    @property
    def out_latency(self) -> int:
        return self.normalize_pipeline + 1

    @property
    def latency(self) -> int:
        """Cycles from an accepted activation beat of a final fold to its result beat."""
        return self.in_latency + self.rows + self.cols - 1 + self.out_latency

    @property
    def buffer_bits(self) -> int:
        """Bits of the output buffer (``tile x C x 32``)."""
        return self.tile * self.cols * 32

    # ---- children --------------------------------------------------------------------------
    @property
    def _pod_params(self) -> dict:
        if self.arith != "hbfp":
            return dict(rows=self.rows, cols=self.cols, arith=self.arith,
                        tag_bits=len(ENGINE_TAGS))
        return dict(rows=self.rows, cols=self.cols, mant_bits=self.mant_bits,
                    acc_width=self.acc_width, sparsity=self.sparsity,
                    narrow_mant_bits=self.narrow_mant_bits, tag_bits=len(ENGINE_TAGS))

    def make_pod(self) -> Pod:
        return Pod(**self._pod_params, prefix=self.prefix)

    def make_convert(self) -> FP32ToHBFP | FP32ToINT8:
        if self.int8:
            return FP32ToINT8(lanes=self.kf, pipeline=self.convert_pipeline)
        return FP32ToHBFP(block_size=self.kf, mant_bits=self.mant_bits,
                          pipeline=self.convert_pipeline, stochastic=self.stochastic,
                          offset_bits=self.offset_bits, seed=self.seed,
                          narrow_mant_bits=self.narrow_mant_bits)

    def make_norm(self) -> HBFPToFP32:
        if self.int8:
            return HBFPToFP32(acc_width=INT8_NORM_ACC, frac_bits=INT8_SCALE_FRAC,
                              exp_width=INT8_NORM_EXP, pipeline=self.normalize_pipeline)
        return HBFPToFP32(acc_width=self.acc_width, frac_bits=2 * self.mant_bits,
                          exp_width=PROD_EXP_WIDTH, pipeline=self.normalize_pipeline)

    def make_buffer(self) -> OutputBuffer:
        return OutputBuffer(depth=self.tile, width=self.cols * 32)

    def children(self) -> dict[str, Callable[[], Block]]:
        """Key -> factory of each distinct child (for :func:`gen.hier.emit_hierarchy`)."""
        if self.fp32:  # FP32 lanes go straight into the array; its sums are FP32 already
            return {"pod": self.make_pod, "buffer": self.make_buffer, "add": FP32Adder}
        return {"pod": self.make_pod, "convert": self.make_convert, "norm": self.make_norm,
                "buffer": self.make_buffer, "add": FP32Adder}

    def _signature(self, key: str) -> wiring.Signature:
        if key == "pod":
            return Pod.signature_of(**self._pod_params)
        if key == "convert" and self.int8:
            return FP32ToINT8.signature_of(lanes=self.kf)
        if key == "norm" and self.int8:
            return HBFPToFP32.signature_of(acc_width=INT8_NORM_ACC, exp_width=INT8_NORM_EXP)
        if key == "convert":
            return FP32ToHBFP.signature_of(block_size=self.kf, mant_bits=self.mant_bits,
                                           narrow_mant_bits=self.narrow_mant_bits)
        if key == "buffer":
            return OutputBuffer.signature_of(depth=self.tile, width=self.cols * 32)
        if key == "add":
            return FP32Adder.signature_of()
        return HBFPToFP32.signature_of(acc_width=self.acc_width, exp_width=PROD_EXP_WIDTH)

    def _place(self, m: Module, name: str, key: str):
        return place(m, name, self.children()[key], self._signature(key),
                     None if self.prefix is None else f"{self.prefix}_{key}",
                     clocked=key != "add")

    # ---- RTL --------------------------------------------------------------------------------
    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        C, kf, mb = self.cols, self.kf, self.mant_bits
        mw = mb + 1
        narrow = self.narrow_mant_bits is not None

        act_fire = Signal()
        m.d.comb += act_fire.eq(self.act.valid & self.act.ready)
        p = self.act.payload
        xb = EXP_WIDTH if self.arith == "hbfp" else 0  # the activation exponent (HBFP only)
        if self.fp32:
            mw = 32
            in_w = kf * mw + 1 + len(ENGINE_TAGS)
            fin = m.submodules.in_fifo = SyncFIFO(width=in_w, depth=self.in_depth)
            m.d.comb += [fin.w_en.eq(act_fire),
                         fin.w_data.eq(Cat(p.data, p.last, p.first, p.final, Const(0, 2)))]
        else:
            # ---- FP32 -> HBFP (INT8), with the row's flags alongside ---------------------
            conv = self._place(m, "convert", "convert")
            m.d.comb += [conv.i.valid.eq(act_fire), conv.i.payload.x.eq(p.data)]
            if narrow:
                m.d.comb += conv.i.payload.mode.eq(p.narrow)
            if self.int8:
                m.d.comb += conv.i.payload.scale.eq(p.scale)
            flags_in = Cat(p.first, p.final, p.last, p.narrow if narrow else Const(0, 1))
            flags = shift_line(m, flags_in, self.convert_pipeline, Const(1), "conv_flags")
            # Input FIFO of HBFP rows (INT8 codes): mantissas, exponent, last, tags.
            in_w = kf * mw + xb + 1 + len(ENGINE_TAGS)
            fin = m.submodules.in_fifo = SyncFIFO(width=in_w, depth=self.in_depth)
            if self.int8:
                ops = conv.o.payload.q.as_value()
            else:
                blk = conv.o.payload.block
                ops = Cat(blk.mant.as_value(), blk.exp)
            m.d.comb += [
                fin.w_en.eq(conv.o.valid),
                fin.w_data.eq(Cat(ops, flags[2], flags[0], flags[1], conv.o.payload.invalid,
                                  flags[3])),
            ]
        # Credits: beats in the converter plus beats in the FIFO never exceed its depth.
        in_occ = Signal(range(self.in_depth + 1), name="in_occ")
        pod = self._place(m, "pod", "pod")
        pod_act_fire = Signal()
        m.d.comb += [self.act.ready.eq(in_occ < self.in_depth),
                     pod_act_fire.eq(pod.act.valid & pod.act.ready)]
        m.d.sync += in_occ.eq(in_occ + act_fire - pod_act_fire)

        rd = fin.r_data
        m.d.comb += [
            pod.act.valid.eq(fin.r_rdy),
            fin.r_en.eq(pod.act.ready),
            pod.act.payload.data.eq(rd[:kf * mw]),
            pod.act.payload.last.eq(rd[kf * mw + xb]),
            pod.act.payload.tag.eq(rd[kf * mw + xb + 1:]),
        ]
        if xb:
            m.d.comb += pod.act.payload.exp.eq(rd[kf * mw:kf * mw + xb])
        if narrow:
            m.d.comb += pod.narrow.eq(rd[-1])
        wiring.connect(m, wiring.flipped(self.w), pod.w)

        # ---- results: normalize per column, add into the buffer row --------------------------
        res_fire = Signal()
        out_occ = Signal(range(self.out_depth + 1), name="out_occ")
        m.d.comb += [pod.res.ready.eq(out_occ < self.out_depth),
                     res_fire.eq(pod.res.valid & pod.res.ready)]
        row = Signal(range(max(self.tile, 2) + 1), name="row")  # saturates at tile
        with m.If(res_fire):
            with m.If(pod.res.payload.last):
                m.d.sync += row.eq(0)
            with m.Elif(row != self.tile):
                m.d.sync += row.eq(row + 1)
            with m.If(row == self.tile):
                m.d.sync += self.error.eq(1)

        aw, ew = self.acc_width, PROD_EXP_WIDTH
        tag = pod.res.payload.tag  # first, final, invalid, narrow
        # Narrow rows scale as 2^(exp - 2 m_n) = 2^((exp + 2(m - m_n)) - 2m): one normalizer.
        adj = 2 * (mb - self.narrow_mant_bits) if narrow else 0
        norms = []  # each column's FP32 value, normalize_pipeline cycles after res_fire
        for c in range(C):
            if self.fp32:  # already FP32: one register in the normalizer's place
                r = Signal(32, name=f"sum{c}", reset_less=True)
                m.d.sync += r.eq(pod.res.payload.data[c * 32:(c + 1) * 32])
                norms.append(r)
                continue
            nz = self._place(m, f"norm{c}", "norm")
            if self.int8:  # INT32 sum x the column's FP32 scale, rounded once
                sc = pod.res.payload.scale[c * 32:(c + 1) * 32]
                m.d.comb += [
                    nz.i.valid.eq(res_fire),
                    nz.i.payload.acc.eq(pod.res.payload.data[c * aw:(c + 1) * aw].as_signed()
                                        * Cat(sc[0:23], sc[23:31] != 0)),
                    nz.i.payload.exp.eq(sc[23:31])]
                norms.append(nz.o.payload.f32)
                continue
            e = pod.res.payload.exp[c * ew:(c + 1) * ew].as_signed()
            m.d.comb += [nz.i.valid.eq(res_fire),
                         nz.i.payload.acc.eq(pod.res.payload.data[c * aw:(c + 1) * aw]),
                         nz.i.payload.exp.eq(Mux(tag[3], e + adj, e) if narrow else e)]
            norms.append(nz.o.payload.f32)

        # The row's side data travels beside the normalizers: Ln - 1 stages to the buffer read,
        # one more to the add.
        Ln = self.normalize_pipeline
        side_in = Cat(row, pod.res.payload.last, tag[0], tag[1], tag[2], res_fire)
        pre = shift_line(m, side_in, Ln - 1, Const(1), "side_pre")
        pre_valid = Signal(name="pre_valid")
        m.d.comb += pre_valid.eq(pre[-1])
        if Ln - 1 > 0:  # the valid bit of a reset_less line must not wake up set
            vline = Signal(Ln - 1, name="side_valid")
            m.d.sync += vline.eq(Cat(res_fire, vline[:-1]) if Ln > 2 else res_fire)
            m.d.comb += pre_valid.eq(vline[-1])
        rb = len(row)
        buf = self._place(m, "buffer", "buffer")
        m.d.comb += buf.r_addr.eq(pre[:rb])
        st = Signal(len(side_in) - 1, name="side_add")
        st_valid = Signal(name="add_valid")
        m.d.sync += [st.eq(pre[:-1]), st_valid.eq(pre_valid)]
        s_row, s_last, s_first, s_final, s_inv = (
            st[:rb], st[rb], st[rb + 1], st[rb + 2], st[rb + 3])

        sums = []
        for c in range(C):
            v = Mux(s_inv, CANONICAL_NAN, norms[c])
            add = self._place(m, f"acc{c}", "add")
            m.d.comb += [add.x.eq(buf.r_data[c * 32:(c + 1) * 32]), add.y.eq(v)]
            sums.append(Mux(s_first, v, add.s))
        total = Signal(C * 32, name="sum_row")
        m.d.comb += total.eq(Cat(*sums))
        in_tile = s_row < self.tile
        m.d.comb += [buf.w_addr.eq(s_row), buf.w_data.eq(total),
                     buf.w_en.eq(st_valid & ~s_final & in_tile)]

        fout = m.submodules.out_fifo = SyncFIFO(width=C * 32 + 1, depth=self.out_depth)
        m.d.comb += [
            fout.w_en.eq(st_valid & s_final),
            fout.w_data.eq(Cat(total, s_last)),
            self.res.valid.eq(fout.r_rdy),
            self.res.payload.data.eq(fout.r_data[:C * 32]),
            self.res.payload.last.eq(fout.r_data[C * 32]),
            fout.r_en.eq(self.res.ready),
        ]
        retire = st_valid & ~s_final
        pop = fout.r_rdy & self.res.ready
        m.d.sync += out_occ.eq(out_occ + res_fire - retire - pop)
        return m
