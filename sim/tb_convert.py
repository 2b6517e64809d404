"""cocotb testbench for the FP32 -> HBFP converter (``hw.convert.FP32ToHBFP``, generated Verilog).

The cocotb side gets its configuration as JSON in ``SQGEN_TB_CFG``. Stimulus (directed corners
from :func:`golden.stimulus.convert_directed`, then a seeded random stream from
:func:`golden.stimulus.convert_random`) is spread over cycles by a seeded idle generator with
random junk on the idle cycles; expected outputs come from the golden twin
(:func:`golden.arith_fp.convert_blocks`), vectorized, before the clock starts. The bench is made
of :mod:`sim.vlib` parts: a :class:`~sim.vlib.ValidSource` on the input stream ``i``
(``i__valid``, ``i__payload`` packed by :class:`~sim.vlib.Payload` from the manifest's field
table), a :class:`~sim.vlib.ValidMonitor` on ``o__valid`` whose ``o__payload`` words are
unpacked the same way, and a :class:`~sim.vlib.Scoreboard` that checks values and that every
output comes exactly ``latency`` cycles after its input.
"""

from __future__ import annotations

from typing import Any

import cocotb
import numpy as np
import pytest

from gen.cmd_fp import DEFAULT_SEED, generate_convert
from gen.config import DesignConfig
from gen.emit import Design
from golden.arith_fp import convert_blocks
from golden.stimulus import convert_directed, convert_random, random_f32
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

#: Share of idle cycles (``i__valid`` low) in the random part of the stream.
IDLE_P = 0.15


class ConvertTB:
    """Driver, monitor, golden model and checker for one stream through the converter."""

    def __init__(self, dut: Any, cfg: dict):
        self.dut, self.cfg = dut, cfg
        k, m = self.k, self.m = cfg["block_size"], cfg["mant_bits"]
        rng = np.random.default_rng(cfg["seed"])
        self.n_directed = len(convert_directed(k, m))
        self.blocks = np.concatenate([convert_directed(k, m),
                                      convert_random(k, cfg["n_random"], rng)])
        # model
        self.want_e, self.want_q, self.want_inv = convert_blocks(
            self.blocks, m, stochastic=cfg["stochastic"], offset_bits=cfg["offset_bits"],
            seed=cfg["lfsr_seed"])
        self.pin, self.pout = Payload(cfg["payload"]["i"]), Payload(cfg["payload"]["o"])
        # driver: junk under i__valid = 0, which the DUT (and its LFSR) must ignore
        self.src = ValidSource.from_beats(
            dut, valid="i__valid", data=["i__payload"],
            beats=np.array(self.pin.pack({"x": self.blocks}), dtype=object),
            idle=Bernoulli(IDLE_P, rng),
            junk=lambda n: np.array(self.pin.pack({"x": random_f32(rng, (n, k))}, n),
                                    dtype=object))
        # monitor
        self.mon = ValidMonitor(dut, ["o__payload"], valid="o__valid", lazy=True)
        self.elapsed = 0.0

    async def reset(self) -> None:
        await clock_and_reset(self.dut, cycles=3, edge="falling",
                              idle={"i__valid": 0, "i__payload": 0})

    async def run(self) -> None:
        """One row per cycle, then ``latency + 2`` drain cycles."""
        self.elapsed = await run_cycles(self.dut.clk, [self.src], [self.mon],
                                        self.src.n + self.cfg["latency"] + 2)

    def check(self) -> None:
        k, m, lat = self.k, self.m, self.cfg["latency"]
        sb = Scoreboard(f"convert k={k} m={m}", seed=self.cfg["seed"])
        sb.compare_values(self.mon.cycles, (self.src.valid_cycles + lat).tolist(),
                          what=f"o__valid cycles (latency {lat})")
        got = self.pout.unpack(self.mon.column("o__payload"))
        got = np.concatenate([got["block.exp"][:, None], got["invalid"][:, None],
                              got["block.mant"]], axis=1).astype(np.int64)
        want = np.concatenate([self.want_e[:, None], self.want_inv[:, None], self.want_q],
                              axis=1).astype(np.int64)
        sb.compare(got, want, what="(exp, invalid, mantissas)",
                   inputs=self.blocks, in_fmt=hex,
                   describe=lambda i: "directed" if i < self.n_directed else "random")
        sb.check()
        self.dut._log.info(f"{len(self.blocks)} blocks ({self.n_directed} directed) OK, "
                           f"{len(self.blocks) / max(self.elapsed, 1e-9):.0f} blocks/s")


@cocotb.test()
async def cocotb_convert_stream(dut):
    """Directed corners then seeded random blocks with junk-filled gaps, bit-exact vs golden."""
    tb = ConvertTB(dut, tb_config_from_env())
    await tb.reset()
    await tb.run()
    tb.check()


# ---------------------------------------------------------------------------------------------
# pytest runner

#: (id, block_size, mant_bits, pipeline, stochastic, offset_bits, seed, n_random)
COSIM_CONFIGS = [
    ("k12_m2_p1", 12, 2, 1, False, 8, 11, 2000),
    ("k16_m15_p2", 16, 15, 2, False, 8, 12, 2000),
    ("k8_m5_p2_sr", 8, 5, 2, True, 8, 13, 2000),
]

SLOW_CONFIGS = [
    ("k64_m7_p1", 64, 7, 1, False, 8, 21, 6000),
    ("k3_m3_p3_sr16", 3, 3, 3, True, 16, 22, 20000),
    ("k24_m15_p1_sr32", 24, 15, 1, True, 32, 23, 4000),
]


def tb_config(cid: str, k: int, m: int, pipe: int, stoch: bool, ob: int, seed: int,
              n_random: int) -> tuple[Design, dict]:
    """The generated converter and the JSON configuration its cocotb side reads."""
    cfg = DesignConfig(rows=k, block_size=k, pipeline=pipe,
                       rounding="stochastic" if stoch else "nearest_even", name="sqgen_convert")
    design = generate_convert(cfg, mant_bits=m, offset_bits=ob)
    tb_cfg = {"block_size": k, "mant_bits": m, "latency": design.manifest["latency"],
              "stochastic": stoch, "offset_bits": ob, "lfsr_seed": DEFAULT_SEED, "seed": seed,
              "n_random": n_random, "payload": design.manifest["payload_layout"]}
    return design, tb_cfg


def _run(sim: str, c: tuple) -> None:
    design, tb_cfg = tb_config(*c)
    cosim(design, sim=sim, block="convert", cid=c[0], tb_cfg=tb_cfg, test_module="sim.tb_convert",
          testcase="cocotb_convert_stream")


@pytest.mark.parametrize("sim,cfg", sim_params(COSIM_CONFIGS))
def test_convert_cosim(sim, cfg):
    _run(sim, cfg)


@pytest.mark.slow
@pytest.mark.parametrize("sim,cfg", sim_params(SLOW_CONFIGS))
def test_convert_cosim_long(sim, cfg):
    _run(sim, cfg)
