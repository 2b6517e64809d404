"""Design-space sweep figures (issue 15): the default sweep cold on one and on two Dask workers
(goal: two at least 1.7x faster than one; cold within 15 minutes on 2 cores) and warm
(within 30 s). Each cold run has a fresh cache (flows' caches included); ``SQGEN_BENCH_DSE``
names another sweep file."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(sweep: str, out: Path, cache: Path, workers: int) -> tuple[float, str]:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "flow.dse", "--sweep", sweep, "--out", str(out),
                        "--cache", str(cache), "--workers", str(workers), "--no-progress"],
                       cwd=ROOT, capture_output=True, text=True,
                       env={k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER"})
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"flow.dse failed: {(r.stdout + r.stderr).strip()[-600:]}")
    done = next((ln for ln in r.stdout.splitlines() if "points done" in ln), "")
    return dt, done


def main() -> None:
    sweep = os.environ.get("SQGEN_BENCH_DSE") or str(ROOT / "configs/sweeps/granularity.yaml")
    with tempfile.TemporaryDirectory(prefix="sqgen-bench-dse-") as tmp:
        t = Path(tmp)
        two, line2 = _run(sweep, t / "out2", t / "cache2", 2)
        print(f"dse {Path(sweep).name} cold, 2 workers: {two:.1f} s (goal 900 s) "
              f"{'ok' if two <= 900 else 'SLOW'}; {line2}", flush=True)
        warm, _ = _run(sweep, t / "out2", t / "cache2", 2)
        print(f"dse warm rerun, 2 workers: {warm:.1f} s (goal 30 s) "
              f"{'ok' if warm <= 30 else 'SLOW'}", flush=True)
        one, _ = _run(sweep, t / "out1", t / "cache1", 1)
        print(f"dse cold, 1 worker: {one:.1f} s; speed-up of 2 workers {one / two:.2f}x "
              f"(goal 1.7x) {'ok' if one / two >= 1.7 else 'LOW'}", flush=True)
