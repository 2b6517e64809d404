"""cocotb testbench for the FP32 multiply-accumulate baseline (``hw.fp32mac.FP32MAC``).

Configuration as JSON in ``SQGEN_TB_CFG``. Stimulus: directed corners and seeded random
``(a, b, first)`` triples with aimed cancellations (:func:`golden.stimulus.mac_directed`,
:func:`golden.stimulus.mac_random`), spread over cycles by a seeded idle generator with junk
(including ``first = 1``) on the idle cycles. Expected values come from
:func:`golden.arith_fp.fp32_mac_sequence`, recomputed independently of the stimulus walk. Built
from :mod:`sim.vlib` parts (valid-qualified source and monitor on the ``i``/``o`` streams,
payloads packed and unpacked by :class:`~sim.vlib.Payload` from the manifest's field table,
scoreboard with the latency check).
"""

from __future__ import annotations

from typing import Any

import cocotb
import numpy as np
import pytest

from gen.cmd_fp import generate_fp32mac
from gen.config import DesignConfig
from gen.emit import Design
from golden.arith_fp import fp32_mac_sequence
from golden.stimulus import mac_directed, mac_random, random_f32
from sim.vlib import (
    Bernoulli,
    Payload,
    Scoreboard,
    ValidMonitor,
    ValidSource,
    clock_and_reset,
    cosim,
    run_cycles,
    sim_params,
    tb_config_from_env,
)

#: Share of idle cycles (``i__valid`` low) in the stream.
IDLE_P = 0.15


class MacTB:
    """Driver, monitor, golden model and checker for one multiply-add stream."""

    def __init__(self, dut: Any, cfg: dict):
        self.dut, self.cfg = dut, cfg
        rng = np.random.default_rng(cfg["seed"])
        da, db, df = mac_directed()
        ra, rb, rf = mac_random(cfg["n_random"], rng, cfg["profile"])
        self.n_directed = len(da)
        a, b, f = np.concatenate([da, ra]), np.concatenate([db, rb]), np.concatenate([df, rf])
        self.beats = np.stack([a, b, f], axis=1).astype(np.int64)
        # model
        self.want = fp32_mac_sequence(a, b, f).astype(np.int64)

        self.pin, self.pout = Payload(cfg["payload"]["i"]), Payload(cfg["payload"]["o"])

        def pack(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> np.ndarray:
            return np.array(self.pin.pack({"a": a, "b": b, "first": f}), dtype=object)

        def junk(n: int) -> np.ndarray:
            # junk under i__valid = 0 must not touch the accumulator (first = 1 included)
            return pack(random_f32(rng, n), random_f32(rng, n), rng.integers(0, 2, n))

        # driver, monitor
        self.src = ValidSource.from_beats(dut, valid="i__valid", data=["i__payload"],
                                          beats=pack(a, b, f), idle=Bernoulli(IDLE_P, rng),
                                          junk=junk)
        self.mon = ValidMonitor(dut, ["o__payload"], valid="o__valid")
        self.elapsed = 0.0

    async def reset(self) -> None:
        await clock_and_reset(self.dut, cycles=3, edge="falling",
                              idle={"i__valid": 0, "i__payload": 0})

    async def run(self) -> None:
        self.elapsed = await run_cycles(self.dut.clk, [self.src], [self.mon],
                                        self.src.n + self.cfg["latency"] + 2)

    def check(self) -> None:
        cfg, lat = self.cfg, self.cfg["latency"]
        sb = Scoreboard(f"fp32mac pipeline={lat} ({cfg['profile']})", seed=cfg["seed"])
        sb.compare_values(self.mon.cycles, (self.src.valid_cycles + lat).tolist(),
                          what=f"o__valid cycles (latency {lat})")
        got = self.pout.unpack(self.mon.column("o__payload"))["acc"].astype(np.int64)
        sb.compare(got, self.want, what="o.payload.acc", fmt=hex, inputs=self.beats,
                   describe=lambda i: "directed" if i < self.n_directed else "random")
        sb.check()
        self.dut._log.info(f"{len(self.beats)} multiply-adds ({self.n_directed} directed) OK, "
                           f"{len(self.beats) / max(self.elapsed, 1e-9):.0f} ops/s")


@cocotb.test()
async def cocotb_fp32mac_stream(dut):
    """Directed corners then seeded random multiply-adds with junk-filled gaps, bit-exact."""
    tb = MacTB(dut, tb_config_from_env())
    await tb.reset()
    await tb.run()
    tb.check()


# ---------------------------------------------------------------------------------------------
# pytest runner

#: (id, pipeline, profile, seed, n_random)
COSIM_CONFIGS = [
    ("p1_mixed", 1, "mixed", 51, 2500),
    ("p2_mixed", 2, "mixed", 52, 2500),
    ("p2_edges", 2, "edges", 53, 2500),
]

SLOW_CONFIGS = [
    ("p1_edges_long", 1, "edges", 61, 30000),
    ("p2_mixed_long", 2, "mixed", 62, 30000),
]


def tb_config(cid: str, pipe: int, profile: str, seed: int,
              n_random: int) -> tuple[Design, dict]:
    """The generated MAC and the JSON configuration its cocotb side reads."""
    design = generate_fp32mac(DesignConfig(pipeline=pipe, name="sqgen_fp32mac"))
    tb_cfg = {"latency": design.manifest["latency"], "profile": profile, "seed": seed,
              "n_random": n_random, "payload": design.manifest["payload_layout"]}
    return design, tb_cfg


def _run(sim: str, c: tuple) -> None:
    design, tb_cfg = tb_config(*c)
    cosim(design, sim=sim, block="fp32mac", cid=c[0], tb_cfg=tb_cfg, test_module="sim.tb_fp32mac",
          testcase="cocotb_fp32mac_stream")


@pytest.mark.parametrize("sim,cfg", sim_params(COSIM_CONFIGS))
def test_fp32mac_cosim(sim, cfg):
    _run(sim, cfg)


@pytest.mark.slow
@pytest.mark.parametrize("sim,cfg", sim_params(SLOW_CONFIGS))
def test_fp32mac_cosim_long(sim, cfg):
    _run(sim, cfg)
