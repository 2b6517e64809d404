"""``python -m flow power`` (``make power``): power of one design point (:mod:`flow.power`).

Builds the design point through the generator registry like ``python -m flow timing``, takes
the timing flow's mapped netlist, simulates a workload on it at gate level and writes
``build/power/<design>[-<library>]/power.json`` and ``power.rpt``.

Workloads: ``random`` and ``zeros`` for every target (the pod gets a GEMM, the datapath blocks
per-cycle input vectors); ``minilm`` (pod only) is a MiniLM layer slice, which lives above the
flow (:mod:`studies.power_workloads`, the layer rule keeps MiniLM out of :mod:`flow`): it is
available when the command is started as ``python -m studies.power_workloads`` -- what
``make power`` does, with ``minilm`` as the pod's default there. :func:`main` takes the extra
workload providers as an argument.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from flow import area, power, timing
from gen.cli import add_design_args, design_from_args, flag_name, run_main
from gen.config import ConfigError, DesignConfig
from gen.targets import TARGETS, design_label, generate

__all__ = ["WorkloadProvider", "macs_per_cycle", "main", "register_power", "run_power"]

#: ``provider(geometry, gemm=(M, N, K) | None, seed=int) -> flow.power.PodWorkload``
WorkloadProvider = Callable[..., power.PodWorkload]

#: Targets whose random workload has a meaningful MAC count per accepted beat.
_MACS = ("dot", "sparsedot", "int8mac", "fp32mac")


def macs_per_cycle(target: str, cfg: DesignConfig) -> float | None:
    """Multiply-accumulates per accepted beat of a datapath block (``None``: not a MAC unit):
    a dot unit's block, a sparse dot unit's physical products (block x N/M), one for the
    INT8 and FP32 MACs."""
    if target == "dot":
        return float(cfg.block_size)
    if target == "sparsedot":
        n, m = cfg.nm or (1, 1)
        return cfg.block_size * n / m
    if target in ("int8mac", "fp32mac"):
        return 1.0
    return None


def register_power(sub: argparse._SubParsersAction, *,
                   workloads: Mapping[str, WorkloadProvider] | None = None,
                   default_workload: str | None = None) -> None:
    """Add the ``power`` subcommand; ``workloads`` adds pod workloads by name (``minilm``)."""
    names = ", ".join(sorted({"random", "zeros", "minilm", *(workloads or {})}))
    p = sub.add_parser(
        "power", help="power of one design point: gate-level simulation of the mapped netlist "
        "(Icarus) with energy from the liberty tables",
        description="Maps the design with the timing flow, simulates a workload on the mapped "
        "netlist (checked against the golden model or the RTL), and writes "
        "build/power/<design>/power.json and power.rpt.",
    )
    p.add_argument("--target", help=f"one of {', '.join(t for t in TARGETS if t != 'engine')} "
                   "(default pod)")
    add_design_args(p)
    p.add_argument("--liberty", metavar="LIB",
                   help="liberty file with power data (default: the generic "
                   "flow/sqgen_generic.lib, power fitted to IHP SG13G2)")
    p.add_argument("--clock-ns", metavar="NS",
                   help="clock period in ns (also ABC's delay target); default: the mapped "
                   "netlist's Fmax at the timing flow's default target")
    p.add_argument("--workload", metavar="NAME",
                   help=f"{names} (minilm: a pod only, via python -m studies.power_workloads or "
                   "make power); default "
                   + (f"{default_workload} for a pod, random otherwise" if default_workload
                      else "random"))
    p.add_argument("--gemm", metavar="MxNxK",
                   help="pod workload GEMM, e.g. 64x32x32 (default 64 x 4C x 4Kf)")
    p.add_argument("--cycles", metavar="N", help="cycles of a datapath workload (default 256)")
    p.add_argument("--seed", metavar="N", help="seed of the random operands (default 1)")
    p.add_argument("--keep-sim", action="store_true",
                   help="keep the simulation directories (netlist, cell models, testbench, "
                   "stimulus, samples) in <out>/sim")
    p.add_argument("--sample-all", action="store_true",
                   help="have the simulator report every net (slower) instead of the registers, "
                   "inputs and a check set, and check every recomputed net against it")
    p.add_argument("--no-cache", action="store_true",
                   help="ignore build/power/cache (the mapped netlist and cell models)")
    p.set_defaults(func=run_power, workload_providers=dict(workloads or {}),
                   default_workload=default_workload)


def _int(args: argparse.Namespace, flag: str, value: str | None, default: int, lo: int,
         hi: int) -> int:
    if value is None:
        return default
    try:
        v = int(str(value).strip())
    except ValueError:
        v = lo - 1
    if not lo <= v <= hi:
        raise ConfigError(f"{flag_name(args, flag)}={value!r}: must be an integer "
                          f"{lo} .. {hi}")
    return v


def _workload_flag(args: argparse.Namespace) -> str:
    return "WORKLOAD" if getattr(args, "make", False) else "--workload"


def run_power(args: argparse.Namespace) -> int:
    if getattr(args, "make", False) and not args.workload:
        args.workload = os.environ.get("WORKLOAD", "").strip() or None
    target = str(args.target or "pod").strip().lower()
    if target == "engine":
        raise ConfigError(f"{flag_name(args, '--target')}=engine: the power flow covers the pod "
                          "and the datapath blocks (the engine's SRAM energy: "
                          "flow.power.sram_power)")
    try:
        lib = power.load_power_library(args.liberty or None)
    except power.PowerError as e:
        if args.liberty:
            raise ConfigError(f"{flag_name(args, '--liberty')}: {e}") from None
        raise
    clock = timing.clock_flag(args.clock_ns, flag_name(args, "--clock-ns"), "5")
    try:
        timing.sta_binary()  # refuse a missing sta or Icarus before generating anything
    except timing.TimingError as e:
        raise power.PowerError(str(e)) from None
    power._tool("iverilog")
    power._tool("vvp")
    seed = _int(args, "--seed", args.seed, 1, 0, 2**31 - 1)
    cfg = design_from_args(args, baseline=True)
    design = generate(target, cfg, what=flag_name(args, "--target"))
    providers: Mapping[str, WorkloadProvider] = args.workload_providers
    wflag = _workload_flag(args)
    macs = None
    if target == "pod":
        name = (args.workload or args.default_workload or "random").strip().lower()
        geo = power.pod_geometry(cfg)
        gemm = None
        if args.gemm:
            m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*[xX]\s*(\d+)\s*", str(args.gemm))
            if m is None or min(int(x) for x in m.groups()) < 1 or int(m.group(1)) > 100_000:
                raise ConfigError(f"{flag_name(args, '--gemm')}={args.gemm!r}: must be MxNxK, "
                                  "e.g. 64x32x32 (activation rows x outputs x reduction)")
            gemm = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if name in providers:
            wl = providers[name](geo, gemm=gemm, seed=seed)
        elif name == "minilm":
            raise ConfigError(f"{wflag}=minilm: MiniLM data lives in the studies layer; run "
                              "python -m studies.power_workloads ... or make power")
        elif name in ("random", "zeros"):
            wl = power.pod_workload(name, geo, gemm=gemm, seed=seed)
        else:
            have = ", ".join(sorted({"random", "zeros", "minilm", *providers}))
            raise ConfigError(f"{wflag}={name!r}: must be one of {have}")
    else:
        name = (args.workload or "random").strip().lower()
        if name not in ("random", "zeros"):
            raise ConfigError(f"{wflag}={name!r}: a datapath block ({target}) takes random or "
                              "zeros (minilm is a pod GEMM)")
        if args.gemm:
            raise ConfigError(f"{flag_name(args, '--gemm')}: only a pod runs a GEMM")
        wl = power.vector_workload(name, cycles=_int(args, "--cycles", args.cycles, 256, 2,
                                                     1_000_000), seed=seed)
        macs = macs_per_cycle(target, cfg)
    label = design_label(target, cfg) + ("" if lib.generic else f"-{lib.timing.base.tag}")
    out_dir = Path(args.out) if args.out else area.ROOT / "build" / "power" / label
    rep = power.power_of_design(
        design, workload=wl, liberty=lib, clock_ns=clock, macs_per_cycle=macs,
        cache_dir=None if args.no_cache else power.DEFAULT_CACHE,
        keep_dir=out_dir / "sim" if args.keep_sim else None, sample_all=bool(args.sample_all))
    rep.data = {"design": label, "target": target, "config": cfg.to_dict(), **rep.data}
    rep.report = power.format_report(rep)
    print(power.format_summary(rep))
    path = power.write_report(rep, out_dir)
    print(f"wrote {path}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None, *,
         workloads: Mapping[str, WorkloadProvider] | None = None,
         default_workload: str | None = None, prog: str = "python -m flow") -> int:
    """``power`` alone (``argv`` starts with ``power``), with extra pod workloads."""
    p = argparse.ArgumentParser(prog=prog, description="sqgen power flow")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    register_power(sub, workloads=workloads, default_workload=default_workload)
    return run_main(p, argv)
