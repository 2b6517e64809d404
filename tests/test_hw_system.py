# amaranth: UnusedElaboratable=no
"""Amaranth-simulator tests of the multi-pod system (hw/system.py) against golden.scaleout:
every result word bit-exact, busy cycles equal the model; the register FIFO on its own."""

from __future__ import annotations

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from gen.cmd_engine import geometry
from gen.cmd_system import SystemParams, check_system
from gen.config import DesignConfig
from golden.scaleout import system_program
from hw.system import Fifo2, System


def run_system(pods: int, net: str, pod: tuple[int, int], part: int, mnk, *, perm=None,
               stall_p: float = 0.0, seed: int = 0):
    dc = DesignConfig(rows=pod[0], cols=pod[1], format="hbfp6")
    sp = SystemParams(pods=pods, net=net, part=part, bank_words=64)
    eng, geo = check_system(dc, sp)
    rng = np.random.default_rng(seed)
    M, N, K = mnk
    a = rng.standard_normal((M, K)).astype(np.float32)
    w = rng.standard_normal((K, N)).astype(np.float32)
    img = system_program(a, w, geo, geometry(eng), depths=(64, 64, 64), perm=perm)
    dut = System(pods=pods, engine=eng, net=net, act_depth=64, w_depth=64, res_depth=64)
    got: list[int] = []
    info = {}

    async def tb(ctx):
        for b in img.load_beats:
            ctx.set(dut.load.valid, 1)
            ctx.set(dut.load.payload.as_value(), b)
            await ctx.tick()
        ctx.set(dut.load.valid, 0)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        c = 0
        while True:
            await ctx.tick()
            c += 1
            assert c < 20 * img.cycles, "busy does not fall"
            if not ctx.get(dut.busy):
                break
        info["cycles"] = c
        stall = random.Random(seed)
        for _ in range(4 * len(img.rd_beats) + 20):
            ready = stall.random() >= stall_p
            ctx.set(dut.rd.ready, int(ready))
            if ready and ctx.get(dut.rd.valid):
                got.append(ctx.get(dut.rd.payload.as_value()))
            await ctx.tick()
        info["done"] = ctx.get(dut.done)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return img, got, info


@pytest.mark.parametrize("pods,net,perm", [(2, "crossbar", None), (2, "butterfly", [1, 0]),
                                           (3, "bus", [2, 0, 1])])
def test_system_exact_and_cycles(pods, net, perm):
    img, got, info = run_system(pods, net, (2, 2), 3, (5, 5, 3), perm=perm, stall_p=0.3)
    bad = [i for i, (g, w) in enumerate(zip(got, img.rd_beats, strict=False)) if g != w]
    assert len(got) == len(img.rd_beats) and not bad, f"{len(bad)}/{len(got)} mismatches"
    assert info["done"]
    if net != "bus":  # the bus count is a bound
        assert info["cycles"] == img.cycles
    else:
        assert info["cycles"] >= img.cycles


def test_fifo2_keeps_order_under_random_traffic():
    dut = Fifo2(width=8)
    out: list[int] = []

    async def tb(ctx):
        n, rng = 0, random.Random(1)
        for _ in range(400):
            we = rng.random() < 0.6 and n < 150 and ctx.get(dut.w_rdy)
            re = rng.random() < 0.6
            ctx.set(dut.w_en, int(we))
            ctx.set(dut.w_data, n & 255)
            ctx.set(dut.r_en, int(re))
            assert ctx.get(dut.level) <= 2
            if re and ctx.get(dut.r_rdy):
                out.append(ctx.get(dut.r_data))
            await ctx.tick()
            n += int(we)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert out == [i & 255 for i in range(len(out))] and len(out) > 100
