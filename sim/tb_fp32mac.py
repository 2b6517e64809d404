"""cocotb testbench for the FP32 multiply-accumulate baseline (``hw.fp32mac.FP32MAC``).

Same shape as ``tb_convert`` (whose :class:`~sim.tb_convert.StreamTB` it uses). Expected values
come from :func:`golden.arith_fp.fp32_mac_sequence`. Cancellation vectors depend on the running
sum, so the stimulus generator walks the stream once with the golden step functions to aim
``b`` at ``-acc``; the checker then recomputes the whole expected sequence independently.
"""

from __future__ import annotations

import numpy as np
import pytest

from gen.cmd_fp import generate_fp32mac
from gen.config import DesignConfig
from golden.arith_fp import bits_f32, f32_bits, fp32_add_ftz, fp32_mac_sequence, fp32_mul_ftz
from sim.common import cosim
from sim.tb_convert import (
    StreamTB,
    _params,
    bubbles,
    check_equal,
    random_f32,
    tb_env,
)

ONE = 0x3F800000


def mac_directed() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Corner (a, b, first) triples, run back to back."""
    seq: list[tuple[int, int, int]] = []

    def add(a, b, first=0):
        seq.append((a & 0xFFFFFFFF, b & 0xFFFFFFFF, first))

    add(0, 0, 1)                      # +0 * +0 = +0
    add(0x80000000, 0, 1)             # -0 product starts a sum: acc = -0
    add(0x80000000, 0x3F800000)       # -0 + -0 = -0
    add(0, 0x3F800000)                # -0 + +0 = +0
    add(ONE, ONE, 1)                  # 1
    add(ONE, 0x33800000)              # 1 + 2^-24: tie, stays 1 (even)
    add(0x3F800001, ONE, 1)           # 1 + 2^-23
    add(ONE, 0x33800000)              # tie, rounds up to 1 + 2^-22 (even)
    add(0x3F800800, 0x3F800800, 1)    # (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24: product tie
    add(0x3FFFFFFF, 0x3FFFFFFF, 1)    # (2 - 2^-23)^2: product rounds with carry
    add(ONE, 0xBF800000, 1)           # -1
    add(ONE, ONE)                     # -1 + 1 = +0 (exact cancellation)
    add(0x7F7FFFFF, 0x7F7FFFFF, 1)    # overflow -> +Inf
    add(ONE, 0xFF800000)              # +Inf + -Inf = NaN
    add(ONE, ONE)                     # NaN sticks
    add(0x7F800000, 0, 1)             # Inf * 0 = NaN
    add(0x7FC00001, ONE, 1)           # NaN operand
    add(0xFF800000, 0x40000000, 1)    # -Inf
    add(ONE, ONE)                     # -Inf + 1 = -Inf
    add(0x00400000, 0x7F000000, 1)    # subnormal input flushed: 0 * big = +0
    add(0x80000001, 0x3F800000, 1)    # -subnormal -> -0
    add(0x1F800000, 0x1F800000, 1)    # 2^-64 * 2^-64 = 2^-128: flushed to +0
    add(0x20000000, 0x1F800000, 1)    # 2^-63 * 2^-64 = 2^-127 -> 0
    add(0x20000000, 0x20000000, 1)    # 2^-126: smallest normal, kept
    add(0x20000000, 0xA0000000)       # 2^-126 - 2^-126 = +0
    add(0x00800000, ONE, 1)           # 2^-126
    add(0x00800001, 0xBF800000)       # 2^-126 - (2^-126 + 2^-149) = -2^-149: flushed, -0
    add(0x7F000000, 0x40000000, 1)    # 2^127 * 2 = 2^128: overflow
    add(0x7F7FFFFF, ONE, 1)           # max finite
    add(0x73800000, ONE)              # max + 2^104 (one ulp) -> +Inf
    add(0x7F7FFFFF, ONE, 1)
    add(0x73000000, ONE)              # max + half an ulp: tie, odd mantissa rounds up -> +Inf
    add(0x7F7FFFFE, ONE, 1)
    add(0x73000000, ONE)              # tie with even mantissa: stays
    add(0x7F7FFFFF, ONE, 1)
    add(0x7F7FFFFF, ONE)              # max + max -> +Inf
    add(0x4B800000, ONE, 1)           # 2^24
    add(ONE, ONE)                     # 2^24 + 1: tie -> 2^24
    add(0x4B800001, ONE, 1)           # 2^24 + 2
    add(ONE, ONE)                     # + 1: tie -> 2^24 + 4
    a = np.array([s[0] for s in seq], dtype=np.uint32)
    b = np.array([s[1] for s in seq], dtype=np.uint32)
    f = np.array([s[2] for s in seq], dtype=bool)
    return a, b, f


def mac_random(n: int, rng: np.random.Generator, profile: str):
    """Random (a, b, first) with aimed cancellations; ``profile`` "mixed" or "edges"."""

    if profile == "edges":
        # exponent sums near underflow (ea + eb ~ 127 - 126) and overflow (~ 127 + 254)
        ea = rng.integers(1, 255, n)
        tgt = np.where(rng.random(n) < 0.5, rng.integers(124, 131, n), rng.integers(377, 384, n))
        eb = np.clip(tgt - ea, 1, 254)
        sign = rng.integers(0, 2, (2, n), dtype=np.uint32) << np.uint32(31)
        fr = rng.integers(0, 1 << 23, (2, n), dtype=np.uint32)
        a = sign[0] | (ea.astype(np.uint32) << np.uint32(23)) | fr[0]
        b = sign[1] | (eb.astype(np.uint32) << np.uint32(23)) | fr[1]
        sp = rng.random(n) < 0.05
        a[sp] = random_f32(rng, int(sp.sum()), lo=0, hi=255)
    else:
        a = random_f32(rng, n, lo=110, hi=144)
        b = random_f32(rng, n, lo=110, hi=144)
        wide = rng.random(n) < 0.1
        a[wide] = random_f32(rng, int(wide.sum()), lo=0, hi=255)
    first = rng.random(n) < 0.08
    first[0] = True
    aim = (rng.random(n) < 0.12) & ~first
    delta = rng.integers(-3, 4, n)
    # Walk the stream to aim some products at -acc (massive cancellation, d <= 1 alignments).
    acc = np.uint32(0)
    for i in range(n):
        if aim[i] and (acc & 0x7F800000) not in (0, 0x7F800000):
            target = (int(acc) ^ 0x80000000) + int(delta[i])
            a[i], b[i] = ONE, np.uint32(target & 0xFFFFFFFF)
            if rng.random() < 0.3:  # a power of two other than 1 shifts the exponents
                a[i] = 0x40000000
                b[i] = f32_bits(bits_f32(np.array([b[i]], dtype=np.uint32)) * np.float32(0.5))[0]
        p = fp32_mul_ftz(a[i:i + 1], b[i:i + 1])
        acc = p[0] if first[i] else fp32_add_ftz(p, np.array([acc], dtype=np.uint32))[0]
    return a, b, first


async def _mac_run(dut) -> None:

    cfg = tb_env()
    rng = np.random.default_rng(cfg["seed"])
    da, db, df = mac_directed()
    ra, rb, rf = mac_random(cfg["n_random"], rng, cfg["profile"])
    a, b, f = np.concatenate([da, ra]), np.concatenate([db, rb]), np.concatenate([df, rf])
    want = fp32_mac_sequence(a, b, f).astype(np.int64)
    valid = bubbles(rng, len(a))
    rows = np.zeros((len(valid), 3), dtype=np.int64)
    rows[valid] = np.stack([a, b, f], axis=1)
    junk = ~valid  # junk under in_valid = 0 must not touch the accumulator
    rows[junk, 0] = random_f32(rng, int(junk.sum()))
    rows[junk, 1] = random_f32(rng, int(junk.sum()))
    rows[junk, 2] = rng.integers(0, 2, int(junk.sum()))
    tb = StreamTB(dut, ["in_a", "in_b", "in_first"], ["out_acc"], rows, valid, cfg["latency"])
    await tb.reset()
    await tb.run()
    tb.check_timing()
    got = tb.outputs([(32, False)])
    check_equal(got, want[:, None], np.stack([a, b, f], axis=1), cfg["seed"],
                f"fp32mac pipeline={cfg['latency']} ({cfg['profile']})")
    dut._log.info(f"{len(a)} multiply-adds ({len(da)} directed) OK, "
                  f"{len(a) / max(tb.elapsed, 1e-9):.0f} ops/s")


try:
    import cocotb

    @cocotb.test()
    async def cocotb_fp32mac_stream(dut):
        """Directed corners then seeded random multiply-adds with bubbles, bit-exact vs golden."""
        await _mac_run(dut)
except ImportError:  # pragma: no cover
    pass


#: (id, pipeline, profile, seed, n_random)
COSIM_CONFIGS = [
    ("p1_mixed", 1, "mixed", 51, 2500),
    ("p2_mixed", 2, "mixed", 52, 2500),
    ("p2_edges", 2, "edges", 53, 2500),
]

SLOW_CONFIGS = [
    ("p1_edges_long", 1, "edges", 61, 30000),
    ("p2_mixed_long", 2, "mixed", 62, 30000),
]


def tb_config(cid, pipe, profile, seed, n_random):

    design = generate_fp32mac(DesignConfig(pipeline=pipe, name="sqgen_fp32mac"))
    tb_cfg = {"latency": design.manifest["latency"], "profile": profile, "seed": seed,
              "n_random": n_random}
    return design, tb_cfg


def _run(sim, c):

    design, tb_cfg = tb_config(*c)
    cosim(design, sim=sim, block="fp32mac", cid=c[0], tb_cfg=tb_cfg, test_module="sim.tb_fp32mac",
          testcase="cocotb_fp32mac_stream")


@pytest.mark.parametrize("sim,cfg", _params(COSIM_CONFIGS))
def test_fp32mac_cosim(sim, cfg):
    _run(sim, cfg)


@pytest.mark.slow
@pytest.mark.parametrize("sim,cfg", _params(SLOW_CONFIGS))
def test_fp32mac_cosim_long(sim, cfg):
    _run(sim, cfg)
