"""Design-space exploration on Dask: SOSA's pod-granularity study on synthesized silicon.

``python -m flow.dse --sweep configs/sweeps/granularity.yaml`` (``make dse``) takes a sweep file
(pod size x format x sparsity x network x partition size x pod count, or a power / area budget)
and, per design point, generates the FP32-in/FP32-out engine, synthesizes it (Yosys, per unique
module), times its pod and shell blocks (OpenSTA), estimates its power, costs the buffers (IHP
SRAM macros) and the networks (synthesized switches), runs the fast multi-pod cycle model
(:mod:`golden.scaleout`) on a workload suite and reports effective TOPS, TOPS/W, TOPS/mm² and
utilization. The method, its estimates and its limits are in ``docs/dse.md``.

Tasks are per unique piece of hardware, each a Dask task whose key is a hash of what it
computes (the piece's parameters, the library, the tool and flow versions), so a PE, a row,
a converter or a switch shared by many points is computed once per sweep, and across sweeps
through the content-addressed cache (``build/dse/cache``):

* ``engine``: generate one engine; its modules go out as ``area`` tasks (one per unique
  module, :func:`flow.area.plan_area`), whose results it assembles;
* ``pod-timing``, ``block-timing``: the timing flow on the pod (hierarchical: the PE once as a
  block model) and on the shell's converter and normalizer;
* ``switch``: one network switch shape synthesized and timed at two widths (a switch is a
  register and a multiplexer per bit, so area and power are linear in its bits);
* ``calibrate``: the power flow's gate-level run (random GEMM on the 8x8 HBFP6 pod, checked
  against golden) that scales the cell-count power model (:func:`cell_energies`);
* ``point``: the system's figures from the above, with the budget's pod count.

A ``LocalCluster`` is started unless ``DASK_SCHEDULER=tcp://host:8786`` names a scheduler; the
dashboard address is printed, a progress bar counts points, a failing point is reported with
its error while the rest go on. Results: ``build/dse/<sweep>/results.parquet`` and
``report.md`` (:mod:`flow.dse_report`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from flow import area, power, sram, timing
from gen.cli import run_main
from gen.config import ConfigError, DesignConfig
from gen.emit import atomic_write_text
from gen.targets import generate
from golden.facts import HBFP_FORMATS
from golden.scaleout import NETWORKS, SystemGeometry, evaluate_workload
from golden.workloads import WORKLOADS, workload

__all__ = [
    "DSE_VERSION", "DseError", "Sweep", "Point", "load_sweep", "cell_energies",
    "model_power_mw", "calibrated_power_mw", "task_calibrate", "task_pod_power",
    "switch_counts", "run_sweep", "main",
]

ROOT = area.ROOT
DEFAULT_OUT = ROOT / "build" / "dse"
#: Bump when a task's computation changes: every cached result is then recomputed.
DSE_VERSION = "1"
DEFAULT_SWEEP = ROOT / "configs" / "sweeps" / "granularity.yaml"
#: Datapath formats a sweep may name (HBFP with or without N:M, and the two baselines).
FORMATS = (*HBFP_FORMATS, "int8", "fp32")
#: Activity of the cell-count power model's data pins (the power flow's vectorless default);
#: the calibration absorbs how far real activity is from it.
MODEL_ACTIVITY = power.VECTORLESS_ACTIVITY
#: Load (pF) on a cell output in the cell-count model: two sink pins and their wire, a fanout
#: the mapped datapaths average (docs/dse.md).
MODEL_FANOUT = 2
#: Widths (data bits) at which each switch shape is synthesized for the linear fit.
SWITCH_FIT_WIDTHS = (32, 256)
#: Largest pod count a budget search considers.
MAX_PODS = 1 << 16
#: Most words an activation or weight bank may have (deeper: the point fails, as the tile
#: compiler refuses a partition that does not fit its bank).
MAX_BANK_WORDS = 1 << 17
#: DRAM bandwidth and bytes per element of the workload bound (SOSA's defaults).
DRAM_BYTES_PER_S = 1.2e12
DRAM_BYTES_PER_WORD = 1.0
SWEEP_KEYS = {"name", "pod", "format", "sparsity", "network", "partition", "pods", "budget",
              "workloads", "clock_ns"}


class DseError(ConfigError):
    """A bad sweep file or option: one line, exit 2."""


# ---- sweep files -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Point:
    """One design point of a sweep (``pods`` = 0: the budget decides)."""

    rows: int
    cols: int
    format: str
    sparsity: str | None
    net: str
    expand: int
    part: int
    pods: int

    @property
    def label(self) -> str:
        sp = f"/{self.sparsity}" if self.sparsity else ""
        net = self.net + (f"-e{self.expand}" if self.expand else "")
        n = f"x{self.pods}" if self.pods else ""
        return f"{self.rows}x{self.cols}{n} {self.format}{sp} {net} P{self.part}"


@dataclass(frozen=True)
class Sweep:
    """A parsed sweep file."""

    name: str
    points: tuple[Point, ...]
    budget_w: float | None
    budget_mm2: float | None
    workloads: tuple[str, ...]
    clock_ns: float | None
    skipped: tuple[str, ...] = ()
    source: str = ""


def _list(v: Any) -> list[Any]:
    return list(v) if isinstance(v, list | tuple) else [v]


def _parse_pod(v: Any, what: str) -> tuple[int, int]:
    s = str(v).strip().lower()
    parts = s.split("x")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise DseError(f"{what}: pod {v!r} is not RxC (e.g. 32x32)")
    r, c = int(parts[0]), int(parts[1])
    if r < 2 or c < 1 or r > 256 or c > 256:
        raise DseError(f"{what}: pod {v!r} is out of range (2..256 x 1..256)")
    return r, c


def _parse_net(v: Any, what: str) -> tuple[str, int]:
    s = str(v).strip().lower()
    kind, _, e = s.partition("-e")
    if kind not in NETWORKS or (e and not e.isdigit()):
        raise DseError(f"{what}: network {v!r} is not one of {', '.join(NETWORKS)} "
                       "(Butterfly with expansion: butterfly-e1 .. butterfly-e4)")
    ex = int(e or 0)
    if ex and kind != "butterfly" or ex > 4:
        raise DseError(f"{what}: network {v!r}: an expansion -e1..-e4 is a Butterfly's")
    return kind, ex


def _yaml_loader() -> Any:
    """A safe YAML loader without YAML 1.1's base-60 integers, which read ``2:4`` as 124."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    int_tag = "tag:yaml.org,2002:int"
    Loader.yaml_implicit_resolvers = {
        k: [(t, rx) for t, rx in v if t != int_tag]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    Loader.add_implicit_resolver(int_tag, re.compile(
        r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
        list("-+0123456789"))
    return Loader


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep file (YAML, keys in docs/dse.md); refuses with one line."""
    import yaml

    p = Path(path)
    what = f"sweep file {str(path)!r}"
    if not p.is_file():
        raise DseError(f"{what} does not exist")
    try:
        doc = yaml.load(p.read_text(), Loader=_yaml_loader())  # noqa: S506 (safe subclass)
    except yaml.YAMLError as e:
        raise DseError(f"{what} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise DseError(f"{what} must be a mapping of keys ({', '.join(sorted(SWEEP_KEYS))})")
    bad = sorted(set(doc) - SWEEP_KEYS)
    if bad:
        raise DseError(f"{what}: unknown key {bad[0]!r} (known: {', '.join(sorted(SWEEP_KEYS))})")
    name = str(doc.get("name") or p.stem)
    if not name.replace("-", "").replace("_", "").isalnum():
        raise DseError(f"{what}: name {name!r} must be letters, digits, - and _")
    pods_sz = [_parse_pod(v, what) for v in _list(doc.get("pod", ["32x32"]))]
    fmts = [str(f).lower() for f in _list(doc.get("format", ["hbfp6"]))]
    for f in fmts:
        if f not in FORMATS:
            raise DseError(f"{what}: format {f!r} is not one of {', '.join(FORMATS)}")
    sps: list[str | None] = []
    for s in _list(doc.get("sparsity", ["dense"])):
        s = str(s).strip().lower()
        if s in ("dense", "none", "1:1"):
            sps.append(None)
            continue
        n, _, m = s.partition(":")
        if not (n.isdigit() and m.isdigit() and 0 < int(n) < int(m)):
            raise DseError(f"{what}: sparsity {s!r} is not dense or N:M (e.g. 2:4)")
        sps.append(s)
    nets = [_parse_net(v, what) for v in _list(doc.get("network", ["butterfly"]))]
    parts = []
    for v in _list(doc.get("partition", [64])):
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 4096:
            raise DseError(f"{what}: partition {v!r} must be a row count 1..4096")
        parts.append(v)
    pods_v = doc.get("pods", "budget")
    counts: list[int] = []
    if pods_v != "budget":
        for v in _list(pods_v):
            if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= MAX_PODS:
                raise DseError(f"{what}: pods {v!r} must be 'budget' or pod counts "
                               f"1..{MAX_PODS}")
            counts.append(v)
    budget = doc.get("budget") or {}
    if not isinstance(budget, dict) or set(budget) - {"power_w", "area_mm2"}:
        raise DseError(f"{what}: budget must be {{power_w: W}} and/or {{area_mm2: mm2}}")
    bw, ba = budget.get("power_w"), budget.get("area_mm2")
    for v, k in ((bw, "power_w"), (ba, "area_mm2")):
        if v is not None and (not isinstance(v, int | float) or isinstance(v, bool) or v <= 0):
            raise DseError(f"{what}: budget {k} {v!r} must be a positive number")
    if not counts and bw is None and ba is None:
        raise DseError(f"{what}: pods: budget needs a budget (power_w or area_mm2)")
    wls = [str(w) for w in _list(doc.get("workloads", list(WORKLOADS)))]
    for w in wls:
        if w not in WORKLOADS:
            raise DseError(f"{what}: workload {w!r} is not one of {', '.join(WORKLOADS)}")
    clk = doc.get("clock_ns")
    if clk is not None:
        try:
            clk = timing.check_clock(clk, f"{what}: clock_ns")
        except timing.TimingError as e:
            raise DseError(str(e)) from None
    pts, skipped = [], []
    for (r, c) in pods_sz:
        for f in fmts:
            for sp in sps:
                if sp and f not in HBFP_FORMATS:
                    skipped.append(f"{r}x{c} {f}/{sp}: the {f} baseline has no N:M datapath")
                    continue
                for kind, ex in nets:
                    for part in parts:
                        for n in counts or [0]:
                            pts.append(Point(r, c, f, sp, kind, ex, part, n))
    # check each distinct engine and geometry once, naming what the user typed
    for pt in {(p.rows, p.cols, p.format, p.sparsity, p.part): p for p in pts}.values():
        try:
            DesignConfig(**{**_engine_kw(pt), "tile": pt.part})
        except ConfigError as e:
            raise DseError(f"{what}: {pt.label}: {e}") from None
    for pt in pts:
        try:
            SystemGeometry(max(pt.pods, 2), pt.rows, pt.cols, pt.part, pt.net, pt.expand,
                           _nm(pt.sparsity))
        except ConfigError as e:
            raise DseError(f"{what}: {pt.label}: {e}") from None
    if not pts:
        raise DseError(f"{what}: no design point (every combination was skipped)")
    return Sweep(name, tuple(dict.fromkeys(pts)), None if bw is None else float(bw),
                 None if ba is None else float(ba), tuple(wls), clk, tuple(skipped), str(p))


def _nm(sp: str | None) -> tuple[int, int]:
    if not sp:
        return (1, 1)
    n, m = sp.split(":")
    return int(n), int(m)


#: Output-buffer height the engines are synthesized with. A partition size changes the engine's
#: logic only in its row counters, so one synthesis serves every partition: the buffer itself
#: is costed as an SRAM of ``part`` rows, and the schedule is the cycle model's.
ENGINE_TILE = 64


def _engine_kw(pt: Point) -> dict[str, Any]:
    return {"rows": pt.rows, "cols": pt.cols, "format": pt.format, "sparsity": pt.sparsity,
            "tile": ENGINE_TILE}


# ---- environment and cache ----------------------------------------------------------------------
@dataclass(frozen=True)
class Env:
    """What every task needs besides its parameters (picklable, sent to the workers)."""

    liberty: str | None          #: liberty path (None: the generic library)
    lib_sha: str
    lib_generic: bool
    versions: tuple[tuple[str, str], ...]
    cache: str                   #: root of the DSE cache and of the flows' caches

    def key(self, kind: str, params: Any) -> str:
        blob = json.dumps([DSE_VERSION, kind, params, self.lib_sha, self.versions],
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    @property
    def flow_caches(self) -> dict[str, Path]:
        c = Path(self.cache)
        return {"area": c / "area", "timing": c / "timing", "power": c / "power"}


def make_env(liberty: str | None, cache: str | Path) -> Env:
    lib = area.load_library(liberty)
    try:
        sta = timing.sta_version()
    except timing.TimingError as e:
        raise DseError(str(e)) from None
    from importlib.metadata import version  # pyosys's is the area flow's Yosys
    versions = (("pyosys", version("pyosys")), ("sta", sta),
                ("area_flow", area.FLOW_VERSION), ("timing_flow", timing.FLOW_VERSION),
                ("power_flow", power.POWER_FLOW_VERSION), ("amaranth", version("amaranth")))
    return Env(None if lib.generic else str(lib.path), lib.sha256, lib.generic, versions,
               str(Path(cache).resolve()))


def _cached(env: Env, kind: str, params: Any, fn: Callable[[], dict[str, Any]]
            ) -> dict[str, Any]:
    """``fn()`` once per ``(kind, params, env)``: the result is kept as JSON in the cache."""
    key = env.key(kind, params)
    f = Path(env.cache) / "dse" / kind / f"{key}.json"
    try:
        return {**json.loads(f.read_text()), "cached": True}
    except (OSError, ValueError):
        pass
    t0 = time.perf_counter()
    out = fn()
    out["seconds"] = round(time.perf_counter() - t0, 3)
    atomic_write_text(f, json.dumps(out, sort_keys=True))
    return {**out, "cached": False}


def task_key(env: Env, kind: str, params: Any) -> str:
    """The Dask key of a task: equal hardware, equal key, one computation per sweep."""
    return f"{kind}-{env.key(kind, params)[:20]}"


# ---- the cell-count power model ----------------------------------------------------------------
def cell_energies(lib: power.PowerLibrary, *, activity: float = MODEL_ACTIVITY,
                  fanout: int = MODEL_FANOUT) -> dict[str, tuple[float, float]]:
    """Per cell: (pJ per clock cycle, leakage mW) at ``activity`` transitions per cycle on
    every data pin.

    Per output transition: the mean internal energy of its arcs at a 0.1 ns input transition
    and a load of ``fanout`` mean input pins, plus ``C V^2 / 2`` of that load; per input
    transition its pin-level internal energy; a flip-flop's clock pin toggles twice a cycle
    (its pin-level groups, rise and fall, and ``C V^2`` of its pin). Connectivity-free, so it
    is scaled by :func:`calibrate`'s factor against a gate-level run.
    """
    caps = [pi.cap_pf for c in lib.cells.values() for pi in c.pins.values()
            if pi.direction == "input" and not pi.clock and pi.cap_pf > 0]
    cin = sum(caps) / len(caps) if caps else 0.002
    load = fanout * cin
    v2 = lib.voltage ** 2
    out: dict[str, tuple[float, float]] = {}
    for name, c in lib.cells.items():
        e = 0.0
        for o in c.outputs:
            arcs = c.arcs(o)
            vals = []
            for gs in arcs.values():
                g = next((x for x in gs if x.when is None), gs[0])
                tabs = [t for t in (g.rise, g.fall) if t is not None]
                if tabs:
                    vals.append(sum(float(t.lookup(0.1, load)) for t in tabs) / len(tabs))
            e += activity * ((sum(vals) / len(vals) if vals else 0.0) + 0.5 * load * v2)
        for pin in c.inputs:
            gs = c.pin_groups(pin)
            if not gs:
                continue
            g = next((x for x in gs if x.when is None), gs[0])
            tabs = [t for t in (g.rise, g.fall) if t is not None]
            per = sum(float(t.lookup(0.1, 0.0)) for t in tabs)
            if c.pins[pin].clock:
                e += per + c.pins[pin].cap_pf * v2
            else:
                e += activity * per / max(1, len(tabs))
        out[name] = (e, c.leakage_mw)
    return out


def model_power_mw(cells_by_type: Mapping[str, float], energies: Mapping[str, tuple[float, float]],
                   mhz: float) -> dict[str, float]:
    """Dynamic and leakage mW of a cell mix at ``mhz`` (the uncalibrated model)."""
    dyn = leak = 0.0
    for t, n in cells_by_type.items():
        e = energies.get(t.lstrip("\\").lstrip("$"))
        if e is None:
            continue  # a cell the power library lacks (a black box: costed elsewhere)
        dyn += n * e[0] * mhz * 1e-3   # pJ x MHz = uW
        leak += n * e[1]
    return {"dynamic_mw": dyn, "leakage_mw": leak}


def calibrated_power_mw(cells_by_type: Mapping[str, float],
                        energies: Mapping[str, tuple[float, float]], mhz: float,
                        factor: float) -> float:
    """Total mW of a cell mix at ``mhz``: the model's dynamic power times the calibration
    ``factor`` (:func:`task_calibrate`), plus leakage."""
    mp = model_power_mw(cells_by_type, energies, mhz)
    return factor * mp["dynamic_mw"] + mp["leakage_mw"]


#: Power libraries parsed in this process, by (path, sha256): parsing IHP's liberty takes
#: 1.6 s, which every point paid again (a third of the points' time on a worker).
_POWER_LIBS: dict[tuple[str | None, str], power.PowerLibrary] = {}


def _power_lib(env: Env) -> power.PowerLibrary:
    key = (env.liberty, env.lib_sha)
    if key not in _POWER_LIBS:
        _POWER_LIBS[key] = power.load_power_library(env.liberty)
    return _POWER_LIBS[key]


# ---- tasks -------------------------------------------------------------------------------------
def _run_local_or_dask(fn: Callable[..., Any], items: list[tuple[str, tuple]], *,
                       priority: int = 0) -> list[Any]:
    """Run ``fn(*args)`` for each ``(key, args)``: as Dask tasks with those keys (and Dask
    ``priority``) when called on a worker (so equal keys from other points are the same task),
    else in this process."""
    try:
        from distributed import get_worker, worker_client
        get_worker()
    except (ImportError, ValueError):
        return [fn(*a) for _, a in items]
    with worker_client() as client:
        futs = [client.submit(fn, *a, key=k, pure=False, priority=priority)
                for k, a in items]
        return client.gather(futs)


def _area_module(job: dict[str, Any], cache: str) -> list[dict[str, Any]]:
    return area.run_area_job(job, cache)


def task_engine(spec: dict[str, Any], env: Env) -> dict[str, Any]:
    """Generate one engine and synthesize it per unique module (``area`` subtasks)."""

    def compute() -> dict[str, Any]:
        t0 = time.perf_counter()
        design = generate("engine", DesignConfig(**spec))
        t_gen = time.perf_counter() - t0
        files = {n: t for n, t in design.files.items() if n.endswith((".v", ".sv"))}
        plan = area.plan_area(files, design.top, [env.liberty])
        cache = str(env.flow_caches["area"])
        # the output buffer is an SRAM (costed from the macros), not flip-flops: not synthesized
        buf = {j["class"] for j in plan.jobs if j["name"].endswith("_buffer")}
        todo = [j for j in plan.jobs if j["class"] not in buf]
        got = dict(zip((j["class"] for j in todo), _run_local_or_dask(_area_module, [
            (f"area-{j['keys'][0][:20]}", (j, cache)) for j in todo],
            priority=task_priority("engine", spec)), strict=True))
        empty = {"cells": 0, "cells_by_type": {}, "area": 0.0, "sequential_area": 0.0,
                 "transistors": 0, "transistors_exact": True, "children_by_class": {},
                 "seconds": 0.0, "cached": True}
        res = [got.get(j["class"], [empty] * len(plan.libs)) for j in plan.jobs]
        rep = area.assemble_area(plan, res, skip=buf)[0]
        cells: dict[str, float] = {}
        pe_area = 0.0
        for m in rep.modules:
            for t, n in m.cells_by_type.items():
                cells[t] = cells.get(t, 0) + n * m.instances
            if m.name.endswith("_pe"):
                pe_area += m.area * m.instances
        man = design.manifest
        ob = man.get("output_buffer") or {}
        return {
            "top": design.top, "area": rep.area, "ge": rep.ge, "cells": rep.cells,
            "cells_by_type": cells, "pe_area": pe_area,
            "modules": [{"name": m.name, "instances": m.instances, "area": m.area,
                         "cached": m.cached} for m in rep.modules],
            "unique_modules": len(plan.jobs), "gen_seconds": round(t_gen, 3),
            "buffer": {"depth": int(ob.get("rows", spec["tile"])),
                       "width": int(ob.get("word_bits", 32 * spec["cols"]))},
            "area_keys": sorted(j["keys"][0] for j in todo),
            "act_width": _payload_width(man, "act"), "w_width": _payload_width(man, "w"),
            "res_width": _payload_width(man, "res"),
        }

    return _cached(env, "engine", spec, compute)


def _payload_width(man: Mapping[str, Any], port: str) -> int:
    for p in man.get("ports", []):
        if p.get("name") == f"{port}__payload":
            return int(p["width"])
    raise DseError(f"engine manifest has no {port}__payload port")


def task_pod_timing(spec: dict[str, Any], env: Env) -> dict[str, Any]:
    """Fmax of one pod (the timing flow, hierarchical: the PE timed once as a block)."""

    def compute() -> dict[str, Any]:
        cfg = DesignConfig(**spec)
        if cfg.format in HBFP_FORMATS:
            design = generate("pod", cfg)
            files, top = dict(design.files), design.top
        else:  # the baseline arrays exist inside their engine only: time its pod module
            design = generate("engine", DesignConfig(**spec, tile=ENGINE_TILE))
            files, top = dict(design.files), f"{design.top}_pod"
        rep = timing.timing_of_verilog(files, top, liberty=env.liberty, area_flow=False,
                                       cache_dir=env.flow_caches["timing"])
        d = rep.data
        return {"fmax_mhz": d.get("fmax_mhz"), "critical_path_ns": d.get("critical_path_ns"),
                "timed": d.get("timed"),
                "path": {k: (d.get("critical_path") or {}).get(k)
                         for k in ("startpoint", "endpoint", "logic_levels")}}

    return _cached(env, "pod-timing", spec, compute)


def task_block_timing(target: str, spec: dict[str, Any], env: Env) -> dict[str, Any]:
    """Fmax of one engine-shell block (``convert`` or ``normalize``)."""

    def compute() -> dict[str, Any]:
        rep = timing.timing_of_design(generate(target, DesignConfig(**spec)),
                                      liberty=env.liberty, area_flow=False,
                                      cache_dir=env.flow_caches["timing"])
        return {"fmax_mhz": rep.data.get("fmax_mhz"),
                "critical_path_ns": rep.data.get("critical_path_ns")}

    return _cached(env, "block-timing", [target, spec], compute)


def task_switch(shape: tuple[int, int], env: Env) -> dict[str, Any]:
    """One switch shape (k inputs x m outputs) synthesized and timed at two widths: area and
    cell mix per bit (a linear fit) and Fmax (the wider one's)."""

    def compute() -> dict[str, Any]:
        from gen.cmd_network import generate_network

        k, m = shape
        # the smallest network holding a k x m node: a 2-port crossbar for 2x2, a 2-port
        # Butterfly with two planes for the plane split (1x2) and merge (2x1)
        kind, ports, ex = ("crossbar", 2, 0) if (k, m) == (2, 2) else ("butterfly", 2, 1)
        fits = []
        for w in SWITCH_FIT_WIDTHS:
            d = generate_network(kind=kind, ports=ports, width=w, expand=ex,
                                 name=f"dse_net{w}")
            rep = area.area_of_design(d, liberty=env.liberty,
                                      cache_dir=env.flow_caches["area"])
            mod = next((x for x in rep.modules if f"_sw{k}x{m}_" in x.name), None)
            if mod is None:
                raise DseError(f"no {k}x{m} switch in the {kind} network")
            # <top>_sw<k>x<m>_<bits>[_b<dest bits>_<rule>] (hw.network.Switch.key)
            bits = int(mod.name.split(f"_sw{k}x{m}_", 1)[1].split("_", 1)[0])
            t = timing.timing_of_design(d, liberty=env.liberty, area_flow=False,
                                        cache_dir=env.flow_caches["timing"])
            fits.append({"bits": bits, "area": mod.area, "cells_by_type": mod.cells_by_type,
                         "fmax_mhz": t.data.get("fmax_mhz")})
        return {"shape": [k, m], "fits": fits}

    return _cached(env, "switch", list(shape), compute)


#: The calibration run: the power flow's gate-level simulation of this pod.
CALIBRATION_POD = {"rows": 4, "cols": 4, "format": "hbfp6"}


def task_calibrate(env: Env) -> dict[str, Any]:
    """Factor of the cell-count model against the power flow's gate-level figure (random GEMM
    on the :data:`CALIBRATION_POD`, bit-exact against golden) at that pod's Fmax."""

    def compute() -> dict[str, Any]:
        cfg = DesignConfig(**CALIBRATION_POD)
        design = generate("pod", cfg)
        wl = power.pod_workload("random", power.pod_geometry(cfg))
        rep = power.power_of_design(design, workload=wl, liberty=env.liberty,
                                    cache_dir=env.flow_caches["power"])
        d = rep.data
        mhz = float(d["clock"]["mhz"])
        ar = area.area_of_design(design, liberty=env.liberty,
                                 cache_dir=env.flow_caches["area"])
        model = model_power_mw(ar.cells_by_type, cell_energies(_power_lib(env)), mhz)
        return {"measured_dynamic_mw": d["dynamic_mw"], "measured_leakage_mw": d["leakage_mw"],
                "measured_total_mw": d["total_mw"], "pj_per_mac": d["pj_per_mac"],
                "vectorless_mw": d["vectorless"]["total_mw"], "mhz": mhz,
                "model_dynamic_mw": model["dynamic_mw"], "model_leakage_mw": model["leakage_mw"],
                "factor": d["dynamic_mw"] / model["dynamic_mw"] if model["dynamic_mw"] else 1.0,
                "equivalence": d.get("equivalence", {}).get("result", "checked")}

    return _cached(env, "calibrate", CALIBRATION_POD, compute)


def task_pod_power(spec: dict[str, Any], env: Env) -> dict[str, Any]:
    """The power flow's gate-level figure of one pod (``spec``: DesignConfig keywords): a
    random GEMM simulated on its flat mapped netlist, bit-exact against golden, at that
    netlist's Fmax. Cached like every task."""

    def compute() -> dict[str, Any]:
        cfg = DesignConfig(**spec)
        wl = power.pod_workload("random", power.pod_geometry(cfg))
        rep = power.power_of_design(generate("pod", cfg), workload=wl, liberty=env.liberty,
                                    cache_dir=env.flow_caches["power"])
        d = rep.data
        return {"total_mw": d["total_mw"], "dynamic_mw": d["dynamic_mw"],
                "leakage_mw": d["leakage_mw"], "pj_per_mac": d["pj_per_mac"],
                "mhz": float(d["clock"]["mhz"]), "vectorless_mw": d["vectorless"]["total_mw"],
                "utilization": d["activity"]["workload"].get("utilization"),
                "cycles": d["activity"]["cycles"],
                "equivalence_ok": bool(d["equivalence"]["ok"]),
                "equivalence": d["equivalence"]["against"]}

    return _cached(env, "pod-power", spec, compute)


# ---- system figures ---------------------------------------------------------------------------
def switch_counts(kind: str, pods: int, expand: int = 0) -> dict[tuple[int, int], int]:
    """Switch nodes by shape of a network of ``pods`` ports (closed forms of
    :func:`golden.network.topology`, which a test checks; they hold past its 1,024 ports)."""
    n = max(1, (pods - 1).bit_length())
    if kind == "butterfly":
        out = {(2, 2): (1 << expand) * pods // 2 * n}
        if expand:
            out[(1, 2)] = out[(2, 1)] = pods * ((1 << expand) - 1)
        return out
    if kind == "benes":
        return {(2, 2): pods // 2 * (2 * n - 1)}
    raise DseError(f"the sweep costs Butterfly and Benes networks from their switches; "
                   f"a {kind} is not modelled (its one N x N switch grows as N^2)")


def _lin(fits: list[dict[str, Any]], key: str, bits: float) -> float:
    (b0, v0), (b1, v1) = ((f["bits"], f[key]) for f in fits)
    return v0 + (v1 - v0) * (bits - b0) / (b1 - b0)


def _switch_cost(sw: dict[str, Any], bits: float, energies: Mapping, mhz: float,
                 k: float) -> tuple[float, float]:
    """(area, mW) of one switch of ``bits`` bits from its two-width fit."""
    fits = sw["fits"]
    a = _lin(fits, "area", bits)
    pw = []
    for f in fits:
        pw.append({"bits": f["bits"],
                   "p": calibrated_power_mw(f["cells_by_type"], energies, mhz, k)})
    return a, _lin(pw, "p", bits)


@dataclass
class SystemCost:
    pods: int
    area: float            #: library units (um^2, or GE with the generic library)
    power_mw: float
    parts: dict[str, float] = field(default_factory=dict)


def bank_words(pt: Point, workloads: Sequence[str]) -> dict[str, int]:
    """Words per bank so that one partition's streams fit (the tile compiler's condition):
    activations ``min(part, M) x folds``, weights ``R x folds`` (one weight tile's folds),
    results ``part``, over every GEMM of the workloads. Raises :class:`DseError` beyond
    :data:`MAX_BANK_WORDS`."""
    n, m = _nm(pt.sparsity)
    kf = pt.rows // n * m
    act = w = 1
    for name in workloads:
        for g in workload(name):
            folds = -(-g.K // kf)
            act, w = max(act, min(pt.part, g.M) * folds), max(w, pt.rows * folds)
    if max(act, w) > MAX_BANK_WORDS:
        raise DseError(f"{pt.label}: a partition needs {act:,} activation-bank words (weights "
                       f"{w:,}), more than the {MAX_BANK_WORDS:,} a bank may have")
    return {"act": act, "w": w, "res": pt.part}


def system_cost(pt: Point, pods: int, eng: dict[str, Any], switches: Mapping[tuple, dict],
                energies: Mapping, k: float, mhz: float, macros: list,
                workloads: Sequence[str], *, generic: bool) -> SystemCost:
    """Area and power of ``pods`` engines, their banks and the three networks at ``mhz``."""
    node_mw = calibrated_power_mw(eng["cells_by_type"], energies, mhz, k)
    period = 1000.0 / mhz
    banks_area = banks_mw = 0.0
    # per pod: activation, weight and result banks (one port: the host fills them before the
    # run, the readers or the writer use them during it) and the engine's output buffer (two
    # ports: a read and a write every cycle), ``part`` rows of it
    bank = bank_words(pt, workloads)
    bufs = [("act", bank["act"], eng["act_width"], 1.0, 0.0, 1),
            ("w", bank["w"], eng["w_width"], min(1.0, pt.rows / pt.part), 0.0, 1),
            ("res", bank["res"], eng["res_width"], 0.0, 1.0, 1),
            ("obuf", pt.part, eng["buffer"]["width"], 1.0, 1.0, 2)]
    for _, depth, width, rd, wr, ports in bufs:
        mp = sram.map_buffer(depth, width, ports=ports, macros=macros)
        if mp is None:
            continue
        banks_area += mp["area_um2"]
        banks_mw += power.sram_power(mp, period_ns=period, reads_per_cycle=rd,
                                     writes_per_cycle=wr, macros=macros)["total_mw"]
    net_area = net_mw = 0.0
    dest = max(1, (pods - 1).bit_length())
    for width in (eng["act_width"], eng["w_width"], eng["res_width"]):
        bits = 2 * dest + width
        for shape, count in switch_counts(pt.net, pods, pt.expand).items():
            a, p = _switch_cost(switches[shape], bits, energies, mhz, k)
            net_area += count * a
            net_mw += count * p
    # SRAM areas are um^2; with the generic library (GE) they are left out of the total
    sram_in = 1.0 if macros and not generic else 0.0
    tot_area = pods * (eng["area"] + sram_in * banks_area) + net_area
    tot_mw = pods * (node_mw + banks_mw) + net_mw
    return SystemCost(pods, tot_area, tot_mw, {
        "node_area": eng["area"], "node_mw": node_mw, "sram_area_per_pod": banks_area,
        "sram_mw_per_pod": banks_mw, "network_area": net_area, "network_mw": net_mw,
        "act_bank_words": bank["act"], "w_bank_words": bank["w"]})


def task_point(pt_d: dict[str, Any], eng: dict[str, Any], pod_t: dict[str, Any],
               blocks: list[dict[str, Any]], switches: dict[str, dict[str, Any]],
               calib: dict[str, Any], sweep_d: dict[str, Any], env: Env) -> dict[str, Any]:
    """The figures of one design point (the pod count from the budget when asked)."""
    pt = Point(**pt_d)

    def compute() -> dict[str, Any]:
        sw = {tuple(v["shape"]): v for v in switches.values()}
        fm = [pod_t["fmax_mhz"], *(b["fmax_mhz"] for b in blocks),
              *(f["fmax_mhz"] for v in sw.values() for f in v["fits"])]
        fm = [f for f in fm if f]
        if sweep_d["clock_ns"]:
            mhz = 1000.0 / sweep_d["clock_ns"]
        elif fm:
            mhz = min(fm)
        else:
            raise DseError(f"{pt.label}: no Fmax from the timing flow")
        energies = cell_energies(_power_lib(env))
        macros = sram.sram_macros()
        k = float(calib["factor"])
        bw, ba = sweep_d["budget_w"], sweep_d["budget_mm2"]
        wls = sweep_d["workloads"]
        unit_mm2 = 1e-6 if not env.lib_generic else None

        def fits(c: SystemCost) -> bool:
            if bw is not None and c.power_mw / 1000.0 > bw:
                return False
            if ba is not None and unit_mm2 is not None and c.area * unit_mm2 > ba:
                return False
            return True

        if pt.pods:
            pods = pt.pods
            cost = system_cost(pt, pods, eng, sw, energies, k, mhz, macros, wls,
                               generic=env.lib_generic)
        else:
            cost, n = None, 2
            while n <= MAX_PODS:
                c = system_cost(pt, n, eng, sw, energies, k, mhz, macros, wls,
                                generic=env.lib_generic)
                if not fits(c):
                    break
                cost, n = c, n * 2
            if cost is None:
                raise DseError(f"{pt.label}: not even two pods fit the budget")
            pods = cost.pods
        geo = SystemGeometry(pods, pt.rows, pt.cols, pt.part, pt.net, pt.expand,
                             _nm(pt.sparsity), bank_words=bank_words(pt, wls)["act"])
        per_wl, macs, secs = {}, 0, 0.0
        for w in wls:
            r = evaluate_workload(workload(w), geo, freq_hz=mhz * 1e6,
                                  dram_bytes_per_s=DRAM_BYTES_PER_S,
                                  bytes_per_word=DRAM_BYTES_PER_WORD)
            per_wl[w] = {"utilization": r["utilization"], "effective_tops": r["effective_tops"],
                         "seconds": r["seconds"]}
            macs += r["macs"]
            secs += r["seconds"]
        eff_tops = 2 * macs / secs / 1e12
        peak_tops = 2 * geo.macs_per_cycle * mhz * 1e6 / 1e12
        watts = cost.power_mw / 1000.0
        mm2 = cost.area * unit_mm2 if unit_mm2 else None
        return {
            **pt_d, "label": pt.label, "pods": pods, "fmax_mhz": mhz,
            "fmax_limit": _limit(pod_t, blocks, sw, mhz),
            "peak_tops": peak_tops, "effective_tops": eff_tops,
            "utilization": eff_tops / peak_tops, "power_w": watts,
            "area": cost.area, "area_mm2": mm2,
            "tops_per_w": eff_tops / watts if watts else None,
            "tops_per_mm2": eff_tops / mm2 if mm2 else None,
            "tops_per_mge": None if mm2 else eff_tops / (cost.area / 1e6),
            "per_workload": per_wl, "parts": cost.parts,
            "node_ge": eng["ge"], "pe_area_share": eng["pe_area"] / eng["area"],
            "calibration_factor": k,
        }

    # the dependencies are functions of the point and env, so these name the result
    return _cached(env, "point", {"point": pt_d, "sweep": sweep_d}, compute)


def _limit(pod_t: dict, blocks: list[dict], sw: dict, mhz: float) -> str:
    if abs((pod_t.get("fmax_mhz") or 0) - mhz) < 1e-9:
        return "pod"
    for b in blocks:
        if abs((b.get("fmax_mhz") or 0) - mhz) < 1e-9:
            return "shell"
    return "switch" if sw else "clock"


# ---- the sweep on Dask -------------------------------------------------------------------------
def _pod_spec(pt: Point) -> dict[str, Any]:
    return {"rows": pt.rows, "cols": pt.cols, "format": pt.format, "sparsity": pt.sparsity}


def _block_specs(pt: Point) -> list[tuple[str, dict[str, Any]]]:
    """The engine-shell blocks timed beside the pod (HBFP's converter and normalizer)."""
    if pt.format not in HBFP_FORMATS:
        return []
    n, m = _nm(pt.sparsity)
    block = pt.rows // n * m
    spec = {"rows": pt.rows, "cols": pt.cols, "format": pt.format, "block_size": block}
    return [("convert", spec), ("normalize", spec)]


def _point_shapes(pt: Point) -> set[tuple[int, int]]:
    """Switch shapes of a point's networks (none for a network the model does not cost: the
    point then fails alone, with that reason)."""
    try:
        return set(switch_counts(pt.net, 4, pt.expand))
    except DseError:
        return set()


def _shapes(sweep: Sweep) -> list[tuple[int, int]]:
    out: set[tuple[int, int]] = set()
    for pt in sweep.points:
        out |= _point_shapes(pt)
    return sorted(out)


@dataclass
class SweepResult:
    rows: list[dict[str, Any]]
    failed: list[dict[str, str]]
    seconds: float
    tasks: dict[str, int]
    dashboard: str | None
    workers: int
    calibration: dict[str, Any] | None


def task_priority(kind: str, params: Any) -> int:
    """Dask priority of a task (higher runs first): the calibration and the switches first
    (every point needs them, and they are short), then the largest pods' engines (with their
    area subtasks) and timings, so that the longest tasks do not start last and leave one
    worker idle at the end (it cost a fifth of the two-worker sweep's time)."""
    if kind in ("calibrate", "switch"):
        return 1 << 30
    if kind in ("engine", "pod-timing"):
        return int(params["rows"]) * int(params["cols"])
    if kind == "block-timing":  # [target, spec]: the converter of block k is about a k x k pod
        return int(params[1].get("block_size", 16)) ** 2
    return 0


def run_sweep(sweep: Sweep, env: Env, *, scheduler: str | None = None, workers: int = 2,
              progress: bool = True, log: Callable[[str], None] = print) -> SweepResult:
    """Run every point of ``sweep`` on a Dask cluster (``scheduler`` address, else a fresh
    ``LocalCluster`` of ``workers`` single-threaded processes)."""
    from distributed import Client, LocalCluster, as_completed

    t0 = time.perf_counter()
    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as e:
            raise DseError(f"DASK_SCHEDULER={scheduler}: cannot connect ({e})") from None
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=40)
        client = Client(cluster)
    try:
        dash = client.dashboard_link
        log(f"dask: {len(client.scheduler_info()['workers'])} workers, "
            f"dashboard {dash}")
        sweep_d = {"budget_w": sweep.budget_w, "budget_mm2": sweep.budget_mm2,
                   "workloads": list(sweep.workloads), "clock_ns": sweep.clock_ns}
        tasks: dict[str, int] = {}

        def submit(kind: str, params: Any, fn: Callable, *args: Any) -> Any:
            tasks[kind] = tasks.get(kind, 0) + 1
            return client.submit(fn, *args, key=task_key(env, kind, params), pure=False,
                                 priority=task_priority(kind, params))

        futs: dict[str, Any] = {}

        def once(kind: str, params: Any, fn: Callable, *args: Any) -> Any:
            k = task_key(env, kind, params)
            if k not in futs:
                futs[k] = submit(kind, params, fn, *args)
            return futs[k]

        calib = once("calibrate", CALIBRATION_POD, task_calibrate, env)
        switches = {f"{s[0]}x{s[1]}": once("switch", list(s), task_switch, s, env)
                    for s in _shapes(sweep)}
        point_futs = {}
        for pt in sweep.points:
            spec = _engine_kw(pt)
            eng = once("engine", spec, task_engine, spec, env)
            pod_t = once("pod-timing", _pod_spec(pt), task_pod_timing, _pod_spec(pt), env)
            blocks = [once("block-timing", [t, s], task_block_timing, t, s, env)
                      for t, s in _block_specs(pt)]
            shapes = _point_shapes(pt)
            sw = {k: v for k, v in switches.items()
                  if tuple(int(x) for x in k.split("x")) in shapes}
            pd = asdict(pt)
            f = client.submit(task_point, pd, eng, pod_t, blocks, sw, calib, sweep_d, env,
                              key=task_key(env, "point", [pd, sweep_d]), pure=False)
            tasks["point"] = tasks.get("point", 0) + 1
            point_futs[f.key] = (pt, f)
        rows, failed = [], []
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=len(point_futs), unit="point", desc=f"dse {sweep.name}",
                       file=sys.stderr, dynamic_ncols=True)
        for f in as_completed([f for _, f in point_futs.values()]):
            pt, _ = point_futs[f.key]
            if f.status == "finished":
                rows.append(f.result())
            else:
                err = f.exception()
                msg = str(err).splitlines()[0] if str(err) else type(err).__name__
                failed.append({"label": pt.label, "error": f"{type(err).__name__}: {msg}"})
                log(f"point {pt.label} failed: {failed[-1]['error']}")
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        cal = None
        if calib.status == "finished":
            cal = calib.result()
        # identical modules across engines are one area task: count them
        slots, unique = 0, set()
        for k, f in futs.items():
            if k.startswith("engine-") and f.status == "finished":
                ks = f.result().get("area_keys", [])
                slots += len(ks)
                unique |= set(ks)
        tasks["area modules (unique)"] = len(unique)
        tasks["area modules (per engine, summed)"] = slots
        n_workers = len(client.scheduler_info()["workers"])
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    order = {p.label: i for i, p in enumerate(sweep.points)}
    rows.sort(key=lambda r: order.get(r["label"], 0))
    return SweepResult(rows, failed, time.perf_counter() - t0, tasks, dash, n_workers, cal)


# ---- output ------------------------------------------------------------------------------------
COLUMNS = ("label", "rows", "cols", "format", "sparsity", "net", "expand", "part", "pods",
           "fmax_mhz", "fmax_limit", "peak_tops", "effective_tops", "utilization", "power_w",
           "area", "area_mm2", "tops_per_w", "tops_per_mm2", "tops_per_mge", "node_ge",
           "pe_area_share", "calibration_factor")


def write_parquet(res: SweepResult, sweep: Sweep, path: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols: dict[str, list[Any]] = {c: [r.get(c) for r in res.rows] for c in COLUMNS}
    for w in sweep.workloads:
        cols[f"util_{w}"] = [r["per_workload"][w]["utilization"] for r in res.rows]
        cols[f"tops_{w}"] = [r["per_workload"][w]["effective_tops"] for r in res.rows]
    cols["error"] = [None] * len(res.rows)
    for f in res.failed:
        for c in cols:
            cols[c].append(f["label"] if c == "label" else f["error"] if c == "error" else None)
    table = pa.table(cols)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m flow.dse",
        description="Design-space sweep on Dask: generate, synthesize, time and cost every "
        "point, run the multi-pod cycle model on a workload suite, write Parquet and a report.")
    ap.add_argument("--sweep", default=os.environ.get("SWEEP") or str(DEFAULT_SWEEP),
                    help="sweep file (YAML; docs/dse.md), default configs/sweeps/granularity.yaml")
    ap.add_argument("--scheduler", default=os.environ.get("DASK_SCHEDULER") or None,
                    help="Dask scheduler address (default: $DASK_SCHEDULER, else a LocalCluster)")
    ap.add_argument("--workers", default=os.environ.get("WORKERS") or "2",
                    help="LocalCluster worker processes (default 2)")
    ap.add_argument("--liberty", default=os.environ.get("LIBERTY") or None,
                    help="liberty file (default: IHP SG13G2 when present, else the generic)")
    ap.add_argument("--out", default=os.environ.get("OUT") or str(DEFAULT_OUT),
                    help="output folder (default build/dse; results in <out>/<sweep name>/)")
    ap.add_argument("--cache", default=None,
                    help="cache folder (default <out>/cache): delete it for a cold run")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    ap.set_defaults(func=_run)
    return run_main(ap, list(argv) if argv is not None else None)


def _run(args: argparse.Namespace) -> int:
    try:
        workers = int(args.workers)
    except ValueError:
        raise DseError(f"--workers {args.workers!r} must be a whole number 1..64") from None
    if not 1 <= workers <= 64:
        raise DseError(f"--workers {workers} must be 1..64")
    sweep = load_sweep(args.sweep)
    lib = args.liberty
    if lib is None:
        ihp = area.ihp_liberty()
        lib = str(ihp) if ihp else None
    elif not Path(lib).is_file():
        raise DseError(f"--liberty {lib!r} does not exist")
    out = Path(args.out)
    cache = Path(args.cache) if args.cache else out / "cache"
    env = make_env(lib, cache)
    print(f"sweep {sweep.name}: {len(sweep.points)} points ({len(sweep.skipped)} combinations "
          f"skipped), library {'generic' if env.lib_generic else Path(env.liberty).name}")
    res = run_sweep(sweep, env, scheduler=args.scheduler, workers=workers,
                    progress=not args.no_progress)
    from flow.dse_report import write_report
    d = out / sweep.name
    pq_path = write_parquet(res, sweep, d / "results.parquet")
    rep = write_report(res, sweep, env, d)
    print(f"{len(res.rows)} points done, {len(res.failed)} failed, {res.seconds:.1f} s "
          f"({res.workers} workers); tasks {dict(sorted(res.tasks.items()))}")
    print(f"wrote {pq_path}\nwrote {rep}")
    return 1 if res.failed and not res.rows else 0


if __name__ == "__main__":
    sys.exit(main())
