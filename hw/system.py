"""Multi-pod scale-out system: P engines, banked buffers, three networks, a bank controller.

SOSA's architecture (``docs/scaleout.md``; golden twin and tile compiler
:mod:`golden.scaleout`)::

    act bank k ─► reader k ─┐                       ┌─► in-FIFO ─► engine p.act
                            ├─► act network ──────► ┤
    w bank k   ─► reader k ─┴─► weight network ───► └─► in-FIFO ─► engine p.w
    engine p.res ─► result network ─► writer k ─► result bank k ─► drain ─► rd

* Every bank is an ``amaranth.lib.memory`` with one write and one synchronous read port.
  The host fills the activation and weight banks and the configuration through ``load``
  (one word per beat, always accepted), then pulses ``start``.
* Reader k streams words ``0 .. act_count[k] - 1`` of its bank to pod ``act_dest[k]`` (and the
  weight reader likewise): a bank holds one pod's stream in order (the compiler's layout), the
  network lets that pod be any pod. Engine p's results go to result bank ``res_dest[p]``,
  whose writer stores them in arrival order.
* ``busy`` is high from ``start`` until every result bank holds ``res_count[k]`` words; then
  the drain streams the result banks out on ``rd`` (bank 0 first), ``done`` rising after the
  last beat. Backpressure anywhere stalls, nothing is lost.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.facts import ParamError, check_index
from golden.scaleout import SystemGeometry
from hw.block import Block
from hw.engine import Engine, OutputBuffer
from hw.hier import Sig, Structure, cat, const, signature_ports
from hw.network import Network

__all__ = ["System", "Slot", "SystemCtl", "Reduce", "Fifo2", "CONFIG_FIELDS", "SPACES",
           "load_layout"]

#: ``load.space`` values: which address space a load beat writes.
SPACES = {"act": 0, "w": 1, "config": 2}
#: Configuration words per bank, at ``addr = 8 * bank + index``.
CONFIG_FIELDS = ("act_count", "act_dest", "w_count", "w_dest", "res_count", "res_dest")
_CFG_STRIDE = 8
#: Input bits a network module may have (Amaranth's limit is 65,535 per cell).
_NET_PORT_BITS = 60000


def load_layout(bank_bits: int, addr_bits: int, data_bits: int) -> data.StructLayout:
    """A host write (``load`` beat): ``space`` (:data:`SPACES`), ``bank``, ``addr``, ``data``."""
    return data.StructLayout({"space": unsigned(2), "bank": unsigned(bank_bits),
                              "addr": unsigned(addr_bits), "data": unsigned(data_bits)})


class Fifo2(Block):
    """Two-entry first-word-fall-through FIFO in registers (no memory), for the stream joints.

    Ports: ``w_en``/``w_data``/``w_rdy`` (written on the edge when ``w_en``; the writer must
    respect ``w_rdy``), ``r_en``/``r_data``/``r_rdy`` (``r_data`` is the head while ``r_rdy``;
    ``r_en`` pops it), ``level`` (0..2). A write and a pop in the same cycle are allowed when
    full. A module of its own, emitted once per width: a memory-based FIFO per stream would
    make the system's Verilog (and its generation) grow with every pod.
    """

    def __init__(self, *, width: int) -> None:
        self.width = operator.index(width)
        super().__init__(self.signature_of(width=self.width))

    @staticmethod
    def signature_of(*, width: int) -> wiring.Signature:
        return wiring.Signature({"w_en": In(1), "w_data": In(width), "w_rdy": Out(1),
                                 "r_en": In(1), "r_data": Out(width), "r_rdy": Out(1),
                                 "level": Out(2)})

    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        head = Signal(self.width, name="head", reset_less=True)
        tail = Signal(self.width, name="tail", reset_less=True)
        lvl = Signal(2, name="lvl")
        pop = self.r_en & (lvl != 0)
        push = self.w_en
        m.d.comb += [self.r_data.eq(head), self.r_rdy.eq(lvl != 0), self.level.eq(lvl),
                     self.w_rdy.eq((lvl != 2) | self.r_en)]
        m.d.sync += lvl.eq(lvl + push - pop)
        with m.If(pop):
            # the tail moves up, or the pushed word lands at the head directly
            with m.If(lvl == 2):
                m.d.sync += head.eq(tail)
            with m.Elif(push):
                m.d.sync += head.eq(self.w_data)
            with m.If(push & (lvl == 2)):
                m.d.sync += tail.eq(self.w_data)
        with m.Elif(push):
            with m.If(lvl == 0):
                m.d.sync += head.eq(self.w_data)
            with m.Else():
                m.d.sync += tail.eq(self.w_data)
        return m


class System(Block):
    """``pods`` engines behind banked buffers and three networks (module docstring).

    Parameters
    ----------
    pods:
        Engines (and banks of each kind); a power of two for ``butterfly``/``benes``.
    engine:
        Keyword arguments of every :class:`hw.engine.Engine` (its ``tile`` is the partition
        size); ``prefix`` is set here.
    net, expand:
        Network kind (:data:`golden.scaleout.NETWORKS`) and Butterfly expansion exponent.
    act_depth, w_depth, res_depth:
        Words per activation, weight and result bank.

    Ports
    -----
    load : In(stream {space 2, bank, addr, data})
        Host writes (always ready): ``space`` 0 activation bank, 1 weight bank, 2
        configuration (:data:`CONFIG_FIELDS`, ``addr = 8 * bank + field``).
    start : In(1)
        Pulse: the readers start from address 0.
    busy : Out(1)
        From the edge after ``start`` until the last expected result is written.
    rd : Out(stream {bank, data})
        After ``busy`` falls: every result bank's words in order, bank 0 first.
    done : Out(1)
        The drain has sent every result (until the next ``start``).
    error : Out(1)
        Any engine's sticky error.
    """

    @classmethod
    def check(cls, *, pods: int, engine: dict, net: str = "butterfly", expand: int = 0,
              act_depth: int = 1024, w_depth: int = 1024, res_depth: int = 1024,
              prefix: str | None = None) -> None:  # noqa: ARG003
        p = check_index(pods, "pod count")
        SystemGeometry(p, engine["rows"], engine["cols"], engine["tile"], net, expand)
        Engine.check(**engine)
        for d, what in ((act_depth, "activation"), (w_depth, "weight"), (res_depth, "result")):
            if not 1 <= check_index(d, f"{what} bank depth") <= 1 << 20:
                raise ParamError(f"{what} bank depth must be 1..{1 << 20} words, not {d}",
                                 field="bank_words")

    def __init__(self, *, pods: int, engine: dict, net: str = "butterfly", expand: int = 0,
                 act_depth: int = 1024, w_depth: int = 1024, res_depth: int = 1024,
                 prefix: str | None = None) -> None:
        self.pods = operator.index(pods)
        self.net, self.expand = net, operator.index(expand)
        self.engine_kw = {k: v for k, v in engine.items() if k != "prefix"}
        self.act_depth, self.w_depth = operator.index(act_depth), operator.index(w_depth)
        self.res_depth = operator.index(res_depth)
        self.prefix = prefix
        eng = Engine(**self.engine_kw)  # only for its signature (never elaborated)
        eng._MustUse__silence = True  # noqa: SLF001 (amaranth's UnusedElaboratable marker)
        self._engine_sig = eng.signature
        self._act_w = eng.act.payload.shape().size
        self._w_w = eng.w.payload.shape().size
        self._res_w = eng.res.payload.shape().size
        self.bank_bits = max(1, (self.pods - 1).bit_length())
        self.addr_bits = max(self.act_depth, self.w_depth, self.res_depth,
                             _CFG_STRIDE * self.pods).bit_length()
        self.data_bits = max(self._act_w, self._w_w, 32)
        super().__init__({
            "load": In(stream.Signature(load_layout(self.bank_bits, self.addr_bits,
                                                    self.data_bits), always_ready=True)),
            "start": In(1),
            "busy": Out(1),
            "rd": Out(stream.Signature(data.StructLayout({
                "bank": unsigned(self.bank_bits), "data": unsigned(self._res_w)}))),
            "done": Out(1),
            "error": Out(1),
        })

    # ---- children --------------------------------------------------------------------------
    def make_engine(self) -> Engine:
        return Engine(**self.engine_kw, prefix=self.prefix)

    @property
    def _widths(self) -> dict[str, int]:
        return {"act": self._act_w, "w": self._w_w, "res": self._res_w}

    def slicing(self, kind: str) -> tuple[int, int]:
        """``(slices, slice width)`` of a kind's network. A network of P ports must keep its
        module's inputs under Amaranth's 65,535 bits, so wide beats go through identical
        networks side by side, each carrying a slice of the data: they see the same valid,
        destination and ready, so they route and arbitrate alike (slice 0's control is used).
        """
        width = self._widths[kind]
        cap = max(1, _NET_PORT_BITS // self.pods - self.bank_bits - 4)
        slices = -(-width // cap)
        return slices, -(-width // slices)

    @property
    def slot_params(self) -> dict:
        return {"pods": self.pods, "act_depth": self.act_depth, "w_depth": self.w_depth,
                "res_depth": self.res_depth, "act_width": self._act_w, "w_width": self._w_w,
                "res_width": self._res_w, "addr_bits": self.addr_bits,
                "data_bits": self.data_bits}

    def children(self) -> dict[str, Callable[[], Block]]:
        """Key -> factory of each distinct child (for :func:`gen.hier.emit_hierarchy`)."""
        return self.structure().children()

    # ---- structure --------------------------------------------------------------------------
    def structure(self) -> Structure:
        """The system as instances and wires (:class:`hw.hier.Structure`): per pod a
        :class:`Slot` (its banks, readers, stream FIFOs, writer and configuration) and an
        engine; per kind the network slices; the :class:`SystemCtl`; :class:`Reduce` trees for
        ``error``, "every result written" and the drain's word select. The top holds no logic
        of its own, so its RTLIL is written directly (fast at 256 pods)."""
        if getattr(self, "_structure", None) is not None:
            return self._structure
        P, bb = self.pods, self.bank_bits
        st = Structure(self.signature)
        pre = self.prefix
        W = self._widths
        sp = self.slot_params
        slot_sig = Slot.signature_of(**sp)
        ctl_prm = {"pods": P, "res_depth": self.res_depth, "res_width": self._res_w}
        ctl_sig = SystemCtl.signature_of(**ctl_prm)
        widths = {n: w for n, _i, w in signature_ports(ctl_sig)}
        running = st.wire("running", 1)
        dbank, daddr = st.wire("dbank", widths["dbank"]), st.wire("daddr", widths["daddr"])
        rbank = st.wire("rbank", bb)
        # wires between the networks, the slots and the engines (placed in that order below)
        x: dict[str, list[Sig]] = {}
        for kind in ("act", "w"):
            x[f"{kind}_o_ready"] = [st.wire(f"{kind}_o_ready{k}", 1) for k in range(P)]
            x[f"{kind}_i_valid"] = [st.wire(f"{kind}_i_valid{k}", 1) for k in range(P)]
            x[f"{kind}_i_data"] = [st.wire(f"{kind}_i_data{k}", W[kind]) for k in range(P)]
            x[f"eng_{kind}_ready"] = [st.wire(f"eng_{kind}_ready{k}", 1) for k in range(P)]
        x["res_i_valid"] = [st.wire(f"res_i_valid{k}", 1) for k in range(P)]
        x["res_i_data"] = [st.wire(f"res_i_data{k}", W["res"]) for k in range(P)]
        x["res_ready"] = [st.wire(f"res_ready{k}", 1) for k in range(P)]

        slots, engines = [], []
        for k in range(P):
            conns = {"idx": const(k, bb), "load__valid": st.port("load__valid"),
                     "load__payload": st.port("load__payload"), "start": st.port("start"),
                     "running": running, "daddr": daddr, "dbank": dbank, "rbank": rbank,
                     "res_i_valid": x["res_i_valid"][k], "res_i_data": x["res_i_data"][k]}
            for kind in ("act", "w"):
                conns.update({f"{kind}_o_ready": x[f"{kind}_o_ready"][k],
                              f"{kind}_i_valid": x[f"{kind}_i_valid"][k],
                              f"{kind}_i_data": x[f"{kind}_i_data"][k],
                              f"eng_{kind}__ready": x[f"eng_{kind}_ready"][k]})
            slots.append(st.inst(f"slot{k}", "slot", lambda: Slot(**sp), slot_sig, conns))
        for k in range(P):
            sl = slots[k]
            conns = {"res__ready": x["res_ready"][k]}
            for kind in ("act", "w"):
                conns.update({f"{kind}__valid": sl[f"eng_{kind}__valid"],
                              f"{kind}__payload": sl[f"eng_{kind}__payload"],
                              f"{kind}__ready": x[f"eng_{kind}_ready"][k]})
            engines.append(st.inst(f"engine{k}", "engine", self.make_engine, self._engine_sig,
                                   conns))

        # ---- networks: slice i of every beat through network slice i ------------------------
        srcs = {"act": [(s["act_o_valid"], s["act_o_dest"], s["act_o_data"]) for s in slots],
                "w": [(s["w_o_valid"], s["w_o_dest"], s["w_o_data"]) for s in slots],
                "res": [(e["res__valid"], s["res_dest"], e["res__payload"])
                        for s, e in zip(slots, engines, strict=True)]}
        for kind in ("act", "w", "res"):
            n, sw = self.slicing(kind)
            pad = n * sw - W[kind]
            nprm = {"kind": self.net, "ports": P, "width": sw, "expand": self.expand}
            nsig = Network.signature_of(**nprm)
            for i in range(n):
                conns = {}
                for k, (valid, dest, dat) in enumerate(srcs[kind]):
                    d = cat(dat, const(0, pad))[i * sw:(i + 1) * sw]
                    conns[f"i__{k}__valid"] = valid
                    conns[f"i__{k}__payload"] = cat(dest, d)
                    if i == 0:
                        conns[f"i__{k}__ready"] = (x["res_ready"][k] if kind == "res"
                                                   else x[f"{kind}_o_ready"][k])
                for p in range(P):
                    # slot p's input FIFO (or result writer) takes the beat
                    conns[f"o__{p}__ready"] = (const(1, 1) if kind == "res"
                                               else slots[p][f"{kind}_i_ready"])
                    if i == 0:
                        conns[f"o__{p}__valid"] = x[f"{kind}_i_valid"][p]
                    lo, hi = i * sw, min((i + 1) * sw, W[kind])
                    parts = [st.wire(f"{kind}net{i}_src{p}", bb)]
                    if hi > lo:
                        parts.append(x[f"{kind}_i_data"][p][lo:hi])
                    if (i + 1) * sw > hi:
                        parts.append(st.wire(f"{kind}net{i}_pad{p}", (i + 1) * sw - max(hi, lo)))
                    conns[f"o__{p}__payload"] = cat(*parts)
                st.inst(f"{kind}net{i}", f"net{sw}",
                        lambda nprm=nprm: Network(**nprm, prefix=pre), nsig, conns)

        # ---- reductions and the controller --------------------------------------------------
        err = self._reduce(st, "error_or", "or", [e["error"] for e in engines], 1)
        st.assign(st.port("error"), err)
        all_written = self._reduce(st, "written_and", "and", [s["written"] for s in slots], 1)
        more = self._reduce(st, "more_or", "or", [s["drain_more"] for s in slots], 1)
        rdata = self._reduce(st, "rdata_or", "or", [s["rdata"] for s in slots], W["res"])
        st.inst("ctl", "ctl", lambda: SystemCtl(**ctl_prm), ctl_sig, {
            "start": st.port("start"), "all_written": all_written, "drain_more": more,
            "rdata": rdata, "running": running, "busy": st.port("busy"),
            "done": st.port("done"), "dbank": dbank, "daddr": daddr, "rbank": rbank,
            "rd__valid": st.port("rd__valid"), "rd__payload": st.port("rd__payload"),
            "rd__ready": st.port("rd__ready")})
        self._structure = st
        return st

    @staticmethod
    def _reduce(st: Structure, name: str, op: str, sigs: list[Sig], width: int) -> Sig:
        """Bitwise ``op`` of ``sigs`` as a tree of :class:`Reduce` modules, each within the
        input-bit limit of one module."""
        fan = max(2, _NET_PORT_BITS // width)
        level = 0
        while len(sigs) > 1:
            nxt = []
            for g in range(0, len(sigs), fan):
                grp = sigs[g:g + fan]
                if len(grp) == 1:
                    nxt.append(grp[0])
                    continue
                prm = {"op": op, "inputs": len(grp), "width": width}
                nxt.append(st.inst(f"{name}{level}_{g // fan}", f"{op}{len(grp)}x{width}",
                                   lambda prm=prm: Reduce(**prm), Reduce.signature_of(**prm),
                                   {"i": cat(*grp)})["o"])
            sigs, level = nxt, level + 1
        return sigs[0]

    def elaborate(self, platform):  # noqa: ARG002
        return self.structure().elaborate(self)


class Reduce(Block):
    """Bitwise AND or OR of ``inputs`` words of ``width`` bits (``i`` holds them, word 0 in the
    low bits); combinational."""

    @classmethod
    def check(cls, *, op: str, inputs: int, width: int) -> None:
        if op not in ("and", "or"):
            raise ParamError(f"reduce op must be and or or, not {op!r}", field="op")
        for v, what in ((inputs, "inputs"), (width, "width")):
            if check_index(v, f"reduce {what}") < 1:
                raise ParamError(f"a reduction needs {what} >= 1, not {v}", field="width")

    def __init__(self, *, op: str, inputs: int, width: int) -> None:
        self.op, self.inputs, self.width = op, operator.index(inputs), operator.index(width)
        super().__init__(self.signature_of(op=op, inputs=self.inputs, width=self.width))

    @staticmethod
    def signature_of(*, op: str, inputs: int, width: int) -> wiring.Signature:  # noqa: ARG004
        return wiring.Signature({"i": In(inputs * width), "o": Out(width)})

    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        w = self.width
        acc = self.i[:w]
        for k in range(1, self.inputs):
            word = self.i[k * w:(k + 1) * w]
            acc = (acc & word) if self.op == "and" else (acc | word)
        m.d.comb += self.o.eq(acc)
        return m


class Slot(Block):
    """Everything the system holds per pod k (``idx`` = k, a port, so one module serves every
    pod): the activation and weight banks with their readers and FIFOs, pod k's input FIFOs,
    result bank k with its writer, and the configuration words of bank k.

    Readers stream words ``0 .. count - 1`` at one word per cycle (a 2-entry FIFO after the
    synchronous read; a read is issued only when its word will have room). ``rdata`` is result
    bank k's word at ``daddr`` when ``rbank == idx``, else 0 (the system ORs the slots);
    ``drain_more`` is ``dbank == idx and daddr < res_count``.
    """

    @classmethod
    def check(cls, **kw) -> None:
        for k, v in kw.items():
            if check_index(v, k) < 1:
                raise ParamError(f"slot {k} must be >= 1, not {v}", field="pods")

    def __init__(self, *, pods: int, act_depth: int, w_depth: int, res_depth: int,
                 act_width: int, w_width: int, res_width: int, addr_bits: int,
                 data_bits: int) -> None:
        self.pods = operator.index(pods)
        self.depth = {"act": operator.index(act_depth), "w": operator.index(w_depth),
                      "res": operator.index(res_depth)}
        self.width = {"act": operator.index(act_width), "w": operator.index(w_width),
                      "res": operator.index(res_width)}
        self.addr_bits, self.data_bits = operator.index(addr_bits), operator.index(data_bits)
        super().__init__(self.signature_of(
            pods=pods, act_depth=act_depth, w_depth=w_depth, res_depth=res_depth,
            act_width=act_width, w_width=w_width, res_width=res_width, addr_bits=addr_bits,
            data_bits=data_bits))

    @staticmethod
    def signature_of(*, pods: int, act_depth: int, w_depth: int, res_depth: int,  # noqa: ARG004
                     act_width: int, w_width: int, res_width: int, addr_bits: int,
                     data_bits: int) -> wiring.Signature:
        bb = max(1, (pods - 1).bit_length())
        members = {
            "idx": In(bb),
            "load": In(stream.Signature(load_layout(bb, addr_bits, data_bits),
                                        always_ready=True)),
            "start": In(1), "running": In(1),
            "daddr": In(range(res_depth + 1)), "dbank": In(range(pods + 1)), "rbank": In(bb),
            "res_i_valid": In(1), "res_i_data": In(res_width),
            "res_dest": Out(bb), "written": Out(1), "drain_more": Out(1),
            "rdata": Out(res_width),
        }
        for kind, w in (("act", act_width), ("w", w_width)):
            members.update({
                f"{kind}_o_valid": Out(1), f"{kind}_o_dest": Out(bb), f"{kind}_o_data": Out(w),
                f"{kind}_o_ready": In(1),
                f"{kind}_i_valid": In(1), f"{kind}_i_data": In(w), f"{kind}_i_ready": Out(1),
                f"eng_{kind}": Out(stream.Signature(unsigned(w))),
            })
        return wiring.Signature(members)

    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        bb = len(self.idx)
        ld = self.load.payload
        running = self.running
        cfg = {f: Signal(32, name=f) for f in CONFIG_FIELDS}
        with m.If(self.load.valid & (ld.space == SPACES["config"])):
            for i, f in enumerate(CONFIG_FIELDS):
                with m.If(ld.addr == _CFG_STRIDE * self.idx + i):
                    m.d.sync += cfg[f].eq(ld.data[:32])
        m.d.comb += self.res_dest.eq(cfg["res_dest"][:bb])

        for kind in ("act", "w"):
            depth, width = self.depth[kind], self.width[kind]
            bank = OutputBuffer(depth=depth, width=width)
            m.submodules[f"{kind}_bank"] = bank
            m.d.comb += [
                bank.w_addr.eq(ld.addr), bank.w_data.eq(ld.data[:width]),
                bank.w_en.eq(self.load.valid & (ld.space == SPACES[kind]) & (ld.bank == self.idx)),
            ]
            fifo = m.submodules[f"{kind}_rfifo"] = Fifo2(width=width)
            addr = Signal(range(depth + 1), name=f"{kind}_addr")
            inflight = Signal(name=f"{kind}_inflight")
            issue = Signal(name=f"{kind}_issue")
            pop = Signal(name=f"{kind}_pop")
            ready = getattr(self, f"{kind}_o_ready")
            # level + inflight - pop stays <= 2: issue while it is below 2 (a word popped this
            # cycle makes room), so the stream runs at one word per cycle.
            m.d.comb += [
                issue.eq(running & (addr < cfg[f"{kind}_count"])
                         & (fifo.level + inflight < 2 + pop)),
                bank.r_addr.eq(addr),  # read every cycle; the word is taken when issued
                fifo.w_en.eq(inflight), fifo.w_data.eq(bank.r_data),
                getattr(self, f"{kind}_o_valid").eq(fifo.r_rdy),
                getattr(self, f"{kind}_o_dest").eq(cfg[f"{kind}_dest"][:bb]),
                getattr(self, f"{kind}_o_data").eq(fifo.r_data),
                pop.eq(fifo.r_rdy & ready), fifo.r_en.eq(ready),
            ]
            m.d.sync += inflight.eq(issue)
            with m.If(self.start):
                m.d.sync += addr.eq(0)
            with m.Elif(issue):
                m.d.sync += addr.eq(addr + 1)
            # network output k -> a 2-entry FIFO -> engine k
            ififo = m.submodules[f"{kind}_ififo"] = Fifo2(width=width)
            tgt = getattr(self, f"eng_{kind}")
            i_valid = getattr(self, f"{kind}_i_valid")
            m.d.comb += [getattr(self, f"{kind}_i_ready").eq(ififo.w_rdy),
                         ififo.w_en.eq(i_valid & ififo.w_rdy),
                         ififo.w_data.eq(getattr(self, f"{kind}_i_data")),
                         tgt.valid.eq(ififo.r_rdy), tgt.payload.eq(ififo.r_data),
                         ififo.r_en.eq(tgt.ready)]

        # ---- result bank k: the result network's output k, stored in arrival order ---------
        rp = m.submodules.res_bank = OutputBuffer(depth=self.depth["res"], width=self.width["res"])
        waddr = Signal(range(self.depth["res"] + 1), name="res_waddr")
        m.d.comb += [rp.w_addr.eq(waddr), rp.w_data.eq(self.res_i_data),
                     rp.w_en.eq(self.res_i_valid), rp.r_addr.eq(self.daddr),
                     self.written.eq(waddr == cfg["res_count"]),
                     self.drain_more.eq((self.dbank == self.idx)
                                        & (self.daddr < cfg["res_count"])),
                     self.rdata.eq(Mux(self.rbank == self.idx, rp.r_data, 0))]
        with m.If(self.start):
            m.d.sync += waddr.eq(0)
        with m.Elif(self.res_i_valid):
            m.d.sync += waddr.eq(waddr + 1)
        return m


class SystemCtl(Block):
    """The system's run and drain control: ``running`` from ``start`` until every result is
    written; then the drain walks the result banks (``dbank``, ``daddr``; ``rbank`` is the bank
    whose word arrives on ``rdata`` a cycle later) into a 2-entry FIFO that feeds ``rd``;
    ``done`` after its last beat."""

    @classmethod
    def check(cls, *, pods: int, res_depth: int, res_width: int) -> None:
        for v, what in ((pods, "pods"), (res_depth, "res_depth"), (res_width, "res_width")):
            if check_index(v, what) < 1:
                raise ParamError(f"{what} must be >= 1, not {v}", field="pods")

    def __init__(self, *, pods: int, res_depth: int, res_width: int) -> None:
        self.pods, self.res_depth = operator.index(pods), operator.index(res_depth)
        self.res_width = operator.index(res_width)
        super().__init__(self.signature_of(pods=pods, res_depth=res_depth, res_width=res_width))

    @staticmethod
    def signature_of(*, pods: int, res_depth: int, res_width: int) -> wiring.Signature:
        bb = max(1, (pods - 1).bit_length())
        return wiring.Signature({
            "start": In(1), "all_written": In(1), "drain_more": In(1), "rdata": In(res_width),
            "running": Out(1), "busy": Out(1), "done": Out(1),
            "dbank": Out(range(pods + 1)), "daddr": Out(range(res_depth + 1)), "rbank": Out(bb),
            "rd": Out(stream.Signature(data.StructLayout({
                "bank": unsigned(bb), "data": unsigned(res_width)}))),
        })

    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        P, bb, rw = self.pods, len(self.rbank), self.res_width
        running, dbank, daddr = self.running, self.dbank, self.daddr
        m.d.comb += self.busy.eq(running)
        with m.If(self.start):
            m.d.sync += [running.eq(1), self.done.eq(0)]
        with m.Elif(running & self.all_written):
            m.d.sync += running.eq(0)

        draining = Signal(name="draining")
        with m.If(running & self.all_written):
            m.d.sync += [draining.eq(1), dbank.eq(0), daddr.eq(0)]
        fifo = m.submodules.drain_fifo = Fifo2(width=rw + bb)
        inflight = Signal(name="drain_inflight")
        issue = Signal(name="drain_issue")
        # drain_more = (dbank < P) and daddr < the count of result bank dbank
        m.d.comb += issue.eq(draining & self.drain_more
                             & (fifo.level + inflight < 2 + (fifo.r_rdy & self.rd.ready)))
        m.d.sync += [inflight.eq(issue), self.rbank.eq(dbank[:bb])]
        with m.If(issue):
            m.d.sync += daddr.eq(daddr + 1)
        with m.Elif(draining & (dbank < P) & ~self.drain_more):
            m.d.sync += [dbank.eq(dbank + 1), daddr.eq(0)]
        m.d.comb += [fifo.w_en.eq(inflight), fifo.w_data.eq(Cat(self.rdata, self.rbank)),
                     self.rd.valid.eq(fifo.r_rdy),
                     self.rd.payload.data.eq(fifo.r_data[:rw]),
                     self.rd.payload.bank.eq(fifo.r_data[rw:]),
                     fifo.r_en.eq(self.rd.ready)]
        with m.If(draining & (dbank == P) & ~inflight & ~fifo.r_rdy):
            m.d.sync += [draining.eq(0), self.done.eq(1)]
        return m
