"""The PE array of the pod: a plain R x C grid, no control (Gemmini's mesh).

:class:`Row` chains C :class:`hw.pe.PE` s west to east; :class:`Array` stacks R rows north to
south. Neighbours are joined with ``wiring.connect`` through the shared signatures of
:mod:`hw.signatures` (``out_act`` -> ``in_act``, ``out_psum`` -> ``in_psum``), so every level
has the same port names. Skew, de-skew, weight banking and streams belong to the pod.

Both are built by doubling (:func:`hw.delay.binary_pieces`): ``Row(8)`` is two ``Row(4)``,
``Row(6)`` is ``Row(4)`` then ``Row(2)``, and likewise for ``Array``; the leaves are PEs and
full rows. Each distinct size is one module (``<prefix>_row4``, ``<prefix>_array16``, emitted
once by :func:`gen.hier.emit_hierarchy`), so a 256 x 256 array is about 2 log2(256) small
modules instead of one module holding 256 row instances and their 256 x C x acc_width wires.
With ``prefix=None`` every level is an ordinary Amaranth submodule (the Python simulator).
"""

from __future__ import annotations

import operator
from collections.abc import Callable

from amaranth.hdl import Module, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.facts import ParamError, check_index, index_bits
from hw.arith import Arithmetic
from hw.block import Block
from hw.delay import binary_pieces
from hw.hier import place
from hw.pe import PE
from hw.signatures import ActBus, PsumBus, WeightWrite

__all__ = ["Row", "Array", "FLAT_ROW", "FLAT_ARRAY"]

#: Rows of up to FLAT_ROW PEs and arrays of up to FLAT_ARRAY rows are written flat (the PEs or
#: rows instantiated directly): they convert quickly and simulate fastest. Beyond, doubling.
FLAT_ROW = 32
FLAT_ARRAY = 16


def _check(arith: object, sel: int, **dims: int) -> None:
    PE.check(arith=arith, sel=sel)
    for what, v in dims.items():
        if check_index(v, what) < 1:
            raise ParamError(f"{what} must be >= 1, not {v}")


def _ib(sel: int) -> int:
    return index_bits(sel) if sel > 1 else 0


class Row(Block):
    """``cols`` PEs in a chain (the array's row, or a part of one).

    Ports: ``en``; ``in_act`` (enters column 0; column c sees it c cycles late) and ``out_act``
    (leaves the last column, for chaining parts); ``in_psum``/``out_psum`` (``cols`` packed
    partial sums, column c at bit ``c * acc_width``); ``w`` (``cols`` packed weights, packed
    indices when sparse, ``we``, ``bank``). Latency 1 cycle (of ``en``) ``in_psum`` ->
    ``out_psum``.
    """

    @classmethod
    def check(cls, *, cols: int, arith: Arithmetic, sel: int = 1, gated: bool = True,
              prefix: str | None = None) -> None:  # noqa: ARG003
        _check(arith, sel, cols=cols)

    @staticmethod
    def signature_of(*, cols: int, arith: Arithmetic, sel: int = 1, gated: bool = True
                     ) -> wiring.Signature:
        ow, aw = arith.operand_shape.width, arith.acc_shape.width
        return wiring.Signature({
            **({"en": In(1)} if gated else {}),
            "w": In(WeightWrite(shape=unsigned(cols * ow), idx_bits=cols * _ib(sel))),
            "in_act": In(ActBus(width=sel * ow, mode=arith.has_mode)),
            "in_psum": In(PsumBus(shape=unsigned(cols * aw))),
            "out_act": Out(ActBus(width=sel * ow, mode=arith.has_mode)),
            "out_psum": Out(PsumBus(shape=unsigned(cols * aw))),
        })

    def __init__(self, *, cols: int, arith: Arithmetic, sel: int = 1, gated: bool = True,
                 prefix: str | None = None):
        self.cols = operator.index(cols)
        self.arith = arith
        self.sel = operator.index(sel)
        self.gated = bool(gated)
        self.prefix = prefix
        super().__init__(self.signature_of(cols=self.cols, arith=arith, sel=self.sel,
                                           gated=self.gated))

    @property
    def key(self) -> str:
        return f"row{self.cols}"

    def _factory(self, n: int) -> tuple[str, Callable[[], Block], wiring.Signature]:
        g = self.gated
        if n == 1:
            return ("pe", lambda: PE(arith=self.arith, sel=self.sel, gated=g),
                    PE.signature_of(arith=self.arith, sel=self.sel, gated=g))
        return (f"row{n}", lambda: Row(cols=n, arith=self.arith, sel=self.sel, gated=g,
                                       prefix=self.prefix),
                Row.signature_of(cols=n, arith=self.arith, sel=self.sel, gated=g))

    def children(self) -> dict[str, Callable[[], Block]]:
        """Role -> factory of each distinct child (for :func:`gen.hier.emit_hierarchy`)."""
        return {k: f for k, f, _ in map(self._factory, binary_pieces(self.cols, FLAT_ROW))}

    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        ow, aw, ib = self.arith.operand_shape.width, self.arith.acc_shape.width, _ib(self.sel)
        pieces = binary_pieces(self.cols, FLAT_ROW)
        act = wiring.flipped(self.in_act)
        c0 = 0
        for i, n in enumerate(pieces):
            key, make, sig = self._factory(n)
            mod = None if self.prefix is None else f"{self.prefix}_{key}"
            part = place(m, f"{key}_{i}", make, sig, mod)
            # PE(r, c+1) takes PE(r, c)'s registered activation and bank bit.
            wiring.connect(m, act, part.in_act)
            act = part.out_act
            if self.gated:
                m.d.comb += part.en.eq(self.en)
            m.d.comb += [
                part.w.data.eq(self.w.data[c0 * ow:(c0 + n) * ow]),
                part.w.we.eq(self.w.we),
                part.w.bank.eq(self.w.bank),
                part.in_psum.data.eq(self.in_psum.data[c0 * aw:(c0 + n) * aw]),
                self.out_psum.data[c0 * aw:(c0 + n) * aw].eq(part.out_psum.data),
            ]
            if ib:
                m.d.comb += part.w.idx.eq(self.w.idx[c0 * ib:(c0 + n) * ib])
            c0 += n
        wiring.connect(m, act, wiring.flipped(self.out_act))
        return m


