"""``python -m gen pod`` (``make gen POD=RxC``): the weight-stationary HBFP systolic pod (issue 5).

``generate_pod(cfg)`` builds the design in memory: the PE is converted once as its own Verilog
module (``<top>_pe``) and the pod instantiates it R x C times as a black box, so the output
stays small, readable and quick to compile. ``run`` validates, writes ``build/pod_RxC/``
atomically (nothing on error) and prints a one-screen summary.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from gen.cli import add_design_args, design_from_args, flag_name, write
from gen.config import ConfigError, DesignConfig
from gen.emit import Design, clock_ports, design_manifest, payload_layout, port_table
from gen.hier import emit_hierarchy
from golden.systolic import cycles_formula
from hw.pod import Pod

__all__ = ["register", "run", "generate_pod", "pod_config", "POD_PROTOCOL"]

POD_PROTOCOL = (
    "Three lib.stream valid/ready streams, transfer on a rising edge with valid=1 and ready=1; "
    "valid never waits for ready. RESET: rst is synchronous, active high; one rising edge with "
    "rst=1 clears the bank-full flags, drain counters, bank pointers, load_row and token valid "
    "bits (then res.valid=0, act.ready=0, w.ready=1); datapath registers (weights, partial sums, "
    "skew lines) are not reset and never observed; keep w.valid and act.valid at 0 during reset; "
    "outputs mean nothing before the first reset. LOAD: send R beats on w per fold (beat j = "
    "physical weight row j, row 0 first; C mantissas, C N:M indices if sparse (an index >= M "
    "selects 0), C exponents taken from beat R-1). "
    "STREAM: send the fold's activation rows on act (Kf mantissas + shared exponent), last=1 on "
    "the fold's final row; act.ready stays 0 until that fold's weights are loaded. Folds pair up "
    "in order; the next fold's weights load into the other bank while the current fold streams. "
    "DRAIN: every act beat yields exactly one res beat, in order, R+C-1 advancing cycles later: "
    "C exact integer column sums with value psum[c] * 2^(exp[c] - 2m), exp[c] = e_a + e_w[c], "
    "last copied. The pod stalls only while a result waits untaken (advance = ~res.valid | "
    "res.ready): with res.valid=0 it keeps advancing whatever res.ready is, so a sink holding "
    "res.ready=0 still lets R+C-1 act beats in; results are never dropped. The narrow port "
    "exists only with a narrow format: it is sampled with each accepted act beat, and that "
    "row's mantissas and the stored weights they multiply are read from their low narrow_m+1 "
    "bits (scale 2^(exp - 2*narrow_m)); it may change at any beat. See docs/pod.md."
)

_MEANINGS = {
    "act__payload": "activation row: data = Kf signed mantissas (element i at bit i*(m+1)), "
    "exp = shared exponent e_a (signed 9), last = final row of the fold",
    "act__valid": "activation beat offered",
    "act__ready": "pod accepts the activation beat (its fold's weights are loaded and no "
    "untaken result is held)",
    "w__payload": "weight row of a fold: data = C signed mantissas (column c at bit c*(m+1)), "
    "idx = C N:M indices (sparse only; an index >= M selects 0), exp = C weight exponents e_w "
    "(signed 9 each, used from the fold's last beat)",
    "w__valid": "weight beat offered",
    "w__ready": "pod accepts the weight beat (target bank free)",
    "res__payload": "result row: data = C signed acc_width-bit exact column sums, exp = C signed "
    "10-bit exponents e_a + e_w[c] (value = data * 2^(exp - 2m)), last = copied from act",
    "res__valid": "result beat offered (held until taken)",
    "res__ready": "sink takes the result beat; 0 while res__valid=1 stalls the whole pod "
    "(with no result waiting the pod keeps advancing)",
    "narrow": "run-time narrow (mixed-mantissa) mode, sampled with each act beat: that row's "
    "operands are read from their low narrow_m+1 bits (port present only with a narrow format)",
}


def pod_config(cfg: DesignConfig, *, names: dict[str, str] | None = None) -> dict[str, Any]:
    """Check the pod-specific constraints of ``cfg`` and return the :class:`hw.pod.Pod` kwargs.

    ``names`` maps ``"block"``/``"sparsity"`` to the name the user typed (``BLOCK`` under make).
    With N:M sparsity the default block is the fold depth R*M/N; a block that is not a
    multiple of it is refused, never widened.
    """
    names = {"block": "--block", "sparsity": "--sparsity", "pipeline": "--pipeline",
             "rounding": "--rounding", **(names or {})}
    if cfg.is_baseline:
        raise ConfigError(f"format {cfg.format}: the {cfg.format.upper()} baseline array is "
                          f"built by the engine generator (make gen TOP=engine "
                          f"FMT={cfg.format})", field="format")
    if cfg.pipeline != 1:
        raise ConfigError(
            f"{names['pipeline']}={cfg.pipeline}: a pod has no pipeline depth (its latency is "
            "R + C - 1 cycles); accepted: leave it unset"
        )
    if cfg.rounding != "nearest_even":
        raise ConfigError(
            f"{names['rounding']}={cfg.rounding}: a pod takes HBFP operands and does no "
            "rounding; accepted: leave it unset (rounding is a converter parameter)"
        )
    n, m = cfg.nm or (1, 1)
    R = cfg.rows
    if R % n:
        raise ConfigError(
            f"{names['sparsity']}={cfg.sparsity}: N={n} must divide the pod rows {R} "
            "(each group of N physical rows serves M reduction elements); accepted: N:M with "
            f"N dividing {R}, e.g. 2:4"
        )
    kf = R // n * m
    block = cfg.block_size
    if block % kf:
        raise ConfigError(
            f"{names['block']}={cfg.block_size} does not fit the rows: the HBFP block must be a "
            f"multiple of the fold depth {kf} (pod rows {R}" + (f" x {m}/{n}" if n > 1 else "")
            + f") so each fold lies in one block; accepted: {kf}, {2 * kf}, ..."
        )
    return {
        "rows": R, "cols": cfg.cols, "mant_bits": cfg.mant_bits, "acc_width": cfg.acc_width,
        "sparsity": (n, m), "narrow_mant_bits": cfg.narrow_mant_bits, "block_size": block,
        "stall": cfg.stall,
    }


def generate_pod(cfg: DesignConfig, *, names: dict[str, str] | None = None) -> Design:
    """Build the pod for ``cfg`` in memory (nothing written). Raises ConfigError on bad input."""

    p = pod_config(cfg, names=names)
    block = p.pop("block_size")
    top = cfg.name or "sqgen_pod"
    pod = Pod(**p, prefix=top)
    pe_name, row_name, array_name = f"{top}_pe", f"{top}_row{pod.cols}", f"{top}_array{pod.rows}"
    # Amaranth's converter flattens and copies every submodule; converting each distinct module
    # once and instantiating it as a black box keeps the text small, and building rows, arrays
    # and skews by doubling keeps every module small: generation is near-linear in R + C.
    modules, verilog_text = emit_hierarchy(pod, top)
    text = (
        f"// sqgen weight-stationary HBFP pod {pod.rows}x{pod.cols}, {cfg.format}"
        f"{', sparsity ' + cfg.sparsity if cfg.sparsity else ''}.\n"
        f"// {pe_name} is one PE; {row_name} is one row of {pod.cols} PEs and {array_name} the\n"
        f"// {pod.rows}-row PE array, each built from halves (<top>_rowN, <top>_arrayN); the\n"
        f"// <top>_skew*/<top>_delay* modules are the input skew and output de-skew. Every module\n"
        f"// is emitted once. See docs/pod.md and manifest.json.\n"
        + verilog_text
    )
    regs = pod.register_bits
    config = {**cfg.to_dict(), "block_size": block}
    manifest = design_manifest(
        kind="pod",
        top=top,
        config=config,
        ports=clock_ports() + port_table(pod, _MEANINGS),
        protocol=POD_PROTOCOL,
        latency=pod.latency,
        extra={
            "pe_module": pe_name,
            "row_module": row_name,
            "array_module": array_name,
            "modules": modules,
            "pe_instances": pod.rows * pod.cols,
            "fold_depth": pod.kf,
            "macs_per_cycle": pod.rows * pod.cols,
            "dense_equivalent_macs_per_cycle": pod.rows * pod.cols * pod.m // pod.n,
            "register_bits": regs,
            "payload_layout": payload_layout(pod),
            "cycle_formula": cycles_formula(),
            "cycle_count_definition": "rising edges from the first one after reset with both "
            "input streams valid, to the one that takes the last result, inclusive; sources "
            "always valid, sink always ready (golden.systolic.cycles)",
            "tiling": "fold = Kf x C slice of the K x N weights, n-fold outer, k-fold inner; "
            "each fold streams all M activation rows; K-fold partial sums are accumulated in FP "
            "outside the pod (golden.systolic.accumulate_fp)",
        },
    )
    return Design(top, {f"{top}.v": text}, manifest)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pod", help="weight-stationary HBFP systolic pod (issue 5)")
    add_design_args(p)
    p.add_argument("--lint", action="store_true", help="also run verilator --lint-only -Wall")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    cfg = design_from_args(args)
    names = {k: flag_name(args, f"--{k}") for k in ("block", "sparsity", "pipeline", "rounding")}
    design = generate_pod(cfg, names=names)
    if args.lint:
        design.lint()
    out = Path(args.out or f"build/pod_{cfg.rows}x{cfg.cols}")
    write(design, args, str(out))
    man = design.manifest
    regs = man["register_bits"]
    c = man["config"]
    sp = c["sparsity"] or "dense"
    lines = [
        f"sqgen pod {cfg.rows}x{cfg.cols}  {c['format']}"
        f"{' (narrow ' + c['narrow_format'] + ')' if c['narrow_format'] else ''}  {sp}  "
        f"block {c['block_size']}  acc {c['acc_width']} bits",
        f"  PEs            {man['pe_instances']} instances of one module {man['pe_module']}",
        f"  MACs per cycle {man['macs_per_cycle']}"
        + (f"  ({man['dense_equivalent_macs_per_cycle']} dense-equivalent with {sp})"
           if cfg.sparsity else ""),
        f"  register bits  {regs['total']} (no SRAM): PE array {regs['pe_array']}, input skew "
        f"{regs['input_skew']}, output de-skew {regs['output_deskew']}, other "
        f"{regs['total'] - regs['pe_array'] - regs['input_skew'] - regs['output_deskew']}",
        f"  latency        {man['latency']} cycles act -> res; fold depth Kf = {man['fold_depth']}",
        "  cycles(M,N,K)  F*M + 2R + C - 1 when M >= R+C (exact recurrence in manifest.json)",
        f"  wrote {out}/: "
        + ", ".join(json.loads((out / "manifest.json").read_text())["files"]),
        f"  ({time.perf_counter() - t0:.1f} s)",
    ]
    print("\n".join(lines))
    return 0


