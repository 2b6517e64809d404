"""cocotb testbench for the FP32 -> HBFP converter (``hw.convert.FP32ToHBFP``, generated Verilog).

Also home of :class:`StreamTB`, the driver/monitor/checker shared by the FP32-side benches
(``tb_normalize``, ``tb_fp32mac``): every block of issue 3 is a valid-qualified stream without
backpressure and a fixed latency, so one bench shape fits all three.

The cocotb side gets its configuration as JSON in ``SQGEN_TB_CFG``. Stimulus (directed corners,
then a seeded random stream with bubbles) and expected outputs are computed up front, vectorized,
with the golden twin (:func:`golden.arith_fp.convert_blocks`); the per-cycle loop only assigns
precomputed ints and records outputs, and the checker compares in bulk at the end.

Cycle convention: inputs are driven after a falling edge and sampled by the next rising edge;
outputs are sampled at the falling edge before each drive, so a sample ``latency`` iterations
after a drive belongs to it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pytest

from gen.cmd_fp import DEFAULT_SEED, generate_convert
from gen.config import DesignConfig
from golden.arith_fp import convert_blocks
from sim.common import cosim, simulators, tb_config_from_env

# ---------------------------------------------------------------------------------------------
# Shared stream bench


class StreamTB:
    """Driver, monitor and checker for a valid-qualified, fixed-latency stream DUT.

    Parameters
    ----------
    dut:
        cocotb handle of the top level (ports ``clk``, ``rst``, ``in_valid``, ``out_valid``).
    in_names, out_names:
        Verilog data port names, in the column order of ``rows`` and of the recorded outputs.
    rows:
        ``[T, len(in_names)]`` ints to drive, one row per cycle.
    valid:
        ``[T]`` bools: ``in_valid`` per cycle (rows with 0 carry junk the DUT must ignore).
    latency:
        Expected cycles from ``in_valid`` to ``out_valid``.
    """

    def __init__(self, dut, in_names: Sequence[str], out_names: Sequence[str],
                 rows: np.ndarray, valid: np.ndarray, latency: int):
        self.dut = dut
        self.h_in = [getattr(dut, n) for n in in_names]
        self.h_out = [getattr(dut, n) for n in out_names]
        # Python ints (a 64-bit unsigned port value does not fit int64).
        self.rows = rows.tolist() if isinstance(rows, np.ndarray) else [list(r) for r in rows]
        self.valid = [bool(v) for v in valid]
        self.latency = latency
        self.got: list[list[int]] = []
        self.got_cycle: list[int] = []
        self.elapsed = 0.0

    async def reset(self) -> None:
        from cocotb.clock import Clock
        from cocotb.triggers import FallingEdge

        dut = self.dut
        Clock(dut.clk, 10, unit="ns").start()
        dut.rst.value = 1
        dut.in_valid.value = 0
        for h in self.h_in:
            h.value = 0
        for _ in range(3):
            await FallingEdge(dut.clk)
        dut.rst.value = 0

    async def run(self) -> None:
        """Drive one row per cycle, then ``latency + 2`` idle cycles; record valid outputs."""
        from cocotb.triggers import FallingEdge

        dut = self.dut
        fe = FallingEdge(dut.clk)
        h_valid, o_valid, h_in, h_out = dut.in_valid, dut.out_valid, self.h_in, self.h_out
        got, got_cycle = self.got, self.got_cycle
        drain = self.latency + 2
        t0 = time.perf_counter()
        for t, (v, row) in enumerate(
            zip(self.valid + [False] * drain, self.rows + [None] * drain, strict=True)
        ):
            await fe
            if int(o_valid.value):
                got.append([int(h.value) for h in h_out])
                got_cycle.append(t)
            h_valid.value = int(v)
            if v:
                for h, x in zip(h_in, row, strict=True):
                    h.value = x
        self.elapsed = time.perf_counter() - t0

    def check_timing(self) -> None:
        """One output per valid input, each exactly ``latency`` cycles after it."""
        want = [t + self.latency for t, v in enumerate(self.valid) if v]
        assert len(self.got_cycle) == len(want), (
            f"{len(self.got_cycle)} outputs for {len(want)} valid inputs"
        )
        assert self.got_cycle == want, "out_valid not exactly `latency` cycles after in_valid"

    def outputs(self, widths_signed: Sequence[tuple[int, bool]]) -> np.ndarray:
        """Recorded outputs as int64 ``[n, len(out_names)]``, signed ports sign-extended."""
        a = np.array(self.got, dtype=np.int64).reshape(len(self.got), len(self.h_out))
        for j, (w, s) in enumerate(widths_signed):
            if s:
                a[:, j] = np.where(a[:, j] >= (1 << (w - 1)), a[:, j] - (1 << w), a[:, j])
        return a


def check_equal(got: np.ndarray, exp: np.ndarray, inputs: np.ndarray, seed: int, what: str,
                fmt=hex, show: int = 5) -> None:
    """Row-wise exact comparison with an ``N/M mismatches`` report naming inputs and seed."""
    got = np.asarray(got).reshape(len(exp), -1)
    exp = np.asarray(exp).reshape(len(exp), -1)
    bad = np.nonzero((got != exp).any(axis=1))[0]
    if len(bad):
        lines = [f"{what}: {len(bad)}/{len(exp)} mismatches (seed {seed})"]
        for i in bad[:show]:
            lines.append(
                f"  #{i}: in={[fmt(int(x)) for x in inputs[i]]} got={got[i].tolist()} "
                f"expected={exp[i].tolist()}"
            )
        raise AssertionError("\n".join(lines))


def tb_env() -> dict:
    return tb_config_from_env()



def bubbles(rng: np.random.Generator, n_valid: int, p_idle: float = 0.15) -> np.ndarray:
    """A valid pattern holding ``n_valid`` ones with random idle cycles between them."""
    gaps = rng.geometric(1 - p_idle, n_valid) - 1  # idle cycles before each valid one
    pos = np.cumsum(gaps + 1) - 1
    valid = np.zeros(int(pos[-1]) + 1 if n_valid else 0, dtype=bool)
    valid[pos] = True
    assert valid.sum() == n_valid
    return valid


def random_f32(rng: np.random.Generator, shape, *, lo: int = 1, hi: int = 254) -> np.ndarray:
    """Random FP32 bit patterns with exponent fields uniform in [lo, hi]."""
    sign = rng.integers(0, 2, shape, dtype=np.uint32) << np.uint32(31)
    ex = rng.integers(lo, hi + 1, shape).astype(np.uint32) << np.uint32(23)
    fr = rng.integers(0, 1 << 23, shape, dtype=np.uint32)
    return sign | ex | fr


# ---------------------------------------------------------------------------------------------
# Converter stimulus

POS_INF, NEG_INF, QNAN = 0x7F800000, 0xFF800000, 0x7FC00000


def convert_directed(k: int, m: int) -> np.ndarray:
    """Directed corner blocks, ``uint32 [n, k]``."""
    rng = np.random.default_rng(1234)
    blocks = []
    f32 = np.float32

    def add(vals) -> None:
        blocks.append(np.broadcast_to(np.asarray(vals, dtype=np.uint32), (k,)).copy())

    add(0)  # all +0: e = -125, mantissas 0
    add(0x80000000)  # all -0
    add(0x00000001)  # smallest subnormal everywhere
    add(0x007FFFFF)  # largest subnormal everywhere
    add(rng.integers(0, 1 << 23, k, dtype=np.uint32) | (np.uint32(1) << 31) * (np.arange(k) % 2))
    add(0x00800000)  # smallest normal: e = -125
    add(0x7F7FFFFF)  # largest finite: e = 128, saturates on round-up
    add(0xFF7FFFFF)
    add(0x3F7FFFFF)  # just below 1.0: rounds up to 2^m, saturates to 2^m - 1
    add(0xBF7FFFFF)  # same, negative
    add(0x3F800000)  # exact power of two
    for e in (-125, -3, 0, 9, 128):  # most-negative mantissas: -(2^m - 1) * 2^(e - m)
        add(f32(-((1 << m) - 1) * 2.0 ** (e - m)).view(np.uint32))
    # one huge lane among tiny ones (the tiny ones flush to 0 or +-1)
    b = random_f32(rng, k, lo=1, hi=40)
    b[k // 2] = 0x7E000000
    add(b)
    b = random_f32(rng, k, lo=100, hi=130)
    b[0] = 0xC2FF0000
    add(b)
    # exact ties at half an LSB: lane0 = 2^(E-1) fixes e = E; others (j + 1/2) * 2^(E - m)
    E = 3
    t = np.array([2.0 ** (E - 1)] + [((j % ((1 << m) - 1)) + 0.5) * 2.0 ** (E - m)
                                      for j in range(1, k)])
    t[1::2] *= -1
    add(t.astype(np.float32).view(np.uint32))
    # NaN / Inf policy
    for special in (POS_INF, NEG_INF, QNAN, 0xFFFFFFFF):
        b = random_f32(rng, k, lo=100, hi=140)
        b[rng.integers(0, k)] = special
        add(b)
    # exponent spread across the whole range within one block
    add(random_f32(rng, k, lo=0, hi=254))
    return np.stack(blocks)


def convert_random(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random blocks: per-block base exponent, per-lane spread, zeros, subnormals, NaN/Inf."""
    base = rng.integers(1, 255, (n, 1))
    spread = np.minimum(rng.geometric(0.15, (n, k)) - 1, 300)
    field = np.clip(base - spread, 0, 254).astype(np.uint32)
    sign = rng.integers(0, 2, (n, k), dtype=np.uint32)
    frac = rng.integers(0, 1 << 23, (n, k), dtype=np.uint32)
    bits = (sign << np.uint32(31)) | (field << np.uint32(23)) | frac
    zero = rng.random((n, k)) < 0.05
    bits[zero] &= np.uint32(0x80000000)
    special = rng.random(n) < 0.01
    lane = rng.integers(0, k, n)
    sp = np.array([POS_INF, NEG_INF, QNAN, 0x7F800001], dtype=np.uint32)
    bits[special, lane[special]] = sp[rng.integers(0, 4, special.sum())]
    return bits


