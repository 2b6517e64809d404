"""cocotb regressions of the generated multi-pod system (``gen.cmd_system.generate_system``).

The bench loads the banks and the configuration from :func:`golden.scaleout.system_program`
(one ``load`` beat per cycle), pulses ``start``, counts the cycles ``busy`` is high, then
drains the result banks through ``rd`` (with stalls under ``stress``). Checks: every result
word (FP32 sums of every engine) bit-exact and in bank order, nothing extra, ``done`` set,
``error`` clear, and the busy cycles equal :func:`golden.scaleout.system_cycles`.
"""

from __future__ import annotations

import time

import cocotb
import numpy as np
import pytest
from cocotb.triggers import ReadOnly, RisingEdge

from gen.cmd_engine import geometry
from gen.cmd_system import SystemParams, check_system, generate_system
from gen.config import DesignConfig, parse_pod
from golden.scaleout import system_program
from golden.stimulus import engine_operands
from sim.vlib import (
    Bursts,
    CosimRun,
    Scoreboard,
    StreamSink,
    clock_and_reset,
    cosim,
    expect_quiet,
    run_streams,
    sim_param,
    simulators,
    tb_config_from_env,
    tb_record,
)


def _perm(kind: str, pods: int) -> list[int]:
    """Bank k holds pod perm[k]'s streams: the identity, or k XOR (pods - 1) (every network
    routes an XOR permutation without contention, and every switch is crossed)."""
    if kind == "xor":
        return [k ^ (pods - 1) for k in range(pods)]
    return list(range(pods))


def _image(cfg: dict):
    dc = DesignConfig(**cfg["design"])
    sp = SystemParams(**cfg["system"])
    eng, geo = check_system(dc, sp)
    rng = np.random.default_rng(cfg["seed"])
    a, w = engine_operands(*cfg["gemm"], rng, specials=cfg.get("specials", True))
    d = sp.bank_words
    return system_program(a, w, geo, geometry(eng), depths=(d, d, d),
                          perm=_perm(cfg.get("perm", "identity"), sp.pods))


@cocotb.test()
async def cocotb_system_gemm(dut):
    """Load, run, drain: bit-exact results, busy cycles equal the model."""
    cfg = tb_config_from_env()
    img = _image(cfg)
    rng = np.random.default_rng(cfg["seed"] + 1)
    await clock_and_reset(dut, cycles=3, edge="rising",
                          idle={"load__valid": 0, "start": 0, "rd__ready": 0,
                                "load__payload": 0})
    t0 = time.perf_counter()
    for beat in img.load_beats:
        dut.load__valid.value = 1
        dut.load__payload.value = beat
        await RisingEdge(dut.clk)
    dut.load__valid.value = 0
    dut.start.value = 1
    await RisingEdge(dut.clk)
    dut.start.value = 0
    cycles = 0
    while True:
        await ReadOnly()
        if cycles and not dut.busy.value:
            break
        await RisingEdge(dut.clk)
        cycles += 1
        assert cycles < 50 * img.cycles + 1000, f"busy for {cycles} cycles"
    await RisingEdge(dut.clk)
    sink = StreamSink(dut, "rd", len(img.rd_beats),
                      stall=Bursts(5, 3, rng) if cfg.get("stress") else None)
    await run_streams(dut.clk, [], [sink], timeout=20 * len(img.rd_beats) + 100)
    await expect_quiet(dut.clk, [sink], 8)
    wall = time.perf_counter() - t0
    sb = Scoreboard(f"system {cfg['system']} GEMM {cfg['gemm']}", seed=cfg["seed"])
    sb.compare_values(sink.words, img.rd_beats, what="result words",
                      describe=lambda i: f"rd beat {i}", fmt=lambda v: f"{int(v):#x}")
    sb.expect(int(dut.done.value) == 1, "done not set after the drain")
    sb.expect(int(dut.error.value) == 0, "an engine's error flag is set")
    if cfg["system"]["net"] == "bus":  # one beat per cycle for all pods: the model bounds it
        sb.expect(cycles >= img.cycles, f"busy {cycles} cycles, below the bus bound "
                                        f"{img.cycles}")
    else:
        sb.expect(cycles == img.cycles, f"busy {cycles} cycles, golden.scaleout."
                                        f"system_cycles says {img.cycles}")
    sb.check()
    tb_record({"test": "system_gemm", "gemm": cfg["gemm"], "cycles": cycles,
               "model_cycles": img.cycles, "wall_s": wall})


