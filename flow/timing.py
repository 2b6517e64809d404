"""Timing flow: timing-driven Yosys/ABC mapping and OpenSTA analysis of one design point.

Two methods (:func:`timing_of_verilog`). **Hierarchical** (the default for designs with
*blocks*, leaf modules repeated at least :data:`MIN_BLOCK_INSTANCES` times, such as the pod's
PE): each block is mapped and timed once and abstracted as an extracted timing model (a
liberty cell: pin capacitances, setup constraints of its inputs, clock-to-output arcs of its
registered outputs; :func:`etm_script`, :func:`etm_liberty`), the rest is flattened and mapped
with the blocks as black boxes, nets into many block pins (the pod's stall enable) get buffer
trees as ABC's buffering would build them, and ``sta`` times the top with the models; the
blocks' own register-to-register paths come from their runs. **Flat** (``flat=True``, CLI
``--flat``): the whole design is flattened (``synth -flatten``), so ABC buffers nets across
module boundaries itself and sees the cross-boundary constant and width reductions, at the
price of minutes at 32x32. The flat mapping runs in a ``pyosys`` worker process
(:func:`worker_script` lists its commands)::

    read_verilog design.v; hierarchy -check -top T; synth -top T -flatten -noabc
    dfflibmap -liberty L
    abc -liberty L -D <clock in ps> -constr abc.constr -script ABC_SCRIPT
    opt_clean -purge; setundef -zero; hilomap -singleton (tie cells); splitnets -ports
    insbuf (smallest buffer); stat -liberty L; write_verilog -noattr -noexpr -nohex -nodec

and the netlist is timed by the Debian 2019 OpenSTA (``sta``) from a generated Tcl script
(:func:`sta_script`): ideal clock on ``clk``, inputs and outputs at 0 delay relative to it
(registered neighbours), inputs driven by a buffer of the library, a fixed load on outputs, the
library's default wire-load model set explicitly (``sta`` applies it silently otherwise). The
``sta`` log is scanned for lines starting ``Error`` and any is a refusal. Fmax is
``1 / (period - worst slack)``.

Without ``--liberty`` (and with or without the IHP PDK) the flow maps to the project's own
``flow/sqgen_generic.lib``, whose delay tables are a bilinear fit to the IHP SG13G2 typical X1
cells (plausible ns, not silicon; see the library's header and ``docs/timing.md``).

Errors are one line (:class:`TimingError`, a :class:`gen.config.ConfigError`; CLI exit 2): a
missing or malformed liberty file, a liberty without timing data, buffer or tie cells, a
missing ``sta``, a Yosys or ``sta`` error.
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from flow import area
from gen.config import ConfigError
from gen.emit import atomic_write_text

__all__ = [
    "ABC_SCRIPT",
    "DEFAULT_CLOCK_NS",
    "DEFAULT_LOAD_PF",
    "FLOW_VERSION",
    "GENERIC_FIT_CELLS",
    "path_point",
    "HIER_VERSION",
    "MIN_BLOCK_INSTANCES",
    "NotAbstractable",
    "TimingError",
    "TimingLibrary",
    "TimingReport",
    "etm_liberty",
    "etm_script",
    "fit_generic_timing",
    "format_summary",
    "hierarchical_blocks",
    "load_timing_library",
    "sta_binary",
    "sta_script",
    "sta_version",
    "timing_of_design",
    "timing_of_verilog",
    "write_report",
]

ROOT = area.ROOT
DEFAULT_CACHE = ROOT / "build" / "timing" / "cache"
#: ABC script of the timing mapping. No ``dc2`` and no ``&dch`` (unlike the area flow's
#: script): on the 8x8 HBFP6 pod they cost 2.2x the ABC time and *lengthen* the critical path
#: by 20-25 % (dc2 rewrites for AIG size and undoes the fast adder structures), for 2-3 % less
#: area. ``{D}`` is the delay target (the clock period); ``buffer -p`` buffers high-fanout nets
#: (primary inputs, i.e. flop outputs, too), ``upsize``/``dnsize`` size gates for that target.
ABC_SCRIPT = "+strash;&get,-n;&nf,{D};&put;buffer,-p;upsize,{D};dnsize,{D};stime,-p"
#: Clock period used when none is asked for, for every library (IHP SG13G2 and the generic
#: library both work in ns; pods of this project run at 150-250 MHz there).
DEFAULT_CLOCK_NS = 10.0
#: Output load (and ABC's load on every combinational output) in pF: 5 fF, about two inputs.
DEFAULT_LOAD_PF = 0.005
#: Bump when the worker's command sequence or the analysis changes.
FLOW_VERSION = "2"
#: Seconds the Yosys worker / one ``sta`` run may take (a flat 32x32 pod needs about 6 min;
#: the hierarchical method, about 15 s).
WORKER_TIMEOUT = 3600
STA_TIMEOUT = 3600
#: Largest clock period accepted, in ns (anything above is a typo).
MAX_CLOCK_NS = 1.0e6
INSTALL_HINT = "install it with: apt-get install -y opensta (make timing does this as root)"


class TimingError(ConfigError):
    """The timing flow could not run on the given input (one readable line; CLI exit 2)."""


class NotAbstractable(TimingError):
    """A block cannot be abstracted as a timing model (no clock or registers, or a path from
    an input straight to an output); the default method then times the design flat."""


# ---- liberty ----------------------------------------------------------------------------------
@dataclass
class _Group:
    kind: str
    name: str
    start: int
    end: int = -1
    children: list[_Group] = field(default_factory=list)


_GROUP_RE = re.compile(r"([A-Za-z_]\w*)\s*\(\s*([^()]*?)\s*\)\s*\{|\}")
_ATTR_RE = re.compile(r"\b([A-Za-z_]\w*)\s*:\s*(?:\"([^\"]*)\"|([^;\"]*?))\s*;")
_COMMENT_RE = re.compile(r"/\*.*?\*/", re.S)
#: Library attributes copied into an extracted timing model (sta reads the ETM on its own).
_ETM_HEADER_ATTRS = (
    "delay_model", "time_unit", "voltage_unit", "current_unit", "pulling_resistance_unit",
    "leakage_power_unit", "nom_process", "nom_temperature", "nom_voltage",
    "input_threshold_pct_rise", "input_threshold_pct_fall", "output_threshold_pct_rise",
    "output_threshold_pct_fall", "slew_lower_threshold_pct_rise",
    "slew_lower_threshold_pct_fall", "slew_upper_threshold_pct_rise",
    "slew_upper_threshold_pct_fall", "slew_derate_from_library",
)
_TIME_UNITS = {"ps": 1e-3, "ns": 1.0, "us": 1e3}
_CAP_UNITS = {"ff": 1e-3, "pf": 1.0, "nf": 1e3}


def _parse_groups(text: str) -> _Group:
    root = _Group("", "", 0)
    stack = [root]
    for m in _GROUP_RE.finditer(text):
        if m.group(0) == "}":
            if len(stack) == 1:
                raise ValueError("unbalanced '}'")
            g = stack.pop()
            g.end = m.start()
        else:
            g = _Group(m.group(1), m.group(2).strip().strip('"'), m.end())
            stack[-1].children.append(g)
            stack.append(g)
    if len(stack) != 1:
        raise ValueError("unbalanced '{'")
    return root


def _own_attrs(text: str, g: _Group) -> dict[str, str]:
    """Simple attributes of ``g`` itself (not of its sub-groups)."""
    parts, pos = [], g.start
    for c in g.children:
        parts.append(text[pos:c.start])
        pos = c.end + 1
    parts.append(text[pos:g.end])
    own = "".join(parts)
    return {m.group(1): (m.group(2) if m.group(2) is not None else m.group(3)).strip()
            for m in _ATTR_RE.finditer(own)}


#: A delay or transition table: (input slews, loads, values[slew][load]).
_Tab = tuple[tuple[float, ...], tuple[float, ...], tuple[tuple[float, ...], ...]]


@dataclass(frozen=True)
class LibCell:
    """What the flow needs to know of one liberty cell."""

    name: str
    area: float
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    functions: tuple[str, ...]
    sequential: bool
    timed: bool
    dont_use: bool
    #: Capacitance of each input pin (library units; ``nan`` when the library gives none).
    input_caps: tuple[float, ...] = ()
    #: Buffers only: the (worse of rise/fall) delay table of their arc, as
    #: ``(slews, loads, values[slew][load])`` in library units (for sizing buffer trees).
    delay_table: _Tab | None = None
    #: Buffers only: the worse of their rise/fall output-transition tables, the same way.
    slew_table: _Tab | None = None

    @property
    def is_buffer(self) -> bool:
        if self.sequential or self.dont_use or not self.timed:
            return False
        if len(self.inputs) != 1 or len(self.outputs) != 1:
            return False
        return self.functions[0].replace(" ", "").strip("()") == self.inputs[0]

    def tie_value(self) -> str | None:
        if self.inputs or len(self.outputs) != 1 or self.sequential or self.dont_use:
            return None
        f = self.functions[0].replace(" ", "")
        return {"1": "1", "0": "0", "1'b1": "1", "1'b0": "0"}.get(f)


@dataclass(frozen=True)
class TimingLibrary:
    """A liberty library checked for the timing flow (on top of :func:`flow.area.load_library`).

    Times in the library's ``time_unit`` are ``time_unit_ns`` ns; capacitances in its
    ``capacitive_load_unit`` are ``cap_unit_pf`` pF. ``sta`` takes and prints values in these
    units (the units of the first library read).
    """

    base: area.Library
    time_unit_ns: float
    cap_unit_pf: float
    cells: dict[str, LibCell]
    buffer: str
    driver: str
    tie_hi: str
    tie_lo: str
    wire_loads: tuple[str, ...]
    default_wire_load: str | None
    wire_load_mode: str | None
    #: Library-level attributes an extracted timing model must repeat (units, thresholds).
    header: tuple[tuple[str, str], ...] = ()
    #: Wire-load model -> (capacitance per unit length, slope, ((fanout, length), ...)).
    wire_load_params: dict[str, tuple[float, float, tuple[tuple[float, float], ...]]] = field(
        default_factory=dict)
    #: Median input capacitance of the combinational cells: "one load" for fanout limits.
    cap_ref: float = 0.0

    @property
    def path(self) -> Path:
        return self.base.path

    @property
    def name(self) -> str:
        return self.base.name

    @property
    def generic(self) -> bool:
        return self.base.generic

    def pins(self, cell: str) -> tuple[str, str]:
        c = self.cells[cell]
        return c.inputs[0] if c.inputs else "", c.outputs[0]


def load_timing_library(path: str | Path | None = None) -> TimingLibrary:
    """Check a liberty file for the timing flow (``None``: the generic library).

    Refuses (:class:`TimingError`, one line) what :func:`flow.area.load_library` refuses, and a
    library without timing tables, without a buffer cell (for ``insbuf`` and the driving cell),
    without tie-high/tie-low cells (for ``hilomap``), or with an unknown time or load unit.
    """
    try:
        base = area.load_library(path)
    except area.AreaError as e:
        raise TimingError(str(e)) from None
    what = f"liberty file {str(base.path)!r}"
    text = _COMMENT_RE.sub(" ", base.path.read_bytes().decode("utf-8", errors="replace"))
    try:
        root = _parse_groups(text)
    except ValueError as e:
        raise TimingError(f"{what} is malformed: {e}") from None
    libs = [g for g in root.children if g.kind == "library"]
    if not libs:
        raise TimingError(f"{what} is malformed: no library group")
    lib = libs[0]
    attrs = _own_attrs(text, lib)
    tu = attrs.get("time_unit", "1ns")
    mt = re.fullmatch(r"([0-9.]+)\s*(ps|ns|us)", tu.replace('"', "").strip(), re.I)
    if mt is None:
        raise TimingError(f"{what}: time_unit {tu!r} is not understood (e.g. \"1ns\")")
    time_unit_ns = float(mt.group(1)) * _TIME_UNITS[mt.group(2).lower()]
    own = text[lib.start:lib.end]
    mc = re.search(r"capacitive_load_unit\s*\(\s*([0-9.]+)\s*,\s*(\w+)\s*\)", own)
    if mc is None:
        cap_unit_pf = 1.0
    elif mc.group(2).lower() in _CAP_UNITS:
        cap_unit_pf = float(mc.group(1)) * _CAP_UNITS[mc.group(2).lower()]
    else:
        raise TimingError(f"{what}: capacitive_load_unit {mc.group(2)!r} is not understood")
    templates = {g.name: _own_attrs(text, g) for g in lib.children
                 if g.kind == "lu_table_template"}
    cells: dict[str, LibCell] = {}
    for g in lib.children:
        if g.kind != "cell":
            continue
        ca = _own_attrs(text, g)
        try:
            a = float(ca.get("area", "nan"))
        except ValueError:
            a = float("nan")
        ins, outs, funcs, timed, caps, arcs = [], [], [], False, [], []
        for p in g.children:
            if p.kind != "pin":
                continue
            pa = _own_attrs(text, p)
            d = pa.get("direction", "").strip('"')
            if d == "input":
                ins.append(p.name)
                try:
                    caps.append(float(pa.get("capacitance", "nan")))
                except ValueError:
                    caps.append(float("nan"))
            elif d == "output":
                outs.append(p.name)
                funcs.append(pa.get("function", ""))
                timed = timed or any(t.kind == "timing" for t in p.children)
                arcs += [t for t in p.children if t.kind == "timing"]
        seq = any(c.kind in ("ff", "latch", "statetable", "ff_bank") for c in g.children)
        cell = LibCell(
            name=g.name, area=a, inputs=tuple(ins), outputs=tuple(outs), functions=tuple(funcs),
            sequential=seq, timed=timed, dont_use=ca.get("dont_use", "") == "true",
            input_caps=tuple(caps),
        )
        if cell.is_buffer and arcs:
            cell = replace(cell, delay_table=_delay_table(text, arcs[0], templates),
                           slew_table=_delay_table(text, arcs[0], templates,
                                                   ("rise_transition", "fall_transition")))
        cells[g.name] = cell
    if not any(c.timed for c in cells.values()):
        raise TimingError(f"{what} has no timing data (no timing() groups on output pins)")
    bufs = sorted((c for c in cells.values() if c.is_buffer and math.isfinite(c.area)),
                  key=lambda c: (c.area, c.name))
    if not bufs:
        raise TimingError(f"{what} has no buffer cell (one input, function = that input)")
    ties: dict[str, list[LibCell]] = {"1": [], "0": []}
    for c in cells.values():
        v = c.tie_value()
        if v is not None and math.isfinite(c.area):
            ties[v].append(c)
    for v, label in (("1", "tie-high"), ("0", "tie-low")):
        if not ties[v]:
            raise TimingError(f"{what} has no {label} cell (no inputs, function \"{v}\")")
    hi = min(ties["1"], key=lambda c: (c.area, c.name))
    lo = min(ties["0"], key=lambda c: (c.area, c.name))
    wls = tuple(g.name for g in lib.children if g.kind == "wire_load")
    dwl = attrs.get("default_wire_load") or None
    if dwl is not None and dwl not in wls:
        raise TimingError(f"{what} is malformed: default_wire_load {dwl!r} is not defined")
    wl_params = {}
    for g in lib.children:
        if g.kind == "wire_load":
            wa = _own_attrs(text, g)
            pts = sorted((float(f), float(n)) for f, n in re.findall(
                r"fanout_length\s*\(\s*([0-9.eE+-]+)\s*,\s*([0-9.eE+-]+)\s*\)",
                text[g.start:g.end]))
            wl_params[g.name] = (float(wa.get("capacitance", 0) or 0),
                                 float(wa.get("slope", 0) or 0), tuple(pts))
    comb_caps = sorted(c for cell in cells.values() if cell.timed and not cell.sequential
                       for c in cell.input_caps if math.isfinite(c) and c > 0)
    return TimingLibrary(
        base=base, time_unit_ns=time_unit_ns, cap_unit_pf=cap_unit_pf, cells=cells,
        buffer=bufs[0].name, driver=(bufs[1] if len(bufs) > 1 else bufs[0]).name,
        tie_hi=hi.name, tie_lo=lo.name, wire_loads=wls, default_wire_load=dwl,
        wire_load_mode=attrs.get("default_wire_load_mode") or None,
        header=tuple((k, v) for k, v in attrs.items() if k in _ETM_HEADER_ATTRS),
        wire_load_params=wl_params,
        cap_ref=comb_caps[len(comb_caps) // 2] if comb_caps else 0.0,
    )


def _delay_table(text: str, arc: _Group, templates: dict[str, dict[str, str]],
                 kinds: tuple[str, str] = ("cell_rise", "cell_fall"),
                 ) -> _Tab | None:
    """The worse of an arc's two ``kinds`` tables (delay: cell_rise/cell_fall) as
    (slews, loads, values[slew][load])."""
    tabs = [t for t in arc.children if t.kind in kinds]
    if len(tabs) != 2:
        return None
    try:
        got = [_table(text, t) for t in tabs]
    except (TimingError, ValueError):
        return None
    (i1, i2, v1), (j1, j2, v2) = got
    if i1.shape != j1.shape or i2.shape != j2.shape or v1.shape != v2.shape:
        return None
    v = np.maximum(v1, v2)
    var1 = templates.get(tabs[0].name, {}).get("variable_1", "input_net_transition")
    if var1 == "total_output_net_capacitance":  # (load, slew) tables: transpose
        i1, i2, v = i2, i1, v.T
    return (tuple(i1.tolist()), tuple(i2.tolist()), tuple(tuple(r) for r in v.tolist()))


# ---- the generic library's timing model --------------------------------------------------------
#: Generic cell -> the IHP SG13G2 X1 cell its delays are fitted to (OAI22 has no counterpart:
#: AOI22's fit with its load terms scaled by OAI21/AOI21; DFFR and DFFS use DFF's fit).
GENERIC_FIT_CELLS = {
    "INV": "sg13g2_inv_1", "BUF": "sg13g2_buf_1", "NAND2": "sg13g2_nand2_1",
    "NOR2": "sg13g2_nor2_1", "AND2": "sg13g2_and2_1", "OR2": "sg13g2_or2_1",
    "NAND3": "sg13g2_nand3_1", "NOR3": "sg13g2_nor3_1", "XOR2": "sg13g2_xor2_1",
    "XNOR2": "sg13g2_xnor2_1", "MUX2": "sg13g2_mux2_1", "AOI21": "sg13g2_a21oi_1",
    "OAI21": "sg13g2_o21ai_1", "AOI22": "sg13g2_a22oi_1", "DFF": "sg13g2_dfrbpq_1",
}
#: Fit region (input slew <= 0.64 ns, load <= 108 fF) and the generic 2x2 table indices.
FIT_SLEW_MAX, FIT_LOAD_MAX = 0.6408, 0.108
GENERIC_INDEX = ((0.02, 0.64), (0.001, 0.108))


def _table(text: str, g: _Group) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    body = text[g.start:g.end]
    i1 = re.search(r'index_1\s*\(\s*"([^"]*)"', body)
    i2 = re.search(r'index_2\s*\(\s*"([^"]*)"', body)
    vals = re.search(r"values\s*\((.*?)\)\s*;", body, re.S)
    if i1 is None or i2 is None or vals is None:
        raise TimingError(f"table {g.kind} has no index_1/index_2/values")
    rows = [[float(x) for x in r.split(",")] for r in re.findall(r'"([^"]*)"', vals.group(1))]
    return (np.array([float(x) for x in i1.group(1).split(",")]),
            np.array([float(x) for x in i2.group(1).split(",")]), np.array(rows))


def _bilinear_fit(i1: np.ndarray, i2: np.ndarray, v: np.ndarray) -> np.ndarray:
    s, c = np.meshgrid(i1, i2, indexing="ij")
    m = (s <= FIT_SLEW_MAX + 1e-9) & (c <= FIT_LOAD_MAX + 1e-9)
    a = np.stack([np.ones(int(m.sum())), s[m], c[m], s[m] * c[m]], 1)
    return np.linalg.lstsq(a, v[m], rcond=None)[0]


def fit_generic_timing(ihp_liberty: str | Path) -> dict[str, dict[str, Any]]:
    """The generic library's timing model, recomputed from the IHP SG13G2 typical library.

    Per generic cell: ``cap`` (mean input capacitance, pF), ``delay`` and ``transition``
    ([d0, ks, R, kx] of ``d0 + ks*slew + R*C + kx*slew*C``: least squares over every
    combinational or clock-to-Q table of the IHP cell inside the fit region, rise and fall
    fits averaged) and ``tables`` (the 2x2 values at :data:`GENERIC_INDEX`, 4 decimals, >= 0,
    as written in ``flow/sqgen_generic.lib``). ``tests/test_timing.py`` checks the library.
    """
    text = _COMMENT_RE.sub(" ", Path(ihp_liberty).read_text(errors="replace"))
    lib = next(g for g in _parse_groups(text).children if g.kind == "library")
    cells = {g.name: g for g in lib.children if g.kind == "cell"}
    out: dict[str, dict[str, Any]] = {}
    for gname, iname in GENERIC_FIT_CELLS.items():
        g = cells[iname]
        caps, fits = [], {"delay": [], "transition": []}
        for p in (p for p in g.children if p.kind == "pin"):
            pa = _own_attrs(text, p)
            if pa.get("direction", "").strip('"') == "input":
                caps.append(float(pa.get("capacitance", "nan")))
            for t in (t for t in p.children if t.kind == "timing"):
                if _own_attrs(text, t).get("timing_type", "combinational") not in (
                        "combinational", "rising_edge"):
                    continue
                for tab in t.children:
                    key = {"cell_rise": "delay", "cell_fall": "delay",
                           "rise_transition": "transition",
                           "fall_transition": "transition"}.get(tab.kind)
                    if key is not None:
                        fits[key].append(_bilinear_fit(*_table(text, tab)))
        out[gname] = {"cap": float(np.mean(caps)),
                      **{k: np.mean(v, 0).tolist() for k, v in fits.items()}}
    a22, o21, a21 = out["AOI22"], out["OAI21"], out["AOI21"]
    oai22: dict[str, Any] = {"cap": a22["cap"]}
    for k in ("delay", "transition"):
        f = o21[k][2] / a21[k][2]
        oai22[k] = [a22[k][0], a22[k][1], a22[k][2] * f, a22[k][3] * f]
    out["OAI22"] = oai22
    out["DFFR"] = out["DFFS"] = out["DFF"]
    for r in out.values():
        r["tables"] = {k: [[round(max(d0 + ks * sl + rr * c + kx * sl * c, 0.0), 4)
                            for c in GENERIC_INDEX[1]] for sl in GENERIC_INDEX[0]]
                       for k, (d0, ks, rr, kx) in ((k, r[k]) for k in ("delay", "transition"))}
    return out


# ---- tools ------------------------------------------------------------------------------------
def sta_binary() -> str:
    """Path of OpenSTA's ``sta`` on ``PATH``; :class:`TimingError` when it is missing."""
    p = shutil.which("sta")
    if p is None:
        raise TimingError(f"OpenSTA ('sta') is not installed or not on PATH; {INSTALL_HINT}")
    return p


