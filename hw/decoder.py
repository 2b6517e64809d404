"""N:M sparse-index decoder: per kept weight lane, pick the matching dense activation.

Golden twin: :mod:`golden.nm_hw` (:func:`~golden.nm_hw.decode_select`,
:func:`~golden.nm_hw.meta_violation`, :func:`~golden.nm_hw.meta_error_trace`).
Protocol, port layout and timing are documented in ``docs/sparsity.md``.
"""

from __future__ import annotations

import operator

from amaranth.hdl import Module, Signal, Value, signed, unsigned
from amaranth.lib import data
from amaranth.lib.wiring import In, Out

from golden.facts import ParamError, check_index, check_nm, index_bits
from hw.block import Block, check_input_bits
from hw.signatures import valid_stream

__all__ = ["NMDecoder"]


def _field(layout: data.Layout, path: tuple[str, ...]) -> object:
    """The shape of the field at ``path`` (struct field names) inside ``layout``."""
    shape: object = layout
    for name in path:
        shape = data.Layout.cast(shape)[name].shape
    return shape


def _replace(layout: data.StructLayout, path: tuple[str, ...],
             shape: object) -> data.StructLayout:
    """``layout`` with the field at ``path`` replaced by ``shape`` (field order kept)."""
    fields = {name: f.shape for name, f in layout}
    head = path[0]
    fields[head] = shape if len(path) == 1 else _replace(data.Layout.cast(fields[head]),
                                                         path[1:], shape)
    return data.StructLayout(fields)


def _pass_through(src, dst, layout: data.StructLayout, path: tuple[str, ...]) -> list:
    """Assignments ``dst.<f> = src.<f>`` for every field of ``layout`` except the one at
    ``path`` (the structs on the way to it are descended into)."""
    stmts = []
    for name, f in layout:
        if name != path[0]:
            stmts.append(dst[name].eq(src[name]))
        elif len(path) > 1:
            stmts += _pass_through(src[name], dst[name], data.Layout.cast(f.shape), path[1:])
    return stmts


