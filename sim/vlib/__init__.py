"""sqgen's cocotb verification library: every testbench in ``sim/`` is built from these parts.

Parts (each a module; everything is re-exported here):

* :mod:`sim.vlib.patterns` -- idle generators for sources and stall generators for sinks:
  :class:`Never`, :class:`Bernoulli` (probability ``p`` per cycle), :class:`Bursts`,
  :class:`Periodic`, :class:`FromIterable`, all seeded and precomputed as lists;
  :func:`valid_schedule` turns one into a per-cycle ``valid`` mask.
* :mod:`sim.vlib.stream` -- ``amaranth.lib.stream`` valid/ready ports
  (``<name>__valid/__ready/__payload``): :class:`StreamSource`, :class:`StreamSink`,
  :class:`StreamMonitor`, all advanced by one loop, :func:`run_streams`; :func:`expect_quiet`
  checks that nothing follows the last expected beat.
* :mod:`sim.vlib.valid` -- valid-qualified ports without backpressure (the datapath blocks'
  ``always_ready`` streams ``i__valid`` / ``o__valid``, and plain ports such as ``clear``):
  :class:`ValidSource`, :class:`ValidMonitor`, one loop :func:`run_cycles`.
* :mod:`sim.vlib.payload` -- :class:`Payload`: packs per-field columns into ``<stream>__payload``
  words and unpacks them, from the field table of the manifest (``payload_layout``).
* :mod:`sim.vlib.scoreboard` -- :class:`Scoreboard`: exact integer comparison, failing with
  ``N/M mismatches``, the first offending (index, got, want) and the seed.
* :mod:`sim.vlib.clock` -- :func:`clock_and_reset`: start the clock, idle defaults, reset.
* the runner entry, :mod:`sim.common`: :func:`cosim` / :func:`run_cocotb` (pytest runners and
  benches alike), :func:`tb_config_from_env` and :func:`tb_record` on the cocotb side;
  :mod:`sim.vlib.params`: :func:`sim_params` / :func:`sim_param`, the pytest parameters
  (simulator x configuration, ``sim`` / ``slow`` marks) of every runner.

A testbench module then has the shape of cocotb's ``matrix_multiplier`` example: a TB class
(driver = sources, monitor = sinks / monitors, model = :mod:`golden`, checker = scoreboard),
the ``@cocotb.test`` functions, and the pytest runner at the bottom.

Speed rules (cocotb's per-cycle Python work bounds co-simulation throughput): stimulus is
precomputed as lists of Python ints, idle/stall patterns as lists of booleans, handles are
looked up once, a handle is written only when its value changes, and all ports of a bench
advance in one coroutine.
"""

from sim.common import (
    BUILD,
    ROOT,
    CosimRun,
    cosim,
    record_gemm,
    run_cocotb,
    simulators,
    tb_config_from_env,
    tb_record,
)
from sim.vlib.clock import clock_and_reset
from sim.vlib.params import sim_param, sim_params
from sim.vlib.patterns import (
    Bernoulli,
    Bursts,
    FromIterable,
    Never,
    Pattern,
    Periodic,
    Seed,
    as_pattern,
    valid_schedule,
)
from sim.vlib.payload import Payload
from sim.vlib.scoreboard import Scoreboard, as_rows
from sim.vlib.stream import StreamMonitor, StreamSink, StreamSource, expect_quiet, run_streams
from sim.vlib.valid import ValidMonitor, ValidSource, run_cycles

__all__ = [
    "BUILD",
    "ROOT",
    "CosimRun",
    "cosim",
    "run_cocotb",
    "simulators",
    "tb_config_from_env",
    "tb_record",
    "record_gemm",
    "clock_and_reset",
    "Pattern",
    "Seed",
    "Never",
    "Bernoulli",
    "Bursts",
    "Periodic",
    "FromIterable",
    "as_pattern",
    "valid_schedule",
    "Scoreboard",
    "as_rows",
    "StreamSource",
    "StreamSink",
    "StreamMonitor",
    "run_streams",
    "expect_quiet",
    "ValidSource",
    "ValidMonitor",
    "Payload",
    "run_cycles",
    "sim_param",
    "sim_params",
]

