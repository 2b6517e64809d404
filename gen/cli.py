"""Command-line plumbing shared by the ``python -m gen`` subcommands.

Every generating subcommand takes ``--config FILE`` and ``--out DIR`` plus flags that override
the YAML values. All of them land in one :class:`gen.config.DesignConfig`.
With ``--make`` (used by the Makefile) error messages name the make variables (``POD=``,
``FMT=`` ...) instead of the flags, so a user sees the variable they typed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gen.config import ConfigError, DesignConfig, load_yaml, parse_pod
from gen.emit import LintError

__all__ = ["add_design_args", "design_from_args", "flag_name", "run_main"]

#: flag -> make variable, for error messages under --make
MAKE_VARS = {
    "--pod": "POD", "--format": "FMT", "--block": "BLOCK", "--sparsity": "SPARSITY",
    "--config": "CONFIG", "--acc-width": "ACC", "--out": "OUT", "--liberty": "LIBERTY",
    "--target": "TARGET",
}


def flag_name(args: argparse.Namespace, flag: str) -> str:
    """The name the user typed for ``flag``: the make variable under ``--make``."""
    return MAKE_VARS.get(flag, flag) if getattr(args, "make", False) else flag


def add_design_args(p: argparse.ArgumentParser, *, pod: bool = True, out: bool = True) -> None:
    g = p.add_argument_group("design point (flags override --config)")
    g.add_argument("--config", metavar="FILE", help="YAML design point (configs/*.yaml)")
    if pod:
        g.add_argument("--pod", metavar="RxC", help="pod shape, e.g. 32x32")
        g.add_argument("--rows", type=str, help="pod rows (alternative to --pod)")
        g.add_argument("--cols", type=str, help="pod columns (alternative to --pod)")
    g.add_argument("--format", metavar="FMT", help="hbfp8 | hbfp6 | hbfp4")
    g.add_argument("--narrow-format", metavar="FMT",
                   help="mixed-mantissa narrow mode (e.g. hbfp4 on an hbfp6 unit)")
    g.add_argument("--block", metavar="N", help="HBFP block size (lanes of a dot unit)")
    g.add_argument("--sparsity", metavar="N:M", help="structured weight sparsity, e.g. 2:4")
    g.add_argument("--acc-width", metavar="BITS", help="accumulator width")
    g.add_argument("--pipeline", metavar="N", help="pipeline depth of a dot unit")
    g.add_argument("--rounding", choices=["nearest_even", "stochastic"], help="converter rounding")
    if out:
        g.add_argument("--out", metavar="DIR", help="output directory")
    p.add_argument("--make", action="store_true", help=argparse.SUPPRESS)


def design_from_args(args: argparse.Namespace, **defaults: Any) -> DesignConfig:
    """Build the validated design point from ``--config`` plus flag overrides."""
    ov: dict[str, Any] = {}
    if getattr(args, "pod", None) is not None:
        ov["rows"], ov["cols"] = parse_pod(args.pod, what=flag_name(args, "--pod"))
    for attr, key in (("rows", "rows"), ("cols", "cols")):
        if getattr(args, attr, None) is not None:
            ov[key] = args.__dict__[attr]
    attrs = ("format", "narrow_format", "block", "sparsity", "acc_width", "pipeline", "rounding")
    field_of = {"block": "block_size"}
    for attr in attrs:
        v = getattr(args, attr, None)
        if v is not None:
            ov[field_of.get(attr, attr)] = v
    try:
        if getattr(args, "config", None):
            return load_yaml(args.config, **ov)
        return DesignConfig(**{**defaults, **ov})
    except ConfigError as e:
        raise ConfigError(_rename(str(e), args)) from None


def _rename(msg: str, args: argparse.Namespace) -> str:
    if not getattr(args, "make", False):
        return msg
    words = {"format": "FMT", "block size": "BLOCK", "sparsity": "SPARSITY",
             "accumulator width": "ACC"}
    for w, var in words.items():
        if msg.startswith(w):
            return f"{var}: {msg}"
    return msg


def run_main(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand: a refused value is one line and exit 2."""
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
