"""Scale-out figures (issue 14): the fast model's speed on a BERT-large encoder layer on 256
pods of 32x32, and the headline utilization per network."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from golden import scaleout
from golden.scaleout import SystemGeometry, evaluate_workload
from golden.workloads import bert_layer


def main() -> None:
    layer = bert_layer(1024, 16, 4096, 512)
    geo = SystemGeometry(256, 32, 32, 32, "butterfly", 1)
    best = float("inf")
    for _ in range(3):
        scaleout._pod_cycles.cache_clear()  # cold: no memoized pod recurrences
        t0 = time.perf_counter()
        r = evaluate_workload(layer, geo)
        best = min(best, time.perf_counter() - t0)
    print(f"fast model, BERT-large encoder layer (seq 512) on 256 pods of 32x32, Butterfly x2: "
          f"{best * 1e3:.1f} ms cold (goal < 1 s); {r['cycles']:,} cycles, utilization "
          f"{r['utilization']:.1%}, {r['effective_tops']:.1f} effective TOPS at 1 GHz")
    for net, e in (("butterfly", 0), ("butterfly", 1), ("benes", 0), ("crossbar", 0),
                   ("bus", 0)):
        r = evaluate_workload(layer, SystemGeometry(256, 32, 32, 32, net, e))
        print(f"  {net:9s} x{1 << e}: {r['cycles']:>9,} cycles  {r['utilization']:6.1%}")

    root = Path(__file__).resolve().parents[2]
    for pod, pods in (("8x8", 16), ("32x32", 256)):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "gen", "system", "--pod", pod, "--pods",
                                str(pods), "--net", "butterfly", "--out", f"{tmp}/s"],
                               cwd=root, capture_output=True, text=True)
            dt = time.perf_counter() - t0
        ok = "ok" if r.returncode == 0 else f"FAILED: {r.stderr.strip()[-200:]}"
        print(f"make gen POD={pod} PODS={pods} NET=butterfly: {dt:.1f} s "
              f"({'goal 60 s' if pods == 256 else 'reference'}) {ok}", flush=True)
