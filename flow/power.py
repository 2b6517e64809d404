"""Power flow: gate-level activity of the timing flow's mapped netlist, energy from the liberty.

One design point is mapped by the timing flow (:func:`flow.timing.timing_of_verilog` with
``keep_netlist=True``: the flat, timing-driven netlist that ``sta`` times) and simulated at
gate level with Icarus Verilog, using cell models that Yosys builds from the same liberty
(``read_liberty`` *without* ``-lib``: real logic, flip-flops initialised to 0). A testbench
written here drives a workload -- for the pod, a tiled GEMM in its stream formats
(:func:`golden.systolic.pod_program`); for the datapath blocks, random or zero input vectors --
and samples net values once per clock cycle: the registers, the inputs and a check set of
combinational nets from the simulator, every other combinational net recomputed from its cell's
liberty function (exact at zero delay; the check set must agree bit for bit, and
``sample_all`` takes every net from the simulator). The simulation is also an equivalence
check: the pod's result stream must equal the golden model bit for bit (and take exactly
:func:`golden.systolic.cycles` cycles), a datapath block's outputs must equal an RTL simulation
of the generated Verilog with the same inputs, every cycle; anything else is a refusal.

Energy is then taken from the liberty tables (REFERENCE.md section 8: the 2019 ``sta`` cannot
be trusted for power):

* **internal**: per output transition, the output pin's ``internal_power`` arc of the related
  input that toggled in that cycle (equal shares when several did), ``rise_power`` for a rising
  and ``fall_power`` for a falling output, each once per transition, looked up at the related
  input net's slew and the output net's load; per transition of an input pin with pin-level
  tables (flip-flop ``D``, mux select, ...), its table at the net's slew. Among an arc's groups
  the first whose ``when`` holds is used and the unconditional one only when none does (never
  on top of them). Flip-flop clock pins: one rising and one falling event every cycle, with
  their ``when`` state (before the edge for the rise, after it for the fall).
* **switching**: ``1/2 C V^2`` per net transition, ``C`` = the sink pins' capacitance plus the
  wire-load model's capacitance for the net's fanout (the model ``sta`` used), plus the timing
  flow's 5 fF on top-level outputs. The clock net: its pins only (ideal clock, no tree).
* **leakage**: ``cell_leakage_power`` of every cell (state-independent).

Slews are propagated through the netlist in topological order with the library's transition
tables (mean of rise and fall, mean over arcs), from the timing flow's driving cell on inputs
and :data:`CLOCK_SLEW_NS` on the clock; power tables are looked up inside their index range
(clamped), transition tables extrapolate linearly as ``sta`` does.

The simulation is zero-delay: at most one transition per net per cycle, so glitches are not
counted (REFERENCE.md section 8 measured +43 % with an SDF-timed simulation of the 8x8 HBFP6
pod); the report gives that figure as a separate, labelled estimate. A vectorless figure (default
activity at inputs and flip-flop outputs, propagated by transition density) is reported beside
the simulated one.

Errors are one line (:class:`PowerError`, a :class:`gen.config.ConfigError`; CLI exit 2).
See ``docs/power.md``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flow import area, sram, timing
from gen.config import ConfigError
from gen.emit import atomic_write_text
from golden.facts import ZERO_BLOCK_EXP
from golden.systolic import PodGeometry, PodLayout, PodProgram, pod_program, random_hbfp_operands

__all__ = [
    "Activity",
    "CHECK_PER_TYPE",
    "CLOCK_SLEW_NS",
    "CellModel",
    "DEFAULT_CACHE",
    "GENERIC_POWER_CELLS",
    "GLITCH_FACTOR",
    "INPUT_SLEW_NS",
    "Instance",
    "LutTable",
    "Netlist",
    "POWER_FLOW_VERSION",
    "PinInfo",
    "PodWorkload",
    "Port",
    "PowerError",
    "PowerGroup",
    "PowerLibrary",
    "PowerReport",
    "SimResult",
    "SramEnergy",
    "Stimulus",
    "Structure",
    "VECTORLESS_ACTIVITY",
    "VECTORLESS_PROBABILITY",
    "VectorWorkload",
    "WireLoad",
    "analyse_netlist",
    "apply_generic_power",
    "cell_models_verilog",
    "default_pod_gemm",
    "eval_bool",
    "evaluate_activity",
    "expr_vars",
    "fit_generic_power",
    "format_report",
    "format_summary",
    "load_power_library",
    "net_ref",
    "parse_bool",
    "parse_netlist",
    "pod_geometry",
    "pod_workload",
    "power_of_design",
    "power_of_verilog",
    "propagate_values",
    "read_values",
    "sample_plan",
    "simulate",
    "sram_macro_energy",
    "sram_power",
    "summarize",
    "testbench_verilog",
    "vector_workload",
    "vectorless",
    "write_report",
]

ROOT = area.ROOT
DEFAULT_CACHE = ROOT / "build" / "power" / "cache"
#: Bump when the simulation, the energy model or the report changes.
POWER_FLOW_VERSION = "1"
#: Transition time of the ideal clock at the flip-flop clock pins (a buffered clock tree's
#: typical slew; the IHP clock-pin tables vary by about 1 % between 0.02 and 0.33 ns).
CLOCK_SLEW_NS = 0.1
#: Input transition of the timing flow's driving cell on the top-level inputs.
INPUT_SLEW_NS = 0.1
#: Vectorless default: toggles per clock cycle at every input and flip-flop output, and the
#: static probability of a 1 there (OpenSTA's and PrimeTime's usual defaults).
VECTORLESS_ACTIVITY = 0.1
VECTORLESS_PROBABILITY = 0.5
#: Zero-delay to glitch-aware ratio measured by REFERENCE.md section 8 on the 8x8 HBFP6 pod
#: (an SDF-timed gate-level simulation raised the estimate by 43 %): a labelled estimate only.
GLITCH_FACTOR = 1.43
#: Seconds the Icarus compile / run may take.
SIM_TIMEOUT = 3600
#: Cycles of reset before a workload (rst high; sources idle, sink not ready).
RESET_CYCLES = 3
#: Cells evaluated per numpy block (bounds memory: block x cycles per array).
EVAL_BLOCK = 2048
IVERILOG_HINT = "install it with: apt-get install -y iverilog (make power does this as root)"


class PowerError(ConfigError):
    """The power flow could not run on the given input (one readable line; CLI exit 2)."""


# ---- liberty parsing ----------------------------------------------------------------------------
@dataclass
class _LGroup:
    """One liberty group: ``kind (args) { attrs; complex (args); children }``."""

    kind: str
    args: list[str]
    attrs: dict[str, str] = field(default_factory=dict)
    cplx: dict[str, list[list[str]]] = field(default_factory=dict)
    children: list[_LGroup] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.args[0] if self.args else ""

    def groups(self, kind: str) -> list[_LGroup]:
        return [c for c in self.children if c.kind == kind]


_L_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_L_SKIP = re.compile(r"[\s;]*")
_L_WS = re.compile(r"\s*")
_L_NAME = re.compile(r"[A-Za-z_][\w.]*")
_L_ARGS = re.compile(r'\(((?:"[^"]*"|[^()"])*)\)')
_L_VALUE = re.compile(r'\s*("[^"]*"|[^;\n{}]*)\s*;?')


def _split_args(s: str) -> list[str]:
    out, cur, quoted = [], [], False
    for ch in s:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    last = "".join(cur).strip()
    if last or out:
        out.append(last)
    return out


def _parse_liberty(text: str, what: str) -> _LGroup:
    """The group tree of a liberty text (comments and line continuations removed)."""
    text = _L_COMMENT.sub(" ", text).replace("\\\r\n", " ").replace("\\\n", " ")
    root = _LGroup("", [])
    stack = [root]
    pos, n = 0, len(text)

    def bad(why: str) -> PowerError:
        line = text.count("\n", 0, pos) + 1
        return PowerError(f"{what} is malformed near line {line}: {why}")

    while True:
        pos = _L_SKIP.match(text, pos).end()
        if pos >= n:
            break
        if text[pos] == "}":
            if len(stack) == 1:
                raise bad("unbalanced '}'")
            stack.pop()
            pos += 1
            continue
        m = _L_NAME.match(text, pos)
        if m is None:
            raise bad(f"unexpected {text[pos]!r}")
        name = m.group(0)
        pos = _L_WS.match(text, m.end()).end()
        if pos < n and text[pos] == ":":
            vm = _L_VALUE.match(text, pos + 1)
            val = vm.group(1).strip()
            if len(val) >= 2 and val[0] == '"' and val[-1] == '"':
                val = val[1:-1]
            stack[-1].attrs[name] = val
            pos = vm.end()
            continue
        if pos < n and text[pos] == "(":
            am = _L_ARGS.match(text, pos)
            if am is None:
                raise bad(f"unbalanced '(' after {name}")
            args = [a.strip('"') for a in _split_args(am.group(1))]
            pos = _L_WS.match(text, am.end()).end()
            if pos < n and text[pos] == "{":
                g = _LGroup(name, args)
                stack[-1].children.append(g)
                stack.append(g)
                pos += 1
            else:
                stack[-1].cplx.setdefault(name, []).append(args)
            continue
        raise bad(f"no ':' or '(' after {name}")
    if len(stack) != 1:
        raise PowerError(f"{what} is malformed: unbalanced '{{' (group {stack[-1].kind} "
                         f"{stack[-1].name} is not closed)")
    return root


# ---- boolean expressions (liberty function / when) ---------------------------------------------
_B_TOKEN = re.compile(r"\s*(?:([A-Za-z_][\w\[\].]*)|([01])|([!'*&+|^()]))")
Expr = tuple


def parse_bool(text: str) -> Expr:
    """Parse a liberty boolean expression (``function``, ``when``) into a small tree.

    Operators: ``!`` and postfix ``'`` (not), ``^`` (xor), ``*``/``&``/juxtaposition (and),
    ``+``/``|`` (or), in that order of precedence; constants ``0`` and ``1``. Raises
    :class:`ValueError` on a malformed expression.
    """
    toks: list[tuple[str, str]] = []
    pos, s = 0, text.strip()
    while pos < len(s):
        m = _B_TOKEN.match(s, pos)
        if m is None or m.end() == pos:
            if s[pos:].strip() == "":
                break
            raise ValueError(f"bad character {s[pos]!r} in {text!r}")
        if m.group(1):
            toks.append(("id", m.group(1)))
        elif m.group(2):
            toks.append(("const", m.group(2)))
        else:
            toks.append(("op", m.group(3)))
        pos = m.end()
    i = 0

    def peek() -> tuple[str, str] | None:
        return toks[i] if i < len(toks) else None

    def take() -> tuple[str, str]:
        nonlocal i
        if i >= len(toks):
            raise ValueError(f"unexpected end of {text!r}")
        i += 1
        return toks[i - 1]

    def p_or() -> Expr:
        a = p_and()
        while (t := peek()) is not None and t[1] in ("+", "|") and t[0] == "op":
            take()
            a = ("or", a, p_and())
        return a

    def p_and() -> Expr:
        a = p_xor()
        while (t := peek()) is not None:
            if t[0] == "op" and t[1] in ("*", "&"):
                take()
            elif not (t[0] in ("id", "const") or t[1] in ("(", "!")):
                break
            a = ("and", a, p_xor())
        return a

    def p_xor() -> Expr:
        a = p_not()
        while (t := peek()) is not None and t == ("op", "^"):
            take()
            a = ("xor", a, p_not())
        return a

    def p_not() -> Expr:
        if peek() == ("op", "!"):
            take()
            return ("not", p_not())
        a = p_prim()
        while peek() == ("op", "'"):
            take()
            a = ("not", a)
        return a

    def p_prim() -> Expr:
        kind, v = take()
        if kind == "id":
            return ("var", v)
        if kind == "const":
            return ("const", v == "1")
        if v == "(":
            e = p_or()
            if take() != ("op", ")"):
                raise ValueError(f"missing ')' in {text!r}")
            return e
        raise ValueError(f"unexpected {v!r} in {text!r}")

    if not toks:
        raise ValueError("empty expression")
    e = p_or()
    if i != len(toks):
        raise ValueError(f"trailing {toks[i][1]!r} in {text!r}")
    return e


def expr_vars(e: Expr) -> set[str]:
    """The variable names an expression reads."""
    if e[0] == "var":
        return {e[1]}
    if e[0] == "const":
        return set()
    return set().union(*(expr_vars(x) for x in e[1:]))


def eval_bool(e: Expr, env: Mapping[str, Any], shape: tuple[int, ...] = ()) -> np.ndarray:
    """Evaluate on numpy bool arrays (unknown names read as 0)."""
    k = e[0]
    if k == "var":
        v = env.get(e[1])
        return np.zeros(shape, bool) if v is None else np.asarray(v, bool)
    if k == "const":
        return np.full(shape, e[1], bool)
    if k == "not":
        return ~eval_bool(e[1], env, shape)
    a, b = eval_bool(e[1], env, shape), eval_bool(e[2], env, shape)
    return a & b if k == "and" else (a | b if k == "or" else a ^ b)


# ---- lookup tables ------------------------------------------------------------------------------
_SLEW_VARS = ("input_transition_time", "input_net_transition", "related_pin_transition",
              "constrained_pin_transition")
_LOAD_VARS = ("total_output_net_capacitance", "related_out_total_output_net_capacitance")


def _axis_weights(x: np.ndarray, xs: np.ndarray, clamp: bool) -> tuple[np.ndarray, np.ndarray]:
    if len(xs) == 1:
        return np.zeros(x.shape, np.intp), np.zeros(x.shape)
    if clamp:
        x = np.clip(x, xs[0], xs[-1])
    i = np.clip(np.searchsorted(xs, x, side="right") - 1, 0, len(xs) - 2)
    return i, (x - xs[i]) / (xs[i + 1] - xs[i])


@dataclass(frozen=True)
class LutTable:
    """A liberty lookup table in ns, pF and pJ (or ns for transition tables).

    ``axes`` names each dimension ``"slew"``, ``"load"`` or ``"other"`` (read at its first
    index point); a scalar table has no axes.
    """

    axes: tuple[str, ...]
    index: tuple[np.ndarray, ...]
    values: np.ndarray

    def lookup(self, slew: Any, load: Any, *, clamp: bool = True) -> np.ndarray:
        """Bilinear interpolation at ``slew`` (ns) and ``load`` (pF), vectorized.

        ``clamp``: stay inside the index range (power tables); else extrapolate linearly.
        """
        slew = np.asarray(slew, float)
        load = np.asarray(load, float)
        shape = np.broadcast(slew, load).shape
        if not self.axes:
            return np.full(shape, float(self.values.reshape(-1)[0]))
        xs = [np.broadcast_to(slew if a == "slew" else load if a == "load" else
                              np.full(shape, ix[0]), shape)
              for a, ix in zip(self.axes, self.index, strict=True)]
        if len(self.axes) == 1:
            i, t = _axis_weights(xs[0], self.index[0], clamp)
            v = self.values
            j = np.minimum(i + 1, len(v) - 1)
            return v[i] * (1 - t) + v[j] * t
        (i1, t1), (i2, t2) = (_axis_weights(x, ix, clamp) for x, ix in zip(xs[:2], self.index,
                                                                          strict=False))
        v = self.values
        j1, j2 = np.minimum(i1 + 1, v.shape[0] - 1), np.minimum(i2 + 1, v.shape[1] - 1)
        return ((1 - t1) * (1 - t2) * v[i1, i2] + (1 - t1) * t2 * v[i1, j2]
                + t1 * (1 - t2) * v[j1, i2] + t1 * t2 * v[j1, j2])


def _floats(s: str) -> list[float]:
    return [float(x) for x in s.replace(",", " ").split()]


def _make_table(g: _LGroup, templates: dict[str, _LGroup], *, time_ns: float, cap_pf: float,
                scale: float, what: str) -> LutTable:
    tpl = templates.get(g.name)
    variables: list[str] = []
    index: list[list[float]] = []
    for k in (1, 2, 3):
        var = (tpl.attrs.get(f"variable_{k}") if tpl is not None else None)
        own = g.cplx.get(f"index_{k}")
        ix = own[0] if own else (tpl.cplx.get(f"index_{k}", [None])[0] if tpl is not None
                                 else None)
        if var is None and ix is None:
            break
        variables.append(var or "")
        index.append(_floats(ix[0]) if ix else [])
    vals = g.cplx.get("values")
    if not vals:
        raise PowerError(f"{what}: table {g.kind} ({g.name}) has no values")
    try:
        rows = [_floats(r) for r in vals[0]]
    except ValueError:
        raise PowerError(f"{what}: table {g.kind} ({g.name}) has non-numeric values") from None
    arr = np.array(rows if len(rows) > 1 else rows[0], float) * scale
    if arr.size == 1 or not variables:
        return LutTable((), (), arr.reshape(-1)[:1])
    axes = tuple("slew" if v in _SLEW_VARS else "load" if v in _LOAD_VARS else "other"
                 for v in variables)
    unit = {"slew": time_ns, "load": cap_pf, "other": 1.0}
    idx = tuple(np.array(ix, float) * unit[a] for a, ix in zip(axes, index, strict=True))
    if len(axes) == 1:
        arr = arr.reshape(-1)
        if len(idx[0]) != len(arr):
            raise PowerError(f"{what}: table {g.kind} has {len(arr)} values for "
                             f"{len(idx[0])} index points")
    else:
        arr = arr.reshape(len(rows), -1)
        if arr.shape != (len(idx[0]), len(idx[1])):
            raise PowerError(f"{what}: table {g.kind} is {arr.shape[0]}x{arr.shape[1]} for a "
                             f"{len(idx[0])}x{len(idx[1])} index")
        axes, idx = axes[:2], idx[:2]
    return LutTable(axes, idx, arr)


# ---- the library's power model ------------------------------------------------------------------
@dataclass(frozen=True)
class PinInfo:
    """One cell pin: direction, capacitance (pF), whether it is a clock, output function."""

    name: str
    direction: str
    cap_pf: float
    clock: bool
    function: Expr | None


@dataclass(frozen=True)
class PowerGroup:
    """One ``internal_power`` group of ``pin`` (``related`` = ``None``: a pin-level group)."""

    pin: str
    related: str | None
    when: Expr | None
    when_text: str | None
    rise: LutTable | None
    fall: LutTable | None


@dataclass(frozen=True)
class CellModel:
    """A liberty cell as the power flow sees it (leakage in mW)."""

    name: str
    area: float
    leakage_mw: float
    pins: dict[str, PinInfo]
    groups: tuple[PowerGroup, ...]
    sequential: bool
    #: (output, related input) -> (rise_transition, fall_transition) tables
    transitions: dict[tuple[str, str], tuple[LutTable | None, LutTable | None]]

    @property
    def inputs(self) -> list[str]:
        return [p for p, i in self.pins.items() if i.direction == "input"]

    @property
    def outputs(self) -> list[str]:
        return [p for p, i in self.pins.items() if i.direction == "output"]

    @property
    def clock_pins(self) -> list[str]:
        return [p for p, i in self.pins.items() if i.clock and i.direction == "input"]

    def arcs(self, pin: str) -> dict[str, list[PowerGroup]]:
        """``related pin -> groups`` of an output pin, conditional groups first."""
        out: dict[str, list[PowerGroup]] = {}
        for g in self.groups:
            if g.pin == pin and g.related is not None:
                out.setdefault(g.related, []).append(g)
        return {r: sorted(gs, key=lambda g: g.when is None) for r, gs in out.items()}

    def pin_groups(self, pin: str) -> list[PowerGroup]:
        """Pin-level groups (no related pin) of ``pin``, conditional groups first."""
        return sorted((g for g in self.groups if g.pin == pin and g.related is None),
                      key=lambda g: g.when is None)


@dataclass(frozen=True)
class WireLoad:
    """A statistical wire-load model: capacitance per unit length (pF) and fanout lengths."""

    name: str
    cap_pf: float
    slope: float
    lengths: tuple[tuple[int, float], ...]

    def capacitance(self, fanout: np.ndarray) -> np.ndarray:
        """Wire capacitance (pF) of nets with ``fanout`` sinks (linear between the table's
        fanouts, ``slope`` per fanout beyond the last, as ``sta`` does)."""
        f = np.asarray(fanout, float)
        if not self.lengths:
            return f * self.slope * self.cap_pf
        fs = np.array([a for a, _ in self.lengths], float)
        ls = np.array([b for _, b in self.lengths], float)
        length = np.interp(f, fs, ls)
        length = np.where(f > fs[-1], ls[-1] + (f - fs[-1]) * self.slope, length)
        length = np.where(f < fs[0], ls[0] * f / fs[0] if fs[0] > 0 else ls[0], length)
        return np.where(f > 0, length * self.cap_pf, 0.0)


@dataclass(frozen=True)
class PowerLibrary:
    """A liberty library checked for the power flow (on top of the timing flow's checks)."""

    timing: timing.TimingLibrary
    voltage: float
    cells: dict[str, CellModel]
    wire_loads: dict[str, WireLoad]
    leakage_unit_mw: float
    energy_unit_pj: float

    @property
    def path(self) -> Path:
        return self.timing.path

    @property
    def name(self) -> str:
        return self.timing.name

    @property
    def generic(self) -> bool:
        return self.timing.generic

    @property
    def sha256(self) -> str:
        return self.timing.base.sha256


_LEAK_UNITS = {"pw": 1e-9, "nw": 1e-6, "uw": 1e-3, "mw": 1.0, "w": 1e3}
_VOLT_UNITS = {"mv": 1e-3, "v": 1.0}


def _unit(text: str | None, units: dict[str, float], default: float, what: str,
          attr: str) -> float:
    if text is None:
        return default
    m = re.fullmatch(r"\s*([0-9.eE+-]*)\s*([A-Za-z]+)\s*", text)
    if m is None or m.group(2).lower() not in units:
        raise PowerError(f"{what}: {attr} {text!r} is not understood")
    return float(m.group(1) or 1) * units[m.group(2).lower()]


def _cell_model(g: _LGroup, templates: dict[str, _LGroup], *, tu: float, cu: float, eu: float,
                lu: float, default_cap: float, what: str) -> CellModel:
    pins: dict[str, PinInfo] = {}
    groups: list[PowerGroup] = []
    trans: dict[tuple[str, str], tuple[LutTable | None, LutTable | None]] = {}
    pin_groups = list(g.groups("pin"))
    for b in g.groups("bus"):
        pin_groups += b.groups("pin")
    for p in pin_groups:
        d = p.attrs.get("direction", "")
        cap = p.attrs.get("capacitance")
        try:
            cap_pf = float(cap) * cu if cap is not None else default_cap
        except ValueError:
            raise PowerError(f"{what}: pin {p.name} of cell {g.name} has capacitance "
                             f"{cap!r}") from None
        func = None
        if d == "output" and p.attrs.get("function"):
            try:
                func = parse_bool(p.attrs["function"])
            except ValueError as e:
                raise PowerError(f"{what}: cell {g.name} pin {p.name}: function: {e}") from None
        for name in p.args:
            pins[name] = PinInfo(name, d, cap_pf, p.attrs.get("clock", "") == "true", func)
        for ip in p.groups("internal_power"):
            w = ip.attrs.get("when")
            try:
                wexpr = parse_bool(w) if w else None
            except ValueError as e:
                raise PowerError(f"{what}: cell {g.name} pin {p.name}: when: {e}") from None
            tabs = {}
            for k in ("rise_power", "fall_power", "power"):
                t = ip.groups(k)
                tabs[k] = (_make_table(t[0], templates, time_ns=tu, cap_pf=cu, scale=eu,
                                       what=what) if t else None)
            rise = tabs["rise_power"] or tabs["power"]
            fall = tabs["fall_power"] or tabs["power"]
            rel = ip.attrs.get("related_pin")
            for name in p.args:
                for r in (rel.split() if rel else [None]):
                    groups.append(PowerGroup(name, r, wexpr, w, rise, fall))
        for t in p.groups("timing"):
            if t.attrs.get("timing_type", "combinational") not in (
                    "combinational", "rising_edge", "falling_edge", "combinational_rise",
                    "combinational_fall"):
                continue
            rel = t.attrs.get("related_pin", "")
            rt = t.groups("rise_transition")
            ft = t.groups("fall_transition")
            tabs2 = tuple(_make_table(x[0], templates, time_ns=tu, cap_pf=cu, scale=tu,
                                      what=what) if x else None for x in (rt, ft))
            for name in p.args:
                for r in rel.split():
                    trans[(name, r)] = tabs2  # type: ignore[assignment]
    leak = g.attrs.get("cell_leakage_power")
    try:
        leakage = float(leak) * lu if leak is not None else 0.0
    except ValueError:
        raise PowerError(f"{what}: cell {g.name} has cell_leakage_power {leak!r}") from None
    try:
        area_v = float(g.attrs.get("area", "nan"))
    except ValueError:
        area_v = float("nan")
    seq = any(c.kind in ("ff", "latch", "ff_bank", "latch_bank", "statetable")
              for c in g.children)
    return CellModel(g.name, area_v, leakage, pins, tuple(groups), seq, trans)


def load_power_library(path: str | Path | None = None) -> PowerLibrary:
    """Check a liberty file for the power flow (``None``: the generic library).

    Refuses (:class:`PowerError`, one line) what :func:`flow.timing.load_timing_library`
    refuses, a library without power data (no ``internal_power`` and no
    ``cell_leakage_power``), and unknown voltage or leakage units.
    """
    try:
        tlib = timing.load_timing_library(path)
    except timing.TimingError as e:
        raise PowerError(str(e)) from None
    what = f"liberty file {str(tlib.path)!r}"
    text = tlib.path.read_bytes().decode("utf-8", errors="replace")
    root = _parse_liberty(text, what)
    libs = root.groups("library")
    if not libs:
        raise PowerError(f"{what} is malformed: no library group")
    lib = libs[0]
    a = lib.attrs
    vu = _unit(a.get("voltage_unit"), _VOLT_UNITS, 1.0, what, "voltage_unit")
    lu = _unit(a.get("leakage_power_unit"), _LEAK_UNITS, 1e-6, what, "leakage_power_unit")
    voltage = None
    oc_name = a.get("default_operating_conditions")
    for oc in lib.groups("operating_conditions"):
        if oc_name in (None, oc.name) and "voltage" in oc.attrs:
            voltage = float(oc.attrs["voltage"]) * vu
            break
    if voltage is None:
        try:
            voltage = float(a.get("nom_voltage", "1.0")) * vu
        except ValueError:
            raise PowerError(f"{what}: nom_voltage {a.get('nom_voltage')!r} is not a number") \
                from None
    cu, tu = tlib.cap_unit_pf, tlib.time_unit_ns
    eu = cu * vu * vu  # internal energy unit: capacitive_load_unit * voltage_unit^2
    templates = {t.name: t for k in ("lu_table_template", "power_lut_template")
                 for t in lib.groups(k)}
    default_cap = float(a.get("default_input_pin_cap", "0") or 0) * cu
    cells = {g.name: _cell_model(g, templates, tu=tu, cu=cu, eu=eu, lu=lu,
                                 default_cap=default_cap, what=what)
             for g in lib.groups("cell")}
    if not any(c.groups or c.leakage_mw for c in cells.values()):
        raise PowerError(f"{what} has no power data (no internal_power groups and no "
                         "cell_leakage_power)")
    wls: dict[str, WireLoad] = {}
    for w in lib.groups("wire_load"):
        try:
            lengths = tuple(sorted((int(float(x[0])), float(x[1]))
                                   for x in w.cplx.get("fanout_length", [])))
            wls[w.name] = WireLoad(w.name, float(w.attrs.get("capacitance", "0")) * cu,
                                   float(w.attrs.get("slope", "0")), lengths)
        except (ValueError, IndexError):
            raise PowerError(f"{what}: wire_load {w.name} is malformed") from None
    return PowerLibrary(timing=tlib, voltage=voltage, cells=cells, wire_loads=wls,
                        leakage_unit_mw=lu, energy_unit_pj=eu)


# ---- netlist -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Port:
    """A top-level port: direction, its nets LSB first, and the identifier of each bit in the
    netlist (a Yosys ``splitnets -ports`` netlist has one port per bit, ``\\name[i]``)."""

    name: str
    direction: str
    nets: tuple[int, ...]
    bit_ports: tuple[str, ...] | None

    @property
    def width(self) -> int:
        return len(self.nets)


@dataclass(frozen=True)
class Instance:
    """One cell instance: its type and ``pin -> net index`` connections."""

    name: str
    cell: str
    pins: dict[str, int]


@dataclass
class Netlist:
    """A flat gate-level netlist of one module: one entry per net *bit*.

    ``nets`` holds each bit as a Verilog expression that names it inside the module (``_012_``,
    ``\\skew.lane3[0] ``, ``w[3]``); ``consts`` maps the pseudo-nets of constant connections to
    their value.
    """

    top: str
    nets: list[str]
    index: dict[str, int]
    ports: dict[str, Port]
    cells: list[Instance]
    consts: dict[int, int]

    @property
    def inputs(self) -> list[Port]:
        return [p for p in self.ports.values() if p.direction == "input"]

    @property
    def outputs(self) -> list[Port]:
        return [p for p in self.ports.values() if p.direction == "output"]


_ID = r"(?:\\\S+|[A-Za-z_][\w$]*)"
_MOD_RE = re.compile(r"^\s*module\s+(" + _ID + r")\s*\(", re.M)
_DECL_RE = re.compile(r"(?<![\w$\\.])(input|output|inout|wire|reg)\s+"
                      r"(?:\[\s*(-?\d+)\s*:\s*(-?\d+)\s*\]\s*)?(" + _ID + r")\s*;")
_INST_RE = re.compile(r"^\s*(" + _ID + r")\s+(" + _ID + r")\s*\((.*?)\);", re.M | re.S)
_CONN_RE = re.compile(r"\.(" + _ID + r")\s*\(\s*(.*?)\s*\)\s*(?:,|$)", re.S)
_BIT_RE = re.compile(r"^(" + _ID + r")\s*(?:\[\s*(\d+)\s*\])?$")
_CONST_RE = re.compile(r"^(\d+)?'[bBhHdD]([0-9a-fA-F])$")
_SPLIT_RE = re.compile(r"^\\(.+)\[(\d+)\]$")


def _net_key(base: str, bit: int | None) -> str:
    """Canonical text of one bit: ``base`` or ``base[bit]`` (``\\esc [bit]`` when escaped)."""
    if bit is None:
        return base
    return f"{base} [{bit}]" if base.startswith("\\") else f"{base}[{bit}]"


def net_ref(key: str) -> str:
    """The Verilog text naming a net bit (an escaped scalar needs a trailing space)."""
    return key + " " if key.startswith("\\") and " [" not in key else key


def parse_netlist(text: str, top: str | None = None) -> Netlist:
    """Parse a flat structural Verilog netlist (Yosys ``write_verilog -noattr -noexpr``).

    Only cell instances and declarations are understood; an ``assign`` or a second module is
    refused (:class:`PowerError`), as is a connection to something that is not a declared net
    bit or a constant.
    """
    mods = _MOD_RE.findall(text)
    if not mods:
        raise PowerError("netlist has no module")
    if top is None:
        if len(mods) != 1:
            raise PowerError(f"netlist has {len(mods)} modules; name the top one")
        top = mods[0]
    m = re.search(r"^\s*module\s+" + re.escape(top) + r"\s*\(.*?\);(.*?)^\s*endmodule", text,
                  re.M | re.S)
    if m is None:
        raise PowerError(f"netlist has no module {top}")
    body = m.group(1)
    if re.search(r"^\s*assign\b", body, re.M):
        raise PowerError(f"netlist {top} has assign statements (a flat cell netlist is needed: "
                         "the timing flow writes one)")
    nets: list[str] = []
    index: dict[str, int] = {}
    widths: dict[str, tuple[int, int] | None] = {}
    dirs: dict[str, str] = {}
    for kind, msb, lsb, name in _DECL_RE.findall(body):
        rng = (int(msb), int(lsb)) if msb else None
        if kind in ("input", "output", "inout"):
            dirs[name] = kind
        if name in widths:
            continue
        widths[name] = rng
        bits: list[int | None] = [None] if rng is None else list(
            range(min(rng), max(rng) + 1))
        for b in bits:
            k = _net_key(name, b)
            index[k] = len(nets)
            nets.append(k)
    consts: dict[int, int] = {}

    def net_of(expr: str, where: str) -> int | None:
        expr = expr.strip()
        if not expr:
            return None
        c = _CONST_RE.match(expr)
        if c is not None:
            v = int(c.group(2), 16) & 1
            k = f"1'b{v}"
            if k not in index:
                index[k] = len(nets)
                nets.append(k)
                consts[index[k]] = v
            return index[k]
        b = _BIT_RE.match(expr)
        if b is None:
            raise PowerError(f"netlist {top}: {where}: connection {expr!r} is not one net bit")
        base, bit = b.group(1), b.group(2)
        rng = widths.get(base, "missing")
        if rng == "missing":
            raise PowerError(f"netlist {top}: {where}: {base} is not declared")
        if bit is None and rng is not None:
            if rng[0] != rng[1]:
                raise PowerError(f"netlist {top}: {where}: {base} is a bus; a pin takes one bit")
            bit = str(rng[0])
        k = _net_key(base, int(bit) if bit is not None else None)
        if k not in index:
            raise PowerError(f"netlist {top}: {where}: {expr} is out of range")
        return index[k]

    cells: list[Instance] = []
    for cm in _INST_RE.finditer(body):
        ctype, iname, conns = cm.groups()
        if ctype in ("module", "input", "output", "wire", "reg", "assign"):
            continue
        pins: dict[str, int] = {}
        for pm in _CONN_RE.finditer(conns.strip()):
            n = net_of(pm.group(2), f"instance {iname} pin {pm.group(1)}")
            if n is not None:
                pins[pm.group(1)] = n
        cells.append(Instance(iname, ctype, pins))
    # ports: group the bits of split ports (\name[i]) back into buses
    groups: dict[str, list[tuple[int, str, str | None]]] = {}
    for name, d in dirs.items():
        rng = widths[name]
        sm = _SPLIT_RE.match(name)
        if rng is None and sm is not None:
            groups.setdefault(sm.group(1), []).append((int(sm.group(2)), d, name))
        elif rng is None:
            groups.setdefault(name, []).append((0, d, None))
        else:
            for b in range(min(rng), max(rng) + 1):
                groups.setdefault(name, []).append((b - min(rng), d, None))
    ports: dict[str, Port] = {}
    for base, bits in groups.items():
        bits.sort(key=lambda x: x[0])
        if [b for b, _, _ in bits] != list(range(len(bits))) or len({d for _, d, _ in bits}) != 1:
            raise PowerError(f"netlist {top}: port {base} has missing bits or mixed directions")
        split = bits[0][2] is not None
        if split:
            nets_of = tuple(index[n] for _, _, n in bits if n is not None)
        else:
            rng = widths[base]
            nets_of = tuple(index[_net_key(base, None if rng is None else min(rng) + b)]
                            for b, _, _ in bits)
        ports[base] = Port(base, bits[0][1], nets_of,
                           tuple(n for _, _, n in bits if n is not None) if split else None)
    return Netlist(top, nets, index, ports, cells, consts)


# ---- structure: drivers, loads, slews, levels, modules -------------------------------------------
@dataclass
class Structure:
    """What the energy evaluation needs to know of a netlist on a library.

    Per net: ``driver`` (cell index; -1 a top-level input, -2 a constant, -3 undriven),
    ``fanout`` (sink pins plus top-level outputs), ``load_pf`` (pins + wire + output load),
    ``wire_pf``, ``slew_ns``. Per cell: ``model``, ``level`` (combinational depth; 0 for
    sequential and constant cells), ``module`` (see :func:`analyse_netlist`). ``clock_nets``:
    nets on flip-flop clock pins (driven from the top level; ideal).
    """

    netlist: Netlist
    library: PowerLibrary
    models: list[CellModel]
    driver: np.ndarray
    fanout: np.ndarray
    load_pf: np.ndarray
    wire_pf: np.ndarray
    slew_ns: np.ndarray
    level: np.ndarray
    module: list[str]
    clock_nets: set[int]
    order: list[int]
    wire_load: str | None
    port_load_pf: float
    clock_slew_ns: float
    input_slew_ns: float
    attribution: str = ""

    @property
    def sequential(self) -> np.ndarray:
        return np.array([m.sequential for m in self.models], bool)

    def by_type(self, cells: Iterable[int] | None = None) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for i in (range(len(self.models)) if cells is None else cells):
            out.setdefault(self.models[i].name, []).append(i)
        return out


def _module_of_name(key: str) -> str | None:
    """Top-level child instance of a hierarchical (flattened) net name, ``(top)`` for a register
    of the top module, ``None`` for a private name (``_012_``)."""
    if not key.startswith("\\"):
        return None if re.fullmatch(r"_\d+_", key) or key.startswith("$") else "(top)"
    name = key[1:].split(" [")[0]
    if name.startswith("$"):
        return None
    return name.split(".")[0] if "." in name else "(top)"


def _mean_transition(tabs: tuple[LutTable | None, LutTable | None], slew: np.ndarray,
                     load: np.ndarray) -> np.ndarray | None:
    got = [t.lookup(slew, load, clamp=False) for t in tabs if t is not None]
    return None if not got else np.maximum(sum(got) / len(got), 0.0)


def analyse_netlist(nl: Netlist, lib: PowerLibrary, *, wire_load: str | None = "default",
                    port_load_pf: float = timing.DEFAULT_LOAD_PF,
                    clock_slew_ns: float = CLOCK_SLEW_NS,
                    input_slew_ns: float = INPUT_SLEW_NS) -> Structure:
    """Drivers, loads, slews, combinational order and module attribution of ``nl``.

    ``wire_load``: a wire-load model of the library, ``"default"`` (the library's default) or
    ``None`` (no wire capacitance). Module attribution: a flip-flop belongs to the top-level
    child instance named in its output net (the flattened register keeps its hierarchical
    name, ``array.row4_0.pe_1.psum`` -> ``array``; a register of the top itself -> ``(top)``);
    a combinational cell to the module of the registers (and outputs, ``(top)``) its output
    reaches through combinational logic, or ``(top)`` when that is more than one module (glue
    such as the global stall enable's buffer tree).
    """
    n_nets = len(nl.nets)
    models: list[CellModel] = []
    for c in nl.cells:
        m = lib.cells.get(c.cell)
        if m is None:
            raise PowerError(f"netlist {nl.top}: cell {c.name} is a {c.cell}, which library "
                             f"{lib.name} does not have")
        models.append(m)
    if wire_load == "default":
        wire_load = lib.timing.default_wire_load
    if wire_load is not None and wire_load not in lib.wire_loads:
        raise PowerError(f"wire-load model {wire_load!r} is not in library {lib.name}")
    driver = np.full(n_nets, -3, np.int64)
    driver_pin: dict[int, str] = {}
    for p in nl.inputs:
        driver[list(p.nets)] = -1
    for n in nl.consts:
        driver[n] = -2
    fanout = np.zeros(n_nets, np.int64)
    pin_cap = np.zeros(n_nets)
    clock_nets: set[int] = set()
    sinks: list[list[int]] = [[] for _ in range(n_nets)]
    for ci, (c, m) in enumerate(zip(nl.cells, models, strict=True)):
        for pin, n in c.pins.items():
            info = m.pins.get(pin)
            if info is None:
                raise PowerError(f"netlist {nl.top}: cell {c.name} ({c.cell}) has no pin {pin}")
            if info.direction == "output":
                if driver[n] != -3:
                    raise PowerError(f"netlist {nl.top}: net {nl.nets[n]} has more than one "
                                     "driver")
                driver[n] = ci
                driver_pin[n] = pin
            else:
                fanout[n] += 1
                pin_cap[n] += info.cap_pf
                sinks[n].append(ci)
                if info.clock and m.sequential:
                    clock_nets.add(n)
    for p in nl.outputs:
        fanout[list(p.nets)] += 1
        pin_cap[list(p.nets)] += port_load_pf
    for n in clock_nets:
        if driver[n] >= 0:
            raise PowerError(f"netlist {nl.top}: clock net {nl.nets[n]} is driven by cell "
                             f"{nl.cells[driver[n]].name}: gated or buffered clocks are not "
                             "supported (the clock is ideal)")
    undriven = [nl.nets[n] for n in np.flatnonzero((driver == -3) & (fanout > 0))]
    if undriven:
        raise PowerError(f"netlist {nl.top}: {len(undriven)} net(s) have no driver, e.g. "
                         f"{undriven[0]}")
    wire = np.zeros(n_nets)
    if wire_load is not None:
        wire = lib.wire_loads[wire_load].capacitance(fanout)
    for n in clock_nets:
        wire[n] = 0.0  # ideal clock: its pins only
    load = pin_cap + wire
    # topological order of the combinational cells
    n_cells = len(nl.cells)
    level = np.zeros(n_cells, np.int64)
    net_level = np.zeros(n_nets, np.int64)
    waiting = np.zeros(n_cells, np.int64)
    comb = [ci for ci, m in enumerate(models) if not m.sequential and m.inputs]
    is_comb = np.zeros(n_cells, bool)
    is_comb[comb] = True
    for ci in comb:
        waiting[ci] = sum(1 for p, n in nl.cells[ci].pins.items()
                          if models[ci].pins[p].direction == "input" and driver[n] >= 0
                          and is_comb[driver[n]])
    ready = [ci for ci in comb if waiting[ci] == 0]
    order: list[int] = []
    while ready:
        ci = ready.pop()
        order.append(ci)
        ins = [n for p, n in nl.cells[ci].pins.items() if models[ci].pins[p].direction == "input"]
        level[ci] = 1 + max((net_level[n] for n in ins), default=0)
        for p, n in nl.cells[ci].pins.items():
            if models[ci].pins[p].direction == "output":
                net_level[n] = level[ci]
                for s in sinks[n]:
                    if is_comb[s]:
                        waiting[s] -= 1
                        if waiting[s] == 0:
                            ready.append(s)
    if len(order) != len(comb):
        stuck = next(ci for ci in comb if waiting[ci] > 0)
        raise PowerError(f"netlist {nl.top}: combinational loop through cell "
                         f"{nl.cells[stuck].name}")
    order.sort(key=lambda ci: level[ci])
    # slews: startpoints, then levels
    slew = np.zeros(n_nets)
    drv_model = lib.cells.get(lib.timing.driver)
    if drv_model is not None:
        dpin_in, dpin_out = lib.timing.pins(lib.timing.driver)
        tabs = drv_model.transitions.get((dpin_out, dpin_in))
        ins = np.array([n for p in nl.inputs for n in p.nets], np.int64)
        if tabs is not None and len(ins):
            v = _mean_transition(tabs, np.full(len(ins), input_slew_ns), load[ins])
            slew[ins] = v if v is not None else input_slew_ns
        elif len(ins):
            slew[ins] = input_slew_ns
    for n in clock_nets:
        slew[n] = clock_slew_ns
    seq_cells = [ci for ci, m in enumerate(models) if m.sequential]
    groups: dict[tuple[int, str], list[int]] = {}
    for ci in seq_cells:
        groups.setdefault((0, models[ci].name), []).append(ci)
    for ci in order:
        groups.setdefault((int(level[ci]), models[ci].name), []).append(ci)
    for (_, ctype), cis in sorted(groups.items()):
        m = lib.cells[ctype]
        for out in m.outputs:
            onets = np.array([nl.cells[ci].pins.get(out, -1) for ci in cis], np.int64)
            ok = onets >= 0
            if not ok.any():
                continue
            acc, cnt = np.zeros(len(cis)), 0
            for (o, r), tabs in m.transitions.items():
                if o != out:
                    continue
                rnets = np.array([nl.cells[ci].pins.get(r, -1) for ci in cis], np.int64)
                rs = np.where(rnets >= 0, slew[np.maximum(rnets, 0)], input_slew_ns)
                if m.pins.get(r) is not None and m.pins[r].clock:
                    rs = np.full(len(cis), clock_slew_ns)
                v = _mean_transition(tabs, rs, load[np.maximum(onets, 0)])
                if v is not None:
                    acc += v
                    cnt += 1
            slew[onets[ok]] = (acc / cnt)[ok] if cnt else input_slew_ns
    # modules
    module: list[str | None] = [None] * n_cells
    for ci in seq_cells:
        outs = [n for p, n in nl.cells[ci].pins.items() if models[ci].pins[p].direction == "output"]
        names = {_module_of_name(nl.nets[n]) for n in outs} - {None}
        if len(names) == 1:
            module[ci] = names.pop()
    out_nets = {n for p in nl.outputs for n in p.nets}
    reach: dict[int, frozenset[str]] = {}
    for ci in reversed(order + [c for c in seq_cells if module[c] is None]):
        mods: set[str] = set()
        for p, n in nl.cells[ci].pins.items():
            if models[ci].pins[p].direction != "output":
                continue
            if n in out_nets:
                mods.add("(top)")
            for s in sinks[n]:
                if models[s].sequential:
                    if module[s] is not None:
                        mods.add(module[s])  # type: ignore[arg-type]
                else:
                    mods |= reach.get(s, frozenset())
        reach[ci] = frozenset(mods)
    for ci in range(n_cells):
        if module[ci] is None:
            r = reach.get(ci, frozenset())
            module[ci] = next(iter(r)) if len(r) == 1 else "(top)"
    return Structure(
        netlist=nl, library=lib, models=models, driver=driver, fanout=fanout, load_pf=load,
        wire_pf=wire, slew_ns=slew, level=level, module=[str(x) for x in module],
        clock_nets=clock_nets, order=order, wire_load=wire_load, port_load_pf=port_load_pf,
        clock_slew_ns=clock_slew_ns, input_slew_ns=input_slew_ns,
        attribution=("flip-flops by the top-level child instance named in their output net "
                     "(flattened registers keep their hierarchical names); combinational cells "
                     "by the module of the registers (or outputs) they feed, '(top)' when "
                     "several (glue, e.g. the stall-enable buffer tree); nets by their driver; "
                     "'(inputs)': nets driven by top-level inputs; '(clock)': the clock net"),
    )


# ---- energy from activity ------------------------------------------------------------------------
@dataclass
class Activity:
    """Energies of one simulated window of ``cycles`` clock cycles (pJ).

    ``toggles``/``rises`` per net over the window (the clock net: two per cycle);
    ``internal_pj`` per cell (``clock_pin_pj`` is its flip-flop clock-pin part);
    ``switching_pj`` per net.
    """

    cycles: int
    toggles: np.ndarray
    rises: np.ndarray
    internal_pj: np.ndarray
    clock_pin_pj: np.ndarray
    switching_pj: np.ndarray


def _select(groups: Sequence[PowerGroup], variants: Sequence[tuple[float, dict[str, Any]]],
            shape: tuple[int, ...]) -> list[np.ndarray | float]:
    """Weight of each group per event: the first group whose ``when`` holds (the
    unconditional one only when none does), averaged over the state ``variants``."""
    if len(groups) == 1 and groups[0].when is None:
        return [1.0]
    out: list[np.ndarray | float] = [np.zeros(shape, np.float32) for _ in groups]
    for w, env in variants:
        remaining = np.ones(shape, bool)
        for k, g in enumerate(groups):
            sel = remaining if g.when is None else remaining & eval_bool(g.when, env, shape)
            remaining = remaining & ~sel
            out[k] = out[k] + np.float32(w) * sel
    return out


def _variants(groups: Sequence[PowerGroup], state: dict[str, np.ndarray], clocks: Sequence[str],
              shape: tuple[int, ...]) -> list[tuple[float, dict[str, Any]]]:
    """States in which a data event's ``when`` is evaluated: a condition on a clock pin is
    averaged over the clock's two phases (the zero-delay simulation does not know when in the
    cycle the event happens; duty cycle 0.5)."""
    used = set().union(*(expr_vars(g.when) for g in groups if g.when is not None)) \
        if groups else set()
    if not used & set(clocks):
        return [(1.0, state)]
    hi = {**state, **{c: np.ones(shape, bool) for c in clocks}}
    lo = {**state, **{c: np.zeros(shape, bool) for c in clocks}}
    return [(0.5, hi), (0.5, lo)]


def evaluate_activity(st: Structure, values: np.ndarray) -> Activity:
    """Energies of a simulated window from per-cycle net values.

    Parameters
    ----------
    st
        The netlist on its library (:func:`analyse_netlist`).
    values
        Bool array ``(nets, samples)``: every net's value once per cycle, settled (rows of
        clock nets are ignored). ``samples - 1`` cycles, each ending with a rising clock edge.

    Returns
    -------
    Activity
        Toggles per net, internal energy per cell (and its clock-pin part), switching energy
        per net, in pJ over the window; the rules are in the module docstring.
    """
    nl = st.netlist
    n_nets, n_cells = len(nl.nets), len(nl.cells)
    values = np.asarray(values, bool)
    if values.ndim != 2 or values.shape[0] != n_nets or values.shape[1] < 2:
        raise PowerError(f"activity of {nl.top}: need ({n_nets} nets, >= 2 samples) values, "
                         f"got {values.shape}")
    T = values.shape[1] - 1
    V = np.vstack([values, np.zeros((1, T + 1), bool)])  # row n_nets: unconnected pins
    trans = values[:, 1:] != values[:, :-1]
    toggles = trans.sum(1).astype(np.int64)
    rises = (trans & values[:, 1:]).sum(1).astype(np.int64)
    del trans
    for n in st.clock_nets:
        toggles[n], rises[n] = 2 * T, T
    for n in nl.consts:
        toggles[n] = rises[n] = 0
    internal = np.zeros(n_cells)
    clockpin = np.zeros(n_cells)
    slew = np.append(st.slew_ns, st.input_slew_ns)
    load = np.append(st.load_pf, 0.0)
    shape_t = (T,)
    for ctype, cis_all in st.by_type().items():
        m = st.library.cells[ctype]
        if not m.groups:
            continue
        clocks = m.clock_pins
        for b0 in range(0, len(cis_all), EVAL_BLOCK):
            cis = cis_all[b0:b0 + EVAL_BLOCK]
            n = len(cis)
            shape = (n, *shape_t)
            net = {p: np.array([nl.cells[c].pins.get(p, n_nets) for c in cis], np.int64)
                   for p in m.pins}
            S1: dict[str, np.ndarray] = {}
            S0: dict[str, np.ndarray] = {}
            X: dict[str, np.ndarray] = {}
            for p in m.pins:
                if p in clocks:
                    continue
                v = V[net[p]]
                S0[p], S1[p] = v[:, :-1], v[:, 1:]
                X[p] = S0[p] != S1[p]
            e = np.zeros(n)
            ec = np.zeros(n)
            outs = [o for o in m.outputs if (net[o] < n_nets).any()]
            first_load = load[net[outs[0]]] if outs else np.zeros(n)
            for o in outs:
                arcs = m.arcs(o)
                if not arcs or not X[o].any():
                    continue
                r_o, f_o = X[o] & S1[o], X[o] & ~S1[o]
                tog = {r: (np.ones(shape, bool) if r in clocks else
                           X.get(r, np.zeros(shape, bool))) for r in arcs}
                ntog = sum(t.astype(np.int8) for t in tog.values())
                for r, gl in arcs.items():
                    w = np.where(ntog > 0, tog[r] / np.maximum(ntog, 1),
                                 1.0 / len(arcs)).astype(np.float32)
                    rs = np.full(n, st.clock_slew_ns) if r in clocks else slew[net[r]]
                    ld = load[net[o]]
                    sels = _select(gl, _variants(gl, S1, clocks, shape), shape)
                    wr, wf = r_o * w, f_o * w
                    for g, sel in zip(gl, sels, strict=True):
                        if g.rise is not None:
                            e += (wr * sel).sum(1) * g.rise.lookup(rs, ld)
                        if g.fall is not None:
                            e += (wf * sel).sum(1) * g.fall.lookup(rs, ld)
            for p in m.pins:
                gl = m.pin_groups(p)
                if not gl:
                    continue
                if p in clocks:
                    lo = {**S0, **{c: np.zeros(shape, bool) for c in clocks}}
                    hi = {**S1, **{c: np.ones(shape, bool) for c in clocks}}
                    s_r = _select(gl, [(1.0, lo)], shape)
                    s_f = _select(gl, [(1.0, hi)], shape)
                    cs = np.full(n, st.clock_slew_ns)
                    for g, sr, sf in zip(gl, s_r, s_f, strict=True):
                        k_r = np.sum(sr, axis=1) if isinstance(sr, np.ndarray) else np.full(n, T)
                        k_f = np.sum(sf, axis=1) if isinstance(sf, np.ndarray) else np.full(n, T)
                        if g.rise is not None:
                            ec += k_r * g.rise.lookup(cs, first_load)
                        if g.fall is not None:
                            ec += k_f * g.fall.lookup(cs, first_load)
                    continue
                if p not in X or not X[p].any():
                    continue
                r_p, f_p = X[p] & S1[p], X[p] & ~S1[p]
                sels = _select(gl, _variants(gl, S1, clocks, shape), shape)
                ps = slew[net[p]]
                for g, sel in zip(gl, sels, strict=True):
                    if g.rise is not None:
                        e += (r_p * sel).sum(1) * g.rise.lookup(ps, first_load)
                    if g.fall is not None:
                        e += (f_p * sel).sum(1) * g.fall.lookup(ps, first_load)
            internal[cis] += e + ec
            clockpin[cis] += ec
    v2 = st.library.voltage ** 2
    switching = toggles * 0.5 * st.load_pf * v2
    return Activity(T, toggles, rises, internal, clockpin, switching)


#: Combinational output nets per cell type the simulator reports besides the registers and
#: inputs, to cross-check the recomputed values (every top-level output is checked too).
CHECK_PER_TYPE = 16


def sample_plan(st: Structure, *, sample_all: bool = False) -> tuple[list[int], list[int]]:
    """``(sampled, checked)`` nets of a simulation: the simulator reports the top-level inputs,
    the sequential and constant cells' outputs and the ``checked`` combinational nets; the other
    combinational nets are recomputed from them (:func:`propagate_values`). ``checked``: up to
    :data:`CHECK_PER_TYPE` outputs of every combinational cell type (evenly spread) and every
    top-level output, or every combinational net with ``sample_all``."""
    nl = st.netlist
    computed: dict[int, str] = {}
    per_type: dict[str, list[int]] = {}
    for ci in st.order:
        m = st.models[ci]
        outs = [n for p, n in nl.cells[ci].pins.items() if m.pins[p].direction == "output"]
        if any(m.pins[p].function is None for p in nl.cells[ci].pins
               if m.pins[p].direction == "output"):
            continue
        for n in outs:
            computed[n] = m.name
        per_type.setdefault(m.name, []).extend(outs)
    if sample_all:
        checked = sorted(computed)
    else:
        chk = {n for p in nl.outputs for n in p.nets if n in computed}
        for nets in per_type.values():
            k = min(CHECK_PER_TYPE, len(nets))
            chk |= {nets[int(j)] for j in np.linspace(0, len(nets) - 1, k)}
        checked = sorted(chk)
    base = [i for i in range(len(nl.nets)) if st.driver[i] not in (-2, -3)
            and i not in st.clock_nets and i not in computed]
    return sorted(set(base) | set(checked)), checked


def propagate_values(st: Structure, values: np.ndarray) -> None:
    """Fill in (in place) the per-cycle values of every combinational net whose cell has a
    function, from the values of its inputs, in topological order: zero-delay values settle to
    exactly this once per cycle."""
    nl = st.netlist
    n_nets = len(nl.nets)
    S = values.shape[1]
    zero = np.zeros(S, bool)
    groups: dict[tuple[int, str], list[int]] = {}
    for ci in st.order:
        groups.setdefault((int(st.level[ci]), st.models[ci].name), []).append(ci)
    for (_, ctype), cis in sorted(groups.items()):
        m = st.library.cells[ctype]
        outs = m.outputs
        if any(m.pins[o].function is None for o in outs):
            continue
        env = {}
        for p in m.inputs:
            idx = np.array([nl.cells[c].pins.get(p, n_nets) for c in cis], np.int64)
            env[p] = np.where((idx < n_nets)[:, None], values[np.minimum(idx, n_nets - 1)],
                              zero) if (idx >= n_nets).any() else values[idx]
        for o in outs:
            idx = np.array([nl.cells[c].pins.get(o, -1) for c in cis], np.int64)
            ok = idx >= 0
            if ok.any():
                v = eval_bool(m.pins[o].function, env, (len(cis), S))  # type: ignore[arg-type]
                values[idx[ok]] = v[ok]


# ---- summaries -----------------------------------------------------------------------------------
def _r(x: float, digits: int = 6) -> float:
    x = float(x)
    return 0.0 if x == 0 or not math.isfinite(x) else float(f"{x:.{digits}g}")


def _net_kinds(st: Structure) -> np.ndarray:
    """Per net: 0 combinational, 1 sequential (flip-flop output), 2 top-level input, 3 clock,
    4 constant."""
    seq = st.sequential
    drv = st.driver
    kind = np.where(drv >= 0, seq[np.maximum(drv, 0)].astype(np.int64), 4)
    kind = np.where(drv == -1, 2, kind)
    for n in st.clock_nets:
        kind[n] = 3
    return kind


def summarize(st: Structure, act: Activity, *, period_ns: float,
              macs: float | None = None) -> dict[str, Any]:
    """Power figures (mW) of an :class:`Activity` at clock ``period_ns``: totals, the
    internal/switching/leakage split by sequential/combinational, per module, per cell type."""
    T = act.cycles
    window = T * period_ns
    seq = st.sequential
    leak = np.array([m.leakage_mw for m in st.models])
    kinds = _net_kinds(st)
    sw_mw = act.switching_pj / window
    int_mw = act.internal_pj / window
    tot_int, tot_sw, tot_leak = float(int_mw.sum()), float(sw_mw.sum()), float(leak.sum())
    dyn = tot_int + tot_sw
    total = dyn + tot_leak

    def part(cells: np.ndarray, nets: np.ndarray) -> dict[str, float]:
        i, s, lk = float(int_mw[cells].sum()), float(sw_mw[nets].sum()), float(leak[cells].sum())
        return {"internal_mw": _r(i), "switching_mw": _r(s), "leakage_mw": _r(lk),
                "total_mw": _r(i + s + lk)}

    by_kind = {
        "sequential": {**part(seq, kinds == 1), "cells": int(seq.sum())},
        "combinational": {**part(~seq, kinds == 0), "cells": int((~seq).sum())},
        "clock_net": {**part(np.zeros(len(seq), bool), kinds == 3),
                      "note": "switching of the clock pins' capacitance (ideal clock: no tree, "
                      "no clock wiring); flip-flop clock-pin internal energy is sequential"},
        "input_ports": {**part(np.zeros(len(seq), bool), kinds == 2),
                        "note": "nets driven by top-level inputs (the neighbour's drivers)"},
    }
    mods = sorted(set(st.module))
    mod_of_cell = np.array([mods.index(x) for x in st.module], np.int64) if mods else \
        np.zeros(0, np.int64)
    n_mods = len(mods)
    net_mod = np.where(st.driver >= 0, mod_of_cell[np.maximum(st.driver, 0)]
                       if len(mod_of_cell) else 0, n_mods)  # n_mods: (inputs)
    for n in st.clock_nets:
        net_mod[n] = n_mods + 1
    net_mod = np.where(kinds == 4, n_mods + 2, net_mod)
    names = [*mods, "(inputs)", "(clock)", "(constants)"]
    ci = np.bincount(mod_of_cell, int_mw, len(names))
    cl = np.bincount(mod_of_cell, leak, len(names))
    cc = np.bincount(mod_of_cell, minlength=len(names))
    cs = np.bincount(net_mod, sw_mw, len(names))
    modules = {}
    for k, name in enumerate(names):
        t = ci[k] + cs[k] + cl[k]
        if cc[k] == 0 and t == 0:
            continue
        modules[name] = {"cells": int(cc[k]), "internal_mw": _r(ci[k]),
                         "switching_mw": _r(cs[k]), "leakage_mw": _r(cl[k]), "total_mw": _r(t),
                         "share": _r(t / total if total else 0.0, 4)}
    by_type: dict[str, dict[str, Any]] = {}
    for ctype, cis in sorted(st.by_type().items()):
        idx = np.array(cis)
        onets = [n for c in cis for p, n in st.netlist.cells[c].pins.items()
                 if st.models[c].pins[p].direction == "output"]
        s = float(sw_mw[onets].sum()) if onets else 0.0
        i, lk = float(int_mw[idx].sum()), float(leak[idx].sum())
        by_type[ctype] = {"cells": len(cis), "internal_mw": _r(i), "switching_mw": _r(s),
                          "leakage_mw": _r(lk), "total_mw": _r(i + s + lk)}
    clk_int = float(act.clock_pin_pj.sum() / window)
    toggling = kinds <= 1
    rate = float(act.toggles[toggling].sum() / max(1, toggling.sum()) / max(T, 1))
    out = {
        "total_mw": _r(total), "dynamic_mw": _r(dyn), "internal_mw": _r(tot_int),
        "switching_mw": _r(tot_sw), "leakage_mw": _r(tot_leak),
        "sequential_mw": by_kind["sequential"]["total_mw"],
        "combinational_mw": by_kind["combinational"]["total_mw"],
        "pj_per_cycle": _r(total * period_ns),
        "pj_per_mac": _r(total * period_ns * T / macs) if macs else None,
        "breakdown": by_kind,
        "clock": {"flop_clock_pin_internal_mw": _r(clk_int),
                  "clock_net_switching_mw": by_kind["clock_net"]["switching_mw"],
                  "flip_flops": int(seq.sum()),
                  "clock_pin_capacitance_pf": _r(sum(st.load_pf[n] for n in st.clock_nets))},
        "modules": modules,
        "by_cell_type": by_type,
        "toggles": {"total": int(act.toggles[toggling].sum()),
                    "mean_per_net_per_cycle": _r(rate, 4),
                    "nets": int(toggling.sum())},
    }
    return out


# ---- vectorless ----------------------------------------------------------------------------------
def _combos(k: int) -> np.ndarray:
    return ((np.arange(1 << k)[:, None] >> np.arange(k)[None, :]) & 1).astype(bool)


def _combo_probs(P: np.ndarray, skip: int | None = None) -> np.ndarray:
    """``(n, 2^k)`` probability of each input combination (independent inputs); ``skip``
    leaves one input out of the product (for Boolean differences)."""
    n, k = P.shape
    B = _combos(k)
    f = np.where(B[None, :, :], P[:, None, :], 1.0 - P[:, None, :])
    if skip is not None:
        f[:, :, skip] = 1.0
    return f.prod(axis=2)


def vectorless(st: Structure, *, period_ns: float, activity: float = VECTORLESS_ACTIVITY,
               probability: float = VECTORLESS_PROBABILITY) -> dict[str, Any]:
    """Power with default activity instead of a simulation (mW at ``period_ns``; the keys of
    :func:`summarize`'s totals plus ``assumptions``).

    Top-level inputs and flip-flop outputs get static probability ``probability`` and
    ``activity`` toggles per cycle; combinational outputs get their probability and transition
    density (Najm: ``D(y) = sum_i P(dy/dx_i) D(x_i)``, independent inputs) in topological order,
    capped at the zero-delay bound ``2 min(P, 1 - P)``. Energies as in :func:`evaluate_activity`
    with each group weighted by the probability of its ``when``; clock pins toggle every cycle.
    """
    nl, lib = st.netlist, st.library
    n_nets = len(nl.nets)
    P = np.full(n_nets + 1, probability)
    D = np.full(n_nets + 1, activity)
    P[n_nets] = D[n_nets] = 0.0
    for n, v in nl.consts.items():
        P[n], D[n] = float(v), 0.0
    for n in st.clock_nets:
        P[n], D[n] = 0.5, 2.0
    internal = np.zeros(len(nl.cells))
    slew = np.append(st.slew_ns, st.input_slew_ns)
    load = np.append(st.load_pf, 0.0)

    def groups_energy(gl: list[PowerGroup], pins: list[str], Pp: np.ndarray,
                      fixed: dict[str, bool], derived: dict[str, np.ndarray], rs: np.ndarray,
                      ld: np.ndarray, clocks: Sequence[str]) -> np.ndarray:
        """Mean (rise + fall) / 2 energy of a group list, weighted by P(selected)."""
        B = _combos(len(pins))
        C = len(B)
        base = {p: B[:, j] for j, p in enumerate(pins)} | derived
        variants = [(1.0, {**base, **{k: np.full(C, v) for k, v in fixed.items()}})]
        used = set().union(*(expr_vars(g.when) for g in gl if g.when is not None))
        if used & (set(clocks) - set(fixed)):
            variants = [(0.5, {**variants[0][1], **{c: np.full(C, b) for c in clocks
                                                    if c not in fixed}}) for b in (True, False)]
        sels = _select(gl, variants, (C,))
        probs = _combo_probs(Pp)
        e = np.zeros(len(Pp))
        for g, sel in zip(gl, sels, strict=True):
            w = probs @ (np.asarray(sel, float) * np.ones(C))
            rr = g.rise.lookup(rs, ld) if g.rise is not None else 0.0
            ff = g.fall.lookup(rs, ld) if g.fall is not None else 0.0
            e += w * (rr + ff) / 2.0
        return e

    groups: dict[tuple[int, str], list[int]] = {}
    for ci, m in enumerate(st.models):
        if m.sequential:
            groups.setdefault((0, m.name), []).append(ci)
        elif not m.inputs:  # tie cells
            for p, n in nl.cells[ci].pins.items():
                f = m.pins[p].function
                if f is not None:
                    P[n], D[n] = float(eval_bool(f, {}, ())), 0.0
    for ci in st.order:
        groups.setdefault((int(st.level[ci]), st.models[ci].name), []).append(ci)
    for (_, ctype), cis in sorted(groups.items()):
        m = lib.cells[ctype]
        net = {p: np.array([nl.cells[c].pins.get(p, n_nets) for c in cis], np.int64)
               for p in m.pins}
        clocks = m.clock_pins
        n = len(cis)
        outs = [o for o in m.outputs if (net[o] < n_nets).any()]
        first_load = load[net[outs[0]]] if outs else np.zeros(n)
        e = np.zeros(n)
        if m.sequential:
            pins = [p for p in m.pins if p not in clocks]
            Pp = np.stack([P[net[p]] for p in pins], 1) if pins else np.zeros((n, 0))
            for p in m.pins:
                gl = m.pin_groups(p)
                if not gl:
                    continue
                if p in clocks:
                    cs = np.full(n, st.clock_slew_ns)
                    for high in (False, True):  # the rise (state before it), the fall
                        e += _edge_energy(gl, pins, Pp, clocks, high, cs, first_load)
                else:
                    e += D[net[p]] * groups_energy(gl, pins, Pp, {}, {}, slew[net[p]],
                                                   first_load, clocks)
            for o in outs:
                for r, gl in m.arcs(o).items():
                    rate = D[net[o]] if r in clocks else 0.5 * D[net.get(r, net[o])]
                    rs = np.full(n, st.clock_slew_ns) if r in clocks else slew[net[r]]
                    e += rate * groups_energy(gl, pins, Pp, {}, {}, rs, load[net[o]], clocks)
        else:
            ins = m.inputs
            k = len(ins)
            Pin = np.stack([P[net[p]] for p in ins], 1)
            Din = np.stack([D[net[p]] for p in ins], 1)
            B = _combos(k)
            env = {p: B[:, j] for j, p in enumerate(ins)}
            fo = {o: eval_bool(m.pins[o].function, env, (len(B),)) for o in outs
                  if m.pins[o].function is not None}
            probs = _combo_probs(Pin)
            for o, fv in fo.items():
                po = probs @ fv.astype(float)
                pd = np.zeros((n, k))
                for j in range(k):
                    flip = fv != fv[np.arange(len(B)) ^ (1 << j)]
                    pd[:, j] = _combo_probs(Pin, skip=j) @ flip.astype(float) / 2.0
                contrib = pd * Din
                dens = contrib.sum(1)
                cap = 2.0 * np.minimum(po, 1.0 - po)
                scale = np.where(dens > cap, cap / np.maximum(dens, 1e-30), 1.0)
                onet = net[o]
                P[onet], D[onet] = po, dens * scale
                for r, gl in m.arcs(o).items():
                    if r not in ins:
                        continue
                    j = ins.index(r)
                    e += contrib[:, j] * scale * groups_energy(
                        gl, ins, Pin, {}, fo, slew[net[r]], load[onet], clocks)
            for p in ins:
                gl = m.pin_groups(p)
                if gl:
                    e += D[net[p]] * groups_energy(gl, ins, Pin, {}, fo, slew[net[p]],
                                                   first_load, clocks)
        internal[cis] += e
    v2 = lib.voltage ** 2
    Dn = D[:n_nets].copy()
    for n in st.clock_nets:
        Dn[n] = 2.0
    sw = Dn * 0.5 * st.load_pf * v2 / period_ns
    int_mw = internal / period_ns
    leak = np.array([m.leakage_mw for m in st.models])
    seq = st.sequential
    kinds = _net_kinds(st)
    tot = float(int_mw.sum() + sw.sum() + leak.sum())
    comb_nets = kinds == 0
    return {
        "total_mw": _r(tot), "dynamic_mw": _r(int_mw.sum() + sw.sum()),
        "internal_mw": _r(int_mw.sum()), "switching_mw": _r(sw.sum()),
        "leakage_mw": _r(leak.sum()),
        "sequential_mw": _r(int_mw[seq].sum() + sw[kinds == 1].sum() + leak[seq].sum()),
        "combinational_mw": _r(int_mw[~seq].sum() + sw[comb_nets].sum() + leak[~seq].sum()),
        "mean_combinational_toggles_per_cycle": _r(float(Dn[comb_nets].mean())
                                                   if comb_nets.any() else 0.0, 4),
        "assumptions": (f"inputs and flip-flop outputs: static probability {probability:g}, "
                        f"{activity:g} toggles per cycle; combinational nets: probability and "
                        "transition density propagated with independent inputs (capped at "
                        "2 min(P, 1-P) per cycle: zero-delay, no glitches); same energy "
                        "tables, loads and slews as the simulated figure"),
    }


def _edge_energy(gl: list[PowerGroup], pins: list[str], Pp: np.ndarray, clocks: Sequence[str],
                 high: bool, slew: np.ndarray, ld: np.ndarray) -> np.ndarray:
    """Clock-pin energy of one clock edge per cell (``high`` False: the rise, evaluated with
    the clock at 0; True: the fall), each group weighted by the probability of its ``when``."""
    B = _combos(len(pins))
    C = len(B)
    env = {p: B[:, j] for j, p in enumerate(pins)} | {c: np.full(C, high) for c in clocks}
    sels = _select(gl, [(1.0, env)], (C,))
    probs = _combo_probs(Pp)
    e = np.zeros(len(Pp))
    for g, sel in zip(gl, sels, strict=True):
        tab = g.fall if high else g.rise
        if tab is not None:
            e += (probs @ (np.asarray(sel, float) * np.ones(C))) * tab.lookup(slew, ld)
    return e



# ---- SRAM macros ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class SramEnergy:
    """Access energy of one SRAM macro from its liberty: per port (``A``, ``B``; the clock pin
    ``<port>_CLK``), pJ per clock cycle of a read, a write, both, and an idle enabled cycle
    (the clock pin's ``internal_power`` by its ``when`` on ``<port>_MEN``/``_WEN``/``_REN``);
    ``leakage_mw``. Data, address and mask pin toggles are not included."""

    macro: str
    path: str
    ports: dict[str, dict[str, float]]
    leakage_mw: float


def sram_macro_energy(path: str | Path) -> SramEnergy:
    """Read an IHP-style SRAM macro liberty (``RM_IHPSG13_*``): :class:`SramEnergy`.

    Refuses (:class:`PowerError`) a file without a cell, without a clock pin or without
    read/write conditions on it.
    """
    p = Path(path)
    what = f"SRAM liberty {str(p)!r}"
    if not p.is_file():
        raise PowerError(f"{what} does not exist")
    root = _parse_liberty(p.read_text(errors="replace"), what)
    libs = root.groups("library")
    cells = libs[0].groups("cell") if libs else []
    if not cells:
        raise PowerError(f"{what} is malformed: no library with a cell")
    lib, cell = libs[0], cells[0]
    a = lib.attrs
    vu = _unit(a.get("voltage_unit"), _VOLT_UNITS, 1.0, what, "voltage_unit")
    lu = _unit(a.get("leakage_power_unit"), _LEAK_UNITS, 1e-6, what, "leakage_power_unit")
    mc = lib.cplx.get("capacitive_load_unit")
    cu = 1.0
    if mc:
        cu = float(mc[0][0]) * {"ff": 1e-3, "pf": 1.0}.get(mc[0][1].lower(), 1.0)
    eu = cu * vu * vu
    templates = {t.name: t for k in ("lu_table_template", "power_lut_template")
                 for t in lib.groups(k)}
    pins = list(cell.groups("pin"))
    for b in cell.groups("bus"):
        pins += b.groups("pin")
    ports: dict[str, dict[str, float]] = {}
    for pin in pins:
        if pin.attrs.get("clock", "") != "true" or not pin.name.endswith("CLK") \
                or "BIST" in pin.name:  # the built-in self-test clocks are not accesses
            continue
        prefix = pin.name[: -len("CLK")]
        groups = []
        for ip in pin.groups("internal_power"):
            w = ip.attrs.get("when")
            tabs = [(_make_table(ip.groups(k)[0], templates, time_ns=1.0, cap_pf=cu, scale=eu,
                                 what=what) if ip.groups(k) else None)
                    for k in ("rise_power", "fall_power")]
            groups.append(PowerGroup(pin.name, None, parse_bool(w) if w else None, w, *tabs))
        groups.sort(key=lambda g: g.when is None)
        res = {}
        for kind, (men, wen, ren) in {"read_pj": (1, 0, 1), "write_pj": (1, 1, 0),
                                      "read_write_pj": (1, 1, 1), "idle_pj": (1, 0, 0),
                                      "disabled_pj": (0, 0, 0)}.items():
            env = {f"{prefix}MEN": np.array(bool(men)), f"{prefix}WEN": np.array(bool(wen)),
                   f"{prefix}REN": np.array(bool(ren))}
            sels = _select(groups, [(1.0, env)], ())
            e = 0.0
            for g, sel in zip(groups, sels, strict=True):
                for tab in (g.rise, g.fall):
                    if tab is not None:
                        e += float(sel) * float(tab.lookup(0.1, 0.0))
            res[kind] = _r(e)
        if not any(g.when is not None for g in groups):
            raise PowerError(f"{what}: clock pin {pin.name} has no read/write conditions")
        ports[prefix.rstrip("_") or pin.name] = res
    if not ports:
        raise PowerError(f"{what}: no clock pin (<port>_CLK) with internal_power")
    leak = cell.attrs.get("cell_leakage_power")
    return SramEnergy(cell.name, str(p), ports, _r(float(leak) * lu) if leak else 0.0)


def sram_power(mapping: Mapping[str, Any], *, period_ns: float, reads_per_cycle: float,
               writes_per_cycle: float, macros: Sequence[sram.SramMacro] | None = None
               ) -> dict[str, Any]:
    """Power of a buffer tiled by :func:`flow.sram.map_buffer` (``mapping``): every cycle,
    ``reads_per_cycle`` and ``writes_per_cycle`` word accesses (0..1 each; a word spans the
    ``cols`` macros of one row, so each access enables ``cols`` macros). A two-port macro
    writes on port A and reads on port B; a one-port macro does one access per cycle (both in
    one cycle are refused). Returns mW: ``dynamic_mw``, ``leakage_mw``, ``total_mw`` and the
    per-access energies used."""
    ms = sram.sram_macros() if macros is None else list(macros)
    m = next((x for x in ms if x.name == mapping["macro"]), None)
    if m is None:
        raise PowerError(f"SRAM macro {mapping['macro']} not found")
    if not (0 <= reads_per_cycle <= 1 and 0 <= writes_per_cycle <= 1) or period_ns <= 0:
        raise PowerError("reads and writes per cycle must be in 0..1, the period positive")
    en = sram_macro_energy(m.path)
    cols, count = int(mapping["cols"]), int(mapping["count"])
    if m.ports >= 2 and len(en.ports) >= 2:
        pa, pb = sorted(en.ports)[:2]
        per_cycle = writes_per_cycle * en.ports[pa]["write_pj"] \
            + reads_per_cycle * en.ports[pb]["read_pj"]
    else:
        if reads_per_cycle + writes_per_cycle > 1:
            raise PowerError(f"{m.name} has one port: at most one access per cycle")
        pa = sorted(en.ports)[0]
        per_cycle = writes_per_cycle * en.ports[pa]["write_pj"] \
            + reads_per_cycle * en.ports[pa]["read_pj"]
    dyn = cols * per_cycle / period_ns
    leak = count * en.leakage_mw
    return {"macro": m.name, "count": count, "macros_per_access": cols,
            "energy_pj": en.ports, "dynamic_mw": _r(dyn), "leakage_mw": _r(leak),
            "total_mw": _r(dyn + leak),
            "note": "clock-pin access energy of the macro liberty (read/write/idle by its "
                    "when conditions); data and address pin energy not included"}


# ---- the generic library's power data ------------------------------------------------------------
#: Generic cell -> (IHP cell, generic pin -> IHP pin, IHP pins held constant). Comb cells: the
#: timing fit's counterparts (:data:`flow.timing.GENERIC_FIT_CELLS`; OAI22 has none and takes
#: AOI22's data); the three flip-flops take dfrbpq_1's with its reset inactive.
_FLOP_MAP = ({"CK": "CLK", "D": "D", "Q": "Q"}, {"RESET_B": True})
GENERIC_POWER_CELLS: dict[str, tuple[str, dict[str, str], dict[str, bool]]] = {
    **{g: (i, {}, {}) for g, i in timing.GENERIC_FIT_CELLS.items() if g != "DFF"},
    "MUX2": ("sg13g2_mux2_1", {"A": "A0", "B": "A1", "S": "S", "Y": "X"}, {}),
    "OAI22": ("sg13g2_a22oi_1", {}, {}),
    "DFF": ("sg13g2_dfrbpq_1", *_FLOP_MAP),
    "DFFR": ("sg13g2_dfrbpq_1", *_FLOP_MAP),
    "DFFS": ("sg13g2_dfrbpq_1", *_FLOP_MAP),
    "TIEHI": ("sg13g2_tiehi", {}, {}),
    "TIELO": ("sg13g2_tielo", {}, {}),
}
#: Index of the generic power tables (the delay tables' index).
GENERIC_POWER_INDEX = timing.GENERIC_INDEX


def _grid_fit(tab: LutTable, two_d: bool) -> np.ndarray:
    """Least squares of ``e0 + a s (+ b C + c s C)`` to a table inside the timing fit's region."""
    if not tab.axes:
        v = float(tab.values.reshape(-1)[0])
        return np.array([v, 0.0, 0.0, 0.0] if two_d else [v, 0.0])
    s_ix = tab.index[tab.axes.index("slew")] if "slew" in tab.axes else np.array([0.1])
    c_ix = tab.index[tab.axes.index("load")] if "load" in tab.axes else np.array([0.01])
    s_ix = s_ix[s_ix <= timing.FIT_SLEW_MAX + 1e-9]
    c_ix = c_ix[c_ix <= timing.FIT_LOAD_MAX + 1e-9]
    s, c = np.meshgrid(s_ix, c_ix, indexing="ij")
    v = tab.lookup(s, c, clamp=False).reshape(-1)
    s, c = s.reshape(-1), c.reshape(-1)
    a = np.stack([np.ones_like(s), s, c, s * c], 1) if two_d else np.stack([np.ones_like(s), s], 1)
    return np.linalg.lstsq(a, v, rcond=None)[0]


def _eval_fit(coef: np.ndarray) -> list[list[float]] | list[float]:
    (s0, s1), (c0, c1) = GENERIC_POWER_INDEX
    if len(coef) == 2:
        return [round(max(coef[0] + coef[1] * s, 0.0), 7) for s in (s0, s1)]
    e0, a, b, c = coef
    return [[round(max(e0 + a * s + b * cc + c * s * cc, 0.0), 7) for cc in (c0, c1)]
            for s in (s0, s1)]


def fit_generic_power(ihp_liberty: str | Path) -> dict[str, dict[str, Any]]:
    """The generic library's power data, recomputed from the IHP SG13G2 typical library.

    Per generic cell (:data:`GENERIC_POWER_CELLS`): ``leakage_nw`` (the IHP cell's
    ``cell_leakage_power``), ``arc`` (rise/fall 2x2 energy tables in pJ at
    :data:`GENERIC_POWER_INDEX`, used for every input -> output arc: the least-squares fit
    ``e0 + a*slew + b*C + c*slew*C`` inside the timing fit's region, averaged over the IHP
    cell's arcs, each arc the mean of its conditional groups, or its unconditional group when
    it has none; flip-flops: the clock -> Q arc) and ``pins`` (pin-level groups: per state of
    the pins their IHP ``when`` reads, the IHP group that state selects, fitted linearly in
    slew as a two-point table; the flip-flops' clock and data pins, MUX2's select).
    """
    lib = load_power_library(ihp_liberty)
    out: dict[str, dict[str, Any]] = {}
    for g, (iname, pmap, fixed) in GENERIC_POWER_CELLS.items():
        m = lib.cells[iname]
        inv = {v: k for k, v in pmap.items()}
        entry: dict[str, Any] = {"ihp": iname, "leakage_nw": float(f"{m.leakage_mw * 1e6:.4g}")}
        arcs = []
        for o in m.outputs:
            for r, gl in m.arcs(o).items():
                if r in fixed:
                    continue
                cond = [x for x in gl if x.when is not None] or gl
                fr = [_grid_fit(x.rise, True) for x in cond if x.rise is not None]
                ff = [_grid_fit(x.fall, True) for x in cond if x.fall is not None]
                if fr and ff:
                    arcs.append((np.mean(fr, 0), np.mean(ff, 0)))
        entry["arc"] = ({"rise": _eval_fit(np.mean([a for a, _ in arcs], 0)),
                         "fall": _eval_fit(np.mean([b for _, b in arcs], 0))} if arcs else None)
        pins: dict[str, list[dict[str, Any]]] = {}
        for ip in m.inputs:
            gl = m.pin_groups(ip)
            gpin = inv.get(ip, ip)
            if not gl or ip in fixed or (pmap and ip not in inv):
                continue
            used = sorted(set().union(*(expr_vars(x.when) for x in gl if x.when is not None))
                          - set(fixed))
            rows = []
            for bits in _combos(len(used)):
                env = {**{k: np.array(v) for k, v in fixed.items()},
                       **{u: np.array(bool(b)) for u, b in zip(used, bits, strict=True)}}
                sels = _select(gl, [(1.0, env)], ())
                chosen = next(x for x, sv in zip(gl, sels, strict=True) if float(sv) > 0)
                when = "&".join(("" if b else "!") + inv.get(u, u)
                                for u, b in zip(used, bits, strict=True)) or None
                rows.append({"when": when,
                             "rise": _eval_fit(_grid_fit(chosen.rise, False))
                             if chosen.rise is not None else [0.0, 0.0],
                             "fall": _eval_fit(_grid_fit(chosen.fall, False))
                             if chosen.fall is not None else [0.0, 0.0]})
            pins[gpin] = rows
        entry["pins"] = pins
        out[g] = entry
    return out


_POWER_TEMPLATES = (
    "  /* Power tables (pJ per transition): rows = input transition (ns), columns = output load\n"
    "   * (pF); passive tables (input pins) by input transition only. */\n"
    "  power_lut_template (sqgen_power_2x2) {\n"
    "    variable_1 : input_transition_time;\n"
    "    variable_2 : total_output_net_capacitance;\n"
    '    index_1 ("0.02, 0.64");\n'
    '    index_2 ("0.001, 0.108");\n'
    "  }\n"
    "  power_lut_template (sqgen_passive_2) {\n"
    "    variable_1 : input_transition_time;\n"
    '    index_1 ("0.02, 0.64");\n'
    "  }\n"
)


def _fmt(v: float) -> str:
    return f"{v:.7f}".rstrip("0").rstrip(".") if v else "0"


def _power_group(ind: str, related: str | None, when: str | None, rise: Any, fall: Any) -> str:
    two_d = isinstance(rise[0], list)
    tpl = "sqgen_power_2x2" if two_d else "sqgen_passive_2"
    idx = 'index_1 ("0.02, 0.64"); index_2 ("0.001, 0.108");' if two_d else \
        'index_1 ("0.02, 0.64");'

    def vals(t: Any) -> str:
        rows = t if two_d else [t]
        return ", ".join('"' + ", ".join(_fmt(x) for x in r) + '"' for r in rows)

    lines = [f"{ind}internal_power () {{"]
    if related:
        lines.append(f'{ind}  related_pin : "{related}";')
    if when:
        lines.append(f'{ind}  when : "{when}";')
    for k, t in (("rise_power", rise), ("fall_power", fall)):
        lines += [f"{ind}  {k} ({tpl}) {{", f"{ind}    {idx}", f"{ind}    values ({vals(t)});",
                  f"{ind}  }}"]
    lines.append(f"{ind}}}")
    return "\n".join(lines) + "\n"


def _strip_power(text: str) -> str:
    """``text`` without power data (what :func:`apply_generic_power` adds)."""
    text = re.sub(r"^[ \t]*cell_leakage_power\s*:[^;]*;\n", "", text, flags=re.M)
    i = text.find("  /* Power tables (pJ per transition)")
    if i >= 0:
        j = text.find("  power_lut_template (sqgen_passive_2) {", i)
        j = text.find("  }\n", j) + 4
        if text.startswith("\n", j):
            j += 1
        text = text[:i] + text[j:]
    while True:
        m = re.search(r"^[ \t]*internal_power \(\) \{\n", text, re.M)
        if m is None:
            break
        depth, k = 1, m.end()
        while depth:
            c = text[k]
            depth += (c == "{") - (c == "}")
            k += 1
        end = text.find("\n", k) + 1
        text = text[:m.start()] + text[end:]
    # pins whose block only held power groups go back to one line
    text = re.sub(r"(pin \(\w+\) \{ [^\n{}]*;)\n    \}", r"\1 }", text)
    return text


def apply_generic_power(text: str, fit: Mapping[str, Mapping[str, Any]]) -> str:
    """The generic library ``text`` with the power data ``fit`` (:func:`fit_generic_power`):
    ``cell_leakage_power`` per cell, ``internal_power`` groups, the power templates. Any power
    data already in ``text`` is replaced, so applying the same fit twice changes nothing."""
    text = _strip_power(text)
    anchor = "  cell (INV) {"
    if anchor not in text:
        raise PowerError("generic library text has no cell (INV)")
    text = text.replace(anchor, _POWER_TEMPLATES + "\n" + anchor, 1)
    for g, entry in fit.items():
        cm = re.search(r"^  cell \(" + re.escape(g) + r"\) \{\n    area : [^;]*;\n", text, re.M)
        if cm is None:
            raise PowerError(f"generic library text has no cell ({g})")
        end = text.index("\n  }\n", cm.end())
        body = text[cm.end():end]
        leak = f"    cell_leakage_power : {entry['leakage_nw']:g};\n"
        new_body = body
        inputs = re.findall(r"pin \((\w+)\) \{ direction : input;", body)
        related = [p for p in inputs if p not in ("RN", "SN")]
        if g.startswith("DFF"):
            related = ["CK"]
        adds: dict[str, str] = {}
        if entry.get("arc"):
            adds["__out__"] = "".join(_power_group("      ", r, None, entry["arc"]["rise"],
                                                   entry["arc"]["fall"]) for r in related)
        for pin, rows in entry.get("pins", {}).items():
            adds[pin] = "".join(_power_group("      ", None, r["when"], r["rise"], r["fall"])
                                for r in rows)
        for pin, grp in adds.items():
            if pin == "__out__":
                pm = re.search(r"pin \((\w+)\) \{ direction : output;", new_body)
            else:
                pm = re.search(r"pin \(" + re.escape(pin) + r"\) \{ direction : input;",
                               new_body)
            if pm is None:
                raise PowerError(f"generic library: cell {g} has no pin for {pin}")
            # the pin's closing brace
            depth, k = 1, new_body.index("{", pm.start()) + 1
            while depth:
                c = new_body[k]
                depth += (c == "{") - (c == "}")
                k += 1
            close = k - 1
            head = new_body[:close]
            if "\n" not in new_body[pm.start():close]:  # one-line pin: open it up
                head = head.rstrip() + "\n"
                new_body = head + grp + "    " + new_body[close:]
            else:
                line_start = new_body.rfind("\n", 0, close) + 1
                new_body = new_body[:line_start] + grp + new_body[line_start:]
        text = text[:cm.end()] + leak + new_body + text[end:]
    return text


# ---- gate-level simulation -----------------------------------------------------------------------
def _tool(name: str) -> str:
    p = shutil.which(name)
    if p is None:
        raise PowerError(f"Icarus Verilog ('{name}') is not installed or not on PATH; "
                         f"{IVERILOG_HINT}")
    return p


def cell_models_verilog(lib: PowerLibrary, cache_dir: str | Path | None = DEFAULT_CACHE) -> str:
    """Verilog models of every cell of ``lib``: Yosys ``read_liberty`` *without* ``-lib`` (the
    cells' functions, flip-flops and latches as real logic), ``write_verilog``, every register
    initialised to 0. Built in a worker process (a Yosys error ends the process that hosts
    libyosys) and cached by the library's SHA-256."""
    cfile = Path(cache_dir) / f"cells-{lib.sha256[:24]}-{POWER_FLOW_VERSION}.v" \
        if cache_dir is not None else None
    if cfile is not None and cfile.is_file():
        return cfile.read_text()
    with tempfile.TemporaryDirectory(prefix="sqgen-cells-") as tmpd:
        tmp = Path(tmpd)
        (tmp / "job.json").write_text(json.dumps({"liberty": str(lib.path)}))
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        try:
            res = subprocess.run([sys.executable, "-m", "flow.power", "--cells-worker", tmpd],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 env=env, timeout=600, cwd=tmp)
        except subprocess.TimeoutExpired:
            raise PowerError(f"yosys read_liberty of {lib.path} did not finish") from None
        out = tmp / "cells.v"
        if res.returncode != 0 or not out.is_file():
            raise PowerError(f"yosys cannot build cell models from {lib.path}: "
                             f"{area.yosys_error(res.stdout)}")
        text = out.read_text()
    # flip-flops and latches start at 0 (Icarus would start them at x)
    text = re.sub(r"^(\s*reg\s+(?:\[[^\]]*\]\s*)?[^\s;=]+)\s*;", r"\1 = 0;", text, flags=re.M)
    text = re.sub(r"^module .*?^endmodule\n?", lambda m: _collapse_assigns(m.group(0)), text,
                  flags=re.M | re.S)
    if cfile is not None:
        try:
            atomic_write_text(cfile, text)
        except OSError:
            pass
    return text


_PRIV = r"_\d+_"


def _collapse_assigns(mod: str) -> str:
    """One Yosys cell model with its private wires (``_0_``, assigned once, read only by other
    assigns) substituted into the expressions that read them: the same logic as one continuous
    assign per output (about 15 % faster in Icarus than a chain of single-gate assigns)."""
    assigns = {m.group(1): m.group(2) for m in
               re.finditer(r"^\s*assign\s+(" + _PRIV + r")\s*=\s*(.*?);\s*$", mod, re.M)}
    procedural = "\n".join(ln for ln in mod.splitlines()
                           if not re.match(r"\s*(assign|wire|reg|input|output)\b", ln))
    inline = {w for w in assigns if not re.search(rf"(?<![\w$]){w}(?![\w$])", procedural)}
    if not inline:
        return mod

    def subst(expr: str, depth: int = 0) -> str:
        if depth > 64:
            return expr
        return re.sub(_PRIV, lambda m: f"({subst(assigns[m.group(0)], depth + 1)})"
                      if m.group(0) in inline else m.group(0), expr)

    out = []
    for ln in mod.splitlines(keepends=True):
        ma = re.match(r"^(\s*assign\s+)(\S+)(\s*=\s*)(.*?);(\s*)$", ln)
        mw = re.match(r"^\s*wire\s+(" + _PRIV + r")\s*;\s*$", ln)
        if mw is not None and mw.group(1) in inline:
            continue
        if ma is not None:
            if ma.group(2) in inline:
                continue
            ln = f"{ma.group(1)}{ma.group(2)}{ma.group(3)}{subst(ma.group(4))};{ma.group(5)}"
        out.append(ln)
    return "".join(out)


def _cells_worker(jobdir: str) -> int:
    from pyosys import libyosys as ys

    os.chdir(jobdir)
    job = json.loads(Path("job.json").read_text())
    d = ys.Design()
    ys.run_pass(f"read_liberty -ignore_miss_func -ignore_miss_dir {job['liberty']}", d)
    ys.run_pass("write_verilog -noattr cells.v", d)
    return 0


@dataclass
class Stimulus:
    """What the power testbench drives and when it stops.

    ``sources``: input stream name -> payload beats (ports ``<s>__payload``, ``<s>__valid``,
    ``<s>__ready`` if present; valid from the end of reset until every beat is taken).
    ``sinks``: output stream name -> expected beats (ready from the end of reset; every beat
    taken is recorded; the run stops when each sink has its beats). ``vectors``: input port ->
    one value per cycle (the last repeats). Other inputs but ``clk``/``rst`` are held at 0.
    ``cycles``: stop after this many cycles instead (vector workloads). ``rst`` is high for
    ``reset_cycles`` rising edges first.
    """

    sources: dict[str, list[int]] = field(default_factory=dict)
    sinks: dict[str, int] = field(default_factory=dict)
    vectors: dict[str, list[int]] = field(default_factory=dict)
    cycles: int | None = None
    max_cycles: int = 10_000_000
    reset_cycles: int = RESET_CYCLES


def _hex(v: int, bits: int) -> str:
    return format(v & ((1 << bits) - 1), f"0{max(1, (bits + 3) // 4)}x")


def testbench_verilog(top: str, ports: Mapping[str, Port | tuple[str, int]], stim: Stimulus, *,
                      sample: Sequence[str] = (), chunk: int = 1024) -> str:
    """The power testbench (module ``sqgen_power_tb``; Verilog-2005, Icarus).

    ``ports``: the DUT's ports (:class:`Port` of a parsed netlist, whose split bits are
    connected one by one, or ``(direction, width)`` for an RTL module). ``sample``: net
    expressions inside the DUT written, once per cycle at the falling clock edge, to
    ``values.hex`` (hex, ``chunk`` bits per ``$fwrite``). Every output port is written to
    ``outs.hex`` each cycle, the beats of each sink to ``sink_<s>.hex``; ``status.txt`` gets
    ``done <cycles>`` or ``timeout <cycles>``. Stimulus files: ``src_<s>.hex``,
    ``vectors.hex``.
    """
    def pinfo(name: str) -> tuple[str, int, tuple[str, ...] | None]:
        p = ports[name]
        if isinstance(p, Port):
            return p.direction, p.width, p.bit_ports
        return p[0], int(p[1]), None

    L: list[str] = []
    a = L.append
    R = max(1, stim.reset_cycles)
    a("// sqgen power testbench (flow/power.py): stimulus from files, one sample per cycle.")
    a("`timescale 1ns/1ps")
    a("module sqgen_power_tb;")
    a("  reg clk = 1'b0;\n  always #5 clk = ~clk;\n  reg rst = 1'b1;\n  reg [31:0] cyc = 0;")
    a(f"  always @(posedge clk) begin cyc <= cyc + 1; if (cyc == {R - 1}) rst <= 1'b0; end")
    a("  integer f_values, f_outs, f_status;")
    covered: set[str] = {"clk", "rst"}
    for s_name, beats in stim.sources.items():
        pay, val, rdy = f"{s_name}__payload", f"{s_name}__valid", f"{s_name}__ready"
        if pay not in ports or val not in ports:
            raise PowerError(f"design {top} has no input stream {s_name} ({pay}, {val})")
        _, w, _ = pinfo(pay)
        nb = len(beats)
        if nb == 0:
            raise PowerError(f"stream {s_name}: no beats to send")
        a(f"  reg [{w - 1}:0] src_{s_name} [0:{nb - 1}];")
        a(f'  initial $readmemh("src_{s_name}.hex", src_{s_name});')
        a(f"  reg [31:0] i_{s_name} = 0;")
        a(f"  wire [0:0] s_{val} = !rst && (i_{s_name} < {nb});")
        a(f"  wire [{w - 1}:0] s_{pay} = src_{s_name}[(i_{s_name} < {nb}) ? i_{s_name} : "
          f"{nb - 1}];")
        if rdy in ports:
            a(f"  wire [0:0] s_{rdy};")
            a(f"  always @(posedge clk) if (s_{val} && s_{rdy}) i_{s_name} <= i_{s_name} + 1;")
            covered.add(rdy)
        else:
            a(f"  always @(posedge clk) if (s_{val}) i_{s_name} <= i_{s_name} + 1;")
        covered |= {pay, val}
    done_terms = []
    for s_name, n_exp in stim.sinks.items():
        pay, val, rdy = f"{s_name}__payload", f"{s_name}__valid", f"{s_name}__ready"
        if pay not in ports or val not in ports:
            raise PowerError(f"design {top} has no output stream {s_name} ({pay}, {val})")
        _, w, _ = pinfo(pay)
        a(f"  wire [{w - 1}:0] s_{pay};\n  wire [0:0] s_{val};")
        take = f"s_{val}"
        if rdy in ports:
            a(f"  wire [0:0] s_{rdy} = !rst;")
            take += f" && s_{rdy}"
            covered.add(rdy)
        a(f"  integer f_sink_{s_name};\n  reg [31:0] n_{s_name} = 0;")
        a(f"  always @(posedge clk) if (!rst && {take}) begin "
          f'$fwrite(f_sink_{s_name}, "%h\\n", s_{pay}); n_{s_name} <= n_{s_name} + 1; end')
        done_terms.append(f"(n_{s_name} >= {n_exp})")
        covered |= {pay, val}
    vec_ports = [p for p in stim.vectors if p not in covered]
    for p in stim.vectors:
        if p not in ports or pinfo(p)[0] != "input":
            raise PowerError(f"design {top} has no input port {p}")
    if vec_ports:
        wv = sum(pinfo(p)[1] for p in vec_ports)
        nv = max(len(stim.vectors[p]) for p in vec_ports)
        a(f"  reg [{wv - 1}:0] vec [0:{nv - 1}];")
        a('  initial $readmemh("vectors.hex", vec);')
        a(f"  wire [31:0] vi = (cyc < {R}) ? 0 : ((cyc - {R} < {nv}) ? (cyc - {R}) : {nv - 1});")
        a(f"  wire [{wv - 1}:0] vv = rst ? {{{wv}{{1'b0}}}} : vec[vi];")
        off = 0
        for p in vec_ports:
            w = pinfo(p)[1]
            a(f"  wire [{w - 1}:0] s_{p} = vv[{off + w - 1}:{off}];")
            off += w
        covered |= set(vec_ports)
    for name in ports:
        d, w, _ = pinfo(name)
        if name in covered:
            continue
        if d == "input":
            a(f"  wire [{w - 1}:0] s_{name} = {w}'d0;")
        else:
            a(f"  wire [{w - 1}:0] s_{name};")
    conns = []
    for name in ports:
        d, w, bits = pinfo(name)
        s = "clk" if name == "clk" else "rst" if name == "rst" else f"s_{name}"
        if bits is not None and name not in ("clk", "rst"):
            conns += [f".{b} ({s}[{i}])" for i, b in enumerate(bits)]
        else:
            conns.append(f".{name}({s})")
    a(f"  {top} dut (\n    " + ",\n    ".join(conns) + "\n  );")
    a("  initial begin")
    a('    f_values = $fopen("values.hex", "w"); f_outs = $fopen("outs.hex", "w");')
    a('    f_status = $fopen("status.txt", "w");')
    for s_name in stim.sinks:
        a(f'    f_sink_{s_name} = $fopen("sink_{s_name}.hex", "w");')
    a("  end")
    if stim.cycles is not None:
        done_terms.append(f"(cyc - {R} >= {int(stim.cycles)})")
    if not done_terms:
        raise PowerError("the testbench has no stop condition (no sinks, no cycle count)")
    a(f"  wire done = {' && '.join(done_terms)};")
    a(f"  always @(negedge clk) if (cyc >= {R}) begin")
    refs = list(sample)
    for k in range(0, len(refs), chunk):
        part = [f"dut.{r}" for r in refs[k:k + chunk]]
        pad = (-len(part)) % 8
        part += ["1'b0"] * pad
        a(f'    $fwrite(f_values, "%h", {{{", ".join(part)}}});')
    if refs:
        a('    $fwrite(f_values, "\\n");')
    outs = [n for n in ports if pinfo(n)[0] == "output"]
    if outs:
        a(f'    $fwrite(f_outs, "{" ".join(["%h"] * len(outs))}\\n", '
          + ", ".join(f"s_{n}" for n in outs) + ");")
    a(f'    if (done) begin $fwrite(f_status, "done %0d\\n", cyc - {R}); $fflush; $finish; end')
    a(f"    else if (cyc - {R} >= {int(stim.max_cycles)}) begin")
    a(f'      $fwrite(f_status, "timeout %0d\\n", cyc - {R}); $fflush; $finish; end')
    a("  end")
    a("endmodule")
    return "\n".join(L) + "\n"


def _write_stimulus(d: Path, ports: Mapping[str, Port | tuple[str, int]], stim: Stimulus) -> None:
    def width(name: str) -> int:
        p = ports[name]
        return p.width if isinstance(p, Port) else int(p[1])

    for s_name, beats in stim.sources.items():
        w = width(f"{s_name}__payload")
        (d / f"src_{s_name}.hex").write_text("".join(_hex(b, w) + "\n" for b in beats))
    covered = {f"{s}__{k}" for s in (*stim.sources, *stim.sinks)
               for k in ("payload", "valid", "ready")}
    vec_ports = [p for p in stim.vectors if p not in covered]
    if vec_ports:
        nv = max(len(stim.vectors[p]) for p in vec_ports)
        wv = sum(width(p) for p in vec_ports)
        lines = []
        for t in range(nv):
            v, off = 0, 0
            for p in vec_ports:
                vals = stim.vectors[p]
                w = width(p)
                v |= (int(vals[min(t, len(vals) - 1)]) & ((1 << w) - 1)) << off
                off += w
            lines.append(_hex(v, wv))
        (d / "vectors.hex").write_text("\n".join(lines) + "\n")


@dataclass
class SimResult:
    """One testbench run: the per-cycle values of the sampled nets (``None`` when none were),
    the beats each sink took, every output port per cycle (``None`` where x/z), the cycles
    from the end of reset to the stop, and the Icarus version."""

    values: np.ndarray | None
    sinks: dict[str, list[int]]
    outputs: dict[str, list[int | None]]
    cycles: int
    tool: str
    seconds: dict[str, float]


def _run(cmd: list[str], cwd: Path, what: str) -> str:
    try:
        res = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, timeout=SIM_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise PowerError(f"{what}: {Path(cmd[0]).name} did not finish in {SIM_TIMEOUT} s") \
            from None
    if res.returncode != 0:
        lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
        err = next((ln for ln in lines if "error" in ln.lower()), lines[-1] if lines else "")
        raise PowerError(f"{what}: {Path(cmd[0]).name} failed: {err.strip()}")
    return res.stdout


def read_values(path: str | Path, count: int, names: Sequence[str] = ()) -> np.ndarray:
    """``values.hex`` -> bool ``(count, samples)``; an x or z value is refused naming the net."""
    lines = [ln.strip() for ln in Path(path).read_text().splitlines() if ln.strip()]
    if not lines:
        raise PowerError("the gate-level simulation wrote no samples")
    width = len(lines[0])
    if any(len(ln) != width for ln in lines) or width * 4 < count:
        raise PowerError("the gate-level simulation's samples are truncated")
    try:
        raw = bytes.fromhex("".join(lines))
    except ValueError:
        for t, ln in enumerate(lines):
            for k, ch in enumerate(ln):
                if ch not in "0123456789abcdefABCDEF":
                    net = names[4 * k] if 4 * k < len(names) else f"bit {4 * k}"
                    raise PowerError(f"gate-level simulation: net {net} (or one of the 3 after "
                                     f"it) is x/z in cycle {t}: an undriven or uninitialised "
                                     "net") from None
        raise
    data = np.frombuffer(raw, np.uint8).reshape(len(lines), width // 2)
    return np.unpackbits(data, axis=1)[:, :count].T.astype(bool)


def _read_outputs(path: Path, outs: list[str]) -> dict[str, list[int | None]]:
    res: dict[str, list[int | None]] = {o: [] for o in outs}
    if not outs or not path.is_file():
        return res
    for ln in path.read_text().splitlines():
        parts = ln.split()
        if len(parts) != len(outs):
            continue
        for o, p in zip(outs, parts, strict=True):
            try:
                res[o].append(int(p, 16))
            except ValueError:
                res[o].append(None)
    return res


def simulate(sources: Mapping[str, str], top: str, ports: Mapping[str, Port | tuple[str, int]],
             stim: Stimulus, workdir: str | Path, *, sample: Sequence[str] = (),
             what: str = "simulation") -> SimResult:
    """Compile ``sources`` with the power testbench and run Icarus.

    Parameters
    ----------
    sources
        File name -> Verilog (the DUT and, for a netlist, the cell models).
    top, ports
        The DUT's module and ports (:attr:`Netlist.ports`, or ``name -> (direction, width)``).
    stim
        What to drive and when to stop (:class:`Stimulus`).
    workdir
        Where the files go and the simulator runs.
    sample
        Net expressions inside the DUT to report every cycle.
    what
        Names the design in refusals.

    Returns
    -------
    SimResult
        The sampled values, the sinks' beats, every output per cycle, the cycle count.
    """
    d = Path(workdir)
    d.mkdir(parents=True, exist_ok=True)
    iv, vvp = _tool("iverilog"), _tool("vvp")
    names = []
    for name, text in sources.items():
        (d / name).write_text(text)
        names.append(name)
    (d / "tb.v").write_text(testbench_verilog(top, ports, stim, sample=sample))
    _write_stimulus(d, ports, stim)
    t0 = time.perf_counter()
    _run([iv, "-g2005", "-o", "sim.vvp", "-s", "sqgen_power_tb", "tb.v", *names], d, what)
    t1 = time.perf_counter()
    _run([vvp, "-n", "sim.vvp"], d, what)
    t2 = time.perf_counter()
    status = (d / "status.txt").read_text().split() if (d / "status.txt").is_file() else []
    if len(status) != 2 or status[0] != "done":
        n = status[1] if len(status) == 2 else "?"
        raise PowerError(f"{what}: the design did not finish the workload within {n} cycles "
                         "(a sink never got its beats)")
    sinks = {}
    for s_name in stim.sinks:
        f = d / f"sink_{s_name}.hex"
        sinks[s_name] = [int(x, 16) for x in f.read_text().split()] if f.is_file() else []
    outs = [n for n in ports if (ports[n].direction if isinstance(ports[n], Port)
                                 else ports[n][0]) == "output"]
    values = read_values(d / "values.hex", len(sample), sample) if sample else None
    ver = subprocess.run([iv, "-V"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, stdin=subprocess.DEVNULL).stdout.splitlines()
    tool = ver[0].strip() if ver else "iverilog"
    t3 = time.perf_counter()
    return SimResult(values, sinks, _read_outputs(d / "outs.hex", outs), int(status[1]), tool,
                     {"compile": round(t1 - t0, 3), "run": round(t2 - t1, 3),
                      "read": round(t3 - t2, 3)})


# ---- workloads -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PodWorkload:
    """A GEMM ``A (M x K) @ B (K x N)`` in HBFP for a pod: mantissas and shared exponents as
    :func:`golden.systolic.pod_gemm` takes them, plus what it is (``name``, ``description``).
    """

    name: str
    geometry: PodGeometry
    qa: np.ndarray
    ea: np.ndarray
    qw: np.ndarray
    ew: np.ndarray
    description: str

    @property
    def gemm(self) -> tuple[int, int, int]:
        return int(self.qa.shape[0]), int(self.qw.shape[1]), int(self.qa.shape[1])

    @property
    def macs(self) -> float:
        """Multiply-accumulates the GEMM needs: ``M * N * K * N_sp / M_sp`` (the pod's
        physical MACs on the real, unpadded data; ``M * N * K`` dense)."""
        M, N, K = self.gemm
        n, m = self.geometry.sparsity
        return M * N * K * n / m

    def program(self) -> PodProgram:
        return pod_program(self.qa, self.ea, self.qw, self.ew, self.geometry)


@dataclass(frozen=True)
class VectorWorkload:
    """Per-cycle input vectors for a datapath block: ``random`` (every data bit uniform each
    cycle) or ``zeros``; ``*__valid`` inputs are held at 1, other 1-bit control inputs (e.g.
    ``clear``) at 0, ``cycles`` cycles after reset."""

    name: str
    cycles: int
    seed: int
    description: str


def pod_geometry(cfg: Any) -> PodGeometry:
    """The :class:`golden.systolic.PodGeometry` of a pod design point (a
    :class:`gen.config.DesignConfig`)."""
    from gen.cmd_pod import pod_config  # late: the cell-model worker imports this module too

    p = pod_config(cfg)
    return PodGeometry(p["rows"], p["cols"], p["mant_bits"], p["acc_width"], p["block_size"],
                       tuple(p["sparsity"]), p["narrow_mant_bits"])


def default_pod_gemm(geo: PodGeometry) -> tuple[int, int, int]:
    """``(M, N, K)`` of the default power workload: 64 rows, 4 folds of ``C`` columns by 4
    folds of ``Kf`` reduction elements (16 folds; 97.8 % utilization on an 8x8 pod)."""
    return 64, 4 * geo.cols, 4 * geo.kf


def pod_workload(kind: str, geo: PodGeometry, *, gemm: tuple[int, int, int] | None = None,
                 seed: int = 1) -> PodWorkload:
    """A ``random`` or ``zeros`` GEMM for a pod (:func:`golden.systolic.random_hbfp_operands`:
    mantissas uniform over the format, exponents in [-20, 20]; ``zeros``: the same weights,
    every activation 0). MiniLM data comes from :mod:`studies.power_workloads`."""
    M, N, K = gemm or default_pod_gemm(geo)
    qa, ea, qw, ew = random_hbfp_operands(M, N, K, geo, np.random.default_rng(seed))
    if kind == "random":
        desc = (f"random HBFP operands (seed {seed}): mantissas uniform, exponents in "
                f"[-20, 20], GEMM {M}x{K} @ {K}x{N}")
    elif kind == "zeros":
        qa = np.zeros_like(qa)
        ea = np.full_like(ea, ZERO_BLOCK_EXP)
        desc = (f"zero activations, random weights (seed {seed}), GEMM {M}x{K} @ {K}x{N}")
    else:
        raise PowerError(f"workload {kind!r}: the flow makes 'random' and 'zeros' pod "
                         "workloads ('minilm' comes from studies.power_workloads)")
    return PodWorkload(kind, geo, qa, ea, qw, ew, desc)


def vector_workload(kind: str, *, cycles: int = 256, seed: int = 1) -> VectorWorkload:
    """A ``random`` or ``zeros`` per-cycle input workload for a datapath block."""
    if kind not in ("random", "zeros"):
        raise PowerError(f"workload {kind!r}: a datapath block takes 'random' or 'zeros'")
    if not 2 <= cycles <= 1_000_000:
        raise PowerError(f"cycles must be 2 .. 1000000, not {cycles}")
    desc = (f"random input bits every cycle (seed {seed})" if kind == "random"
            else "all data inputs 0") + f", valid held at 1, {cycles} cycles"
    return VectorWorkload(kind, cycles, seed, desc)


def _vector_stimulus(wl: VectorWorkload, ports: Mapping[str, Port]) -> Stimulus:
    rng = np.random.default_rng(wl.seed)
    vec: dict[str, list[int]] = {}
    for name, p in ports.items():
        if p.direction != "input" or name in ("clk", "rst"):
            continue
        if name.endswith("__valid"):
            vec[name] = [1]
        elif p.width == 1 and not name.endswith("__payload"):
            vec[name] = [0]
        elif wl.name == "zeros":
            vec[name] = [0]
        else:
            nbytes = (p.width + 7) // 8
            raw = rng.integers(0, 256, size=(wl.cycles + 1, nbytes), dtype=np.uint8)
            vec[name] = [int.from_bytes(r.tobytes(), "little") & ((1 << p.width) - 1)
                         for r in raw]
    return Stimulus(vectors=vec, cycles=wl.cycles)


def _pod_stimulus(wl: PodWorkload, prog: PodProgram) -> Stimulus:
    return Stimulus(sources={"w": prog.w_beats, "act": prog.act_beats},
                    sinks={"res": len(prog.act_beats)}, max_cycles=4 * prog.cycles + 1000)


def _check_pod(wl: PodWorkload, prog: PodProgram, sim: SimResult, what: str) -> dict[str, Any]:
    geo = wl.geometry
    C = geo.cols
    words = sim.sinks.get("res", [])
    want_d = prog.psum.reshape(-1, C)
    want_e = prog.exp.reshape(-1, C)
    if len(words) != len(want_d):
        raise PowerError(f"{what}: gate-level simulation took {len(words)} result beats, "
                         f"golden.systolic expects {len(want_d)}")
    d, e, last = PodLayout(geo).decode_res(words)
    bad = np.argwhere((d != want_d) | (e != want_e))
    if len(bad):
        b, c = (int(x) for x in bad[0])
        raise PowerError(
            f"{what}: gate-level simulation does not match golden.systolic: beat {b} column "
            f"{c}: psum {d[b, c]} exp {e[b, c]}, expected psum {want_d[b, c]} exp "
            f"{want_e[b, c]} ({len(bad)} of {want_d.size} values differ)")
    lb = np.flatnonzero(last != prog.expected_last)
    if len(lb):
        raise PowerError(f"{what}: gate-level simulation does not match golden.systolic: "
                         f"last flag of beat {int(lb[0])}")
    if sim.cycles != prog.cycles:
        raise PowerError(f"{what}: gate-level simulation took {sim.cycles} cycles, "
                         f"golden.systolic.cycles says {prog.cycles}")
    return {"against": "golden.systolic.pod_program (bit-exact psum, exp and last of every "
                       "result beat; cycle count golden.systolic.cycles)",
            "result_beats": len(words), "values_compared": int(want_d.size * 2 + len(last)),
            "cycles_measured": sim.cycles, "cycles_golden": prog.cycles, "ok": True}


def _check_vectors(gate: SimResult, rtl: SimResult, what: str) -> dict[str, Any]:
    compared = skipped = 0
    for o, gv in gate.outputs.items():
        rv = rtl.outputs.get(o, [])
        valid = None
        if o.endswith("__payload"):
            valid = rtl.outputs.get(o[: -len("payload")] + "valid")
        if len(rv) != len(gv):
            raise PowerError(f"{what}: RTL and gate-level simulations sampled {len(rv)} and "
                             f"{len(gv)} cycles of {o}")
        for t, (g, r) in enumerate(zip(gv, rv, strict=True)):
            if valid is not None and valid[t] != 1:
                continue
            if r is None:
                skipped += 1
                continue
            if g != r:
                raise PowerError(f"{what}: gate-level simulation does not match the RTL: "
                                 f"output {o} in cycle {t}: {g if g is None else hex(g)}, RTL "
                                 f"{hex(r)}")
            compared += 1
    return {"against": "RTL simulation of the generated Verilog with the same inputs (every "
                       "output every cycle; a payload only while its valid is 1)",
            "values_compared": compared, "rtl_unknown_skipped": skipped,
            "cycles_measured": gate.cycles, "ok": True}


# ---- the flow ------------------------------------------------------------------------------------
@dataclass
class PowerReport:
    """Result of one power run: ``data`` is ``power.json``, ``report`` is ``power.rpt``."""

    data: dict[str, Any]
    report: str = ""

    @property
    def total_mw(self) -> float:
        return float(self.data["total_mw"])

    @property
    def pj_per_mac(self) -> float | None:
        v = self.data.get("pj_per_mac")
        return None if v is None else float(v)

    def to_json(self) -> dict[str, Any]:
        return self.data


def _netlist_and_timing(vfiles: dict[str, str], top: str, lib: PowerLibrary,
                        clock_ns: float | None, wire_load: str | None,
                        cache_dir: str | Path | None) -> tuple[str, dict[str, Any], bool]:
    """The timing flow's flat mapped netlist and its ``timing.json`` data (cached here: the
    timing flow does not cache a kept netlist)."""
    try:
        sta_ver = timing.sta_version()
    except timing.TimingError as e:
        raise PowerError(str(e)) from None
    design_v = "\n".join(vfiles[n] for n in sorted(vfiles))
    cfile = None
    if cache_dir is not None:
        blob = json.dumps([POWER_FLOW_VERSION, timing.FLOW_VERSION, timing.ABC_SCRIPT,
                           lib.sha256, top, design_v, clock_ns, wire_load, sta_ver])
        cfile = Path(cache_dir) / f"netlist-{hashlib.sha256(blob.encode()).hexdigest()}.json"
        try:
            hit = json.loads(cfile.read_text())
            if isinstance(hit, dict) and {"netlist", "timing"} <= set(hit):
                return hit["netlist"], hit["timing"], True
        except (OSError, ValueError):
            pass
    rep = timing.timing_of_verilog(vfiles, top, liberty=lib.timing, clock_ns=clock_ns,
                                   wire_load=wire_load, area_flow=False, cache_dir=None,
                                   keep_netlist=True)
    if rep.netlist is None:
        raise PowerError(f"design {top}: the timing flow returned no netlist")
    data = {k: rep.data[k] for k in ("fmax_mhz", "critical_path_ns", "worst_slack_ns", "met",
                                     "timed", "wire_load", "constraints", "area", "tools",
                                     "seconds") if k in rep.data}
    if cfile is not None:
        try:
            atomic_write_text(cfile, json.dumps({"netlist": rep.netlist, "timing": data}))
        except OSError:
            pass
    return rep.netlist, data, False


def power_of_verilog(
    files: Mapping[str, str],
    top: str,
    *,
    workload: PodWorkload | VectorWorkload,
    liberty: str | Path | PowerLibrary | None = None,
    clock_ns: float | None = None,
    wire_load: str | None = None,
    macs_per_cycle: float | None = None,
    cache_dir: str | Path | None = DEFAULT_CACHE,
    keep_dir: str | Path | None = None,
    sample_all: bool = False,
) -> PowerReport:
    """Power of Verilog ``files`` (top module ``top``) running ``workload``.

    Parameters
    ----------
    files, top
        The design: file name -> Verilog text, and its top module.
    workload
        A :class:`PodWorkload` (a GEMM on a pod, checked bit for bit against
        :mod:`golden.systolic`) or a :class:`VectorWorkload` (input vectors for any block,
        checked against an RTL simulation of ``files``).
    liberty
        Liberty file or loaded :class:`PowerLibrary` (``None``: the generic library).
    clock_ns
        Clock period and ABC's delay target; ``None``: map at
        :data:`flow.timing.DEFAULT_CLOCK_NS` and evaluate at the netlist's Fmax from ``sta``.
    wire_load
        Wire-load model for the timing flow (default: the library's).
    macs_per_cycle
        MACs per cycle of a vector workload, for its pJ/MAC.
    cache_dir
        Cache of mapped netlists and cell models (``None``: none).
    keep_dir
        Keep the simulation directories there (``gate/``, ``rtl/``).
    sample_all
        Have the simulator report every net and check every recomputed one (slower; same
        figures); by default it reports the registers, inputs and :func:`sample_plan`'s check
        set, and the other combinational nets are recomputed (:func:`propagate_values`).

    Returns
    -------
    PowerReport
        ``data`` is ``power.json`` (see ``docs/power.md``), ``report`` is ``power.rpt``.

    Raises
    ------
    PowerError
        Missing tools, bad library or clock, a simulation that differs from the golden model
        or the RTL (or another :class:`gen.config.ConfigError` from the timing flow).
    """
    t_start = time.perf_counter()
    lib = liberty if isinstance(liberty, PowerLibrary) else load_power_library(liberty)
    if clock_ns is not None:
        try:
            clock_ns = timing.check_clock(clock_ns)
        except timing.TimingError as e:
            raise PowerError(str(e)) from None
    _tool("iverilog")
    _tool("vvp")
    vfiles = {n: t for n, t in files.items() if n.endswith((".v", ".sv"))}
    what = f"design {top}"
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    netlist_v, tdata, cached = _netlist_and_timing(vfiles, top, lib, clock_ns, wire_load,
                                                   cache_dir)
    seconds["netlist"] = round(time.perf_counter() - t0, 3)
    fmax = tdata.get("fmax_mhz")
    if clock_ns is None:
        if not fmax:
            raise PowerError(f"{what}: the timing flow found no Fmax; give a clock period")
        period, clock_source = float(tdata["critical_path_ns"]), "Fmax of the timing flow"
    else:
        period, clock_source = float(clock_ns), "given clock period"
    t0 = time.perf_counter()
    nl = parse_netlist(netlist_v, top)
    wl_model = (tdata.get("wire_load") or {}).get("model", "default")
    st = analyse_netlist(nl, lib, wire_load=wl_model,
                         port_load_pf=float((tdata.get("constraints") or {}).get(
                             "load_pf", timing.DEFAULT_LOAD_PF)))
    cells_v = cell_models_verilog(lib, cache_dir)
    seconds["prepare"] = round(time.perf_counter() - t0, 3)
    # registers, inputs and a check set from the simulator, the rest recomputed; never the
    # (ideal) clock, constants, or undriven, unread wires (names of bits Yosys optimized away)
    sampled, checked = sample_plan(st, sample_all=sample_all)
    refs = [net_ref(nl.nets[i]) for i in sampled]
    prog = None
    if isinstance(workload, PodWorkload):
        prog = workload.program()
        stim = _pod_stimulus(workload, prog)
        macs = workload.macs
    else:
        stim = _vector_stimulus(workload, nl.ports)
        macs = macs_per_cycle * workload.cycles if macs_per_cycle else None
    tmp_ctx = tempfile.TemporaryDirectory(prefix="sqgen-power-") if keep_dir is None else None
    work = Path(tmp_ctx.name) if tmp_ctx is not None else Path(keep_dir)  # type: ignore[arg-type]
    try:
        t0 = time.perf_counter()
        gate = simulate({"netlist.v": netlist_v, "cells.v": cells_v}, top, nl.ports, stim,
                        work / "gate", sample=refs, what=what)
        seconds["simulation"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        if prog is not None:
            check = _check_pod(workload, prog, gate, what)  # type: ignore[arg-type]
        else:
            rtl_ports = {p.name: (p.direction, p.width) for p in nl.ports.values()}
            rtl = simulate(vfiles, top, rtl_ports, stim, work / "rtl", what=f"{what} (RTL)")
            check = _check_vectors(gate, rtl, what)
        seconds["check"] = round(time.perf_counter() - t0, 3)
    finally:
        if tmp_ctx is not None:
            tmp_ctx.cleanup()
    t0 = time.perf_counter()
    values = np.zeros((len(nl.nets), gate.values.shape[1]), bool)  # type: ignore[union-attr]
    values[sampled] = gate.values
    for n, v in nl.consts.items():
        values[n] = bool(v)
    simulated = values[checked].copy()
    propagate_values(st, values)
    bad = np.argwhere(simulated != values[checked])
    if len(bad):
        k, t = (int(x) for x in bad[0])
        n = checked[k]
        raise PowerError(f"{what}: the gate-level simulation and the liberty function of "
                         f"{st.models[st.driver[n]].name} disagree on net {nl.nets[n]} in "
                         f"cycle {t} ({len(bad)} differences)")
    seconds["propagate"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    act = evaluate_activity(st, values)
    summary = summarize(st, act, period_ns=period, macs=macs)
    vl = vectorless(st, period_ns=period)
    if macs:
        vl["pj_per_mac"] = _r(vl["total_mw"] * period * act.cycles / macs)
    seconds["evaluate"] = round(time.perf_counter() - t0, 3)
    seconds["total"] = round(time.perf_counter() - t_start, 3)
    wl_json: dict[str, Any] = {"name": workload.name, "description": workload.description}
    if isinstance(workload, PodWorkload):
        M, N, K = workload.gemm
        wl_json |= {"gemm": {"M": M, "N": N, "K": K}, "macs": _r(macs or 0),
                    "utilization": _r(macs / (act.cycles * workload.geometry.rows
                                              * workload.geometry.cols), 4) if macs else None}
    else:
        wl_json |= {"cycles": workload.cycles, "seed": workload.seed,
                    "macs": _r(macs) if macs else None}
    data: dict[str, Any] = {
        "top": top,
        "flow_version": POWER_FLOW_VERSION,
        "total_mw": summary["total_mw"],
        "dynamic_mw": summary["dynamic_mw"],
        "internal_mw": summary["internal_mw"],
        "switching_mw": summary["switching_mw"],
        "leakage_mw": summary["leakage_mw"],
        "sequential_mw": summary["sequential_mw"],
        "combinational_mw": summary["combinational_mw"],
        "pj_per_mac": summary["pj_per_mac"],
        "pj_per_cycle": summary["pj_per_cycle"],
        "clock": {"period_ns": _r(period), "mhz": _r(1000.0 / period), "source": clock_source,
                  "fmax_mhz": fmax, "timing_met": bool(period >= float(
                      tdata.get("critical_path_ns", period)) - 1e-9),
                  "mapped_for_ns": clock_ns if clock_ns is not None else timing.DEFAULT_CLOCK_NS,
                  **summary["clock"]},
        "activity": {
            "source": "zero-delay gate-level simulation (Icarus) of the timing flow's mapped "
                      "netlist, cell models from Yosys read_liberty (no -lib), flip-flops "
                      "initialised to 0; values sampled once per cycle",
            "sampled": ("every net from the simulator; every combinational net also "
                        "recomputed from its cell's function and checked" if sample_all else
                        "registers, inputs and a check set from the simulator, every other "
                        "combinational net recomputed from its cell's liberty function (exact "
                        "at zero delay)"),
            "nets_simulated": len(sampled), "nets_checked": len(checked),
            "workload": wl_json,
            "cycles": act.cycles,
            "window": "from the first rising edge after reset to the one that takes the last "
                      "result (pod), or the given cycles (vector workloads)",
            **summary["toggles"],
        },
        "equivalence": check,
        "vectorless": vl,
        "glitches": {
            "counted": False,
            "note": "zero-delay simulation: at most one transition per net per cycle, so "
                    "glitches (hazards from unequal path delays, large in multipliers and "
                    "adder trees) are not in the figures above",
            "estimate_factor": GLITCH_FACTOR,
            "estimate_total_mw": _r(summary["dynamic_mw"] * GLITCH_FACTOR
                                    + summary["leakage_mw"]),
            "estimate_basis": "REFERENCE.md section 8: an SDF-timed simulation of the 8x8 HBFP6 "
                              "pod raised the zero-delay estimate by 43 %; a rough estimate for "
                              "datapaths like it, not a measurement of this design",
        },
        "breakdown": summary["breakdown"],
        "modules": summary["modules"],
        "module_attribution": st.attribution,
        "by_cell_type": summary["by_cell_type"],
        "sram": None,
        "library": {
            "name": lib.name, "path": str(lib.path), "sha256": lib.sha256,
            "generic": lib.generic, "voltage_v": lib.voltage,
            "power_model": ("sqgen generic: power data fitted to IHP SG13G2 typical X1 cells "
                            "(flow/sqgen_generic.lib header; plausible, not silicon)")
            if lib.generic else "the library's own internal_power, capacitance and leakage",
        },
        "method": {
            "internal": "per output transition: the internal_power arc of the related input "
                        "that toggled in that cycle (equal shares if several), rise_power for "
                        "a rising and fall_power for a falling output; pin-level tables per "
                        "input transition; first group whose when holds, else the "
                        "unconditional one; flip-flop clock pins: one rise (state before the "
                        "edge) and one fall per cycle; data-pin conditions on the clock "
                        "averaged over both phases",
            "switching": "1/2 C V^2 per net transition; C = sink pin capacitance + wire-load "
                         "capacitance by fanout + output load on top-level outputs; the clock "
                         "net: its pins only",
            "leakage": "cell_leakage_power of every cell",
            "slew": f"propagated with the transition tables (mean of rise and fall, mean over "
                    f"arcs); inputs: driving cell {lib.timing.driver} at {INPUT_SLEW_NS:g} ns; "
                    f"clock: {CLOCK_SLEW_NS:g} ns (ideal)",
            "load": f"wire-load model {st.wire_load or 'none'}, output load "
                    f"{st.port_load_pf * 1000:g} fF",
            "tables": "power tables clamped to their index range, transition tables "
                      "extrapolated linearly",
        },
        "timing": {k: tdata.get(k) for k in ("fmax_mhz", "critical_path_ns", "worst_slack_ns",
                                              "timed")},
        "netlist": {"cells": len(nl.cells), "nets": len(nl.nets),
                    "flip_flops": int(st.sequential.sum()),
                    "area": (tdata.get("area") or {}).get("mapped", {}).get("area"),
                    "area_unit": (tdata.get("area") or {}).get("mapped", {}).get("unit")},
        "tools": {"simulator": gate.tool, **(tdata.get("tools") or {})},
        "run": {"seconds": {**seconds, "simulation_steps": gate.seconds},
                "netlist_cached": cached},
        "files": {"report": "power.rpt"},
    }
    rep = PowerReport(data)
    rep.report = format_report(rep)
    return rep


def power_of_design(design: Any, **kw: Any) -> PowerReport:
    """:func:`power_of_verilog` for a :class:`gen.emit.Design` (its Verilog files and top)."""
    return power_of_verilog(dict(design.files), design.top, **kw)


# ---- output --------------------------------------------------------------------------------------
def format_summary(rep: PowerReport) -> str:
    """A few lines: the total and its split, pJ/MAC, the vectorless figure, the clock."""
    d = rep.data
    c, a, v, g = d["clock"], d["activity"], d["vectorless"], d["glitches"]
    ppm = f", {d['pj_per_mac']:.3g} pJ/MAC" if d.get("pj_per_mac") else ""
    vppm = f", {v['pj_per_mac']:.3g} pJ/MAC" if v.get("pj_per_mac") else ""
    sec = d["run"]["seconds"]
    return "\n".join([
        f"power of {d.get('design', d['top'])}, library {d['library']['name']} "
        f"({d['library']['voltage_v']:g} V), clock {c['mhz']:.1f} MHz ({c['source']})",
        f"workload: {a['workload']['description']}; {a['cycles']} cycles, "
        f"{a['mean_per_net_per_cycle']:.3f} toggles per net per cycle; "
        f"{'matches' if d['equivalence']['ok'] else 'DIFFERS FROM'} "
        f"{d['equivalence']['against'].split(' (')[0]}",
        f"total {d['total_mw']:.4g} mW{ppm} (zero-delay): internal {d['internal_mw']:.4g}, "
        f"switching {d['switching_mw']:.4g}, leakage {d['leakage_mw']:.3g} mW; "
        f"sequential {d['sequential_mw']:.4g}, combinational {d['combinational_mw']:.4g} mW",
        f"clock pins: flip-flop internal {c['flop_clock_pin_internal_mw']:.4g} mW, net "
        f"{c['clock_net_switching_mw']:.4g} mW (no clock tree)",
        f"vectorless ({VECTORLESS_ACTIVITY:g} toggles/cycle at inputs and flip-flops): "
        f"{v['total_mw']:.4g} mW{vppm}; with glitches (estimate x{g['estimate_factor']:g} "
        f"dynamic): {g['estimate_total_mw']:.4g} mW",
        f"{sec['total']:.1f} s (netlist {sec['netlist']:.1f} s"
        f"{', cached' if d['run']['netlist_cached'] else ''}, simulation "
        f"{sec['simulation']:.1f} s, evaluation {sec['evaluate']:.1f} s)",
    ])


def format_report(rep: PowerReport) -> str:
    """``power.rpt``: the summary, per module, per cell type, the method."""
    d = rep.data
    lines = ["sqgen power report (flow/power.py, python -m flow power)", "",
             format_summary(rep), "",
             f"{'module':<16}{'cells':>8}{'internal':>11}{'switching':>11}{'leakage':>11}"
             f"{'total mW':>11}{'share':>8}"]
    for name, m in sorted(d["modules"].items(), key=lambda kv: -kv[1]["total_mw"]):
        lines.append(f"{name:<16}{m['cells']:>8}{m['internal_mw']:>11.4g}"
                     f"{m['switching_mw']:>11.4g}{m['leakage_mw']:>11.3g}{m['total_mw']:>11.4g}"
                     f"{m['share']:>8.1%}")
    lines += ["", f"module attribution: {d['module_attribution']}", "",
              f"{'kind':<16}{'cells':>8}{'internal':>11}{'switching':>11}{'leakage':>11}"
              f"{'total mW':>11}"]
    for name, k in d["breakdown"].items():
        lines.append(f"{name:<16}{k.get('cells', 0):>8}{k['internal_mw']:>11.4g}"
                     f"{k['switching_mw']:>11.4g}{k['leakage_mw']:>11.3g}{k['total_mw']:>11.4g}")
    lines += ["", f"{'cell type':<22}{'cells':>8}{'internal':>11}{'switching':>11}"
              f"{'leakage':>11}{'total mW':>11}"]
    for name, k in sorted(d["by_cell_type"].items(), key=lambda kv: -kv[1]["total_mw"]):
        lines.append(f"{name:<22}{k['cells']:>8}{k['internal_mw']:>11.4g}"
                     f"{k['switching_mw']:>11.4g}{k['leakage_mw']:>11.3g}{k['total_mw']:>11.4g}")
    lines += ["", "method:"] + [f"  {k}: {v}" for k, v in d["method"].items()]
    lines += [f"  glitches: {d['glitches']['note']}; estimate: {d['glitches']['estimate_basis']}",
              f"  vectorless: {d['vectorless']['assumptions']}",
              f"  equivalence: {d['equivalence']['against']}", ""]
    return "\n".join(lines)


def write_report(rep: PowerReport, out_dir: str | Path) -> Path:
    """Write ``power.json`` and ``power.rpt`` into ``out_dir``, each atomically; returns the
    ``power.json`` path."""
    out = Path(out_dir)
    atomic_write_text(out / "power.rpt", rep.report)
    p = out / "power.json"
    atomic_write_text(p, json.dumps(rep.data, indent=2) + "\n")
    return p


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--cells-worker":
        sys.exit(_cells_worker(sys.argv[2]))
    print("usage: python -m flow power ... (this module is the flow's library)", file=sys.stderr)
    sys.exit(2)