#: (id, pods, pod, format, sparsity, net, expand, part, GEMM M x N x K, perm)
CONFIGS = [
    ("4x4x4-bfly-hbfp6", 4, "4x4", "hbfp6", None, "butterfly", 0, 5, (13, 11, 9), "xor"),
    ("4x4x4-xbar-hbfp8", 4, "4x4", "hbfp8", None, "crossbar", 0, 8, (17, 6, 11), "xor"),
    ("8x4x4-bfly-hbfp4-2of4", 8, "4x4", "hbfp4", "2:4", "butterfly", 1, 4, (19, 23, 13),
     "xor"),
    ("8x4x4-xbar-int8", 8, "4x4", "int8", None, "crossbar", 0, 6, (11, 30, 7), "identity"),
]


def tb_config(c: tuple, *, seed: int, stress: bool = True) -> dict:
    cid, pods, pod, fmt, sp, net, e, part, gemm, perm = c
    rows, cols = parse_pod(pod)
    return {"design": {"rows": rows, "cols": cols, "format": fmt, "sparsity": sp},
            "system": {"pods": pods, "net": net, "expand": e, "part": part,
                       "bank_words": 256},
            "gemm": list(gemm), "seed": seed, "perm": perm, "stress": stress}


def build_and_run(sim: str, c: tuple, *, seed: int, block: str = "system",
                  report: bool = False) -> CosimRun:
    cfg = tb_config(c, seed=seed)
    design = generate_system(DesignConfig(**cfg["design"]), SystemParams(**cfg["system"]))
    return cosim(design, sim=sim, block=block, cid=c[0], tb_cfg=cfg,
                 test_module="sim.tb_system", report=report)


#: Verilator builds of multi-engine systems are the slowest part of `make test`: Icarus runs
#: every CI configuration, Verilator one 4-pod Butterfly and one 8-pod crossbar system, and
#: the other two under `make regress`.
_VERILATOR_CI = ("4x4x4-bfly-hbfp6", "8x4x4-xbar-int8")


@pytest.mark.parametrize("sim,cfg", [
    sim_param(s, c, cid=c[0], slow=s == "verilator" and c[0] not in _VERILATOR_CI)
    for c in CONFIGS for s in simulators()])
def test_system_cosim(sim, cfg):
    build_and_run(sim, cfg, seed=9100 + sum(map(ord, cfg[0])))


#: `make regress`: 16 pods of 8x8 with every network (Verilator).
REGRESS = [(f"16x8x8-{net}{e}", 16, "8x8", "hbfp6", None, net, e, 16, (90, 50, 37), "xor")
           for net, e in (("butterfly", 0), ("butterfly", 1), ("benes", 0), ("crossbar", 0),
                          ("bus", 0))]


@pytest.mark.slow
@pytest.mark.parametrize("cfg", REGRESS, ids=[c[0] for c in REGRESS])
def test_system_cosim_16_pods(cfg):
    build_and_run("verilator", cfg, seed=9300 + sum(map(ord, cfg[0])))


def test_every_configuration_fits_its_banks():
    """Every co-simulated configuration (make test and make regress) compiles onto its banks,
    so a slow regression never fails on its own test data."""
    for c in CONFIGS + REGRESS:
        img = _image(tb_config(c, seed=1))
        assert img.cycles > 0, c[0]
