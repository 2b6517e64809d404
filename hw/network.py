"""The scale-out interconnects: N input streams to N output streams through a switch network.

SOSA (REFERENCE.md section 7) connects N buffer banks to N pods through a Butterfly (with
expansion factor ``2^e``), Benes, crossbar or bus. :class:`Network` builds any of them as a
packet-switched network of one-entry link registers, elaborated from the one structural
description :func:`golden.network.topology` (nodes, links, routing rules), which the
cycle-exact twin :func:`golden.network.simulate` also runs. Docs: ``docs/network.md``.

Every beat carries its destination; the network adds its source. Every contention point (a
switch output, a merge, the bus) has a round-robin arbiter, and every link register passes one
beat per cycle under backpressure because ``ready`` is combinational from the outputs back to
the inputs (a register takes a beat when it is empty or its own beat leaves in the same cycle).
Routing depends only on ``(src, dest)``, so a pair's beats share one path and stay in order;
nothing is dropped, and a stalled output holds only the beats queued for it (and, through
head-of-line blocking, the links they occupy).

Each node is a :class:`Switch` (k inputs, m one-entry output registers, an arbiter per output);
the network computes each input's requested output from the beat's ``(src, dest)`` and wires
the switches. With ``prefix`` every distinct switch is one Verilog module, emitted once.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.facts import ParamError, check_index
from golden.network import NetworkSpec, Route, Topology, check_network, topology
from hw.block import MAX_INPUT_BITS, Block
from hw.hier import Sig, Structure, cat, const

__all__ = ["Network", "Switch", "NetInBeat", "NetOutBeat", "NetBeat"]


class NetInBeat(data.StructLayout):
    """An input beat: ``dest`` (``ceil(log2 N)`` bits) then ``data`` (``width`` bits)."""

    def __init__(self, dest_bits: int, width: int):
        super().__init__({"dest": unsigned(dest_bits), "data": unsigned(width)})


class NetOutBeat(data.StructLayout):
    """An output beat: ``src`` (the input it entered at, ``ceil(log2 N)`` bits) then ``data``."""

    def __init__(self, dest_bits: int, width: int):
        super().__init__({"src": unsigned(dest_bits), "data": unsigned(width)})


class NetBeat(data.StructLayout):
    """A beat inside the network (a link register): ``src``, ``dest``, ``data``."""

    def __init__(self, dest_bits: int, width: int):
        super().__init__({"src": unsigned(dest_bits), "dest": unsigned(dest_bits),
                          "data": unsigned(width)})


class Network(Block):
    """N input streams ``i[s]`` to N output streams ``o[d]`` through a ``kind`` network.

    Parameters
    ----------
    kind:
        ``"butterfly"``, ``"benes"``, ``"crossbar"`` or ``"bus"``.
    ports:
        N: a power of two >= 2 for butterfly and Benes, any 1..1024 for crossbar and bus.
    width:
        Data bits per beat (>= 1).
    expand:
        Butterfly only: ``2^expand`` parallel planes (0..4, ``2^expand <= ports``); a pair
        ``(s, d)`` always uses plane ``(s ^ d) mod 2^expand``.
    prefix:
        Module-name prefix: each distinct :class:`Switch` becomes one module
        ``<prefix>_sw<k>x<m>_<bits>``, instantiated per node (:func:`gen.hier.emit_hierarchy`
        emits it once); ``None`` builds the switches as plain submodules (the Python
        simulator).

    Ports
    -----
    i : In(stream).array(N)
        ``i__<s>__payload`` = ``dest`` then ``data`` (:class:`NetInBeat`), ``i__<s>__valid``,
        ``i__<s>__ready``. A beat whose ``dest`` is not a port (N not a power of two) is never
        accepted.
    o : Out(stream).array(N)
        ``o__<d>__payload`` = ``src`` then ``data`` (:class:`NetOutBeat`), with backpressure:
        a beat is held until ``o__<d>__ready``.

    Latency and throughput
    ----------------------
    Zero-load latency (a beat accepted in cycle c leaves in cycle c + L, one register per
    stage): crossbar 1, bus 1, Benes ``2n - 1``, butterfly ``n + 2e`` (``n = log2 N``). Every
    link carries one beat per cycle; saturation throughput (accepted beats per cycle per input,
    measured by :func:`golden.network.saturation_throughput`; table in docs/network.md):
    crossbar 1.0 under a permutation and about 0.59 under uniform random traffic (head-of-line
    blocking), bus ``1/N``, butterfly and Benes between about 0.4 and 1.0 depending on N, the
    expansion and the traffic.
    """

    @classmethod
    def check(cls, *, kind: str, ports: int, width: int, expand: int = 0,
              prefix: str | None = None) -> None:  # noqa: ARG003
        spec = check_network(kind=kind, ports=ports, width=width, expand=expand)
        # inputs of the module: N x (payload + valid) + N ready
        bits = spec.ports * (spec.dest_bits + spec.width + 2)
        if bits > MAX_INPUT_BITS:
            raise ParamError(
                f"{spec.ports} ports of {spec.width} data bits need {bits:,} input bits, more "
                f"than the {MAX_INPUT_BITS:,} a module may have (Amaranth's limit): use fewer "
                "ports or a narrower width", field="width")

    def __init__(self, *, kind: str, ports: int, width: int, expand: int = 0,
                 prefix: str | None = None) -> None:
        self.spec: NetworkSpec = check_network(kind=kind, ports=ports, width=width,
                                               expand=expand)
        self.kind = self.spec.kind
        self.ports, self.width, self.expand = (operator.index(self.spec.ports),
                                               self.spec.width, self.spec.expand)
        self.dest_bits = self.spec.dest_bits
        self.topology: Topology = topology(self.kind, self.ports, self.expand)
        self.prefix = prefix
        super().__init__(self.signature_of(kind=kind, ports=ports, width=width, expand=expand))

    @staticmethod
    def signature_of(*, kind: str, ports: int, width: int, expand: int = 0) -> wiring.Signature:
        """The signature of ``Network(...)`` without building one (a parent placing it as a
        separate module, :func:`hw.hier.place`)."""
        spec = check_network(kind=kind, ports=ports, width=width, expand=expand)
        db, w = spec.dest_bits, spec.width
        return wiring.Signature({
            "i": In(stream.Signature(NetInBeat(db, w))).array(spec.ports),
            "o": Out(stream.Signature(NetOutBeat(db, w))).array(spec.ports),
        })

    @property
    def latency(self) -> int:
        """Zero-load latency in cycles (register stages on every path)."""
        return self.topology.stages

    @property
    def register_bits(self) -> int:
        """Bits held in the link registers (valid, src, dest, data each)."""
        return self.topology.registers * (1 + 2 * self.dest_bits + self.width)

    # ---- children ---------------------------------------------------------------------------
    @property
    def beat_bits(self) -> int:
        """Bits of a beat inside the network: ``src``, ``dest``, ``data``."""
        return 2 * self.dest_bits + self.width

    def _switch_params(self, node) -> dict:
        """Parameters of the :class:`Switch` at ``node``: its shape and routing rule. (A beat
        whose ``dest`` is not a port, in a network whose N is not a power of two, meets a
        crossbar or bus node routed by ``dest``: it requests no output, so it is never taken.)"""
        return {"inputs": len(node.inputs), "outputs": len(node.outputs),
                "bits": self.beat_bits, "dest_bits": self.dest_bits, "route": node.route,
                "single": node.single}

    def children(self) -> dict[str, Callable[[], Block]]:
        """Distinct switch modules, ``<prefix>_sw<k>x<m>_<bits>[_rule]`` (none without a
        prefix: then every switch is a plain submodule)."""
        return {} if self.prefix is None else self.structure().children()

    def structure(self) -> Structure:
        """The network as switches and wires (:class:`hw.hier.Structure`); both the Amaranth
        module and the emitted RTLIL come from it."""
        if getattr(self, "_structure", None) is not None:
            return self._structure
        topo, N, db = self.topology, self.ports, self.dest_bits
        st = Structure(self.signature, clocked=True)
        # Per link: its valid, its beat (src, dest, data) and the ready its consumer drives.
        valid: dict[int, Sig] = {}
        beat: dict[int, Sig] = {}
        ready: dict[int, Sig] = {}
        for s_ in range(N):
            # An input stream is a link without a register: its beat gets the source number.
            valid[s_] = st.port(f"i__{s_}__valid")
            beat[s_] = cat(const(s_, db), st.port(f"i__{s_}__payload"))
            ready[s_] = st.port(f"i__{s_}__ready")
        outs = {ln: d for d, ln in enumerate(topo.outputs)}
        for node in topo.nodes:
            for ln in node.outputs:
                if ln in outs:
                    d = outs[ln]
                    ready[ln] = st.port(f"o__{d}__ready")
                else:
                    ready[ln] = st.wire(f"l{ln}_ready", 1)
        for node in topo.nodes:
            prm = self._switch_params(node)
            key = Switch.key(**prm)
            conns: dict[str, Sig] = {}
            for ii, ln in enumerate(node.inputs):
                conns.update({f"i__{ii}__valid": valid[ln], f"i__{ii}__payload": beat[ln],
                              f"i__{ii}__ready": ready[ln]})
            for j, ln in enumerate(node.outputs):
                conns[f"o__{j}__ready"] = ready[ln]
                if ln in outs:  # a network output: src and data, the dest bits dropped
                    d = outs[ln]
                    pay = st.port(f"o__{d}__payload")
                    conns[f"o__{j}__valid"] = st.port(f"o__{d}__valid")
                    conns[f"o__{j}__payload"] = cat(pay[:db], st.wire(f"o{d}_dest", db),
                                                    pay[db:])
            o = st.inst(node.name, key, lambda prm=prm: Switch(**prm),
                        Switch.signature_of(**prm), conns)
            for j, ln in enumerate(node.outputs):
                if ln not in outs:
                    valid[ln], beat[ln] = o[f"o__{j}__valid"], o[f"o__{j}__payload"]
        self._structure = st
        return st

    # ---- elaboration ------------------------------------------------------------------------
    def elaborate(self, platform):  # noqa: ARG002
        return self.structure().elaborate(self)


class Switch(Block):
    """One network node: ``inputs`` streams to ``outputs`` one-entry registers, a round-robin
    arbiter per output (the semantics of :mod:`golden.network`).

    Ports: ``i[k]`` (``payload``: a beat of ``bits`` bits, ``src`` in its low ``dest_bits``,
    ``dest`` in the next ``dest_bits``, then data), ``o[j]`` (the register: ``valid``,
    ``payload`` = the beat). Each input requests the output its beat's ``(src, dest)`` selects
    under ``route`` (:class:`golden.network.Route`; routed by ``dest``, a beat whose ``dest``
    names no output requests nothing). A register
    takes the winning beat when it is empty or its own beat leaves in the same cycle, so
    ``i[k].ready`` is combinational in ``o[*].ready``. Latency 1, one beat per cycle per
    output; with ``single`` (the bus) one beat per cycle in all: one round-robin arbiter over
    the inputs whose requested register can take a beat.
    """

    @classmethod
    def check(cls, *, inputs: int, outputs: int, bits: int, dest_bits: int = 0,
              route: Route | None = None, single: bool = False) -> None:  # noqa: ARG003
        for v, what in ((inputs, "inputs"), (outputs, "outputs"), (bits, "bits")):
            if check_index(v, f"switch {what}") < 1:
                raise ParamError(f"a switch needs {what} >= 1, not {v}", field="ports")
        if 2 * check_index(dest_bits, "dest bits") > bits:
            raise ParamError(f"a beat of {bits} bits cannot hold src and dest of {dest_bits} "
                             "bits each", field="width")

    def __init__(self, *, inputs: int, outputs: int, bits: int, dest_bits: int = 0,
                 route: Route | None = None, single: bool = False) -> None:
        self.single = bool(single)
        self.inputs, self.outputs = operator.index(inputs), operator.index(outputs)
        self.bits, self.dest_bits = operator.index(bits), operator.index(dest_bits)
        self.route = route or Route("one")
        super().__init__(self.signature_of(inputs=self.inputs, outputs=self.outputs,
                                           bits=self.bits))

    @staticmethod
    def key(*, inputs: int, outputs: int, bits: int, dest_bits: int = 0,
            route: Route | None = None, single: bool = False) -> str:
        """The module key of a switch (every parameter that changes its logic)."""
        r = route or Route("one")
        rule = {"one": "", "dest": "_d"}.get(r.kind, f"_s{r.smask:x}d{r.dmask:x}")
        return (f"sw{inputs}x{outputs}_{bits}" + (f"_b{dest_bits}" if rule else "") + rule
                + ("_1g" if single else ""))

    @staticmethod
    def signature_of(*, inputs: int, outputs: int, bits: int, **_: object) -> wiring.Signature:
        return wiring.Signature({
            "i": In(stream.Signature(unsigned(bits))).array(inputs),
            "o": Out(stream.Signature(unsigned(bits))).array(outputs),
        })

    @property
    def routed(self) -> bool:
        """Inputs request an output by their beat (``route`` is not ``"one"``)."""
        return self.route.kind != "one"

    def _request(self, beat) -> Value:
        """The output the beat requests (a Value; 0 when not :attr:`routed`)."""
        r = self.route
        b = data.View(NetBeat(self.dest_bits, self.bits - 2 * self.dest_bits), beat)
        src, dest = b.src, b.dest
        if not self.routed:
            return Const(0, 1)
        if r.kind == "dest":
            return dest
        par = Const(0, 1)
        if r.smask:
            par = par ^ (src & r.smask).xor()
        if r.dmask:
            par = par ^ (dest & r.dmask).xor()
        return par

    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        k = self.inputs
        takes: list[list] = [[] for _ in range(k)]
        routes = [self._request(p.payload) for p in self.i]
        live = [p.valid for p in self.i]
        if self.single:
            return self._elaborate_single(m, live, routes)
        for j, o in enumerate(self.o):
            req = Signal(k, name=f"req{j}")
            m.d.comb += req.eq(Cat(ok & (r == j if self.routed else 1)
                                   for ok, r in zip(live, routes, strict=True)))
            if k == 1:
                grant = req
            elif k == 2:
                # Two inputs (every 2x2 switch and merge): one pointer bit, "input 1 first".
                first1 = Signal(name=f"rr{j}")
                grant = Signal(2, name=f"grant{j}")
                g1 = req[1] & (first1 | ~req[0])
                m.d.comb += grant.eq(Cat(req[0] & ~g1, g1))
            else:
                # Round robin: ``mask`` has the bits above the last winner; the lowest request
                # in it wins, else the lowest request (x & -x isolates the lowest set bit).
                mask = Signal(k, name=f"rr{j}")
                hi = Signal(k, name=f"hi{j}")
                grant = Signal(k, name=f"grant{j}")
                m.d.comb += [hi.eq(req & mask),
                             grant.eq(Mux(hi.any(), hi & (~hi + 1), req & (~req + 1)))]
            # the register takes a beat when it is empty or its beat leaves this cycle
            fire = Signal(name=f"fire{j}")
            m.d.comb += fire.eq(req.any() & (~o.valid | o.ready))
            sel = Const(0, self.bits)
            for ii, p in enumerate(self.i):
                sel = sel | Mux(grant[ii], p.payload, 0)
                takes[ii].append(grant[ii] & fire)
            reg_valid = Signal(name=f"valid{j}")  # reset: empty
            reg = Signal(self.bits, name=f"beat{j}", reset_less=True)
            m.d.comb += [o.valid.eq(reg_valid), o.payload.eq(reg)]
            with m.If(fire):
                m.d.sync += [reg_valid.eq(1), reg.eq(sel)]
                if k == 2:
                    m.d.sync += first1.eq(grant[0])
                elif k > 2:
                    m.d.sync += mask.eq(~(grant | (grant - 1)))
            with m.Elif(o.ready):
                m.d.sync += reg_valid.eq(0)
        for ii, p in enumerate(self.i):
            acc = Const(0, 1)
            for t in takes[ii]:
                acc = acc | t
            m.d.comb += p.ready.eq(acc)
        return m

    def _elaborate_single(self, m: Module, live: list, routes: list) -> Module:
        """The bus: one round-robin arbiter over the inputs whose requested output register is
        empty or empties this cycle; the winner's beat goes into that register."""
        k = self.inputs
        multi = self.routed
        can_take = [~o.valid | o.ready for o in self.o]
        elig = Signal(k, name="elig")
        m.d.comb += elig.eq(Cat(
            ok & (Cat(*((r == j) & ct for j, ct in enumerate(can_take))).any() if multi
                  else can_take[0])
            for ok, r in zip(live, routes, strict=True)))
        grant = Signal(k, name="grant")
        if k == 1:
            m.d.comb += grant.eq(elig)
        else:
            # ``mask``: the inputs above the last winner; the lowest eligible one in it wins,
            # else the lowest eligible one (the golden twin's pointer).
            mask = Signal(k, name="rr")
            hi = Signal(k, name="hi")
            m.d.comb += [hi.eq(elig & mask),
                         grant.eq(Mux(hi.any(), hi & (~hi + 1), elig & (~elig + 1)))]
            with m.If(elig.any()):
                m.d.sync += mask.eq(~(grant | (grant - 1)))
        sel = Const(0, self.bits)
        for ii, p in enumerate(self.i):
            sel = sel | Mux(grant[ii], p.payload, 0)
            m.d.comb += p.ready.eq(grant[ii])
        for j, o in enumerate(self.o):
            fire = Signal(name=f"fire{j}")
            m.d.comb += fire.eq(Cat(*(g & ((r == j) if multi else 1)
                                      for g, r in zip(grant, routes, strict=True))).any())
            reg_valid = Signal(name=f"valid{j}")
            reg = Signal(self.bits, name=f"beat{j}", reset_less=True)
            m.d.comb += [o.valid.eq(reg_valid), o.payload.eq(reg)]
            with m.If(fire):
                m.d.sync += [reg_valid.eq(1), reg.eq(sel)]
            with m.Elif(o.ready):
                m.d.sync += reg_valid.eq(0)
        return m
