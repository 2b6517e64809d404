"""Idle and stall generators: seeded per-cycle booleans, precomputed before the clock starts.

A :class:`Pattern` yields one boolean per cycle: ``True`` means *idle* when it drives a source
(``valid`` low) and *stall* when it drives a sink (``ready`` low). The per-cycle loop never calls
a generator: sources and sinks ask for whole lists up front (:meth:`Pattern.take`,
:meth:`Pattern.gaps`) and only index them while the clock runs.

Two views of the same sequence:

* :meth:`Pattern.take` gives ``n`` per-cycle values. Sinks consult it on every cycle (a sink
  may drop ``ready`` at any time).
* :meth:`Pattern.gaps` gives, per beat, the idle cycles a source inserts before it. A source
  only consults its pattern on cycles when it holds no beat (a valid beat must stay until it is
  taken), and on those cycles the per-cycle sequence reads ``gaps[0]`` times ``True``, one
  ``False``, ``gaps[1]`` times ``True``, ... so the two views are equivalent (exactly so for
  every pattern but :class:`Bernoulli`, whose ``gaps`` draws one geometric number per beat
  instead of one uniform per cycle: the same distribution, far fewer draws).

Patterns are stateful: consecutive calls continue the sequence. Seeds are an ``int`` or a
:class:`numpy.random.Generator` (shared with the stimulus, so one seed names a whole run).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

__all__ = [
    "Seed",
    "Pattern",
    "Never",
    "Bernoulli",
    "Bursts",
    "Periodic",
    "FromIterable",
    "as_pattern",
    "valid_schedule",
]

#: A seed: an ``int`` or a generator whose stream the pattern continues.
Seed = int | np.random.Generator


def _rng(seed: Seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


class Pattern:
    """A sequence of per-cycle booleans (``True`` = idle / stall).

    Subclasses implement :meth:`take`; :meth:`gaps` derives from it unless a subclass has a
    direct (distribution-equal, cheaper) way.
    """

    #: True if the pattern can never yield ``True``: sources and sinks then skip it entirely.
    never: bool = False

    def take(self, n: int) -> list[bool]:
        """The next ``n`` per-cycle values."""
        raise NotImplementedError

    def gaps(self, n_beats: int) -> list[int]:
        """Idle cycles before each of the next ``n_beats`` beats (see the module docstring)."""
        out: list[int] = []
        run = 0
        chunk = max(64, 2 * n_beats)
        while len(out) < n_beats:
            for idle in self.take(chunk):
                if idle:
                    run += 1
                else:
                    out.append(run)
                    run = 0
                    if len(out) == n_beats:
                        break
        return out

    def __repr__(self) -> str:
        return type(self).__name__ + "()"


class Never(Pattern):
    """Never idle, never stalling: back-to-back beats, ``ready`` always high."""

    never = True

    def take(self, n: int) -> list[bool]:
        return [False] * n

    def gaps(self, n_beats: int) -> list[int]:
        return [0] * n_beats


class Bernoulli(Pattern):
    """Each cycle independently idle / stalling with probability ``p``.

    Parameters
    ----------
    p:
        Probability of ``True`` per cycle, ``0 <= p < 1``.
    seed:
        ``int`` or generator.
    """

    def __init__(self, p: float, seed: Seed):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Bernoulli pattern needs 0 <= p < 1, got {p}")
        self.p = p
        self.never = p == 0.0
        self.rng = _rng(seed)

    def take(self, n: int) -> list[bool]:
        if self.never:
            return [False] * n
        return (self.rng.random(n) < self.p).tolist()

    def gaps(self, n_beats: int) -> list[int]:
        # The run of idle cycles before each beat is geometric: one draw per beat, not per cycle.
        if self.never:
            return [0] * n_beats
        return (self.rng.geometric(1.0 - self.p, n_beats) - 1).tolist()

    def __repr__(self) -> str:
        return f"Bernoulli(p={self.p})"


class Bursts(Pattern):
    """Alternating runs: ``False`` runs of mean length ``busy``, ``True`` runs of mean ``pause``.

    Models a bursty producer (a source that sends ``busy`` beats, then pauses) or a sink that is
    ready in bursts. Run lengths are geometric (at least 1); the sequence starts with a
    ``False`` run.
    """

    def __init__(self, busy: float, pause: float, seed: Seed):
        if busy < 1 or pause < 1:
            raise ValueError(f"Bursts needs mean run lengths >= 1, got busy={busy}, pause={pause}")
        self.busy, self.pause = busy, pause
        self.rng = _rng(seed)
        self._buf: list[bool] = []

    def take(self, n: int) -> list[bool]:
        buf = self._buf
        while len(buf) < n:
            # fixed-size refills: the sequence does not depend on how it is sliced by take()
            k = 256
            on = self.rng.geometric(1.0 / self.busy, k)
            off = self.rng.geometric(1.0 / self.pause, k)
            runs = np.stack([on, off], axis=1).ravel()
            vals = np.tile([False, True], k)
            buf.extend(np.repeat(vals, runs).tolist())
        out, self._buf = buf[:n], buf[n:]
        return out

    def __repr__(self) -> str:
        return f"Bursts(busy={self.busy}, pause={self.pause})"


class Periodic(Pattern):
    """A fixed cycle of values repeated forever, e.g. ``Periodic([False, False, True])``."""

    def __init__(self, cycle: Sequence[bool]):
        if not cycle:
            raise ValueError("Periodic needs a non-empty cycle")
        self.cycle = [bool(v) for v in cycle]
        self.never = not any(self.cycle)
        self._it = itertools.cycle(self.cycle)

    def take(self, n: int) -> list[bool]:
        return list(itertools.islice(self._it, n))

    def __repr__(self) -> str:
        return f"Periodic({self.cycle})"


class FromIterable(Pattern):
    """Any iterable of booleans, or a zero-argument callable called once per cycle.

    Runs out as "never idle" (``False``) when a finite iterable ends.
    """

    def __init__(self, source: Iterable[bool] | Callable[[], bool]):
        it: Iterator[bool] = iter(source, object()) if callable(source) else iter(source)
        self._it = itertools.chain((bool(v) for v in it), itertools.repeat(False))

    def take(self, n: int) -> list[bool]:
        return list(itertools.islice(self._it, n))


def as_pattern(x: Pattern | Iterable[bool] | Callable[[], bool] | None) -> Pattern:
    """``None`` -> :class:`Never`, a :class:`Pattern` as is, anything else via
    :class:`FromIterable`."""
    if x is None:
        return Never()
    if isinstance(x, Pattern):
        return x
    return FromIterable(x)


def valid_schedule(idle: Pattern | None, n_beats: int) -> np.ndarray:
    """Per-cycle ``valid`` mask (bool ``[T]``) holding ``n_beats`` ones, idle cycles per ``idle``.

    For sources without backpressure (``i__valid`` style): beat ``i`` is presented on the
    cycle of the ``i``-th ``True``, after ``idle.gaps(n_beats)[i]`` idle cycles.
    """
    gaps = np.asarray(as_pattern(idle).gaps(n_beats), dtype=np.int64)
    pos = np.cumsum(gaps + 1) - 1
    valid = np.zeros(int(pos[-1]) + 1 if n_beats else 0, dtype=bool)
    valid[pos] = True
    return valid
