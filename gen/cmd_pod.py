"""``python -m gen pod``: placeholder until the systolic pod generator lands (issue 5)."""

from __future__ import annotations

import argparse
import sys

from gen.cli import add_design_args, design_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pod", help="weight-stationary HBFP systolic pod (not built yet)")
    add_design_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = design_from_args(args)
    print(
        f"pod {cfg.rows}x{cfg.cols} {cfg.format} is a valid design point, but the pod generator "
        "is not built yet; nothing was written.",
        file=sys.stderr,
    )
    return 1
