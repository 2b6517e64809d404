"""One clock/reset helper for every testbench."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cocotb.clock import Clock
from cocotb.task import Task
from cocotb.triggers import FallingEdge, RisingEdge

__all__ = ["clock_and_reset"]


async def clock_and_reset(dut: Any, *, cycles: int = 3, edge: str = "rising",
                          idle: Mapping[str, int] | None = None, period_ns: float = 10,
                          clk: str = "clk", rst: str = "rst") -> Task:
    """Start the clock, drive idle defaults, hold the synchronous reset for ``cycles`` edges.

    Parameters
    ----------
    dut:
        cocotb handle of the toplevel.
    cycles:
        Clock edges (of kind ``edge``) during which ``rst`` is high.
    edge:
        ``"rising"`` (valid/ready benches: they then sample in ``ReadOnly`` and drive after each
        rising edge) or ``"falling"`` (valid-qualified benches: they drive and sample at falling
        edges). ``rst`` drops right after the last of those edges, so the bench's first drive
        happens in the same time step.
    idle:
        ``{port name: value}`` driven before reset, e.g. ``{"i__valid": 0}`` or
        ``{"w__valid": 0, "res__ready": 0}``.
    period_ns:
        Clock period.
    clk, rst:
        Port names of the clock and the active-high reset.

    Returns
    -------
    The clock's task. cocotb ends a test's tasks with the test, so every test calls this once.
    """
    c = getattr(dut, clk)
    task = Clock(c, period_ns, unit="ns").start()
    for name, value in (idle or {}).items():
        getattr(dut, name).value = value
    r = getattr(dut, rst)
    r.value = 1
    if edge == "rising":
        trig = RisingEdge(c)
    elif edge == "falling":
        trig = FallingEdge(c)
    else:
        raise ValueError(f"edge must be 'rising' or 'falling', got {edge!r}")
    for _ in range(cycles):
        await trig
    r.value = 0
    return task
