"""Delay lines and skew buffers built by doubling, so that large pods generate in near-linear time.

A pod's input skew delays row ``r`` by ``r`` cycles and its output de-skew delays column ``c`` by
``C - 1 - c``: ``R(R-1)/2`` and ``C(C-1)/2`` register stages. Written flat, converting them
costs time and memory in proportion to those quadratic bit counts. Built here from halves that
are one module instantiated twice, every distinct module stays small:

* :class:`Delay` (``depth`` stages of ``width`` bits) is two ``Delay(depth/2)`` in a chain (or
  the binary decomposition of ``depth``); ``Delay(1)`` is one register.
* :class:`Skew` (lane ``i`` of ``lanes`` delayed ``i``): the low ``h`` lanes are ``Skew(h)``,
  the high lanes go through ``Delay(h)`` and then ``Skew(lanes - h)``, with ``h`` the largest
  power of two below ``lanes`` (so for a power of two both halves are the same module).

The registers, and so the hardware, are exactly those of a flat shift register: every stage
advances only when ``en`` is 1. Registers have no reset (the pod's valid bits travel in a
separate, reset token pipeline).
"""

from __future__ import annotations

import operator
from collections.abc import Callable

from amaranth.hdl import Cat, Module, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.facts import ParamError, check_index
from hw.block import Block
from hw.hier import place

__all__ = ["Delay", "Skew", "binary_pieces", "shift_line", "FLAT_DELAY", "FLAT_SKEW"]

#: Up to these sizes a delay line / skew is written flat (one shift register per lane): small
#: modules convert quickly anyway, and a flat line simulates fastest (every module boundary
#: and copied bus costs Icarus and Verilator time). Larger ones are built by doubling.
FLAT_DELAY = 32
FLAT_SKEW = 32
#: ... and a flat delay line stays within this many bits (one register signal; Amaranth's
#: netlist numbers a cell's bits in 16 bits).
FLAT_BITS = 1 << 14


