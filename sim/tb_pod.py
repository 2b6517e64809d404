"""cocotb GEMM regressions of the generated systolic pod (``gen.cmd_pod.generate_pod``).

The cocotb side reads its configuration as JSON from ``SQGEN_TB_CFG``. Stimulus (packed weight
and activation beats) and the expected results come from :func:`golden.systolic.pod_program`,
precomputed before the clock starts; the three streams (``w`` and ``act`` in, ``res`` out) are
:mod:`sim.vlib` stream components advanced by one loop, so the per-cycle Python work is a few
handle reads/writes. Checks: every result bit-exact (value and exponent, ``last`` flags), nothing
lost, duplicated or reordered (in-order scoreboard plus a quiet drain), and with back-to-back
sources and an always-ready sink the measured cycle count equals :func:`golden.systolic.cycles`.
Tests with idle gaps on ``w`` and ``act`` and stalls on ``res`` also check, with stream monitors
on the inputs, that every input beat was taken exactly once, in order.
Figures (cycles, wall time, MACs per wall-second) go back to the bench via
:func:`sim.common.tb_record`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import cocotb
import numpy as np
import pytest

from gen.cmd_pod import generate_pod, pod_config
from gen.config import DesignConfig, parse_pod
from golden.stimulus import pod_operands
from golden.systolic import PodGeometry, PodLayout, pod_program
from sim.vlib import (
    Bernoulli,
    Bursts,
    CosimRun,
    Pattern,
    Scoreboard,
    StreamMonitor,
    StreamSink,
    StreamSource,
    clock_and_reset,
    cosim,
    expect_quiet,
    record_gemm,
    run_streams,
    sim_param,
    simulators,
    tb_config_from_env,
)

#: Builds an idle / stall pattern from the run's generator (``None``: never idle / stalling).
PatternFactory = Callable[[np.random.Generator], Pattern] | None


def _geometry(cfg: dict) -> PodGeometry:
    return PodGeometry(cfg["rows"], cfg["cols"], cfg["mant_bits"], cfg["acc_width"],
                       cfg["block"], tuple(cfg["sparsity"]), cfg.get("narrow_mant_bits"))


class PodTB:
    """Driver (``w``, ``act`` sources), monitor (``res`` sink), model and checker of one GEMM.

    Parameters
    ----------
    dut:
        cocotb handle of the pod.
    cfg:
        The runner's configuration (:func:`tb_config`).
    seed:
        Seeds the operands, then (same generator, in this order) the idle and stall patterns.
    w_idle, act_idle:
        Idle generators of the two input sources, each a factory ``rng -> Pattern`` (called
        with the run's generator) or ``None`` (back to back).
    res_stall:
        Stall generator factory of the result sink, or ``None`` (always ready).
    narrow:
        Run in the run-time narrow mode (junk in the ignored upper mantissa bits).
    watch_inputs:
        Attach monitors to ``w`` and ``act`` (what the pod really took).
    """

    def __init__(self, dut: Any, cfg: dict, *, seed: int, w_idle: PatternFactory = None,
                 act_idle: PatternFactory = None, res_stall: PatternFactory = None,
                 narrow: bool = False, watch_inputs: bool = False):
        self.dut = dut
        self.cfg = cfg
        self.geo = _geometry(cfg)
        self.seed = seed
        self.narrow = narrow
        rng = np.random.default_rng(seed)
        M, N, K = cfg["gemm"]
        self.mnk = (M, N, K)
        # model: stimulus and expected beats, all precomputed
        qa, ea, qw, ew = pod_operands(M, N, K, self.geo, rng, narrow=narrow)
        self.prog = prog = pod_program(qa, ea, qw, ew, self.geo, narrow=narrow)
        # drivers and monitors
        self.w = StreamSource(dut, "w", prog.w_beats, idle=w_idle and w_idle(rng))
        self.act = StreamSource(dut, "act", prog.act_beats, idle=act_idle and act_idle(rng))
        self.res = StreamSink(dut, "res", len(prog.act_beats),
                              stall=res_stall and res_stall(rng))
        self.monitors = [StreamMonitor(dut, "w"), StreamMonitor(dut, "act")] if watch_inputs \
            else []
        # A stalling or idling bench is slower than the golden count, but not without bound.
        slow = w_idle or act_idle or res_stall
        self.timeout = (40 if slow else 4) * prog.cycles + 1000
        self.cycles = 0
        self.wall = 0.0

    async def reset(self) -> None:
        idle = {"w__valid": 0, "act__valid": 0, "res__ready": 0, "w__payload": 0,
                "act__payload": 0}
        if self.geo.narrow_mant_bits is not None:
            idle["narrow"] = int(self.narrow)
        await clock_and_reset(self.dut, cycles=3, edge="rising", idle=idle)

    async def run(self) -> None:
        """Stream the whole GEMM, then check that no extra result beat follows."""
        t0 = time.perf_counter()
        self.cycles = await run_streams(self.dut.clk, [self.w, self.act], [self.res],
                                        self.monitors, timeout=self.timeout)
        self.wall = time.perf_counter() - t0
        await expect_quiet(self.dut.clk, [self.res], self.geo.rows + self.geo.cols + 2)

    def check(self, *, check_cycles: bool) -> None:
        prog, geo = self.prog, self.geo
        C = geo.cols
        sb = Scoreboard(f"pod {geo.rows}x{C} GEMM {'x'.join(map(str, self.mnk))}",
                        seed=self.seed)
        for src, mon in zip([self.w, self.act], self.monitors, strict=False):
            # what the pod took on each input is exactly what the source had, once, in order
            sb.compare(mon.words, src.beats, what=f"{src.name} beats taken", fmt=hex)
        d, e, last = PodLayout(geo).decode_res(self.res.words)
        want_d = prog.psum.reshape(-1, C)
        want_e = prog.exp.reshape(-1, C)
        n = min(len(d), len(want_d))
        sb.expect(len(d) == len(want_d), f"{len(d)} result beats, expected {len(want_d)}")
        # one item per (beat, column): value and exponent; over the common prefix, so a lost or
        # extra beat still shows where the stream diverged
        sb.compare(np.stack([d[:n].ravel(), e[:n].ravel()], axis=1),
                   np.stack([want_d[:n].ravel(), want_e[:n].ravel()], axis=1),
                   what="results (psum, exp)", describe=lambda i: f"beat {i // C} col {i % C}")
        sb.compare(last[:n], prog.expected_last[:n], what="last flags")
        if check_cycles:
            sb.expect(self.cycles == prog.cycles,
                      f"measured {self.cycles} cycles, golden.systolic.cycles says {prog.cycles}")
        sb.check()

    def report(self, name: str) -> None:
        record_gemm(name, self.mnk, self.cycles, self.wall)


@cocotb.test()
async def cocotb_pod_gemm(dut):
    """A tiled GEMM, back to back, sink always ready: bit-exact and exactly ``cycles(...)``."""
    cfg = tb_config_from_env()
    tb = PodTB(dut, cfg, seed=cfg["seed"])
    await tb.reset()
    await tb.run()
    tb.check(check_cycles=True)
    tb.report("gemm")


@cocotb.test()
async def cocotb_pod_backpressure(dut):
    """The result sink stalls randomly (40 %): nothing lost, duplicated or reordered."""
    cfg = tb_config_from_env()
    if not cfg.get("backpressure", True):
        return
    tb = PodTB(dut, cfg, seed=cfg["seed"] + 1, res_stall=lambda rng: Bernoulli(0.4, rng))
    await tb.reset()
    await tb.run()
    tb.check(check_cycles=False)
    assert tb.cycles > tb.prog.cycles, "a stalling sink cannot be faster"


@cocotb.test()
async def cocotb_pod_idle_gaps(dut):
    """Random idle gaps on both inputs and result stalls, nothing lost, duplicated or reordered.

    ``w`` idles at random (30 % of its free cycles), ``act`` in bursts (runs of ~6 beats, pauses
    of ~3 cycles), ``res`` stalls in bursts (ready for ~5 cycles, stalled for ~3). Every result
    bit-exact and in order, and (input monitors) every input beat taken exactly once, in order.
    """
    cfg = tb_config_from_env()
    if not cfg.get("backpressure", True):
        return
    tb = PodTB(dut, cfg, seed=cfg["seed"] + 3, w_idle=lambda rng: Bernoulli(0.3, rng),
               act_idle=lambda rng: Bursts(6, 3, rng), res_stall=lambda rng: Bursts(5, 3, rng),
               watch_inputs=True)
    await tb.reset()
    await tb.run()
    tb.check(check_cycles=False)
    assert sum(tb.w.gaps) and sum(tb.act.gaps), "no idle gap was inserted"
    assert tb.cycles > tb.prog.cycles, "an idling source cannot be faster"


@cocotb.test()
async def cocotb_pod_narrow(dut):
    """Run-time narrow mode (pods with a narrow format): upper mantissa bits ignored."""
    cfg = tb_config_from_env()
    if cfg.get("narrow_mant_bits") is None:
        return
    tb = PodTB(dut, cfg, seed=cfg["seed"] + 2, narrow=True)
    await tb.reset()
    await tb.run()
    tb.check(check_cycles=True)


# ---- pytest runner --------------------------------------------------------------------------
#: (id, pod, format (":narrow" adds the run-time narrow port), sparsity, GEMM M x N x K (never
#: multiples of the pod), slow)
CONFIGS = [
    ("2x2-hbfp8-dense", "2x2", "hbfp8", None, (5, 3, 7), False),
    ("4x4-hbfp6n4-2of4", "4x4", "hbfp6:hbfp4", "2:4", (9, 6, 13), False),
    ("8x8-hbfp4-dense", "8x8", "hbfp4", None, (21, 13, 19), False),
    ("16x16-hbfp6-2of4", "16x16", "hbfp6", "2:4", (40, 20, 70), False),
    ("32x32-hbfp8-dense", "32x32", "hbfp8", None, (100, 40, 70), True),
]


def _params() -> list:
    # the slow (32x32) configuration runs on Verilator only
    return [sim_param(sim, (cid, pod, fmt, sp, gemm), cid=cid, slow=slow)
            for cid, pod, fmt, sp, gemm, slow in CONFIGS for sim in simulators()
            if not slow or sim == "verilator"]


def tb_config(dc: DesignConfig, gemm: tuple[int, int, int], *, seed: int,
              backpressure: bool = True) -> dict:
    """The JSON the cocotb side gets for a pod design point and a GEMM (tests and bench)."""
    p = pod_config(dc)
    return {"rows": dc.rows, "cols": dc.cols, "mant_bits": dc.mant_bits,
            "acc_width": dc.acc_width, "block": p["block_size"], "sparsity": list(p["sparsity"]),
            "narrow_mant_bits": dc.narrow_mant_bits, "gemm": list(gemm), "seed": seed,
            "backpressure": backpressure}


def build_and_run(sim: str, cid: str, pod: str, fmt: str, sp: str | None,
                  gemm: tuple[int, int, int], *, seed: int, backpressure: bool = True,
                  block: str = "pod", testcase: str | None = None,
                  report: bool = False, stall: str = "enable") -> CosimRun:
    """Generate the pod, write it under build/sim/<block>/<sim>-<cid>/ and run the cocotb tests.

    The pytest runner and the bench (``studies/bench/bench_pod.py``) both come through here.
    """
    rows, cols = parse_pod(pod)
    fmt, _, narrow = fmt.partition(":")
    dc = DesignConfig(rows=rows, cols=cols, format=fmt, sparsity=sp,
                      narrow_format=narrow or None, stall=stall)
    design = generate_pod(dc)
    return cosim(design, sim=sim, block=block, cid=cid,
                 tb_cfg=tb_config(dc, gemm, seed=seed, backpressure=backpressure),
                 test_module="sim.tb_pod", testcase=testcase, report=report)


@pytest.mark.parametrize("sim,cfg", _params())
def test_pod_cosim(sim, cfg):
    cid, pod, fmt, sp, gemm = cfg
    seed = 5000 + sum(map(ord, cid))
    build_and_run(sim, cid, pod, fmt, sp, gemm, seed=seed)


#: Pods without the global enable (``stall="queue"``: output queue and credits): the same
#: tests, bit-exact under every stall and exactly ``cycles(...)`` with a ready sink.
QUEUE_CONFIGS = [
    ("4x4-hbfp6n4-2of4-queue", "4x4", "hbfp6:hbfp4", "2:4", (9, 6, 13), False),
    ("8x8-hbfp6-queue", "8x8", "hbfp6", None, (21, 13, 19), False),
    ("16x16-hbfp8-queue", "16x16", "hbfp8", None, (40, 20, 70), True),
]


@pytest.mark.parametrize("sim,cfg", [  # (make test: 4x4 on both, 8x8 on Icarus; the rest slow)
    sim_param(sim, c[:5], cid=c[0], slow=c[5] or (sim == "verilator" and c[1] != "4x4"))
    for c in QUEUE_CONFIGS for sim in simulators()])
def test_pod_cosim_queue(sim, cfg):
    cid, pod, fmt, sp, gemm = cfg
    seed = 7000 + sum(map(ord, cid))
    build_and_run(sim, cid, pod, fmt, sp, gemm, seed=seed, stall="queue")
