"""Silicon-provisioning report: arithmetic area per MAC of each datapath (``make provisioning``).

Writes ``build/reports/provisioning.md`` and PNG plots. All areas come from :mod:`flow.area`
(hierarchical Yosys synthesis, cached), once with the generic library (GE) and once with a real
library (IHP SG13G2, µm², when present).

Accounting (documented in ``docs/area.md``): an HBFP dot unit of block ``k`` consumes one block
pair per cycle, i.e. ``k`` MACs. It is fed by one FP32->HBFP converter (one block per cycle,
the activation operand; weights are converted once, offline) and drains into one HBFP->FP32
normalizer (one value per cycle), so per MAC we count ``(dot + converter + normalizer) / k``.
A sparse unit with N:M does ``k`` *effective* (dense-equivalent) MACs per beat with ``k*N/M``
multipliers, so its per-effective-MAC area is ``(unit + converter + normalizer) / k``. FP32 and
INT8 MACs do one MAC per cycle.

Speed and energy (section "Speed, power and efficiency"): every design point is also timed by
:mod:`flow.timing` (timing-driven mapping, OpenSTA) with one library -- the real one when
present, else the generic -- and its power at that Fmax comes from the design-space sweep's
calibrated cell-count model (:func:`flow.dse.calibrated_power_mw` on the area flow's cells, its
factor from :func:`flow.dse.task_calibrate`'s gate-level run); small pods are also simulated at
gate level (:func:`flow.dse.task_pod_power`). TOPS = 2 x MACs/cycle x Fmax. The anchors scale
our figures from 130 nm to 28 nm with the first-order factors of :data:`TECH_SCALING`.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from flow import area, dse, power, timing
from gen.cli import run_main
from gen.config import ConfigError, DesignConfig
from gen.emit import atomic_write_text
from gen.targets import generate
from golden.facts import HBFP_FORMATS, parse_nm

__all__ = ["ANCHORS", "Point", "SpeedRow", "TECH_SCALING", "main", "measure", "scale_to_28nm",
           "sosa_per_pe", "speed_plan"]

#: Published figures placed beside ours (their methods, not ours).
ANCHORS = {
    "hbfp_throughput": 8.5,      # HBFP (Drumond et al., NeurIPS 2018): up to 8.5x FP32 throughput
    "boosters_silicon": 16.98,   # Accuracy Boosters: 16.98x less silicon than FP32
    "sosa_um2_per_pe": 478.0,    # SOSA: 492,349 um^2 / 1024 PEs, 28 nm, 8-bit PE, 1 GHz
    "sosa_mw_per_pe": 0.42,      # SOSA: 492 mW for the 32x32 pod, about 0.42 mW per PE, 1 GHz
    "sosa_mhz": 1000.0,          # SOSA's pods run at 1 GHz (authors' code and synthesis)
    "sosa_nm": 28,
    "gemmini_mhz": 500.0,        # Gemmini: 32x32 INT16 array, about 500 MHz (commercial flow)
}
FORMATS = tuple(HBFP_FORMATS)

#: First-order technology scaling from IHP SG13G2 (130 nm, 1.2 V) to a 28 nm node (0.9 V core
#: supply assumed): approximations, stated in the report and docs/area.md. ``area`` is the
#: ideal shrink (every length x 28/130), ``delay`` a gate delay proportional to the feature size
#: (the clock rises by its inverse), ``energy`` E = C V^2 with C proportional to the feature
#: size and the supply from 1.2 V to 0.9 V (constant-field scaling, V with L, would give
#: (28/130)^3; voltage stopped scaling that way long before 28 nm).
TECH_SCALING = {
    "from_nm": 130, "to_nm": 28, "from_v": 1.2, "to_v": 0.9,
    "area": (28 / 130) ** 2,
    "delay": 28 / 130,
    "energy": (28 / 130) * (0.9 / 1.2) ** 2,
}
#: Largest pod (R = C) simulated at gate level beside the power model (random GEMM).
DEFAULT_GATE_LEVEL_MAX = 8


@dataclass
class Point:
    """One synthesized design (``um2`` is ``None`` with the generic library)."""

    target: str
    cfg: DesignConfig | None
    ge: float
    um2: float | None = None
    cells: int = 0
    transistors: int = 0
    seconds: float = 0.0
    report: Any = None
    #: Fmax from the timing flow (only on the points of the timing library), and its summary.
    fmax_mhz: float | None = None
    timing: dict[str, Any] | None = None

    @property
    def cells_by_type(self) -> dict[str, int]:
        """The area flow's cell mix (what the power model prices)."""
        if self.report is None:
            raise ValueError(f"{self.target}: no area report")
        return self.report.cells_by_type


def measure(target: str, cfg: DesignConfig | None, lib: Any, *, use_cache: bool = True,
            flat: bool = False, design: Any = None) -> Point:
    """Synthesize one target (or its prebuilt ``design``)."""
    t0 = time.perf_counter()
    if design is None:
        design = generate(target, cfg or DesignConfig())
    rep = area.area_of_design(design, liberty=lib, flat=flat,
                              cache_dir=area.DEFAULT_CACHE if use_cache else None)
    return Point(target, cfg, ge=rep.ge, um2=rep.um2, cells=rep.cells,
                 transistors=rep.transistors, seconds=time.perf_counter() - t0, report=rep)


def _cfg(fmt: str = "hbfp6", block: int = 16, **kw: Any) -> DesignConfig:
    rows = kw.pop("rows", block)
    return DesignConfig(rows=rows, cols=kw.pop("cols", rows), format=fmt, block_size=block, **kw)


def _plan(quick: bool) -> dict[str, tuple[str, DesignConfig | None]]:
    """Every design point of the report: key -> (target, config)."""
    blocks = sweep_blocks(quick)
    pods = sweep_pods(quick)
    plan: dict[str, tuple[str, DesignConfig | None]] = {
        "fp32mac": ("fp32mac", None),
        "int8mac": ("int8mac", None),
    }
    for f in FORMATS:
        for b in blocks:
            plan[f"dot/{f}/{b}"] = ("dot", _cfg(f, b))
            plan[f"convert/{f}/{b}"] = ("convert", _cfg(f, b))
            plan[f"normalize/{f}/{b}"] = ("normalize", _cfg(f, b))
    mb = main_block(quick)
    plan[f"dot/hbfp6n4/{mb}"] = ("dot", _cfg("hbfp6", mb, narrow_format="hbfp4"))
    for sp in ("2:4", "1:4"):
        for f in FORMATS:
            plan[f"sparsedot/{f}/{mb}/{sp}"] = ("sparsedot", _cfg(f, mb, sparsity=sp))
    for r in pods:
        plan[f"pod/{r}"] = ("pod", _cfg("hbfp6", r, rows=r, cols=r))
    plan.update(engine_plan(quick))
    return plan