def binary_pieces(n: int, flat: int = 1) -> list[int]:
    """Split ``n`` into the parts one doubling level builds it from.

    Up to ``flat``, ``n`` leaves of size 1 (the level is written flat). Otherwise a power of
    two is two halves and any other ``n`` its binary decomposition, largest part first
    (``6 -> [4, 2]``, ``5 -> [4, 1]``).
    """
    if n <= flat:
        return [1] * n
    if n & (n - 1) == 0:
        return [n // 2, n // 2]
    return [1 << b for b in range(n.bit_length() - 1, -1, -1) if n >> b & 1]


def shift_line(m: Module, value, depth: int, en, name: str):
    """``depth`` enabled registers in one wide signal (newest at the LSBs); returns the oldest.
    ``en=None``: no enable, the line shifts on every edge."""
    if depth == 0:
        return value
    w = len(value)
    line = Signal(depth * w, name=name, reset_less=True)
    nxt = line.eq(Cat(value, line[: (depth - 1) * w]) if depth > 1 else value)
    if en is None:
        m.d.sync += nxt
    else:
        with m.If(en):
            m.d.sync += nxt
    return line[(depth - 1) * w:]


def _lanes_signature(width: int, gated: bool = True) -> wiring.Signature:
    return wiring.Signature({**({"en": In(1)} if gated else {}), "in_data": In(unsigned(width)),
                             "out_data": Out(unsigned(width))})


class Delay(Block):
    """``width`` bits through ``depth`` registers, all advanced by ``en``.

    Ports: ``en``, ``in_data``, ``out_data`` (``in_data`` of ``depth`` enabled cycles ago).
    ``gated=False``: no ``en``, the line shifts on every edge.
    ``prefix`` names the emitted modules (see :mod:`hw.hier`); ``None`` keeps them inline.
    """

    @classmethod
    def check(cls, *, depth: int, width: int, gated: bool = True,  # noqa: ARG003
              prefix: str | None = None) -> None:  # noqa: ARG003
        if check_index(depth, "delay depth") < 1 or check_index(width, "delay width") < 1:
            raise ParamError(f"a delay needs depth >= 1 and width >= 1, not {depth}, {width}")

    def __init__(self, *, depth: int, width: int, gated: bool = True,
                 prefix: str | None = None):
        self.depth = operator.index(depth)
        self.width = operator.index(width)
        self.gated = bool(gated)
        self.prefix = prefix
        super().__init__(_lanes_signature(self.width, self.gated))

    @property
    def key(self) -> str:
        return f"delay{self.depth}x{self.width}"

    @property
    def _en(self):
        return self.en if self.gated else None

    def _make(self, depth: int) -> Callable[[], Delay]:
        return lambda: Delay(depth=depth, width=self.width, gated=self.gated,
                             prefix=self.prefix)

    @property
    def flat(self) -> bool:
        """Written as one shift register (else built by doubling)."""
        return self.depth == 1 or (self.depth <= FLAT_DELAY
                                   and self.depth * self.width <= FLAT_BITS)

    def children(self) -> dict[str, Callable[[], Block]]:
        if self.flat:
            return {}
        return {f"delay{d}x{self.width}": self._make(d) for d in binary_pieces(self.depth)}

    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        if self.flat:
            m.d.comb += self.out_data.eq(shift_line(m, self.in_data, self.depth, self._en,
                                                     "line"))
            return m
        prev = self.in_data
        sig = _lanes_signature(self.width, self.gated)
        for i, d in enumerate(binary_pieces(self.depth)):
            mod = None if self.prefix is None else f"{self.prefix}_delay{d}x{self.width}"
            part = place(m, f"part{i}", self._make(d), sig, mod)
            if self.gated:
                m.d.comb += part.en.eq(self.en)
            m.d.comb += part.in_data.eq(prev)
            prev = part.out_data
        m.d.comb += self.out_data.eq(prev)
        return m


class Skew(Block):
    """``lanes`` lanes of ``width`` bits; lane ``i`` (bits ``[i*width, (i+1)*width)``) delayed
    ``i`` enabled cycles. Lane 0 passes straight through.

    Ports: ``en`` (not with ``gated=False``), ``in_data``, ``out_data``. Registers:
    ``width * lanes * (lanes - 1) / 2``.
    """

    @classmethod
    def check(cls, *, lanes: int, width: int, gated: bool = True,  # noqa: ARG003
              prefix: str | None = None) -> None:  # noqa: ARG003
        if check_index(lanes, "skew lanes") < 1 or check_index(width, "skew width") < 1:
            raise ParamError(f"a skew needs lanes >= 1 and width >= 1, not {lanes}, {width}")

    def __init__(self, *, lanes: int, width: int, gated: bool = True,
                 prefix: str | None = None):
        self.lanes = operator.index(lanes)
        self.width = operator.index(width)
        self.gated = bool(gated)
        self.prefix = prefix
        super().__init__(_lanes_signature(self.lanes * self.width, self.gated))

    @staticmethod
    def key_of(lanes: int, width: int) -> str:
        return f"skew{lanes}x{width}"

    @staticmethod
    def signature_of(lanes: int, width: int, gated: bool = True) -> wiring.Signature:
        return _lanes_signature(lanes * width, gated)

    @property
    def key(self) -> str:
        return self.key_of(self.lanes, self.width)

    @property
    def _en(self):
        return self.en if self.gated else None

    @property
    def split(self) -> int:
        """Lanes of the low half ``h``: the largest power of two below ``lanes``."""
        return 1 << (self.lanes - 1).bit_length() - 1

    def _parts(self) -> dict[str, Callable[[], Block]]:
        n, w, h, g = self.lanes, self.width, self.split, self.gated
        return {
            f"skew{h}x{w}": lambda: Skew(lanes=h, width=w, gated=g, prefix=self.prefix),
            f"delay{h}x{(n - h) * w}": lambda: Delay(depth=h, width=(n - h) * w, gated=g,
                                                     prefix=self.prefix),
            f"skew{n - h}x{w}": lambda: Skew(lanes=n - h, width=w, gated=g, prefix=self.prefix),
        }

    def children(self) -> dict[str, Callable[[], Block]]:
        if self.lanes <= FLAT_SKEW:
            return {}
        # Skew(1) is a plain wire: never a module of its own.
        return {k: f for k, f in self._parts().items() if k != f"skew1x{self.width}"}

    def _place(self, m: Module, name: str, key: str, width: int) -> wiring.PureInterface:
        mod = None if self.prefix is None else f"{self.prefix}_{key}"
        return place(m, name, self._parts()[key], _lanes_signature(width, self.gated), mod)

    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        n, w = self.lanes, self.width
        if n <= FLAT_SKEW:
            m.d.comb += self.out_data.eq(Cat(*(
                shift_line(m, self.in_data[i * w:(i + 1) * w], i, self._en, f"lane{i}")
                for i in range(n))))
            return m
        h = self.split
        delay = self._place(m, "shift", f"delay{h}x{(n - h) * w}", (n - h) * w)
        if self.gated:
            m.d.comb += delay.en.eq(self.en)
        m.d.comb += delay.in_data.eq(self.in_data[h * w:])
        outs = []
        for name, lanes, data in (("low", h, self.in_data[: h * w]),
                                  ("high", n - h, delay.out_data)):
            if lanes == 1:
                outs.append(data)
                continue
            part = self._place(m, name, f"skew{lanes}x{w}", lanes * w)
            if self.gated:
                m.d.comb += part.en.eq(self.en)
            m.d.comb += part.in_data.eq(data)
            outs.append(part.out_data)
        m.d.comb += self.out_data.eq(Cat(*outs))
        return m
