"""cocotb testbench for the HBFP dot-product unit (``hw.dot.HBFPDot``, generated Verilog).

The cocotb side gets its configuration as JSON in ``SQGEN_TB_CFG`` (lanes, mant_bits,
narrow_mant_bits, acc_width, latency, seed, n_random). Stimulus (directed corners followed by a
random stream with bubbles) and the expected outputs are computed up front, vectorized, with
:func:`make_stim` and :func:`golden.arith_dot.dot_blocks`; the per-cycle loop only assigns
precomputed ints and records outputs. The checker compares everything in bulk at the end.

Cycle convention: inputs are driven after a falling edge and sampled by the next rising edge;
outputs are sampled at each falling edge, so the output sample ``latency`` iterations after a
drive belongs to that drive.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
import pytest

from gen.cmd_datapath import build_dot
from golden.arith_dot import dot_blocks
from golden.facts import EXP_WIDTH, MAX_BLOCK_EXP, PROD_EXP_WIDTH, ZERO_BLOCK_EXP, default_acc_width
from sim.common import cosim, simulators, tb_config_from_env

EXP_MIN, EXP_MAX = ZERO_BLOCK_EXP, MAX_BLOCK_EXP  # HBFP shared-exponent range


@dataclass
class DotStim:
    """Per-cycle stimulus. Rows where ``valid`` is 0 carry junk that the DUT must ignore."""

    valid: np.ndarray  # (T,) bool
    first: np.ndarray  # (T,) bool
    mode: np.ndarray  # (T,) bool (all False without a narrow mode)
    a_exp: np.ndarray  # (T,) int
    b_exp: np.ndarray
    a: np.ndarray  # (T, lanes) int, as driven on the ports
    b: np.ndarray
    n_directed: int  # the first n_directed valid blocks are the directed corners

    def expected(self, *, mant_bits: int, acc_width: int, narrow_mant_bits: int | None):
        """Golden ``(out_acc, out_exp)`` for the valid blocks, in order."""
        v = self.valid
        return dot_blocks(self.a_exp[v], self.a[v], self.b_exp[v], self.b[v], self.first[v],
                          self.mode[v] if narrow_mant_bits is not None else None,
                          mant_bits=mant_bits, acc_width=acc_width,
                          narrow_mant_bits=narrow_mant_bits)


def _directed(lanes: int, mb: int, n: int | None, aw: int, rng: np.random.Generator) -> list:
    """Corner blocks as (first, mode, ea, eb, a[], b[]) tuples, all back to back."""
    top = (1 << mb) - 1
    blocks: list = []

    def add(first, ea, eb, a, b, mode=0):
        a = np.broadcast_to(np.asarray(a, dtype=np.int64), (lanes,)).copy()
        b = np.broadcast_to(np.asarray(b, dtype=np.int64), (lanes,)).copy()
        blocks.append((int(first), int(mode), int(ea), int(eb), a, b))

    def rnd(lim=top):
        return rng.integers(-lim, lim + 1, lanes)

    # Stream starts without in_first: the reset state (acc 0, exp -512) must act as a restart.
    add(0, 3, -2, rnd(), rnd())
    add(0, 1, 1, rnd(), rnd())
    # All-zero blocks (the encoder's e = -125), alone and accumulated.
    add(1, EXP_MIN, EXP_MIN, 0, 0)
    add(0, EXP_MIN, EXP_MIN, 0, 0)
    add(0, 5, 7, 0, 0)
    # One huge lane among small ones.
    a = np.zeros(lanes, dtype=np.int64)
    a[rng.integers(lanes)] = top
    add(1, EXP_MAX, EXP_MAX, a, top)
    add(0, EXP_MAX, EXP_MAX, rnd(1), rnd(1))
    # Exponent extremes: +506 and -506 differences shift a side out completely.
    add(1, EXP_MIN, EXP_MIN, rnd(), rnd())
    add(0, EXP_MAX, EXP_MAX, rnd(), rnd())
    add(0, EXP_MIN, EXP_MIN, top, top)
    add(0, EXP_MIN, EXP_MAX, -top, top)
    add(0, EXP_MAX, EXP_MIN, rnd(), rnd())
    # Alignment distances around the shifter clamp (acc_width): d = W-1, W, W+1, both ways.
    for d in (aw - 1, aw, aw + 1, 1, 0):
        add(1, 0, 0, rnd(), rnd())
        add(0, min(d, EXP_MAX), d - min(d, EXP_MAX), rnd(), rnd())
        add(1, 0, 0, -top, top)
        add(0, -min(d, 125), -(d - min(d, 125)), rnd(), rnd())
    # Most-negative port values (-2^m, outside HBFP's symmetric range but exact in the tree)
    # and the most negative legal mantissa; two -2^m * -2^m blocks overflow a minimum-width
    # accumulator by exactly one: saturation on the first LSB beyond range.
    add(1, EXP_MAX, EXP_MAX, -(top + 1), -(top + 1))
    add(0, EXP_MAX, EXP_MAX, -(top + 1), -(top + 1))
    add(0, EXP_MAX, EXP_MAX, -(top + 1), top)
    add(1, 0, 0, -top, -top)
    add(0, 0, 0, -top, -(top + 1))
    # Positive and negative saturation: equal-exponent max blocks until clipped, then back.
    s = lanes * top * top
    reps = min((1 << (aw - 1)) // s + 3, 1500)
    add(1, 10, 10, top, top)
    for _ in range(reps):
        add(0, 10, 10, top, top)
    add(0, 10, 10, -top, top)  # leaves saturation by one block
    add(1, -20, 20, top, -top)
    for _ in range(reps):
        add(0, -20, 20, top, -top)
    add(0, -20, 20, top, top)
    # A saturated accumulator meeting a larger exponent gets shifted, then accumulates again.
    add(0, 21, 20, rnd(), rnd())
    if n is not None:
        ntop = (1 << n) - 1

        def sext(lim=ntop):
            return rng.integers(-lim, lim + 1, lanes)

        # Mode switches mid-stream (no restart), with equal and different exponents.
        add(1, 4, 4, rnd(), rnd(), 0)
        for i in range(24):
            md = i % 2 if i < 12 else int(rng.integers(2))
            ea, eb = (4, 4) if i < 6 else (int(rng.integers(-6, 7)), int(rng.integers(-6, 7)))
            add(0, ea, eb, sext() if md else rnd(), sext() if md else rnd(), md)
        # Narrow extremes: most-negative narrow -2^n, max narrow magnitudes, saturation.
        add(1, EXP_MAX, EXP_MAX, -(ntop + 1), -(ntop + 1), 1)
        add(0, EXP_MAX, EXP_MAX, ntop, -(ntop + 1), 1)
        add(1, EXP_MIN, EXP_MIN, ntop, ntop, 1)
        add(0, EXP_MAX, EXP_MIN, ntop, ntop, 0)
        add(0, EXP_MIN, EXP_MAX, ntop, ntop, 1)
        # Narrow mode ignores the upper port bits (documented): drive junk there.
        junk = rng.integers(-(top + 1), top + 1, lanes)
        add(1, 2, 3, junk, rnd(), 1)
        add(0, 2, 3, rnd(), junk, 1)
        add(1, 3, 3, rnd(), rnd(), 1)  # a restart in narrow mode, then wide
        add(0, 3, 3, rnd(), rnd(), 0)
    return blocks


def make_stim(lanes: int, mant_bits: int, narrow_mant_bits: int | None, acc_width: int,
              n_random: int, seed: int, *, valid_rate: float = 0.85,
              directed: bool = True) -> DotStim:
    """Directed corners (back to back) then ``n_random`` random blocks with bubbles."""
    rng = np.random.default_rng(seed)
    mb, n = mant_bits, narrow_mant_bits
    top = (1 << mb) - 1
    blocks = _directed(lanes, mb, n, acc_width, rng) if directed else []
    nd = len(blocks)

    # Random blocks, vectorized. Exponents mostly cluster around a slowly moving base (so that
    # alignment shifts are small and bits survive) with some uniform jumps over the full range.
    r = n_random
    base = np.cumsum(rng.integers(-1, 2, r) * (rng.random(r) < 0.1)) + rng.integers(-20, 21)
    near = rng.random(r) < 0.8
    ea = np.where(near, base + rng.integers(-3, 4, r), rng.integers(EXP_MIN, EXP_MAX + 1, r))
    eb = np.where(near, -base // 2 + rng.integers(-3, 4, r),
                  rng.integers(EXP_MIN, EXP_MAX + 1, r))
    ea, eb = np.clip(ea, EXP_MIN, EXP_MAX), np.clip(eb, EXP_MIN, EXP_MAX)
    a = rng.integers(-top, top + 1, (r, lanes))
    b = rng.integers(-top, top + 1, (r, lanes))
    a = np.where(rng.random((r, lanes)) < 0.03, -(top + 1), a)
    b = np.where(rng.random((r, lanes)) < 0.1, 0, b)
    first = rng.random(r) < 0.08
    if n is not None:
        # Modes in runs, as a training schedule would switch, plus some isolated flips.
        mode = (np.cumsum(rng.random(r) < 0.05) % 2).astype(bool) ^ (rng.random(r) < 0.03)
        ntop = (1 << n) - 1
        an = rng.integers(-ntop - 1, ntop + 1, (r, lanes))
        bn = rng.integers(-ntop - 1, ntop + 1, (r, lanes))
        a = np.where(mode[:, None], an, a)
        b = np.where(mode[:, None], bn, b)
    else:
        mode = np.zeros(r, dtype=bool)

    if nd:
        d_first = np.array([blk[0] for blk in blocks], dtype=bool)
        d_mode = np.array([blk[1] for blk in blocks], dtype=bool)
        d_ea = np.array([blk[2] for blk in blocks], dtype=np.int64)
        d_eb = np.array([blk[3] for blk in blocks], dtype=np.int64)
        d_a = np.stack([blk[4] for blk in blocks])
        d_b = np.stack([blk[5] for blk in blocks])
        first = np.concatenate([d_first, first])
        mode = np.concatenate([d_mode, mode])
        ea, eb = np.concatenate([d_ea, ea]), np.concatenate([d_eb, eb])
        a, b = np.concatenate([d_a, a]), np.concatenate([d_b, b])
    nblk = first.size

    # Spread the random blocks over cycles with bubbles; the bubble cycles carry random junk
    # (including in_first = 1) that must not reach the accumulator.
    gaps = np.zeros(nblk, dtype=np.int64)
    gaps[nd:] = rng.geometric(valid_rate, r) - 1
    t_len = nblk + int(gaps.sum())
    pos = np.cumsum(gaps + 1) - 1
    valid = np.zeros(t_len, dtype=bool)
    valid[pos] = True
    c_first = rng.random(t_len) < 0.5
    c_mode = (rng.random(t_len) < 0.5) & (n is not None)
    c_ea = rng.integers(EXP_MIN, EXP_MAX + 1, t_len)
    c_eb = rng.integers(EXP_MIN, EXP_MAX + 1, t_len)
    c_a = rng.integers(-top - 1, top + 1, (t_len, lanes))
    c_b = rng.integers(-top - 1, top + 1, (t_len, lanes))
    c_first[pos], c_mode[pos], c_ea[pos], c_eb[pos] = first, mode, ea, eb
    c_a[pos], c_b[pos] = a, b
    return DotStim(valid=valid, first=c_first, mode=c_mode, a_exp=c_ea, b_exp=c_eb, a=c_a,
                   b=c_b, n_directed=nd)


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


def _cfg() -> dict:
    return tb_config_from_env()


class DotTB:
    """Driver, monitor, golden model and checker for one stream through the dot unit."""

    def __init__(self, dut, cfg: dict, stim: DotStim):
        self.dut, self.cfg, self.stim = dut, cfg, stim
        self.lanes, self.narrow = cfg["lanes"], cfg["narrow_mant_bits"]
        self.packed = bool(cfg.get("packed"))
        self.got_valid: list[int] = []
        self.got_acc: list[int] = []
        self.got_exp: list[int] = []
        self.elapsed = 0.0
        if self.packed:
            self.words = pack_rows(stim, self.lanes, cfg["mant_bits"], self.narrow is not None)
            return
        # Handles and Python ints up front: the per-cycle loop only assigns and reads.
        self.h_data = (
            [dut.in_a_exp, dut.in_b_exp, dut.in_first]
            + ([dut.in_mode] if self.narrow is not None else [])
            + [getattr(dut, f"in_a__{i}") for i in range(self.lanes)]
            + [getattr(dut, f"in_b__{i}") for i in range(self.lanes)]
        )
        cols = [stim.a_exp[:, None], stim.b_exp[:, None], stim.first[:, None]]
        if self.narrow is not None:
            cols.append(stim.mode[:, None])
        self.rows = np.concatenate(
            [np.asarray(c, dtype=np.int64) for c in cols] + [stim.a, stim.b], axis=1
        ).tolist()
        self.valid_l = stim.valid.tolist()

    async def reset(self) -> None:
        from cocotb.clock import Clock
        from cocotb.triggers import FallingEdge

        dut = self.dut
        Clock(dut.clk, 10, unit="ns").start()
        dut.rst.value = 1
        if self.packed:
            dut.in_bus.value = 0
        else:
            dut.in_valid.value = 0
        for _ in range(3):
            await FallingEdge(dut.clk)
        dut.rst.value = 0

    async def run(self) -> None:
        """Drive one cycle per stimulus row (plus ``latency`` drain cycles), sampling outputs."""
        from cocotb.triggers import FallingEdge

        if self.packed:
            await self._run_packed()
            return
        dut = self.dut
        fe = FallingEdge(dut.clk)
        h_valid, h_data = dut.in_valid, self.h_data
        o_valid, o_acc, o_exp = dut.out_valid, dut.out_acc, dut.out_exp
        gv, ga, ge = self.got_valid, self.got_acc, self.got_exp
        drain = self.cfg["latency"] + 2
        t0 = time.perf_counter()
        for v, row in zip(self.valid_l + [False] * drain, self.rows + [None] * drain,
                          strict=True):
            ov = int(o_valid.value)
            gv.append(ov)
            if ov:
                ga.append(o_acc.value.to_signed())
                ge.append(o_exp.value.to_signed())
            h_valid.value = int(v)
            if row is not None:
                for h, x in zip(h_data, row, strict=True):
                    h.value = x
            await fe
        self.elapsed = time.perf_counter() - t0

    async def _run_packed(self) -> None:
        from cocotb.triggers import FallingEdge

        dut = self.dut
        fe = FallingEdge(dut.clk)
        h_in, h_out = dut.in_bus, dut.out_bus
        raw: list = []
        words = self.words + [0] * (self.cfg["latency"] + 2)
        t0 = time.perf_counter()
        for word in words:
            raw.append(h_out.value)  # a LogicArray; converted in bulk afterwards
            h_in.value = word
            await fe
        self.elapsed = time.perf_counter() - t0
        valid, self.got_acc, ex = unpack_outputs([int(r) for r in raw], self.cfg["acc_width"])
        self.got_valid = valid.astype(int).tolist()
        self.got_exp = ex.tolist()

    def check(self) -> None:
        cfg, st = self.cfg, self.stim
        lat, seed = cfg["latency"], cfg["seed"]
        mb, aw, n = cfg["mant_bits"], cfg["acc_width"], self.narrow
        exp_acc, exp_exp = st.expected(mant_bits=mb, acc_width=aw, narrow_mant_bits=n)
        problems = []
        gv = np.array(self.got_valid, dtype=bool)
        want_v = np.zeros(gv.size, dtype=bool)
        want_v[lat:lat + st.valid.size] = st.valid
        if not np.array_equal(gv, want_v):
            bad = np.nonzero(gv != want_v)[0]
            problems.append(f"out_valid wrong at {bad.size} cycles, first {bad[:10].tolist()} "
                            f"(latency {lat})")
        ga = np.array(self.got_acc, dtype=object)
        ge = np.array(self.got_exp, dtype=np.int64)
        if ga.size != exp_acc.size:
            problems.append(f"{ga.size} outputs for {exp_acc.size} input blocks")
        else:
            ea_o = exp_acc.astype(object)
            bad = np.nonzero((ga != ea_o) | (ge != exp_exp))[0]
            if bad.size:
                v = st.valid
                lines = []
                for i in bad[:6]:
                    tag = "directed" if i < st.n_directed else "random"
                    lines.append(
                        f"  block {i} ({tag}): first={int(st.first[v][i])} "
                        f"mode={int(st.mode[v][i])} e_a={st.a_exp[v][i]} e_b={st.b_exp[v][i]} "
                        f"a={st.a[v][i].tolist()} b={st.b[v][i].tolist()} "
                        f"got=({ga[i]}, {ge[i]}) expected=({exp_acc[i]}, {exp_exp[i]})"
                    )
                problems.append(f"{bad.size}/{exp_acc.size} mismatches\n" + "\n".join(lines))
        if st.n_directed and exp_acc.size:
            # The directed corners must really reach both saturation limits.
            d = exp_acc[: st.n_directed].astype(object)
            hi, lo = (1 << (aw - 1)) - 1, -(1 << (aw - 1))
            if not ((d == hi).any() and (d == lo).any()):
                problems.append("directed corners did not reach both saturation limits")
        self.dut._log.info(
            "dot lanes=%d m=%d n=%s W=%d latency=%d: %d cycles, %d blocks (%d directed), "
            "seed %d, %.0f cycles/s", self.lanes, mb, n, aw, lat, st.valid.size,
            int(st.valid.sum()), st.n_directed, seed, len(gv) / max(self.elapsed, 1e-9),
        )
        assert not problems, f"seed {seed}: " + "; ".join(problems)


try:
    import cocotb

    @cocotb.test()
    async def cocotb_dot_stream(dut):
        """Directed corners back to back, then >= 2000 random blocks with junk-filled bubbles."""
        c = _cfg()
        stim = make_stim(c["lanes"], c["mant_bits"], c["narrow_mant_bits"], c["acc_width"],
                         c["n_random"], c["seed"])
        tb = DotTB(dut, c, stim)
        await tb.reset()
        await tb.run()
        tb.check()

    @cocotb.test()
    async def cocotb_dot_bench(dut):
        """Throughput: back-to-back random blocks, no corners; writes SQGEN_BENCH_OUT JSON."""
        c = _cfg()
        if "bench_out" not in c:
            return  # only the bench asks for this one
        stim = make_stim(c["lanes"], c["mant_bits"], c["narrow_mant_bits"], c["acc_width"],
                         c["n_random"], c["seed"], valid_rate=1.0, directed=False)
        tb = DotTB(dut, c, stim)
        await tb.reset()
        await tb.run()
        tb.check()
        with open(c["bench_out"], "w") as f:
            json.dump({"blocks": int(stim.valid.sum()), "cycles": len(tb.got_valid),
                       "seconds": tb.elapsed}, f)
except ImportError:  # pragma: no cover - keep make_stim importable without cocotb
    pass


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



def _params():

    return [pytest.param(sim, c, marks=pytest.mark.sim, id=f"{sim}-{c[0]}")
            for c in COSIM_CONFIGS for sim in simulators()]


@pytest.mark.parametrize("sim,cfg", _params())
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
