"""cocotb testbench for the HBFP dot-product unit (``hw.dot.HBFPDot``, generated Verilog).

The cocotb side gets its configuration as JSON in ``SQGEN_TB_CFG`` (lanes, mant_bits,
narrow_mant_bits, acc_width, latency, seed, n_random, packed). Stimulus (directed corners
followed by a random stream with junk-filled bubbles) comes per cycle from
:func:`golden.stimulus.dot_stim`, expected outputs from :func:`golden.arith_dot.dot_blocks`, all
before the clock starts. The bench is made of :mod:`sim.vlib` parts: a
:class:`~sim.vlib.ValidSource` (per port, or one write per clock through the packed-bus
harness below), a :class:`~sim.vlib.ValidMonitor` and a :class:`~sim.vlib.Scoreboard` checking
``out_valid`` timing, every value, and that the directed corners reach both saturation limits.

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
from golden.facts import EXP_WIDTH, PROD_EXP_WIDTH, default_acc_width
from golden.stimulus import DotStim, dot_stim
from sim.vlib import (
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


def bus_layout(lanes: int, mant_bits: int, narrow: bool) -> list[tuple[str, int, int]]:
    """``(port, lsb, width)`` of every DUT input inside the packed ``in_bus``."""
    fields = [("in_valid", 1), ("in_first", 1)] + ([("in_mode", 1)] if narrow else [])
    fields += [("in_a_exp", EXP_WIDTH), ("in_b_exp", EXP_WIDTH)]
    fields += [(f"in_a__{i}", mant_bits + 1) for i in range(lanes)]
    fields += [(f"in_b__{i}", mant_bits + 1) for i in range(lanes)]
    out, pos = [], 0
    for name, w in fields:
        out.append((name, pos, w))
        pos += w
    return out


def packed_wrapper(top: str, lanes: int, mant_bits: int, narrow: bool, acc_width: int) -> str:
    """Verilog of ``<top>_tb``: the generated ``top`` with its inputs on one packed bus and its
    outputs on another (``{out_exp, out_acc, out_valid}``). Test scaffolding only: it just
    rewires, by port name, so a renamed or resized DUT port fails to elaborate."""
    lay = bus_layout(lanes, mant_bits, narrow)
    width = lay[-1][1] + lay[-1][2]
    ow = 1 + acc_width + PROD_EXP_WIDTH
    conns = [f"    .{n}(in_bus[{lsb + w - 1}:{lsb}])" for n, lsb, w in lay]
    conns += ["    .clk(clk)", "    .rst(rst)", "    .out_valid(out_bus[0])",
              f"    .out_acc(out_bus[{acc_width}:1])",
              f"    .out_exp(out_bus[{ow - 1}:{acc_width + 1}])"]
    return (
        f"// cocotb harness for {top}: packed buses, one signal write per clock\n"
        f"module {top}_tb (input wire clk, input wire rst, input wire [{width - 1}:0] in_bus,\n"
        f"    output wire [{ow - 1}:0] out_bus);\n"
        f"  {top} dut (\n" + ",\n".join(conns) + "\n  );\nendmodule\n"
    )


def pack_rows(stim: DotStim, lanes: int, mant_bits: int, narrow: bool) -> list[int]:
    """One Python int per cycle holding every input of that cycle (vectorized, object ints)."""
    cols = {"in_valid": stim.valid, "in_first": stim.first, "in_mode": stim.mode,
            "in_a_exp": stim.a_exp, "in_b_exp": stim.b_exp}
    cols.update({f"in_a__{i}": stim.a[:, i] for i in range(lanes)})
    cols.update({f"in_b__{i}": stim.b[:, i] for i in range(lanes)})
    word = np.zeros(stim.valid.size, dtype=object)
    for name, lsb, w in bus_layout(lanes, mant_bits, narrow):
        field = np.asarray(cols[name], dtype=np.int64) & ((1 << w) - 1)
        word += field.astype(object) << lsb
    return word.tolist()


def unpack_outputs(words: list[int], acc_width: int) -> tuple[np.ndarray, list, np.ndarray]:
    """Split recorded ``out_bus`` words into (valid, acc, exp) with signed fields."""
    w = np.array(words, dtype=object)
    valid = (w & 1).astype(bool)
    acc = (w >> 1) & ((1 << acc_width) - 1)
    acc = np.where(acc >= (1 << (acc_width - 1)), acc - (1 << acc_width), acc)
    ex = ((w >> (acc_width + 1)) & ((1 << PROD_EXP_WIDTH) - 1)).astype(np.int64)
    ex = np.where(ex >= (1 << (PROD_EXP_WIDTH - 1)), ex - (1 << PROD_EXP_WIDTH), ex)
    return valid, acc[valid].tolist(), ex[valid]


# ---------------------------------------------------------------------------------------------
# cocotb side


class DotTB:
    """Driver, monitor, golden model and checker for one stream through the dot unit."""

    def __init__(self, dut: Any, cfg: dict, stim: DotStim):
        self.dut, self.cfg, self.stim = dut, cfg, stim
        self.lanes, self.narrow = cfg["lanes"], cfg["narrow_mant_bits"]
        self.packed = bool(cfg.get("packed"))
        self.elapsed = 0.0
        if self.packed:
            # one write and one (lazily converted) read per clock
            words = pack_rows(stim, self.lanes, cfg["mant_bits"], self.narrow is not None)
            self.src = ValidSource(dut, ["in_bus"], [[w] for w in words], rest={"in_bus": 0},
                                   valid=stim.valid)
            self.mon = ValidMonitor(dut, ["out_bus"], lazy=True)
            return
        ports = (["in_valid", "in_a_exp", "in_b_exp", "in_first"]
                 + (["in_mode"] if self.narrow is not None else [])
                 + [f"in_a__{i}" for i in range(self.lanes)]
                 + [f"in_b__{i}" for i in range(self.lanes)])
        cols = [stim.valid[:, None], stim.a_exp[:, None], stim.b_exp[:, None],
                stim.first[:, None]]
        if self.narrow is not None:
            cols.append(stim.mode[:, None])
        rows = np.concatenate([np.asarray(c, dtype=np.int64) for c in cols] + [stim.a, stim.b],
                              axis=1)
        # every port every cycle: the bubbles' junk must not reach the accumulator
        self.src = ValidSource(dut, ports, rows, rest={"in_valid": 0}, valid=stim.valid)
        self.mon = ValidMonitor(dut, ["out_acc", "out_exp"], valid="out_valid", signed=True)

    @property
    def n_cycles(self) -> int:
        return self.src.n + self.cfg["latency"] + 2

    async def reset(self) -> None:
        idle = {"in_bus": 0} if self.packed else {"in_valid": 0}
        await clock_and_reset(self.dut, cycles=3, edge="falling", idle=idle)

    async def run(self) -> None:
        """Drive one cycle per stimulus row (plus ``latency + 2`` drain cycles), sampling."""
        self.elapsed = await run_cycles(self.dut.clk, [self.src], [self.mon], self.n_cycles)

    def received(self) -> tuple[list[int], list, np.ndarray]:
        """(cycles with out_valid, out_acc, out_exp) of the valid outputs."""
        if self.packed:
            words = [int(r) for r in self.mon.raw]
            valid, acc, ex = unpack_outputs(words, self.cfg["acc_width"])
            return np.nonzero(valid)[0].tolist(), acc, ex
        a = self.mon.array()
        return self.mon.cycles, a[:, 0].tolist(), a[:, 1].astype(np.int64)

    def check(self) -> None:
        cfg, st = self.cfg, self.stim
        lat, seed = cfg["latency"], cfg["seed"]
        mb, aw, n = cfg["mant_bits"], cfg["acc_width"], self.narrow
        exp_acc, exp_exp = st.expected(mant_bits=mb, acc_width=aw, narrow_mant_bits=n)
        sb = Scoreboard(f"dot lanes={self.lanes} m={mb} n={n} W={aw}", seed=seed)
        cyc, ga, ge = self.received()
        sb.compare_values(cyc, (np.nonzero(st.valid)[0] + lat).tolist(),
                          what=f"out_valid cycles (latency {lat})")
        v = st.valid

        def describe(i: int) -> str:
            tag = "directed" if i < st.n_directed else "random"
            return (f"block {i} ({tag}): first={int(st.first[v][i])} mode={int(st.mode[v][i])} "
                    f"e_a={st.a_exp[v][i]} e_b={st.b_exp[v][i]} a={st.a[v][i].tolist()} "
                    f"b={st.b[v][i].tolist()}")

        sb.compare(list(zip(ga, np.asarray(ge).tolist(), strict=True)),
                   list(zip(exp_acc.tolist(), exp_exp.tolist(), strict=True)),
                   what="(out_acc, out_exp)", describe=describe)
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
    cfg = {"lanes": lanes, "mant_bits": mb, "narrow_mant_bits": n, "acc_width": aw,
           "latency": design.manifest["latency"], "seed": seed, "n_random": n_random,
           "packed": packed}
    top = design.top
    if packed:
        top = f"{design.top}_tb"
        design.files[f"{top}.v"] = packed_wrapper(design.top, lanes, mb, n is not None, aw)
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
