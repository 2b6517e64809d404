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

from amaranth.hdl import Cat, Module, Signal, unsigned
from amaranth.lib import data, stream
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.facts import ParamError, check_index
from golden.scaleout import SystemGeometry
from hw.block import Block
from hw.engine import Engine
from hw.hier import place
from hw.network import Network

__all__ = ["System", "CONFIG_FIELDS", "SPACES"]

#: ``load.space`` values: which address space a load beat writes.
SPACES = {"act": 0, "w": 1, "config": 2}
#: Configuration words per bank, at ``addr = 8 * bank + index``.
CONFIG_FIELDS = ("act_count", "act_dest", "w_count", "w_dest", "res_count", "res_dest")
_CFG_STRIDE = 8


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
    def _nets(self) -> dict[str, int]:
        return {"actnet": self._act_w, "wnet": self._w_w, "resnet": self._res_w}

    def children(self) -> dict[str, Callable[[], Block]]:
        out: dict[str, Callable[[], Block]] = {"engine": self.make_engine}
        for key, width in self._nets.items():
            out[key] = self._make_net(width)
        return out

    def _place(self, m: Module, name: str, key: str):
        if key == "engine":
            sig = self._engine_sig
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

        nets = {key: self._place(m, key, key) for key in self._nets}
        engines = [self._place(m, f"engine{p}", "engine") for p in range(P)]
        m.d.comb += self.error.eq(Cat(*(e.error for e in engines)).any())

        # ---- readers: bank k -> network input k --------------------------------------------
        for kind, depth, width in (("act", self.act_depth, self._act_w),
                                   ("w", self.w_depth, self._w_w)):
            net = nets[f"{kind}net"]
            for k in range(P):
                mem = Memory(shape=unsigned(width), depth=depth, init=[])
                m.submodules[f"{kind}_bank{k}"] = mem
                wp, rp = mem.write_port(), mem.read_port()
                m.d.comb += [
                    wp.addr.eq(ld.addr), wp.data.eq(ld.data[:width]),
                    wp.en.eq(self.load.valid & (ld.space == SPACES[kind]) & (ld.bank == k)),
                ]
                # A 2-entry FIFO after the synchronous read: a read is issued only when its
                # word will have room.
                fifo = SyncFIFO(width=width, depth=2)
                m.submodules[f"{kind}_rfifo{k}"] = fifo
                addr = Signal(range(depth + 1), name=f"{kind}_addr{k}")
                inflight = Signal(name=f"{kind}_inflight{k}")
                count = cfg[f"{kind}_count"][k]
                issue = Signal(name=f"{kind}_issue{k}")
                pop = Signal(name=f"{kind}_pop{k}")
                # level + inflight - pop stays <= 2: issue while it is below 2 (a word popped
                # this cycle makes room), so the stream runs at one word per cycle.
                m.d.comb += [
                    issue.eq(running & (addr < count) & (fifo.level + inflight < 2 + pop)),
                    rp.addr.eq(addr), rp.en.eq(issue),
                    fifo.w_en.eq(inflight), fifo.w_data.eq(rp.data),
                ]
                m.d.sync += inflight.eq(issue)
                with m.If(self.start):
                    m.d.sync += addr.eq(0)
                with m.Elif(issue):
                    m.d.sync += addr.eq(addr + 1)
                port = net.i[k]
                m.d.comb += [port.valid.eq(fifo.r_rdy),
                             port.payload.data.eq(fifo.r_data),
                             port.payload.dest.eq(cfg[f"{kind}_dest"][k][:bb]),
                             pop.eq(fifo.r_rdy & port.ready), fifo.r_en.eq(port.ready)]
            # network output p -> a 2-entry FIFO -> engine p (its stream has ready)
            for p in range(P):
                o = net.o[p]
                fifo = SyncFIFO(width=width, depth=2)
                m.submodules[f"{kind}_ififo{p}"] = fifo
                tgt = getattr(engines[p], kind)
                m.d.comb += [fifo.w_en.eq(o.valid), fifo.w_data.eq(o.payload.data),
                             o.ready.eq(fifo.w_rdy),
                             tgt.valid.eq(fifo.r_rdy), tgt.payload.as_value().eq(fifo.r_data),
                             fifo.r_en.eq(tgt.ready)]

        # ---- results: engine p -> result network -> writer k -> bank k -----------------------
        rnet = nets["resnet"]
        written = []
        rd_ports = []
        for p in range(P):
            e, port = engines[p], rnet.i[p]
            m.d.comb += [port.valid.eq(e.res.valid), port.payload.data.eq(e.res.payload),
                         port.payload.dest.eq(cfg["res_dest"][p][:bb]), e.res.ready.eq(port.ready)]
        for k in range(P):
            mem = Memory(shape=unsigned(self._res_w), depth=self.res_depth, init=[])
            m.submodules[f"res_bank{k}"] = mem
            wp, rp = mem.write_port(), mem.read_port()
            o = rnet.o[k]
            waddr = Signal(range(self.res_depth + 1), name=f"res_waddr{k}")
            m.d.comb += [o.ready.eq(1), wp.addr.eq(waddr), wp.data.eq(o.payload.data),
                         wp.en.eq(o.valid)]
            with m.If(self.start):
                m.d.sync += waddr.eq(0)
            with m.Elif(o.valid):
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
        fifo = SyncFIFO(width=self._res_w + bb, depth=2)
        m.submodules.drain_fifo = fifo
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
            m.d.comb += [rp.addr.eq(daddr), rp.en.eq(issue & (dbank == k))]
            with m.If(rbank == k):
                m.d.comb += rdata.eq(rp.data)
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
