"""cocotb testbench for the HBFP -> FP32 normalizer (``hw.normalize.HBFPToFP32``).

Same shape as ``tb_convert`` (whose :class:`~sim.tb_convert.StreamTB` it uses): configuration as
JSON in ``SQGEN_TB_CFG``, stimulus and expected values precomputed with
:func:`golden.arith_fp.normalize`, bulk check at the end.
"""

from __future__ import annotations

import numpy as np
import pytest

from gen.cmd_fp import generate_normalize
from gen.config import DesignConfig
from golden.arith_fp import normalize
from sim.common import cosim
from sim.tb_convert import (
    StreamTB,
    _params,
    bubbles,
    check_equal,
    tb_env,
)


def normalize_directed(aw: int, fb: int, ew: int) -> tuple[np.ndarray, np.ndarray]:
    """Corner (acc, exp) pairs: zero, extremes, rounding ties/carry, exponent range edges."""
    amin, amax = -(1 << (aw - 1)), (1 << (aw - 1)) - 1
    emin, emax = -(1 << (ew - 1)), (1 << (ew - 1)) - 1
    accs = [0, 0, 0, 1, -1, amax, amin, amin + 1, 2, -2, 3]
    exps = [emin, 0, emax, 0, 0, 0, 0, 0, emax, emin, fb - 127]
    # rounding: carry (2^25 - 1 -> 2^25), ties to even both ways, just above/below half
    for a in ((1 << 25) - 1, (1 << 25) + 2, (1 << 25) + 6, (1 << 25) + 1, (1 << 25) + 3,
              (1 << 24) + 1, (1 << 40) - 1, (3 << 38) + (1 << 14)):
        if a <= amax:
            accs += [a, -a]
            exps += [0, 0]
    # biased exponent exactly 0, 1, 254, 255 (before rounding) for acc = 1 and for amax
    for a in (1, amax, amin):
        p = abs(a).bit_length() - 1
        for biased in (-1, 0, 1, 2, 253, 254, 255, 256):
            e = biased - p + fb - 127
            if emin <= e <= emax:
                accs.append(a)
                exps.append(e)
    a, e = np.array(accs, dtype=np.int64), np.array(exps, dtype=np.int64)
    ok = (a >= amin) & (a <= amax) & (e >= emin) & (e <= emax)  # tiny configs drop some
    return a[ok], e[ok]


def normalize_random(aw: int, fb: int, ew: int, n: int, rng: np.random.Generator):
    """Random accumulators of random bit length and sign; exponents mostly near the FP32 range."""
    nbits = rng.integers(0, aw, n)  # magnitude bits below the sign
    raw = rng.integers(0, 1 << 64, n, dtype=np.uint64)
    mag = (raw & ((np.uint64(1) << nbits.astype(np.uint64)) - np.uint64(1))).astype(np.int64)
    acc = np.where(rng.random(n) < 0.5, -mag, mag)
    if aw == 64:
        acc[rng.random(n) < 0.01] = np.iinfo(np.int64).min
    emin, emax = -(1 << (ew - 1)), (1 << (ew - 1)) - 1
    p = np.maximum(nbits - 1, 0)
    near = rng.integers(-40, 300, n) - p + fb - 127  # biased exponent in [-40, 300)
    full = rng.integers(emin, emax + 1, n)
    exp = np.clip(np.where(rng.random(n) < 0.3, full, near), emin, emax)
    return acc.astype(np.int64), exp.astype(np.int64)


async def _normalize_run(dut) -> None:

    cfg = tb_env()
    aw, fb, ew = cfg["acc_width"], cfg["frac_bits"], cfg["exp_width"]
    rng = np.random.default_rng(cfg["seed"])
    da, de = normalize_directed(aw, fb, ew)
    ra, re_ = normalize_random(aw, fb, ew, cfg["n_random"], rng)
    acc, exp = np.concatenate([da, ra]), np.concatenate([de, re_])
    want = normalize(acc, exp, fb).astype(np.int64)
    valid = bubbles(rng, len(acc))
    # Port values as unsigned Python ints (two's complement at the port width).
    ua = acc.view(np.uint64) & np.uint64((1 << aw) - 1 if aw < 64 else 0xFFFFFFFFFFFFFFFF)
    ue = exp.view(np.uint64) & np.uint64((1 << ew) - 1)
    it = iter(zip(ua.tolist(), ue.tolist(), strict=True))
    rows = [list(next(it)) if v else [0, 0] for v in valid]
    tb = StreamTB(dut, ["in_acc", "in_exp"], ["out_f32"], rows, valid, cfg["latency"])
    await tb.reset()
    await tb.run()
    tb.check_timing()
    got = tb.outputs([(32, False)])
    check_equal(got, want[:, None], np.stack([acc, exp], axis=1), cfg["seed"],
                f"normalize acc_width={aw} frac_bits={fb}", fmt=int)
    dut._log.info(f"{len(acc)} values ({len(da)} directed) OK, "
                  f"{len(acc) / max(tb.elapsed, 1e-9):.0f} values/s")


try:
    import cocotb

    @cocotb.test()
    async def cocotb_normalize_stream(dut):
        """Directed corners then seeded random values with bubbles, bit-exact vs golden."""
        await _normalize_run(dut)
except ImportError:  # pragma: no cover
    pass


#: (id, acc_width, frac_bits, exp_width, pipeline, seed, n_random). The widths are those of
#: dot units: hbfp8 block 64 (default headroom), m=2 block 12, m=15 block 16.
COSIM_CONFIGS = [
    ("a30_f14_p1", 30, 14, 10, 1, 31, 2500),
    ("a18_f4_p2", 18, 4, 10, 2, 32, 2500),
    ("a44_f30_p2", 44, 30, 10, 2, 33, 2500),
]

SLOW_CONFIGS = [
    ("a64_f30_e12_p3", 64, 30, 12, 3, 41, 20000),
    ("a2_f0_e4_p1", 2, 0, 4, 1, 42, 2000),
    ("a25_f10_p1", 25, 10, 10, 1, 43, 20000),
]


def tb_config(cid, aw, fb, ew, pipe, seed, n_random):

    design = generate_normalize(DesignConfig(pipeline=pipe, name="sqgen_normalize"),
                                acc_width=aw, frac_bits=fb, exp_width=ew)
    tb_cfg = {"acc_width": aw, "frac_bits": fb, "exp_width": ew,
              "latency": design.manifest["latency"], "seed": seed, "n_random": n_random}
    return design, tb_cfg


def _run(sim, c):

    design, tb_cfg = tb_config(*c)
    cosim(design, sim=sim, block="normalize", cid=c[0], tb_cfg=tb_cfg,
          test_module="sim.tb_normalize", testcase="cocotb_normalize_stream")


@pytest.mark.parametrize("sim,cfg", _params(COSIM_CONFIGS))
def test_normalize_cosim(sim, cfg):
    _run(sim, cfg)


@pytest.mark.slow
@pytest.mark.parametrize("sim,cfg", _params(SLOW_CONFIGS))
def test_normalize_cosim_long(sim, cfg):
    _run(sim, cfg)
