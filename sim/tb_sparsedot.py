"""cocotb testbench of the sparse HBFP dot-product unit (``hw.sparsedot.SparseHBFPDot``).

Weights are random tensors really pruned N:M (:func:`golden.sparsity.nm_prune`), HBFP-encoded
(:func:`golden.formats.hbfp_encode`) and compressed (``nm_compress``); activations are dense
HBFP blocks. Expected results come from the golden twin, vectorized, before simulation:
:func:`golden.nm_hw.sparse_dot_expected` (what the decoder + dot unit compute) which, for valid
metadata, is also checked to equal :func:`golden.nm_hw.dense_dot_expected` (the dense HBFP dot
product of the decompressed weights, the issue's reference). ``meta_error`` is checked in every
cycle against :func:`golden.nm_hw.meta_error_trace`.

Config comes as JSON in ``SQGEN_TB_CFG``; the pytest runner is ``test_sparsedot_cosim`` below.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from gen.cmd_sparse import generate_sparsedot
from gen.config import DesignConfig
from golden import nm_hw
from golden.formats import hbfp_encode
from golden.sparsity import nm_compress, nm_prune
from sim.common import cosim, simulators, tb_config_from_env
from sim.tb_decoder import corrupt, edge_indices


@dataclass
class SparseDotStim:
    """Per-cycle stimulus of the sparse dot unit (T cycles)."""

    valid: np.ndarray  # (T,) bool
    clear: np.ndarray  # (T,) bool
    first: np.ndarray  # (T,) bool
    mode: np.ndarray | None  # (T,) bool or None
    w_exp: np.ndarray  # (T,)
    w_vals: np.ndarray  # (T, L) compressed weight mantissas
    w_idx: np.ndarray  # (T, L) in-group indices (possibly corrupted)
    a_exp: np.ndarray  # (T,)
    a_man: np.ndarray  # (T, K)
    valid_meta: bool  # metadata was not corrupted

    def expected(self, p: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(out_acc, out_exp) per valid beat and meta_error per cycle (T+1,)."""
        v = self.valid
        kw = dict(n=p["n"], m=p["m"], mant_bits=p["mant_bits"], acc_width=p["acc_width"],
                  narrow_mant_bits=p.get("narrow_mant_bits"))
        args = (self.w_exp[v], self.w_vals[v], self.w_idx[v], self.a_exp[v], self.a_man[v],
                self.first[v], None if self.mode is None else self.mode[v])
        acc, exp = nm_hw.sparse_dot_expected(*args, **kw)
        if self.valid_meta:
            # The criterion: identical to the dense product of the decompressed weights.
            dacc, dexp = nm_hw.dense_dot_expected(*args, **kw)
            assert np.array_equal(acc, dacc) and np.array_equal(exp, dexp), \
                "golden: decoded and decompressed dot products disagree"
        viol = nm_hw.meta_violation(self.w_idx, p["n"], p["m"])
        return np.asarray(acc), np.asarray(exp), nm_hw.meta_error_trace(self.valid, viol,
                                                                         self.clear)


def _encode(rng, x: np.ndarray, mant_bits: int, block: int):

    e, q = hbfp_encode(x, mant_bits, block)
    return np.asarray(e).reshape(-1).astype(np.int64), np.asarray(q).astype(np.int64)


def make_stim(p: dict, beats: int, seed: int, *, corrupt_rate: float = 0.0,
              clear_rate: float = 0.0, valid_rate: float = 0.85) -> SparseDotStim:
    """Pruned random weights + directed beats (edges, short and all-zero groups, full scale)."""

    rng = np.random.default_rng(seed)
    n, m, k, mb = p["n"], p["m"], p["block"], p["mant_bits"]
    nb = p.get("narrow_mant_bits")
    groups = k // m
    n_edge = 4
    t_len = beats + n_edge + 3
    # Per-beat scales spread the shared exponents so cross-block alignment is exercised.
    scale = np.exp2(rng.integers(-6, 7, size=(t_len, 1))).astype(np.float32)
    w = rng.standard_normal((t_len, k)).astype(np.float32) * scale
    w[n_edge: n_edge + 2][rng.random((2, k)) < 0.7] = 0.0  # groups shorter than N
    w[n_edge + 2] = 0.0  # an all-zero block (exponent -125)
    a = rng.standard_normal((t_len, k)).astype(np.float32) * scale[::-1]
    mode = None if nb is None else (rng.random(t_len) < 0.4)
    w_exp, w_man = _encode(rng, nm_prune(w, n, m), mb, k)
    a_exp, a_man = _encode(rng, a, mb, k)
    if nb is not None:
        # Narrow beats carry narrow mantissas (sign-extended on the wide ports).
        we, wm = _encode(rng, nm_prune(w, n, m), nb, k)
        ae, am = _encode(rng, a, nb, k)
        w_exp, a_exp = np.where(mode, we, w_exp), np.where(mode, ae, a_exp)
        w_man, a_man = np.where(mode[:, None], wm, w_man), np.where(mode[:, None], am, a_man)
    vals, idx = nm_compress(w_man, n, m)
    vals, idx = np.asarray(vals).astype(np.int64), np.asarray(idx).astype(np.uint8)
    # Directed: edge index patterns with full-scale values (and the most negative port value).
    edges = edge_indices(n, m, groups)[:n_edge]
    top = (1 << mb) - 1
    for r in range(edges.shape[0]):
        idx[r] = edges[r]
        vals[r] = rng.choice([top, -top, -(top + 1), 1, -1], size=vals.shape[1])
        a_man[r] = rng.choice([top, -top, -(top + 1)], size=k)
        if mode is not None:
            mode[r] = False
    if corrupt_rate:
        idx = corrupt(rng, idx, n, m, corrupt_rate)
    valid = rng.random(t_len) < valid_rate
    valid[: n_edge + 3] = True
    first = rng.random(t_len) < 0.2
    first[0] = True
    clear = rng.random(t_len) < clear_rate
    if clear_rate:
        # Some clears land on violating beats: the violation must win (directed corner).
        clear[np.nonzero(nm_hw.meta_violation(idx, n, m))[0][::3]] = True
    return SparseDotStim(valid=valid, clear=clear, first=first, mode=mode, w_exp=w_exp,
                         w_vals=vals, w_idx=idx, a_exp=a_exp, a_man=a_man,
                         valid_meta=not corrupt_rate)


