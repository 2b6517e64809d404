"""Area flow: hierarchical Yosys synthesis of a generated design to a liberty cell library.

Every *unique* module of a design is synthesized once, in its own ``pyosys`` worker process, and
its area is multiplied by its instance count, so a 32x32 pod costs one PE plus one top level.
Two modules are "the same" when their Verilog is identical up to the module name, the port
order of the header, Amaranth's per-module counter names and the (recursively canonical) names
of the modules they instantiate; Amaranth emits one module per instance, and this is what lets
the flow see through that.

Per module the worker runs::

    read_verilog -lib <children>        (children are black boxes: counted, not re-synthesized)
    read_verilog <module>; hierarchy -check -top M; synth -top M -noabc
    -- transistor path: dfflegalize to plain DFFs; abc -g cmos2 -script S; stat -tech cmos
    -- area path:       dfflibmap -liberty L; abc -liberty L -script S; opt_clean; stat -liberty L

with the ABC script :data:`ABC_SCRIPT`, which leaves out ``&fraig -x`` (Yosys 0.70's default
runs for minutes on multipliers). Workers are separate processes because a Yosys ``ERROR``
terminates the process that hosts libyosys; the parent turns it into a one-line
:class:`AreaError`. Results are cached under ``build/area/cache`` keyed by the canonical module
text, the library contents, the script and :data:`FLOW_VERSION`.

Without a liberty file the flow maps to the project's own ``flow/sqgen_generic.lib`` (areas in
gate equivalents, NAND2 = 1 GE). With one, areas are in that library's unit (µm² for real
libraries) and GE = area / (that library's smallest NAND2 area).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gen.config import ConfigError
from gen.emit import atomic_write_text

__all__ = [
    "ABC_SCRIPT",
    "AreaError",
    "AreaReport",
    "FLOW_VERSION",
    "GENERIC_LIB",
    "Library",
    "ModuleArea",
    "area_of_design",
    "area_of_design_libs",
    "area_of_verilog",
    "area_of_verilog_libs",
    "AreaPlan",
    "assemble_area",
    "plan_area",
    "run_area_job",
    "format_table",
    "ihp_liberty",
    "load_library",
    "split_modules",
]

ROOT = Path(__file__).resolve().parent.parent
GENERIC_LIB = Path(__file__).resolve().with_name("sqgen_generic.lib")
DEFAULT_CACHE = ROOT / "build" / "area" / "cache"
#: ABC script for both mappings: structural hashing, one dc2 rewrite, choice computation and
#: the &nf mapper, area-oriented (-a) since area is all we report. No &fraig (see module doc).
ABC_SCRIPT = "+strash;dc2;&get,-n;&dch,-f;&nf,-a;&put"
#: Bump when the worker's command sequence changes, so that cached results are not reused.
FLOW_VERSION = "1"
#: Seconds a single module's worker may run before the flow gives up.
WORKER_TIMEOUT = 900
#: IHP SG13G2 typical-corner library, relative to the directory holding the repository.
IHP_RELPATH = Path("shared/pdk/ihp-sg13g2/sg13g2_stdcell_typ_1p20V_25C.lib")


class AreaError(ConfigError):
    """The area flow could not run on the given input (one readable line; CLI exit 2)."""


# ---- liberty --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Library:
    """A liberty cell library as the flow uses it.

    ``unit`` is ``"GE"`` for the project's generic library (its areas already are NAND2 units)
    and ``"um2"`` for any other library. ``nand2_area`` converts that library's areas to GE.
    """

    path: Path
    name: str
    sha256: str
    nand2_cell: str
    nand2_area: float
    unit: str
    cells: int

    @property
    def generic(self) -> bool:
        return self.unit == "GE"

    @property
    def tag(self) -> str:
        """Short label used in output directory names and reports."""
        return "generic" if self.generic else self.name


_CELL_RE = re.compile(r'\bcell\s*\(\s*"?([^")\s]+)"?\s*\)\s*\{')
_AREA_RE = re.compile(r"\barea\s*:\s*([-+0-9.eE]+)\s*;")
_FUNC_RE = re.compile(r'\bfunction\s*:\s*"([^"]*)"')
_PIN_RE = re.compile(r'\bpin\s*\(\s*"?([^")\s]+)"?\s*\)\s*\{([^{}]*)')
_NAND2_FUNCS = {"!(a&b)", "(!(a&b))", "!a|!b", "(!a|!b)", "(!a)|(!b)"}


def _norm_func(f: str, inputs: list[str]) -> str:
    s = f.replace(" ", "").replace("*", "&").replace("+", "|")
    # Rename the two inputs to a, b so that any pin naming is recognized (through placeholders,
    # so that a pin already called "A" or "B" cannot collide).
    names = sorted(inputs, key=len, reverse=True)
    for k, old in enumerate(names):
        s = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(old)}(?![A-Za-z0-9_])", f"\x00{k}\x00", s)
    for k in range(len(names)):
        s = s.replace(f"\x00{k}\x00", "ab"[k] if k < 2 else f"p{k}")
    return s.lower()


def load_library(path: str | Path | None = None) -> Library:
    """Check and summarize a liberty file (``None``: the generic library).

    Raises :class:`AreaError` when the file is missing, unreadable, not liberty, has no cell
    with an area, or has no 2-input NAND (needed for the GE unit).
    """
    p = GENERIC_LIB if path is None else Path(path)
    what = f"liberty file {str(p)!r}"
    if not p.exists():
        raise AreaError(f"{what} does not exist")
    if not p.is_file():
        raise AreaError(f"{what} is not a file")
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise AreaError(f"{what}: cannot read: {e.strerror}") from None
    text = raw.decode("utf-8", errors="replace")
    mt = re.search(r'^\s*library\s*\(\s*"?([^")\s]+)"?\s*\)\s*\{', text, re.M)
    if mt is None:
        raise AreaError(f"{what} is malformed: no 'library (name) {{' header")
    if text.count("{") != text.count("}"):
        raise AreaError(
            f"{what} is malformed: {text.count('{')} '{{' against {text.count('}')} '}}'"
        )
    heads = list(_CELL_RE.finditer(text))
    nand2: tuple[float, str] | None = None
    with_area = 0
    for i, h in enumerate(heads):
        body = text[h.end(): heads[i + 1].start() if i + 1 < len(heads) else len(text)]
        am = _AREA_RE.search(body)
        if am is None:
            continue
        try:
            area = float(am.group(1))
        except ValueError:
            raise AreaError(
                f"{what} is malformed: cell {h.group(1)} has area {am.group(1)!r}"
            ) from None
        if not area >= 0 or area == float("inf"):  # also refuses NaN
            raise AreaError(f"{what} is malformed: cell {h.group(1)} has area {area:g} "
                            "(an area must be a finite number >= 0)")
        with_area += 1
        pins = _PIN_RE.findall(body)
        inputs = [n for n, b in pins if re.search(r"direction\s*:\s*\"?input", b)]
        funcs = [_FUNC_RE.search(b) for _, b in pins]
        funcs = [f.group(1) for f in funcs if f is not None]
        seq = re.search(r"\b(ff|latch|statetable)\s*\(", body) is not None
        if len(inputs) == 2 and len(funcs) == 1 and not seq and area > 0:
            if _norm_func(funcs[0], inputs) in _NAND2_FUNCS:
                if nand2 is None or area < nand2[0]:
                    nand2 = (area, h.group(1))
    if with_area == 0:
        raise AreaError(f"{what} is malformed: no cell with an area")
    if nand2 is None:
        raise AreaError(f"{what} has no 2-input NAND cell, which defines the GE unit")
    generic = p.resolve() == GENERIC_LIB
    return Library(
        path=p.resolve(), name=mt.group(1), sha256=hashlib.sha256(raw).hexdigest(),
        nand2_cell=nand2[1], nand2_area=nand2[0], unit="GE" if generic else "um2",
        cells=with_area,
    )


def ihp_liberty(root: str | Path = ROOT) -> Path | None:
    """The IHP SG13G2 typical library beside the repository (``<repo>/../shared/pdk/...``).

    ``$SQGEN_IHP_LIB`` overrides the location. Returns ``None`` when the file is absent.
    """
    env = os.environ.get("SQGEN_IHP_LIB")
    cands = [Path(env)] if env else []
    cands.append(Path(root).resolve().parent / IHP_RELPATH)
    for c in cands:
        if c.is_file():
            return c
    return None


# ---- Verilog modules --------------------------------------------------------------------------
_MOD_RE = re.compile(
    r"^[ \t]*module[ \t]+(\\\S+|[A-Za-z_][\w$]*)(.*?)^[ \t]*endmodule\b", re.M | re.S
)
_INST_RE = re.compile(r"^[ \t]*(\\\S+|[A-Za-z_][\w$]*)[ \t]+(?:#\s*\(.*?\)\s*)?"
                      r"(\\\S+|[A-Za-z_][\w$]*)[ \t]*\(", re.M | re.S)
_AUTO_RE = re.compile(r"dump_module\$\d+")
_HEADER_RE = re.compile(r"\A\s*\(([^()]*)\)\s*;")


@dataclass
class VerilogModule:
    """One module's source text and the modules it instantiates (by specific name)."""

    name: str
    text: str
    body: str
    children: dict[str, int] = field(default_factory=dict)


