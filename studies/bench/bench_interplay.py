"""Wall time of the whole interplay study (`make interplay`), run through its own entry point.

Writes the same report as ``make interplay`` (``build/reports/interplay/``) and prints the
wall time of each phase against the 5-minute budget of issue 7.
"""

from __future__ import annotations

import os
import time

from studies import interplay as study

BUDGET_S = 300.0


def main() -> None:

    out = os.path.join("build", "reports", "interplay")
    t0 = time.perf_counter()
    res = study.run_study(progress=False)
    path = study.write_report(res, out)
    wall = time.perf_counter() - t0
    for phase, sec in res.timings.items():
        print(f"interplay {phase:>13}: {sec:7.1f} s")
    for note in res.skipped:
        print(f"interplay note: {note}")
    verdict = "within" if wall <= BUDGET_S else "OVER"
    print(
        f"interplay wall time (sweep + model check + report): {wall:.1f} s "
        f"({verdict} the {BUDGET_S:.0f} s budget, {os.cpu_count()} CPUs); report: {path}"
    )


if __name__ == "__main__":
    main()
