"""``python -m gen``: the sqgen command line. See ``python -m gen --help``."""

from __future__ import annotations

import argparse
import sys

from gen import (
    cmd_datapath,
    cmd_engine,
    cmd_fp,
    cmd_lint,
    cmd_network,
    cmd_pod,
    cmd_sparse,
    cmd_system,
)
from gen.cli import run_main

#: Modules that contribute subcommands; each defines ``register(subparsers)``.
COMMAND_MODULES = (cmd_fp, cmd_datapath, cmd_sparse, cmd_pod, cmd_engine, cmd_system, cmd_network,
                   cmd_lint)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m gen",
        description="sqgen: generate verified RTL for compressed (HBFP, N:M sparse) DNN hardware.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for mod in COMMAND_MODULES:
        mod.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    return run_main(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