def _plain(name: str) -> str:
    return name[1:] if name.startswith("\\") else name


def split_modules(files: Mapping[str, str]) -> dict[str, VerilogModule]:
    """Split Verilog texts into modules, with each module's child instance counts.

    This is a lexical split that suits generated Verilog (``module ... endmodule`` at line
    starts); Yosys does the real parsing in the workers.
    """
    mods: dict[str, VerilogModule] = {}
    for fname, text in files.items():
        if not fname.endswith((".v", ".sv")):
            continue
        for mt in _MOD_RE.finditer(text):
            name = _plain(mt.group(1))
            if name in mods:
                raise AreaError(f"{fname}: module {name} is defined twice")
            mods[name] = VerilogModule(name=name, text=mt.group(0), body=mt.group(2))
    for m in mods.values():
        for inst in _INST_RE.finditer(m.body):
            child = _plain(inst.group(1))
            if child in mods and child != m.name:
                m.children[child] = m.children.get(child, 0) + 1
    return mods


def _canonical(mods: dict[str, VerilogModule]) -> dict[str, str]:
    """Module name -> class id (hash of its text up to names, bottom-up through children)."""
    cls: dict[str, str] = {}
    canon: dict[str, str] = {}
    state: dict[str, int] = {}

    def visit(name: str) -> str:
        if name in cls:
            return cls[name]
        if state.get(name) == 1:
            raise AreaError(f"module {name} instantiates itself (recursive hierarchy)")
        state[name] = 1
        m = mods[name]
        child_ids = {c: visit(c) for c in m.children}
        body = m.body
        hm = _HEADER_RE.match(body)
        if hm:  # port order in the header carries no meaning with named connections
            ports = sorted(p.strip() for p in hm.group(1).split(",") if p.strip())
            body = "(" + ", ".join(ports) + ");" + body[hm.end():]
        body = _AUTO_RE.sub("dump_module$N", body)

        def sub_child(mt: re.Match[str]) -> str:
            c = _plain(mt.group(1))
            if c in child_ids:
                return mt.group(0).replace(mt.group(1), "\\@" + child_ids[c], 1)
            return mt.group(0)

        body = _INST_RE.sub(sub_child, body)
        canon[name] = body
        cls[name] = hashlib.sha256(body.encode()).hexdigest()[:16]
        state[name] = 2
        return cls[name]

    for n in sorted(mods):
        visit(n)
    return cls


