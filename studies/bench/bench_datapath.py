"""Dot-product unit throughput under cocotb: Icarus vs Verilator (issue 3, performance).

Drives the generated 16-lane HBFP6 dot unit (HBFP4 narrow mode, 2 pipeline stages) with
back-to-back random blocks, one whole block per clock, using ``sim/tb_dot.py``'s
``cocotb_dot_bench`` (stimulus and expected values precomputed vectorized, per-cycle Python only
assigns ints and reads three outputs, bulk check at the end), through the same runner entry as
the tests (:func:`sim.common.cosim`). Reports block vectors per second of
the drive loop on each simulator, the Verilator/Icarus ratio and the Verilator build time.

It also reports the switching-activity model behind the narrow mode's saving (docs/dot.md):
average toggling bits per block on the multiplier operand and product buses for the same HBFP4
stream fed (a) wide-mode, sign-extended and (b) narrow-mode, MSB-aligned as the unit does.

Environment: ``SQGEN_BENCH_BLOCKS`` overrides the block count per simulator (default 20000).
"""

from __future__ import annotations

import os

import numpy as np

from sim.common import cosim
from sim.tb_dot import tb_config

LANES, MANT, NARROW, PIPE = 16, 5, 3, 2
SEED = 9001


def _run_sim(sim: str, n_blocks: int, packed: bool) -> dict:
    design, cfg, top = tb_config("bench", LANES, MANT, NARROW, None, PIPE, SEED, packed=packed,
                                 n_random=n_blocks)
    cfg["bench"] = True
    # A fresh build every time: a reused Verilator object tree would make the reported build
    # time meaningless. Same entry as the co-simulation tests (sim.common.cosim).
    run = cosim(design, sim=sim, block="bench_dot", cid="packed" if packed else "ports",
                tb_cfg=cfg, top=top, test_module="sim.tb_dot", testcase="cocotb_dot_bench",
                fresh=True, quiet=True, report=True)
    if not run.records:
        raise RuntimeError(f"{sim}: dot bench co-simulation reported nothing, see "
                           f"{run.build_dir}")
    res = dict(run.records[-1])
    res.update(build_s=run.build_s, test_s=run.test_s, rate=res["blocks"] / res["seconds"])
    return res


def _popcount(x: np.ndarray) -> np.ndarray:
    return np.unpackbits(x.view(np.uint8), axis=-1).reshape(*x.shape, -1).sum(axis=-1)


def toggle_model(n_blocks: int = 4096, seed: int = 5) -> dict[str, float]:
    """Average bits toggling per block on the operand and product buses (all lanes, a and b).

    Same random HBFP4 mantissa stream, fed as (a) sign-extended operands to the wide datapath
    and (b) MSB-aligned operands as in narrow mode; plus a genuine HBFP6 stream for reference.
    Bus widths: operands m+1 bits, products 2m+2 bits (two's complement).
    """
    rng = np.random.default_rng(seed)
    nt, wt = (1 << NARROW) - 1, (1 << MANT) - 1
    a4 = rng.integers(-nt, nt + 1, (n_blocks, LANES))
    b4 = rng.integers(-nt, nt + 1, (n_blocks, LANES))
    a6 = rng.integers(-wt, wt + 1, (n_blocks, LANES))
    b6 = rng.integers(-wt, wt + 1, (n_blocks, LANES))
    wo, wp = MANT + 1, 2 * MANT + 2
    mo, mp = (1 << wo) - 1, (1 << wp) - 1

    def toggles(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
        ops = np.concatenate([a, b], axis=1) & mo
        prods = (a * b) & mp
        t_ops = _popcount((ops[1:] ^ ops[:-1]).astype(np.uint64)).sum(axis=1).mean()
        t_prd = _popcount((prods[1:] ^ prods[:-1]).astype(np.uint64)).sum(axis=1).mean()
        return float(t_ops), float(t_prd)

    sh = MANT - NARROW
    res = {}
    res["wide_hbfp6_ops"], res["wide_hbfp6_prods"] = toggles(a6, b6)
    res["hbfp4_signext_ops"], res["hbfp4_signext_prods"] = toggles(a4, b4)
    res["hbfp4_msb_ops"], res["hbfp4_msb_prods"] = toggles(a4 << sh, b4 << sh)
    return res


def main() -> None:
    n_blocks = int(os.environ.get("SQGEN_BENCH_BLOCKS", "20000"))
    print(f"dot unit: {LANES} lanes, m={MANT} (hbfp6) with n={NARROW} (hbfp4) narrow mode, "
          f"pipeline {PIPE}; {n_blocks} back-to-back random blocks per simulator, bulk-checked")
    for packed, what in ((True, "packed-bus harness (1 write + 1 read per clock)"),
                         (False, f"per-port driver (up to {2 * LANES + 4} writes, only changed "
                                "ports, + 3 reads per clock)")):
        print(f"{what}:")
        rates = {}
        for sim in ("icarus", "verilator"):
            r = _run_sim(sim, n_blocks, packed)
            rates[sim] = r["rate"]
            print(f"  {sim:9s}: {r['rate']:8.0f} block vectors/s  ({r['blocks']} blocks in "
                  f"{r['seconds']:.2f} s drive loop; build {r['build_s']:.1f} s, "
                  f"cocotb run {r['test_s']:.1f} s)", flush=True)
        print(f"  Verilator/Icarus throughput ratio: "
              f"{rates['verilator'] / rates['icarus']:.2f}x")
    t = toggle_model()
    print("switching-activity model, average toggling bits per block "
          f"({LANES} lanes, operand buses a+b / product buses):")
    print(f"  hbfp6 stream, wide mode           : {t['wide_hbfp6_ops']:6.1f} / "
          f"{t['wide_hbfp6_prods']:6.1f}")
    print(f"  hbfp4 stream, sign-extended (wide): {t['hbfp4_signext_ops']:6.1f} / "
          f"{t['hbfp4_signext_prods']:6.1f}")
    print(f"  hbfp4 stream, narrow mode (MSB)   : {t['hbfp4_msb_ops']:6.1f} / "
          f"{t['hbfp4_msb_prods']:6.1f}")


if __name__ == "__main__":
    main()
