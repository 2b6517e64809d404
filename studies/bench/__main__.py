"""``python -m studies.bench`` (``make bench``): run every ``bench_*.py`` ``main()`` in turn."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback

from studies import bench


def main(argv: list[str]) -> int:
    only = set(argv)
    failed = 0
    names = sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_")
    )
    for name in names:
        if only and name.removeprefix("bench_") not in only and name not in only:
            continue
        print(f"\n==== {name} ====", flush=True)
        t0 = time.perf_counter()
        try:
            importlib.import_module(f"studies.bench.{name}").main()
        except Exception:
            failed += 1
            traceback.print_exc()
        print(f"---- {name}: {time.perf_counter() - t0:.1f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
