"""cocotb testbench for the HBFP dot-product unit (``hw.dot.HBFPDot``, generated Verilog).

The cocotb side gets its configuration as JSON in ``SQGEN_TB_CFG`` (lanes, mant_bits,
narrow_mant_bits, acc_width, latency, seed, n_random, packed). Stimulus (directed corners
followed by a random stream with junk-filled bubbles) comes per cycle from
:func:`golden.stimulus.dot_stim`, expected outputs from :func:`golden.arith_dot.dot_blocks`, all
before the clock starts. The bench is made of :mod:`sim.vlib` parts: a
:class:`~sim.vlib.ValidSource` on the input stream ``i`` (``i__valid`` and ``i__payload``, packed
by :class:`~sim.vlib.Payload` from the manifest's field table, or one write per clock through
the packed-bus harness below), a :class:`~sim.vlib.ValidMonitor` on ``o`` and a
:class:`~sim.vlib.Scoreboard` checking ``o__valid`` timing, every value, and that the directed
corners reach both saturation limits.

Cycle convention (:func:`sim.vlib.run_cycles`): inputs are driven after a falling edge and
sampled by the next rising edge; outputs are sampled at each falling edge, so the output sample
``latency`` iterations after a drive belongs to that drive.
"""

from __future__ import annotations

from typing import Any

import cocotb
import numpy as np
import pytest

from gen.cmd_datapath import build_dot
from golden.facts import default_acc_width
from golden.stimulus import DotStim, dot_stim
from sim.vlib import (
    Payload,
    Scoreboard,
    ValidMonitor,
    ValidSource,
    clock_and_reset,
    cosim,
    run_cycles,
    sim_params,
    tb_config_from_env,
    tb_record,
)

# ---------------------------------------------------------------------------------------------
# Packed-bus harness: one write and one read per clock instead of one per port


def packed_wrapper(top: str, in_width: int, out_width: int) -> str:
    """Verilog of ``<top>_tb``: the generated ``top`` with ``{i__payload, i__valid}`` on one
    input bus and ``{o__payload, o__valid}`` on one output bus (valid at bit 0). Test
    scaffolding only: it just rewires, by port name, so a renamed or resized DUT port fails to
    elaborate."""
    conns = ["    .clk(clk)", "    .rst(rst)", "    .i__valid(in_bus[0])",
             f"    .i__payload(in_bus[{in_width}:1])", "    .o__valid(out_bus[0])",
             f"    .o__payload(out_bus[{out_width}:1])"]
    return (
        f"// cocotb harness for {top}: packed buses, one signal write per clock\n"
        f"module {top}_tb (input wire clk, input wire rst, input wire [{in_width}:0] in_bus,\n"
        f"    output wire [{out_width}:0] out_bus);\n"
        f"  {top} dut (\n" + ",\n".join(conns) + "\n  );\nendmodule\n"
    )


def payload_words(pin: Payload, stim: DotStim, narrow: bool) -> list[int]:
    """``i__payload`` of every cycle (junk on the bubbles included), vectorized."""
    cols = {"a.mant": stim.a, "b.mant": stim.b, "a.exp": stim.a_exp, "b.exp": stim.b_exp,
            "first": stim.first}
    if narrow:
        cols["mode"] = stim.mode
    return pin.pack(cols)


def unpack_outputs(words: list[int], pout: Payload) -> tuple[np.ndarray, list, np.ndarray]:
    """Split recorded ``out_bus`` words into (valid, acc, exp) of the valid beats."""
    w = np.array(words, dtype=object)
    valid = (w & 1).astype(bool)
    res = pout.unpack((w[valid] >> 1).tolist())
    return valid, res["acc"].tolist(), res["exp"].astype(np.int64)


# ---------------------------------------------------------------------------------------------
# cocotb side