# ---------------------------------------------------------------------------------------------
# cocotb side


def _cfg() -> dict:
    return tb_config_from_env()


class SparseDotTB:
    """Driver, monitor, golden model and checker for one sparse-dot run."""

    def __init__(self, dut, p: dict, stim: SparseDotStim):
        self.dut, self.p, self.stim = dut, p, stim
        lanes, k = p["lanes"], p["block"]
        self.h_w = [getattr(dut, f"in_w__{i}") for i in range(lanes)]
        self.h_a = [getattr(dut, f"in_a__{i}") for i in range(k)]
        meta = nm_hw.pack_meta(stim.w_idx, p["n"], p["m"], packed24=p["packed24"])
        self.h_idx = None if p["packed24"] else [getattr(dut, f"in_w_idx__{i}")
                                                 for i in range(lanes)]
        # Precompute rows of Python ints so the per-cycle loop only assigns.
        self.rows = list(zip(
            stim.valid.tolist(), stim.clear.tolist(), stim.first.tolist(),
            (stim.mode if stim.mode is not None else np.zeros_like(stim.valid)).tolist(),
            stim.w_exp.tolist(), stim.a_exp.tolist(), stim.w_vals.tolist(),
            stim.a_man.tolist(), meta.tolist(), strict=True,
        ))
        self.got_err: list[int] = []
        self.got: list[tuple[int, int]] = []

    async def reset(self):
        from cocotb.clock import Clock
        from cocotb.triggers import FallingEdge

        dut = self.dut
        Clock(dut.clk, 10, unit="ns").start()
        dut.rst.value = 1
        dut.in_valid.value = 0
        dut.in_clear.value = 0
        for _ in range(2):
            await FallingEdge(dut.clk)
        dut.rst.value = 0

    def sample(self):
        dut = self.dut
        self.got_err.append(int(dut.meta_error.value))
        if int(dut.out_valid.value):
            self.got.append((dut.out_acc.value.to_signed(), dut.out_exp.value.to_signed()))

    async def run(self):
        from cocotb.triggers import FallingEdge

        dut = self.dut
        has_mode = self.p.get("narrow_mant_bits") is not None
        for valid, clear, first, mode, we, ae, wv, am, meta in self.rows:
            self.sample()
            dut.in_valid.value = valid
            dut.in_clear.value = clear
            dut.in_first.value = first
            if has_mode:
                dut.in_mode.value = mode
            dut.in_w_exp.value = we
            dut.in_a_exp.value = ae
            for h, v in zip(self.h_w, wv, strict=True):
                h.value = v
            for h, v in zip(self.h_a, am, strict=True):
                h.value = v
            if self.h_idx is None:
                dut.in_w_meta.value = meta
            else:
                for h, v in zip(self.h_idx, meta, strict=True):
                    h.value = v
            await FallingEdge(dut.clk)
        dut.in_valid.value = 0
        dut.in_clear.value = 0
        for _ in range(self.p["latency"] + 1):
            self.sample()
            await FallingEdge(dut.clk)

    def check(self) -> None:
        st, p = self.stim, self.p
        acc, exp, err = st.expected(p)
        problems = []
        ge = np.array(self.got_err[: err.size], dtype=bool)
        if not np.array_equal(ge, err):
            bad = np.nonzero(ge != err)[0]
            problems.append(
                f"meta_error: {bad.size}/{err.size} cycles differ, first at {bad[:10].tolist()} "
                f"(got {ge[bad[:10]].astype(int).tolist()}, "
                f"expected {err[bad[:10]].astype(int).tolist()})"
            )
        if any(bool(e) != bool(err[-1]) for e in self.got_err[err.size:]):
            problems.append("meta_error changed while idle")
        if len(self.got) != acc.size:
            problems.append(f"{len(self.got)} out_valid pulses, expected {acc.size}")
        else:
            g = np.array(self.got, dtype=object)
            ok = (g[:, 0] == acc) & (g[:, 1] == exp)
            bad = np.nonzero(~ok)[0]
            if bad.size:
                vt = np.nonzero(st.valid)[0]
                lines = [
                    f"  beat {b} (cycle {vt[b]}): got (acc={g[b, 0]}, exp={g[b, 1]}) expected "
                    f"(acc={acc[b]}, exp={exp[b]}) w_idx={st.w_idx[vt[b]].tolist()}"
                    for b in bad[:5]
                ]
                problems.append(f"{bad.size}/{acc.size} mismatches\n" + "\n".join(lines))
        self.dut._log.info(
            "sparsedot %d:%d block %d m=%d: %d cycles, %d results, seed %d",
            p["n"], p["m"], p["block"], p["mant_bits"], st.valid.size, acc.size, p["seed"],
        )
        assert not problems, f"seed {p['seed']}: " + "; ".join(problems)


