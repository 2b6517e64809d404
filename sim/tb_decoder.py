"""cocotb testbench of the N:M sparse-index decoder (``hw.decoder.NMDecoder``).

The cocotb side gets its configuration as JSON in ``SQGEN_TB_CFG``. Stimulus and expected
values are computed up front, vectorized: metadata made by real pruning
(:func:`golden.stimulus.decoder_stim`: :func:`golden.sparsity.nm_prune` then ``nm_compress``,
directed edge / short / all-zero groups, optional corruption) and the golden twin
(:mod:`golden.nm_hw`). The bench is made of :mod:`sim.vlib` parts: a
:class:`~sim.vlib.ValidSource` drives every input every cycle (``i__valid``, ``clear`` and
``i__payload``, packed by :class:`~sim.vlib.Payload` from the manifest's field table), a
:class:`~sim.vlib.ValidMonitor` records every output every cycle, and a
:class:`~sim.vlib.Scoreboard` checks every valid output beat and ``o__valid`` / ``meta_error``
in *every* cycle (cycle-exact).

The pytest runner at the bottom (``test_decoder_cosim``) generates the Verilog through
:func:`gen.cmd_sparse.generate_decoder` and runs it on Icarus and/or Verilator.
"""

from __future__ import annotations

from typing import Any

import cocotb
import numpy as np
import pytest

from gen.cmd_sparse import generate_decoder
from gen.config import DesignConfig
from golden import nm_hw
from golden.stimulus import DecoderStim, decoder_stim
from sim.vlib import (
    Payload,
    Scoreboard,
    ValidMonitor,
    ValidSource,
    clock_and_reset,
    cosim,
    run_cycles,
    sim_param,
    simulators,
    tb_config_from_env,
)


class DecoderTB:
    """Driver, monitor, golden model and checker for one decoder run."""

    def __init__(self, dut: Any, cfg: dict, stim: DecoderStim):
        self.dut, self.cfg, self.stim = dut, cfg, stim
        n, m, g = cfg["n"], cfg["m"], cfg["groups"]
        self.n, self.m, self.lanes = n, m, g * n
        self.pin, self.pout = Payload(cfg["payload"]["i"]), Payload(cfg["payload"]["o"])
        meta = nm_hw.pack_meta(stim.idx, n, m, packed24=cfg["packed24"])
        words = self.pin.pack({"act": stim.act, ("meta" if cfg["packed24"] else "idx"): meta})
        rows = [[int(v), int(c), w] for v, c, w in zip(stim.valid.tolist(), stim.clear.tolist(),
                                                       words, strict=True)]
        self.src = ValidSource(dut, ["i__valid", "clear", "i__payload"], rows, valid=stim.valid)
        # every cycle: o__valid and meta_error are checked cycle-exact
        self.mon = ValidMonitor(dut, ["o__valid", "meta_error", "o__payload"])

    async def reset(self) -> None:
        await clock_and_reset(self.dut, cycles=2, edge="falling",
                              idle={"i__valid": 0, "clear": 0})

    async def run(self) -> None:
        """Drive one row per cycle; samples at the falling edges before each drive and after
        the last.

        Sample ``t`` is the state after rising edge ``t`` (i.e. ``meta_error`` index ``t`` of
        :func:`golden.nm_hw.meta_error_trace`).
        """
        await run_cycles(self.dut.clk, [self.src], [self.mon], self.src.n + 1)

    @property
    def got_err(self) -> list[int]:
        return self.mon.column("meta_error").tolist()

    def check(self) -> None:
        st, cfg = self.stim, self.cfg
        sel, viol, err = st.expected(self.n, self.m)
        sb = Scoreboard(f"decoder {self.n}:{self.m} groups={cfg['groups']}", seed=cfg["seed"])
        got = self.mon.array()
        sb.compare_values(got[1:, 0].tolist(), st.valid.astype(int).tolist(),
                          what="o__valid (per cycle)", describe=lambda t: f"cycle {t}")
        sb.compare_values(got[:, 1].tolist(), err.astype(int).tolist(),
                          what="meta_error (per cycle)", describe=lambda t: f"cycle {t}")
        vt = np.nonzero(st.valid)[0]
        act = self.pout.unpack(got[1:, 2])["act"]
        sb.compare(act[st.valid], sel[st.valid], what="o.payload.act (valid beats)",
                   describe=lambda i: f"cycle {vt[i]}, idx={st.idx[vt[i]].tolist()}")
        n_viol = int(np.sum(viol & st.valid))
        self.dut._log.info(
            "decoder %s:%s groups=%d: %d beats (%d valid, %d violating), seed %d",
            self.n, self.m, cfg["groups"], st.valid.size, int(st.valid.sum()), n_viol, cfg["seed"],
        )
        sb.check()


