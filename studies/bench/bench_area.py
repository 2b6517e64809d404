"""Bench: wall time of the area flow as ``make area`` runs it, then the provisioning table.

Times a cold run (``--no-cache``, as from a fresh clone) of ``python -m flow area --make`` for one
HBFP6 dot unit at the papers' block 64, an 8x8 pod and a 32x32 pod (goals 30 s, 60 s, 120 s),
then builds (or refreshes from cache) ``build/reports/provisioning.md``, printing its tables
(with Fmax and power when OpenSTA and Icarus are installed, as ``make provisioning`` gives them).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from studies import provisioning

ROOT = Path(__file__).resolve().parents[2]

#: (label, make-equivalent arguments, goal in seconds)
CASES = [
    ("dot unit (TARGET=dot FMT=hbfp6 BLOCK=64)",
     ["--target", "dot", "--format", "hbfp6", "--block", "64"], 30.0),
    ("8x8 pod (TARGET=pod POD=8x8 FMT=hbfp6)",
     ["--target", "pod", "--pod", "8x8", "--format", "hbfp6"], 60.0),
    ("32x32 pod (TARGET=pod POD=32x32 FMT=hbfp6)",
     ["--target", "pod", "--pod", "32x32", "--format", "hbfp6"], 120.0),
]


def time_area(args: list[str]) -> tuple[float, str]:
    """Run one cold area flow in a fresh process; return (seconds, last table line)."""
    cmd = [sys.executable, "-m", "flow", "area", "--no-cache", *args]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {res.stderr.strip()}")
    total = [ln for ln in res.stdout.splitlines() if ln.startswith("total")]
    return dt, (total[-1] if total else "")


def main() -> None:
    print(f"{'area flow (cold, generic library)':<46} {'wall s':>8} {'goal s':>7}  total GE")
    for label, args, goal in CASES:
        dt, total = time_area(args)
        ge = total.split()[-1] if total else "?"
        flag = "" if dt <= goal else "  OVER GOAL"
        print(f"{label:<46} {dt:>8.1f} {goal:>7.0f}  {ge}{flag}", flush=True)

    speed = shutil.which("sta") is not None
    with_power = shutil.which("iverilog") is not None and shutil.which("vvp") is not None
    t0 = time.perf_counter()
    provisioning.main(out_dir=ROOT / "build" / "reports", speed=speed, with_power=with_power)
    what = ("with Fmax and power" if speed and with_power else "with Fmax, no power (no Icarus)"
            if speed else "area only (no OpenSTA)")
    print(f"provisioning report, {what}: {time.perf_counter() - t0:.1f} s "
          "(build/reports/provisioning.md; cached syntheses and timings are reused)")


if __name__ == "__main__":
    main()
