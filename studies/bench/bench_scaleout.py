"""Scale-out figures (issue 14): the fast model's speed on a BERT-large encoder layer on 256
pods of 32x32, and the headline utilization per network."""

from __future__ import annotations

import time

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
