"""hw.hier.Structure: one structural description, realised as Amaranth and as RTLIL."""

from __future__ import annotations

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from gen.hier import emit_hierarchy
from hw.hier import Sig, Structure, cat, const


def test_sig_slices_cat_and_constants():
    a = Sig((("w", "a", 0, 8),))
    b = Sig((("w", "b", 4, 4),))  # bits 4..7 of b
    s = cat(const(0b101, 3), a[2:6], b)
    assert s.width == 11
    assert s[3:7].parts == (("w", "a", 2, 4),)
    assert s[1:5].parts == (("c", 0b10, 2), ("w", "a", 2, 2))
    assert s[9].parts == (("w", "b", 6, 1),)
    assert s.rtlil() == "{ \\b [7:4] \\a [5:2] 3'101 }"
    assert const(-1, 4).rtlil() == "4'1111"
    with pytest.raises(IndexError):
        s[11]


_LEAF = wiring.Signature({"a": In(4), "y": Out(4)})
_CHAIN = wiring.Signature({"a": In(4), "y": Out(6)})


class _Leaf(wiring.Component):
    """y = a + 1 (4 bits), registered."""

    def __init__(self):
        super().__init__(_LEAF)

    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        m.d.sync += self.y.eq(self.a + 1)
        return m


class _Chain(wiring.Component):
    """Two leaves in a chain, the output's nibbles swapped with a constant between."""

    def __init__(self, prefix=None):
        self.prefix = prefix
        super().__init__(_CHAIN)

    def structure(self) -> Structure:
        st = Structure(self.signature)
        sig = _LEAF
        o = st.inst("l0", "leaf", _Leaf, sig, {"a": st.port("a")})
        st.inst("l1", "leaf", _Leaf, sig, {"a": o["y"][::1], "y": st.wire("mid", 4)})
        y = st.port("y")
        st.assign(y, cat(const(0b10, 2), Sig((("w", "mid", 0, 4),))))
        return st

    def children(self):
        return self.structure().children()

    def elaborate(self, platform):  # noqa: ARG002
        return self.structure().elaborate(self)


def test_structure_as_amaranth_and_as_rtlil():
    dut = _Chain()
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    seen = []

    async def bench(ctx):
        for v in (3, 15, 7, 7):
            ctx.set(dut.a, v)
            await ctx.tick()
            seen.append(ctx.get(dut.y))

    sim.add_testbench(bench)
    sim.run()
    # two registered +1 stages, then the constant 0b10 in the low bits
    assert seen[1:3] == [((3 + 2) % 16) << 2 | 2, ((15 + 2) % 16) << 2 | 2]
    modules, text = emit_hierarchy(_Chain(prefix="chain"), "chain")
    assert modules == ["chain_leaf", "chain"]
    assert text.count("chain_leaf l0 (") == 1 and text.count("chain_leaf l1 (") == 1
    assert ".clk(clk)" in text  # the leaf is clocked: clk and rst are passed


def test_binding_a_wrong_width_is_refused():
    st = Structure(_CHAIN)
    with pytest.raises(ValueError, match="3 bits bound to a 4-bit port"):
        st.inst("l0", "leaf", _Leaf, _LEAF, {"a": const(0, 3)})