async def _run(dut, stim: SparseDotStim) -> SparseDotTB:
    tb = SparseDotTB(dut, _cfg(), stim)
    await tb.reset()
    await tb.run()
    tb.check()
    return tb


try:
    import cocotb

    @cocotb.test()
    async def cocotb_sparsedot_random(dut):
        """Pruned random weights + directed beats; bit-exact vs the dense golden product."""
        p = _cfg()
        tb = await _run(dut, make_stim(p, p["beats"], p["seed"]))
        assert not any(tb.got_err), "meta_error fired on valid metadata"

    @cocotb.test()
    async def cocotb_sparsedot_meta_error(dut):
        """Corrupted metadata: results follow the decoder model, meta_error cycle-exact."""
        p = _cfg()
        stim = make_stim(p, p["beats"] // 2, p["seed"] + 1, corrupt_rate=0.03, clear_rate=0.05)
        tb = await _run(dut, stim)
        # Only 1:M with M a power of two has no representable bad metadata.
        can_fail = p["n"] > 1 or (p["m"] & (p["m"] - 1)) != 0
        assert any(tb.got_err) == can_fail, "corrupted metadata never raised meta_error"
except ImportError:  # pragma: no cover
    pass


# ---------------------------------------------------------------------------------------------
# pytest runner

#: (id, sparsity, block, format, narrow, pipeline, packed24, decoder_register,
#:  fast-suite simulators).
#: The issue's configurations (2:4, 1:4, 2:8, 4:8, 3:7) run on both simulators in the fast
#: suite (CI); the extra ones run on Icarus there, and ``make regress`` (slow) runs all on both.
COSIM_CONFIGS = [
    ("2of4", "2:4", 16, "hbfp6", None, 1, False, False, ("icarus", "verilator")),
    ("2of4p", "2:4", 8, "hbfp8", None, 2, True, True, ("icarus",)),
    ("1of4", "1:4", 16, "hbfp8", None, 1, False, False, ("icarus", "verilator")),
    ("2of8", "2:8", 16, "hbfp6", None, 3, False, True, ("icarus", "verilator")),
    ("4of8", "4:8", 16, "hbfp4", None, 1, False, True, ("icarus", "verilator")),
    ("3of7", "3:7", 14, "hbfp6", "hbfp4", 2, False, False, ("icarus", "verilator")),
    ("1of16", "1:16", 32, "hbfp6", None, 1, False, False, ()),
]


def _params():

    out = []
    for cid, *rest in COSIM_CONFIGS:
        fast_sims = rest[-1]
        for sim in simulators():
            marks = [pytest.mark.sim]
            if sim not in fast_sims:
                marks.append(pytest.mark.slow)
            out.append(pytest.param(sim, (cid, *rest[:-1]), marks=marks, id=f"{sim}-{cid}"))
    return out


def tb_params(design, *, beats: int, seed: int) -> dict:
    """The JSON the cocotb side gets, from a generated design's manifest (also used by bench)."""
    par = design.manifest["parameters"]
    return {"n": par["n"], "m": par["m"], "block": par["block"], "lanes": par["lanes"],
            "mant_bits": par["mant_bits"], "narrow_mant_bits": par["narrow_mant_bits"],
            "acc_width": par["acc_width"], "latency": design.manifest["latency"]["cycles"],
            "packed24": par["packed24"], "beats": beats, "seed": seed}



@pytest.mark.parametrize("sim,cfg", _params())
def test_sparsedot_cosim(sim, cfg):

    cid, sp, blk, fmt, narrow, pipe, packed, dreg = cfg
    dc = DesignConfig(sparsity=sp, block_size=blk, format=fmt, narrow_format=narrow,
                      pipeline=pipe, rows=blk)
    design = generate_sparsedot(dc, packed24=packed, decoder_register=dreg)
    n, m = dc.nm
    p = tb_params(design, beats=500, seed=7000 + blk * 17 + m * 3 + n)
    cosim(design, sim=sim, block="sparsedot", cid=cid, tb_cfg=p, test_module="sim.tb_sparsedot")
