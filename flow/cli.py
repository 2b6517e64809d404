"""``python -m flow``: the EDA flow's command line (``make area``).

``area`` builds one design point through the generator registry (:mod:`gen.targets`),
synthesizes it hierarchically with :mod:`flow.area` and writes ``build/area/<design>/area.json``
plus a printed table.

``timing`` builds a design point the same way, maps it with timing-driven ABC (hierarchically:
repeated blocks once, as timing models; ``--flat``: the flattened design) and times it with
OpenSTA (:mod:`flow.timing`); it writes ``build/timing/<design>/timing.json``,
``timing.rpt``, ``sta.log`` and ``sta.tcl`` and prints a summary.

``power`` (:mod:`flow.power_cli`, :mod:`flow.power`) simulates a workload on the timing flow's
mapped netlist at gate level and writes ``build/power/<design>/power.json`` and ``power.rpt``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from flow import area, power_cli, sram, timing
from gen.cli import add_design_args, design_from_args, flag_name, run_main
from gen.config import ConfigError
from gen.targets import TARGETS, design_label, generate

__all__ = ["register", "register_timing", "run_area", "run_timing", "main"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "area", help="area of one design point with Yosys (GE, transistors, um2 with --liberty)",
        description="Hierarchical Yosys synthesis of a generated design; writes "
        "build/area/<design>/area.json and prints a per-module table.",
    )
    p.add_argument("--target", help=f"one of {', '.join(TARGETS)} (default dot)")
    add_design_args(p)
    p.add_argument("--liberty", metavar="LIB",
                   help="liberty file to map to (default: the generic flow/sqgen_generic.lib)")
    p.add_argument("--flat", action="store_true",
                   help="flatten before synthesis (cross-boundary optimization) instead of "
                   "synthesizing each unique module once")
    p.add_argument("--compare-flat", action="store_true",
                   help="run both hierarchical and flat and print the difference")
    p.add_argument("--no-cache", action="store_true", help="ignore build/area/cache")
    p.set_defaults(func=run_area)


def register_timing(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "timing", help="Fmax, critical path and slack of one design point (Yosys/ABC + OpenSTA)",
        description="Timing-driven mapping and OpenSTA analysis (hierarchical designs: repeated "
        "blocks mapped and timed once as timing models, --flat for the flattened design); "
        "writes build/timing/<design>/timing.json, timing.rpt, sta.log and sta.tcl.",
    )
    p.add_argument("--target", help=f"one of {', '.join(TARGETS)} (default dot)")
    add_design_args(p)
    p.add_argument("--liberty", metavar="LIB",
                   help="liberty file with timing tables (default: the generic "
                   "flow/sqgen_generic.lib, delays fitted to IHP SG13G2)")
    p.add_argument("--clock-ns", metavar="NS",
                   help=f"clock period in ns, also ABC's delay target "
                   f"(default {timing.DEFAULT_CLOCK_NS:g})")
    p.add_argument("--wire-load", metavar="NAME",
                   help="wire-load model of the library (default: the library's default)")
    p.add_argument("--path-from", metavar="PORT", action="append", default=[],
                   help="also report the worst path from this input port (repeatable), e.g. "
                   "res__ready: a pod's global stall enable")
    p.add_argument("--flat", action="store_true",
                   help="time the flattened design as one netlist (minutes at 32x32) instead of "
                   "the hierarchical method (repeated blocks mapped once, as timing models)")
    p.add_argument("--keep-netlist", action="store_true",
                   help="also write the mapped netlist (netlist.v; hierarchical: the top netlist "
                   "and each block's netlist and timing model) into the output directory")
    p.add_argument("--no-area-flow", action="store_true",
                   help="skip the area flow's figure beside the mapped netlist's area")
    p.add_argument("--no-cache", action="store_true",
                   help="ignore build/timing/cache and build/area/cache")
    p.set_defaults(func=run_timing)


def run_area(args: argparse.Namespace) -> int:
    target = str(args.target or "dot").strip().lower()
    lib = None
    if args.liberty:
        try:
            lib = area.load_library(args.liberty)
        except area.AreaError as e:
            raise ConfigError(f"{flag_name(args, '--liberty')}: {e}") from None
    cfg = design_from_args(args, baseline=True)
    design = generate(target, cfg, what=flag_name(args, '--target'))
    label = design_label(target, cfg) + ("" if lib is None else f"-{lib.tag}")
    out_dir = Path(args.out) if args.out else area.ROOT / "build" / "area" / label
    cache = None if args.no_cache else area.DEFAULT_CACHE
    modes = [False, True] if args.compare_flat else [bool(args.flat)]
    reports = []
    for flat in modes:
        rep = area.area_of_design(design, liberty=lib, flat=flat, cache_dir=cache)
        rep.meta.update({"design": label, "target": target, "config": cfg.to_dict()})
        reports.append(rep)
        print(area.format_table(rep))
        print()
    main = reports[0]
    if target == "engine":
        main.meta["output_buffer"] = buf = engine_buffer(main, design.manifest)
        print(format_buffer(buf, main))
    if len(reports) == 2:
        h, f = reports
        main.meta["flat_total"] = f.to_json()["total"]
        d = 100.0 * (f.ge - h.ge) / h.ge if h.ge else 0.0
        print(f"flat {f.ge:.1f} GE vs hierarchical {h.ge:.1f} GE: {d:+.1f} % from "
              "cross-boundary optimization")
    path = area.write_report(main, out_dir)
    print(f"wrote {path}", file=sys.stderr)
    return 0


def engine_buffer(rep: area.AreaReport, manifest: dict) -> dict:
    """The engine's output buffer: its flip-flop area (module ``<top>_buffer`` of the area
    flow) and, with the IHP SRAM macros present, the nearest macro tiling (:mod:`flow.sram`)."""
    ob = manifest["output_buffer"]
    name = f"{manifest['top']}_buffer"
    mods = [m for m in rep.modules if m.name == name]
    if not mods:
        raise area.AreaError(f"no module {name} in the area report of {manifest['top']}")
    m = mods[0]
    unit = "GE" if rep.library.generic else "um2"
    out = {"rows": ob["rows"], "word_bits": ob["word_bits"], "bits": ob["bits"],
           "flops": {"area": m.area, "ge": m.ge, "unit": unit,
                     "share_of_total": m.area * m.instances / rep.area if rep.area else 0.0}}
    macro = sram.map_buffer(ob["rows"], ob["word_bits"], ports=2)
    if macro is None:
        out["sram"] = None
        out["sram_note"] = ("IHP SRAM macros not found (../shared/pdk/ihp-sg13g2/sram): "
                            "flip-flop buffer only")
    else:
        out["sram"] = macro
        if not rep.library.generic:  # both in um2: the core with the macro instead of flops
            out["total_with_sram_um2"] = rep.area - m.area * m.instances + macro["area_um2"]
    return out


def format_buffer(buf: dict, rep: area.AreaReport) -> str:
    f = buf["flops"]
    lines = [f"output buffer {buf['rows']} x {buf['word_bits']} bits ({buf['bits']} bits): "
             f"{f['area']:.1f} {f['unit']} in flip-flops ({f['share_of_total']:.1%} of the core)"]
    s = buf.get("sram")
    if s is None:
        lines.append(f"  {buf['sram_note']}")
    else:
        lines.append(f"  as SRAM: {s['count']} x {s['macro']} ({s['rows']} deep x {s['cols']} "
                     f"wide, {s['utilization']:.0%} of the macro bits used) = "
                     f"{s['area_um2']:.0f} um2")
        if "total_with_sram_um2" in buf:
            lines.append(f"  core with the SRAM buffer: {buf['total_with_sram_um2']:.0f} um2 "
                         f"(with flip-flops: {rep.area:.0f} um2)")
    return "\n".join(lines)


def run_timing(args: argparse.Namespace) -> int:
    target = str(args.target or "dot").strip().lower()
    try:
        lib = timing.load_timing_library(args.liberty or None)
    except timing.TimingError as e:
        if args.liberty:
            raise ConfigError(f"{flag_name(args, '--liberty')}: {e}") from None
        raise
    if args.wire_load is not None and args.wire_load not in lib.wire_loads:
        have = ", ".join(lib.wire_loads) or "none"
        raise ConfigError(f"--wire-load={args.wire_load!r}: library {lib.name} has no such "
                          f"wire-load model (it has: {have})")
    clock = timing.clock_flag(args.clock_ns, flag_name(args, "--clock-ns"), "10")
    timing.sta_binary()  # refuse a missing sta before generating anything
    cfg = design_from_args(args, baseline=True)
    design = generate(target, cfg, what=flag_name(args, "--target"))
    label = design_label(target, cfg) + ("" if lib.generic else f"-{lib.base.tag}")
    out_dir = Path(args.out) if args.out else area.ROOT / "build" / "timing" / label
    try:
        rep = timing.timing_of_design(
            design, liberty=lib, clock_ns=clock, wire_load=args.wire_load,
            area_flow=not args.no_area_flow, keep_netlist=bool(args.keep_netlist),
            flat=bool(args.flat) or (bool(args.make) and os.environ.get("FLAT", "").strip()
                                     .lower() in ("1", "yes", "true", "on")),
            area_cache=None if args.no_cache else area.DEFAULT_CACHE,
            cache_dir=None if args.no_cache else timing.DEFAULT_CACHE,
            paths_from=tuple(args.path_from),
        )
    except timing.TimingError as e:
        if "is not an input port" in str(e):
            raise ConfigError(f"--path-from: {e}") from None
        raise
    rep.data = {"design": label, "target": target, "config": cfg.to_dict(), **rep.data}
    rep.report = timing.format_report(rep)
    print(timing.format_summary(rep))
    path = timing.write_report(rep, out_dir)
    print(f"wrote {path}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m flow", description="sqgen EDA flow")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    register(sub)
    register_timing(sub)
    power_cli.register_power(sub)
    return run_main(p, argv)
