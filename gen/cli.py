"""Command-line plumbing shared by the ``python -m gen`` (and ``python -m flow``) subcommands.

Every generating subcommand takes ``--config FILE`` and ``--out DIR`` plus flags that override
the YAML values. All of them land in one :class:`gen.config.DesignConfig`.

With ``--make`` (used by the Makefile) the values come from the make variables through the
environment (``POD``, ``FMT``, ...), never through a shell command line, so no value can break
or inject into the command; and messages name the variable the user typed (``POD=...``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from gen.config import (
    FORMATS,
    ConfigError,
    DesignConfig,
    build,
    parse_pod,
    read_yaml,
    yaml_fields,
)
from gen.emit import LintError

__all__ = [
    "add_design_args", "design_from_args", "flag_name", "run_main", "write", "MAKE_VARS",
]

#: flag -> make variable (read from the environment under --make, named in messages)
MAKE_VARS = {
    "--pod": "POD", "--format": "FMT", "--block": "BLOCK", "--sparsity": "SPARSITY",
    "--config": "CONFIG", "--acc-width": "ACC", "--out": "OUT", "--liberty": "LIBERTY",
    "--target": "TARGET", "--narrow-format": "NARROW", "--pipeline": "PIPELINE",
    "--rounding": "ROUNDING", "--clock-ns": "CLOCK_NS", "--force": "FORCE", "--tile": "TILE",
    "--pods": "PODS", "--net": "NET", "--expand": "EXPAND", "--part": "PART",
    "--bank-words": "BANK", "--stall": "STALL",
}
#: DesignConfig field -> the flag that sets it
FIELD_FLAGS = {
    "rows": "--rows", "cols": "--cols", "format": "--format", "narrow_format": "--narrow-format",
    "block_size": "--block", "sparsity": "--sparsity", "acc_width": "--acc-width",
    "pipeline": "--pipeline", "rounding": "--rounding", "tile": "--tile", "stall": "--stall",
}


def flag_name(args: argparse.Namespace, flag: str) -> str:
    """The name the user typed for ``flag``: the make variable under ``--make``."""
    return MAKE_VARS.get(flag, flag) if getattr(args, "make", False) else flag


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def apply_make_env(args: argparse.Namespace, environ: dict[str, str] | None = None) -> None:
    """Under ``--make``, fill every flag left unset from its make variable (if non-empty)."""
    if not getattr(args, "make", False):
        return
    env = os.environ if environ is None else environ
    for flag, var in MAKE_VARS.items():
        dest = _dest(flag)
        if not hasattr(args, dest):
            continue
        cur, v = getattr(args, dest), env.get(var, "").strip()
        if cur is False:  # a switch: FORCE=1 / yes / true
            setattr(args, dest, v.lower() in ("1", "yes", "true", "on"))
        elif cur is None and v:
            setattr(args, dest, v)


def add_design_args(p: argparse.ArgumentParser, *, pod: bool = True, out: bool = True) -> None:
    g = p.add_argument_group("design point (flags override --config)")
    g.add_argument("--config", metavar="FILE", help="YAML design point (configs/*.yaml)")
    if pod:
        g.add_argument("--pod", metavar="RxC", help="pod shape, e.g. 32x32")
        g.add_argument("--rows", type=str, help="pod rows (alternative to --pod)")
        g.add_argument("--cols", type=str, help="pod columns (alternative to --pod)")
    g.add_argument("--format", metavar="FMT", help=" | ".join(FORMATS))
    g.add_argument("--narrow-format", metavar="FMT",
                   help="mixed-mantissa narrow mode (e.g. hbfp4 on an hbfp6 unit)")
    g.add_argument("--block", metavar="N", help="HBFP block size (lanes of a dot unit)")
    g.add_argument("--sparsity", metavar="N:M", help="structured weight sparsity, e.g. 2:4")
    g.add_argument("--acc-width", metavar="BITS", help="accumulator width")
    g.add_argument("--pipeline", metavar="N", help="pipeline depth of a dot unit")
    g.add_argument("--rounding", choices=["nearest_even", "stochastic"], help="converter rounding")
    g.add_argument("--tile", metavar="ROWS", help="engine output-buffer height (default 64)")
    g.add_argument("--stall", metavar="KIND",
                   help="pod backpressure: enable (global clock enable, default) | queue "
                   "(no enable; output queue with credits)")
    if out:
        g.add_argument("--out", metavar="DIR", help="output directory")
        g.add_argument("--force", action="store_true",
                       help="write into a non-empty directory that holds no sqgen design "
                       "(sqgen's files are added beside what is there; nothing is deleted)")
    p.add_argument("--make", action="store_true", help=argparse.SUPPRESS)


def _shown(v: Any) -> str:
    """A typed value as it appears in a message: bare when plain, quoted otherwise."""
    t = str(v)
    if len(t) > 40:
        t = t[:37] + "..."
    return t if t and all(c.isalnum() or c in ":._-+" for c in t) else repr(t)


def design_from_args(args: argparse.Namespace, *, baseline: bool = False,
                     **defaults: Any) -> DesignConfig:
    """Build the validated design point from ``--config`` plus flag overrides.

    A refusal names what the user typed: the flag (or make variable) for a flag's value, the
    file and key for a YAML value.
    """
    kwargs: dict[str, Any] = dict(defaults)
    labels: dict[str, str] = {}
    cfg_path = getattr(args, "config", None)
    if cfg_path:
        ykw, labels = yaml_fields(cfg_path, read_yaml(cfg_path))
        kwargs.update(ykw)
    pod = getattr(args, "pod", None)
    if pod is not None:
        for attr in ("rows", "cols"):
            if getattr(args, attr, None) is not None:
                raise ConfigError(f"{flag_name(args, '--' + attr)}: conflicts with "
                                  f"{flag_name(args, '--pod')} (give one of them)")
        label = f"{flag_name(args, '--pod')}={_shown(pod)}"
        kwargs["rows"], kwargs["cols"] = parse_pod(pod, what=flag_name(args, "--pod"))
        labels["rows"] = labels["cols"] = label
    attr_of = {"block_size": "block"}
    for field, flag in FIELD_FLAGS.items():
        v = getattr(args, attr_of.get(field, field), None)
        if v is not None:
            kwargs[field] = v
            labels[field] = f"{flag_name(args, flag)}={_shown(v)}"
    # Refusals raised later (by a generator) still name what the user typed: run_main reads these.
    args.__dict__["_labels"] = labels
    cfg = build(kwargs, labels, default=str(cfg_path) if cfg_path else None)
    if cfg.is_baseline and not baseline:
        typed = labels.get("format", f"format {cfg.format}")
        raise ConfigError(f"{typed}: the {cfg.format.upper()} baseline array is built by the "
                          f"engine generator (make gen TOP=engine FMT={cfg.format}); the "
                          f"{cfg.format.upper()} MAC block is the {cfg.format}mac generator")
    return cfg


def write(design: Any, args: argparse.Namespace, out: str) -> Any:
    """``design.write(out)`` with ``--force`` and the directory named as the user typed it."""
    return design.write(out, force=bool(getattr(args, "force", False)),
                        what=flag_name(args, "--out"))


#: Block parameter (a ParamError's field) -> the flag that sets it, for refusals raised by the
#: hardware constructors (the flag's own value is shown).
PARAM_FLAGS = {
    **FIELD_FLAGS, "mant_bits": "--mant-bits", "narrow_mant_bits": "--narrow-mant-bits",
    "offset_bits": "--offset-bits", "seed": "--seed", "frac_bits": "--frac-bits",
    "exp_width": "--exp-width", "target": "--target",
}


def _labelled(args: argparse.Namespace, e: ConfigError) -> str:
    """One line: a refusal whose field is still open is prefixed with the flag the user typed."""
    msg = " ".join(str(e).split())  # never more than one line
    typed = getattr(args, "_labels", {}).get(e.field or "")
    if typed is not None:
        return f"{typed}: {msg}"
    flag = PARAM_FLAGS.get(e.field or "")
    if flag is None:
        return msg
    dest = "block" if flag == "--block" else _dest(flag)
    value = getattr(args, dest, None)
    if value is None or value is False:
        return msg
    return f"{flag_name(args, flag)}={_shown(value)}: {msg}"


def run_main(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand: a refused value is one line and exit 2."""
    args = parser.parse_args(argv)
    apply_make_env(args)
    try:
        rc = args.func(args)
    except ConfigError as e:
        print(f"error: {_labelled(args, e)}", file=sys.stderr)
        return 2
    except LintError as e:
        # a generator bug, not a user error: say so plainly, keep Verilator's report
        print(f"error: generated Verilog failed lint (please report): {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return int(rc or 0)
