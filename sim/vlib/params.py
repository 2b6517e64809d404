"""pytest parameters of the co-simulation runners: simulator x configuration, with marks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from sim.common import simulators

__all__ = ["sim_param", "sim_params"]


def sim_param(sim: str, cfg: Any, *, cid: str, slow: bool = False) -> Any:
    """One ``pytest.param(sim, cfg)`` with id ``<sim>-<cid>``, marked ``sim`` (and ``slow``)."""
    marks = [pytest.mark.sim] + ([pytest.mark.slow] if slow else [])
    return pytest.param(sim, cfg, marks=marks, id=f"{sim}-{cid}")


def sim_params(configs: Sequence[Sequence[Any]], *, slow: bool = False) -> list[Any]:
    """Every configuration (its first field is the id) on every simulator of
    :func:`sim.common.simulators` (``$SQGEN_SIMS``)."""
    return [sim_param(sim, c, cid=c[0], slow=slow) for c in configs for sim in simulators()]