# ---------------------------------------------------------------------------------------------
# cocotb side


def _convert_stim(cfg: dict):
    k, m = cfg["block_size"], cfg["mant_bits"]
    rng = np.random.default_rng(cfg["seed"])
    blocks = np.concatenate([convert_directed(k, m), convert_random(k, cfg["n_random"], rng)])
    valid = bubbles(rng, len(blocks))
    rows = np.zeros((len(valid), k), dtype=np.int64)
    rows[valid] = blocks
    rows[~valid] = random_f32(rng, (int((~valid).sum()), k))  # junk under in_valid = 0
    return blocks, rows, valid


async def _convert_run(dut) -> None:

    cfg = tb_env()
    k, m = cfg["block_size"], cfg["mant_bits"]
    blocks, rows, valid = _convert_stim(cfg)
    e, q, inv = convert_blocks(blocks, m, stochastic=cfg["stochastic"],
                               offset_bits=cfg["offset_bits"], seed=cfg["lfsr_seed"])
    outs = ["out_exp", "out_invalid"] + [f"out_mant__{i}" for i in range(k)]
    tb = StreamTB(dut, [f"in_x__{i}" for i in range(k)], outs, rows, valid, cfg["latency"])
    await tb.reset()
    await tb.run()
    tb.check_timing()
    got = tb.outputs([(9, True), (1, False)] + [(m + 1, True)] * k)
    exp = np.concatenate([e[:, None], inv[:, None], q], axis=1).astype(np.int64)
    check_equal(got, exp, blocks, cfg["seed"], f"convert k={k} m={m}")
    dut._log.info(f"{len(blocks)} blocks ({len(convert_directed(k, m))} directed) OK, "
                  f"{len(blocks) / max(tb.elapsed, 1e-9):.0f} blocks/s")