# ---- worker -------------------------------------------------------------------------------------
def _worker_script(job: Mapping[str, Any]) -> list[str]:
    top, script = job["top"], job["script"]
    cmds = []
    if job.get("has_deps"):
        cmds.append("read_verilog -lib deps.v")
    cmds += [
        "read_verilog design.v",
        f"hierarchy -check -top {top}",
        f"synth -top {top} -noabc" + (" -flatten" if job.get("flat") else ""),
        "design -save gates",
        # stat -tech cmos knows plain DFFs only: turn reset/enable flops into DFF + logic.
        "dfflegalize -cell $_DFF_P_ 01 -cell $_DFF_PN0_ 01 -cell $_DFF_PN1_ 01",
        f"abc -g cmos2 -script {script}",
        "opt_clean",
        "tee -q -o cmos.json stat -json -tech cmos",
    ]
    # One generic synthesis, then a mapping per library: with two libraries this saves the
    # synth and transistor passes of the second one (about a third of the time).
    for i, lib in enumerate(job["liberties"]):
        cmds += [
            "design -load gates",
            f"dfflibmap -liberty {lib}",
            f"abc -liberty {lib} -script {script}",
            "opt_clean",
            f"tee -q -o lib{i}.json stat -json -liberty {lib}",
        ]
    return cmds