class DotTB:
    """Driver, monitor, golden model and checker for one stream through the dot unit."""

    def __init__(self, dut: Any, cfg: dict, stim: DotStim):
        self.dut, self.cfg, self.stim = dut, cfg, stim
        self.lanes, self.narrow = cfg["lanes"], cfg["narrow_mant_bits"]
        self.packed = bool(cfg.get("packed"))
        self.pin, self.pout = Payload(cfg["payload"]["i"]), Payload(cfg["payload"]["o"])
        self.elapsed = 0.0
        # the payload every cycle: the bubbles' junk must not reach the accumulator
        words = payload_words(self.pin, stim, self.narrow is not None)
        valid = [int(v) for v in stim.valid.tolist()]
        if self.packed:
            # one write and one (lazily converted) read per clock
            self.src = ValidSource(dut, ["in_bus"],
                                   [[(w << 1) | v] for w, v in zip(words, valid, strict=True)],
                                   rest={"in_bus": 0}, valid=stim.valid)
            self.mon = ValidMonitor(dut, ["out_bus"], lazy=True)
            return
        self.src = ValidSource(dut, ["i__valid", "i__payload"],
                               [[v, w] for w, v in zip(words, valid, strict=True)],
                               rest={"i__valid": 0}, valid=stim.valid)
        self.mon = ValidMonitor(dut, ["o__payload"], valid="o__valid", lazy=True)

    @property
    def n_cycles(self) -> int:
        return self.src.n + self.cfg["latency"] + 2

    async def reset(self) -> None:
        idle = {"in_bus": 0} if self.packed else {"i__valid": 0}
        await clock_and_reset(self.dut, cycles=3, edge="falling", idle=idle)

    async def run(self) -> None:
        """Drive one cycle per stimulus row (plus ``latency + 2`` drain cycles), sampling."""
        self.elapsed = await run_cycles(self.dut.clk, [self.src], [self.mon], self.n_cycles)

    def received(self) -> tuple[list[int], list, np.ndarray]:
        """(cycles with o__valid, acc, exp) of the valid output beats."""
        if self.packed:
            words = [int(r) for r in self.mon.raw]
            valid, acc, ex = unpack_outputs(words, self.pout)
            return np.nonzero(valid)[0].tolist(), acc, ex
        res = self.pout.unpack(self.mon.column("o__payload"))
        return self.mon.cycles, res["acc"].tolist(), res["exp"].astype(np.int64)

    def check(self) -> None:
        cfg, st = self.cfg, self.stim
        lat, seed = cfg["latency"], cfg["seed"]
        mb, aw, n = cfg["mant_bits"], cfg["acc_width"], self.narrow
        exp_acc, exp_exp = st.expected(mant_bits=mb, acc_width=aw, narrow_mant_bits=n)
        sb = Scoreboard(f"dot lanes={self.lanes} m={mb} n={n} W={aw}", seed=seed)
        cyc, ga, ge = self.received()
        sb.compare_values(cyc, (np.nonzero(st.valid)[0] + lat).tolist(),
                          what=f"o__valid cycles (latency {lat})")
        v = st.valid

        def describe(i: int) -> str:
            tag = "directed" if i < st.n_directed else "random"
            return (f"block {i} ({tag}): first={int(st.first[v][i])} mode={int(st.mode[v][i])} "
                    f"e_a={st.a_exp[v][i]} e_b={st.b_exp[v][i]} a={st.a[v][i].tolist()} "
                    f"b={st.b[v][i].tolist()}")

        sb.compare(list(zip(ga, np.asarray(ge).tolist(), strict=True)),
                   list(zip(exp_acc.tolist(), exp_exp.tolist(), strict=True)),
                   what="o.payload (acc, exp)", describe=describe)
        if st.n_directed and exp_acc.size:
            # The directed corners must really reach both saturation limits.
            d = exp_acc[: st.n_directed].astype(object)
            hi, lo = (1 << (aw - 1)) - 1, -(1 << (aw - 1))
            sb.expect((d == hi).any() and (d == lo).any(),
                      "directed corners did not reach both saturation limits")
        self.dut._log.info(
            "dot lanes=%d m=%d n=%s W=%d latency=%d: %d cycles, %d blocks (%d directed), "
            "seed %d, %.0f cycles/s", self.lanes, mb, n, aw, lat, st.valid.size,
            int(st.valid.sum()), st.n_directed, seed, self.n_cycles / max(self.elapsed, 1e-9),
        )
        sb.check()