async def _run(dut: Any, stim: DecoderStim) -> DecoderTB:
    tb = DecoderTB(dut, tb_config_from_env(), stim)
    await tb.reset()
    await tb.run()
    tb.check()
    return tb


@cocotb.test()
async def cocotb_decoder_random(dut):
    """Pruned random metadata plus directed edge / short-group / all-zero beats."""
    c = tb_config_from_env()
    stim = decoder_stim(c["n"], c["m"], c["groups"], c["width"], c["beats"], c["seed"])
    tb = await _run(dut, stim)
    assert not any(tb.got_err), "meta_error fired on valid metadata"


@cocotb.test()
async def cocotb_decoder_meta_error(dut):
    """Corrupted metadata and random clears: meta_error checked in every cycle."""
    c = tb_config_from_env()
    stim = decoder_stim(c["n"], c["m"], c["groups"], c["width"], c["beats"] // 2,
                        c["seed"] + 1, corrupt_rate=0.02, clear_rate=0.05)
    tb = await _run(dut, stim)
    # Only 1:M with M a power of two has no representable bad metadata.
    can_fail = c["n"] > 1 or (c["m"] & (c["m"] - 1)) != 0
    assert any(tb.got_err) == can_fail, "corrupted metadata never raised meta_error"


# ---------------------------------------------------------------------------------------------
# pytest runner

#: (id, sparsity, block, format, packed24, simulators it runs on in the fast suite).
#: The issue's configurations (2:4, 1:4, 2:8, 4:8, 3:7) run on both simulators in the fast
#: suite (CI); the extra ones run on Icarus there, and ``make regress`` (slow) runs all on both.
COSIM_CONFIGS = [
    ("2of4", "2:4", 16, "hbfp6", False, ("icarus", "verilator")),
    ("2of4p", "2:4", 16, "hbfp6", True, ("icarus",)),
    ("1of4", "1:4", 8, "hbfp8", False, ("icarus", "verilator")),
    ("2of8", "2:8", 16, "hbfp4", False, ("icarus", "verilator")),
    ("4of8", "4:8", 16, "hbfp6", False, ("icarus", "verilator")),
    ("3of7", "3:7", 14, "hbfp6", False, ("icarus", "verilator")),
    ("15of16", "15:16", 16, "hbfp4", False, ("icarus",)),
    ("1of5", "1:5", 10, "hbfp6", False, ("icarus",)),
]


def _params() -> list:
    return [sim_param(sim, c[:-1], cid=c[0], slow=sim not in c[-1])
            for c in COSIM_CONFIGS for sim in simulators()]


@pytest.mark.parametrize("sim,cfg", _params())
def test_decoder_cosim(sim, cfg):
    cid, sp, blk, fmt, packed = cfg
    dc = DesignConfig(sparsity=sp, block_size=blk, format=fmt, rows=blk)
    design = generate_decoder(dc, packed24=packed)
    n, m = dc.nm
    tb_cfg = {"n": n, "m": m, "groups": blk // m, "width": dc.mant_bits + 1,
              "packed24": packed, "beats": 600, "seed": 4000 + blk * 17 + m * 3 + n,
              "payload": design.manifest["payload_layout"]}
    cosim(design, sim=sim, block="decoder", cid=cid, tb_cfg=tb_cfg, test_module="sim.tb_decoder")
