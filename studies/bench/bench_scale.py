"""Generation at scale (``make bench``): ``make gen POD=256x256`` and ``POD=512x512``.

Wall time and peak memory (the largest resident set of the generator and its Yosys child) of
``python -m gen pod`` run cold in a fresh process, as ``make gen`` runs it. Goals (reliability
issue): 256x256 within 20 s and 1 GiB, 512x512 within 90 s; 128x128 and 32x32 for the trend.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: pod -> (seconds goal, MiB goal or None)
CASES = {"32x32": (None, None), "128x128": (None, None), "256x256": (20.0, 1024.0),
         "512x512": (90.0, None)}

_PROBE = """
import json, resource, subprocess, sys, time
t0 = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, capture_output=True)
dt = time.perf_counter() - t0
print(json.dumps({"s": dt, "maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def measure(pod: str) -> dict[str, float]:
    """Seconds and peak MiB of one cold ``python -m gen pod --pod <pod>``."""
    with tempfile.TemporaryDirectory(prefix="sqgen-scale-") as tmp:
        cmd = [sys.executable, "-c", _PROBE, sys.executable, "-m", "gen", "pod", "--pod", pod,
               "--out", str(Path(tmp) / "pod")]
        res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
        rec = json.loads(res.stdout.strip().splitlines()[-1])
        return {"s": rec["s"], "mib": rec["maxrss_kib"] / 1024}


def main() -> None:
    print(f"{'make gen POD=':<16} {'wall s':>8} {'goal s':>7} {'peak MiB':>9} {'goal MiB':>9}")
    for pod, (goal_s, goal_mib) in CASES.items():
        r = measure(pod)
        over = (goal_s is not None and r["s"] > goal_s) or (
            goal_mib is not None and r["mib"] > goal_mib)
        print(f"{pod:<16} {r['s']:>8.1f} {goal_s or '-':>7} {r['mib']:>9.0f} "
              f"{goal_mib or '-':>9}{'  OVER GOAL' if over else ''}", flush=True)


if __name__ == "__main__":
    main()
