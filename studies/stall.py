"""The global stall decision (issue 13): Fmax, area and power of pods with the global clock
enable (``stall="enable"``) and without it (``stall="queue"``: output queue and credits).

``python -m studies.stall [--pods 4x4,8x8,16x16,32x32] [--power-max 16] [--liberty LIB]``
writes ``build/reports/stall/report.md`` and ``stall.json``. Timing is the timing flow's
hierarchical method at its default 10 ns target (timing-driven ABC mapping, the PE as a block
model); power is the power flow's gate-level simulation of a random GEMM through the mapped
netlist (bit-exact against golden, cycle-exact against ``golden.systolic.cycles``) at each
design's own Fmax, for pods up to ``--power-max`` rows (the 32x32 simulation takes tens of
minutes); the vectorless figure is reported beside it. Both designs are bit-exact and
cycle-exact in co-simulation (``sim/tb_pod.py``, ``tests/test_pod.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from flow import area, power, timing
from gen.cmd_pod import generate_pod
from gen.config import DesignConfig, parse_pod

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "reports" / "stall"
STALLS = ("enable", "queue")


def measure(pod: str, stall: str, *, liberty: Any, with_power: bool) -> dict[str, Any]:
    rows, cols = parse_pod(pod)
    cfg = DesignConfig(rows=rows, cols=cols, format="hbfp6", stall=stall)
    d = generate_pod(cfg)
    t0 = time.perf_counter()
    t = timing.timing_of_design(d, liberty=liberty).data
    row: dict[str, Any] = {
        "pod": pod, "stall": stall, "fmax_mhz": t["fmax_mhz"],
        "critical_path_ns": t["critical_path_ns"],
        "critical_path": " -> ".join(timing.path_point(t["critical_path"][k])
                                     for k in ("startpoint", "endpoint")),
        "area_um2": t["area"]["mapped"]["area"], "ge": t["area"]["mapped"]["ge"],
        "sequential_um2": t["area"]["mapped"]["sequential_area"],
        "mux2": t["area"]["mapped"]["cells_by_type"].get("sg13g2_mux2_1", 0),
        "flops": sum(v for k, v in t["area"]["mapped"]["cells_by_type"].items() if "df" in k),
        "register_bits": d.manifest["register_bits"],
        "timing_s": round(time.perf_counter() - t0, 1),
    }
    if with_power:
        t1 = time.perf_counter()
        wl = power.pod_workload("random", power.pod_geometry(cfg))
        p = power.power_of_design(d, workload=wl, liberty=liberty).data
        row.update({
            "power_mw": p["total_mw"], "dynamic_mw": p["dynamic_mw"],
            "leakage_mw": p["leakage_mw"], "pj_per_mac": p["pj_per_mac"],
            "power_clock_mhz": p["clock"]["mhz"],
            "vectorless_mw": p["vectorless"]["total_mw"],
            "power_s": round(time.perf_counter() - t1, 1),
        })
    return row


def report(rows: list[dict[str, Any]], lib_name: str) -> str:
    by = {(r["pod"], r["stall"]): r for r in rows}
    pods = list(dict.fromkeys(r["pod"] for r in rows))
    out = ["# The global stall: enable or output queue", "",
           f"HBFP6 pods, library {lib_name}, timing flow hierarchical at 10 ns (timing-driven "
           "mapping), power of a random GEMM simulated on the mapped netlist at each design's "
           "Fmax (bit-exact against golden). `enable`: every datapath register behind the "
           "global clock enable; `queue`: no enable on the PE, skew and token registers, an "
           "output queue of R+C-1 result beats (flip-flops) and credits on `act`.", "",
           "| pod | stall | Fmax MHz | crit. ns | area um2 | seq. um2 | mux2 | flops | "
           "mW | pJ/MAC | vectorless mW |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for pod in pods:
        for s in STALLS:
            r = by.get((pod, s))
            if r is None:
                continue
            pw = (f"{r['power_mw']:.2f} | {r['pj_per_mac']:.3f} | {r['vectorless_mw']:.2f}"
                  if "power_mw" in r else "- | - | -")
            out.append(f"| {pod} | {s} | {r['fmax_mhz']:.1f} | {r['critical_path_ns']:.3f} | "
                       f"{r['area_um2']:,.0f} | {r['sequential_um2']:,.0f} | {r['mux2']:,} | "
                       f"{r['flops']:,} | {pw} |")
    out += ["", "Queue against enable (same pod):", "",
            "| pod | Fmax | area | power | pJ/MAC |", "|---|---:|---:|---:|---:|"]
    for pod in pods:
        e, q = by.get((pod, "enable")), by.get((pod, "queue"))
        if not e or not q:
            continue

        cells = [f"{100 * (q[k] / e[k] - 1):+.1f} %" if k in q and k in e else "-"
                 for k in ("fmax_mhz", "area_um2", "power_mw", "pj_per_mac")]
        out.append(f"| {pod} | " + " | ".join(cells) + " |")
    first, last = pods[0], pods[-1]
    if (first, "enable") in by and (last, "enable") in by:
        f0, f1 = by[(first, "enable")]["fmax_mhz"], by[(last, "enable")]["fmax_mhz"]
        out += ["", f"Goal: the {last} pod's Fmax within 10 % of the {first} pod's: "
                f"{f1:.1f} against {f0:.1f} MHz ({100 * (f1 / f0 - 1):+.1f} %) with the enable."]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m studies.stall", description=__doc__.split("\n")[0])
    ap.add_argument("--pods", default="4x4,8x8,16x16,32x32")
    ap.add_argument("--power-max", type=int, default=16,
                    help="gate-level power for pods up to this many rows (default 16)")
    ap.add_argument("--liberty", help="liberty (default: IHP SG13G2 when present, else generic)")
    a = ap.parse_args(argv)
    lib = a.liberty or area.ihp_liberty()
    lib_name = Path(lib).stem if lib else "generic (flow/sqgen_generic.lib)"
    rows = []
    for pod in a.pods.split(","):
        for s in STALLS:
            r = measure(pod, s, liberty=lib, with_power=parse_pod(pod)[0] <= a.power_max)
            print(json.dumps({k: v for k, v in r.items() if k != "register_bits"}), flush=True)
            rows.append(r)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "stall.json").write_text(json.dumps(rows, indent=1) + "\n")
    (OUT / "report.md").write_text(report(rows, lib_name))
    print(f"wrote {OUT / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
