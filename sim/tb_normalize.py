"""cocotb testbench for the HBFP -> FP32 normalizer (``hw.normalize.HBFPToFP32``).

Configuration as JSON in ``SQGEN_TB_CFG``. Stimulus: directed corners and seeded random
``(acc, exp)`` pairs (:func:`golden.stimulus.normalize_directed`,
:func:`golden.stimulus.normalize_random`) spread over cycles by a seeded idle generator; expected
values precomputed with :func:`golden.arith_fp.normalize`. Built from :mod:`sim.vlib` parts
(valid-qualified source and monitor on the ``i``/``o`` streams, payloads packed and unpacked by
:class:`~sim.vlib.Payload` from the manifest's field table, scoreboard with the latency check).
"""

from __future__ import annotations

from typing import Any

import cocotb
import numpy as np
import pytest

from gen.cmd_fp import generate_normalize
from gen.config import DesignConfig
from gen.emit import Design
from golden.arith_fp import normalize
from golden.stimulus import normalize_directed, normalize_random
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

#: Share of idle cycles (``i__valid`` low); the payload holds their last value meanwhile.
IDLE_P = 0.15


class NormalizeTB:
    """Driver, monitor, golden model and checker for one stream through the normalizer."""

    def __init__(self, dut: Any, cfg: dict):
        self.dut, self.cfg = dut, cfg
        aw, fb, ew = cfg["acc_width"], cfg["frac_bits"], cfg["exp_width"]
        rng = np.random.default_rng(cfg["seed"])
        da, de = normalize_directed(aw, fb, ew)
        ra, re_ = normalize_random(aw, fb, ew, cfg["n_random"], rng)
        self.n_directed = len(da)
        self.acc, self.exp = np.concatenate([da, ra]), np.concatenate([de, re_])
        # model
        self.want = normalize(self.acc, self.exp, fb).astype(np.int64)
        # driver: (acc, exp) packed into i__payload (two's complement at the field widths)
        self.pin, self.pout = Payload(cfg["payload"]["i"]), Payload(cfg["payload"]["o"])
        beats = np.array(self.pin.pack({"acc": self.acc, "exp": self.exp}), dtype=object)
        self.src = ValidSource.from_beats(dut, valid="i__valid", data=["i__payload"],
                                          beats=beats, idle=Bernoulli(IDLE_P, rng))
        # monitor
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
        sb = Scoreboard(f"normalize acc_width={cfg['acc_width']} frac_bits={cfg['frac_bits']}",
                        seed=cfg["seed"])
        sb.compare_values(self.mon.cycles, (self.src.valid_cycles + lat).tolist(),
                          what=f"o__valid cycles (latency {lat})")
        got = self.pout.unpack(self.mon.column("o__payload"))["f32"].astype(np.int64)
        sb.compare(got, self.want, what="o.payload.f32", fmt=hex,
                   inputs=np.stack([self.acc, self.exp], axis=1), in_fmt=str,
                   describe=lambda i: "directed" if i < self.n_directed else "random")
        sb.check()
        self.dut._log.info(f"{len(self.acc)} values ({self.n_directed} directed) OK, "
                           f"{len(self.acc) / max(self.elapsed, 1e-9):.0f} values/s")


@cocotb.test()
async def cocotb_normalize_stream(dut):
    """Directed corners then seeded random values with idle gaps, bit-exact vs golden."""
    tb = NormalizeTB(dut, tb_config_from_env())
    await tb.reset()
    await tb.run()
    tb.check()


# ---------------------------------------------------------------------------------------------
# pytest runner

#: (id, acc_width, frac_bits, exp_width, pipeline, seed, n_random). The widths are those of
#: dot units: hbfp8 block 64 (default headroom), m=2 block 12, m=15 block 16.
COSIM_CONFIGS = [
    ("a30_f14_p1", 30, 14, 10, 1, 31, 2500),
    ("a18_f4_p2", 18, 4, 10, 2, 32, 2500),
    ("a44_f30_p2", 44, 30, 10, 2, 33, 2500),
]

SLOW_CONFIGS = [
    ("a64_f30_e12_p3", 64, 30, 12, 3, 41, 20000),
    ("a2_f0_e4_p1", 2, 0, 4, 1, 42, 2000),
    ("a25_f10_p1", 25, 10, 10, 1, 43, 20000),
]


def tb_config(cid: str, aw: int, fb: int, ew: int, pipe: int, seed: int,
              n_random: int) -> tuple[Design, dict]:
    """The generated normalizer and the JSON configuration its cocotb side reads."""
    design = generate_normalize(DesignConfig(pipeline=pipe, name="sqgen_normalize"),
                                acc_width=aw, frac_bits=fb, exp_width=ew)
    tb_cfg = {"acc_width": aw, "frac_bits": fb, "exp_width": ew,
              "latency": design.manifest["latency"], "seed": seed, "n_random": n_random,
              "payload": design.manifest["payload_layout"]}
    return design, tb_cfg


def _run(sim: str, c: tuple) -> None:
    design, tb_cfg = tb_config(*c)
    cosim(design, sim=sim, block="normalize", cid=c[0], tb_cfg=tb_cfg,
          test_module="sim.tb_normalize", testcase="cocotb_normalize_stream")


@pytest.mark.parametrize("sim,cfg", sim_params(COSIM_CONFIGS))
def test_normalize_cosim(sim, cfg):
    _run(sim, cfg)


@pytest.mark.slow
@pytest.mark.parametrize("sim,cfg", sim_params(SLOW_CONFIGS))
def test_normalize_cosim_long(sim, cfg):
    _run(sim, cfg)
