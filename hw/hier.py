"""Emit a module once, instantiate it N times: the hardware half of the generic helper.

A hierarchical component (the row, the array, the pod) places each child with :func:`place`.
Without a module name the child is an ordinary Amaranth submodule (what the Python simulator
wants). With one, the parent instantiates a black box of that Verilog module through an
interface created from the child's *signature*, so the child component is never built per
instance: :func:`gen.hier.emit_hierarchy` converts one child per distinct module and the
Verilog stays linear in the number of distinct modules, not in R x C.

The Instance's port names are the child's flattened signature paths (``in_psum__data``), which
is exactly how Amaranth names the ports of the emitted child module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, ResetSignal, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In

__all__ = ["place", "Sig", "Structure", "cat", "const", "signature_ports"]


def place(m: Module, name: str, make: Callable[[], wiring.Component],
          signature: wiring.Signature, module: str | None, *, clocked: bool = True) -> Any:
    """Add child ``name`` to ``m``: the component ``make()`` or an Instance of ``module``.

    Returns the object whose ports the parent wires (the component, or an interface with the
    same signature); ``wiring.connect`` and ``.eq`` work on either.
    """
    if module is None:
        child = make()
        m.submodules[name] = child
        return child
    iface = signature.create(path=(name,))
    ports: dict[str, Any] = {}
    if clocked:
        ports.update(i_clk=ClockSignal("sync"), i_rst=ResetSignal("sync"))
    for path, member, value in signature.flatten(iface):
        v = Value.cast(value)
        if isinstance(v, Const):  # the ready of an always_ready stream: not a port
            continue
        pname = "__".join(str(p) for p in path)
        ports[("i_" if member.flow == In else "o_") + pname] = v
    m.submodules[name] = Instance(module, **ports)
    return iface


# ---- structural modules ------------------------------------------------------------------------
#
# A module that only places children and wires them (a network of switches, the multi-pod
# system's top) is described once as a :class:`Structure`: named wires, and instances whose
# ports are bound to slices, concatenations and constants of wires. The same description is
# realised two ways: :meth:`Structure.elaborate` builds an Amaranth module (the Python
# simulator, or a design without a prefix) and :meth:`Structure.rtlil` writes the RTLIL text
# directly (the generator). Amaranth's netlist builder is quadratic-ish in a module's fan-out
# and took minutes on a 256-pod top of ~10^5 port bits; writing the same connections as text
# takes a fraction of a second, and Yosys reads it as it reads Amaranth's own RTLIL.


class Sig:
    """Bits of wires and constants, least significant first (a Verilog concatenation).

    Built by :meth:`Structure.wire` / :meth:`Structure.port`, :func:`const` and :func:`cat`;
    sliced with ``sig[lo:hi]`` or ``sig[i]``.
    """

    __slots__ = ("parts",)

    def __init__(self, parts: tuple) -> None:
        # ("w", name, lo, width) or ("c", value, width)
        self.parts = parts

    @property
    def width(self) -> int:
        return sum(p[-1] for p in self.parts)

    def __len__(self) -> int:
        return self.width

    def __getitem__(self, key: int | slice) -> Sig:
        w = self.width
        if isinstance(key, int):
            if not -w <= key < w:
                raise IndexError(f"bit {key} of a {w}-bit signal")
            lo, hi = key % w, key % w + 1
        else:
            lo, hi, step = key.indices(w)
            if step != 1 or hi < lo:
                raise IndexError("only contiguous slices of a Sig")
        out, pos = [], 0
        for p in self.parts:
            n = p[-1]
            a, b = max(lo, pos), min(hi, pos + n)
            if a < b:
                if p[0] == "w":
                    out.append(("w", p[1], p[2] + a - pos, b - a))
                else:
                    out.append(("c", (p[1] >> (a - pos)) & ((1 << (b - a)) - 1), b - a))
            pos += n
        return Sig(tuple(out))

    def rtlil(self) -> str:
        def one(p) -> str:
            if p[0] == "c":
                return f"{p[2]}'{p[1]:0{p[2]}b}"
            return f"\\{p[1]} [{p[2] + p[3] - 1}:{p[2]}]"
        if len(self.parts) == 1:
            return one(self.parts[0])
        return "{ " + " ".join(one(p) for p in reversed(self.parts)) + " }"


def const(value: int, width: int) -> Sig:
    """A ``width``-bit constant (``value`` taken modulo ``2**width``)."""
    return Sig((("c", value & ((1 << width) - 1), width),)) if width else Sig(())


def cat(*sigs: Sig) -> Sig:
    """Concatenation, the first argument least significant (as Amaranth's ``Cat``)."""
    return Sig(tuple(p for s in sigs for p in s.parts))


def signature_ports(signature: wiring.Signature) -> list[tuple[str, bool, int]]:
    """``(port name, is input, width)`` of a component with ``signature``, as Amaranth names the
    ports of its emitted module (constant members, such as an ``always_ready`` stream's
    ``ready``, are not ports)."""
    out = []
    for path, member, value in signature.flatten(signature.create()):
        v = Value.cast(value)
        if isinstance(v, Const):
            continue
        out.append(("__".join(str(p) for p in path), member.flow == In, len(v)))
    return out


class Structure:
    """Wires and child instances of one purely structural module (see the section comment).

    Parameters
    ----------
    signature:
        The module's own signature; its flattened ports are wires of the same names
        (:meth:`port`).
    clocked:
        Whether the module has ``clk``/``rst`` ports (passed to clocked children).
    """

    def __init__(self, signature: wiring.Signature, *, clocked: bool = True) -> None:
        self.clocked = clocked
        self.ports = signature_ports(signature)
        self.widths: dict[str, int] = {n: w for n, _, w in self.ports}
        self.port_names = set(self.widths)
        self.wires: list[str] = []
        # name -> (module key, factory, signature, {port: Sig})
        self.instances: dict[str, tuple[str, Callable[[], Any], wiring.Signature, dict]] = {}
        self.assigns: list[tuple[Sig, Sig]] = []

    def port(self, name: str) -> Sig:
        """The module's port ``name`` (flattened, ``rd__payload``) as a wire."""
        return Sig((("w", name, 0, self.widths[name]),))

    def wire(self, name: str, width: int) -> Sig:
        if name in self.widths:
            raise ValueError(f"wire {name!r} defined twice")
        self.widths[name] = width
        self.wires.append(name)
        return Sig((("w", name, 0, width),))

    def assign(self, dst: Sig, src: Sig) -> None:
        """Drive the wire bits ``dst`` from ``src`` (equal widths)."""
        if len(dst) != len(src) or any(p[0] != "w" for p in dst.parts):
            raise ValueError("assign: the destination must be wire bits of the source's width")
        self.assigns.append((dst, src))

    def inst(self, name: str, key: str, make: Callable[[], Any], signature: wiring.Signature,
             conns: dict[str, Sig], *, outputs: dict[str, str] | None = None) -> dict[str, Sig]:
        """Place child ``name`` (module key ``key``) with its inputs bound to ``conns``.

        Every output port not bound in ``conns`` gets a wire ``<name>_<port>``; returns the
        Sig of every output port. Input ports left unbound are tied to 0.
        """
        if name in self.instances:
            raise ValueError(f"instance {name!r} placed twice")
        bound = dict(conns)
        outs: dict[str, Sig] = {}
        for pname, is_in, width in signature_ports(signature):
            s = bound.get(pname)
            if s is not None and len(s) != width:
                raise ValueError(f"{name}.{pname}: {len(s)} bits bound to a {width}-bit port")
            if is_in:
                if s is None:
                    bound[pname] = const(0, width)
            else:
                if s is None:
                    s = bound[pname] = self.wire(f"{name}_{pname}", width)
                outs[pname] = s
        self.instances[name] = (key, make, signature, bound)
        return outs

    # ---- Amaranth ----------------------------------------------------------------------------
    def elaborate(self, component: wiring.Component) -> Module:
        """The structure as an Amaranth module whose ports are ``component``'s; every child is
        a fresh ``make()``."""
        m = Module()
        vals: dict[str, Value] = {}
        for path, _member, value in component.signature.flatten(component):
            v = Value.cast(value)
            if not isinstance(v, Const):
                vals["__".join(str(p) for p in path)] = v
        for w in self.wires:
            vals[w] = Signal(self.widths[w], name=w)

        def value(s: Sig) -> Value:
            parts = [Const(p[1], p[2]) if p[0] == "c" else vals[p[1]][p[2]:p[2] + p[3]]
                     for p in s.parts]
            return Cat(*parts)

        for name, (_key, make, signature, bound) in self.instances.items():
            child = make()
            m.submodules[name] = child
            cvals = {}
            for path, member, v in signature.flatten(child):
                cv = Value.cast(v)
                if not isinstance(cv, Const):
                    cvals["__".join(str(p) for p in path)] = (member.flow == In, cv)
            for pname, s in bound.items():
                is_in, cv = cvals[pname]
                if is_in:
                    m.d.comb += cv.eq(value(s))
                else:
                    pos = 0
                    for p in s.parts:
                        m.d.comb += vals[p[1]][p[2]:p[2] + p[3]].eq(cv[pos:pos + p[3]])
                        pos += p[3]
        for dst, src in self.assigns:
            m.d.comb += value(dst).eq(value(src))
        return m

    # ---- RTLIL -------------------------------------------------------------------------------
    def children(self) -> dict[str, Callable[[], Any]]:
        """Module key -> factory of each distinct child."""
        out: dict[str, Callable[[], Any]] = {}
        for key, make, _sig, _b in self.instances.values():
            out.setdefault(key, make)
        return out

    def rtlil(self, name: str, module_of: Callable[[str], str],
              clocked_of: Callable[[str], bool]) -> str:
        """RTLIL text of the module ``name``; child key ``k`` is module ``module_of(k)``, with
        ``clk``/``rst`` ports when ``clocked_of(k)``."""
        out = [f"attribute \\top 1\nmodule \\{name}"]
        n = 0
        if self.clocked:
            for p in ("clk", "rst"):
                n += 1
                out.append(f"  wire width 1 input {n} \\{p}")
        for pname, is_in, width in self.ports:
            n += 1
            out.append(f"  wire width {width} {'input' if is_in else 'output'} {n} \\{pname}")
        for w in self.wires:
            out.append(f"  wire width {self.widths[w]} \\{w}")
        for iname, (key, _make, _sig, bound) in self.instances.items():
            out.append(f"  cell \\{module_of(key)} \\{iname}")
            if clocked_of(key):
                out.append("    connect \\clk \\clk\n    connect \\rst \\rst")
            for pname, s in bound.items():
                if len(s):
                    out.append(f"    connect \\{pname} {s.rtlil()}")
            out.append("  end")
        for dst, src in self.assigns:
            if len(dst):
                out.append(f"  connect {dst.rtlil()} {src.rtlil()}")
        out.append("end\n")
        return "\n".join(out)
