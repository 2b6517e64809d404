"""Source and monitor for valid-qualified ports without backpressure, and their clock loop.

The datapath blocks (converter, normalizer, FP32 MAC, dot unit, N:M decoder, sparse dot) take
one input beat per cycle on an ``always_ready`` stream (``i__valid`` qualifies ``i__payload``)
and present results on another (``o__valid``, ``o__payload``), a fixed latency later; nothing
ever pushes back (no ``ready`` port). :class:`sim.vlib.payload.Payload` packs the payload words
from per-field columns. Their benches:

* precompute, per cycle, the value of every driven port (:class:`ValidSource`; idle cycles come
  from an idle generator via :func:`sim.vlib.patterns.valid_schedule` and may carry junk data
  the DUT must ignore);
* record ports at every cycle or only when a qualifier is high (:class:`ValidMonitor`);
* run both in one coroutine, :func:`run_cycles`, that samples and drives at each falling edge.

Cycle convention: iteration ``t`` of :func:`run_cycles` first samples the monitors (the state
after rising edge ``t - 1``), then drives row ``t`` (only the ports whose value changes), then
awaits the falling edge. Row ``t`` is
taken by the rising edge that follows, so a block of latency ``L`` shows row ``t``'s result at
sample ``t + L``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from cocotb.triggers import FallingEdge

from sim.vlib.patterns import Pattern, valid_schedule
from sim.vlib.stream import high

__all__ = ["ValidSource", "ValidMonitor", "run_cycles"]



def _ports(dut: Any, names: Sequence[str]) -> list[Any]:
    return [getattr(dut, n) for n in names]


class ValidSource:
    """Drives one precomputed row of Python ints per cycle onto a list of ports.

    Parameters
    ----------
    dut:
        cocotb handle of the toplevel.
    ports:
        Port names, in the column order of ``rows`` (a qualifier such as ``i__valid`` is just a
        column; see :meth:`from_beats`).
    rows:
        ``[T][len(ports)]`` ints, one row per cycle. A row may be *shorter* than ``ports``: the
        ports after it hold their values. Only values that differ from the previous cycle's
        are written (the diff is computed here, once).
    rest:
        ``{port name: value}`` written once after the last row (e.g. ``{"i__valid": 0}``);
        every other port holds.
    valid:
        Optional per-cycle ``[T]`` bool qualifier, kept for the checkers (``valid_cycles``).
    """

    def __init__(self, dut: Any, ports: Sequence[str], rows: Sequence[Sequence[int]], *,
                 rest: dict[str, int] | None = None, valid: np.ndarray | None = None):
        self.ports = list(ports)
        self.handles = _ports(dut, self.ports)
        self.rows = rows.tolist() if isinstance(rows, np.ndarray) else [list(r) for r in rows]
        self.valid = None if valid is None else np.asarray(valid, dtype=bool)
        self.n = len(self.rows)
        # Per cycle only the writes that change a port: a qualifier or mode bit that stays put
        # costs nothing. The first row writes everything (the ports hold reset defaults).
        index = {n: j for j, n in enumerate(self.ports)}
        last: list[Any] = [None] * len(self.ports)
        self._writes: list[list[tuple[Any, int]]] = []
        for row in self.rows:
            w = []
            for j, x in enumerate(row):
                if last[j] != x:
                    last[j] = x
                    w.append((self.handles[j], x))
            self._writes.append(w)
        self._rest = [(self.handles[index[n]] if n in index else getattr(dut, n), v)
                      for n, v in (rest or {}).items() if n not in index or last[index[n]] != v]

    @classmethod
    def from_beats(cls, dut: Any, *, valid: str, data: Sequence[str], beats: np.ndarray,
                   idle: Pattern | None = None,
                   junk: Callable[[int], np.ndarray] | None = None) -> ValidSource:
        """Spread ``beats`` (``[n, len(data)]``) over cycles with idle gaps per ``idle``.

        ``junk(k)`` returns ``[k, len(data)]`` values driven on the ``k`` idle cycles (called
        once, after the idle pattern is drawn, so a shared generator stays in a fixed order);
        without it the data ports hold during idle cycles.
        """
        beats = np.asarray(beats)
        beats = beats.reshape(len(beats), -1)
        v = valid_schedule(idle, len(beats))
        n_idle = int((~v).sum())
        junk_rows = np.asarray(junk(n_idle)).reshape(n_idle, -1) if junk and n_idle else None
        rows: list[list[int]] = []
        b_it = iter(beats.tolist())
        j_it = iter(junk_rows.tolist()) if junk_rows is not None else None
        for is_valid in v.tolist():
            if is_valid:
                rows.append([1, *next(b_it)])
            elif j_it is not None:
                rows.append([0, *next(j_it)])
            else:
                rows.append([0])
        return cls(dut, [valid, *data], rows, rest={valid: 0}, valid=v)

    @property
    def valid_cycles(self) -> np.ndarray:
        """Cycles (iterations of :func:`run_cycles`) on which the qualifier was high."""
        assert self.valid is not None, "this source was built without a valid qualifier"
        return np.nonzero(self.valid)[0]

    def schedule(self) -> list[list[tuple[Any, int]]]:
        """Per cycle, the ``(handle, value)`` writes of that cycle: ``n`` rows, then the rest."""
        return [*self._writes, self._rest]


class ValidMonitor:
    """Records a group of ports once per cycle: every cycle, or when ``valid`` is high.

    Parameters
    ----------
    dut:
        cocotb handle of the toplevel.
    ports:
        Port names to record, in column order.
    valid:
        Qualifier port name (e.g. ``"o__valid"``), or ``None`` to record every cycle.
    signed:
        Per port (or one for all): two's-complement ports are sign-extended in :meth:`array`.
    lazy:
        Store the raw cocotb values and convert them after the run (cheapest per cycle for one
        wide packed port).

    Attributes
    ----------
    raw:
        The recorded samples (lists of ints, or raw values with ``lazy``); see :meth:`array`.
    """

    def __init__(self, dut: Any, ports: Sequence[str], *, valid: str | None = None,
                 signed: bool | Sequence[bool] = False, lazy: bool = False):
        self.ports = list(ports)
        self.handles = _ports(dut, self.ports)
        self.h_valid = None if valid is None else getattr(dut, valid)
        self.widths = [len(h) for h in self.handles]
        self.signed = ([bool(signed)] * len(self.ports) if isinstance(signed, bool)
                       else [bool(s) for s in signed])
        self.lazy = lazy
        self.raw: list[Any] = []
        self._cycles: list[int] = []
        self._sample = self._sampler()

    @property
    def cycles(self) -> list[int]:
        """Iteration of :func:`run_cycles` of every recorded sample."""
        # without a qualifier every iteration is sampled: no per-cycle bookkeeping
        return self._cycles if self.h_valid is not None else list(range(len(self.raw)))

    def _sampler(self) -> Callable[[int], None]:
        # One closure per case, chosen once, with no nested call: per cycle only the reads.
        hv, hs, append, cyc = self.h_valid, self.handles, self.raw.append, self._cycles.append
        h = hs[0]
        if hv is None:
            if self.lazy and len(hs) == 1:
                def sample(t: int) -> None:
                    append(h.value)
            elif self.lazy:
                def sample(t: int) -> None:
                    append([x.value for x in hs])
            else:
                def sample(t: int) -> None:
                    append([int(x.value) for x in hs])
            return sample
        hi = high(hv)
        if self.lazy and len(hs) == 1:
            def sample(t: int) -> None:
                if hv.value == hi:
                    append(h.value)
                    cyc(t)
        elif self.lazy:
            def sample(t: int) -> None:
                if hv.value == hi:
                    append([x.value for x in hs])
                    cyc(t)
        else:
            def sample(t: int) -> None:
                if hv.value == hi:
                    append([int(x.value) for x in hs])
                    cyc(t)
        return sample

    def __len__(self) -> int:
        return len(self.raw)

    def array(self) -> np.ndarray:
        """Recorded values, ``[n, len(ports)]`` Python ints (object array), signed as asked."""
        if self.lazy and len(self.handles) == 1:
            vals = [[int(v)] for v in self.raw]
        elif self.lazy:
            vals = [[int(v) for v in r] for r in self.raw]
        else:
            vals = self.raw
        a = np.empty((len(vals), len(self.ports)), dtype=object)
        if vals:
            a[:] = vals
        for j, (w, s) in enumerate(zip(self.widths, self.signed, strict=True)):
            if s and len(a):
                col = a[:, j]
                a[:, j] = np.where(col >= (1 << (w - 1)), col - (1 << w), col)
        return a

    def column(self, port: str) -> np.ndarray:
        """One recorded port as an object array of Python ints."""
        return self.array()[:, self.ports.index(port)]


async def run_cycles(clk: Any, sources: Sequence[ValidSource], monitors: Sequence[ValidMonitor],
                     cycles: int) -> float:
    """Sample ``monitors`` then drive ``sources`` at each of ``cycles`` falling edges.

    Start it at a falling edge (after :func:`sim.vlib.clock.clock_and_reset` with
    ``edge="falling"``). Give ``cycles`` = the longest source plus the drain the latency
    needs. Returns the wall-clock seconds of the loop (for throughput figures).
    """
    fe = FallingEdge(clk)
    mons = [m._sample for m in monitors]
    # All sources' writes merged per cycle up front: the loop itself calls no source code.
    scheds = [s.schedule() for s in sources]
    if len(scheds) == 1:
        writes = scheds[0][:cycles]
    else:
        writes = [[w for sc in scheds if t < len(sc) for w in sc[t]]
                  for t in range(min(cycles, max(map(len, scheds), default=0)))]
    writes += [[]] * (cycles - len(writes))
    t0 = time.perf_counter()
    for t in range(cycles):
        for f in mons:
            f(t)
        for h, x in writes[t]:
            h.value = x
        await fe
    return time.perf_counter() - t0
