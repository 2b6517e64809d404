"""``python -m flow``: the EDA flow's command line (``make area``).

``area`` builds one design point through the generator registry (:mod:`gen.targets`),
synthesizes it hierarchically with :mod:`flow.area` and writes ``build/area/<design>/area.json``
plus a printed table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flow import area
from gen.cli import add_design_args, design_from_args, flag_name, run_main
from gen.config import ConfigError
from gen.targets import TARGETS, design_label, generate

__all__ = ["register", "run_area", "main"]


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


def run_area(args: argparse.Namespace) -> int:
    target = str(args.target or "dot").strip().lower()
    lib = None
    if args.liberty:
        try:
            lib = area.load_library(args.liberty)
        except area.AreaError as e:
            raise ConfigError(f"{flag_name(args, '--liberty')}: {e}") from None
    cfg = design_from_args(args)
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
    if len(reports) == 2:
        h, f = reports
        main.meta["flat_total"] = f.to_json()["total"]
        d = 100.0 * (f.ge - h.ge) / h.ge if h.ge else 0.0
        print(f"flat {f.ge:.1f} GE vs hierarchical {h.ge:.1f} GE: {d:+.1f} % from "
              "cross-boundary optimization")
    path = area.write_report(main, out_dir)
    print(f"wrote {path}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m flow", description="sqgen EDA flow")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    register(sub)
    return run_main(p, argv)