def _worker_main(jobdir: str) -> int:
    """Entry point of a worker process: run the Yosys commands of ``jobdir/job.json``."""
    from pyosys import libyosys as ys

    os.chdir(jobdir)
    job = json.loads(Path("job.json").read_text())
    d = ys.Design()
    t0 = time.perf_counter()
    for c in _worker_script(job):
        ys.run_pass(c, d)
    Path("done.json").write_text(json.dumps({"seconds": time.perf_counter() - t0}))
    return 0


def yosys_error(log: str) -> str:
    """The first ``ERROR:`` line of a Yosys log (else its last line), for one-line messages."""
    for line in log.splitlines():
        if "ERROR:" in line:
            return line[line.index("ERROR:") + 6:].strip()
    tail = [ln for ln in log.splitlines() if ln.strip()][-1:]
    return tail[0].strip() if tail else "no output"


def _stat_module(stat: dict[str, Any], top: str) -> dict[str, Any]:
    mods = stat.get("modules", {})
    for key in (f"\\{top}", top):
        if key in mods:
            return mods[key]
    raise AreaError(f"yosys stat has no module {top} (found {', '.join(mods)})")


def _run_worker(job: dict[str, Any], design_v: str, deps_v: str, what: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sqgen-area-") as tmp:
        t = Path(tmp)
        (t / "design.v").write_text(design_v)
        if deps_v:
            (t / "deps.v").write_text(deps_v)
        job = {**job, "has_deps": bool(deps_v)}
        (t / "job.json").write_text(json.dumps(job))
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        t0 = time.perf_counter()
        try:
            res = subprocess.run(
                [sys.executable, "-m", "flow.area", "--worker", str(t)],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                timeout=WORKER_TIMEOUT, cwd=tmp,
            )
        except subprocess.TimeoutExpired:
            raise AreaError(f"{what}: yosys did not finish in {WORKER_TIMEOUT} s") from None
        wall = time.perf_counter() - t0
        if res.returncode != 0 or not (t / "done.json").exists():
            raise AreaError(f"{what}: yosys failed: {yosys_error(res.stdout)}")
        libs = [_stat_module(json.loads((t / f"lib{i}.json").read_text()), job["top"])
                for i in range(len(job["liberties"]))]
        cmos = _stat_module(json.loads((t / "cmos.json").read_text()), job["top"])
    return {"libs": libs, "cmos": cmos, "seconds": wall}


# ---- results ----------------------------------------------------------------------------------
@dataclass
class ModuleArea:
    """Synthesis result of one unique module (its own logic only, children excluded)."""

    name: str
    class_id: str
    instances: int
    names: int
    cells: int
    cells_by_type: dict[str, int]
    area: float
    sequential_area: float
    ge: float
    transistors: int
    transistors_exact: bool
    children: dict[str, int]
    seconds: float
    cached: bool

    def to_json(self, lib: Library) -> dict[str, Any]:
        d: dict[str, Any] = {
            "module": self.name,
            "class_id": self.class_id,
            "instances": self.instances,
            "equivalent_names": self.names,
            "cells": self.cells,
            "ge": round(self.ge, 4),
            "sequential_ge": round(self.sequential_area / lib.nand2_area, 4),
            "transistors": self.transistors,
            "transistors_exact": self.transistors_exact,
            "cells_by_type": dict(sorted(self.cells_by_type.items())),
            "children": dict(sorted(self.children.items())),
            "synth_seconds": round(self.seconds, 3),
            "cached": self.cached,
        }
        if not lib.generic:
            d["um2"] = round(self.area, 4)
        return d


@dataclass
class AreaReport:
    """Area of one design: per unique module and totals (instance counts applied)."""

    top: str
    library: Library
    flat: bool
    modules: list[ModuleArea]
    seconds: float
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def ge(self) -> float:
        return sum(m.ge * m.instances for m in self.modules)

    @property
    def area(self) -> float:
        """Total in library units (GE for the generic library, µm² otherwise)."""
        return sum(m.area * m.instances for m in self.modules)

    @property
    def um2(self) -> float | None:
        return None if self.library.generic else self.area

    @property
    def cells(self) -> int:
        return sum(m.cells * m.instances for m in self.modules)

    @property
    def transistors(self) -> int:
        return sum(m.transistors * m.instances for m in self.modules)

    @property
    def cells_by_type(self) -> dict[str, int]:
        """Cell counts of the whole design by cell type (instance counts applied)."""
        out: dict[str, int] = {}
        for m in self.modules:
            for t, n in m.cells_by_type.items():
                out[t] = out.get(t, 0) + n * m.instances
        return out

    def module(self, name_or_class: str) -> ModuleArea:
        for m in self.modules:
            if name_or_class in (m.name, m.class_id):
                return m
        raise KeyError(name_or_class)

    def to_json(self) -> dict[str, Any]:
        lib = self.library
        tot: dict[str, Any] = {
            "cells": self.cells,
            "ge": round(self.ge, 4),
            "transistors": self.transistors,
            "transistors_exact": all(m.transistors_exact for m in self.modules),
        }
        if not lib.generic:
            tot["um2"] = round(self.area, 4)
        return {
            "top": self.top,
            "mode": "flat" if self.flat else "hierarchical",
            "library": {
                "name": lib.name, "path": str(lib.path), "sha256": lib.sha256,
                "unit": lib.unit, "nand2_cell": lib.nand2_cell, "nand2_area": lib.nand2_area,
            },
            "abc_script": ABC_SCRIPT,
            "flow_version": FLOW_VERSION,
            **self.meta,
            "modules": [m.to_json(lib) for m in self.modules],
            "total": tot,
            "wall_seconds": round(self.seconds, 3),
        }


def _transistors(cmos: Mapping[str, Any], children: Mapping[str, int]) -> tuple[int, bool]:
    est = str(cmos.get("estimated_num_transistors", "0"))
    n = int(re.match(r"\d*", est).group(0) or 0)
    # A trailing '+' means some cells have no CMOS cost; black-box children are expected ones.
    unknown = {
        t for t in cmos.get("num_cells_by_type", {})
        if t not in _CMOS_KNOWN and _plain(t) not in children
    }
    return n, not unknown


_CMOS_KNOWN = {
    "$_BUF_", "$_NOT_", "$_AND_", "$_NAND_", "$_OR_", "$_NOR_", "$_ANDNOT_", "$_ORNOT_",
    "$_XOR_", "$_XNOR_", "$_AOI3_", "$_OAI3_", "$_AOI4_", "$_OAI4_", "$_MUX_", "$_NMUX_",
    "$_DFF_P_", "$_DFF_N_",
}


def _cache_key(canon_id: str, lib: Library, flat: bool) -> str:
    # The class id hashes the module text up to names, children included (see _canonical).
    blob = json.dumps([FLOW_VERSION, ABC_SCRIPT, lib.sha256, canon_id, flat])
    return hashlib.sha256(blob.encode()).hexdigest()


def area_of_verilog(
    files: Mapping[str, str],
    top: str,
    *,
    liberty: str | Path | Library | None = None,
    flat: bool = False,
    cache_dir: str | Path | None = DEFAULT_CACHE,
    jobs: int | None = None,
) -> AreaReport:
    """Synthesize Verilog ``files`` (name -> text) with top module ``top`` and report area.

    Hierarchical by default (unique modules once, times their instance counts); ``flat=True``
    flattens the whole design first, so cross-boundary optimization is included.
    ``cache_dir=None`` disables the result cache. Raises :class:`AreaError`.
    """
    return area_of_verilog_libs(files, top, [liberty], flat=flat, cache_dir=cache_dir,
                                jobs=jobs)[0]


def area_of_verilog_libs(
    files: Mapping[str, str],
    top: str,
    liberties: list[str | Path | Library | None],
    *,
    flat: bool = False,
    cache_dir: str | Path | None = DEFAULT_CACHE,
    jobs: int | None = None,
) -> list[AreaReport]:
    """:func:`area_of_verilog` for several libraries at once, one report per library.

    Each unique module is synthesized once and then mapped to every library that is not
    already cached, in the same worker.
    """
    t0 = time.perf_counter()
    plan = plan_area(files, top, liberties, flat=flat)
    n_jobs = jobs or min(len(plan.jobs), os.cpu_count() or 1)
    if n_jobs > 1 and len(plan.jobs) > 1:
        with ThreadPoolExecutor(max_workers=n_jobs) as ex:
            results = list(ex.map(lambda j: run_area_job(j, cache_dir), plan.jobs))
    else:
        results = [run_area_job(j, cache_dir) for j in plan.jobs]
    return assemble_area(plan, results, seconds=time.perf_counter() - t0)


@dataclass
class AreaPlan:
    """What :func:`plan_area` found: the unique module classes of a design and one
    synthesis job per class (:func:`run_area_job`), in class order."""

    top: str
    libs: list[Library]
    flat: bool
    cls: dict[str, str]
    rep: dict[str, str]
    groups: dict[str, list[str]]
    jobs: list[dict[str, Any]]


def plan_area(files: Mapping[str, str], top: str,
              liberties: list[str | Path | Library | None], *, flat: bool = False) -> AreaPlan:
    """Split a design into its unique module classes, one synthesis job each.

    A job (a plain dict, picklable) carries the module's Verilog, its children's (black
    boxes), the libraries and its cache keys; jobs of equal modules have equal ``keys``
    whatever design they come from, which is what lets a scheduler run each once
    (:mod:`flow.dse`). Raises :class:`AreaError`.
    """
    libs = [lb if isinstance(lb, Library) else load_library(lb) for lb in liberties]
    mods = split_modules(files)
    top = _plain(top)
    if not mods:
        raise AreaError(f"design {top}: no Verilog module found (the design does not parse)")
    if top not in mods:
        raise AreaError(f"design {top}: top module {top} not found in the Verilog")
    cls = _canonical(mods)

    # Reachable modules from the top, grouped by class; a representative per class.
    reach: list[str] = []
    stack, seen = [top], set()
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        reach.append(n)
        stack.extend(sorted(mods[n].children))
    groups: dict[str, list[str]] = {}
    if flat:
        groups[cls[top]] = [top]
    else:
        for n in reach:
            groups.setdefault(cls[n], []).append(n)
    rep = {c: (top if c == cls[top] else sorted(ns)[0]) for c, ns in groups.items()}

    def job_for(c: str) -> dict[str, Any]:
        name = rep[c]
        if flat:
            design_v = "\n".join(mods[n].text for n in sorted(reach))
            deps_v = ""
            children: dict[str, int] = {}
        else:
            design_v = mods[name].text
            deps_v = "\n".join(mods[ch].text for ch in sorted(mods[name].children))
            children = dict(mods[name].children)
        return {"class": c, "name": name, "design_v": design_v, "deps_v": deps_v,
                "keys": [_cache_key(c, lib, flat) for lib in libs],
                "liberties": [str(lib.path) for lib in libs], "flat": flat,
                "children": children,
                "children_cls": {ch: cls[ch] for ch in children}, "what": f"design {top}"}

    return AreaPlan(top, libs, flat, cls, rep, groups, [job_for(c) for c in sorted(groups)])


def run_area_job(j: Mapping[str, Any], cache_dir: str | Path | None = DEFAULT_CACHE
                 ) -> list[dict[str, Any]]:
    """Synthesize one module job of :func:`plan_area` (or read it from the cache): one
    result per library of the job."""
    libs = j["liberties"]
    cdir = None if cache_dir is None else Path(cache_dir)
    outs: list[dict[str, Any] | None] = [None] * len(libs)
    if cdir is not None:
        for i, key in enumerate(j["keys"]):
            f = cdir / f"{key}.json"
            if f.exists():
                try:
                    outs[i] = {**json.loads(f.read_text()), "cached": True}
                except (OSError, ValueError):
                    pass  # a damaged cache entry is recomputed
    todo = [i for i, o in enumerate(outs) if o is None]
    if not todo:
        return outs  # type: ignore[return-value]
    r = _run_worker(
        {"top": j["name"], "liberties": [libs[i] for i in todo], "script": ABC_SCRIPT,
         "flat": j["flat"]},
        j["design_v"], j["deps_v"], what=f"{j['what']}, module {j['name']}",
    )
    child_names = j["children"]
    trans, exact = _transistors(r["cmos"], child_names)
    for i, libm in zip(todo, r["libs"], strict=True):
        by_type = {
            t: n for t, n in libm.get("num_cells_by_type", {}).items()
            if _plain(t) not in child_names
        }
        children_yosys = {
            _plain(t): n for t, n in libm.get("num_cells_by_type", {}).items()
            if _plain(t) in child_names
        }
        # Yosys is the judge of what is instantiated; the lexical split must agree.
        if children_yosys != dict(child_names):
            raise AreaError(
                f"{j['what']}, module {j['name']}: instances found by yosys "
                f"{children_yosys} differ from the Verilog scan {dict(child_names)}"
            )
        out = {
            "cells": sum(by_type.values()),
            "cells_by_type": by_type,
            "area": float(libm.get("area", 0.0)),
            "sequential_area": float(libm.get("sequential_area", 0.0)),
            "transistors": trans,
            "transistors_exact": exact,
            "children_by_class": _by_class(children_yosys, j["children_cls"]),
            "seconds": r["seconds"],
        }
        if cdir is not None:
            cdir.mkdir(parents=True, exist_ok=True)
            key = j["keys"][i]
            tmpf = cdir / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp"
            tmpf.write_text(json.dumps(out, sort_keys=True))
            os.replace(tmpf, cdir / f"{key}.json")
        outs[i] = {**out, "cached": False}
    return outs  # type: ignore[return-value]


def assemble_area(plan: AreaPlan, results: list[list[dict[str, Any]]], *,
                  seconds: float = 0.0, skip: set[str] | frozenset[str] = frozenset()
                  ) -> list[AreaReport]:
    """Reports (one per library) from the results of every job of ``plan``, in job order.
    ``skip``: class ids counted as nothing (a block costed otherwise, e.g. a buffer taken
    by SRAM macros); their instances still appear, with zero area."""
    out = []
    for i, lib in enumerate(plan.libs):
        res = {}
        for j, r in zip(plan.jobs, results, strict=True):
            e = r[i]
            if j["class"] in skip:
                e = {**e, "cells": 0, "cells_by_type": {}, "area": 0.0, "sequential_area": 0.0,
                     "transistors": 0}
            res[j["class"]] = e
        out.append(_assemble(plan.top, lib, plan.flat, plan.cls, plan.rep, plan.groups, res,
                             seconds))
    return out


def _assemble(top: str, lib: Library, flat: bool, cls: Mapping[str, str],
              rep: Mapping[str, str], groups: Mapping[str, list[str]],
              res: Mapping[str, dict[str, Any]], wall: float) -> AreaReport:
    # Instance counts: the top once, each child class times its parent's count (DAG order).
    inst: dict[str, int] = {}
    order = _topo(cls[top], {c: res[c]["children_by_class"] for c in res})
    for c in order:
        inst.setdefault(c, 0)
    inst[cls[top]] = 1
    for c in order:
        for ch, n in res[c]["children_by_class"].items():
            inst[ch] = inst.get(ch, 0) + inst[c] * n
    modules = []
    for c in order:
        r = res[c]
        modules.append(ModuleArea(
            name=rep[c], class_id=c, instances=inst[c], names=len(groups[c]),
            cells=r["cells"], cells_by_type=r["cells_by_type"], area=r["area"],
            sequential_area=r["sequential_area"], ge=r["area"] / lib.nand2_area,
            transistors=r["transistors"], transistors_exact=r["transistors_exact"],
            children={rep[k]: v for k, v in r["children_by_class"].items()},
            seconds=r["seconds"], cached=r["cached"],
        ))
    return AreaReport(top=top, library=lib, flat=flat, modules=modules, seconds=wall)


def _by_class(children: Mapping[str, int], cls: Mapping[str, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for n, k in children.items():
        out[cls[n]] = out.get(cls[n], 0) + k
    return out


def _topo(root: str, edges: Mapping[str, Mapping[str, int]]) -> list[str]:
    """Parents before children (reverse post-order of a DFS from ``root``)."""
    post: list[str] = []
    seen: set[str] = set()

    def dfs(n: str) -> None:
        seen.add(n)
        for ch in sorted(edges.get(n, {})):
            if ch not in seen:
                dfs(ch)
        post.append(n)

    dfs(root)
    return post[::-1]


def area_of_design(design: Any, **kw: Any) -> AreaReport:
    """:func:`area_of_verilog` for a :class:`gen.emit.Design` (its Verilog files and top)."""
    files = {n: t for n, t in design.files.items() if n.endswith((".v", ".sv"))}
    return area_of_verilog(files, design.top, **kw)


def area_of_design_libs(design: Any, liberties: list[Any], **kw: Any) -> list[AreaReport]:
    """:func:`area_of_verilog_libs` for a :class:`gen.emit.Design`."""
    files = {n: t for n, t in design.files.items() if n.endswith((".v", ".sv"))}
    return area_of_verilog_libs(files, design.top, liberties, **kw)


def format_table(rep: AreaReport) -> str:
    """Human-readable per-module table with totals."""
    lib = rep.library
    um = not lib.generic
    head = f"{'module':<40} {'inst':>6} {'cells':>8} {'GE/inst':>10}"
    head += f" {'um2/inst':>11}" if um else ""
    head += f" {'transistors':>11} {'GE total':>12} {'share':>6}"
    lines = [
        f"area of {rep.top} ({'flat' if rep.flat else 'hierarchical'}), library {lib.name}"
        f" (NAND2 = {lib.nand2_cell}, {lib.nand2_area:g} {lib.unit})",
        head,
        "-" * len(head),
    ]
    total = rep.ge or 1.0
    for m in rep.modules:
        name = m.name if len(m.name) <= 40 else "..." + m.name[-37:]
        row = f"{name:<40} {m.instances:>6} {m.cells:>8} {m.ge:>10.1f}"
        row += f" {m.area:>11.1f}" if um else ""
        row += f" {m.transistors:>11} {m.ge * m.instances:>12.1f}"
        row += f" {100 * m.ge * m.instances / total:>5.1f}%"
        lines.append(row)
    lines.append("-" * len(head))
    tail = f"{'total':<40} {'':>6} {rep.cells:>8} {'':>10}"
    tail += f" {rep.area:>11.1f}" if um else ""
    tail += f" {rep.transistors:>11} {rep.ge:>12.1f}"
    lines.append(tail)
    cached = sum(m.cached for m in rep.modules)
    lines.append(
        f"{len(rep.modules)} unique module(s), {cached} from cache, {rep.seconds:.2f} s"
    )
    return "\n".join(lines)


def write_report(rep: AreaReport, out_dir: str | Path) -> Path:
    """Write ``out_dir/area.json`` (atomically) and return its path."""

    p = Path(out_dir) / "area.json"
    atomic_write_text(p, json.dumps(rep.to_json(), indent=2) + "\n")
    return p


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        sys.exit(_worker_main(sys.argv[2]))
    print("usage: python -m gen area ... (this module is the flow's library)", file=sys.stderr)
    sys.exit(2)
