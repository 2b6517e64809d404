"""``python -m studies.bench [NAME ...]`` (``make bench``): run every ``bench_*.py`` ``main()``.

A failing bench prints its traceback and the others still run, so one broken figure does not
hide the rest; the run then ends with a list of the failed benches and exit status 1. An
unknown bench name is refused (exit status 2) before anything runs.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback

from studies import bench


def main(argv: list[str]) -> int:
    names = sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_")
    )
    def module(arg: str) -> str:
        return arg if arg.startswith("bench_") else f"bench_{arg}"

    only = {module(a) for a in argv}
    unknown = [a for a in argv if module(a) not in names]
    if unknown:
        print(f"error: unknown bench {', '.join(unknown)}; choose from "
              f"{', '.join(n.removeprefix('bench_') for n in names)}", file=sys.stderr)
        return 2
    failed: list[str] = []
    for name in names:
        if only and name not in only:
            continue
        print(f"\n==== {name} ====", flush=True)
        t0 = time.perf_counter()
        try:
            importlib.import_module(f"studies.bench.{name}").main()
        except Exception:
            failed.append(name)
            traceback.print_exc()
        print(f"---- {name}: {time.perf_counter() - t0:.1f} s", flush=True)
    if failed:
        print(f"error: {len(failed)} bench(es) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
