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
from gen.emit import Design, clock_ports, design_manifest, port_table, to_verilog
from golden.nm_hw import index_bits, meta_layout
from hw.decoder import NMDecoder
from hw.sparsedot import SparseHBFPDot

__all__ = ["register", "generate_decoder", "generate_sparsedot", "META_ERROR_RULE"]

#: The sticky metadata-error rule, as stated in manifests and docs/sparsity.md.
META_ERROR_RULE = (
    "a beat violates when some group has idx[j] >= idx[j+1] for some j, or (M not a power of "
    "two) its last index >= M; meta_error is a register, 0 after rst: "
    "err(t+1) = (err(t) & ~in_clear(t)) | (in_valid(t) & violation(t)); it rises one cycle "
    "after the offending beat is presented and a violation wins over a simultaneous clear"
)


def _nm(cfg: DesignConfig, what: str) -> tuple[int, int]:
    nm = cfg.nm
    if nm is None:
        raise ConfigError(f"{what} needs a sparsity N:M (e.g. --sparsity 2:4), not dense")
    return nm


def _metadata_doc(
    n: int, m: int, groups: int, packed24: bool, prefix_idx: str, prefix_meta: str
) -> dict[str, Any]:

    ib = index_bits(m)
    if packed24:
        form = (
            f"packed 2:4 nibbles on one {4 * groups}-bit bus {prefix_meta}: group g in bits "
            "[4g+3:4g] = idx0 | idx1 << 2 (REFERENCE.md section 4), idx0 < idx1"
        )
    else:
        form = (
            f"one {ib}-bit port {prefix_idx}__k per kept lane k = g*N + j: the in-group index "
            "(0..M-1) of the j-th kept weight of group g, strictly increasing in j"
        )
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
        "layout": meta_layout(
            n, m, groups, packed24=packed24, prefix=prefix_meta if packed24 else prefix_idx
        ),
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
            "in_valid": "a beat (activations + metadata) is presented this cycle",
            "in_clear": "clear the sticky meta_error (a violation in the same cycle wins)",
            "in_act": f"dense activation of group g = k // {m}, position k % {m}",
            "in_idx": "in-group index of kept lane k = g*N + j (see metadata.layout)",
            "in_meta": "packed 2:4 nibbles, group g in bits [4g+3:4g] (see metadata.layout)",
            "out_valid": "decoded beat valid (1 cycle after in_valid)",
            "out_act": "activation selected by lane k's index (0 if outside its window)",
            "meta_error": "sticky metadata error (see metadata.meta_error_rule)",
        },
    )
    man = design_manifest(
        kind="decoder",
        top=top,
        config=cfg.to_dict(),
        ports=ports,
        protocol="valid only, no backpressure: one beat per cycle; outputs registered, "
        "out_act held between valid beats",
        latency={"cycles": dut.latency, "throughput_beats_per_cycle": 1},
        extra={
            "metadata": _metadata_doc(n, m, groups, packed24, "in_idx", "in_meta"),
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
            "in_valid": "a beat (compressed weight block + dense activation block) is presented",
            "in_first": "this beat starts a new accumulation",
            "in_mode": "1 = narrow (mixed-mantissa) operands, sign-extended on the wide ports",
            "in_clear": "clear the sticky meta_error (a violation in the same cycle wins)",
            "in_w_exp": "shared exponent e of the weight block (signed, not biased)",
            "in_a_exp": "shared exponent e of the activation block (signed, not biased)",
            "in_w": f"compressed weight mantissa of kept lane k = g*N + j ({mw}-bit signed)",
            "in_w_idx": "in-group index of kept lane k (see metadata.layout)",
            "in_w_meta": "packed 2:4 nibbles, group g in bits [4g+3:4g] (see metadata.layout)",
            "in_a": f"dense activation mantissa ({mw}-bit signed), group k // {m}",
            "out_valid": f"result valid, {dut.latency} cycles after in_valid",
            "out_acc": "running accumulation; value = out_acc * 2^(out_exp - 2*m_mode)",
            "out_exp": "exponent of out_acc (see out_acc)",
            "meta_error": "sticky metadata error (see metadata.meta_error_rule)",
        },
    )
    man = design_manifest(
        kind="sparsedot",
        top=top,
        config=cfg.to_dict(),
        ports=ports,
        protocol="valid only, no backpressure: one beat per cycle; accumulation as the dense "
        "dot unit (docs/dot.md); meta_error rises 1 cycle after the offending beat",
        latency={"cycles": dut.latency, "decoder": int(decoder_register),
                 "dot": cfg.pipeline, "throughput_beats_per_cycle": 1},
        extra={
            "metadata": _metadata_doc(n, m, dut.groups, packed24, "in_w_idx", "in_w_meta"),
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
