"""Timing and power figures (issue 13): ``make timing`` on the 32x32 pod (goal 60 s) and
``make power`` with MiniLM activity on the 8x8 pod (goal 120 s), both cold (no cache), with
the IHP SG13G2 library when it is present (else the generic one); prints Fmax, mW and pJ/MAC.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from flow.area import ihp_liberty

ROOT = Path(__file__).resolve().parents[2]

#: (label, module and arguments, goal in seconds)
CASES = [
    ("make timing TARGET=pod POD=32x32", ["flow", "timing", "--target", "pod", "--pod", "32x32"],
     60),
    ("make power TARGET=pod POD=8x8 WORKLOAD=minilm",
     ["studies.power_workloads", "power", "--target", "pod", "--pod", "8x8", "--workload",
      "minilm"], 120),
]


def main() -> None:
    lib = ihp_liberty()
    extra = ["--liberty", str(lib)] if lib else []
    print(f"library: {lib.name if lib else 'generic (flow/sqgen_generic.lib)'}; cold (--no-cache)")
    for label, argv, goal in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", *argv, *extra, "--no-cache", "--out",
                                f"{tmp}/o"], cwd=ROOT, capture_output=True, text=True)
            dt = time.perf_counter() - t0
            if r.returncode != 0:
                print(f"{label}: FAILED: {r.stderr.strip()[-300:]}", flush=True)
                continue
            out = Path(tmp) / "o"
            if argv[0] == "flow":
                d = json.loads((out / "timing.json").read_text())
                fig = (f"Fmax {d['fmax_mhz']:.1f} MHz, mapped {d['area']['mapped']['area']:,.0f}"
                       " um2")
            else:
                d = json.loads((out / "power.json").read_text())
                fig = (f"{d['total_mw']:.2f} mW at {d['clock']['mhz']:.1f} MHz, "
                       f"{d['pj_per_mac']:.3f} pJ/MAC (vectorless {d['vectorless']['total_mw']:.2f}"
                       " mW)")
        flag = "" if dt <= goal else "  OVER GOAL"
        print(f"{label}: {dt:.1f} s (goal {goal} s){flag}; {fig}", flush=True)