class NMDecoder(Block):
    """Sparse-index decoder for N:M structured sparsity with metadata checking.

    A beat carries ``groups`` groups of ``m`` dense activations and, per group, ``n`` in-group
    indices of the kept weights. Lane ``k = g*n + j`` outputs activation ``g*m + idx[k]``. With
    strictly increasing indices lane ``j`` can only hold an index in ``[j, m-n+j]``, so each lane
    has an ``(m-n+1):1`` multiplexer (not ``m:1``); an index outside that window selects 0 and is
    a metadata violation.

    Parameters
    ----------
    n, m : int
        Sparsity ``n:m``, ``1 <= n < m <= 16``.
    groups : int
        Groups per beat (activation lanes ``groups*m``, output lanes ``groups*n``).
    width : int
        Width of a signed activation.
    packed24 : bool
        Take the metadata as REFERENCE.md's packed 2:4 nibbles in one payload field ``meta``
        (``4*groups`` bits, group ``g`` in ``[4g+3:4g]``, nibble ``idx0 | idx1<<2``) instead of
        the per-lane array ``idx``. Only for 2:4.
    registered : bool
        Register the output stream (latency 1, the default for a standalone decoder); only a
        valid beat loads the output payload (held otherwise). ``False`` makes it combinational
        (latency 0), for embedding in front of a unit that registers its inputs anyway or when
        the mux can share the next stage's cycle; saves the output payload's flip-flops and
        ``o.valid``'s. ``meta_error`` is a register in both cases.
    out_layout : data.StructLayout or None
        The output payload layout, so that ``o`` connects (``wiring.connect``) to a consumer
        that takes that layout; default ``StructLayout({"act": ArrayLayout(signed(width),
        groups*n)})``. Every field but the selected activations passes through (registered
        with them when ``registered``): a side band that stays aligned with its beat.
    select : tuple of str
        Path (field names) of the ``ArrayLayout(signed(width), groups*n)`` field of
        ``out_layout`` that receives the selected activations (default ``("act",)``).

    Ports
    -----
    i : In(valid_stream(...))
        ``out_layout`` with the field at ``select`` replaced by the ``groups*m`` dense
        activations (``ArrayLayout(signed(width), groups*m)``, element ``g*m + p`` = position
        ``p`` of group ``g``), plus ``idx`` (``ArrayLayout(unsigned(ceil(log2 m)), groups*n)``,
        the in-group index of kept lane ``k``) or, with ``packed24``, ``meta``
        (``unsigned(4*groups)``). Default: ``{"act", "idx"|"meta"}``. ``always_ready``: no
        backpressure, one beat per cycle (Verilog ``i__valid``, ``i__payload``).
    o : Out(valid_stream(out_layout))
        One beat per input beat, ``latency`` cycles later: the field at ``select`` holds the
        activation selected by each lane's index (0 if outside its window), the others are
        copied from the input beat (Verilog ``o__valid``, ``o__payload``).
    clear : In(1)
        Clear the sticky ``meta_error`` (a violation in the same cycle wins).
    meta_error : Out(1)
        Sticky: rises one cycle after the first beat whose metadata violates the rule (some
        group with ``idx[j] >= idx[j+1]``, or last index ``>= m`` when ``m`` is not a power of
        two) is presented, i.e. together with that beat's registered output; stays 1 until
        ``rst`` or ``clear``. Independent of ``registered``.

    Latency and throughput
    ----------------------
    ``latency`` = 1 cycle (``registered``) or 0 (combinational), one beat per cycle.
    """

    @classmethod
    def check(cls, *, n: int, m: int, groups: int, width: int, packed24: bool = False,
              registered: bool = True, out_layout: data.StructLayout | None = None,
              select: tuple[str, ...] = ("act",)) -> None:  # noqa: ARG003
        n, m = check_nm(n, m)
        if check_index(groups, "decoder groups") < 1:
            raise ParamError(f"decoder groups must be a positive integer, not {groups}")
        if check_index(width, "activation width") < 1:
            raise ParamError(f"activation width must be a positive integer, not {width}")
        check_input_bits(groups * (m * width + n * 4) + 2, "this decoder")
        if packed24 and (n, m) != (2, 4):
            raise ParamError(f"packed 2:4 nibble metadata needs sparsity 2:4, not {n}:{m}")
        if out_layout is not None:
            want = data.ArrayLayout(signed(width), groups * n)
            try:
                got = _field(out_layout, tuple(select))
            except (KeyError, TypeError):
                raise ParamError(f"decoder out_layout has no field {'.'.join(select)}") from None
            if data.Layout.cast(got) != want:
                raise ParamError(f"decoder out_layout field {'.'.join(select)} must be {want!r}, "
                                 f"not {got!r}")

    def __init__(
        self, *, n: int, m: int, groups: int, width: int, packed24: bool = False,
        registered: bool = True, out_layout: data.StructLayout | None = None,
        select: tuple[str, ...] = ("act",),
    ) -> None:
        n, m = operator.index(n), operator.index(m)
        groups, width = operator.index(groups), operator.index(width)
        packed24 = bool(packed24)
        self._n, self._m, self._groups, self._width = n, m, groups, width
        self._packed24 = packed24
        self._registered = bool(registered)
        ib = index_bits(m)
        self._select = tuple(select)
        if out_layout is None:
            out_layout = data.StructLayout({
                "act": data.ArrayLayout(signed(width), groups * n)})
            self._select = ("act",)
        self._out_layout = out_layout
        in_fields = {name: f.shape for name, f in _replace(
            out_layout, self._select, data.ArrayLayout(signed(width), groups * m))}
        if packed24:
            in_fields["meta"] = unsigned(4 * groups)
        else:
            in_fields["idx"] = data.ArrayLayout(unsigned(ib), groups * n)
        super().__init__({
            "i": In(valid_stream(data.StructLayout(in_fields))),
            "o": Out(valid_stream(out_layout)),
            "clear": In(1),
            "meta_error": Out(1),
        })

    # ---- read-only facts ---------------------------------------------------------------
    @property
    def n(self) -> int:
        return self._n

    @property
    def m(self) -> int:
        return self._m

    @property
    def groups(self) -> int:
        return self._groups

    @property
    def width(self) -> int:
        return self._width

    @property
    def packed24(self) -> bool:
        return self._packed24

    @property
    def lanes(self) -> int:
        """Output (kept-weight) lanes, ``groups*n``."""
        return self._groups * self._n

    @property
    def index_bits(self) -> int:
        return index_bits(self._m)

    @property
    def latency(self) -> int:
        """Cycles from a beat on the inputs to its result on the outputs."""
        return int(self._registered)

    @property
    def registered(self) -> bool:
        return self._registered

    @property
    def select(self) -> tuple[str, ...]:
        """Path of the selected activations inside both payloads."""
        return self._select

    def lane_index(self, k: int) -> Value:
        """Value (Amaranth) of lane ``k``'s index, whichever metadata form is built."""
        if self._packed24:
            # Nibble g = idx0 | idx1<<2 at [4g+3:4g]: lane k = 2g+j sits at bits [2k+1:2k].
            return self.i.payload.meta[2 * k: 2 * k + 2]
        return self.i.payload.idx[k]

    def _at(self, view, path: tuple[str, ...]):
        for name in path:
            view = view[name]
        return view

    def elaborate(self, platform: object) -> Module:
        mod = Module()
        n, m = self._n, self._m
        pow2 = (m & (m - 1)) == 0
        act_in = self._at(self.i.payload, self._select)
        act_out = self._at(self.o.payload, self._select)
        valid = self.i.valid
        side = _pass_through(self.i.payload, self.o.payload, self._out_layout, self._select)
        if self._registered:
            with mod.If(valid):
                mod.d.sync += side
        else:
            mod.d.comb += side
        bad_terms = []
        for g in range(self._groups):
            idx = [self.lane_index(g * n + j) for j in range(n)]
            for j in range(n):
                sel = Signal(signed(self._width), name=f"sel_{g}_{j}")
                # Window [j, m-n+j]: the only indices valid metadata can put in lane j.
                with mod.Switch(idx[j]):
                    for p in range(j, m - n + j + 1):
                        with mod.Case(p):
                            mod.d.comb += sel.eq(act_in[g * m + p])
                    with mod.Default():
                        mod.d.comb += sel.eq(0)
                if self._registered:
                    with mod.If(valid):
                        mod.d.sync += act_out[g * n + j].eq(sel)
                else:
                    mod.d.comb += act_out[g * n + j].eq(sel)
            # Strictly increasing + last < m is equivalent to every lane inside its window.
            for j in range(n - 1):
                bad_terms.append(idx[j] >= idx[j + 1])
            if not pow2:
                bad_terms.append(idx[n - 1] >= m)
        bad = Signal()
        if bad_terms:
            acc = bad_terms[0]
            for t in bad_terms[1:]:
                acc = acc | t
            mod.d.comb += bad.eq(acc)
        if self._registered:
            mod.d.sync += self.o.valid.eq(valid)
        else:
            mod.d.comb += self.o.valid.eq(valid)
        mod.d.sync += self.meta_error.eq(
            (self.meta_error & ~self.clear) | (valid & bad)
        )
        return mod
