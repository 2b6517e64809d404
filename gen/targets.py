"""Registry of generator entry points: target name -> ``generate(cfg) -> gen.emit.Design``.

Used by the area flow, the benches and tests to build any design the same way the CLI does.
Entries are import strings so that importing the registry stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gen.config import DesignConfig
    from gen.emit import Design

TARGETS: dict[str, str] = {
    "convert": "gen.cmd_fp:generate_convert",
    "normalize": "gen.cmd_fp:generate_normalize",
    "fp32mac": "gen.cmd_fp:generate_fp32mac",
    "dot": "gen.cmd_datapath:generate_dot",
    "decoder": "gen.cmd_sparse:generate_decoder",
    "sparsedot": "gen.cmd_sparse:generate_sparsedot",
    "pod": "gen.cmd_pod:generate_pod",
    "int8mac": "gen.cmd_area:generate_int8mac",
}


def generate(target: str, cfg: DesignConfig) -> Design:
    """Build ``target`` for design point ``cfg`` in memory (nothing is written)."""
    from gen.config import ConfigError

    if target not in TARGETS:
        raise ConfigError(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    mod, fn = TARGETS[target].split(":")
    return getattr(importlib.import_module(mod), fn)(cfg)