class Array(Block):
    """``rows`` x C grid of PEs: rows chained north to south (the pod's array, or a part).

    Ports: ``en``; ``in_act`` (``rows`` activation buses, ``in_act[r]`` enters row r; the pod
    skews them); ``w`` (one weight row broadcast to every row, ``we`` one bit per row);
    ``in_psum`` (C packed partial sums entering row 0: zero at the pod) and ``out_psum`` (C
    packed column sums leaving the last row). Latency ``rows`` cycles (of ``en``) from
    ``in_psum`` to ``out_psum``; column c adds c more for its activations.
    """

    @classmethod
    def check(cls, *, rows: int, cols: int, arith: Arithmetic, sel: int = 1,
              gated: bool = True, prefix: str | None = None) -> None:  # noqa: ARG003
        _check(arith, sel, rows=rows, cols=cols)

    @staticmethod
    def signature_of(*, rows: int, cols: int, arith: Arithmetic, sel: int = 1,
                     gated: bool = True) -> wiring.Signature:
        ow, aw = arith.operand_shape.width, arith.acc_shape.width
        return wiring.Signature({
            **({"en": In(1)} if gated else {}),
            "w": In(WeightWrite(shape=unsigned(cols * ow), idx_bits=cols * _ib(sel), rows=rows)),
            "in_act": In(ActBus(width=sel * ow, mode=arith.has_mode)).array(rows),
            "in_psum": In(PsumBus(shape=unsigned(cols * aw))),
            "out_psum": Out(PsumBus(shape=unsigned(cols * aw))),
        })

    def __init__(self, *, rows: int, cols: int, arith: Arithmetic, sel: int = 1,
                 gated: bool = True, prefix: str | None = None):
        self.rows = operator.index(rows)
        self.cols = operator.index(cols)
        self.arith = arith
        self.sel = operator.index(sel)
        self.gated = bool(gated)
        self.prefix = prefix
        super().__init__(self.signature_of(rows=self.rows, cols=self.cols, arith=arith,
                                           sel=self.sel, gated=self.gated))

    @property
    def key(self) -> str:
        return f"array{self.rows}"

    def _factory(self, n: int) -> tuple[str, Callable[[], Block], wiring.Signature]:
        a, s, C, p, g = self.arith, self.sel, self.cols, self.prefix, self.gated
        if n == 1:
            return (f"row{C}", lambda: Row(cols=C, arith=a, sel=s, gated=g, prefix=p),
                    Row.signature_of(cols=C, arith=a, sel=s, gated=g))
        return (f"array{n}", lambda: Array(rows=n, cols=C, arith=a, sel=s, gated=g, prefix=p),
                Array.signature_of(rows=n, cols=C, arith=a, sel=s, gated=g))

    def children(self) -> dict[str, Callable[[], Block]]:
        return {k: f for k, f, _ in map(self._factory, binary_pieces(self.rows, FLAT_ARRAY))}

    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        pieces = binary_pieces(self.rows, FLAT_ARRAY)
        psum = wiring.flipped(self.in_psum)
        r0 = 0
        for i, n in enumerate(pieces):
            key, make, sig = self._factory(n)
            mod = None if self.prefix is None else f"{self.prefix}_{key}"
            part = place(m, f"{key}_{i}", make, sig, mod)
            if self.gated:
                m.d.comb += part.en.eq(self.en)
            m.d.comb += [part.w.data.eq(self.w.data),
                         part.w.we.eq(self.w.we[r0:r0 + n]), part.w.bank.eq(self.w.bank)]
            if "idx" in part.w.signature.members:
                m.d.comb += part.w.idx.eq(self.w.idx)
            lanes = [part.in_act] if n == 1 else list(part.in_act)
            for j, lane in enumerate(lanes):
                wiring.connect(m, wiring.flipped(self.in_act[r0 + j]), lane)
            wiring.connect(m, psum, part.in_psum)
            psum = part.out_psum
            r0 += n
        wiring.connect(m, psum, wiring.flipped(self.out_psum))
        return m