def _stim(c: dict, **kw) -> DotStim:
    return dot_stim(c["lanes"], c["mant_bits"], c["narrow_mant_bits"], c["acc_width"],
                    c["n_random"], c["seed"], **kw)


@cocotb.test()
async def cocotb_dot_stream(dut):
    """Directed corners back to back, then >= 2000 random blocks with junk-filled bubbles."""
    c = tb_config_from_env()
    tb = DotTB(dut, c, _stim(c))
    await tb.reset()
    await tb.run()
    tb.check()


@cocotb.test()
async def cocotb_dot_bench(dut):
    """Throughput: back-to-back random blocks, no corners; figures go to :func:`tb_record`."""
    c = tb_config_from_env()
    if not c.get("bench"):
        return  # only the bench asks for this one
    stim = _stim(c, valid_rate=1.0, directed=False)
    tb = DotTB(dut, c, stim)
    await tb.reset()
    await tb.run()
    tb.check()
    tb_record({"blocks": int(stim.valid.sum()), "cycles": tb.n_cycles, "seconds": tb.elapsed})


# ---------------------------------------------------------------------------------------------
# pytest runner

#: (id, lanes, mant_bits, narrow_mant_bits, acc_width or None = exact + 8, pipeline, seed,
#: packed harness). Covers the smallest (m=2) and largest (m=15) widths, non-power-of-two lanes
#: (12, 5), the three pipeline placements, minimum-width accumulators (saturation reached
#: quickly), both narrow-mode extremes (n=3 on hbfp6, n=2 on m=15) and both TB drivers (the
#: per-port driver on the unwrapped generated module, the packed-bus harness).
COSIM_CONFIGS = [
    ("k16_m5n3_p2", 16, 5, 3, 20, 2, 301, True),
    ("k12_m2_p1", 12, 2, None, 10, 1, 302, False),
    ("k5_m15n2_p4", 5, 15, 2, 35, 4, 303, True),
]
N_RANDOM = 2000


def tb_config(cid: str, lanes: int, mb: int, n: int | None, aw: int | None, pipe: int,
              seed: int, packed: bool = True, n_random: int = N_RANDOM) -> tuple:
    """The generated design, the JSON config the cocotb side reads and the HDL toplevel.

    ``packed`` adds the packed-bus harness (``<top>_tb``) around the generated module.
    """
    aw = default_acc_width(mb, lanes) if aw is None else aw
    design = build_dot(lanes=lanes, mant_bits=mb, acc_width=aw, pipeline=pipe,
                       narrow_mant_bits=n, name="sqgen_dot")
    lay = design.manifest["payload_layout"]
    cfg = {"lanes": lanes, "mant_bits": mb, "narrow_mant_bits": n, "acc_width": aw,
           "latency": design.manifest["latency"], "seed": seed, "n_random": n_random,
           "packed": packed, "payload": lay}
    top = design.top
    if packed:
        top = f"{design.top}_tb"
        design.files[f"{top}.v"] = packed_wrapper(design.top, Payload(lay["i"]).width,
                                                  Payload(lay["o"]).width)
    return design, cfg, top


@pytest.mark.parametrize("sim,cfg", sim_params(COSIM_CONFIGS))
def test_dot_cosim(sim, cfg):
    design, tb_cfg, top = tb_config(*cfg)
    cosim(design, sim=sim, block="dot", cid=cfg[0], tb_cfg=tb_cfg, top=top,
          test_module="sim.tb_dot", testcase="cocotb_dot_stream")


@pytest.mark.slow
@pytest.mark.sim
@pytest.mark.parametrize("sim", ["icarus", "verilator"])
def test_dot_cosim_long(sim):
    """Long regression: hbfp8 with an hbfp4 narrow mode, 24 lanes, 3 stages, 20k blocks."""
    design, tb_cfg, top = tb_config("k24_m7n3_p3", 24, 7, 3, None, 3, 404, n_random=20000)
    cosim(design, sim=sim, block="dot", cid="k24_m7n3_p3", tb_cfg=tb_cfg, top=top,
          test_module="sim.tb_dot", testcase="cocotb_dot_stream")