#: Whole cores compared (key suffix -> DesignConfig keywords): the engine shell around an
#: HBFP pod (dense, 2:4, with the narrow mode) and around the FP32 and INT8 baseline arrays.
ENGINES = {
    "fp32": {"format": "fp32"},
    "int8": {"format": "int8"},
    "hbfp8": {"format": "hbfp8"},
    "hbfp6": {"format": "hbfp6"},
    "hbfp4": {"format": "hbfp4"},
    "hbfp6n4": {"format": "hbfp6", "narrow_format": "hbfp4"},
    "hbfp6/2:4": {"format": "hbfp6", "sparsity": "2:4"},
    "hbfp4/2:4": {"format": "hbfp4", "sparsity": "2:4"},
}
#: Output-buffer height of the compared engines (the same for all of them).
ENGINE_TILE = 16


def engine_pod(quick: bool) -> int:
    """R = C of the compared engines."""
    return 4 if quick else 8


def engine_plan(quick: bool) -> dict[str, tuple[str, DesignConfig | None]]:
    r = engine_pod(quick)
    return {f"engine/{k}": ("engine", DesignConfig(rows=r, cols=r, tile=ENGINE_TILE, **kw))
            for k, kw in ENGINES.items()}


def engines_section(res: dict[str, dict[str, Point]], units: list[str], quick: bool
                    ) -> list[str]:
    """Whole cores per MAC: everything inside the engine (converter, pod, normalizers, FP32
    adders, FIFOs, the output buffer in flip-flops) divided by R*C, and per effective MAC
    (x M/N with N:M sparsity); "vs FP32" = the FP32 engine's figure / this one, "vs INT8" the
    INT8 engine's."""
    r = engine_pod(quick)
    libs = list(res)
    out = [f"## Whole cores: {r}x{r} engines, FP32 in and out (tile {ENGINE_TILE} rows)", "",
           "Everything an engine holds (converter, pod, per-column normalizers and FP32 "
           "adders, FIFOs, output buffer in flip-flops) per MAC of the array; the FP32 engine "
           "is the same shell around an array of FP32 multiply-add PEs (`FMT=fp32`), the "
           "INT8 engine around INT8 PEs with INT32 sums, an FP32->INT8 quantizer (per-tensor "
           "activation scale) and a per-column FP32 output scale (`FMT=int8`). Per effective "
           "MAC divides by R*C*M/N.", "",
           "| core | " + " | ".join(f"{u} / MAC | {u} / eff. MAC | vs FP32 | vs INT8"
                                    for u in units) + " |",
           "|---|" + "---:|---:|---:|---:|" * len(units)]
    for k in ENGINES:
        n, m = _engine_nm(k)
        cells = []
        for lt, u in zip(libs, units, strict=True):
            v = _val(res[lt][f"engine/{k}"], u) / (r * r)
            eff = v * n / m
            base = _val(res[lt]["engine/fp32"], u) / (r * r)
            i8 = _val(res[lt]["engine/int8"], u) / (r * r)
            cells.append(f"{_fmt(v)} | {_fmt(eff)} | {_ratio(base, eff)} | {_ratio(i8, eff)}")
        out.append(f"| {_engine_name(k)} | " + " | ".join(cells) + " |")
    out += ["", f"Beside them: Accuracy Boosters report {ANCHORS['boosters_silicon']}x less "
            f"silicon than FP32 and HBFP up to {ANCHORS['hbfp_throughput']}x FP32 throughput "
            "(see \"Published anchors\"); the column \"vs FP32\" above is our whole-core "
            "counterpart, with the same output buffer in every core.", ""]
    return out


def _engine_name(k: str) -> str:
    return {"hbfp6n4": "HBFP6 + HBFP4 mode", "fp32": "FP32 array",
            "int8": "INT8 array"}.get(k, k.upper().replace("/", " "))


def _engine_nm(k: str) -> tuple[int, int]:
    return parse_nm(ENGINES[k].get("sparsity")) or (1, 1)


def sweep_blocks(quick: bool) -> tuple[int, ...]:
    """Block sizes of the block-size sweep."""
    return (8, 16) if quick else (8, 16, 32, 64)


def sweep_pods(quick: bool) -> tuple[int, ...]:
    """Pod sizes (R = C) of the pod-scaling table."""
    return (4, 8) if quick else (4, 8, 16, 32)


def main_block(quick: bool) -> int:
    """Block size of the headline table (64 as in the interplay paper; 16 with --quick)."""
    return 16 if quick else 64


def run_plan(plan: dict[str, tuple[str, DesignConfig | None]], libs: list[Any], *,
             use_cache: bool = True, jobs: int | None = None,
             timing_lib: Any = None) -> dict[str, dict[str, Point]]:
    """Synthesize every plan entry with every library: library tag -> key -> point.

    Each design is generated once (elaboration, not synthesis, dominates a cached run) and
    synthesized per library; designs run in parallel, each Yosys worker is its own process.
    With ``timing_lib`` (one of ``libs``) each design is also timed by :mod:`flow.timing`
    (timing-driven mapping, OpenSTA; hierarchical for pods and engines, cached under
    ``build/timing/cache``): its points of that library get ``fmax_mhz`` and ``timing``.
    """
    keys = list(plan)
    n = jobs or max(1, min(2, os.cpu_count() or 1))

    def one(k: str) -> dict[str, Point]:
        t, c = plan[k]
        design = generate(t, c or DesignConfig())
        t0 = time.perf_counter()
        reps = area.area_of_design_libs(
            design, libs, cache_dir=area.DEFAULT_CACHE if use_cache else None)
        dt = time.perf_counter() - t0
        pts = {lib.tag: Point(t, c, ge=r.ge, um2=r.um2, cells=r.cells,
                              transistors=r.transistors, seconds=dt, report=r)
               for lib, r in zip(libs, reps, strict=True)}
        if timing_lib is not None:
            t0 = time.perf_counter()
            rep = timing.timing_of_design(
                design, liberty=None if timing_lib.generic else str(timing_lib.path),
                area_flow=False, cache_dir=timing.DEFAULT_CACHE if use_cache else None)
            d = rep.data
            cp = d.get("critical_path") or {}

            def end(e: str) -> str | None:
                p = cp.get(e) or {}
                return p.get("register") or p.get("name")

            pts[timing_lib.tag].fmax_mhz = d.get("fmax_mhz")
            pts[timing_lib.tag].timing = {
                "critical_path_ns": d.get("critical_path_ns"), "timed": d.get("timed"),
                "startpoint": end("startpoint"), "endpoint": end("endpoint"),
                "logic_levels": cp.get("logic_levels"),
                "wire_load": (d.get("wire_load") or {}).get("model"),
                "cached": bool(d.get("cached")), "seconds": time.perf_counter() - t0}
        return pts

    # Largest first so that the long 64-lane units do not end up alone at the tail.
    keys.sort(key=lambda k: -_weight(plan[k]))
    with ThreadPoolExecutor(max_workers=n) as ex:
        pts = dict(zip(keys, ex.map(one, keys), strict=True))
    return {lib.tag: {k: pts[k][lib.tag] for k in plan} for lib in libs}


