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

from amaranth.hdl import Cat, Const, Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.facts import ParamError, check_index
from golden.scaleout import SystemGeometry
from hw.block import Block
from hw.engine import Engine, OutputBuffer
from hw.hier import place
from hw.network import Network

__all__ = ["System", "CONFIG_FIELDS", "SPACES"]

#: ``load.space`` values: which address space a load beat writes.
SPACES = {"act": 0, "w": 1, "config": 2}
#: Configuration words per bank, at ``addr = 8 * bank + index``.
CONFIG_FIELDS = ("act_count", "act_dest", "w_count", "w_dest", "res_count", "res_dest")
_CFG_STRIDE = 8
#: Input bits a network module may have (Amaranth's limit is 65,535 per cell).
_NET_PORT_BITS = 60000


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
            "load": In(stream.Signature(data.StructLayout({
                "space": unsigned(2), "bank": unsigned(self.bank_bits),
                "addr": unsigned(self.addr_bits), "data": unsigned(self.data_bits)}),
                always_ready=True)),
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

    def _make_net(self, width: int) -> Callable[[], Network]:
        return lambda: Network(kind=self.net, ports=self.pods, width=width,
                               expand=self.expand, prefix=self.prefix)

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
    def _nets(self) -> dict[str, int]:
        """net module key -> slice width (kinds with equal slices share one module)."""
        return {f"net{self.slicing(k)[1]}": self.slicing(k)[1] for k in self._widths}

    @property
    def _banks(self) -> dict[str, tuple[int, int]]:
        """key -> (depth, width) of each kind of bank."""
        return {"act": (self.act_depth, self._act_w), "w": (self.w_depth, self._w_w),
                "res": (self.res_depth, self._res_w)}

    @property
    def _fifo_widths(self) -> set[int]:
        return {self._act_w, self._w_w, self._res_w + self.bank_bits}

    def children(self) -> dict[str, Callable[[], Block]]:
        out: dict[str, Callable[[], Block]] = {"engine": self.make_engine}
        for key, width in self._nets.items():
            out[key] = self._make_net(width)
        for kind, (depth, width) in self._banks.items():
            out[f"{kind}bank"] = (lambda d=depth, w=width: OutputBuffer(depth=d, width=w))
        for w in sorted(self._fifo_widths):
            out[f"fifo{w}"] = (lambda w=w: Fifo2(width=w))
        return out

    def _place(self, m: Module, name: str, key: str):
        if key == "engine":
            sig = self._engine_sig
        elif key.endswith("bank"):
            depth, width = self._banks[key[:-4]]
            sig = OutputBuffer.signature_of(depth=depth, width=width)
        elif key.startswith("fifo"):
            sig = Fifo2.signature_of(width=int(key[4:]))
        else:
            sig = Network.signature_of(kind=self.net, ports=self.pods, width=self._nets[key],
                                       expand=self.expand)
        return place(m, name, self.children()[key], sig,
                     None if self.prefix is None else f"{self.prefix}_{key}")

    # ---- RTL --------------------------------------------------------------------------------
    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        P, bb = self.pods, self.bank_bits
        ld = self.load.payload
        running = Signal()
        m.d.comb += self.busy.eq(running)

        # ---- configuration registers -------------------------------------------------------
        cfg = {f: [Signal(32, name=f"{f}{k}") for k in range(P)] for f in CONFIG_FIELDS}
        with m.If(self.load.valid & (ld.space == SPACES["config"])):
            for k in range(P):
                for i, f in enumerate(CONFIG_FIELDS):
                    with m.If(ld.addr == _CFG_STRIDE * k + i):
                        m.d.sync += cfg[f][k].eq(ld.data[:32])

        nets = {}
        for kind in self._widths:
            n, sw = self.slicing(kind)
            nets[kind] = [self._place(m, f"{kind}net{i}", f"net{sw}") for i in range(n)]

        def net_in(kind: str, k: int, valid, dest, data):
            """Drive input k of every slice; return the (common) ready."""
            n, sw = self.slicing(kind)
            d = Cat(data, Const(0, n * sw - len(data)))
            for i, net in enumerate(nets[kind]):
                m.d.comb += [net.i[k].valid.eq(valid), net.i[k].payload.dest.eq(dest),
                             net.i[k].payload.data.eq(d[i * sw:(i + 1) * sw])]
            return nets[kind][0].i[k].ready

        def net_out(kind: str, p: int, ready):
            """Output p of the slices: (valid, data); every slice takes ``ready``."""
            for net in nets[kind]:
                m.d.comb += net.o[p].ready.eq(ready)
            data = Cat(*(net.o[p].payload.data for net in nets[kind]))
            return nets[kind][0].o[p].valid, data[:self._widths[kind]]

        engines = [self._place(m, f"engine{p}", "engine") for p in range(P)]
        m.d.comb += self.error.eq(Cat(*(e.error for e in engines)).any())

        # ---- readers: bank k -> network input k --------------------------------------------
        for kind, depth, width in (("act", self.act_depth, self._act_w),
                                   ("w", self.w_depth, self._w_w)):
            for k in range(P):
                bank = self._place(m, f"{kind}_bank{k}", f"{kind}bank")
                m.d.comb += [
                    bank.w_addr.eq(ld.addr), bank.w_data.eq(ld.data[:width]),
                    bank.w_en.eq(self.load.valid & (ld.space == SPACES[kind]) & (ld.bank == k)),
                ]
                # A 2-entry FIFO after the synchronous read: a read is issued only when its
                # word will have room.
                fifo = self._place(m, f"{kind}_rfifo{k}", f"fifo{width}")
                addr = Signal(range(depth + 1), name=f"{kind}_addr{k}")
                inflight = Signal(name=f"{kind}_inflight{k}")
                count = cfg[f"{kind}_count"][k]
                issue = Signal(name=f"{kind}_issue{k}")
                pop = Signal(name=f"{kind}_pop{k}")
                # level + inflight - pop stays <= 2: issue while it is below 2 (a word popped
                # this cycle makes room), so the stream runs at one word per cycle.
                m.d.comb += [
                    issue.eq(running & (addr < count) & (fifo.level + inflight < 2 + pop)),
                    bank.r_addr.eq(addr),  # read every cycle; the word is taken when issued
                    fifo.w_en.eq(inflight), fifo.w_data.eq(bank.r_data),
                ]
                m.d.sync += inflight.eq(issue)
                with m.If(self.start):
                    m.d.sync += addr.eq(0)
                with m.Elif(issue):
                    m.d.sync += addr.eq(addr + 1)
                ready = net_in(kind, k, fifo.r_rdy, cfg[f"{kind}_dest"][k][:bb], fifo.r_data)
                m.d.comb += [pop.eq(fifo.r_rdy & ready), fifo.r_en.eq(ready)]
            # network output p -> a 2-entry FIFO -> engine p (its stream has ready)
            for p in range(P):
                fifo = self._place(m, f"{kind}_ififo{p}", f"fifo{width}")
                o_valid, o_data = net_out(kind, p, fifo.w_rdy)
                tgt = getattr(engines[p], kind)
                m.d.comb += [fifo.w_en.eq(o_valid & fifo.w_rdy), fifo.w_data.eq(o_data),
                             tgt.valid.eq(fifo.r_rdy), tgt.payload.as_value().eq(fifo.r_data),
                             fifo.r_en.eq(tgt.ready)]

        # ---- results: engine p -> result network -> writer k -> bank k -----------------------
        written = []
        rd_ports = []
        for p in range(P):
            e = engines[p]
            ready = net_in("res", p, e.res.valid, cfg["res_dest"][p][:bb],
                           e.res.payload.as_value())
            m.d.comb += e.res.ready.eq(ready)
        for k in range(P):
            rp = self._place(m, f"res_bank{k}", "resbank")
            o_valid, o_data = net_out("res", k, 1)
            waddr = Signal(range(self.res_depth + 1), name=f"res_waddr{k}")
            m.d.comb += [rp.w_addr.eq(waddr), rp.w_data.eq(o_data), rp.w_en.eq(o_valid)]
            with m.If(self.start):
                m.d.sync += waddr.eq(0)
            with m.Elif(o_valid):
                m.d.sync += waddr.eq(waddr + 1)
            written.append(waddr == cfg["res_count"][k])
            rd_ports.append(rp)

        all_written = Cat(*written).all()
        with m.If(self.start):
            m.d.sync += [running.eq(1), self.done.eq(0)]
        with m.Elif(running & all_written):
            m.d.sync += running.eq(0)

        # ---- drain: result banks out on rd, bank by bank -----------------------------------
        dbank = Signal(range(P + 1), name="drain_bank")
        daddr = Signal(range(self.res_depth + 1), name="drain_addr")
        draining = Signal(name="draining")
        with m.If(running & all_written):
            m.d.sync += [draining.eq(1), dbank.eq(0), daddr.eq(0)]
        fifo = self._place(m, "drain_fifo", f"fifo{self._res_w + bb}")
        inflight = Signal(name="drain_inflight")
        cur_count = Signal(32, name="drain_count")
        m.d.comb += cur_count.eq(0)
        for k in range(P):
            with m.If(dbank == k):
                m.d.comb += cur_count.eq(cfg["res_count"][k])
        issue = Signal(name="drain_issue")
        m.d.comb += issue.eq(draining & (dbank < P) & (daddr < cur_count)
                             & (fifo.level + inflight < 2 + (fifo.r_rdy & self.rd.ready)))
        rdata = Signal(self._res_w, name="drain_data")
        rbank = Signal(bb, name="drain_rbank")
        for k, rp in enumerate(rd_ports):
            m.d.comb += rp.r_addr.eq(daddr)
            with m.If(rbank == k):
                m.d.comb += rdata.eq(rp.r_data)
        m.d.sync += [inflight.eq(issue), rbank.eq(dbank[:bb])]
        with m.If(issue):
            m.d.sync += daddr.eq(daddr + 1)
        with m.Elif(draining & (dbank < P) & (daddr >= cur_count)):
            m.d.sync += [dbank.eq(dbank + 1), daddr.eq(0)]
        m.d.comb += [fifo.w_en.eq(inflight), fifo.w_data.eq(Cat(rdata, rbank)),
                     self.rd.valid.eq(fifo.r_rdy),
                     self.rd.payload.data.eq(fifo.r_data[:self._res_w]),
                     self.rd.payload.bank.eq(fifo.r_data[self._res_w:]),
                     fifo.r_en.eq(self.rd.ready)]
        with m.If(draining & (dbank == P) & ~inflight & ~fifo.r_rdy):
            m.d.sync += [draining.eq(0), self.done.eq(1)]
        return m
