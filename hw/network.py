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

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.facts import ParamError, check_index
from golden.network import NetworkSpec, Route, Topology, check_network, topology
from hw.block import MAX_INPUT_BITS, Block
from hw.hier import place

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

    def _switch_key(self, k: int, m: int) -> str:
        return f"sw{k}x{m}_{self.beat_bits}"

    def _switch_shapes(self) -> dict[str, tuple[int, int]]:
        return {self._switch_key(len(nd.inputs), len(nd.outputs)):
                (len(nd.inputs), len(nd.outputs)) for nd in self.topology.nodes}

    def children(self) -> dict[str, Callable[[], Block]]:
        """Distinct switch modules, ``<prefix>_sw<k>x<m>_<bits>`` (none without a prefix)."""
        if self.prefix is None:
            return {}
        return {key: self._make_switch(k, m) for key, (k, m) in self._switch_shapes().items()}

    def _make_switch(self, k: int, m: int) -> Callable[[], Switch]:
        return lambda: Switch(inputs=k, outputs=m, bits=self.beat_bits)

    # ---- elaboration ------------------------------------------------------------------------
    @staticmethod
    def _route(route: Route, beat: data.View):
        """The output a beat requests at a node with rule ``route`` (``None``: one output)."""
        if route.kind == "one":
            return None
        if route.kind == "dest":
            return beat.dest
        # parity of the selected src and dest bits
        par = Const(0, 1)
        if route.smask:
            par = par ^ (beat.src & route.smask).xor()
        if route.dmask:
            par = par ^ (beat.dest & route.dmask).xor()
        return par

    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        topo, N = self.topology, self.ports
        layout = NetBeat(self.dest_bits, self.width)
        # Per link: its valid, its beat (a view, for the routing rule of its consumer) and the
        # signal its consumer's ready drives.
        valid: list = [None] * len(topo.links)
        beat: list = [None] * len(topo.links)
        ready: list = [None] * len(topo.links)
        for s in range(N):
            # An input stream is a link without a register: its beat gets the source number.
            b = Signal(layout, name=f"i{s}_beat")
            m.d.comb += [b.src.eq(s), b.dest.eq(self.i[s].payload.dest),
                         b.data.eq(self.i[s].payload.data)]
            v = self.i[s].valid
            if N != 1 << self.dest_bits:
                # no output exists for such a dest: the beat requests nothing, stays put
                v = v & (self.i[s].payload.dest < N)
            valid[s], beat[s], ready[s] = v, b, self.i[s].ready
        for node in topo.nodes:
            k, n_out = len(node.inputs), len(node.outputs)
            key = self._switch_key(k, n_out)
            sw = place(m, node.name, self._make_switch(k, n_out),
                       Switch.signature_of(inputs=k, outputs=n_out, bits=self.beat_bits),
                       None if self.prefix is None else f"{self.prefix}_{key}")
            for ii, ln in enumerate(node.inputs):
                port = sw.i[ii]
                m.d.comb += [port.valid.eq(valid[ln]), port.payload.beat.eq(beat[ln]),
                             ready[ln].eq(port.ready)]
                r = self._route(node.route, beat[ln])
                if n_out > 1:  # (a 1-port crossbar routes by dest to its one output)
                    m.d.comb += port.payload.route.eq(r)
            for j, ln in enumerate(node.outputs):
                o = sw.o[j]
                valid[ln], beat[ln], ready[ln] = o.valid, data.View(layout, o.payload), o.ready
        # network outputs
        if topo.shared:
            ln = topo.outputs[0]
            oready = Cat(o.ready for o in self.o)
            m.d.comb += ready[ln].eq(oready.bit_select(beat[ln].dest, 1))
            for d, o in enumerate(self.o):
                m.d.comb += [o.valid.eq(valid[ln] & (beat[ln].dest == d)),
                             o.payload.src.eq(beat[ln].src), o.payload.data.eq(beat[ln].data)]
        else:
            for ln, o in zip(topo.outputs, self.o, strict=True):
                m.d.comb += [o.valid.eq(valid[ln]), o.payload.src.eq(beat[ln].src),
                             o.payload.data.eq(beat[ln].data), ready[ln].eq(o.ready)]
        return m


class Switch(Block):
    """One network node: ``inputs`` streams to ``outputs`` one-entry registers, a round-robin
    arbiter per output (the semantics of :mod:`golden.network`).

    Ports: ``i[k]`` (``beat``: ``bits`` opaque bits; ``route``: the output it requests, with
    two or more outputs), ``o[j]`` (the register: ``valid``, ``payload`` = the beat). A register
    takes the winning beat when it is empty or its own beat leaves in the same cycle, so
    ``i[k].ready`` is combinational in ``o[*].ready``. Latency 1, one beat per cycle per
    output.
    """

    @classmethod
    def check(cls, *, inputs: int, outputs: int, bits: int) -> None:
        for v, what in ((inputs, "inputs"), (outputs, "outputs"), (bits, "bits")):
            if check_index(v, f"switch {what}") < 1:
                raise ParamError(f"a switch needs {what} >= 1, not {v}", field="ports")

    def __init__(self, *, inputs: int, outputs: int, bits: int) -> None:
        self.inputs, self.outputs = operator.index(inputs), operator.index(outputs)
        self.bits = operator.index(bits)
        super().__init__(self.signature_of(inputs=self.inputs, outputs=self.outputs,
                                           bits=self.bits))

    @staticmethod
    def route_bits(outputs: int) -> int:
        """Bits of the ``route`` field (0: a single output, no field)."""
        return (outputs - 1).bit_length()

    @staticmethod
    def signature_of(*, inputs: int, outputs: int, bits: int) -> wiring.Signature:
        rb = Switch.route_bits(outputs)
        fields = {"beat": unsigned(bits)}
        if rb:
            fields["route"] = unsigned(rb)
        return wiring.Signature({
            "i": In(stream.Signature(data.StructLayout(fields))).array(inputs),
            "o": Out(stream.Signature(unsigned(bits))).array(outputs),
        })

    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        k = self.inputs
        takes: list[list] = [[] for _ in range(k)]
        for j, o in enumerate(self.o):
            req = Signal(k, name=f"req{j}")
            m.d.comb += req.eq(Cat(
                p.valid & (p.payload.route == j if self.outputs > 1 else 1) for p in self.i))
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
                sel = sel | Mux(grant[ii], p.payload.beat, 0)
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
