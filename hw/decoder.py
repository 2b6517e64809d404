"""N:M sparse-index decoder: per kept weight lane, pick the matching dense activation.

Golden twin: :mod:`golden.nm_hw` (:func:`~golden.nm_hw.decode_select`,
:func:`~golden.nm_hw.meta_violation`, :func:`~golden.nm_hw.meta_error_trace`).
Protocol, port layout and timing are documented in ``docs/sparsity.md``.
"""

from __future__ import annotations

import operator

from amaranth.hdl import Module, Signal, Value, signed, unsigned
from amaranth.lib.wiring import In, Out

from golden.facts import ParamError, check_index, check_nm, index_bits
from hw.block import Block, check_input_bits

__all__ = ["NMDecoder"]


class NMDecoder(Block):
    """Sparse-index decoder for N:M structured sparsity with metadata checking.

    A beat carries ``groups`` groups of ``m`` dense activations (``in_act``) and, per group,
    ``n`` in-group indices of the kept weights. Lane ``k = g*n + j`` outputs
    ``in_act[g*m + idx[k]]``. With strictly increasing indices lane ``j`` can only hold an index
    in ``[j, m-n+j]``, so each lane has an ``(m-n+1):1`` multiplexer (not ``m:1``); an index
    outside that window selects 0 and is a metadata violation.

    Parameters
    ----------
    n, m : int
        Sparsity ``n:m``, ``1 <= n < m <= 16``.
    groups : int
        Groups per beat (activation lanes ``groups*m``, output lanes ``groups*n``).
    width : int
        Width of a signed activation.
    packed24 : bool
        Take the metadata as REFERENCE.md's packed 2:4 nibbles on one flat bus ``in_meta``
        (``4*groups`` bits, group ``g`` in ``[4g+3:4g]``, nibble ``idx0 | idx1<<2``) instead of
        the per-lane ports ``in_idx__k``. Only for 2:4.
    registered : bool
        Register ``out_valid``/``out_act`` (latency 1, the default for a standalone decoder).
        ``False`` makes them combinational (latency 0), for embedding in front of a unit that
        registers its inputs anyway or when the mux can share the next stage's cycle; saves
        ``groups*n*width + 1`` flip-flops. ``meta_error`` is a register in both cases.

    Ports
    -----
    in_valid : In(1)
        A beat is presented (no backpressure: one beat per cycle).
    in_clear : In(1)
        Clear the sticky ``meta_error`` (a violation in the same cycle wins).
    in_act : In(signed(width)).array(groups*m)
    in_idx : In(unsigned(ceil(log2 m))).array(groups*n)
        Per-lane indices (absent with ``packed24``).
    in_meta : In(unsigned(4*groups))
        Packed 2:4 nibble bus (only with ``packed24``).
    out_valid : Out(1)
    out_act : Out(signed(width)).array(groups*n)
        Selected activations; registered: only updated on a valid beat (held otherwise).
    meta_error : Out(1)
        Sticky: rises one cycle after the first beat whose metadata violates the rule (some
        group with ``idx[j] >= idx[j+1]``, or last index ``>= m`` when ``m`` is not a power of
        two) is presented, i.e. together with that beat's registered output; stays 1 until
        ``rst`` or ``in_clear``. Independent of ``registered``.

    Latency and throughput
    ----------------------
    ``latency`` = 1 cycle (``registered``) or 0 (combinational), one beat per cycle.
    """

    @classmethod
    def check(cls, *, n: int, m: int, groups: int, width: int, packed24: bool = False,
              registered: bool = True) -> None:  # noqa: ARG003
        n, m = check_nm(n, m)
        if check_index(groups, "decoder groups") < 1:
            raise ParamError(f"decoder groups must be a positive integer, not {groups}")
        if check_index(width, "activation width") < 1:
            raise ParamError(f"activation width must be a positive integer, not {width}")
        check_input_bits(groups * (m * width + n * 4) + 2, "this decoder")
        if packed24 and (n, m) != (2, 4):
            raise ParamError(f"packed 2:4 nibble metadata needs sparsity 2:4, not {n}:{m}")

    def __init__(
        self, *, n: int, m: int, groups: int, width: int, packed24: bool = False,
        registered: bool = True,
    ) -> None:
        n, m = operator.index(n), operator.index(m)
        groups, width = operator.index(groups), operator.index(width)
        packed24 = bool(packed24)
        self._n, self._m, self._groups, self._width = n, m, groups, width
        self._packed24 = packed24
        self._registered = bool(registered)
        ib = index_bits(m)
        sig = {
            "in_valid": In(1),
            "in_clear": In(1),
            "in_act": In(signed(width)).array(groups * m),
            "out_valid": Out(1),
            "out_act": Out(signed(width)).array(groups * n),
            "meta_error": Out(1),
        }
        if packed24:
            sig["in_meta"] = In(unsigned(4 * groups))
        else:
            sig["in_idx"] = In(unsigned(ib)).array(groups * n)
        super().__init__(sig)

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

    def lane_index(self, k: int) -> Value:
        """Value (Amaranth) of lane ``k``'s index, whichever metadata port form is built."""
        if self._packed24:
            # Nibble g = idx0 | idx1<<2 at [4g+3:4g]: lane k = 2g+j sits at bits [2k+1:2k].
            return self.in_meta[2 * k: 2 * k + 2]
        return self.in_idx[k]

    def elaborate(self, platform: object) -> Module:
        mod = Module()
        n, m = self._n, self._m
        pow2 = (m & (m - 1)) == 0
        bad_terms = []
        for g in range(self._groups):
            idx = [self.lane_index(g * n + j) for j in range(n)]
            for j in range(n):
                sel = Signal(signed(self._width), name=f"sel_{g}_{j}")
                # Window [j, m-n+j]: the only indices valid metadata can put in lane j.
                with mod.Switch(idx[j]):
                    for p in range(j, m - n + j + 1):
                        with mod.Case(p):
                            mod.d.comb += sel.eq(self.in_act[g * m + p])
                    with mod.Default():
                        mod.d.comb += sel.eq(0)
                if self._registered:
                    with mod.If(self.in_valid):
                        mod.d.sync += self.out_act[g * n + j].eq(sel)
                else:
                    mod.d.comb += self.out_act[g * n + j].eq(sel)
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
            mod.d.sync += self.out_valid.eq(self.in_valid)
        else:
            mod.d.comb += self.out_valid.eq(self.in_valid)
        mod.d.sync += self.meta_error.eq(
            (self.meta_error & ~self.in_clear) | (self.in_valid & bad)
        )
        return mod
