"""Golden-model speed on a 4096x4096 float32 tensor, each against ``np.copy`` of it.

Goals: ``hbfp_quantize`` (issue 2) and ``mx_quantize`` (fp8_e4m3, fp4_e2m1, block 32) within
10x the copy time, ``nm_prune`` 2:4 within 5x. Best of a few runs with ``time.perf_counter`` so
a busy machine inflates neither figure by much.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from golden.formats import hbfp_quantize, mx_quantize
from golden.sparsity import nm_prune

SHAPE = (4096, 4096)
MANT_BITS = 5
BLOCK = 64
MX_BLOCK = 32
RUNS = 5


def best_of(
    fn: Callable[[], object], runs: int = RUNS, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Smallest time of ``runs`` calls on ``clock``, in seconds."""
    best = float("inf")
    for _ in range(runs):
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
    return best


def cases(x: np.ndarray) -> list[tuple[str, Callable[[], object], float]]:
    """``(label, call, goal ratio)`` of every timed golden function."""
    return [
        (
            f"hbfp_quantize(m={MANT_BITS}, block={BLOCK})",
            lambda: hbfp_quantize(x, MANT_BITS, BLOCK),
            10.0,
        ),
        (
            f"mx_quantize(fp8_e4m3, block={MX_BLOCK})",
            lambda: mx_quantize(x, "fp8_e4m3", MX_BLOCK),
            10.0,
        ),
        (
            f"mx_quantize(fp4_e2m1, block={MX_BLOCK})",
            lambda: mx_quantize(x, "fp4_e2m1", MX_BLOCK),
            10.0,
        ),
        ("nm_prune(2:4)", lambda: nm_prune(x, 2, 4), 5.0),
    ]


def main() -> None:
    x = np.random.default_rng(0).standard_normal(SHAPE, dtype=np.float32)
    print(f"tensor {SHAPE[0]}x{SHAPE[1]} float32 ({x.nbytes / 2**20:.0f} MiB), best of {RUNS}")
    w = max(len(label) for label, _, _ in cases(x)) + len("CPU time ")
    t_copy = best_of(lambda: np.copy(x))
    print(f"{'np.copy':<{w}}: {t_copy * 1e3:8.1f} ms")
    for label, fn, goal in cases(x):
        t = best_of(fn)
        print(
            f"{label:<{w}}: {t * 1e3:8.1f} ms  copy {t_copy * 1e3:6.1f} ms  "
            f"ratio {t / t_copy:6.1f}x  (goal <= {goal:g}x)"
        )
    # CPU time of this process as a second opinion: on a shared machine wall time also
    # counts other jobs' time slices, CPU time much less so.
    c_copy = best_of(lambda: np.copy(x), clock=time.process_time)
    print(f"{'CPU time np.copy':<{w}}: {c_copy * 1e3:8.1f} ms")
    for label, fn, _ in cases(x):
        c = best_of(fn, clock=time.process_time)
        print(f"{'CPU time ' + label:<{w}}: {c * 1e3:8.1f} ms  ratio {c / c_copy:6.1f}x")


if __name__ == "__main__":
    main()
