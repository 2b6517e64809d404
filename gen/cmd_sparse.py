"""``python -m gen decoder|sparsedot``: N:M sparse-index decoder and sparse HBFP dot unit.

Both build from a :class:`gen.config.DesignConfig`: ``sparsity`` (required, ``N:M``),
``block_size`` (dense reduction terms per beat, a multiple of ``M``), ``format`` (mantissa width),
and for ``sparsedot`` also ``acc_width``, ``pipeline`` and ``narrow_format``. The manifest
documents the metadata bit layout on the ports (from :func:`golden.nm_hw.meta_layout`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gen.cli import add_design_args, design_from_args, write
from gen.config import ConfigError, DesignConfig
from gen.emit import (
    STREAM_RULE,
    Design,
    clock_ports,
    design_manifest,
    payload_layout,
    port_table,
    to_verilog,
)
from golden.nm_hw import index_bits, meta_layout
from hw.decoder import NMDecoder
from hw.sparsedot import SparseHBFPDot

__all__ = ["register", "generate_decoder", "generate_sparsedot", "META_ERROR_RULE"]

#: The sticky metadata-error rule, as stated in manifests and docs/sparsity.md.
META_ERROR_RULE = (
    "a beat violates when some group has idx[j] >= idx[j+1] for some j, or (M not a power of "
    "two) its last index >= M; meta_error is a register, 0 after rst: "
    "err(t+1) = (err(t) & ~clear(t)) | (i__valid(t) & violation(t)); it rises one cycle "
    "after the offending beat is presented and a violation wins over a simultaneous clear"
)


def _nm(cfg: DesignConfig, what: str) -> tuple[int, int]:
    nm = cfg.nm
    if nm is None:
        raise ConfigError(f"{what} needs a sparsity N:M (e.g. --sparsity 2:4), not dense")
    return nm


def _metadata_doc(n: int, m: int, groups: int, packed24: bool,
                  lay_i: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The metadata fields of the input payload: form, rule and, per kept lane, its bits inside
    ``i__payload`` (from ``payload_layout.i``, i.e. from the RTL's layout)."""
    ib = index_bits(m)
    field = lay_i["meta" if packed24 else "idx"]
    if packed24:
        form = (
            f"packed 2:4 nibbles in the {4 * groups}-bit payload field meta (i__payload bits "
            f"[{field['lsb'] + 4 * groups - 1}:{field['lsb']}]): group g in field bits "
            "[4g+3:4g] = idx0 | idx1 << 2 (REFERENCE.md section 4), idx0 < idx1"
        )
    else:
        form = (
            f"payload array field idx, one {ib}-bit element per kept lane k = g*N + j: the "
            "in-group index (0..M-1) of the j-th kept weight of group g, strictly increasing in j"
        )
    layout = []
    for row in meta_layout(n, m, groups, packed24=packed24):
        k = row["flat_lane"]
        lo = field["lsb"] + (4 * row["group"] + 2 * row["lane"] if packed24 else k * ib)
        w = 2 if packed24 else ib
        layout.append({"group": row["group"], "lane": row["lane"], "flat_lane": k,
                       "field": "meta" if packed24 else f"idx[{k}]", "port": "i__payload",
                       "bits": f"[{lo + w - 1}:{lo}]"})
    return {
        "sparsity": f"{n}:{m}",
        "groups_per_beat": groups,
        "kept_lanes": groups * n,
        "index_bits": ib,
        "form": "packed24" if packed24 else "per_lane",
        "description": form,
        "selection_window": "lane j of a group selects indices j..M-N+j ((M-N+1):1 mux); "
        "an index outside it selects 0 (and is a metadata violation)",
        "meta_error_rule": META_ERROR_RULE,
        "layout": layout,
    }


def generate_decoder(cfg: DesignConfig, *, packed24: bool = False) -> Design:
    """Build the N:M index decoder for ``cfg`` (groups = block / M, width = mantissa + sign)."""

    n, m = _nm(cfg, "the decoder")
    groups = cfg.block_size // m
    dut = NMDecoder(n=n, m=m, groups=groups, width=cfg.mant_bits + 1, packed24=packed24)
    top = cfg.name or "nm_decoder"
    text = to_verilog(dut, top)
    ports = clock_ports() + port_table(
        dut,
        {
            "i__valid": "a beat (activations + metadata) is presented on i__payload this cycle",
            "i__payload": f"act[k] = dense activation of group g = k // {m}, position k % {m}; "
            + ("meta = packed 2:4 nibbles, group g in field bits [4g+3:4g]" if packed24 else
               "idx[k] = in-group index of kept lane k = g*N + j")
            + " (payload_layout.i, metadata.layout)",
            "o__valid": "decoded beat valid (1 cycle after i__valid)",
            "o__payload": "act[k] = activation selected by lane k's index (0 if outside its "
            "window) (payload_layout.o)",
            "clear": "clear the sticky meta_error (a violation in the same cycle wins)",
            "meta_error": "sticky metadata error (see metadata.meta_error_rule)",
        },
    )
    man = design_manifest(
        kind="decoder",
        top=top,
        config=cfg.to_dict(),
        ports=ports,
        protocol=STREAM_RULE + "One beat per cycle; the output stream is registered (latency "
        "1), o__payload held between valid beats. clear and meta_error are plain ports.",
        latency={"cycles": dut.latency, "throughput_beats_per_cycle": 1},
        extra={
            "payload_layout": payload_layout(dut),
            "metadata": _metadata_doc(n, m, groups, packed24, payload_layout(dut)["i"]),
            "parameters": {"n": n, "m": m, "groups": groups, "width": dut.width,
                           "packed24": packed24},
        },
    )
    return Design(top, {f"{top}.v": text}, man)


