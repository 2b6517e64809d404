"""``python -m gen area`` and ``python -m gen provisioning`` (issue 6).

``area`` builds one design point through the generator registry (:mod:`gen.targets`, plus the
INT8 MAC baseline ``int8mac``), synthesizes it hierarchically with :mod:`gen.area` and writes
``build/area/<design>/area.json`` plus a printed table. ``provisioning`` writes the
silicon-provisioning report (:mod:`gen.provisioning`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gen.cli import add_design_args, design_from_args, flag_name
from gen.config import ConfigError, DesignConfig

__all__ = ["AREA_TARGETS", "build_target", "design_label", "generate_int8mac", "register"]

#: Targets ``area`` accepts: the generator registry plus the INT8 MAC baseline.
AREA_TARGETS = ("pod", "dot", "sparsedot", "convert", "normalize", "fp32mac", "decoder",
                "int8mac")


def generate_int8mac(cfg: DesignConfig | None = None) -> Any:
    """The INT8 MAC baseline (:class:`hw.int8mac.Int8Mac`) as a :class:`gen.emit.Design`."""
    from gen.emit import Design, clock_ports, design_manifest, port_table, to_verilog
    from hw.int8mac import Int8Mac

    dut = Int8Mac()
    top = "int8mac"
    text = to_verilog(dut, top)
    ports = clock_ports() + port_table(dut, {
        "a": "signed 8-bit operand", "b": "signed 8-bit operand", "en": "accumulate this cycle",
        "clear": "start a new sum with this product", "acc": "registered 32-bit accumulator",
    })
    man = design_manifest(kind="int8mac", top=top, config={"width": 8, "acc_width": 32},
                          ports=ports, protocol="en-qualified, no backpressure",
                          latency=dut.latency)
    return Design(top, {f"{top}.v": text}, man)


def build_target(target: str, cfg: DesignConfig) -> Any:
    """Build ``target`` for ``cfg`` in memory; one-line :class:`ConfigError` if unavailable."""
    if target == "int8mac":
        return generate_int8mac(cfg)
    from gen.targets import TARGETS, generate

    if target not in TARGETS:
        raise ConfigError(f"target must be one of {', '.join(AREA_TARGETS)}, not {target!r}")
    if target in ("sparsedot", "decoder") and cfg.nm is None:
        raise ConfigError(f"target {target} needs a sparsity N:M (e.g. 2:4)")
    try:
        return generate(target, cfg)
    except (ModuleNotFoundError, AttributeError) as e:
        # The generator of this target has not landed (yet) in this checkout.
        raise ConfigError(f"target {target}: generator {TARGETS[target]} is not available "
                          f"({e})") from None


def design_label(target: str, cfg: DesignConfig) -> str:
    """Directory name of a design point under ``build/area/``, e.g. ``pod_8x8_hbfp6_2of4``."""
    if target == "int8mac":
        return "int8mac"
    if target == "fp32mac":
        return "fp32mac"
    parts = [target]
    if target == "pod":
        parts.append(f"{cfg.rows}x{cfg.cols}")
    parts.append(cfg.format)
    if target != "pod" or cfg.block_size != cfg.rows:
        parts.append(f"b{cfg.block_size}")
    if cfg.narrow_format:
        parts.append(f"n{cfg.narrow_format}")
    if cfg.sparsity:
        parts.append(cfg.sparsity.replace(":", "of"))
    return "_".join(parts)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "area", help="area of one design point with Yosys (GE, transistors, um2 with --liberty)",
        description="Hierarchical Yosys synthesis of a generated design; writes "
        "build/area/<design>/area.json and prints a per-module table.",
    )
    p.add_argument("--target", default="dot", help=f"one of {', '.join(AREA_TARGETS)}")
    add_design_args(p)
    p.add_argument("--liberty", metavar="LIB",
                   help="liberty file to map to (default: the generic gen/sqgen_generic.lib)")
    p.add_argument("--flat", action="store_true",
                   help="flatten before synthesis (cross-boundary optimization) instead of "
                   "synthesizing each unique module once")
    p.add_argument("--compare-flat", action="store_true",
                   help="run both hierarchical and flat and print the difference")
    p.add_argument("--no-cache", action="store_true", help="ignore build/area/cache")
    p.set_defaults(func=run_area)

    q = sub.add_parser(
        "provisioning", help="silicon-provisioning report (build/reports/provisioning.md)",
        description="Area per MAC of FP32, INT8 and HBFP datapaths, sparse and mixed-mantissa "
        "overheads, block sizes, pod scaling; generic GE and, when present, IHP SG13G2 um2.",
    )
    q.add_argument("--liberty", metavar="LIB",
                   help="real library for the um2 columns (default: IHP SG13G2 beside the repo)")
    q.add_argument("--out", metavar="DIR", default="build/reports", help="report directory")
    q.add_argument("--quick", action="store_true",
                   help="smaller sweep (block sizes 8/16, pods up to 8x8) for a fast check")
    q.add_argument("--no-cache", action="store_true", help="ignore build/area/cache")
    q.set_defaults(func=run_provisioning)


def run_area(args: argparse.Namespace) -> int:
    from gen import area

    target = str(args.target).strip().lower()
    if target not in AREA_TARGETS:
        raise ConfigError(
            f"{flag_name(args, '--target')}={args.target!r}: must be one of "
            f"{', '.join(AREA_TARGETS)}"
        )
    lib = None
    if args.liberty:
        try:
            lib = area.load_library(args.liberty)
        except area.AreaError as e:
            raise ConfigError(f"{flag_name(args, '--liberty')}: {e}") from None
    cfg = design_from_args(args)
    design = build_target(target, cfg)
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


def run_provisioning(args: argparse.Namespace) -> int:
    from gen import provisioning

    return provisioning.main(
        out_dir=Path(args.out), liberty=args.liberty, quick=args.quick,
        use_cache=not args.no_cache,
    )
