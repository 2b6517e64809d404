"""Engine figures (``make bench``): generation time, steady-state MACs per cycle against the
cycle formula, simulation speed of a real MiniLM layer (stream player vs the per-cycle cocotb
loop vs a plain C++ Verilator harness, same design), and the layer's FP32 error."""

from __future__ import annotations

import numpy as np

from gen.cmd_engine import engine_config, geometry
from golden.engine import engine_cycles
from golden.interplay import compress, dot_error
from sim.common import ROOT, VERILATOR_BUILD_ARGS
from sim.tb_engine import build_and_run, design_config, run_player
from sim.vlib.player import cxx_harness
from studies.bench.bench_pod import gen_wall
from studies.engine_layers import layer_error, layer_gemm
from studies.minilm import study_extra_missing

LAYER = "layer.0.attention.self.query"


def operands() -> tuple[np.ndarray, np.ndarray, str]:
    if study_extra_missing() is None:
        a, w = layer_gemm(LAYER, 64)
        return a, w, f"MiniLM {LAYER}, 64 tokens"
    rng = np.random.default_rng(1)  # same shape without the study extra
    return (rng.standard_normal((64, 384)).astype(np.float32),
            (rng.standard_normal((384, 384)) * 0.05).astype(np.float32), "Gaussian 64x384x384")


def main() -> None:
    wall = gen_wall("32x32", "engine")
    print(f"make gen POD=32x32 TOP=engine: {wall:.1f} s wall (goal 20 s)", flush=True)
    a, w, what = operands()
    M, K = a.shape
    N = w.shape[1]
    macs = M * N * K
    for sp in (None, "2:4"):
        dc = design_config("16x16", "hbfp6", sp, 64)
        geo = geometry(engine_config(dc))
        run = run_player("verilator", f"bench-{'dense' if sp is None else '2of4'}", dc, a, w,
                         block="bench_engine")
        r = run.records[-1]
        ideal = 16 * 16 * (2 if sp else 1)
        print(f"16x16 hbfp6 {sp or 'dense'} engine, {what} ({M}x{K} @ {K}x{N}): "
              f"{r['cycles']} cycles measured, engine_cycles = {engine_cycles(M, N, K, geo)}; "
              f"{macs / r['cycles']:.1f} MACs/cycle of {ideal} (R*C{'*M/N' if sp else ''})",
              flush=True)
        if sp is None:
            player = r
            run_dir = run.build_dir
    cx = cxx_harness(ROOT / "build" / "sim" / "bench_engine" / "cxx", [
        *sorted((run_dir / "rtl").glob("*.v")), run_dir / "player.v"], run_dir,
        extra_args=[x for x in VERILATOR_BUILD_ARGS if x.startswith("-Wno")])
    loop = build_and_run("verilator", "bench-loop", design_config("16x16", "hbfp6", None, 64),
                         None, seed=1, operands=_save(a, w), stress=False,
                         block="bench_engine", testcase="cocotb_engine_gemm",
                         report=True).records[-1]
    cx_cps = cx["cycles"] / cx["wall_s"]
    print("Simulated speed, 16x16 engine, same GEMM, Verilator 5.48 (cycles/s, MACs/wall-s):")
    for name, cps in (("plain C++ harness (-O3, ports only)", cx_cps),
                      ("cocotb + stream player (ports only)", player["cycles_per_wall_s"]),
                      ("cocotb per-cycle loop (--public-flat-rw)", loop["cycles_per_wall_s"])):
        print(f"  {name:42s} {cps:10.0f} cycles/s  {cps * macs / player['cycles']:.3g} "
              f"MACs/wall-s  ({cps / cx_cps:.2f} of the C++ harness)", flush=True)
    print(f"FP32 error of the engine's result, {what} (relative L2 vs the float64 FP32 product):")
    for fmt in ("hbfp8", "hbfp6", "hbfp4"):
        for sp in (None, "2:4"):
            geo = geometry(engine_config(design_config("16x16", fmt, sp, 64)))
            e = layer_error(a, w, geo)
            wq = compress(w.T, "sq", f"{fmt}@64", sp)
            study = dot_error(w.T.astype(np.float64), wq, a.T.astype(np.float64))
            extra = (f", vs pruned FP32 {e['rel_err_vs_pruned_fp32']:.4f}" if sp else "")
            print(f"  {fmt} {sp or 'dense':5s} engine (Kf-lane blocks, both operands) "
                  f"{e['rel_err_vs_fp32']:.4f}{extra}; interplay-study figure (weights only, "
                  f"block 64) {study:.4f}", flush=True)
    geo = geometry(engine_config(design_config("16x16", "int8", None, 64)))
    wq = compress(w.T, "sq", "int8", None)
    study = dot_error(w.T.astype(np.float64), wq, a.T.astype(np.float64))
    print(f"  int8  dense engine (per-tensor activation, per-column weight scales) "
          f"{layer_error(a, w, geo)['rel_err_vs_fp32']:.4f}; interplay-study figure (weights "
          f"only, per channel) {study:.4f}", flush=True)


def _save(a: np.ndarray, w: np.ndarray) -> str:
    p = ROOT / "build" / "sim" / "bench_engine" / "operands.npz"
    p.parent.mkdir(parents=True, exist_ok=True)
    np.savez(p, a=a, w=w)
    return str(p)


if __name__ == "__main__":
    main()