def generate_sparsedot(
    cfg: DesignConfig, *, packed24: bool = False, decoder_register: bool = False
) -> Design:
    """Build the sparse HBFP dot unit: decoder + ``HBFPDot(lanes = N*block/M)``.

    Latency ``cfg.pipeline`` cycles, one more with ``decoder_register``.
    """

    n, m = _nm(cfg, "the sparse dot unit")
    dut = SparseHBFPDot(
        n=n, m=m, block=cfg.block_size, mant_bits=cfg.mant_bits, acc_width=cfg.acc_width,
        pipeline=cfg.pipeline, narrow_mant_bits=cfg.narrow_mant_bits, packed24=packed24,
        decoder_register=decoder_register,
    )
    top = cfg.name or "sparse_dot"
    text = to_verilog(dut, top)
    mw = cfg.mant_bits + 1
    ports = clock_ports() + port_table(
        dut,
        {
            "i__valid": "a beat (compressed weight block + dense activation block) is presented "
            "on i__payload",
            "i__payload": f"a = compressed weight block (a.mant[k]: {mw}-bit signed mantissa of "
            "kept lane k = g*N + j, a.exp its shared exponent), b = dense activation block "
            f"(b.mant[i]: {mw}-bit signed, group i // {m}; b.exp), first = this beat starts a "
            "new accumulation, mode (narrow formats only) = 1: narrow operands, "
            + ("meta = packed 2:4 nibbles, group g in field bits [4g+3:4g]" if packed24 else
               "idx[k] = in-group index of kept lane k")
            + " (payload_layout.i, metadata.layout)",
            "o__valid": f"result valid, {dut.latency} cycles after i__valid",
            "o__payload": "acc = running accumulation, exp = its exponent: value = acc * "
            "2^(exp - 2*m_mode) (payload_layout.o)",
            "clear": "clear the sticky meta_error (a violation in the same cycle wins)",
            "meta_error": "sticky metadata error (see metadata.meta_error_rule)",
        },
    )
    man = design_manifest(
        kind="sparsedot",
        top=top,
        config=cfg.to_dict(),
        ports=ports,
        protocol=STREAM_RULE + "One beat per cycle; accumulation as the dense dot unit "
        "(docs/dot.md); meta_error rises 1 cycle after the offending beat. clear and meta_error "
        "are plain ports.",
        latency={"cycles": dut.latency, "decoder": int(decoder_register),
                 "dot": cfg.pipeline, "throughput_beats_per_cycle": 1},
        extra={
            "payload_layout": payload_layout(dut),
            "metadata": _metadata_doc(n, m, dut.groups, packed24, payload_layout(dut)["i"]),
            "parameters": {"n": n, "m": m, "block": cfg.block_size, "lanes": dut.lanes,
                           "multipliers": dut.lanes, "dense_macs_per_beat": cfg.block_size,
                           "mant_bits": cfg.mant_bits, "narrow_mant_bits": cfg.narrow_mant_bits,
                           "acc_width": dut.acc_width, "pipeline": cfg.pipeline,
                           "packed24": packed24, "decoder_register": decoder_register},
        },
    )
    return Design(top, {f"{top}.v": text}, man)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``decoder`` and ``sparsedot`` subcommands."""
    for name, help_ in (
        ("decoder", "N:M sparse-index decoder with metadata checking"),
        ("sparsedot", "sparse HBFP dot-product unit (N:M-compressed weights x dense block)"),
    ):
        p = sub.add_parser(name, help=help_, description=help_)
        add_design_args(p, pod=False)
        p.add_argument("--packed24", action="store_true",
                       help="take 2:4 metadata as packed nibbles on one bus (2:4 only)")
        if name == "sparsedot":
            p.add_argument("--decoder-register", action="store_true",
                           help="register the decoder's selections (+1 cycle latency)")
        p.add_argument("--no-lint", action="store_true", help="skip the Verilator lint check")
        p.set_defaults(func=run, target=name)


def run(args: argparse.Namespace) -> int:
    """Validate, generate, lint (unless ``--no-lint``) and write atomically; 0 on success."""
    cfg = design_from_args(args)
    if cfg.nm is None:
        raise ConfigError(f"{args.target} needs --sparsity N:M (e.g. 2:4)")
    if args.out is None:
        raise ConfigError("--out DIR is required")
    if args.target == "decoder":
        design = generate_decoder(cfg, packed24=args.packed24)
    else:
        design = generate_sparsedot(cfg, packed24=args.packed24,
                                    decoder_register=args.decoder_register)
    if not args.no_lint:
        design.lint()  # in a scratch directory: a lint failure writes nothing
    out = write(design, args, args.out)
    print(f"wrote {out} (top {design.top}, latency {design.manifest['latency']['cycles']} "
          f"cycles)", file=sys.stderr)
    return 0
