"""Timing flow: timing-driven Yosys/ABC mapping of a flattened design and OpenSTA analysis.

One design point is mapped flat (``synth -flatten``: hierarchical designs such as the pod are
timed as one netlist, so that ABC buffers nets that cross module boundaries -- the pod's global
stall enable, the bank selects -- and sees the cross-boundary constant and width reductions)
in a ``pyosys`` worker process (:data:`WORKER_SCRIPT` lists its commands)::

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
from dataclasses import dataclass, field
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
    "TimingError",
    "TimingLibrary",
    "TimingReport",
    "fit_generic_timing",
    "format_summary",
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
FLOW_VERSION = "1"
#: Seconds the Yosys worker / one ``sta`` run may take (a flat 32x32 pod needs about 6 min).
WORKER_TIMEOUT = 3600
STA_TIMEOUT = 3600
#: Largest clock period accepted, in ns (anything above is a typo).
MAX_CLOCK_NS = 1.0e6
INSTALL_HINT = "install it with: apt-get install -y opensta (make timing does this as root)"


class TimingError(ConfigError):
    """The timing flow could not run on the given input (one readable line; CLI exit 2)."""


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
    cells: dict[str, LibCell] = {}
    for g in lib.children:
        if g.kind != "cell":
            continue
        ca = _own_attrs(text, g)
        try:
            a = float(ca.get("area", "nan"))
        except ValueError:
            a = float("nan")
        ins, outs, funcs, timed = [], [], [], False
        for p in g.children:
            if p.kind != "pin":
                continue
            pa = _own_attrs(text, p)
            d = pa.get("direction", "").strip('"')
            if d == "input":
                ins.append(p.name)
            elif d == "output":
                outs.append(p.name)
                funcs.append(pa.get("function", ""))
                timed = timed or any(t.kind == "timing" for t in p.children)
        seq = any(c.kind in ("ff", "latch", "statetable", "ff_bank") for c in g.children)
        cells[g.name] = LibCell(
            name=g.name, area=a, inputs=tuple(ins), outputs=tuple(outs), functions=tuple(funcs),
            sequential=seq, timed=timed, dont_use=ca.get("dont_use", "") == "true",
        )
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
    return TimingLibrary(
        base=base, time_unit_ns=time_unit_ns, cap_unit_pf=cap_unit_pf, cells=cells,
        buffer=bufs[0].name, driver=(bufs[1] if len(bufs) > 1 else bufs[0]).name,
        tie_hi=hi.name, tie_lo=lo.name, wire_loads=wls, default_wire_load=dwl,
        wire_load_mode=attrs.get("default_wire_load_mode") or None,
    )


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
def worker_script(job: dict[str, Any]) -> list[str]:
    """The Yosys commands of one timing mapping (``job`` as written by :func:`_run_worker`)."""
    top, lib = job["top"], job["liberty"]
    buf, buf_in, buf_out = job["buffer"]
    hi, hi_pin, lo, lo_pin = job["ties"]
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
        f"insbuf -buf {buf} {buf_in} {buf_out}",
        f"tee -q -o stat.json stat -json -liberty {lib}",
        "write_verilog -noattr -noexpr -nohex -nodec netlist.v",
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
               paths_from: tuple[tuple[str, bool], ...] = ()) -> str:
    """The OpenSTA Tcl script (values in the library's units, as ``sta`` expects them).

    ``paths_from`` adds, per ``(input port, is_bus)``, the worst path starting at that port.
    """
    period = clock_ns / lib.time_unit_ns
    load = load_pf / lib.cap_unit_pf
    drv_in, drv_out = lib.pins(lib.driver)
    lines = [
        "# generated by flow/timing.py (sqgen timing flow)",
        f"read_liberty {{{lib.path}}}",
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
) -> TimingReport:
    """Map Verilog ``files`` (name -> text, top module ``top``) flat and time it with ``sta``.

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
    cfile = None
    if cache_dir is not None and not keep_netlist:
        blob = json.dumps([FLOW_VERSION, ABC_SCRIPT, lib.base.sha256, top, design_v, period,
                           wl, load_pf, sta_ver, from_ports])
        cfile = Path(cache_dir) / f"{hashlib.sha256(blob.encode()).hexdigest()}.json"
        hit = _cache_read(cfile)
        if hit is not None:
            data = hit["data"]
            if area_flow:
                area_rep = area.area_of_verilog(vfiles, top, liberty=lib.base,
                                                cache_dir=area_cache, jobs=1)
                _add_area_flow(data, area_rep)
            data["cached"] = True
            data["seconds"]["total"] = round(time.perf_counter() - t_start, 3)
            rep = TimingReport(data=data, report="", sta_log=hit["sta_log"],
                               sta_tcl=hit["sta_tcl"])
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
             stat: dict[str, Any], modules: int) -> dict[str, Any]:
    tu = lib.time_unit_ns
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
        summary = _path_summary(sub, netlist, lib)
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
        "critical_path": _path_summary(path, netlist, lib),
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


# ---- output ------------------------------------------------------------------------------------
def format_summary(rep: TimingReport) -> str:
    """A few lines: Fmax, slack, critical path, areas (printed by the CLI)."""
    d = rep.data
    cp = d["critical_path"]
    c = d["constraints"]
    lib = d["library"]
    fmax = f"{d['fmax_mhz']:.1f} MHz" if d["fmax_mhz"] else "n/a"

    def where(p: dict[str, Any]) -> str:
        reg = p.get("register")
        return f"{p['name']} ({reg})" if reg else p["name"]

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
    return "\n".join([
        f"timing of {d.get('design', d['top'])} ({d['timed']}), library {lib['name']}, "
        f"wire load {wl}",
        f"clock {c['clock']['period_ns']:g} ns: worst slack {d['worst_slack_ns']:+.3f} ns "
        f"({'met' if d['met'] else 'VIOLATED'}), critical path {d['critical_path_ns']:.3f} ns"
        f" -> Fmax {fmax}",
        f"critical path: {where(cp['startpoint'])} -> {where(cp['endpoint'])}, "
        f"{cp['logic_levels']} cells ({cp['buffers']} buffers)",
        *[f"worst path from {port}: " + (
            f"{x['path_ns']:.3f} ns (slack {x['slack_ns']:+.3f} ns) to {where(x['endpoint'])}, "
            f"{x['logic_levels']} cells ({x['buffers']} buffers)" if x else "none")
          for port, x in d.get("paths_from", {}).items()],
        a_line,
        (f"from the cache in {sec['total']:.1f} s (computed in yosys {sec['yosys']:.1f} s, "
         f"sta {sec['sta']:.1f} s)") if d.get("cached") else
        f"{sec['total']:.1f} s (yosys {sec['yosys']:.1f} s, sta {sec['sta']:.1f} s)",
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
        f"mapping    : yosys synth -flatten, dfflibmap, abc -D {syn['abc_delay_target_ps']:g}"
        f" -script {syn['abc_script']}",
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
