"""Source, sink and monitor for ``amaranth.lib.stream`` valid/ready ports, and their clock loop.

Port names follow Amaranth's flattening of a stream signature ``<name>``: ``<name>__valid``,
``<name>__ready`` (absent for ``always_ready`` streams) and ``<name>__payload`` (one flat
vector; :class:`golden.systolic.PodLayout` and friends pack and unpack it). A beat transfers on
a rising edge with valid = ready = 1.

All streams of a bench advance in **one** coroutine, :func:`run_streams`: per clock cycle it
awaits ``ReadOnly`` (every source reads ``ready``, every sink and monitor reads ``valid`` and, on
a transfer, the payload) and then ``RisingEdge`` (sources present their next beat, sinks set
``ready`` for the next cycle). A task per stream would triple the scheduler work per cycle,
which is what bounds cocotb throughput; so components hold their handles, beats (Python ints)
and idle/stall lists from construction on, touch a handle only when its value must change, and
the loop does nothing else.

Protocol rules the components keep (the ones ``amaranth.lib.stream`` states): a source never
drops ``valid`` or changes the payload before its beat is taken, ``valid`` never depends on
``ready``; idle gaps are inserted only between beats.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cocotb.handle import LogicObject
from cocotb.triggers import ReadOnly, RisingEdge
from cocotb.types import Logic

from sim.vlib.patterns import Pattern, as_pattern

__all__ = ["StreamSource", "StreamSink", "StreamMonitor", "run_streams", "expect_quiet"]

#: A scalar port's value is a :class:`cocotb.types.Logic`; comparing it with a Logic costs a
#: fifth of comparing it with ``1`` (which builds a Logic per call), on every cycle.
_HIGH = Logic(1)


def high(h: Any) -> Any:
    """What ``h.value`` equals when the 1-bit port ``h`` is high: ``Logic(1)`` for a scalar port
    (the fast comparison), ``1`` for a one-element vector (a ``LogicArray``)."""
    return _HIGH if isinstance(h, LogicObject) else 1


def _port(dut: Any, name: str, field: str, *, optional: bool = False) -> Any:
    h = getattr(dut, f"{name}__{field}", None)
    if h is None and not optional:
        raise AttributeError(f"stream {name!r}: the toplevel has no port {name}__{field}")
    return h


class StreamSource:
    """Drives a precomputed list of beats onto ``<name>__valid/__payload``, honouring ``ready``.

    Parameters
    ----------
    dut:
        cocotb handle of the toplevel.
    name:
        Stream name (port prefix).
    beats:
        Payload of every beat, in order (converted to Python ints once).
    idle:
        Idle generator: idle cycles are inserted before a beat, never inside one (see
        :mod:`sim.vlib.patterns`). ``None``: back to back.

    Attributes
    ----------
    sent:
        Beats taken by the DUT so far.
    gaps:
        Idle cycles inserted before each beat (``None`` without an idle generator).
    """

    __slots__ = ("name", "h_valid", "h_ready", "h_payload", "beats", "gaps", "idle", "sent",
                 "_n", "_presenting", "_wait", "_fire", "_hi")

    def __init__(self, dut: Any, name: str, beats: Sequence[int], *,
                 idle: Pattern | None = None):
        self.name = name
        self.h_valid = _port(dut, name, "valid")
        self.h_ready = _port(dut, name, "ready", optional=True)
        self.h_payload = _port(dut, name, "payload")
        self.beats = [int(b) for b in beats]
        self.idle = as_pattern(idle)
        self.gaps: list[int] | None = None if self.idle.never else self.idle.gaps(len(self.beats))
        self._hi = None if self.h_ready is None else high(self.h_ready)
        self.sent = 0
        self._n = len(self.beats)
        self._presenting = False
        self._wait = 0
        self._fire = False

    @property
    def done(self) -> bool:
        """All beats were taken."""
        return self.sent == self._n

    def _present(self) -> None:
        self.h_payload.value = self.beats[self.sent]
        if not self._presenting:
            self.h_valid.value = 1
            self._presenting = True

    def _start(self) -> None:
        self.sent = 0
        self._fire = False
        self._presenting = False
        self.h_valid.value = 0
        if self._n == 0:
            return
        self._wait = self.gaps[0] if self.gaps is not None else 0
        if self._wait == 0:
            self._present()

    def _sample(self) -> None:
        # ReadOnly phase: does the presented beat transfer at the coming rising edge?
        self._fire = self._presenting and (self.h_ready is None or self.h_ready.value == self._hi)

    def _advance(self) -> None:
        # Just after the rising edge: next beat, an idle gap, or nothing left.
        if self._fire:
            self._fire = False
            self.sent += 1
            if self.sent == self._n:
                self.h_valid.value = 0
                self._presenting = False
                return
            gaps = self.gaps
            if gaps is None or gaps[self.sent] == 0:
                self.h_payload.value = self.beats[self.sent]
                return
            self._wait = gaps[self.sent]
            self.h_valid.value = 0
            self._presenting = False
        elif self._wait:
            self._wait -= 1
            if self._wait == 0:
                self._present()

    def status(self) -> str:
        return f"{self.name}: {self.sent}/{self._n} beats sent"


class StreamSink:
    """Takes beats from ``<name>__valid/__payload``, driving ``<name>__ready`` per a stall pattern.

    Parameters
    ----------
    dut:
        cocotb handle of the toplevel.
    name:
        Stream name (port prefix).
    count:
        Beats expected; :func:`run_streams` runs until every sink has them.
    stall:
        Stall generator, consulted on every cycle (``True``: ``ready`` low). ``None``: always
        ready. A stream without a ``ready`` port cannot stall.

    Attributes
    ----------
    words:
        Received payloads (Python ints), in order.
    """

    __slots__ = ("name", "h_valid", "h_ready", "h_payload", "count", "stall", "words",
                 "_stall", "_ready", "_hi")

    def __init__(self, dut: Any, name: str, count: int, *, stall: Pattern | None = None):
        self.name = name
        self.h_valid = _port(dut, name, "valid")
        self.h_ready = _port(dut, name, "ready", optional=True)
        self.h_payload = _port(dut, name, "payload")
        self.count = count
        self.stall = as_pattern(stall)
        if self.h_ready is None and not self.stall.never:
            raise ValueError(f"stream {name!r} has no ready port: it cannot be stalled")
        self.words: list[int] = []
        self._stall: list[bool] | None = None
        self._ready = True
        self._hi = high(self.h_valid)

    @property
    def stalls(self) -> bool:
        """The sink drops ``ready`` at times (it needs the per-cycle advance)."""
        return not self.stall.never

    def _start(self, horizon: int) -> None:
        self.words = []
        self._stall = None if self.stall.never else self.stall.take(horizon + 1)
        self._ready = True if self._stall is None else not self._stall[0]
        if self.h_ready is not None:
            self.h_ready.value = int(self._ready)

    def _sample(self) -> int:
        if self._ready and self.h_valid.value == self._hi:
            self.words.append(int(self.h_payload.value))
            return 1
        return 0

    def _advance(self, cycle: int) -> None:
        r = not self._stall[cycle]
        if r != self._ready:
            self._ready = r
            self.h_ready.value = int(r)

    def status(self) -> str:
        return f"{self.name}: {len(self.words)}/{self.count} beats received"


class StreamMonitor:
    """Passively records every transfer (valid = ready = 1) on a stream, driven by anyone.

    Attributes
    ----------
    words:
        Transferred payloads (Python ints), in order.
    cycles:
        Cycle (of :func:`run_streams`) ending with the rising edge of each transfer.
    """

    __slots__ = ("name", "h_valid", "h_ready", "h_payload", "words", "cycles", "_hv", "_hr")

    def __init__(self, dut: Any, name: str):
        self.name = name
        self.h_valid = _port(dut, name, "valid")
        self.h_ready = _port(dut, name, "ready", optional=True)
        self.h_payload = _port(dut, name, "payload")
        self.words: list[int] = []
        self.cycles: list[int] = []
        self._hv = high(self.h_valid)
        self._hr = None if self.h_ready is None else high(self.h_ready)

    def _sample(self, cycle: int) -> None:
        if self.h_valid.value == self._hv and (self.h_ready is None
                                               or self.h_ready.value == self._hr):
            self.words.append(int(self.h_payload.value))
            self.cycles.append(cycle)


async def run_streams(clk: Any, sources: Sequence[StreamSource], sinks: Sequence[StreamSink],
                      monitors: Sequence[StreamMonitor] = (), *, timeout: int) -> int:
    """Run sources, sinks and monitors in one loop until every sink has its ``count`` beats.

    Start it right after a rising edge (e.g. after :func:`sim.vlib.clock.clock_and_reset` with
    ``edge="rising"``): the first beats are presented at once.

    Parameters
    ----------
    clk:
        Clock handle.
    sources, sinks, monitors:
        The bench's stream components.
    timeout:
        Cycle limit; exceeding it raises ``AssertionError`` with every stream's progress.

    Returns
    -------
    Cycles elapsed: rising edges up to and including the one that transferred the last beat.
    """
    ro, re = ReadOnly(), RisingEdge(clk)
    for s in sources:
        s._start()
    for k in sinks:
        k._start(timeout)
    src_sample = [s._sample for s in sources]
    src_advance = [s._advance for s in sources]
    snk_sample = [k._sample for k in sinks]
    snk_advance = [k._advance for k in sinks if k.stalls]
    mon_sample = [m._sample for m in monitors]
    remaining = sum(k.count for k in sinks)
    cycle = 0
    while remaining > 0:
        await ro
        for f in src_sample:
            f()
        for f in snk_sample:
            remaining -= f()
        for f in mon_sample:
            f(cycle + 1)
        await re
        cycle += 1
        if cycle >= timeout:
            raise AssertionError(f"timeout after {cycle} cycles: " + "; ".join(
                x.status() for x in [*sources, *sinks]))
        for f in src_advance:
            f()
        for f in snk_advance:
            f(cycle)
    return cycle


async def expect_quiet(clk: Any, sinks: Sequence[StreamSink], cycles: int) -> None:
    """After the last expected beat: ``ready`` high and no further ``valid`` for ``cycles``.

    A beat here was duplicated or invented by the DUT.
    """
    ro, re = ReadOnly(), RisingEdge(clk)
    for k in sinks:
        if k.h_ready is not None:
            k.h_ready.value = 1
    for _ in range(cycles):
        await ro
        for k in sinks:
            assert k.h_valid.value != k._hi, (
                f"{k.name}: beat after the last expected one ({k.count}; duplicate?)")
        await re
