# amaranth: UnusedElaboratable=no
"""hw/pe.py: the pod's double-buffered weight-stationary MAC, against a cycle model.

(The linter line above: test_pe_ports_and_bits inspects a PE without elaborating it.)
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from golden.facts import ParamError
from hw.arith import MantissaMAC
from hw.pe import PE


def _s(x: int, bits: int) -> int:
    x &= (1 << bits) - 1
    return x - (1 << bits) if x >> (bits - 1) else x


@pytest.mark.parametrize("mant_bits,acc,sel", [(7, 20, 1), (5, 16, 4), (3, 12, 3), (5, 14, 2)])
def test_pe_random_against_cycle_model(mant_bits, acc, sel):
    mw = mant_bits + 1
    dut = PE(arith=MantissaMAC(mant_bits, acc), sel=sel)
    rng = np.random.default_rng(mant_bits * 100 + sel)
    n = 300
    lim = (1 << mant_bits) - 1
    stim = {
        "en": rng.integers(0, 2, n), "bank_in": rng.integers(0, 2, n),
        "a": rng.integers(-lim, lim + 1, (n, sel)),
        "psum_in": rng.integers(-(1 << (acc - 2)), 1 << (acc - 2), n),
        "w_in": rng.integers(-lim, lim + 1, n), "w_we": rng.integers(0, 2, n),
        "w_bank": rng.integers(0, 2, n), "w_idx": rng.integers(0, sel, n),
    }
    mism = []

    async def tb(ctx):
        w, idx = [0, 0], [0, 0]
        a_r = b_r = p_r = 0
        for t in range(n):
            a_vec = [int(x) for x in stim["a"][t]]
            a_in = sum((x & ((1 << mw) - 1)) << (i * mw) for i, x in enumerate(a_vec))
            ctx.set(dut.en, int(stim["en"][t]))
            ctx.set(dut.in_act.bank, int(stim["bank_in"][t]))
            ctx.set(dut.in_act.data, a_in)
            ctx.set(dut.in_psum.data, int(stim["psum_in"][t]))
            ctx.set(dut.w.data, int(stim["w_in"][t]))
            ctx.set(dut.w.we, int(stim["w_we"][t]))
            ctx.set(dut.w.bank, int(stim["w_bank"][t]))
            if sel > 1:
                ctx.set(dut.w.idx, int(stim["w_idx"][t]))
            got = (ctx.get(dut.out_act.data), ctx.get(dut.out_act.bank), ctx.get(dut.out_psum.data))
            if got != (a_r, b_r, p_r):
                mism.append((t, got, (a_r, b_r, p_r)))
            await ctx.tick()
            # model of the clock edge
            bank = int(stim["bank_in"][t])
            if stim["en"][t]:
                lane = a_vec[idx[bank]] if sel > 1 else a_vec[0]
                a_r, b_r = a_in, bank
                p_r = _s(int(stim["psum_in"][t]) + w[bank] * lane, acc)
            if stim["w_we"][t]:
                wb = int(stim["w_bank"][t])
                w[wb] = int(stim["w_in"][t])
                idx[wb] = int(stim["w_idx"][t]) if sel > 1 else 0

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert not mism, f"{len(mism)}/{n} cycles differ, first (t, got, want): {mism[0]}"


def test_pe_ports_and_bits():
    pe = PE(arith=MantissaMAC(5, 16), sel=4)
    assert pe.idx_bits == 2 and pe.latency == 1
    assert pe.register_bits == 4 * 6 + 1 + 16 + 2 * (6 + 2)
    assert PE.count_register_bits(MantissaMAC(7, 20)) == 8 + 1 + 20 + 2 * 8
    with pytest.raises(ParamError):
        PE(arith=MantissaMAC(5, 8))
    with pytest.raises(ParamError):
        PE(arith=MantissaMAC(5, 16), sel=0)
    with pytest.raises(ParamError):
        PE(arith=(5, 16))
