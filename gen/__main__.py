"""``python -m gen``: the sqgen command line. See ``python -m gen --help``."""

from __future__ import annotations

import argparse
import importlib
import sys

from gen.config import ConfigError
from gen.emit import LintError

#: Modules that contribute subcommands; each defines ``register(subparsers)``.
COMMAND_MODULES = (
    "gen.cmd_fp",         # convert, normalize, fp32mac
    "gen.cmd_datapath",   # dot
    "gen.cmd_sparse",     # decoder, sparsedot
    "gen.cmd_pod",        # pod
    "gen.cmd_area",       # area, provisioning
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m gen",
        description="sqgen: generate verified RTL for compressed (HBFP, N:M sparse) DNN hardware.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for modname in COMMAND_MODULES:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name == modname:  # not built yet
                continue
            raise
        mod.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc = args.func(args)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except LintError as e:
        # a generator bug, not a user error: say so plainly, keep Verilator's report
        print(f"error: generated Verilog failed lint (please report): {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
