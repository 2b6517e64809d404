"""On-chip buffers as SRAM macros: the IHP SG13G2 macros beside the repository, when present.

The macro liberties (``../shared/pdk/ihp-sg13g2/sram/RM_IHPSG13_<1P|2P>_<depth>x<width>_*.lib``)
give each macro's area (um^2) and leakage. :func:`map_buffer` picks, for a buffer of
``depth`` words of ``width`` bits, the macro tiling of least total area among the macros with
enough ports (the engine's output buffer reads and writes every cycle: two ports), ``ceil(width
/ w) * ceil(depth / d)`` macros of one kind. The project works without them: :func:`sram_dir`
then returns ``None`` and reports say so.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from golden.facts import ParamError

__all__ = ["SramMacro", "sram_dir", "sram_macros", "map_buffer", "SRAM_RELPATH"]

#: Where the macros sit relative to the repository's parent directory.
SRAM_RELPATH = Path("shared/pdk/ihp-sg13g2/sram")
ROOT = Path(__file__).resolve().parent.parent

_NAME_RE = re.compile(r"RM_IHPSG13_(\d)P_(\d+)x(\d+)_")
_CELL_RE = re.compile(r"^\s*cell\s*\(\s*(\w+)\s*\)", re.M)
_AREA_RE = re.compile(r"^\s*area\s*:\s*([0-9.eE+-]+)\s*;", re.M)
_LEAK_RE = re.compile(r"^\s*cell_leakage_power\s*:\s*([0-9.eE+-]+)\s*;", re.M)


@dataclass(frozen=True)
class SramMacro:
    """One macro: ``ports`` (1: one access per cycle; 2: one read and one write), ``depth`` x
    ``width`` bits, ``area_um2``, ``leakage`` (the liberty's unit, as written)."""

    name: str
    ports: int
    depth: int
    width: int
    area_um2: float
    leakage: float
    path: str


def sram_dir(root: str | Path = ROOT) -> Path | None:
    """The macro folder (``$SQGEN_IHP_SRAM`` overrides), or ``None`` when it is absent."""
    env = os.environ.get("SQGEN_IHP_SRAM")
    cands = [Path(env)] if env else []
    cands.append(Path(root).resolve().parent / SRAM_RELPATH)
    for c in cands:
        if c.is_dir() and any(c.glob("*.lib")):
            return c
    return None


def sram_macros(folder: str | Path | None = None) -> list[SramMacro]:
    """Every macro liberty in ``folder`` (default :func:`sram_dir`); a malformed one is refused
    with one line naming the file."""
    d = Path(folder) if folder is not None else sram_dir()
    if d is None:
        return []
    out = []
    for p in sorted(d.glob("*.lib")):
        text = p.read_text(errors="replace")
        mt = _NAME_RE.search(p.name)
        cell, area, leak = _CELL_RE.search(text), _AREA_RE.search(text), _LEAK_RE.search(text)
        if not (mt and cell and area):
            raise ParamError(f"{p}: not an SRAM macro liberty (no RM_IHPSG13_<n>P_<d>x<w> cell "
                             "with an area)", field="liberty")
        out.append(SramMacro(cell.group(1), int(mt.group(1)), int(mt.group(2)),
                             int(mt.group(3)), float(area.group(1)),
                             float(leak.group(1)) if leak else 0.0, str(p)))
    return out


def map_buffer(depth: int, width: int, *, ports: int = 2,
               macros: list[SramMacro] | None = None) -> dict | None:
    """The least-area tiling of a ``depth x width`` buffer by one kind of macro with at least
    ``ports`` ports, or ``None`` without macros.

    Returns ``{"macro", "count", "rows", "cols", "area_um2", "leakage", "bits",
    "utilization"}`` (utilization = buffer bits / macro bits).
    """
    ms = [m for m in (sram_macros() if macros is None else macros) if m.ports >= ports]
    if not ms:
        return None
    best = None
    for m in ms:
        rows, cols = math.ceil(depth / m.depth), math.ceil(width / m.width)
        n = rows * cols
        cand = {"macro": m.name, "ports": m.ports, "macro_depth": m.depth,
                "macro_width": m.width, "count": n, "rows": rows, "cols": cols,
                "area_um2": n * m.area_um2, "leakage": n * m.leakage,
                "bits": depth * width, "utilization": depth * width / (n * m.depth * m.width)}
        if best is None or cand["area_um2"] < best["area_um2"]:
            best = cand
    return best