def sta_version() -> str:
    """``sta -version`` (e.g. ``2.0.17`` for Debian's 2019 snapshot)."""
    try:
        res = subprocess.run([sta_binary(), "-version"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, timeout=60,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise TimingError(f"cannot run sta -version: {e}") from None
    return res.stdout.strip().splitlines()[0] if res.stdout.strip() else "unknown"


def check_clock(clock_ns: Any, what: str = "clock period") -> float:
    """A clock period in ns as a float in (0, MAX_CLOCK_NS]; :class:`TimingError` otherwise."""
    try:
        v = float(clock_ns)
    except (TypeError, ValueError):
        v = float("nan")
    if not (0.0 < v <= MAX_CLOCK_NS):  # also refuses NaN and inf
        raise TimingError(f"{what} must be a positive number of nanoseconds up to "
                          f"{MAX_CLOCK_NS:g} (e.g. 10), not {clock_ns!r}")
    return v


# ---- worker ------------------------------------------------------------------------------------
def clock_flag(value: Any, typed: str, example: str = "10") -> float | None:
    """A ``--clock-ns`` / ``CLOCK_NS`` value as typed (``None``: not given), checked like
    :func:`check_clock`; the refusal names ``typed`` (the flag or make variable)."""
    if value is None:
        return None
    try:
        return check_clock(str(value).strip())
    except TimingError:
        raise TimingError(f"{typed}={value!r}: must be a positive number of nanoseconds up to "
                          f"{MAX_CLOCK_NS:g} (e.g. {example})") from None


def worker_script(job: dict[str, Any]) -> list[str]:
    """The Yosys commands of one timing mapping (``job`` as written by :func:`_run_worker`)."""
    top, lib = job["top"], job["liberty"]
    buf, buf_in, buf_out = job["buffer"]
    hi, hi_pin, lo, lo_pin = job["ties"]
    if job.get("mode", "flat") != "flat":
        return _hier_worker_script(job)
    return [
        "read_verilog design.v",
        f"hierarchy -check -top {top}",
        f"synth -top {top} -flatten -noabc",
        f"dfflibmap -liberty {lib}",
        f"abc -liberty {lib} -D {job['delay_ps']:.0f} -constr abc.constr -script {job['script']}",
        # Aliases of a net (flattened port names) would each get an insbuf buffer: drop them.
        "opt_clean -purge",
        # What the 2019 sta can read: no undriven bits, constants from tie cells, no
        # multi-bit ports, no "assign" (insbuf turns port-to-port connections into buffers).
        "setundef -zero",
        f"hilomap -singleton -hicell {hi} {hi_pin} -locell {lo} {lo_pin}",
        "splitnets -ports",
        # A second purge: the first leaves aliases of merged registers and of flattened port
        # wires (483 bits at 8x8), which insbuf would turn into dangling buffers loading the
        # register (9 on the 8x8 pod's critical start point, 33 at 32x32).
        "opt_clean -purge",
        f"insbuf -buf {buf} {buf_in} {buf_out}",
        f"tee -q -o stat.json stat -json -liberty {lib}",
        "write_verilog -noattr -noexpr -nohex -nodec netlist.v",
    ]


def _hier_worker_script(job: dict[str, Any]) -> list[str]:
    """Yosys commands of one hierarchical-method mapping: a block (``mode`` ``block``, one leaf
    module on its own) or the top (``mode`` ``top``: everything flattened except the blocks,
    which stay black-box instances). Same mapping as the flat flow; the netlist is written as
    JSON (bit-level connectivity) for :func:`_netlist_from_json`."""
    top, lib = job["top"], job["liberty"]
    buf, buf_in, buf_out = job["buffer"]
    hi, hi_pin, lo, lo_pin = job["ties"]
    cmds = ["read_verilog design.v", f"hierarchy -check -top {top}"]
    if job.get("blackboxes"):
        cmds.append("blackbox " + " ".join(job["blackboxes"]))
    return cmds + [
        f"synth -top {top} -flatten -noabc",
        f"dfflibmap -liberty {lib}",
        f"abc -liberty {lib} -D {job['delay_ps']:.0f} -constr abc.constr -script {job['script']}",
        "opt_clean -purge",
        "setundef -zero",
        f"hilomap -singleton -hicell {hi} {hi_pin} -locell {lo} {lo_pin}",
        # the flat flow's second purge (see worker_script), after splitting every net: a
        # multi-bit wire with one bit in use keeps its aliased bits (1248 dangling insbuf
        # buffers at 32x32 without the split)
        "splitnets",
        "opt_clean -purge",
        f"insbuf -buf {buf} {buf_in} {buf_out}",
        f"tee -q -o stat.json stat -json -liberty {lib}",
        "write_json netlist.json",
    ]


def _worker_main(jobdir: str) -> int:
    """Entry point of a worker process: run the Yosys commands of ``jobdir/job.json``."""
    from pyosys import libyosys as ys

    os.chdir(jobdir)
    job = json.loads(Path("job.json").read_text())
    d = ys.Design()
    steps = []
    for c in worker_script(job):
        t0 = time.perf_counter()
        ys.run_pass(c, d)
        steps.append([c.split()[0], round(time.perf_counter() - t0, 3)])
    Path("done.json").write_text(json.dumps({"steps": steps}))
    return 0


def _run_worker(job: dict[str, Any], design_v: str, tmp: Path, what: str) -> dict[str, Any]:
    (tmp / "design.v").write_text(design_v)
    (tmp / "job.json").write_text(json.dumps(job))
    (tmp / "abc.constr").write_text(
        f"set_driving_cell {job['driver']}\nset_load {job['load_ff']:g}\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    try:
        res = subprocess.run(
            [sys.executable, "-m", "flow.timing", "--worker", str(tmp)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
            timeout=WORKER_TIMEOUT, cwd=tmp,
        )
    except subprocess.TimeoutExpired:
        raise TimingError(f"{what}: yosys did not finish in {WORKER_TIMEOUT} s") from None
    if res.returncode != 0 or not (tmp / "done.json").exists():
        raise TimingError(f"{what}: yosys failed: {area.yosys_error(res.stdout)}")
    return json.loads((tmp / "done.json").read_text())


# ---- sta ---------------------------------------------------------------------------------------
def sta_script(top: str, lib: TimingLibrary, *, clock_ns: float, load_pf: float,
               wire_load: str | None, clock_port: str | None, netlist: str = "netlist.v",
               paths_from: tuple[tuple[str, bool], ...] = (),
               models: tuple[str, ...] = ()) -> str:
    """The OpenSTA Tcl script (values in the library's units, as ``sta`` expects them).

    ``paths_from`` adds, per ``(input port, is_bus)``, the worst path starting at that port.
    ``models`` are further liberty files read after the library (the hierarchical method's
    extracted timing models of its blocks).
    """
    period = clock_ns / lib.time_unit_ns
    load = load_pf / lib.cap_unit_pf
    drv_in, drv_out = lib.pins(lib.driver)
    lines = [
        "# generated by flow/timing.py (sqgen timing flow)",
        f"read_liberty {{{lib.path}}}",
        *[f"read_liberty {{{m}}}" for m in models],
        f"read_verilog {netlist}",
        f"link_design {top}",
    ]
    if wire_load is not None:
        lines.append(f"set_wire_load_model -name {{{wire_load}}}")
    if clock_port is not None:
        lines += [
            f"create_clock -name clk -period {period:.6g} [get_ports {clock_port}]",
            f"set sqgen_inputs [delete_from_list [all_inputs] [get_ports {clock_port}]]",
        ]
    else:  # no clock port: a virtual clock times input-to-output paths
        lines += [f"create_clock -name clk -period {period:.6g}",
                  "set sqgen_inputs [all_inputs]"]
    lines += [
        "set_input_delay 0 -clock clk $sqgen_inputs",
        "set_output_delay 0 -clock clk [all_outputs]",
        f"set_driving_cell -lib_cell {lib.driver} -pin {drv_out} $sqgen_inputs",
        f"set_load {load:.6g} [all_outputs]",
        'puts "sqgen-worst-slack [worst_slack -max]"',
        'puts "sqgen-tns [total_negative_slack -max]"',
        'puts "sqgen-checks-begin"',
        "report_checks -path_delay max -fields {slew cap input_pins nets fanout} -digits 3",
        'puts "sqgen-checks-end"',
    ]
    for port, bus in paths_from:
        pattern = f"{port}[*]" if bus else port
        lines += [
            f'puts "sqgen-from-begin {port}"',
            f"report_checks -path_delay max -from [get_ports {{{pattern}}}] "
            "-fields {slew cap input_pins nets fanout} -digits 3",
            'puts "sqgen-from-end"',
        ]
    return "\n".join(lines) + "\n"


_POINT_RE = re.compile(
    r"^\s*(?:[-0-9.]+\s+)*?(-?[0-9.]+)\s+(-?[0-9.]+)\s+([\^v])\s+(\S+)\s+\(([^()\s]+)\)\s*$")
_NET_RE = re.compile(r"^\s*(?:\d+\s+)?(?:[-0-9.]+\s+)?(\S+)\s+\(net\)\s*$")


def _parse_checks(report: str) -> dict[str, Any]:
    """Startpoint, endpoint, path points and slack of one ``report_checks`` path."""
    sp = re.search(r"^Startpoint:\s+(\S+)\s*(?:\((.*)\))?\s*$", report, re.M)
    ep = re.search(r"^Endpoint:\s+(\S+)\s*(?:\((.*)\))?\s*$", report, re.M)
    if sp is None or ep is None:
        raise TimingError("sta found no constrained timing path (no Startpoint in the report)")
    body = report[ep.end():]
    arrival = re.search(r"^\s*(-?[0-9.]+)\s+data arrival time", body, re.M)
    required = re.search(r"^\s*(-?[0-9.]+)\s+data required time", body, re.M)
    setup = re.search(r"^\s*(-?[0-9.]+)\s+(-?[0-9.]+)\s+library setup time", body, re.M)
    slack = re.search(r"^\s*(-?[0-9.]+)\s+slack \((\w+)\)", body, re.M)
    points: list[dict[str, Any]] = []
    head = body[:arrival.start()] if arrival else body
    for line in head.splitlines():
        m = _POINT_RE.match(line)
        if m is not None:
            points.append({"pin": m.group(4), "cell": m.group(5), "edge": m.group(3),
                           "delay": float(m.group(1)), "time": float(m.group(2))})
            continue
        n = _NET_RE.match(line)
        if n is not None and points:
            points[-1]["net"] = n.group(1)
    return {
        "startpoint": sp.group(1), "start_kind": (sp.group(2) or "").strip(),
        "endpoint": ep.group(1), "end_kind": (ep.group(2) or "").strip(),
        "points": points,
        "arrival": float(arrival.group(1)) if arrival else None,
        "required": float(required.group(1)) if required else None,
        "setup": float(setup.group(1)) if setup else None,
        "slack": float(slack.group(1)) if slack else None,
        "status": slack.group(2) if slack else None,
    }


def _instance_outputs(netlist: str, inst: str, lib: TimingLibrary) -> str | None:
    """The net on the first output pin of instance ``inst`` in the written netlist."""
    at = netlist.find(f" {inst} (")
    if at < 0:
        return None
    start = netlist.rfind("\n", 0, at) + 1
    end = netlist.find(");", at)
    m = re.match(rf"\s*(\S+)\s+{re.escape(inst)}\s*\((.*)", netlist[start:end], re.S)
    if m is None or m.group(1) not in lib.cells:
        return None
    conns = dict(re.findall(r"\.(\w+)\(\s*(.*?)\s*\)\s*(?:,|$)", m.group(2), re.M))
    for pin in lib.cells[m.group(1)].outputs:
        if pin in conns:
            return conns[pin].strip().lstrip("\\")
    return None


def _run_sta(script: str, tmp: Path, what: str) -> tuple[str, float]:
    exe = sta_binary()
    (tmp / "sta.tcl").write_text(script)
    t0 = time.perf_counter()
    try:
        res = subprocess.run(
            [exe, "-no_init", "-no_splash", "-exit", "sta.tcl"], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, timeout=STA_TIMEOUT, cwd=tmp,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise TimingError(f"{what}: sta did not finish in {STA_TIMEOUT} s") from None
    except OSError as e:
        raise TimingError(f"{what}: cannot run sta ({exe}): {e.strerror}") from None
    log = res.stdout
    errors = [ln.strip() for ln in log.splitlines() if ln.startswith("Error")]
    if errors:
        raise TimingError(f"{what}: sta reported {len(errors)} error(s), first: {errors[0]}")
    if res.returncode != 0:
        tail = [ln for ln in log.splitlines() if ln.strip()][-1:]
        raise TimingError(f"{what}: sta exited with status {res.returncode}"
                          + (f": {tail[0].strip()}" if tail else ""))
    return log, time.perf_counter() - t0


# ---- the flow ----------------------------------------------------------------------------------
@dataclass
class TimingReport:
    """Result of one timing run: :meth:`to_json` is ``timing.json``."""

    data: dict[str, Any]
    report: str
    sta_log: str
    sta_tcl: str
    netlist: str | None = None
    #: Further files of a kept hierarchical run (block netlists, timing models, block logs).
    files: dict[str, str] = field(default_factory=dict)

    @property
    def fmax_mhz(self) -> float:
        return float(self.data["fmax_mhz"])

    @property
    def critical_path_ns(self) -> float:
        return float(self.data["critical_path_ns"])

    @property
    def worst_slack_ns(self) -> float:
        return float(self.data["worst_slack_ns"])

    def to_json(self) -> dict[str, Any]:
        return self.data


def _area_json(rep: area.AreaReport) -> dict[str, Any]:
    tot = rep.to_json()["total"]
    return {"mode": "hierarchical", "cells": tot["cells"], "ge": tot["ge"],
            **({"um2": tot["um2"]} if "um2" in tot else {})}


def timing_of_verilog(
    files: dict[str, str],
    top: str,
    *,
    liberty: str | Path | TimingLibrary | None = None,
    clock_ns: float | None = None,
    wire_load: str | None = None,
    load_pf: float = DEFAULT_LOAD_PF,
    area_flow: bool = True,
    area_cache: str | Path | None = area.DEFAULT_CACHE,
    cache_dir: str | Path | None = DEFAULT_CACHE,
    keep_netlist: bool = False,
    paths_from: tuple[str, ...] | list[str] = (),
    flat: bool | None = None,
) -> TimingReport:
    """Map Verilog ``files`` (name -> text, top module ``top``) and time it with ``sta``.

    Two methods. **Flat** (``flat=True``): the whole design is flattened, mapped and timed as
    one netlist. **Hierarchical** (``flat=False``, for designs with *blocks*: leaf modules
    repeated at least :data:`MIN_BLOCK_INSTANCES` times, :func:`hierarchical_blocks`): each
    block is mapped and timed once and abstracted as an extracted timing model (ETM), the rest
    is flattened and mapped with the blocks as black boxes, nets fanning out to many block pins
    get buffer trees, and ``sta`` times the top with the models; the blocks' internal paths
    come from their own runs. ``flat=None`` (default) picks the hierarchical method when the
    design has blocks, except with ``keep_netlist`` (a kept netlist is for gate-level
    simulation, which wants the flat one). With the hierarchical method ``netlist`` is the
    top netlist (block instances as cells) and ``files`` holds each block's netlist and model.

    ``clock_ns`` defaults to :data:`DEFAULT_CLOCK_NS`; it is also ABC's delay target.
    ``wire_load`` names one of the library's wire-load models (default: the library's
    ``default_wire_load``, none if it has none). ``area_flow`` adds the hierarchical area
    flow's figure (:func:`flow.area.area_of_verilog`) beside the mapped netlist's area.
    Results are cached under ``cache_dir`` (``None``: no cache; a kept netlist bypasses it),
    keyed by the Verilog, the library, the constraints, the script, the ``sta`` version and
    :data:`FLOW_VERSION`; a cached result has ``"cached": true`` and the original run's yosys
    and sta seconds. ``paths_from`` names input ports whose worst path is reported as well
    (``paths_from`` in the result; e.g. a pod's ``res__ready``, which drives the global stall
    enable). Raises :class:`TimingError`.
    """
    t_start = time.perf_counter()
    lib = liberty if isinstance(liberty, TimingLibrary) else load_timing_library(liberty)
    period = DEFAULT_CLOCK_NS if clock_ns is None else check_clock(clock_ns)
    if wire_load is not None and wire_load not in lib.wire_loads:
        have = ", ".join(lib.wire_loads) or "none"
        raise TimingError(f"wire-load model {wire_load!r} is not in library {lib.name} "
                          f"(it has: {have})")
    wl = wire_load if wire_load is not None else lib.default_wire_load
    vfiles = {n: t for n, t in files.items() if n.endswith((".v", ".sv"))}
    mods = area.split_modules(vfiles)
    if top not in mods:
        raise TimingError(f"design {top}: top module {top} not found in the Verilog")
    what = f"design {top}"
    m_top = mods[top]
    from_ports: list[tuple[str, bool]] = []
    for port in dict.fromkeys(paths_from):
        pm = re.search(rf"\binput\b\s*(?:wire\s+)?(\[[^\]]*\]\s*)?(?<![\w$\\]){re.escape(port)}"
                       r"(?![\w$\[])", m_top.text)
        if pm is None:
            raise TimingError(f"{port!r} is not an input port of {top}")
        from_ports.append((port, pm.group(1) is not None))
    sta_ver = sta_version()  # refuses a missing sta early, before minutes of synthesis
    # "input clk;" (Amaranth's declarations) or "input clk," in an ANSI port list
    clock_port = "clk" if re.search(r"\binput\b[^;()]*?(?<![\w$\\])clk\b(?![\w$])",
                                    m_top.text) else None
    buf_in, buf_out = lib.pins(lib.buffer)
    job = {
        "top": top, "liberty": str(lib.path), "script": ABC_SCRIPT,
        "delay_ps": period * 1000.0, "driver": lib.driver, "load_ff": load_pf * 1000.0,
        "buffer": [lib.buffer, buf_in, buf_out],
        "ties": [lib.tie_hi, lib.pins(lib.tie_hi)[1], lib.tie_lo, lib.pins(lib.tie_lo)[1]],
    }
    design_v = "\n".join(vfiles[n] for n in sorted(vfiles))
    blocks = {} if flat or (flat is None and keep_netlist) else hierarchical_blocks(vfiles, top)
    cfile = None
    if cache_dir is not None and not keep_netlist:
        key: list[Any] = [FLOW_VERSION, ABC_SCRIPT, lib.base.sha256, top, design_v, period,
                          wl, load_pf, sta_ver, from_ports]
        if blocks:
            key = ["hierarchical", HIER_VERSION, *key, sorted(blocks.items()),
                   TREE_MAX_FANOUT, TREE_MAX_SLEW_NS, TREE_SIZING_SLEW_NS, ETM_SLEWS_NS,
                   ETM_LOADS_PF]
        blob = json.dumps(key)
        cfile = Path(cache_dir) / f"{hashlib.sha256(blob.encode()).hexdigest()}.json"
        hit = _cache_read(cfile)
        if hit is not None:
            data = hit["data"]
            area_rep = area.area_of_verilog(vfiles, top, liberty=lib.base,
                                            cache_dir=area_cache, jobs=1) if area_flow else None
            _add_area_flow(data, area_rep)
            data["cached"] = True
            data["seconds"]["total"] = round(time.perf_counter() - t_start, 3)
            rep = TimingReport(data=data, report="", sta_log=hit["sta_log"],
                               sta_tcl=hit["sta_tcl"])
            rep.report = format_report(rep)
            return rep
    fallback = None
    if blocks:
        try:
            with ThreadPoolExecutor(max_workers=2) as ex, \
                    tempfile.TemporaryDirectory(prefix="sqgen-timing-") as tmpd:
                fut = None
                if area_flow:
                    fut = ex.submit(area.area_of_verilog, vfiles, top, liberty=lib.base,
                                    cache_dir=area_cache, jobs=1)
                data, log, script, netlist, hfiles, secs = _timing_hier(
                    design_v, top, blocks, lib, job=job, period=period, load_pf=load_pf,
                    wl=wl, clock_port=clock_port, from_ports=from_ports, n_modules=len(mods),
                    tmp=Path(tmpd), ex=ex, what=what)
                area_rep = fut.result() if fut is not None else None
        except NotAbstractable as e:
            if flat is not None:
                raise
            fallback = str(e)  # the default method: time it flat instead
    if blocks and fallback is None:
        data["tools"]["sta"] = sta_ver
        data["cached"] = False
        data["seconds"] = {**secs, "total": round(time.perf_counter() - t_start, 3)}
        if cfile is not None:
            _cache_write(cfile, {"data": data, "sta_log": log, "sta_tcl": script})
        _add_area_flow(data, area_rep)
        rep = TimingReport(data=data, report="", sta_log=log, sta_tcl=script,
                           netlist=netlist if keep_netlist else None,
                           files=hfiles if keep_netlist else {})
        rep.report = format_report(rep)
        return rep
    with ThreadPoolExecutor(max_workers=1) as ex, \
            tempfile.TemporaryDirectory(prefix="sqgen-timing-") as tmpd:
        fut = None
        if area_flow:
            fut = ex.submit(area.area_of_verilog, vfiles, top, liberty=lib.base,
                            cache_dir=area_cache, jobs=1)
        tmp = Path(tmpd)
        t0 = time.perf_counter()
        done = _run_worker(job, design_v, tmp, what)
        t_yosys = time.perf_counter() - t0
        netlist = (tmp / "netlist.v").read_text()
        n_assign = len(re.findall(r"^\s*assign\b", netlist, re.M))
        if n_assign:
            raise TimingError(f"{what}: the netlist for sta still has {n_assign} assign "
                              "statement(s), which the 2019 sta misreads")
        stat_json = json.loads((tmp / "stat.json").read_text())
        stat = area._stat_module(stat_json, top)
        script = sta_script(top, lib, clock_ns=period, load_pf=load_pf, wire_load=wl,
                            clock_port=clock_port, paths_from=tuple(from_ports))
        log, t_sta = _run_sta(script, tmp, what)
        area_rep = fut.result() if fut is not None else None
    data = _analyse(log, netlist, lib, top=top, period=period, load_pf=load_pf, wire_load=wl,
                    clock_port=clock_port, stat=stat, modules=len(mods))
    if fallback is not None:
        data["timed_note"] += f" (the hierarchical method did not apply: {fallback})"
    steps: dict[str, float] = {}
    for name, secs in done["steps"]:
        steps[name] = round(steps.get(name, 0.0) + secs, 3)
    data["synthesis"]["steps_seconds"] = steps
    data["tools"] = {"sta": sta_ver, "yosys": str(stat_json.get("creator", "yosys"))}
    data["cached"] = False
    data["seconds"] = {"yosys": round(t_yosys, 3), "sta": round(t_sta, 3),
                       "total": round(time.perf_counter() - t_start, 3)}
    if cfile is not None:
        _cache_write(cfile, {"data": data, "sta_log": log, "sta_tcl": script})
    _add_area_flow(data, area_rep)
    rep = TimingReport(data=data, report="", sta_log=log, sta_tcl=script,
                       netlist=netlist if keep_netlist else None)
    rep.report = format_report(rep)
    return rep


def _add_area_flow(data: dict[str, Any], area_rep: area.AreaReport | None) -> None:
    data["area"]["area_flow"] = _area_json(area_rep) if area_rep is not None else None
    data["area"].pop("mapped_vs_area_flow_pct", None)
    if area_rep is not None and area_rep.area:
        data["area"]["mapped_vs_area_flow_pct"] = round(
            100.0 * (data["area"]["mapped"]["area"] - area_rep.area) / area_rep.area, 2)


def _cache_read(f: Path) -> dict[str, Any] | None:
    try:
        hit = json.loads(f.read_text())
    except (OSError, ValueError):
        return None  # absent or damaged: recompute
    ok = isinstance(hit, dict) and {"data", "sta_log", "sta_tcl"} <= set(hit)
    return hit if ok else None


def _cache_write(f: Path, entry: dict[str, Any]) -> None:
    try:
        atomic_write_text(f, json.dumps(entry, sort_keys=True))
    except OSError:
        pass  # a cache that cannot be written only costs time


def _path_summary(path: dict[str, Any], netlist: str, lib: TimingLibrary) -> dict[str, Any]:
    """Startpoint, endpoint (with register names), logic levels and points of a parsed path."""
    tu = lib.time_unit_ns
    pts = path["points"]
    insts: list[tuple[str, str]] = []
    for p in pts:
        inst = p["pin"].rsplit("/", 1)[0] if "/" in p["pin"] else p["pin"]
        if not insts or insts[-1][0] != inst:
            insts.append((inst, p["cell"]))
    end_inst = path["endpoint"]
    logic = [(i, c) for i, c in insts[1:] if i != end_inst and c in lib.cells]

    def point(name: str, kind: str) -> dict[str, Any]:
        d: dict[str, Any] = {"name": name, "kind": kind}
        if "flip-flop" in kind or "latch" in kind:
            d["register"] = _instance_outputs(netlist, name, lib)
            cell = next((c for i, c in insts if i == name), None)
            if cell is not None:
                d["cell"] = cell
        return d

    return {
        "startpoint": point(path["startpoint"], path["start_kind"]),
        "endpoint": point(end_inst, path["end_kind"]),
        "logic_levels": len(logic),
        "buffers": sum(1 for _, c in logic if lib.cells[c].is_buffer),
        "cells": [c for _, c in logic],
        "arrival_ns": round(path["arrival"] * tu, 4) if path["arrival"] is not None else None,
        "setup_ns": round(-path["setup"] * tu, 4) if path["setup"] is not None else None,
        "points": [
            {**p, "delay": round(p["delay"] * tu, 4), "time": round(p["time"] * tu, 4)}
            for p in pts
        ],
    }


def _analyse(log: str, netlist: str, lib: TimingLibrary, *, top: str, period: float,
             load_pf: float, wire_load: str | None, clock_port: str | None,
             stat: dict[str, Any], modules: int,
             splice: Any = None) -> dict[str, Any]:
    """``timing.json``'s fields from a ``sta`` log. ``splice`` (hierarchical method) extends a
    path summary that starts or ends at a block instance into the block."""
    tu = lib.time_unit_ns
    splice = splice or (lambda summary: summary)
    ws = re.search(r"^sqgen-worst-slack\s+(\S+)", log, re.M)
    tns = re.search(r"^sqgen-tns\s+(\S+)", log, re.M)
    chk = re.search(r"^sqgen-checks-begin\n(.*?)^sqgen-checks-end", log, re.M | re.S)
    if ws is None or chk is None:
        raise TimingError(f"design {top}: the sta log has no slack report (sta stopped early)")
    try:
        worst = float(ws.group(1)) * tu
    except ValueError:
        worst = float("nan")
    path = _parse_checks(chk.group(1))
    if not math.isfinite(worst) or abs(worst) > 1e6:
        raise TimingError(f"design {top}: sta found no constrained timing path")
    crit = period - worst
    extra: dict[str, Any] = {}
    for m in re.finditer(r"^sqgen-from-begin (\S+)\n(.*?)^sqgen-from-end", log, re.M | re.S):
        if "Startpoint:" not in m.group(2):
            extra[m.group(1)] = None  # no constrained path from that input
            continue
        sub = _parse_checks(m.group(2))
        summary = splice(_path_summary(sub, netlist, lib))
        slack = sub["slack"] * tu if sub["slack"] is not None else float("nan")
        extra[m.group(1)] = {
            "slack_ns": round(slack, 4), "path_ns": round(period - slack, 4),
            "fmax_mhz": round(1000.0 / (period - slack), 3) if period > slack else None,
            **{k: v for k, v in summary.items() if k != "points"},
        }

    generic = lib.generic
    area_mapped = float(stat.get("area", 0.0))
    cells = {k: int(v) for k, v in stat.get("num_cells_by_type", {}).items()}
    mapped = {
        "area": round(area_mapped, 4), "unit": "GE" if generic else "um2",
        "ge": round(area_mapped / lib.base.nand2_area, 4), "cells": int(stat.get("num_cells", 0)),
        "sequential_area": round(float(stat.get("sequential_area", 0.0)), 4),
        "buffers": sum(n for c, n in cells.items() if c in lib.cells and lib.cells[c].is_buffer),
        "cells_by_type": dict(sorted(cells.items())),
    }
    return {
        "top": top,
        "timed": "flattened design" if modules > 1 else "design (single module)",
        "timed_note": (
            "every module is flattened into one netlist before mapping, so that ABC buffers "
            "and sizes nets that cross module boundaries (e.g. a pod's global stall enable and "
            "bank selects) and the timing includes cross-boundary optimization; sta times that "
            "one flat netlist"),
        "modules_flattened": modules,
        "flow_version": FLOW_VERSION,
        "fmax_mhz": round(1000.0 / crit, 3) if crit > 0 else None,
        "critical_path_ns": round(crit, 4),
        "worst_slack_ns": round(worst, 4),
        "tns_ns": round(float(tns.group(1)) * tu, 4) if tns else None,
        "met": worst >= 0.0,
        "critical_path": splice(_path_summary(path, netlist, lib)),
        "paths_from": extra,
        "library": {
            "name": lib.name, "path": str(lib.path), "sha256": lib.base.sha256,
            "generic": generic, "time_unit_ns": tu, "cap_unit_pf": lib.cap_unit_pf,
            "delay_model": ("sqgen generic: bilinear fit to IHP SG13G2 typical X1 cells "
                            "(plausible, not silicon; flow/sqgen_generic.lib)") if generic
            else "the library's own tables",
        },
        "wire_load": {
            "model": wire_load, "mode": lib.wire_load_mode,
            "library_default": lib.default_wire_load,
            "note": ("set explicitly with set_wire_load_model (sta would apply the library "
                     "default silently)") if wire_load is not None
            else "the library has no wire-load model: zero wire capacitance",
        },
        "constraints": {
            "clock": {"port": clock_port, "name": "clk", "period_ns": period,
                      "ideal": True, "virtual": clock_port is None},
            "input_delay_ns": 0.0, "output_delay_ns": 0.0,
            "driving_cell": lib.driver, "driving_pin": lib.pins(lib.driver)[1],
            "load_pf": load_pf,
        },
        "synthesis": {
            "script": worker_script({
                "top": top, "liberty": "L", "script": ABC_SCRIPT, "delay_ps": period * 1000,
                "buffer": [lib.buffer, *lib.pins(lib.buffer)],
                "ties": [lib.tie_hi, lib.pins(lib.tie_hi)[1], lib.tie_lo,
                         lib.pins(lib.tie_lo)[1]],
            }),
            "abc_script": ABC_SCRIPT, "abc_delay_target_ps": round(period * 1000.0, 3),
            "abc_constraints": {"driving_cell": lib.driver, "load_ff": load_pf * 1000.0},
        },
        "area": {"mapped": mapped},
        "files": {"report": "timing.rpt", "sta_log": "sta.log", "sta_script": "sta.tcl"},
    }


def timing_of_design(design: Any, **kw: Any) -> TimingReport:
    """:func:`timing_of_verilog` for a :class:`gen.emit.Design` (its Verilog files and top)."""
    return timing_of_verilog(dict(design.files), design.top, **kw)


# ---- hierarchical timing: repeated blocks as extracted timing models ----------------------------
#: A leaf module instantiated at least this many times in the flattened design is a *block*:
#: mapped and timed once, and abstracted as an extracted timing model (ETM) at the top level.
MIN_BLOCK_INSTANCES = 8
#: Largest fanout of a buffer-tree node: ABC's ``buffer`` default (``-N 10``), the limit the
#: flat flow's buffering works to.
TREE_MAX_FANOUT = 10
#: Output transition a buffer-tree node is sized for (ns): ABC ``buffer``'s default slew
#: target (``-S 100`` ps); each node is the smallest buffer that meets it (else the strongest).
TREE_MAX_SLEW_NS = 0.1
#: Input transition (ns) at which buffers and delay cells are compared.
TREE_SIZING_SLEW_NS = 0.1
#: Constrained-pin transitions (ns) and output loads (pF) at which an ETM is characterized.
ETM_SLEWS_NS = (0.01, 0.04, 0.1, 0.25, 0.6, 1.5)
ETM_LOADS_PF = (0.001, 0.004, 0.012, 0.03, 0.08, 0.2)
#: Bump when the hierarchical method's commands or analysis change.
HIER_VERSION = "2"
_PLAIN_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_KEYWORDS = frozenset("""always and assign begin buf case default else end endcase endmodule
for function if initial inout input module nand nor not or output reg supply0 supply1 tri wire
xnor xor""".split())


def _vid(name: str) -> str:
    """``name`` as a Verilog identifier (escaped unless plain)."""
    if _PLAIN_ID.fullmatch(name) and name not in _KEYWORDS:
        return name
    return "\\" + name + " "


def _pin_name(port: str, i: int, width: int) -> str:
    """Bit ``i`` of a ``width``-bit block port as a scalar ETM pin name."""
    return port if width == 1 else f"{port}_{i}_"


def _instance_counts(mods: dict[str, area.VerilogModule], top: str) -> dict[str, int]:
    """Module -> number of instances in the flattened design under ``top``."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(n: str) -> None:
        if n in seen:
            return
        seen.add(n)
        for c in sorted(mods[n].children):
            visit(c)
        order.append(n)

    visit(top)
    counts = dict.fromkeys(order, 0)
    counts[top] = 1
    for n in reversed(order):  # parents before their children
        for c, k in mods[n].children.items():
            counts[c] += counts[n] * k
    return counts


def hierarchical_blocks(files: dict[str, str], top: str) -> dict[str, int]:
    """The blocks the hierarchical method abstracts, with their instance counts: leaf modules
    (no child instances) with a clock that appear at least :data:`MIN_BLOCK_INSTANCES` times
    in the flattened design (the pod's PE). Empty for single-module designs."""
    mods = area.split_modules({n: t for n, t in files.items() if n.endswith((".v", ".sv"))})
    if top not in mods:
        return {}
    counts = _instance_counts(mods, top)

    def clocked(n: str) -> bool:
        # a block model has registered boundaries; a combinational leaf (the engine's FP32
        # adders) has input-to-output paths and is flattened with the top instead
        return re.search(r"\bclk\b", mods[n].body.split(";", 1)[0]) is not None

    return {n: k for n, k in sorted(counts.items())
            if n != top and not mods[n].children and k >= MIN_BLOCK_INSTANCES and clocked(n)}


@dataclass
class _Netlist:
    """A mapped module at bit level: scalar ports, cell instances with scalar pins."""

    top: str
    ports: list[tuple[str, str, int]]  # (port name, "input"/"output", bit)
    cells: list[tuple[str, str, dict[str, int]]]  # (instance, cell type, pin -> bit)
    names: dict[int, str]  # bit -> net name
    next_bit: int = 0
    #: bit -> the design's own (non-port) name where a port name took the bit (registers
    #: that drive a block output are reported by their register name, e.g. ``stage[22]``).
    aliases: dict[int, str] = field(default_factory=dict)

    def register_name(self, net: str | None) -> str | None:
        if net is None:
            return None
        by_name = {n: b for b, n in self.names.items() if b in self.aliases}
        return self.aliases.get(by_name.get(net, -1), net)

    def new_bit(self, name: str) -> int:
        b = self.next_bit
        self.next_bit += 1
        self.names[b] = name
        return b

    def to_verilog(self) -> str:
        """Structural Verilog the 2019 sta reads: scalar ports and nets, named connections,
        no ``assign``."""
        port_bits = {b for _, _, b in self.ports}
        used: set[int] = set()
        for _, _, pins in self.cells:
            used.update(pins.values())
        out = [f"module {_vid(self.top)}(" + ", ".join(_vid(n) for n, _, _ in self.ports) + ");"]
        out += [f"  {d} {_vid(n)};" for n, d, _ in self.ports]
        out += [f"  wire {_vid(self.names[b])};" for b in sorted(used - port_bits)]
        for inst, typ, pins in self.cells:
            conns = ", ".join(f".{_vid(p)}({_vid(self.names[b])})" for p, b in pins.items())
            out.append(f"  {_vid(typ)} {_vid(inst)} ({conns});")
        out.append("endmodule")
        return "\n".join(out) + "\n"


def _netlist_from_json(js: dict[str, Any], top: str, lib: TimingLibrary,
                       macros: dict[str, dict[str, tuple[str, int]]], *, block: bool,
                       what: str) -> _Netlist:
    """A Yosys ``write_json`` module as a :class:`_Netlist`. ``macros``: black-box cell type ->
    port -> (direction, width). Block ports become scalar ETM pin names (``port_3_``); the
    top's keep ``port[3]`` (as the flat flow's ``splitnets -ports`` names them). An output port
    sharing its bit with another port gets a buffer (sta cannot read ``assign``)."""
    mod = js["modules"].get(top)
    if mod is None:
        raise TimingError(f"{what}: yosys wrote no module {top}")
    names: dict[int, str] = {}
    taken: set[str] = set()

    def name_bit(b: int, name: str) -> None:
        if b not in names and name not in taken:
            names[b] = name
            taken.add(name)

    def const(b: Any, where: str) -> int:
        if not isinstance(b, int):
            raise TimingError(f"{what}: constant {b!r} left on {where} after hilomap")
        return b

    ports: list[tuple[str, str, int]] = []
    cells: list[tuple[str, str, dict[str, int]]] = []
    max_bit = 1
    seen_bits: set[int] = set()
    aliased: list[tuple[str, int]] = []
    pdefs = sorted(mod["ports"].items(), key=lambda kv: kv[1]["direction"] != "input")
    for pname, p in pdefs:
        if p["direction"] not in ("input", "output"):
            raise TimingError(f"{what}: port {pname} is {p['direction']} (not supported)")
        w = len(p["bits"])
        for i, b in enumerate(p["bits"]):
            b = const(b, f"port {pname}")
            max_bit = max(max_bit, b)
            n = _pin_name(pname, i, w) if block else (pname if w == 1 else f"{pname}[{i}]")
            if b in seen_bits:
                aliased.append((n, b))
                continue
            seen_bits.add(b)
            ports.append((n, p["direction"], b))
            name_bit(b, n)
    port_names = set(mod["ports"])
    aliases: dict[int, str] = {}
    for nm, nn in sorted(mod["netnames"].items(),
                         key=lambda kv: (kv[1].get("hide_name", 0), kv[0])):
        if nn.get("hide_name", 0):
            continue
        w = len(nn["bits"])
        for i, b in enumerate(nn["bits"]):
            if isinstance(b, int):
                name_bit(b, nm if w == 1 else f"{nm}[{i}]")
                if nm not in port_names and b not in aliases:
                    aliases[b] = nm if w == 1 else f"{nm}[{i}]"
    k = 0
    for cname, c in mod["cells"].items():
        typ = c["type"].lstrip("\\")
        if typ in macros:
            widths = {pn: wd for pn, (_, wd) in macros[typ].items()}
        elif typ in lib.cells:
            widths = {}
        else:
            raise TimingError(f"{what}: cell {cname} of unknown type {typ}")
        pins: dict[str, int] = {}
        for pn, bits in c["connections"].items():
            w = widths.get(pn, len(bits))
            for i, b in enumerate(bits):
                b = const(b, f"pin {pn} of {cname}")
                max_bit = max(max_bit, b)
                pins[_pin_name(pn, i, w) if typ in macros else pn] = b
        if cname.startswith("$") or cname in taken:
            while f"_{k}_" in taken:
                k += 1
            inst = f"_{k}_"
            k += 1
        else:
            inst = cname
        taken.add(inst)
        cells.append((inst, typ, pins))
    nl = _Netlist(top=top, ports=ports, cells=cells, names=names, next_bit=max_bit + 1,
                  aliases={b: a for b, a in aliases.items() if names.get(b) != a})
    for b in sorted({b for _, _, pins in cells for b in pins.values()} - set(names)):
        name_bit(b, f"_n{b}_")
    buf_in, buf_out = lib.pins(lib.buffer)
    for i, (n, b) in enumerate(aliased):
        nb = nl.new_bit(n)
        nl.ports.append((n, "output", nb))
        nl.cells.append((f"sqgen_portbuf{i}", lib.buffer, {buf_in: b, buf_out: nb}))
    order = {n: i for i, n in enumerate(
        _pin_name(pn, i, len(p["bits"])) if block else (pn if len(p["bits"]) == 1 else f"{pn}[{i}]")
        for pn, p in mod["ports"].items() for i in range(len(p["bits"])))}
    nl.ports.sort(key=lambda p: order.get(p[0], len(order)))
    return nl


def _run_hier_worker(job: dict[str, Any], design_v: str, tmp: Path, what: str
                     ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    tmp.mkdir(parents=True, exist_ok=True)
    done = _run_worker(job, design_v, tmp, what)
    js = json.loads((tmp / "netlist.json").read_text())
    stat_json = json.loads((tmp / "stat.json").read_text())
    stat = {**area._stat_module(stat_json, job["top"]),
            "creator": str(stat_json.get("creator", "yosys"))}
    return done, js, stat


# ---- extracted timing models -------------------------------------------------------------------
def etm_script(block: str, lib: TimingLibrary, *, clock_ns: float, wire_load: str | None,
               load_pf: float, netlist: str = "block.v") -> str:
    """``sta`` script that times a block on its own and characterizes its boundary.

    Prints the block's internal register-to-register worst path (``sqgen-checks``), each
    input pin's capacitance (``report_net``), its setup constraint (worst path to a register,
    ``period - slack`` with the input at 0 delay) per edge at :data:`ETM_SLEWS_NS`, each
    output's clock-to-output delay and transition per edge at :data:`ETM_LOADS_PF`, any
    input-to-output combinational path (``sqgen-feedthrough``), and the worst internal path
    from each input and to each output (for the report). Paths from an input end at a
    register and paths to an output start at one, once there is no feedthrough (a block with
    one is not abstracted), so those queries name one end only (twice as fast)."""
    tu, cu = lib.time_unit_ns, lib.cap_unit_pf
    period = clock_ns / tu
    slews = " ".join(f"{s / tu:.6g}" for s in ETM_SLEWS_NS)
    loads = " ".join(f"{c / cu:.6g}" for c in ETM_LOADS_PF)
    fields = "-fields {slew cap input_pins nets fanout} -digits 3"
    lines = [
        "# generated by flow/timing.py (sqgen timing flow: block characterization)",
        f"read_liberty {{{lib.path}}}",
        f"read_verilog {netlist}",
        f"link_design {block}",
    ]
    if wire_load is not None:
        lines.append(f"set_wire_load_model -name {{{wire_load}}}")
    lines += [
        f"create_clock -name clk -period {period:.6g} [get_ports clk]",
        "set sqgen_ins [delete_from_list [all_inputs] [get_ports clk]]",
        "set sqgen_outs [all_outputs]",
        "set_input_delay 0 -clock clk $sqgen_ins",
        "set_output_delay 0 -clock clk $sqgen_outs",
        "set sqgen_d [all_registers -data_pins]",
        "set sqgen_ck [all_registers -clock_pins]",
        'puts "sqgen-registers [llength $sqgen_d]"',
        f"set_load {load_pf / cu:.6g} $sqgen_outs",
        "set_input_transition 0 $sqgen_ins",
        'puts "sqgen-checks-begin"',
        f"report_checks -from $sqgen_ck -to $sqgen_d -path_delay max {fields}",
        'puts "sqgen-checks-end"',
        "set sqgen_tns 0",
        "foreach e [find_timing_paths -from $sqgen_ck -to $sqgen_d -path_delay max "
        "-endpoint_count 1 -group_count 1000000 -slack_max 0] {",
        "  set sqgen_tns [expr {$sqgen_tns + [get_property $e slack]}] }",
        'puts "sqgen-tns $sqgen_tns"',
        "set sqgen_ft [find_timing_paths -from $sqgen_ins -to $sqgen_outs -path_delay max]",
        "foreach e $sqgen_ft { puts \"sqgen-feedthrough [get_full_name [get_property $e "
        "startpoint]] [get_full_name [get_property $e endpoint]]\" }",
        "foreach p [concat [get_ports clk] $sqgen_ins] {",
        '  puts "sqgen-net-begin [get_full_name $p]"',
        "  report_net -connections -verbose -digits 6 [get_full_name $p]",
        '  puts "sqgen-net-end" }',
        f"foreach s {{{slews}}} {{",
        "  set_input_transition $s $sqgen_ins",
        "  foreach p $sqgen_ins { foreach rf {rise fall} {",
        "    set e [find_timing_paths -${rf}_from $p -path_delay max]",
        "    if {[llength $e]} { puts \"sqgen-setup [get_full_name $p] $rf $s "
        "[get_property [lindex $e 0] slack]\" } } } }",
        f"set_input_transition {ETM_SLEWS_NS[2] / tu:.6g} $sqgen_ins",
        "foreach p $sqgen_ins {",
        "  if {[llength [find_timing_paths -from $p -path_delay max]]} {",
        '    puts "sqgen-inpath-begin [get_full_name $p]"',
        f"    report_checks -from $p -path_delay max {fields}",
        '    puts "sqgen-inpath-end" } }',
        f"foreach c {{{loads}}} {{",
        "  set_load $c $sqgen_outs",
        "  foreach o $sqgen_outs { foreach rf {rise fall} {",
        "    set e [find_timing_paths -${rf}_to $o -path_delay max]",
        "    if {[llength $e]} { puts \"sqgen-arc [get_full_name $o] $rf $c "
        "[get_property [lindex $e 0] slack] [get_property $o actual_${rf}_transition_max]\" "
        "} } } }",
        f"set_load {load_pf / cu:.6g} $sqgen_outs",
        "foreach o $sqgen_outs {",
        "  if {[llength [find_timing_paths -to $o -path_delay max]]} {",
        '    puts "sqgen-outpath-begin [get_full_name $o]"',
        f"    report_checks -to $o -path_delay max {fields}",
        '    puts "sqgen-outpath-end" } }',
    ]
    return "\n".join(lines) + "\n"


@dataclass
class _Block:
    """One characterized block: its mapped netlist, ETM and own timing."""

    name: str
    instances: int
    netlist: _Netlist
    text: str
    stat: dict[str, Any]
    pin_dir: dict[str, str]
    caps: dict[str, float]  # pin -> capacitance (library units)
    setup: dict[str, dict[str, list[float]]]  # pin -> edge -> constraint per slew
    arcs: dict[str, dict[str, list[tuple[float, float]]]]  # pin -> edge -> (delay, slew)/load
    in_paths: dict[str, dict[str, Any]]
    out_paths: dict[str, dict[str, Any]]
    internal: dict[str, Any] | None  # reg-to-reg worst path summary (None: no such path)
    internal_ns: float
    tns_ns: float
    log: str
    script: str
    liberty: str = ""
    seconds: dict[str, float] = field(default_factory=dict)


def _block_ports(js: dict[str, Any], block: str) -> dict[str, tuple[str, int]]:
    mod = js["modules"][block]
    return {n: (p["direction"], len(p["bits"])) for n, p in mod["ports"].items()}


def _characterize(block: str, instances: int, js: dict[str, Any], stat: dict[str, Any],
                  lib: TimingLibrary, *, period: float, wire_load: str | None, load_pf: float,
                  tmp: Path, what: str) -> _Block:
    """Time a mapped block on its own and build its ETM (:func:`etm_liberty`)."""
    bwhat = f"{what}, block {block}"
    nl = _netlist_from_json(js, block, lib, {}, block=True, what=bwhat)
    if not any(n == "clk" and d == "input" for n, d, _ in nl.ports):
        raise NotAbstractable(f"{bwhat}: a block needs a clk input to be abstracted")
    text = nl.to_verilog()
    (tmp / "block.v").write_text(text)
    script = etm_script(block, lib, clock_ns=period, wire_load=wire_load, load_pf=load_pf)
    log, t_sta = _run_sta(script, tmp, bwhat)
    tu = lib.time_unit_ns
    p = period / tu
    if not re.search(r"^sqgen-registers [1-9]", log, re.M):
        raise NotAbstractable(f"{bwhat}: the block has no registers (cannot be abstracted)")
    ft = re.findall(r"^sqgen-feedthrough (\S+) (\S+)", log, re.M)
    if ft:
        raise NotAbstractable(f"{bwhat}: combinational path from {ft[0][0]} to {ft[0][1]}; "
                              "the hierarchical method abstracts registered blocks only")
    caps: dict[str, float] = {}
    for m in re.finditer(r"^sqgen-net-begin (\S+)\n(.*?)^sqgen-net-end", log, re.M | re.S):
        tc = re.search(r"Total capacitance:\s*(.*)", m.group(2))
        nums = [float(x) for x in re.findall(r"[-+]?\d+\.?\d*(?:[eE][-+]?\d+)?",
                                             tc.group(1))] if tc else []
        caps[m.group(1)] = max(nums) if nums else 0.0
    slews = [s / tu for s in ETM_SLEWS_NS]
    setup: dict[str, dict[str, list[float]]] = {}
    for m in re.finditer(r"^sqgen-setup (\S+) (rise|fall) (\S+) (\S+)", log, re.M):
        i = min(range(len(slews)), key=lambda j: abs(slews[j] - float(m.group(3))))
        row = setup.setdefault(m.group(1), {}).setdefault(m.group(2), [math.nan] * len(slews))
        row[i] = p - float(m.group(4))
    loads = [c / lib.cap_unit_pf for c in ETM_LOADS_PF]
    arcs: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for m in re.finditer(r"^sqgen-arc (\S+) (rise|fall) (\S+) (\S+) (\S+)", log, re.M):
        i = min(range(len(loads)), key=lambda j: abs(loads[j] - float(m.group(3))))
        row = arcs.setdefault(m.group(1), {}).setdefault(m.group(2), [(math.nan, math.nan)]
                                                          * len(loads))
        row[i] = (p - float(m.group(4)), float(m.group(5)))
    for tab in (*setup.values(), *arcs.values()):
        for e in ("rise", "fall"):  # an edge without a path takes the other edge's values
            tab.setdefault(e, tab.get("fall" if e == "rise" else "rise"))
    def _named(sm: dict[str, Any]) -> dict[str, Any]:
        for end in ("startpoint", "endpoint"):
            if sm[end].get("register"):
                sm[end]["register"] = nl.register_name(sm[end]["register"])
        return sm

    in_paths, out_paths = {}, {}
    for tag, dest in (("inpath", in_paths), ("outpath", out_paths)):
        for m in re.finditer(rf"^sqgen-{tag}-begin (\S+)\n(.*?)^sqgen-{tag}-end", log,
                             re.M | re.S):
            if "Startpoint:" in m.group(2):
                dest[m.group(1)] = _named(_path_summary(_parse_checks(m.group(2)), text, lib))
    chk = re.search(r"^sqgen-checks-begin\n(.*?)^sqgen-checks-end", log, re.M | re.S)
    internal: dict[str, Any] | None = None
    slack = period  # no register-to-register path inside the block
    if chk is not None and "Startpoint:" in chk.group(1):
        path = _parse_checks(chk.group(1))
        internal = _named(_path_summary(path, text, lib))
        slack = path["slack"] * tu if path["slack"] is not None else float("nan")
    tns = re.search(r"^sqgen-tns (\S+)", log, re.M)
    pin_dir = {n: d for n, d, _ in nl.ports}
    blk = _Block(name=block, instances=instances, netlist=nl, text=text, stat=stat,
                 pin_dir=pin_dir, caps=caps, setup=setup, arcs=arcs, in_paths=in_paths,
                 out_paths=out_paths, internal=internal, internal_ns=period - slack,
                 tns_ns=float(tns.group(1)) * tu if tns else 0.0, log=log, script=script,
                 seconds={"sta": round(t_sta, 3)})
    blk.liberty = etm_liberty(blk, lib)
    return blk


def etm_liberty(blk: _Block, lib: TimingLibrary) -> str:
    """The block as one liberty cell (an extracted timing model): area; every pin's
    capacitance; a setup constraint (``setup_rising``) against ``clk`` per input that reaches
    a register, tabled over the constrained pin's transition; a ``rising_edge`` arc per output
    driven from a register, tabled over the output load. Values in the library's units."""
    tu, cu = lib.time_unit_ns, lib.cap_unit_pf
    slews = ", ".join(f"{s / tu:.6g}" for s in ETM_SLEWS_NS)
    loads = ", ".join(f"{c / cu:.6g}" for c in ETM_LOADS_PF)

    def row(vals: list[float]) -> str:
        return '("' + ", ".join(f"{max(v, 0.0):.6g}" for v in vals) + '")'

    def fill(vals: list[float]) -> list[float]:
        good = [v for v in vals if math.isfinite(v)]
        top = max(good) if good else 0.0
        return [v if math.isfinite(v) else top for v in vals]

    cu_s = {1.0: "1,pf", 1e-3: "1,ff"}.get(cu, f"{cu:g},pf")
    out = [f"/* sqgen extracted timing model of {blk.name} (flow/timing.py, generated) */",
           f"library (sqgen_etm_{blk.name}) {{"]
    out += [f"  {k} : {v};" if re.fullmatch(r"[-+0-9.eE]+|table_lookup", v)
            else f'  {k} : "{v}";' for k, v in lib.header]
    out += [f"  capacitive_load_unit ({cu_s});",
            "  lu_table_template (sqgen_etm_slew) {",
            "    variable_1 : constrained_pin_transition;", f'    index_1 ("{slews}");', "  }",
            "  lu_table_template (sqgen_etm_load) {",
            "    variable_1 : total_output_net_capacitance;", f'    index_1 ("{loads}");', "  }",
            f"  cell ({blk.name}) {{", f"    area : {float(blk.stat.get('area', 0.0)):.6g};",
            "    dont_use : true;"]
    for name, d, _ in blk.netlist.ports:
        cap = blk.caps.get(name, 0.0)
        if name == "clk":
            out.append(f"    pin (clk) {{ direction : input; clock : true; "
                       f"capacitance : {cap:.6g}; }}")
            continue
        if d == "input":
            out.append(f"    pin ({name}) {{ direction : input; capacitance : {cap:.6g};")
            st = blk.setup.get(name)
            if st:
                out += ['      timing () { related_pin : "clk"; timing_type : setup_rising;',
                        *[f"        {e}_constraint (sqgen_etm_slew) {{ values "
                          f"{row(fill(st[e]))}; }}" for e in ("rise", "fall")],
                        "      }"]
            out.append("    }")
        else:
            out.append(f"    pin ({name}) {{ direction : output;")
            arc = blk.arcs.get(name)
            if arc:
                tabs = [(f"cell_{e}", [a for a, _ in arc[e]]) for e in ("rise", "fall")]
                tabs += [(f"{e}_transition", [t for _, t in arc[e]]) for e in ("rise", "fall")]
                out += ['      timing () { related_pin : "clk"; timing_type : rising_edge;',
                        *[f"        {k} (sqgen_etm_load) {{ values {row(fill(v))}; }}"
                          for k, v in tabs],
                        "      }"]
            out.append("    }")
    out += ["  }", "}"]
    return "\n".join(out) + "\n"


# ---- buffer trees for the nets that fan out to many block instances -----------------------------
def _interp(xs: tuple[float, ...], x: float) -> tuple[int, float]:
    i = 0
    while i < len(xs) - 2 and x > xs[i + 1]:
        i += 1
    span = xs[i + 1] - xs[i] if len(xs) > 1 else 1.0
    return i, ((x - xs[i]) / span if span else 0.0)


def _table_delay(tab: tuple[Any, Any, Any], slew: float, load: float) -> float:
    """Bilinear inter/extrapolation in a (slews, loads, values) delay table, as sta does."""
    s_idx, c_idx, v = tab
    if len(s_idx) < 2 or len(c_idx) < 2:
        return float(v[0][0])
    i, fs = _interp(s_idx, slew)
    j, fc = _interp(c_idx, load)
    a = v[i][j] + (v[i][j + 1] - v[i][j]) * fc
    b = v[i + 1][j] + (v[i + 1][j + 1] - v[i + 1][j]) * fc
    return a + (b - a) * fs


def _wire_cap(lib: TimingLibrary, wire_load: str | None, fanout: int) -> float:
    """Wire capacitance the statistical wire-load model gives a net of ``fanout`` loads."""
    if wire_load is None or wire_load not in lib.wire_load_params:
        return 0.0
    cap, slope, pts = lib.wire_load_params[wire_load]
    if not pts:
        return 0.0
    for (f0, l0), (f1, l1) in zip(pts, pts[1:], strict=False):
        if fanout <= f1:
            length = l0 + (l1 - l0) * (fanout - f0) / (f1 - f0) if f1 != f0 else l1
            return max(length, 0.0) * cap
    f_last, l_last = pts[-1]
    return (l_last + slope * (fanout - f_last)) * cap


def _natural(s: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def _insert_buffer_trees(nl: _Netlist, lib: TimingLibrary, blocks: dict[str, _Block], *,
                         wire_load: str | None, clock_port: str | None) -> list[dict[str, Any]]:
    """Buffer every net that drives more block-instance pins than one gate should.

    After mapping, a net such as the pod's stall enable drives one pin of each of hundreds of
    block instances; ABC never saw those pins (they are outside the logic it mapped), so the
    flow does what ABC's ``buffer`` does for the gate pins it sees. A net with more than
    :data:`TREE_MAX_FANOUT` block pins, or more load than that many median cell inputs
    (``cap_ref``), gets a balanced tree of library buffers: each node drives at most
    :data:`TREE_MAX_FANOUT` loads and at most that many median inputs' capacitance (a block
    pin usually stands for several gate pins; at least two loads a node), sinks are grouped in
    instance-name order (neighbours in the array), and each node is the smallest buffer whose
    output transition at its load (pin capacitances plus the wire-load model's estimate) meets
    :data:`TREE_MAX_SLEW_NS`, as ABC's slew target does. The root is the input of the buffers
    ABC put in front of the net, if any (the tree starts where ABC's buffering of the net's
    other loads starts); that net gains one buffer input. A net with a single block pin is
    left alone: the block's own mapping sized that input for a driver, as the flat mapping
    does. Pins a block does not use (no capacitance, no constraint) are left unconnected.
    Returns one record per buffered net."""
    cands = sorted((c for c in lib.cells.values()
                    if c.is_buffer and c.delay_table is not None and c.slew_table is not None
                    and math.isfinite(c.area)
                    and c.input_caps and math.isfinite(c.input_caps[0])),
                   key=lambda c: (c.input_caps[0], c.area, c.name))
    # delay cells are buffers too: drop any cell a smaller one beats by 20 % at ten loads
    s0 = TREE_SIZING_SLEW_NS / lib.time_unit_ns
    ref = TREE_MAX_FANOUT * lib.cap_ref
    cands = [c for c in cands if not any(
        d is not c and d.area <= c.area
        and _table_delay(d.delay_table, s0, ref) < 0.8 * _table_delay(c.delay_table, s0, ref)
        for d in cands)]
    if not cands:
        raise TimingError(f"library {lib.name} has no buffer with a delay table")
    by_area = sorted(cands, key=lambda c: (c.area, c.name))
    smax = TREE_MAX_SLEW_NS / lib.time_unit_ns

    def strongest(load: float) -> LibCell:
        return min(cands, key=lambda c: (_table_delay(c.slew_table, s0, load), c.area))

    nmax, cmax = TREE_MAX_FANOUT, TREE_MAX_FANOUT * lib.cap_ref
    tie = {n for n, c in lib.cells.items() if c.tie_value() is not None}
    drivers: dict[int, str] = {}
    buffered_from: dict[int, int] = {}  # output bit of a buffer -> its input bit
    for n, d, b in nl.ports:
        if d == "input":
            drivers[b] = f"input port {n}"
    for inst, typ, pins in nl.cells:
        if typ in blocks:
            outs = [p for p, d in blocks[typ].pin_dir.items() if d == "output"]
        else:
            outs = list(lib.cells[typ].outputs)
            if lib.cells[typ].is_buffer:
                a, x = lib.pins(typ)
                if a in pins and x in pins:
                    buffered_from[pins[x]] = pins[a]
        for p in outs:
            if p in pins:
                drivers[pins[p]] = f"{inst}/{p} ({typ})" if typ not in tie else "tie"
    sinks: dict[int, list[tuple[int, str, float]]] = {}
    for ci, (_, typ, pins) in enumerate(nl.cells):
        blk = blocks.get(typ)
        if blk is None:
            continue
        for p in list(pins):
            if blk.pin_dir.get(p) != "input" or p == "clk":
                continue
            cap = blk.caps.get(p, 0.0)
            if cap <= 0.0 and p not in blk.setup:
                del pins[p]  # unused inside the block: no load, no timing
                continue
            sinks.setdefault(pins[p], []).append((ci, p, cap))
    records = []
    clk_bits = {b for n, d, b in nl.ports if n == clock_port}
    for net_i, (bit, sk) in enumerate(sorted(sinks.items())):
        total = sum(c for _, _, c in sk)
        if bit in clk_bits or drivers.get(bit) == "tie":
            continue
        # one pin per net (e.g. a neighbour's register into a block input) is left as it is:
        # the block's own mapping sized that input for a driver, as the flat flow's does
        if len(sk) <= nmax and (total <= cmax or len(sk) == 1):
            continue
        base = re.sub(r"[^A-Za-z0-9_]", "_", nl.names[bit])[:40]
        sk.sort(key=lambda x: (_natural(nl.cells[x[0]][0]), x[1]))
        level: list[tuple[int, str, float]] = sk  # loads: (cell index, input pin, capacitance)
        depth, types = 0, {}
        while True:
            groups: list[list[tuple[int, str, float]]] = [[]]
            cur_c = 0.0
            for item in level:  # at most nmax loads and cmax farads a node (and 2 loads)
                g = groups[-1]
                if len(g) >= nmax or (len(g) >= 2 and cur_c + item[2] > cmax):
                    groups.append([])
                    cur_c = 0.0
                groups[-1].append(item)
                cur_c += item[2]
            nxt = []
            for k, g in enumerate(groups):
                load = sum(c for _, _, c in g) + _wire_cap(lib, wire_load, len(g))
                b = next((c for c in by_area if _table_delay(c.slew_table, s0, load) <= smax),
                         strongest(load))
                a_pin, x_pin = lib.pins(b.name)
                onet = nl.new_bit(f"sqgen_hfn{net_i}_{base}_l{depth}_{k}")
                for ci, p, _ in g:
                    nl.cells[ci][2][p] = onet
                nl.cells.append((f"sqgen_hfn{net_i}_l{depth}_{k}", b.name, {x_pin: onet}))
                types[b.name] = types.get(b.name, 0) + 1
                nxt.append((len(nl.cells) - 1, a_pin, b.input_caps[0]))
            level = nxt
            depth += 1
            if len(level) == 1:
                break
        # the root hangs where ABC's own buffering of the net's other loads starts: walk back
        # through the buffers that drive the net (one more buffer input there costs nothing)
        root, seen = bit, {bit}
        while root in buffered_from and buffered_from[root] not in seen:
            root = buffered_from[root]
            seen.add(root)
        ci, p, _ = level[0]
        nl.cells[ci][2][p] = root
        pins_by: dict[str, int] = {}
        for _, p2, _ in sk:
            pins_by[p2] = pins_by.get(p2, 0) + 1
        records.append({
            "net": nl.names[bit], "driver": drivers.get(bit, "?"),
            "root": nl.names[root], "sinks": len(sk),
            "sink_pins": dict(sorted(pins_by.items(), key=lambda kv: (-kv[1], kv[0]))[:4]),
            "load_pf": round(total * lib.cap_unit_pf, 6), "levels": depth,
            "buffers": sum(types.values()), "cells": dict(sorted(types.items())),
            "area": round(sum(lib.cells[n].area * k for n, k in types.items()), 4),
        })
    records.sort(key=lambda r: (-r["sinks"], r["net"]))
    return records


def _splicer(nl: _Netlist, blks: dict[str, _Block]) -> Any:
    """A path-summary hook for :func:`_analyse`: a path that ends at (starts from) a block
    instance's pin is extended by the block's worst internal path from (to) that pin, so the
    reported end (start) is the register inside the block and the cell counts are whole."""
    inst_type = {inst: typ for inst, typ, _ in nl.cells if typ in blks}

    def pin_of(points: list[dict[str, Any]], inst: str, last: bool) -> str | None:
        pts = [p["pin"] for p in points if p["pin"].startswith(inst + "/")]
        pts = [p.split("/", len(inst.split("/")))[-1] for p in pts]
        pts = [p for p in pts if p != "clk"]
        return (pts[-1] if last else pts[0]) if pts else None

    def splice(sm: dict[str, Any]) -> dict[str, Any]:
        for end, last in (("endpoint", True), ("startpoint", False)):
            inst = sm[end]["name"]
            typ = inst_type.get(inst)
            if typ is None:
                continue
            pin = pin_of(sm["points"], inst, last)
            blk = blks[typ]
            inner = (blk.in_paths if last else blk.out_paths).get(pin or "")
            entry: dict[str, Any] = {"block": typ, "instance": inst, "pin": pin}
            if inner is None:
                sm[end] = {**sm[end], **entry}
                continue
            ip = inner["endpoint" if last else "startpoint"]
            new = {"name": f"{inst}/{ip['name']}", "kind": ip["kind"], **entry}
            if ip.get("register"):
                new["register"] = f"{inst}.{ip['register']}"
            if ip.get("cell"):
                new["cell"] = ip["cell"]
            sm[end] = new
            sm["logic_levels"] += inner["logic_levels"]
            sm["buffers"] += inner["buffers"]
            sm["cells"] = sm["cells"] + inner["cells"] if last else inner["cells"] + sm["cells"]
            sm["inside_block_" + ("end" if last else "start")] = {
                "block": typ, "pin": pin, "logic_levels": inner["logic_levels"],
                "cells": inner["cells"],
                **({"setup_constraint_ns": sm["setup_ns"]} if last else {}),
            }
        return sm

    return splice


def _timing_hier(design_v: str, top: str, blocks: dict[str, int], lib: TimingLibrary, *,
                 job: dict[str, Any], period: float, load_pf: float, wl: str | None,
                 clock_port: str | None, from_ports: list[tuple[str, bool]], n_modules: int,
                 tmp: Path, ex: ThreadPoolExecutor, what: str
                 ) -> tuple[dict[str, Any], str, str, str, dict[str, str], dict[str, float]]:
    """The hierarchical method (see :func:`timing_of_verilog`): returns the ``timing.json``
    data, the top ``sta`` log and script, the top netlist, the files beside it (block
    netlists and ETMs) and the seconds per step."""

    def top_map() -> tuple[Any, float]:
        t = time.perf_counter()
        res = _run_hier_worker({**job, "mode": "top", "blackboxes": sorted(blocks)},
                               design_v, tmp / "top", what)
        return res, time.perf_counter() - t

    fut = ex.submit(top_map)
    blks: dict[str, _Block] = {}
    t_blocks = time.perf_counter()
    try:
        for name in sorted(blocks):
            bt = tmp / f"block_{name}"
            t = time.perf_counter()
            done, js, stat = _run_hier_worker({**job, "mode": "block", "top": name}, design_v,
                                              bt, what)
            ty = time.perf_counter() - t
            blk = _characterize(name, blocks[name], js, stat, lib, period=period,
                                wire_load=wl, load_pf=load_pf, tmp=bt, what=what)
            blk.seconds["yosys"] = round(ty, 3)
            blks[name] = blk
        t_blocks = time.perf_counter() - t_blocks
    finally:
        (done_top, js_top, stat_top), t_top = fut.result()
    macros = {n: _block_ports(js_top, n) for n in blocks}
    for n, blk in blks.items():
        want = {_pin_name(p, i, w) for p, (_, w) in macros[n].items() for i in range(w)}
        if want != set(blk.pin_dir):
            raise TimingError(f"{what}: block {n}'s pins differ between the top and the block")
    nl = _netlist_from_json(js_top, top, lib, macros, block=False, what=what)
    n_macro = sum(1 for _, typ, _ in nl.cells if typ in blks)
    trees = _insert_buffer_trees(nl, lib, blks, wire_load=wl, clock_port=clock_port)
    text = nl.to_verilog()
    tdir = tmp / "top"
    files = {"netlist.v": text}
    for n, blk in blks.items():
        (tdir / f"{n}.lib").write_text(blk.liberty)
        files[f"{n}.lib"] = blk.liberty
        files[f"{n}.v"] = blk.text
        files[f"{n}.sta.tcl"] = blk.script
        files[f"{n}.sta.log"] = blk.log
    (tdir / "netlist.v").write_text(text)
    script = sta_script(top, lib, clock_ns=period, load_pf=load_pf, wire_load=wl,
                        clock_port=clock_port, paths_from=tuple(from_ports),
                        models=tuple(f"{n}.lib" for n in sorted(blks)))
    log, t_sta = _run_sta(script, tdir, what)
    # the whole design's mapped area and cells: the top, every block instance, the trees
    by_type = {k: int(v) for k, v in stat_top.get("num_cells_by_type", {}).items()
               if k not in blks}
    a_top = float(stat_top.get("area", 0.0))
    tot_area, seq_area = a_top, float(stat_top.get("sequential_area", 0.0))
    for n, blk in blks.items():
        k = blocks[n]
        tot_area += k * float(blk.stat.get("area", 0.0))
        seq_area += k * float(blk.stat.get("sequential_area", 0.0))
        for c, v in blk.stat.get("num_cells_by_type", {}).items():
            by_type[c] = by_type.get(c, 0) + k * int(v)
    for r in trees:
        tot_area += r["area"]
        for c, v in r["cells"].items():
            by_type[c] = by_type.get(c, 0) + v
    stat = {"area": tot_area, "sequential_area": seq_area,
            "num_cells": sum(by_type.values()), "num_cells_by_type": by_type}
    data = _analyse(log, text, lib, top=top, period=period, load_pf=load_pf, wire_load=wl,
                    clock_port=clock_port, stat=stat, modules=n_modules,
                    splice=_splicer(nl, blks))
    top_cp = data["critical_path_ns"]
    worst_blk = max(blks.values(), key=lambda b: (b.internal_ns, b.name))
    data["tns_ns"] = round((data["tns_ns"] or 0.0) + sum(b.instances * b.tns_ns
                                                         for b in blks.values()), 4)
    data["critical_path_top_ns"] = top_cp
    if worst_blk.internal is not None and worst_blk.internal_ns > top_cp:
        crit = worst_blk.internal_ns
        cp = {k: v for k, v in worst_blk.internal.items()}
        cp["inside_block"] = {"block": worst_blk.name, "instances": worst_blk.instances}
        data["critical_path"] = cp
        data["critical_path_ns"] = round(crit, 4)
        data["worst_slack_ns"] = round(period - crit, 4)
        data["fmax_mhz"] = round(1000.0 / crit, 3) if crit > 0 else None
        data["met"] = period - crit >= 0.0
    data["timed"] = "hierarchical (top flattened, repeated blocks as timing models)"
    data["modules_flattened"] = n_modules - len(blks)
    data["timed_note"] = (
        "each block (a leaf module repeated at least "
        f"{MIN_BLOCK_INSTANCES} times: {', '.join(sorted(blks))}) is mapped and timed once on "
        "its own and abstracted as an extracted timing model (pin capacitances, setup "
        "constraints of its inputs, clock-to-output arcs of its outputs; its boundary is "
        "registered: no input-to-output path); the rest of the design is flattened and mapped "
        "with the blocks as black boxes; nets that drive many block pins get buffer trees; "
        "sta times the top with the models, and the blocks' own register-to-register paths "
        "are checked in the block runs; Fmax is the worse of the two")
    data["hierarchy"] = {
        "blocks": [{
            "name": b.name, "instances": b.instances, "cells": int(b.stat.get("num_cells", 0)),
            "area": round(float(b.stat.get("area", 0.0)), 4),
            "internal_critical_path_ns": round(b.internal_ns, 4) if b.internal else None,
            "internal_fmax_mhz": (round(1000.0 / b.internal_ns, 3)
                                  if b.internal and b.internal_ns > 0 else None),
            "internal_path": ({k: b.internal[k] for k in
                               ("startpoint", "endpoint", "logic_levels", "buffers", "cells")}
                              if b.internal else None),
            "pins": {"inputs": sum(1 for d in b.pin_dir.values() if d == "input"),
                     "constrained_inputs": len(b.setup), "outputs_with_arcs": len(b.arcs),
                     "outputs": sum(1 for d in b.pin_dir.values() if d == "output")},
            "model": f"{b.name}.lib", "seconds": b.seconds,
        } for b in blks.values()],
        "top": {"cells": int(stat_top.get("num_cells", 0)) - n_macro,
                "area": round(a_top, 4), "block_instances": n_macro},
        "buffer_trees": trees,
        "boundary_constraints": (
            "block inputs: the model's setup constraint, characterized with the input at 0 "
            "delay and a given transition, so at the top each input sees its real driver, "
            "wire load and transition; block outputs: clock-to-output delay and transition "
            "tabled over the real load; block registers: ideal clock, as at the top"),
        "etm_slews_ns": list(ETM_SLEWS_NS), "etm_loads_pf": list(ETM_LOADS_PF),
        "tree_max_fanout": TREE_MAX_FANOUT,
        "tree_max_load_pf": round(TREE_MAX_FANOUT * lib.cap_ref * lib.cap_unit_pf, 6),
    }
    data["synthesis"]["script"] = _hier_worker_script({**job, "mode": "top",
                                                       "blackboxes": sorted(blks)})
    data["synthesis"]["block_script"] = _hier_worker_script({**job, "mode": "block",
                                                             "top": "<block>"})
    steps: dict[str, float] = {}
    for name, secs in done_top["steps"]:
        steps[name] = round(steps.get(name, 0.0) + secs, 3)
    data["synthesis"]["steps_seconds"] = steps
    data["tools"] = {"yosys": stat_top["creator"]}
    seconds = {"yosys": round(t_top, 3), "blocks": round(t_blocks, 3), "sta": round(t_sta, 3)}
    return data, log, script, text, files, seconds


# ---- output ------------------------------------------------------------------------------------
def path_point(p: dict[str, Any]) -> str:
    """A critical path's start or end point as the report prints it: the instance pin, and the
    register it belongs to when it has one."""
    reg = p.get("register")
    return f"{p['name']} ({reg})" if reg else p["name"]


def format_summary(rep: TimingReport) -> str:
    """A few lines: Fmax, slack, critical path, areas (printed by the CLI)."""
    d = rep.data
    cp = d["critical_path"]
    c = d["constraints"]
    lib = d["library"]
    fmax = f"{d['fmax_mhz']:.1f} MHz" if d["fmax_mhz"] else "n/a"

    m = d["area"]["mapped"]
    af = d["area"].get("area_flow")
    unit = m["unit"]
    a_line = f"area: mapped netlist {m['area']:.1f} {unit} ({m['cells']} cells, " \
             f"{m['buffers']} buffers)"
    if af:
        fig = af.get("um2", af["ge"])
        a_line += f"; area flow (hierarchical) {fig:.1f} {unit}"
        if "mapped_vs_area_flow_pct" in d["area"]:
            a_line += f" ({d['area']['mapped_vs_area_flow_pct']:+.1f} %)"
    wl = d["wire_load"]["model"] or "none"
    sec = d["seconds"]
    hier = d.get("hierarchy")
    h_lines = []
    if hier:
        h_lines += [f"block {b['name']} x{b['instances']}: {b['cells']} cells, own worst path "
                    + (f"{b['internal_critical_path_ns']:.3f} ns"
                       if b["internal_critical_path_ns"] is not None else "none")
                    + f" (timing model {b['model']})" for b in hier["blocks"]]
        trees = hier["buffer_trees"]
        if trees:
            t0 = trees[0]
            pins = ", ".join(f"{p} x{k}" for p, k in t0["sink_pins"].items())
            n_buf = sum(t["buffers"] for t in trees)
            h_lines.append(
                f"buffer trees on {len(trees)} nets into the blocks ({n_buf}"
                f" buffers); largest: {t0['net']} -> {t0['sinks']} block pins ({pins}), "
                f"{t0['load_pf'] * 1000:.0f} fF, {t0['levels']} levels, {t0['buffers']} buffers")
    yosys_s = f"yosys {sec['yosys']:.1f} s" + (
        f" (blocks {sec['blocks']:.1f} s beside it)" if "blocks" in sec else "")
    return "\n".join([
        f"timing of {d.get('design', d['top'])} ({d['timed']}), library {lib['name']}, "
        f"wire load {wl}",
        f"clock {c['clock']['period_ns']:g} ns: worst slack {d['worst_slack_ns']:+.3f} ns "
        f"({'met' if d['met'] else 'VIOLATED'}), critical path {d['critical_path_ns']:.3f} ns"
        f" -> Fmax {fmax}",
        f"critical path: {path_point(cp['startpoint'])} -> {path_point(cp['endpoint'])}, "
        f"{cp['logic_levels']} cells ({cp['buffers']} buffers)",
        *[f"worst path from {port}: " + (
            f"{x['path_ns']:.3f} ns (slack {x['slack_ns']:+.3f} ns) to "
            f"{path_point(x['endpoint'])}, "
            f"{x['logic_levels']} cells ({x['buffers']} buffers)" if x else "none")
          for port, x in d.get("paths_from", {}).items()],
        *h_lines,
        a_line,
        (f"from the cache in {sec['total']:.1f} s (computed in {yosys_s}, "
         f"sta {sec['sta']:.1f} s)") if d.get("cached") else
        f"{sec['total']:.1f} s ({yosys_s}, sta {sec['sta']:.1f} s)",
    ])


def format_report(rep: TimingReport) -> str:
    """``timing.rpt``: the constraints, the summary and sta's path report."""
    d = rep.data
    c = d["constraints"]
    lib = d["library"]
    chk = re.search(r"^sqgen-checks-begin\n(.*?)^sqgen-checks-end", rep.sta_log, re.M | re.S)
    clock = c["clock"]
    wl, syn = d["wire_load"], d["synthesis"]
    lines = [
        "sqgen timing report (flow/timing.py, python -m flow timing)",
        "",
        f"design     : {d.get('design', d['top'])} (top {d['top']}); timed: {d['timed']}",
        f"library    : {lib['name']} ({lib['path']})",
        f"             delays: {lib['delay_model']}",
        f"clock      : {clock['name']} on port {clock['port'] or '(virtual)'}, period "
        f"{clock['period_ns']:g} ns, ideal (no clock tree)",
        f"inputs     : {c['input_delay_ns']:g} ns input delay, driven by {c['driving_cell']}/"
        f"{c['driving_pin']}",
        f"outputs    : {c['output_delay_ns']:g} ns output delay, {c['load_pf'] * 1000:g} fF load",
        f"wire load  : {wl['model'] or 'none'} (mode {wl['mode'] or '-'}); {wl['note']}",
        (f"mapping    : yosys synth -flatten, dfflibmap, abc -D {syn['abc_delay_target_ps']:g}"
         f" -script {syn['abc_script']}") if not d.get("hierarchy") else
        (f"mapping    : each block alone, the top flattened with the blocks as black boxes: "
         f"synth -flatten, dfflibmap, abc -D {syn['abc_delay_target_ps']:g} -script "
         f"{syn['abc_script']}; buffer trees on nets into many blocks"),
        "units      : ns (sta's numbers below are in the library's time unit, "
        f"{lib['time_unit_ns']:g} ns)",
        "",
        format_summary(rep),
        "",
        "---- sta: report_checks -path_delay max " + "-" * 40,
        (chk.group(1).rstrip() if chk else "(no path report)"),
        "",
    ]
    for m in re.finditer(r"^sqgen-from-begin (\S+)\n(.*?)^sqgen-from-end", rep.sta_log,
                         re.M | re.S):
        lines += [f"---- sta: report_checks -path_delay max -from {m.group(1)} " + "-" * 20,
                  m.group(2).rstrip() or "(no path)", ""]
    return "\n".join(lines)


def write_report(rep: TimingReport, out_dir: str | Path) -> Path:
    """Write ``timing.json``, ``timing.rpt``, ``sta.log``, ``sta.tcl`` (and the netlist if
    kept) into ``out_dir``, each atomically; returns the ``timing.json`` path."""
    out = Path(out_dir)
    if rep.netlist is not None:
        atomic_write_text(out / "netlist.v", rep.netlist)
        rep.data["files"]["netlist"] = "netlist.v"
    for name, text in sorted(rep.files.items()):
        if name != "netlist.v":
            atomic_write_text(out / name, text)
    if rep.files:
        rep.data["files"]["blocks"] = sorted(n for n in rep.files if n != "netlist.v")
    atomic_write_text(out / "sta.tcl", rep.sta_tcl)
    atomic_write_text(out / "sta.log", rep.sta_log)
    atomic_write_text(out / "timing.rpt", rep.report)
    p = out / "timing.json"
    atomic_write_text(p, json.dumps(rep.data, indent=2) + "\n")
    return p


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        sys.exit(_worker_main(sys.argv[2]))
    print("usage: python -m flow timing ... (this module is the flow's library)", file=sys.stderr)
    sys.exit(2)
