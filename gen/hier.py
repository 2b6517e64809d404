"""Emit a module once, instantiate it N times: the generic helper every hierarchical design uses.

A hierarchical component (see :mod:`hw.hier`) takes ``modules`` (role -> Verilog module name)
and exposes ``children()`` (role -> factory of a fresh child built with the same ``modules``).
:func:`emit_hierarchy` converts each distinct child once, deepest first, then the top; the
parents instantiate the children as black boxes by those names. Children are converted with
Amaranth's ``strip_internal_attrs`` so that only the top keeps the ``(* top = 1 *)`` mark that
tools use to guess the top; no Verilog text is edited.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gen.emit import to_verilog

__all__ = ["emit_hierarchy", "module_names"]


def module_names(top: str, roles: tuple[str, ...]) -> dict[str, str]:
    """The conventional names ``<top>_<role>`` for each role."""
    return {role: f"{top}_{role}" for role in roles}


def emit_hierarchy(component: Any, top: str, modules: Mapping[str, str]) -> list[tuple[str, str]]:
    """Verilog of ``component`` (module ``top``) and of each distinct child, each once.

    Returns ``[(module name, Verilog text), ...]`` with children before their parents and the
    top last. A role missing from ``modules`` stays an inline Amaranth submodule.
    """
    done: dict[str, str] = {}

    def visit(comp: Any) -> None:
        for role, make in getattr(comp, "children", dict)().items():
            name = modules.get(role)
            if name is None or name in done:
                continue
            child = make()
            visit(child)
            done[name] = to_verilog(child, name, strip_internal_attrs=True)

    visit(component)
    return [*done.items(), (top, to_verilog(component, top))]
