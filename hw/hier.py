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

from amaranth.hdl import ClockSignal, Const, Instance, Module, ResetSignal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In

__all__ = ["place"]


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
