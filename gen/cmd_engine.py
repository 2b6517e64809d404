"""``python -m gen engine`` (``make gen POD=RxC TOP=engine``): the FP32-in/FP32-out GEMM engine.

``generate_engine(cfg)`` builds the engine (:class:`hw.engine.Engine`: converter, pod,
normalizers, FP32 fold adds into the output buffer) in memory; every distinct module (the
pod's PE, rows, arrays, skews, the pod, the converter, the normalizer) is emitted once. ``run``
writes ``build/engine_RxC/`` atomically and prints a one-screen summary.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from gen.cli import add_design_args, design_from_args, flag_name, write
from gen.cmd_pod import pod_config
from gen.config import ConfigError, DesignConfig
from gen.emit import Design, clock_ports, design_manifest, payload_layout, port_table
from gen.hier import emit_hierarchy
from golden.engine import EngineGeometry, engine_cycles_formula
from hw.engine import ENGINE_TAGS, Engine

__all__ = ["register", "run", "generate_engine", "engine_config", "ENGINE_PROTOCOL"]

ENGINE_PROTOCOL = (
    "Three lib.stream valid/ready streams, transfer on a rising edge with valid=1 and ready=1; "
    "valid never waits for ready. RESET: rst synchronous, active high; keep act.valid and "
    "w.valid at 0 during reset. WEIGHTS: the pod's weight stream, unchanged: R beats per fold "
    "(pre-encoded HBFP: C mantissas, N:M indices when sparse, C exponents from beat R-1), in "
    "fold order (golden.engine.engine_program writes them). ACTIVATIONS: one beat per row of "
    "each fold: Kf FP32 lanes (one HBFP block), first=1 on folds with k=0 (the output buffer "
    "row is written, not added to), final=1 on folds with the last k (the row's FP32 sum goes "
    "out on res instead of back into the buffer), last=1 on the fold's final row, narrow "
    "(only with a narrow format) selects the narrow mantissa for that row. A fold streams at "
    "most `tile` rows (more set the sticky error output and are not stored). Fold order: "
    "n-folds outer, row tiles, k-folds inner. RESULTS: one res beat per row of every final "
    "fold, in order: C FP32 words, last copied from the row's act beat; backpressure on res "
    "stalls the engine, nothing is dropped. FP32: the K-fold sums are added in ascending k, "
    "RNE, denormals flushed; a NaN/Inf activation lane makes its row's sums the canonical NaN "
    "0x7FC00000. FMT=fp32: w carries C FP32 words per row. FMT=int8: w carries C INT8 codes and "
    "C FP32 output scales (fp32(s_a * s_w), from beat R-1), act carries the FP32 multiplier "
    "1/s_a in its scale field (golden.engine.engine_program). See docs/engine.md."
)

_MEANINGS = {
    "act__payload": "activation row slice: data = Kf FP32 lanes (lane i at bit 32i), first, "
    "final, last (and narrow with a narrow format), one bit each; INT8: then scale = 1/s_a",
    "act__valid": "activation beat offered",
    "act__ready": "engine accepts the activation beat (its input FIFO has room)",
    "w__payload": "weight row of a fold (the pod's w payload: C mantissas, C N:M indices if "
    "sparse, C exponents; FP32: C words; INT8: C codes, C FP32 output scales)",
    "w__valid": "weight beat offered",
    "w__ready": "engine accepts the weight beat (target bank free)",
    "res__payload": "result row: data = C FP32 words (column c at bit 32c), last",
    "res__valid": "result beat offered (held until taken)",
    "res__ready": "sink takes the result beat; 0 stalls the engine once its output FIFO fills",
    "error": "sticky: a fold streamed more rows than the tile height",
}


def engine_config(cfg: DesignConfig, *, names: dict[str, str] | None = None) -> dict[str, Any]:
    """Check the engine constraints of ``cfg``; return the :class:`hw.engine.Engine` kwargs."""
    names = {"block": "--block", "pipeline": "--pipeline", "tile": "--tile",
             "rounding": "--rounding", "stall": "--stall", **(names or {})}
    if cfg.stall != "enable":
        raise ConfigError(f"{names['stall']}={cfg.stall}: the engine's pod stalls with the "
                          "global clock enable (its cycle model and output buffer assume it); "
                          "the output-queue pod is built by the pod generator; accepted: "
                          "enable or leave it unset")
    if cfg.is_baseline:  # the FP32 and INT8 arrays: dense, one fold slice of R lanes a beat
        name = f"the {cfg.format.upper()} engine"
        if cfg.block_size != cfg.rows:
            raise ConfigError(f"{names['block']}={cfg.block_size}: {name} takes one fold slice "
                              f"(R = {cfg.rows} lanes) per beat; accepted: {cfg.rows} or leave "
                              "it unset")
        int8 = cfg.format == "int8"
        if int8 and cfg.rounding != "nearest_even":
            raise ConfigError(f"{names['rounding']}={cfg.rounding}: the INT8 engine's quantizer "
                              "rounds to nearest even; accepted: nearest_even or leave it unset")
        if not int8 and cfg.pipeline != 1:
            raise ConfigError(f"{names['pipeline']}={cfg.pipeline}: the FP32 engine has no "
                              "converter to pipeline; accepted: leave it unset")
        if not int8 and cfg.rounding != "nearest_even":
            raise ConfigError(f"{names['rounding']}={cfg.rounding}: the FP32 engine does no "
                              "conversion; accepted: leave it unset")
        return {"rows": cfg.rows, "cols": cfg.cols, "mant_bits": cfg.mant_bits,
                "acc_width": 32, "sparsity": (1, 1), "narrow_mant_bits": None,
                "tile": cfg.tile, "stochastic": False,
                "convert_pipeline": cfg.pipeline if int8 else 0,
                "normalize_pipeline": cfg.pipeline if int8 else 1, "arith": cfg.format}
    p = pod_config(cfg.replace(pipeline=1, rounding="nearest_even"),
                   names={**names, "block": names["block"]})
    kf = p["rows"] // p["sparsity"][0] * p["sparsity"][1]
    p.pop("stall")
    if p.pop("block_size") != kf:
        raise ConfigError(
            f"{names['block']}={cfg.block_size}: the engine's HBFP block is one fold slice of a "
            f"row (Kf = {kf} FP32 lanes per beat); accepted: {kf} or leave it unset")
    return {**p, "tile": cfg.tile, "stochastic": cfg.rounding == "stochastic",
            "convert_pipeline": cfg.pipeline, "normalize_pipeline": cfg.pipeline}


def geometry(p: dict[str, Any]) -> EngineGeometry:
    """The golden geometry of the engine built from kwargs ``p`` (:func:`engine_config`)."""
    return EngineGeometry(p["rows"], p["cols"], p["mant_bits"], p["acc_width"], p["tile"],
                          tuple(p["sparsity"]), p["narrow_mant_bits"], p["stochastic"],
                          p.get("offset_bits", 8), p.get("seed", 0x5EED),
                          p["convert_pipeline"], p["normalize_pipeline"], p.get("arith", "hbfp"))


def generate_engine(cfg: DesignConfig, *, names: dict[str, str] | None = None) -> Design:
    """Build the engine for ``cfg`` in memory (nothing written). Raises ConfigError."""
    p = engine_config(cfg, names=names)
    top = cfg.name or "sqgen_engine"
    eng = Engine(**p, prefix=top)
    modules, verilog_text = emit_hierarchy(eng, top)
    text = (
        f"// sqgen FP32 GEMM engine on a {eng.rows}x{eng.cols} {cfg.format} pod"
        f"{', sparsity ' + cfg.sparsity if cfg.sparsity else ''}, tile {eng.tile} rows.\n"
        f"// {top}_convert: FP32 -> HBFP; {top}_pod: the pod (its own modules below it);\n"
        f"// {top}_norm: HBFP -> FP32 per column; the top holds the FIFOs, the FP32 adders and\n"
        f"// the output buffer. Every module is emitted once. See docs/engine.md.\n"
        + verilog_text
    )
    manifest = design_manifest(
        kind="engine",
        top=top,
        config={**cfg.to_dict(), "block_size": eng.kf},
        ports=clock_ports() + port_table(eng, _MEANINGS),
        protocol=ENGINE_PROTOCOL,
        latency=eng.latency,
        extra={
            "modules": modules,
            "arith": eng.arith,
            "pod_module": f"{top}_pod",
            "fold_depth": eng.kf,
            "tile": eng.tile,
            "macs_per_cycle": eng.rows * eng.cols,
            "dense_equivalent_macs_per_cycle": eng.rows * eng.cols * eng.sparsity[1]
            // eng.sparsity[0],
            "output_buffer": {"rows": eng.tile, "word_bits": eng.cols * 32,
                              "bits": eng.buffer_bits, "read_latency": 1,
                              "implementation": "amaranth.lib.memory (one write port, one "
                              "synchronous read port transparent to it)"},
            "fifo_depths": {"input": eng.in_depth, "output": eng.out_depth},
            "pod_tags": list(ENGINE_TAGS),
            "latencies": {"input": eng.in_latency, "pod": eng.rows + eng.cols - 1,
                          "output": eng.out_latency},
            "payload_layout": payload_layout(eng),
            "cycle_formula": engine_cycles_formula(),
            "cycle_count_definition": "rising edges from the first one after reset with both "
            "input streams valid, to the one that takes the last result, inclusive; sources "
            "always valid, sink always ready (golden.engine.engine_cycles)",
            "tiling": "n-folds outer, row tiles of `tile` rows, k-folds inner; weights are "
            "sent once per (n, tile, k) fold (golden.engine.engine_schedule)",
        },
    )
    return Design(top, {f"{top}.v": text}, manifest)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("engine", help="FP32-in/FP32-out HBFP GEMM engine (issue 12)")
    add_design_args(p)
    p.add_argument("--lint", action="store_true", help="also run verilator --lint-only -Wall")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    cfg = design_from_args(args, baseline=True)
    names = {k: flag_name(args, f"--{k}")
             for k in ("block", "sparsity", "pipeline", "tile", "rounding")}
    design = generate_engine(cfg, names=names)
    if args.lint:
        design.lint()
    out = Path(args.out or f"build/engine_{cfg.rows}x{cfg.cols}")
    write(design, args, str(out))
    man = design.manifest
    c = man["config"]
    sp = c["sparsity"] or "dense"
    buf = man["output_buffer"]
    lines = [
        f"sqgen engine {cfg.rows}x{cfg.cols}  {c['format']}"
        f"{' (narrow ' + c['narrow_format'] + ')' if c['narrow_format'] else ''}  {sp}  "
        f"FP32 in/out  Kf {man['fold_depth']} lanes  tile {man['tile']} rows",
        f"  MACs per cycle {man['macs_per_cycle']}"
        + (f"  ({man['dense_equivalent_macs_per_cycle']} dense-equivalent)"
           if cfg.sparsity else ""),
        f"  output buffer  {buf['rows']} x {buf['word_bits']} bits = {buf['bits']} bits",
        f"  latency        {man['latency']} cycles act -> res (input "
        f"{man['latencies']['input']}, pod {man['latencies']['pod']}, FP32 "
        f"{man['latencies']['output']})",
        f"  wrote {out}/: "
        + ", ".join(json.loads((out / "manifest.json").read_text())["files"]),
        f"  ({time.perf_counter() - t0:.1f} s)",
    ]
    print("\n".join(lines))
    return 0