try:
    import cocotb

    @cocotb.test()
    async def cocotb_convert_stream(dut):
        """Directed corners then seeded random blocks with bubbles, bit-exact vs golden."""
        await _convert_run(dut)
except ImportError:  # pragma: no cover - cocotb is a project dependency
    pass


# ---------------------------------------------------------------------------------------------
# pytest runner

#: (id, block_size, mant_bits, pipeline, stochastic, offset_bits, seed, n_random)
COSIM_CONFIGS = [
    ("k12_m2_p1", 12, 2, 1, False, 8, 11, 2000),
    ("k16_m15_p2", 16, 15, 2, False, 8, 12, 2000),
    ("k8_m5_p2_sr", 8, 5, 2, True, 8, 13, 2000),
]


def tb_config(cid, k, m, pipe, stoch, ob, seed, n_random):

    cfg = DesignConfig(rows=k, block_size=k, pipeline=pipe,
                       rounding="stochastic" if stoch else "nearest_even", name="sqgen_convert")
    design = generate_convert(cfg, mant_bits=m, offset_bits=ob)
    tb_cfg = {"block_size": k, "mant_bits": m, "latency": design.manifest["latency"],
              "stochastic": stoch, "offset_bits": ob, "lfsr_seed": DEFAULT_SEED, "seed": seed,
              "n_random": n_random}
    return design, tb_cfg


def _params(configs):

    return [pytest.param(sim, c, marks=pytest.mark.sim, id=f"{sim}-{c[0]}")
            for c in configs for sim in simulators()]


def _run(sim, c):

    design, tb_cfg = tb_config(*c)
    cosim(design, sim=sim, block="convert", cid=c[0], tb_cfg=tb_cfg, test_module="sim.tb_convert",
          testcase="cocotb_convert_stream")


@pytest.mark.parametrize("sim,cfg", _params(COSIM_CONFIGS))
def test_convert_cosim(sim, cfg):
    _run(sim, cfg)


SLOW_CONFIGS = [
    ("k64_m7_p1", 64, 7, 1, False, 8, 21, 6000),
    ("k3_m3_p3_sr16", 3, 3, 3, True, 16, 22, 20000),
    ("k24_m15_p1_sr32", 24, 15, 1, True, 32, 23, 4000),
]


@pytest.mark.slow
@pytest.mark.parametrize("sim,cfg", _params(SLOW_CONFIGS))
def test_convert_cosim_long(sim, cfg):
    _run(sim, cfg)