def _weight(entry: tuple[str, DesignConfig | None]) -> int:
    t, c = entry
    if c is None:
        return 1
    return c.block_size * (c.mant_bits + 1) ** 2


# ---- derived figures --------------------------------------------------------------------------
def _val(p: Point, unit: str) -> float:
    v = p.ge if unit == "GE" else p.um2
    if v is None:
        raise ValueError(f"{p.target}: no {unit} figure (synthesized with the generic library)")
    return v


def per_mac(pts: dict[str, Point], fmt: str, block: int, unit: str, *,
            unit_key: str | None = None, with_io: bool = True) -> float:
    """Area per (effective) MAC of an HBFP unit plus its amortized converter and normalizer.

    Every point it needs must be in ``pts`` (a missing one is a ``KeyError``).
    """
    u = _val(pts[unit_key or f"dot/{fmt}/{block}"], unit)
    if not with_io:
        return u / block
    c = _val(pts[f"convert/{fmt}/{block}"], unit)
    n = _val(pts[f"normalize/{fmt}/{block}"], unit)
    return (u + c + n) / block


def _fmt(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def _ratio(base: float, x: float) -> str:
    return f"{base / x:.2f}x"


# ---- report -----------------------------------------------------------------------------------
def build_tables(res: dict[str, dict[str, Point]], units: list[str], quick: bool) -> list[str]:
    """Markdown sections of the report (``res``: library tag -> points)."""
    mb = main_block(quick)
    blocks = sweep_blocks(quick)
    pods = sweep_pods(quick)
    out: list[str] = []
    libs = list(res)

    def col_heads() -> str:
        return " | ".join(f"{u} / MAC | vs FP32" for u in units)

    # 1. headline
    out += [f"## Area per MAC (block {mb})", "",
            "Per MAC: one MAC unit, or an HBFP dot unit of block k plus one FP32->HBFP converter "
            "and one HBFP->FP32 normalizer, all divided by k. \"vs FP32\" = FP32 MAC area / "
            "this area (how many of these MACs fit in the silicon of one FP32 MAC).", "",
            f"| datapath | {col_heads()} |",
            "|---|" + "---:|---:|" * len(units)]
    rows: list[tuple[str, list[float]]] = []
    fp = [_val(res[lt]["fp32mac"], u) for lt, u in zip(libs, units, strict=True)]
    rows.append(("FP32 MAC (fp32mac)", fp))
    rows.append(("INT8 MAC (8x8 multiply, 32-bit accumulate)",
                 [_val(res[lt]["int8mac"], u) for lt, u in zip(libs, units, strict=True)]))
    for f in FORMATS:
        rows.append((f"{f.upper()} dot lane + converter + normalizer",
                     [per_mac(res[lt], f, mb, u) for lt, u in zip(libs, units, strict=True)]))
        rows.append((f"{f.upper()} dot lane only",
                     [per_mac(res[lt], f, mb, u, with_io=False)
                      for lt, u in zip(libs, units, strict=True)]))
    for name, vals in rows:
        cells = " | ".join(f"{_fmt(v)} | {_ratio(b, v)}" for v, b in zip(vals, fp, strict=True))
        out.append(f"| {name} | {cells} |")
    out.append("")

    # 2. mixed mantissa
    out += ["## Mixed mantissa (Accuracy Boosters: an HBFP6 unit that can run HBFP4)", "",
            f"| unit (block {mb}) | " + " | ".join(f"{u} / MAC" for u in units) + " |",
            "|---|" + "---:|" * len(units)]
    mixed_rows = [("HBFP6 only", f"dot/hbfp6/{mb}"), ("HBFP6 with HBFP4 mode", f"dot/hbfp6n4/{mb}"),
                  ("HBFP4 only", f"dot/hbfp4/{mb}")]
    for name, key in mixed_rows:
        vals = [_val(res[lt][key], u) for lt, u in zip(libs, units, strict=True)]
        out.append(f"| {name} | " + " | ".join(_fmt(v / mb) for v in vals) + " |")
    for lt, u in zip(libs, units, strict=True):
        a = _val(res[lt][f"dot/hbfp6/{mb}"], u)
        b = _val(res[lt][f"dot/hbfp6n4/{mb}"], u)
        out.append(f"\nOverhead of the narrow mode ({lt}): {100 * (b - a) / a:+.1f} % of the "
                   "HBFP6 dot unit.")
    out.append("")

    # 3. sparsity
    out += [f"## Dense vs N:M sparse, per effective MAC (block {mb}, with converter and "
            "normalizer)", "",
            "| format | sparsity | " + " | ".join(f"{u} / eff. MAC | vs dense | vs FP32"
                                                  for u in units) + " |",
            "|---|---|" + "---:|---:|---:|" * len(units)]
    for f in FORMATS:
        for sp in ("dense", "2:4", "1:4"):
            cells = []
            for lt, u, base in zip(libs, units, fp, strict=True):
                dense = per_mac(res[lt], f, mb, u)
                key = None if sp == "dense" else f"sparsedot/{f}/{mb}/{sp}"
                v = dense if key is None else per_mac(res[lt], f, mb, u, unit_key=key)
                cells.append(f"{_fmt(v)} | {_ratio(dense, v)} | {_ratio(base, v)}")
            out.append(f"| {f.upper()} | {sp} | " + " | ".join(cells) + " |")
    out.append("")

    # 4. block sizes
    out += ["## Block size sweep (per MAC, with converter and normalizer)", "",
            "| format | block | " + " | ".join(f"{u} / MAC | vs FP32 | dot share"
                                               for u in units) + " |",
            "|---|---:|" + "---:|---:|---:|" * len(units)]
    for f in FORMATS:
        for b in blocks:
            cells = []
            for lt, u, base in zip(libs, units, fp, strict=True):
                v = per_mac(res[lt], f, b, u)
                d = per_mac(res[lt], f, b, u, with_io=False)
                cells.append(f"{_fmt(v)} | {_ratio(base, v)} | {100 * d / v:.0f} %")
            out.append(f"| {f.upper()} | {b} | " + " | ".join(cells) + " |")
    out.append("")

    # 5. pods
    out += ["## Pod scaling (HBFP6, block = rows, hierarchical synthesis)", "",
            "| pod | " + " | ".join(f"total {u} | {u} / PE" for u in units) + " |",
            "|---|" + "---:|---:|" * len(units)]
    for r in pods:
        key = f"pod/{r}"
        cells = []
        for lt, u in zip(libs, units, strict=True):
            v = _val(res[lt][key], u)
            cells.append(f"{_fmt(v, 0)} | {_fmt(v / (r * r))}")
        out.append(f"| {r}x{r} | " + " | ".join(cells) + " |")
    out.append("")
    out += engines_section(res, units, quick)
    return out


def anchors_section(res: dict[str, dict[str, Point]], units: list[str], quick: bool) -> list[str]:
    """Published anchors beside our figures, with how the methods differ."""
    mb = main_block(quick)
    libs = list(res)
    out = ["## Published anchors", "",
           "| claim | published | ours (" + ", ".join(units) + ") |", "|---|---:|---|"]

    def ours(fmt: str) -> str:
        parts = []
        for lt, u in zip(libs, units, strict=True):
            parts.append(_ratio(_val(res[lt]["fp32mac"], u), per_mac(res[lt], fmt, mb, u)))
        return " / ".join(parts)

    out.append(f"| HBFP8 vs FP32 throughput (same area) | up to {ANCHORS['hbfp_throughput']}x "
               f"| {ours('hbfp8')} MACs per FP32 MAC area |")
    out.append(f"| Accuracy Boosters (HBFP4) silicon vs FP32 | {ANCHORS['boosters_silicon']}x "
               f"less | {ours('hbfp4')} less |")
    pe = []
    r = max(sweep_pods(quick))  # the largest pod of the sweep
    for lt, u in zip(libs, units, strict=True):
        per = _val(res[lt][f"pod/{r}"], u) / (r * r)
        txt = f"{per:,.0f} {u}/PE ({r}x{r}, {lt})"
        if u == "um2":
            # Ideal area scaling from 130 nm to 28 nm, (28/130)^2; real scaling is worse.
            txt += f", about {per * (28 / 130) ** 2:,.0f} um2 scaled to 28 nm"
        pe.append(txt)
    out.append(f"| SOSA 8-bit PE, 28 nm (sanity anchor) | {ANCHORS['sosa_um2_per_pe']:.0f} um2 "
               f"| {'; '.join(pe)} |")
    out += ["",
            "How the methods differ: our figures are Yosys + ABC area-oriented mappings without "
            "timing constraints (no upsizing, no buffering for a clock target), of our own "
            "generated RTL, with converters and normalizers amortized per block as described "
            "above. HBFP's 8.5x is a throughput claim from its authors' own FPGA/ASIC designs "
            "and FP32 baseline; Accuracy Boosters' 16.98x comes from its authors' synthesis of "
            "their arithmetic units against their FP32 unit; SOSA's 478 um2 is a timing-closed "
            "1 GHz 28 nm PE with 8-bit inputs and 16-bit partial sums and double-buffered "
            "weights, whereas our HBFP6 PE carries a wider accumulator and exponent logic. The "
            "ratios are therefore comparable in trend, not digit for digit.", ""]
    return out


# ---- speed, power and efficiency ----------------------------------------------------------------
@dataclass
class SpeedRow:
    """Fmax, power and throughput of one report row: one design or a lane of several (a dot
    or sparse unit with its converter and normalizer), which runs at its slowest part's Fmax.

    ``macs_per_cycle`` counts effective (dense-equivalent) MACs; ``area`` is in library units
    (um^2, or GE with the generic library: then ``generic``); ``power_mw`` is at ``fmax_mhz``.
    """

    name: str
    group: str
    parts: tuple[str, ...]
    macs_per_cycle: float
    fmax_mhz: float = 0.0
    limit: str = ""
    area: float = 0.0
    generic: bool = False
    power_mw: float | None = None
    gate_mw: float | None = None

    @property
    def tops(self) -> float:
        """Peak TOPS = 2 x MACs/cycle x Fmax."""
        return 2 * self.macs_per_cycle * self.fmax_mhz * 1e6 / 1e12

    @property
    def tops_per_w(self) -> float | None:
        return None if not self.power_mw else self.tops / (self.power_mw / 1e3)

    @property
    def pj_per_mac(self) -> float | None:
        """Energy per (effective) MAC: mW / (MACs/cycle x MHz) x 1000 = 2 / (TOPS/W)."""
        if self.power_mw is None:
            return None
        return self.power_mw * 1e3 / (self.macs_per_cycle * self.fmax_mhz)

    @property
    def tops_per_mm2(self) -> float | None:
        """TOPS per mm^2 of the area flow's area (None with the generic library)."""
        return None if self.generic or not self.area else self.tops / (self.area * 1e-6)

    @property
    def tops_per_mge(self) -> float | None:
        """TOPS per million gate equivalents (generic library only)."""
        return self.tops / (self.area / 1e6) if self.generic and self.area else None


def speed_plan(quick: bool) -> list[SpeedRow]:
    """Every datapath, pod and engine row of the speed table, with the plan keys it uses."""
    mb = main_block(quick)
    rows = [SpeedRow("FP32 MAC", "datapath", ("fp32mac",), 1),
            SpeedRow("INT8 MAC", "datapath", ("int8mac",), 1)]
    for f in FORMATS:
        io = (f"convert/{f}/{mb}", f"normalize/{f}/{mb}")
        rows.append(SpeedRow(f"{f.upper()} dense lane", "datapath", (f"dot/{f}/{mb}", *io), mb))
        for sp in ("2:4", "1:4"):
            rows.append(SpeedRow(f"{f.upper()} {sp} lane", "datapath",
                                 (f"sparsedot/{f}/{mb}/{sp}", *io), mb))
        rows.append(SpeedRow(f"{f.upper()} dot unit only", "datapath", (f"dot/{f}/{mb}",), mb))
    rows.append(SpeedRow("HBFP6 + HBFP4 mode lane", "datapath",
                         (f"dot/hbfp6n4/{mb}", f"convert/hbfp6/{mb}", f"normalize/hbfp6/{mb}"),
                         mb))
    for f in FORMATS:
        for b in sweep_blocks(quick):
            rows.append(SpeedRow(f"{f.upper()} block {b}", "block",
                                 (f"dot/{f}/{b}", f"convert/{f}/{b}", f"normalize/{f}/{b}"), b))
    for r in sweep_pods(quick):
        rows.append(SpeedRow(f"{r}x{r} HBFP6 pod", "pod", (f"pod/{r}",), r * r))
    er = engine_pod(quick)
    for k in ENGINES:
        n, m = _engine_nm(k)
        rows.append(SpeedRow(f"{_engine_name(k)} engine", "engine", (f"engine/{k}",),
                             er * er * m / n))
    return rows


def compute_speed(rows: list[SpeedRow], pts: dict[str, Point], *, generic: bool,
                  energies: Any = None, factor: float | None = None) -> None:
    """Fill each row from the timing library's points: clock = the slowest part's Fmax, area =
    the parts' areas, power = the parts' calibrated model power at that clock (when
    ``energies`` and ``factor`` are given)."""
    unit = "GE" if generic else "um2"
    for r in rows:
        fm = []
        for k in r.parts:
            f = pts[k].fmax_mhz
            if not f:
                raise ValueError(f"{k}: no Fmax from the timing flow")
            fm.append((float(f), k))
        r.fmax_mhz, lim = min(fm)
        r.limit = pts[lim].target if len(r.parts) > 1 else _path_ends(pts[lim].timing)
        r.generic = generic
        r.area = sum(_val(pts[k], unit) for k in r.parts)
        if energies is not None and factor is not None:
            r.power_mw = sum(dse.calibrated_power_mw(pts[k].cells_by_type, energies,
                                                     r.fmax_mhz, factor) for k in r.parts)


def _path_ends(t: dict[str, Any] | None) -> str:
    """Where a hierarchical design's critical path runs: top-level instance of its start ->
    of its end (``(top)``: the top's own logic); "" for a single module."""
    if not t or not str(t.get("timed", "")).startswith("hierarchical"):
        return ""

    def inst(x: str | None) -> str:
        x = x or "?"
        return x.split(".")[0] if "." in x else "(top)" if x.startswith("_") else x

    return f"{inst(t.get('startpoint'))} -> {inst(t.get('endpoint'))}"


def gate_level_mw(measured: dict[str, Any], mhz: float) -> float:
    """A gate-level figure (``dynamic_mw`` and ``leakage_mw`` at ``measured["mhz"]``) moved to
    ``mhz``: dynamic power scales with the clock, leakage does not."""
    return measured["dynamic_mw"] * mhz / measured["mhz"] + measured["leakage_mw"]


def scale_to_28nm(mhz: float, pj_per_mac: float | None, area: float | None) -> dict[str, Any]:
    """One design's clock, energy per MAC and area moved from 130 nm to 28 nm with
    :data:`TECH_SCALING` (area ``None``: not scaled, e.g. GE)."""
    t = TECH_SCALING
    return {"mhz": mhz / t["delay"],
            "pj_per_mac": None if pj_per_mac is None else pj_per_mac * t["energy"],
            "area": None if area is None else area * t["area"]}


def per_pe_figures(mhz: float, pj_per_mac: float | None, um2_per_mac: float | None
                   ) -> dict[str, float | None]:
    """TOPS/W and TOPS/mm^2 of one MAC (PE) at ``mhz`` from its energy and area per MAC."""
    tops = 2 * mhz * 1e6 / 1e12
    return {"mw": None if pj_per_mac is None else pj_per_mac * mhz * 1e-3,
            "tops_per_w": None if not pj_per_mac else 2 / pj_per_mac,
            "tops_per_mm2": None if not um2_per_mac else tops / (um2_per_mac * 1e-6)}


def sosa_per_pe() -> dict[str, float | None]:
    """SOSA's 28 nm PE at 1 GHz (478 um^2, 0.42 mW): its pJ/MAC, TOPS/W and TOPS/mm^2."""
    mhz = ANCHORS["sosa_mhz"]
    pj = ANCHORS["sosa_mw_per_pe"] * 1e3 / mhz
    return {"mhz": mhz, "um2": ANCHORS["sosa_um2_per_pe"], "pj_per_mac": pj,
            **per_pe_figures(mhz, pj, ANCHORS["sosa_um2_per_pe"])}


def _sig(x: float | None, digits: int = 3) -> str:
    """``x`` with ``digits`` significant digits, fixed point (no exponent)."""
    if x is None:
        return "n/a"
    if x == 0:
        return "0"
    d = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    return f"{x:,.{d}f}"


def speed_table(rows: list[SpeedRow], *, gate: bool = False) -> list[str]:
    """Markdown table of speed rows (``gate``: add the gate-level column)."""
    generic = rows[0].generic
    u = "GE" if generic else "µm²"
    dens = "TOPS/MGE" if generic else "TOPS/mm²"
    head = (f"| row | MACs/cycle | Fmax MHz | limited by | area {u} | mW at Fmax | pJ/MAC | "
            f"TOPS | TOPS/W | {dens} |" + (" gate-level mW |" if gate else ""))
    out = [head, "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if gate else "")]
    for r in rows:
        d = r.tops_per_mge if generic else r.tops_per_mm2
        cells = [r.name, f"{r.macs_per_cycle:g}", f"{r.fmax_mhz:.1f}", r.limit or "-",
                 _fmt(r.area, 0), _sig(r.power_mw), _sig(r.pj_per_mac), _sig(r.tops),
                 _sig(r.tops_per_w), _sig(d)]
        if gate:
            cells.append(_sig(r.gate_mw) if r.gate_mw is not None else "-")
        out.append("| " + " | ".join(cells) + " |")
    return out


def speed_section(rows: list[SpeedRow], info: dict[str, Any]) -> list[str]:
    """The "Speed, power and efficiency" section (``info``: library, calibration, skips)."""
    out = [f"## Speed, power and efficiency ({info['library']})", ""]
    if info.get("skipped"):
        return out + [info["skipped"], ""]
    cal = info.get("calibration")
    power_txt = (
        "Power at Fmax: the design-space sweep's cell-count model (`flow.dse.cell_energies`, "
        "`flow.dse.calibrated_power_mw`) on the area flow's cells -- a vectorless estimate "
        f"({power.VECTORLESS_ACTIVITY:g} transitions per cycle on every data pin, every "
        "flip-flop's clock pin every cycle, the liberty's energies, plus leakage) -- with its "
        f"dynamic part scaled by k = {cal['factor']:.3f}, the ratio of a zero-delay "
        "gate-level simulation (Icarus, `flow.power`) of the "
        f"{dse.CALIBRATION_POD['rows']}x{dse.CALIBRATION_POD['cols']} HBFP6 pod on a random "
        f"GEMM (bit-exact against golden; {cal['measured_total_mw']:.2f} mW at "
        f"{cal['mhz']:.1f} MHz) to the model's figure for it. Activity source: vectorless, "
        "calibrated on that one workload; k is a pod's and is applied unchanged to datapath "
        "blocks and engines. Glitches are not counted (REFERENCE.md section 8: +43 % on the "
        "8x8 pod), nor the clock tree."
        if cal else f"Power: not computed ({info.get('power_skipped', 'skipped')}).")
    out += [
        f"Fmax: the timing flow (`flow.timing`: timing-driven Yosys/ABC mapping with buffering "
        f"and sizing at the default {timing.DEFAULT_CLOCK_NS:g} ns target, then OpenSTA; "
        f"library {info['library']}, wire-load model {info.get('wire_load') or 'none'}, ideal "
        "clock, inputs and outputs registered outside). Pods and engines are timed "
        "hierarchically (the PE and other repeated blocks as timing models), datapath blocks "
        "as single modules. A lane runs at its slowest part's Fmax ('limited by'): the dot "
        "or sparse unit, the FP32->HBFP converter or the normalizer, each registered at its "
        "ports; for a pod or engine it names the top-level instances where the critical path "
        "starts and ends.", "",
        power_txt, "",
        "TOPS = 2 x MACs/cycle x Fmax (peak; effective dense-equivalent MACs for N:M); "
        "TOPS/W = TOPS / W; pJ/MAC = mW / (MACs/cycle x MHz) x 1000 = 2 / (TOPS/W); "
        + ("TOPS/MGE = TOPS per million GE of the area flow's area (generic library: no "
           "µm²)." if rows[0].generic else
           "TOPS/mm² = TOPS / the area flow's area (the areas of the tables above, not the "
           "timing netlist's, which adds a few percent of buffers and sizing)."), ""]
    groups = [("datapath", f"Datapaths (block {info['block']}, per lane)"),
              ("block", "Block-size sweep (dot + converter + normalizer lane)"),
              ("pod", "Pods (HBFP6, block = rows)"),
              ("engine", f"Whole engines ({info['engine']}x{info['engine']}, FP32 in and out, "
                         "output buffer in flip-flops)")]
    for g, title in groups:
        rs = [r for r in rows if r.group == g]
        if not rs:
            continue
        out += [f"### {title}", ""]
        out += speed_table(rs, gate=g == "pod")
        out.append("")
    gl = info.get("gate_level")
    if gl:
        big = [r.name for r in rows if r.group == "pod" and r.gate_mw is None]
        skip = f"; not simulated: {', '.join(big)}" if big else ""
        out += [f"Gate-level mW (pods up to {info['gate_max']}x{info['gate_max']}, "
                f"`--gate-level-max`{skip}): the power flow's zero-delay simulation of the "
                "pod's flat mapped netlist on a random HBFP6 GEMM (bit-exact against golden), "
                "measured at that netlist's own Fmax and moved to the row's clock (dynamic x "
                "clock ratio, plus leakage): "
                + "; ".join(f"{r}x{r}: {g['total_mw']:.2f} mW at {g['mhz']:.1f} MHz, "
                            f"{g['pj_per_mac']:.2f} pJ/MAC, utilization "
                            f"{100 * (g.get('utilization') or 0):.1f} %"
                            for r, g in gl.items()) + ".", ""]
    elif info.get("gate_skipped"):
        out += [info["gate_skipped"], ""]
    return out


def speed_anchors_section(rows: list[SpeedRow], quick: bool) -> list[str]:
    """SOSA's 28 nm PE and Gemmini's clock beside our pods, INT8 MAC and INT8 engine, at
    130 nm and scaled to 28 nm with :data:`TECH_SCALING`."""
    t = TECH_SCALING
    s = sosa_per_pe()
    by = {r.name: r for r in rows}
    generic = rows[0].generic
    ar = t["area"]
    out = ["## Speed and energy anchors, and the 130 nm -> 28 nm gap", "",
           f"Our figures are IHP SG13G2-like 130 nm at {t['from_v']:g} V; SOSA's are 28 nm. "
           "The gap is bridged with first-order factors (approximations, good to perhaps 2x "
           "either way; Stillmaker and Baas, 'Scaling equations for the accurate prediction of "
           "CMOS device performance from 180 nm to 7 nm', Integration 58, 2017, show classic "
           "scaling rules missing real nodes by up to 83x and fit per-node factors instead):", "",
           "| quantity | factor 130 -> 28 nm | basis |", "|---|---:|---|",
           f"| area | {ar:.4f} ({1 / ar:.1f}x denser) | ideal shrink, (28/130)^2; real logic "
           "density gains are smaller (wires, cell heights) |",
           f"| delay | {t['delay']:.3f} (clock x{1 / t['delay']:.2f}) | gate delay proportional "
           "to feature size; REFERENCE.md section 8: 130 nm at 1.2 V is roughly 4-6x slower "
           "than 28 nm |",
           f"| energy per operation | {t['energy']:.3f} ({1 / t['energy']:.1f}x less) | E = C V^2,"
           f" C proportional to feature size, supply {t['from_v']:g} V -> {t['to_v']:g} V (a "
           f"typical 28 nm core supply); constant-field scaling (V with L) would give "
           f"(28/130)^3 = {(28 / 130) ** 3:.4f} |",
           f"| power at the scaled clock | {t['energy'] / t['delay']:.3f} | energy x clock |",
           f"| TOPS/W | x{1 / t['energy']:.1f} | 1 / energy |",
           f"| TOPS/mm² | x{1 / (t['delay'] * ar):.0f} | clock / area |", "",
           "Per PE (one MAC per cycle): µm² and mW per PE are the design's divided by its MACs "
           "per cycle; TOPS/W and TOPS/mm² are the design's (the same per PE). At 1 GHz a PE's "
           "mW equals its pJ/MAC.", "",
           "| design | node | clock MHz | µm² / PE | mW / PE at that clock | pJ/MAC | TOPS/W | "
           "TOPS/mm² |", "|---|---|---:|---:|---:|---:|---:|---:|",
           f"| SOSA 32x32 pod, 8-bit PE (published) | {ANCHORS['sosa_nm']} nm | {s['mhz']:,.0f} | "
           f"{s['um2']:,.0f} | {s['mw']:.2f} | {s['pj_per_mac']:.2f} | {_sig(s['tops_per_w'])} | "
           f"{_sig(s['tops_per_mm2'])} |"]
    keys = [f"{r}x{r} HBFP6 pod" for r in sweep_pods(quick)] + ["INT8 MAC", "INT8 array engine"]
    for k in keys:
        r = by.get(k)
        if r is None:
            continue
        um2 = None if generic else r.area / r.macs_per_cycle
        pj = r.pj_per_mac
        here = per_pe_figures(r.fmax_mhz, pj, um2)
        sc = scale_to_28nm(r.fmax_mhz, pj, um2)
        there = per_pe_figures(sc["mhz"], sc["pj_per_mac"], sc["area"])
        a_here = f"{um2:,.0f}" if um2 is not None else f"({r.area / r.macs_per_cycle:,.0f} GE)"
        out.append(f"| ours: {k} | 130 nm | {r.fmax_mhz:,.1f} | {a_here} | {_sig(here['mw'])} | "
                   f"{_sig(pj)} | {_sig(here['tops_per_w'])} | {_sig(here['tops_per_mm2'])} |")
        a_there = f"{sc['area']:,.0f}" if sc["area"] is not None else "n/a"
        out.append(f"| ours: {k}, scaled | 28 nm (scaled) | {sc['mhz']:,.1f} | {a_there} | "
                   f"{_sig(there['mw'])} | {_sig(sc['pj_per_mac'])} | "
                   f"{_sig(there['tops_per_w'])} | {_sig(there['tops_per_mm2'])} |")
    big = by.get(f"{max(sweep_pods(quick))}x{max(sweep_pods(quick))} HBFP6 pod")
    out.append("")
    if big is not None:
        sc = scale_to_28nm(big.fmax_mhz, big.pj_per_mac, None)
        out.append(f"Clock: Gemmini's 32x32 INT16 array reached about "
                   f"{ANCHORS['gemmini_mhz']:.0f} MHz in a commercial flow and SOSA's pods run "
                   f"at {ANCHORS['sosa_mhz']:,.0f} MHz at 28 nm; our {big.name} times to "
                   f"{big.fmax_mhz:.1f} MHz at 130 nm, about {sc['mhz']:.0f} MHz scaled to "
                   f"28 nm ({sc['mhz'] / ANCHORS['gemmini_mhz']:.2f}x Gemmini's, "
                   f"{sc['mhz'] / ANCHORS['sosa_mhz']:.2f}x SOSA's clock).")
        if big.pj_per_mac is not None:
            pj28 = big.pj_per_mac * t["energy"]
            out.append(f"Energy: scaled to 28 nm it would spend {pj28:.2f} pJ/MAC, i.e. "
                       f"{pj28:.2f} mW per PE at SOSA's 1 GHz, against SOSA's "
                       f"{s['pj_per_mac']:.2f} ({pj28 / s['pj_per_mac']:.1f}x).")
    out += ["",
            "How the methods differ: SOSA's PE takes 8-bit integers with 16-bit partial sums, "
            "ours HBFP6 mantissas with a wider accumulator and exponent handling; SOSA's "
            "figures come from a commercial timing-closed synthesis at 1 GHz (their power from "
            "their tool's estimate), ours from Yosys/ABC, OpenSTA and a calibrated "
            "cell-count model at each design's own Fmax, without clock tree or glitches. "
            "Gemmini's 500 MHz is a clock only. Beyond the technology, the gap also reflects "
            "IHP's lack of enable flip-flops (every register bit pays an enable mux and its "
            "clock pin every cycle: docs/power.md).", ""]
    return out


def _plots(res: dict[str, dict[str, Point]], units: list[str], out_dir: Path,
           quick: bool) -> list[str]:
    """Write the two PNG plots (matplotlib's object API: no pyplot, no global backend)."""
    mb = main_block(quick)
    blocks = sweep_blocks(quick)
    pods = sweep_pods(quick)
    libs = list(res)
    files = []

    # Per-MAC bars, one panel per library.
    fig = Figure(figsize=(6 * len(libs), 4))
    axes = fig.subplots(1, len(libs), squeeze=False)
    for ax, lt, u in zip(axes[0], libs, units, strict=True):
        names = ["FP32", "INT8", "HBFP8", "HBFP6", "HBFP4", "HBFP6 2:4", "HBFP6 1:4"]
        vals = [_val(res[lt]["fp32mac"], u), _val(res[lt]["int8mac"], u),
                per_mac(res[lt], "hbfp8", mb, u), per_mac(res[lt], "hbfp6", mb, u),
                per_mac(res[lt], "hbfp4", mb, u),
                per_mac(res[lt], "hbfp6", mb, u, unit_key=f"sparsedot/hbfp6/{mb}/2:4"),
                per_mac(res[lt], "hbfp6", mb, u, unit_key=f"sparsedot/hbfp6/{mb}/1:4")]
        bars = ax.bar(names, vals, color="tab:blue")
        ax.bar_label(bars, labels=[f"{vals[0] / y:.1f}x" for y in vals], fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel(f"{u} per (effective) MAC; labels: FP32 / this")
        ax.set_title(f"area per MAC, block {mb} ({lt})")
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(out_dir / "provisioning_per_mac.png", dpi=110)
    files.append("provisioning_per_mac.png")

    fig = Figure(figsize=(11, 4))
    axes = fig.subplots(1, 2)
    lt, u = libs[0], units[0]
    for f in FORMATS:
        axes[0].plot(blocks, [per_mac(res[lt], f, b, u) for b in blocks], "o-", label=f.upper())
    axes[0].set_xscale("log", base=2)
    axes[0].set_xlabel("block size")
    axes[0].set_ylabel(f"{u} per MAC (dot + conv + norm)")
    axes[0].set_title(f"block size sweep ({lt})")
    axes[0].legend()
    axes[1].plot([f"{r}x{r}" for r in pods],
                 [_val(res[lt][f"pod/{r}"], u) / (r * r) for r in pods], "o-")
    axes[1].set_ylim(bottom=0)
    axes[1].set_ylabel(f"{u} per PE")
    axes[1].set_title(f"HBFP6 pod, area per PE ({lt})")
    fig.tight_layout()
    fig.savefig(out_dir / "provisioning_scaling.png", dpi=110)
    files.append("provisioning_scaling.png")
    return files


def flat_vs_hier(lib: Any, use_cache: bool) -> list[str]:
    """Flat against hierarchical on the 4x4 HBFP6 pod."""
    cfg = _cfg("hbfp6", 4, rows=4, cols=4)
    h = measure("pod", cfg, lib, use_cache=use_cache)
    f = measure("pod", cfg, lib, use_cache=use_cache, flat=True)
    d = 100 * (f.ge - h.ge) / h.ge
    return ["## Flat vs hierarchical synthesis (4x4 HBFP6 pod, generic library)", "",
            "| mode | GE | cells | transistors |", "|---|---:|---:|---:|",
            f"| hierarchical (unique modules x instances) | {h.ge:,.0f} | {h.cells:,} | "
            f"{h.transistors:,} |",
            f"| flat (whole pod flattened) | {f.ge:,.0f} | {f.cells:,} | {f.transistors:,} |",
            "",
            f"Cross-boundary optimization changes the area by {d:+.1f} %: flattening lets Yosys "
            "propagate constants and remove logic whose outputs a neighbour never reads (for "
            "example edge PEs' unused pass-through registers), which per-module synthesis "
            "must keep.", ""]


def _speed_info(tlib: Any) -> dict[str, Any]:
    return {"library": "sqgen generic, flow/sqgen_generic.lib" if tlib.generic
            else tlib.path.name}


def run_speed(res: dict[str, Point], tlib: Any, quick: bool, *, use_cache: bool = True,
              with_power: bool = True, gate_level_max: int = DEFAULT_GATE_LEVEL_MAX
              ) -> tuple[list[SpeedRow], dict[str, Any]]:
    """The speed rows from the timing library's points, with power (the calibrated model) and
    gate-level figures for pods up to ``gate_level_max`` (0: none)."""
    rows = speed_plan(quick)
    info = {**_speed_info(tlib), "block": main_block(quick), "engine": engine_pod(quick),
            "gate_max": gate_level_max}
    wl = {p.timing.get("wire_load") for p in res.values() if p.timing}
    info["wire_load"] = ", ".join(sorted(w for w in wl if w)) or None
    energies = factor = None
    lib_path = None if tlib.generic else str(tlib.path)
    t0 = time.perf_counter()
    tmp = None if use_cache else tempfile.TemporaryDirectory(prefix="sqgen-prov-")
    try:
        if with_power:
            env = dse.make_env(lib_path, dse.DEFAULT_OUT / "cache" if tmp is None else tmp.name)
            cal = dse.task_calibrate(env)
            energies = dse.cell_energies(power.load_power_library(lib_path))
            factor = float(cal["factor"])
            info["calibration"] = cal
        else:
            info["power_skipped"] = "--no-power"
        compute_speed(rows, res, generic=tlib.generic, energies=energies, factor=factor)
        if with_power and gate_level_max:
            gl: dict[int, dict[str, Any]] = {}
            for r in rows:
                if r.group != "pod":
                    continue
                n = int(r.parts[0].split("/")[1])
                if n > gate_level_max:
                    continue
                _, cfg = _plan(quick)[r.parts[0]]
                spec = {"rows": cfg.rows, "cols": cfg.cols, "format": cfg.format,
                        "block_size": cfg.block_size}
                g = dse.task_pod_power(spec, env)
                if not g.get("equivalence_ok"):
                    raise power.PowerError(f"{r.name}: gate-level result differs from golden")
                gl[n] = g
                r.gate_mw = gate_level_mw(g, r.fmax_mhz)
            info["gate_level"] = gl
        elif with_power:
            info["gate_skipped"] = "Gate-level simulation of pods skipped (--gate-level-max 0)."
    finally:
        if tmp is not None:
            tmp.cleanup()
    info["power_seconds"] = time.perf_counter() - t0
    return rows, info


def main(*, out_dir: Path | str = "build/reports", liberty: str | None = None,
         quick: bool = False, use_cache: bool = True, speed: bool = True,
         with_power: bool = True, gate_level_max: int = DEFAULT_GATE_LEVEL_MAX) -> int:
    """Build the report; return 0. A design that fails to build or synthesize fails it.

    ``speed``: also time every design (and, with ``with_power``, estimate its power); the
    timing and power library is the real one when present, else the generic one.
    """
    t_start = time.perf_counter()
    out = Path(out_dir)
    if not out.is_absolute():
        out = Path.cwd() / out
    out.mkdir(parents=True, exist_ok=True)
    generic = area.load_library(None)
    libs = [generic]
    real_note = ""
    real_path = liberty or area.ihp_liberty()
    if real_path is not None:
        try:
            libs.append(area.load_library(real_path))
        except area.AreaError as e:
            raise ConfigError(f"--liberty: {e}") from None
    else:
        real_note = ("IHP SG13G2 was not found at ../shared/pdk/ihp-sg13g2/ (or "
                     "$SQGEN_IHP_LIB), so only the generic-library columns are given.")
    tlib = libs[-1] if speed else None
    if speed:
        timing.sta_version()  # refuses a missing OpenSTA before minutes of synthesis
        if with_power and (shutil.which("iverilog") is None or shutil.which("vvp") is None):
            raise ConfigError("Icarus Verilog (iverilog, vvp) is needed for the power "
                              f"calibration; {power.IVERILOG_HINT}; or pass --no-power")
    plan = _plan(quick)
    t0 = time.perf_counter()
    res = run_plan(plan, libs, use_cache=use_cache, timing_lib=tlib)
    t_plan = time.perf_counter() - t0
    units = [lib.unit for lib in libs]
    lines = ["# Silicon provisioning", "",
             "Generated by `make provisioning` (`python -m studies.provisioning`). Areas from "
             "hierarchical Yosys synthesis (`flow/area.py`); GE = area / NAND2 area. Libraries: "
             + "; ".join(f"{lib.tag} ({lib.unit}, NAND2 = {lib.nand2_area:g})" for lib in libs)
             + ". How the figures are obtained, and the accounting: `docs/area.md` (Fmax, "
             "power and TOPS: its section \"Speed, power and efficiency\").", ""]
    if real_note:
        lines += [real_note, ""]
    lines += build_tables(res, units, quick)
    lines += anchors_section(res, units, quick)
    rows: list[SpeedRow] = []
    info: dict[str, Any] = {}
    if tlib is not None:
        rows, info = run_speed(res[tlib.tag], tlib, quick, use_cache=use_cache,
                               with_power=with_power, gate_level_max=gate_level_max)
        lines += speed_section(rows, info)
        lines += speed_anchors_section(rows, quick)
    else:
        lines += ["## Speed, power and efficiency", "",
                  "Skipped (--no-speed): no Fmax, power or TOPS figures in this report.", ""]
    lines += flat_vs_hier(generic, use_cache)
    pngs = _plots(res, units, out, quick)
    lines += ["## Plots", ""] + [f"![{p}]({p})" for p in pngs] + [""]
    n_syn = sum(len(r) for r in res.values())
    timed = [p.timing for p in res[tlib.tag].values() if p.timing] if tlib is not None else []
    foot = f"{n_syn} syntheses"
    if timed:
        foot += (f" and {len(timed)} timing runs ({sum(1 for t in timed if t['cached'])} from "
                 "the cache)")
    foot += f" in {t_plan:.0f} s"
    if info:
        foot += f"; power {info['power_seconds']:.0f} s"
    foot += f"; {time.perf_counter() - t_start:.0f} s wall in all (this run)."
    lines += [foot, ""]
    path = out / "provisioning.md"
    atomic_write_text(path, "\n".join(lines))
    print("\n".join(lines[: lines.index("## Plots")]))
    print(f"wrote {path} ({', '.join(pngs)})", file=sys.stderr)
    return 0


def cli(argv: list[str] | None = None) -> int:
    """``python -m studies.provisioning`` (``make provisioning``)."""
    p = argparse.ArgumentParser(
        prog="python -m studies.provisioning",
        description="Area per MAC of FP32, INT8 and HBFP datapaths, sparse and mixed-mantissa "
        "overheads, block sizes, pod scaling; generic GE and, when present, IHP SG13G2 um2; "
        "Fmax, power, TOPS/W and TOPS/mm2 of every row with the real library (else generic).",
    )
    p.add_argument("--liberty", metavar="LIB",
                   help="real library for the um2 columns (default: IHP SG13G2 beside the repo)")
    p.add_argument("--out", metavar="DIR", default="build/reports", help="report directory")
    p.add_argument("--quick", action="store_true",
                   help="smaller sweep (block sizes 8/16, pods up to 8x8) for a fast check")
    p.add_argument("--no-cache", action="store_true",
                   help="ignore build/area/cache, build/timing/cache and build/dse/cache")
    p.add_argument("--no-speed", action="store_true",
                   help="area only: no timing, power or TOPS (no OpenSTA or Icarus needed)")
    p.add_argument("--no-power", action="store_true",
                   help="timing and TOPS, but no power (no Icarus needed)")
    p.add_argument("--gate-level-max", type=int, default=DEFAULT_GATE_LEVEL_MAX, metavar="R",
                   help="largest pod (R x R) also simulated at gate level, 0 for none "
                   f"(default {DEFAULT_GATE_LEVEL_MAX}; about 1 min cold at 8x8, cached)")
    p.set_defaults(func=lambda a: main(out_dir=Path(a.out), liberty=a.liberty, quick=a.quick,
                                       use_cache=not a.no_cache, speed=not a.no_speed,
                                       with_power=not a.no_power,
                                       gate_level_max=max(0, a.gate_level_max)))
    return run_main(p, argv)


if __name__ == "__main__":
    sys.exit(cli())
