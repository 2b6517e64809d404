"""Effective dense MACs per cycle: sparse N:M dot unit vs a dense unit with as many multipliers.

Measured, not computed: both RTL units run a stream of HBFP blocks in the Amaranth simulator,
back to back (``i.valid`` every cycle), and the bench counts clock cycles from the first input
beat to the last ``o.valid`` plus the dense MACs the stream represents. Every result is also
checked bit-exactly against the golden twin, so the figure is for a working unit.

* Sparse unit: ``SparseHBFPDot`` with ``L = N*K/M`` multipliers takes a whole N:M-pruned
  ``K``-element block (compressed) per beat: ``K`` dense MACs per beat.
* Dense unit: ``HBFPDot(lanes=L)`` with the same ``L`` multipliers must see every position of the
  pruned block, zeros included, so a ``K``-block takes ``ceil(K/L)`` beats (zero-padded; the
  sub-beats share the block's exponents and accumulate).

Effective dense MACs/cycle = ``blocks * K / cycles``; the sparse/dense ratio approaches
``M/N`` (exactly ``ceil(K/L)``) as the stream grows past the pipeline latency.

The bench also synthesizes both units with the Yosys area flow (:mod:`flow.area`, generic
library, gate equivalents) and reports dense MACs per cycle per 1000 GE; a synthesis failure
fails the bench.
Environment: ``SQGEN_BENCH_SPARSE_BLOCKS`` (default 256) blocks per configuration.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np

from flow import area
from gen.config import DesignConfig
from gen.targets import generate
from golden.arith_dot import dot_blocks
from golden.facts import default_acc_width
from golden.formats import hbfp_encode
from golden.nm_hw import dense_dot_expected, pack_meta
from golden.sparsity import nm_compress, nm_prune
from hw.dot import HBFPDot
from hw.sparsedot import SparseHBFPDot

#: (N, M, K dense block, mantissa bits)
CONFIGS = [(2, 4, 16, 5), (1, 4, 16, 5), (2, 8, 16, 5), (4, 8, 16, 5), (3, 7, 14, 5),
           (2, 4, 64, 7)]
SEED = 4242


def _stim(n: int, m: int, k: int, mb: int, blocks: int, seed: int):

    rng = np.random.default_rng(seed)
    scale = np.exp2(rng.integers(-4, 5, size=(blocks, 1))).astype(np.float32)
    w = nm_prune(rng.standard_normal((blocks, k)).astype(np.float32) * scale, n, m)
    a = rng.standard_normal((blocks, k)).astype(np.float32)
    we, wq = hbfp_encode(w, mb, k)
    ae, aq = hbfp_encode(a, mb, k)
    vals, idx = nm_compress(np.asarray(wq), n, m)
    first = rng.random(blocks) < 0.25
    first[0] = True
    return (np.asarray(we).reshape(-1).astype(np.int64), np.asarray(wq).astype(np.int64),
            np.asarray(vals).astype(np.int64), np.asarray(idx),
            np.asarray(ae).reshape(-1).astype(np.int64), np.asarray(aq).astype(np.int64), first)


def _at(dut, path: str):
    """The port (or payload field) ``dut.<path>``, e.g. ``"i.payload.a.exp"``."""
    obj = dut
    for name in path.split("."):
        obj = getattr(obj, name)
    return obj


def _run(dut, beats: list[dict], arrays: dict[str, list[list[int]]]) -> tuple[int, list]:
    """Drive one beat per cycle; return (cycles first input -> last output, outputs).

    ``beats`` and ``arrays`` name ports and payload fields by dotted path (``"i.valid"``,
    ``"i.payload.a.mant"``)."""
    from amaranth.sim import Simulator

    outs: list[tuple[int, int]] = []
    last_out = [0]

    async def tb(ctx):
        t = 0
        for i, beat in enumerate(beats):
            for name, v in beat.items():
                ctx.set(_at(dut, name), v)
            for name, rows in arrays.items():
                port = _at(dut, name)
                for j, v in enumerate(rows[i]):
                    ctx.set(port[j], v)
            await ctx.tick()
            t += 1
            if ctx.get(dut.o.valid):
                outs.append((ctx.get(dut.o.payload.acc), ctx.get(dut.o.payload.exp)))
                last_out[0] = t
        ctx.set(dut.i.valid, 0)
        for _ in range(dut.latency + 1):
            await ctx.tick()
            t += 1
            if ctx.get(dut.o.valid):
                outs.append((ctx.get(dut.o.payload.acc), ctx.get(dut.o.payload.exp)))
                last_out[0] = t

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    # Input beat 0 is sampled at edge 1; the last result appears after edge last_out[0].
    return last_out[0], outs


def measure(n: int, m: int, k: int, mb: int, blocks: int, seed: int = SEED) -> dict:
    """Run both units on the same pruned stream; return cycles, MACs/cycle, check status."""

    we, wq, vals, idx, ae, aq, first = _stim(n, m, k, mb, blocks, seed)
    lanes = n * k // m
    acc = default_acc_width(mb, k)

    # --- sparse unit: one compressed block per beat
    sp = SparseHBFPDot(n=n, m=m, block=k, mant_bits=mb, acc_width=acc)
    meta = pack_meta(idx, n, m).tolist()
    beats = [{"i.valid": 1, "i.payload.first": int(first[b]), "i.payload.a.exp": int(we[b]),
              "i.payload.b.exp": int(ae[b])} for b in range(blocks)]
    t0 = time.perf_counter()
    sp_cycles, sp_out = _run(sp, beats, {"i.payload.a.mant": vals.tolist(),
                                         "i.payload.idx": meta,
                                         "i.payload.b.mant": aq.tolist()})
    sp_wall = time.perf_counter() - t0
    e_acc, e_exp = dense_dot_expected(we, vals, idx, ae, aq, first, n=n, m=m, mant_bits=mb,
                                      acc_width=acc)
    sp_ok = [tuple(o) for o in sp_out] == list(zip(e_acc.tolist(), e_exp.tolist(), strict=True))

    # --- dense unit with the same multiplier count: ceil(K/L) beats per block
    sub = math.ceil(k / lanes)
    pad = sub * lanes - k
    wd = np.pad(wq, ((0, 0), (0, pad))).reshape(blocks * sub, lanes)
    ad = np.pad(aq, ((0, 0), (0, pad))).reshape(blocks * sub, lanes)
    fd = np.zeros(blocks * sub, dtype=bool)
    fd[::sub] = first
    we_d, ae_d = np.repeat(we, sub), np.repeat(ae, sub)
    dn = HBFPDot(lanes=lanes, mant_bits=mb, acc_width=acc)
    dbeats = [{"i.valid": 1, "i.payload.first": int(fd[b]), "i.payload.a.exp": int(we_d[b]),
               "i.payload.b.exp": int(ae_d[b])} for b in range(blocks * sub)]
    dn_cycles, dn_out = _run(dn, dbeats, {"i.payload.a.mant": wd.tolist(),
                                          "i.payload.b.mant": ad.tolist()})
    d_acc, d_exp = dot_blocks(we_d, wd, ae_d, ad, fd, mant_bits=mb, acc_width=acc)
    dn_ok = [tuple(o) for o in dn_out] == list(zip(d_acc.tolist(), d_exp.tolist(), strict=True))

    macs = blocks * k
    nonzero = int(np.count_nonzero(wq))
    return {
        "nm": f"{n}:{m}", "block": k, "multipliers": lanes, "blocks": blocks, "dense_macs": macs,
        "nonzero_macs": nonzero,
        "sparse_cycles": sp_cycles, "sparse_macs_per_cycle": macs / sp_cycles,
        "sparse_latency": sp.latency,
        "dense_cycles": dn_cycles, "dense_macs_per_cycle": macs / dn_cycles,
        "dense_beats_per_block": sub,
        "speedup": dn_cycles / sp_cycles, "ideal": k / lanes,
        "checked": sp_ok and dn_ok, "sim_seconds": sp_wall,
    }


def area_ge(n: int, m: int, k: int, mb: int) -> tuple[float, float]:
    """(sparse unit GE, dense same-multiplier unit GE) from the Yosys flow."""
    fmt = {7: "hbfp8", 5: "hbfp6", 3: "hbfp4"}[mb]
    acc = default_acc_width(mb, k)
    sp = generate("sparsedot", DesignConfig(sparsity=f"{n}:{m}", block_size=k, format=fmt,
                                            acc_width=acc))
    dn = generate("dot", DesignConfig(block_size=n * k // m, format=fmt, acc_width=acc))
    kw = {"cache_dir": area.DEFAULT_CACHE}
    return area.area_of_design(sp, **kw).ge, area.area_of_design(dn, **kw).ge


def main() -> None:
    blocks = int(os.environ.get("SQGEN_BENCH_SPARSE_BLOCKS", "256"))
    print(f"N:M sparse HBFP dot unit vs dense unit with the same multiplier count "
          f"({blocks} blocks back to back, Amaranth simulator, results checked vs golden)")
    hdr = (f"{'N:M':>5} {'K':>3} {'mults':>5} | {'sparse cyc':>10} {'dense MAC/cyc':>13} | "
           f"{'dense cyc':>9} {'dense MAC/cyc':>13} | {'speedup':>7} {'M/N':>5} {'exact':>5}")
    print(hdr)
    print("-" * len(hdr))
    bad = []
    for n, m, k, mb in CONFIGS:
        r = measure(n, m, k, mb, blocks)
        print(f"{r['nm']:>5} {k:>3} {r['multipliers']:>5} | {r['sparse_cycles']:>10} "
              f"{r['sparse_macs_per_cycle']:>13.2f} | {r['dense_cycles']:>9} "
              f"{r['dense_macs_per_cycle']:>13.2f} | {r['speedup']:>6.2f}x {m / n:>5.2f} "
              f"{'yes' if r['checked'] else 'NO':>5}")
        if not r["checked"]:
            bad.append(r["nm"])
    print("MAC/cyc counts dense MACs (pruned zeros included) over cycles from the first input "
          "beat to the last result; the dense unit needs ceil(K/mults) beats per block.")
    print("\nArea (Yosys, generic library, hierarchical; both units with the same accumulator):")
    print(f"{'N:M':>5} {'K':>3} {'mults':>5} | {'sparse GE':>9} {'MAC/cyc/kGE':>11} | "
          f"{'dense GE':>9} {'MAC/cyc/kGE':>11} | {'sparse/dense area':>17}")
    for n, m, k, mb in CONFIGS:
        ge = area_ge(n, m, k, mb)
        lanes = n * k // m
        dense_rate = k / math.ceil(k / lanes)
        print(f"{f'{n}:{m}':>5} {k:>3} {lanes:>5} | {ge[0]:>9.0f} {1000 * k / ge[0]:>11.2f} | "
              f"{ge[1]:>9.0f} {1000 * dense_rate / ge[1]:>11.2f} | {ge[0] / ge[1]:>16.2f}x")
    if bad:
        raise RuntimeError(f"bench results disagree with golden for {', '.join(bad)}")


if __name__ == "__main__":
    main()
