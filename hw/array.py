"""The PE array of the pod: a plain R x C grid, no control (Gemmini's mesh).

:class:`Row` chains C :class:`hw.pe.PE` s west to east; :class:`Array` stacks R rows north to
south. Neighbours are joined with ``wiring.connect`` through the shared signatures of
:mod:`hw.signatures` (``out_act`` -> ``in_act``, ``out_psum`` -> ``in_psum``), so every level
has the same port names. Skew, de-skew, weight banking and streams belong to the pod.

``modules`` maps the roles ``"pe"`` and ``"row"`` to Verilog module names: those children are
then black-box instances (see :mod:`hw.hier`), emitted once by :func:`gen.hier.emit_hierarchy`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping

from amaranth.hdl import Const, Module, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.facts import ParamError, index_bits
from hw.arith import Arithmetic
from hw.block import Block
from hw.hier import place
from hw.pe import PE
from hw.signatures import ActBus, PsumBus, WeightWrite

__all__ = ["Row", "Array"]


def _check(arith: object, sel: int, **dims: int) -> None:
    PE.check(arith=arith, sel=sel)
    for what, v in dims.items():
        if operator.index(v) < 1:
            raise ParamError(f"{what} must be >= 1, not {v}")


class Row(Block):
    """One row of C PEs (the unit the array instantiates R times; identical for every row).

    Ports: ``en``; ``in_act`` (the row's activation bus, enters column 0; column c sees it c
    cycles late); ``in_psum``/``out_psum`` (C packed partial sums, column c at bit
    ``c * acc_width``); ``w`` (C packed weights, C packed indices when sparse, ``we``, ``bank``).
    Latency 1 cycle (of ``en``) from ``in_psum`` to ``out_psum``.
    """

    @classmethod
    def check(cls, *, cols: int, arith: Arithmetic, sel: int = 1,
              modules: Mapping[str, str] | None = None) -> None:  # noqa: ARG003
        _check(arith, sel, cols=cols)

    @staticmethod
    def signature_of(*, cols: int, arith: Arithmetic, sel: int = 1) -> wiring.Signature:
        ow, aw = arith.operand_shape.width, arith.acc_shape.width
        ib = index_bits(sel) if sel > 1 else 0
        return wiring.Signature({
            "en": In(1),
            "w": In(WeightWrite(shape=unsigned(cols * ow), idx_bits=cols * ib)),
            "in_act": In(ActBus(width=sel * ow)),
            "in_psum": In(PsumBus(shape=unsigned(cols * aw))),
            "out_psum": Out(PsumBus(shape=unsigned(cols * aw))),
        })

    def __init__(self, *, cols: int, arith: Arithmetic, sel: int = 1,
                 modules: Mapping[str, str] | None = None):
        self.cols = operator.index(cols)
        self.arith = arith
        self.sel = operator.index(sel)
        self.modules = dict(modules or {})
        super().__init__(self.signature_of(cols=self.cols, arith=arith, sel=self.sel))

    def make_pe(self) -> PE:
        return PE(arith=self.arith, sel=self.sel)

    def children(self) -> dict[str, Callable[[], Block]]:
        """Role -> factory of each distinct child (for :func:`gen.hier.emit_hierarchy`)."""
        return {"pe": self.make_pe}

    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        C = self.cols
        ow, aw = self.arith.operand_shape.width, self.arith.acc_shape.width
        ib = index_bits(self.sel) if self.sel > 1 else 0
        sig = PE.signature_of(arith=self.arith, sel=self.sel)
        pes = [place(m, f"pe{c}", self.make_pe, sig, self.modules.get("pe")) for c in range(C)]
        wiring.connect(m, wiring.flipped(self.in_act), pes[0].in_act)
        for c, pe in enumerate(pes):
            m.d.comb += [
                pe.en.eq(self.en),
                pe.w.data.eq(self.w.data[c * ow:(c + 1) * ow]),
                pe.w.we.eq(self.w.we),
                pe.w.bank.eq(self.w.bank),
                pe.in_psum.data.eq(self.in_psum.data[c * aw:(c + 1) * aw]),
                self.out_psum.data[c * aw:(c + 1) * aw].eq(pe.out_psum.data),
            ]
            if ib:
                m.d.comb += pe.w.idx.eq(self.w.idx[c * ib:(c + 1) * ib])
            if c + 1 < C:
                # PE(r, c+1) takes PE(r, c)'s registered activation and bank bit.
                wiring.connect(m, pe.out_act, pes[c + 1].in_act)
        return m


class Array(Block):
    """R x C grid of PEs: R :class:`Row` s, partial sums flowing from row 0 down to row R-1.

    Ports: ``en``; ``in_act`` (R activation buses, ``in_act[r]`` enters row r; the pod skews
    them); ``w`` (one weight row broadcast to every row, ``we`` one bit per row); ``out_psum``
    (C packed column sums leaving row R-1). Latency R cycles (of ``en``) from row 0's input to
    ``out_psum``; column c adds c more.
    """

    @classmethod
    def check(cls, *, rows: int, cols: int, arith: Arithmetic, sel: int = 1,
              modules: Mapping[str, str] | None = None) -> None:  # noqa: ARG003
        _check(arith, sel, rows=rows, cols=cols)

    @staticmethod
    def signature_of(*, rows: int, cols: int, arith: Arithmetic, sel: int = 1
                     ) -> wiring.Signature:
        ow, aw = arith.operand_shape.width, arith.acc_shape.width
        ib = index_bits(sel) if sel > 1 else 0
        return wiring.Signature({
            "en": In(1),
            "w": In(WeightWrite(shape=unsigned(cols * ow), idx_bits=cols * ib, rows=rows)),
            "in_act": In(ActBus(width=sel * ow)).array(rows),
            "out_psum": Out(PsumBus(shape=unsigned(cols * aw))),
        })

    def __init__(self, *, rows: int, cols: int, arith: Arithmetic, sel: int = 1,
                 modules: Mapping[str, str] | None = None):
        self.rows = operator.index(rows)
        self.cols = operator.index(cols)
        self.arith = arith
        self.sel = operator.index(sel)
        self.modules = dict(modules or {})
        super().__init__(self.signature_of(rows=self.rows, cols=self.cols, arith=arith,
                                           sel=self.sel))

    def make_row(self) -> Row:
        return Row(cols=self.cols, arith=self.arith, sel=self.sel, modules=self.modules)

    def children(self) -> dict[str, Callable[[], Block]]:
        return {"row": self.make_row}

    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        sig = Row.signature_of(cols=self.cols, arith=self.arith, sel=self.sel)
        rows = [place(m, f"row{r}", self.make_row, sig, self.modules.get("row"))
                for r in range(self.rows)]
        for r, row in enumerate(rows):
            m.d.comb += [row.en.eq(self.en), row.w.data.eq(self.w.data),
                         row.w.we.eq(self.w.we[r]), row.w.bank.eq(self.w.bank)]
            if "idx" in row.w.signature.members:
                m.d.comb += row.w.idx.eq(self.w.idx)
            wiring.connect(m, wiring.flipped(self.in_act[r]), row.in_act)
            if r == 0:
                m.d.comb += row.in_psum.data.eq(Const(0, len(row.in_psum.data)))
            else:
                wiring.connect(m, rows[r - 1].out_psum, row.in_psum)
        m.d.comb += self.out_psum.data.eq(rows[-1].out_psum.data)
        return m
