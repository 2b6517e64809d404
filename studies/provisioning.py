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
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from flow import area
from gen.cli import run_main
from gen.config import ConfigError, DesignConfig
from gen.emit import atomic_write_text
from gen.targets import generate
from golden.facts import HBFP_FORMATS

__all__ = ["ANCHORS", "Point", "main", "measure"]

#: Published figures placed beside ours (their methods, not ours).
ANCHORS = {
    "hbfp_throughput": 8.5,      # HBFP (Drumond et al., NeurIPS 2018): up to 8.5x FP32 throughput
    "boosters_silicon": 16.98,   # Accuracy Boosters: 16.98x less silicon than FP32
    "sosa_um2_per_pe": 478.0,    # SOSA: 492,349 um^2 / 1024 PEs, 28 nm, 8-bit PE, 1 GHz
}
FORMATS = tuple(HBFP_FORMATS)


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
    for k, kw in ENGINES.items():
        n, m = (int(x) for x in kw["sparsity"].split(":")) if "sparsity" in kw else (1, 1)
        cells = []
        for lt, u in zip(libs, units, strict=True):
            v = _val(res[lt][f"engine/{k}"], u) / (r * r)
            eff = v * n / m
            base = _val(res[lt]["engine/fp32"], u) / (r * r)
            i8 = _val(res[lt]["engine/int8"], u) / (r * r)
            cells.append(f"{_fmt(v)} | {_fmt(eff)} | {_ratio(base, eff)} | {_ratio(i8, eff)}")
        name = {"hbfp6n4": "HBFP6 + HBFP4 mode", "fp32": "FP32 array",
                "int8": "INT8 array"}.get(
            k, k.upper().replace("/", " "))
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out += ["", f"Beside them: Accuracy Boosters report {ANCHORS['boosters_silicon']}x less "
            f"silicon than FP32 and HBFP up to {ANCHORS['hbfp_throughput']}x FP32 throughput "
            "(see \"Published anchors\"); the column \"vs FP32\" above is our whole-core "
            "counterpart, with the same output buffer in every core.", ""]
    return out


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
             use_cache: bool = True, jobs: int | None = None) -> dict[str, dict[str, Point]]:
    """Synthesize every plan entry with every library: library tag -> key -> point.

    Each design is generated once (elaboration, not synthesis, dominates a cached run) and
    synthesized per library; designs run in parallel, each Yosys worker is its own process.
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
        return {lib.tag: Point(t, c, ge=r.ge, um2=r.um2, cells=r.cells,
                               transistors=r.transistors, seconds=dt, report=r)
                for lib, r in zip(libs, reps, strict=True)}

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


def main(*, out_dir: Path | str = "build/reports", liberty: str | None = None,
         quick: bool = False, use_cache: bool = True) -> int:
    """Build the report; return 0. A design that fails to build or synthesize fails it."""
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
    plan = _plan(quick)
    t0 = time.perf_counter()
    res = run_plan(plan, libs, use_cache=use_cache)
    units = [lib.unit for lib in libs]
    lines = ["# Silicon provisioning", "",
             "Generated by `make provisioning` (`python -m studies.provisioning`). Areas from "
             "hierarchical Yosys synthesis (`flow/area.py`); GE = area / NAND2 area. Libraries: "
             + "; ".join(f"{lib.tag} ({lib.unit}, NAND2 = {lib.nand2_area:g})" for lib in libs)
             + ". How the figures are obtained, and the accounting: `docs/area.md`.", ""]
    if real_note:
        lines += [real_note, ""]
    lines += build_tables(res, units, quick)
    lines += anchors_section(res, units, quick)
    lines += flat_vs_hier(generic, use_cache)
    pngs = _plots(res, units, out, quick)
    lines += ["## Plots", ""] + [f"![{p}]({p})" for p in pngs] + [""]
    lines += [f"{sum(len(r) for r in res.values())} syntheses, "
              f"{time.perf_counter() - t0:.0f} s wall.", ""]
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
        "overheads, block sizes, pod scaling; generic GE and, when present, IHP SG13G2 um2.",
    )
    p.add_argument("--liberty", metavar="LIB",
                   help="real library for the um2 columns (default: IHP SG13G2 beside the repo)")
    p.add_argument("--out", metavar="DIR", default="build/reports", help="report directory")
    p.add_argument("--quick", action="store_true",
                   help="smaller sweep (block sizes 8/16, pods up to 8x8) for a fast check")
    p.add_argument("--no-cache", action="store_true", help="ignore build/area/cache")
    p.set_defaults(func=lambda a: main(out_dir=Path(a.out), liberty=a.liberty, quick=a.quick,
                                       use_cache=not a.no_cache))
    return run_main(p, argv)


if __name__ == "__main__":
    sys.exit(cli())
