"""Pod figures (``make bench``): generation wall time, Verilator build time, simulated MACs per
wall-second under cocotb, and utilization of real layers against SCALE-Sim's WS model."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from golden.systolic import layer_table
from sim import tb_pod
from sim.common import ROOT


def gen_wall(pod: str, top: str = "pod") -> float:
    """Wall seconds of ``python -m gen <top> --pod <pod>`` (what ``make gen POD=<pod>
    TOP=<top>`` runs)."""
    with tempfile.TemporaryDirectory(prefix="sqgen-bench-") as tmp:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "gen", top, "--make", "--pod", pod,
                        "--out", str(Path(tmp) / top)], check=True, cwd=ROOT,
                       capture_output=True, text=True)
        return time.perf_counter() - t0


def cocotb_gemm(pod: str, fmt: str, gemm: tuple[int, int, int], seed: int = 77) -> dict:
    """Verilator build time and one always-ready GEMM's simulated MACs per wall-second.

    Runs ``sim/tb_pod.py``'s ``cocotb_pod_gemm`` through the same entry as the co-simulation
    tests (:func:`sim.tb_pod.build_and_run`), under ``build/sim/bench_pod/verilator-<pod>``.
    """
    run = tb_pod.build_and_run("verilator", pod, pod, fmt, None, gemm, seed=seed,
                               backpressure=False, block="bench_pod",
                               testcase="cocotb_pod_gemm", report=True)
    if not run.records:
        raise RuntimeError(f"cocotb GEMM on {pod} produced no report (failed?)")
    return {"pod": pod, "build_s": run.build_s, **run.records[-1]}


def utilization_table(rows: int = 32, cols: int = 32) -> str:

    lines = [f"Utilization on a {rows}x{cols} pod (pod = exact RTL cycles; SCALE-Sim WS = "
             "no-overlap model; util = M*N*K_eff / (cycles*R*C))",
             f"{'layer':32s} {'M':>6s} {'N':>5s} {'K':>5s} | {'dense pod':>9s} {'SCALE-Sim':>9s} "
             f"{'speedup':>7s} | {'2:4 pod':>8s} {'SCALE-Sim':>9s}"]
    dense = layer_table(rows, cols)
    sparse = layer_table(rows, cols, "2:4")
    for d, s in zip(dense, sparse, strict=True):
        lines.append(
            f"{d['layer']:32s} {d['M']:6d} {d['N']:5d} {d['K']:5d} | {d['pod_util']:9.1%} "
            f"{d['scalesim_util']:9.1%} {d['speedup']:6.2f}x | {s['pod_util']:8.1%} "
            f"{s['scalesim_util']:9.1%}")
    return "\n".join(lines)


def main() -> None:
    print(utilization_table(), flush=True)
    for pod in ("32x32", "128x128"):
        print(f"make gen POD={pod}: {gen_wall(pod):.1f} s wall", flush=True)
    for pod, gemm in (("16x16", (256, 64, 256)), ("32x32", (256, 128, 256))):
        r = cocotb_gemm(pod, "hbfp8", gemm)
        print(f"cocotb/Verilator {pod} GEMM {gemm[0]}x{gemm[2]} by {gemm[2]}x{gemm[1]}: "
              f"build {r['build_s']:.1f} s, {r['cycles']} cycles in {r['wall_s']:.2f} s = "
              f"{r['cycles_per_wall_s']:.0f} cycles/s, {r['macs_per_wall_s']:.3g} MACs/wall-s",
              flush=True)


if __name__ == "__main__":
    main()
