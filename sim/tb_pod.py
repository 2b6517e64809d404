"""cocotb GEMM regressions of the generated systolic pod (``gen.cmd_pod.generate_pod``).

The cocotb side reads its configuration as JSON from ``SQGEN_TB_CFG``. Stimulus (packed weight
and activation beats) and the expected results come from :func:`golden.systolic.pod_program`,
precomputed before the clock starts, so the per-cycle Python work is a few handle reads/writes.
Checks: every result bit-exact (value and exponent, ``last`` flags), nothing lost or duplicated,
and with an always-ready sink the measured cycle count equals :func:`golden.systolic.cycles`.
Figures (cycles, wall time, MACs per wall-second) go to ``$SQGEN_TB_OUT`` for the bench.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from gen.cmd_pod import generate_pod, pod_config
from gen.config import DesignConfig, parse_pod
from golden.systolic import PodGeometry, PodLayout, pod_program, random_hbfp_operands
from sim.common import cosim, simulators, tb_config_from_env


def _cfg() -> dict:
    return tb_config_from_env()


def _geometry(cfg: dict) -> PodGeometry:
    return PodGeometry(cfg["rows"], cfg["cols"], cfg["mant_bits"], cfg["acc_width"],
                       cfg["block"], tuple(cfg["sparsity"]), cfg.get("narrow_mant_bits"))


class PodTB:
    """Driver (two sources), monitor (result sink), golden model and checker for one GEMM."""

    def __init__(self, dut, cfg: dict, *, stall_p: float, seed: int, narrow: bool = False):
        self.dut = dut
        self.cfg = cfg
        self.geo = _geometry(cfg)
        self.seed = seed
        self.narrow = narrow
        rng = np.random.default_rng(seed)
        M, N, K = cfg["gemm"]
        self.mnk = (M, N, K)
        # model: stimulus and expected beats, all precomputed
        qa, ea, qw, ew = random_hbfp_operands(M, N, K, self.geo, rng, narrow=narrow)
        if narrow:
            # junk in the upper mantissa bits, which narrow mode must ignore (zeros stay zero so
            # the N:M pattern holds)
            nb = self.geo.narrow_mant_bits + 1
            junk = rng.integers(0, 1 << (self.geo.mw - nb), size=qa.shape) << nb
            qa = qa ^ junk
            junk = rng.integers(0, 1 << (self.geo.mw - nb), size=qw.shape) << nb
            qw = np.where(qw != 0, qw ^ junk, 0)
        self.prog = pod_program(qa, ea, qw, ew, self.geo, narrow=narrow)
        self.ready = (rng.random(1 << 20) >= stall_p).astype(int).tolist() if stall_p else None
        self.words: list[int] = []
        self.cycles = 0
        self.wall = 0.0

    async def reset(self):
        from cocotb.clock import Clock
        from cocotb.triggers import RisingEdge

        dut = self.dut
        # cocotb ends a test's tasks with the test, so each test starts its own clock
        Clock(dut.clk, 10, unit="ns").start()
        dut.w__valid.value = 0
        dut.act__valid.value = 0
        dut.res__ready.value = 0
        dut.w__payload.value = 0
        dut.act__payload.value = 0
        if self.geo.narrow_mant_bits is not None:
            dut.narrow.value = int(self.narrow)
        dut.rst.value = 1
        for _ in range(3):
            await RisingEdge(dut.clk)
        dut.rst.value = 0

    async def run(self):
        """Drive both sources as fast as accepted, take results per the ready pattern."""
        from cocotb.triggers import ReadOnly, RisingEdge

        dut, prog = self.dut, self.prog
        wb, ab = prog.w_beats, prog.act_beats
        nw, na = len(wb), len(ab)
        ready = self.ready
        clk = dut.clk
        w_valid, w_ready, w_pay = dut.w__valid, dut.w__ready, dut.w__payload
        a_valid, a_ready, a_pay = dut.act__valid, dut.act__ready, dut.act__payload
        r_valid, r_ready, r_pay = dut.res__valid, dut.res__ready, dut.res__payload
        words = self.words
        limit = 4 * prog.cycles + 1000 if ready is None else 40 * prog.cycles + 1000
        wi = ai = edge = 0
        w_pay.value = wb[0]
        a_pay.value = ab[0]
        w_valid.value = 1
        a_valid.value = 1
        r_ready.value = 1 if ready is None else ready[0]
        t0 = time.perf_counter()
        while len(words) < na:
            await ReadOnly()
            w_fire = wi < nw and w_ready.value == 1
            a_fire = ai < na and a_ready.value == 1
            if r_valid.value == 1 and (ready is None or ready[edge]):
                words.append(int(r_pay.value))
            await RisingEdge(clk)
            edge += 1
            assert edge < limit, f"timeout after {edge} cycles: {len(words)}/{na} results"
            if w_fire:
                wi += 1
                if wi < nw:
                    w_pay.value = wb[wi]
                else:
                    w_valid.value = 0
            if a_fire:
                ai += 1
                if ai < na:
                    a_pay.value = ab[ai]
                else:
                    a_valid.value = 0
            if ready is not None:
                r_ready.value = ready[edge]
        self.wall = time.perf_counter() - t0
        self.cycles = edge
        # drain check: no extra beat may appear
        r_ready.value = 1
        for _ in range(self.geo.rows + self.geo.cols + 2):
            await ReadOnly()
            assert r_valid.value == 0, "result beat after the last expected one (duplicate?)"
            await RisingEdge(clk)

    def check(self, *, check_cycles: bool):
        prog, geo = self.prog, self.geo
        d, e, last = PodLayout(geo).decode_res(self.words)
        C = geo.cols
        want_d = prog.psum.reshape(-1, C)
        want_e = prog.exp.reshape(-1, C)
        assert d.shape == want_d.shape, f"{d.shape[0]} result beats, expected {want_d.shape[0]}"
        bad = np.argwhere((d != want_d) | (e != want_e))
        if len(bad):
            lines = [f"beat {b} col {c}: got {d[b, c]}*2^{e[b, c]}, want {want_d[b, c]}"
                     f"*2^{want_e[b, c]}" for b, c in bad[:8].tolist()]
            raise AssertionError(f"seed {self.seed}: {len(bad)}/{d.size} mismatches\n"
                                 + "\n".join(lines))
        nbad = int((last != prog.expected_last).sum())
        assert nbad == 0, f"seed {self.seed}: {nbad} wrong last flags"
        if check_cycles:
            assert self.cycles == prog.cycles, (
                f"seed {self.seed}: measured {self.cycles} cycles, golden.systolic.cycles says "
                f"{prog.cycles}")

    def report(self, name: str):
        out = os.environ.get("SQGEN_TB_OUT")
        if not out:
            return
        M, N, K = self.mnk
        rec = {"test": name, "gemm": [M, N, K], "cycles": self.cycles,
               "wall_s": self.wall, "macs": M * N * K,
               "macs_per_wall_s": M * N * K / self.wall if self.wall else None,
               "cycles_per_wall_s": self.cycles / self.wall if self.wall else None}
        p = Path(out)
        recs = json.loads(p.read_text()) if p.exists() else []
        recs.append(rec)
        p.write_text(json.dumps(recs, indent=1))


try:
    import cocotb

    @cocotb.test()
    async def cocotb_pod_gemm(dut):
        """A tiled GEMM, sink always ready: bit-exact and exactly ``cycles(...)`` long."""
        cfg = _cfg()
        tb = PodTB(dut, cfg, stall_p=0.0, seed=cfg["seed"])
        await tb.reset()
        await tb.run()
        tb.check(check_cycles=True)
        tb.report("gemm")

    @cocotb.test()
    async def cocotb_pod_backpressure(dut):
        """The result sink stalls randomly (40 %): nothing lost, duplicated or reordered."""
        cfg = _cfg()
        if not cfg.get("backpressure", True):
            return
        tb = PodTB(dut, cfg, stall_p=0.4, seed=cfg["seed"] + 1)
        await tb.reset()
        await tb.run()
        tb.check(check_cycles=False)
        assert tb.cycles > tb.prog.cycles, "a stalling sink cannot be faster"

    @cocotb.test()
    async def cocotb_pod_narrow(dut):
        """Run-time narrow mode (pods with a narrow format): upper mantissa bits ignored."""
        cfg = _cfg()
        if cfg.get("narrow_mant_bits") is None:
            return
        tb = PodTB(dut, cfg, stall_p=0.0, seed=cfg["seed"] + 2, narrow=True)
        await tb.reset()
        await tb.run()
        tb.check(check_cycles=True)

except ImportError:  # pragma: no cover - cocotb is a core dependency
    pass


# ---- pytest runner --------------------------------------------------------------------------
#: (id, pod, format (":narrow" adds the run-time narrow port), sparsity, GEMM M x N x K (never
#: multiples of the pod), slow)
CONFIGS = [
    ("2x2-hbfp8-dense", "2x2", "hbfp8", None, (5, 3, 7), False),
    ("4x4-hbfp6n4-2of4", "4x4", "hbfp6:hbfp4", "2:4", (9, 6, 13), False),
    ("8x8-hbfp4-dense", "8x8", "hbfp4", None, (21, 13, 19), False),
    ("16x16-hbfp6-2of4", "16x16", "hbfp6", "2:4", (40, 20, 70), False),
    ("32x32-hbfp8-dense", "32x32", "hbfp8", None, (100, 40, 70), True),
]


def _params():

    out = []
    for cid, pod, fmt, sp, gemm, slow in CONFIGS:
        for sim in simulators():
            if slow and sim != "verilator":
                continue
            marks = [pytest.mark.sim] + ([pytest.mark.slow] if slow else [])
            out.append(pytest.param(sim, (cid, pod, fmt, sp, gemm), marks=marks,
                                    id=f"{sim}-{cid}"))
    return out


def build_and_run(sim: str, cid: str, pod: str, fmt: str, sp: str | None,
                  gemm: tuple[int, int, int], *, seed: int, backpressure: bool = True,
                  report: str | None = None) -> None:
    """Generate the pod, write it under build/sim/pod/<sim>-<cid>/ and run the cocotb tests."""

    rows, cols = parse_pod(pod)
    fmt, _, narrow = fmt.partition(":")
    dc = DesignConfig(rows=rows, cols=cols, format=fmt, sparsity=sp,
                      narrow_format=narrow or None)
    design = generate_pod(dc)
    p = pod_config(dc)
    tb_cfg = {"rows": rows, "cols": cols, "mant_bits": dc.mant_bits,
              "acc_width": dc.acc_width, "block": p["block_size"], "sparsity": list(p["sparsity"]),
              "narrow_mant_bits": dc.narrow_mant_bits, "gemm": list(gemm), "seed": seed,
              "backpressure": backpressure}
    env = {}
    if report:
        Path(report).unlink(missing_ok=True)
        env["SQGEN_TB_OUT"] = str(report)
    cosim(design, sim=sim, block="pod", cid=cid, tb_cfg=tb_cfg, test_module="sim.tb_pod",
          extra_env=env)


@pytest.mark.parametrize("sim,cfg", _params())
def test_pod_cosim(sim, cfg):
    cid, pod, fmt, sp, gemm = cfg
    seed = 5000 + sum(map(ord, cid))
    build_and_run(sim, cid, pod, fmt, sp, gemm, seed=seed)
