"""``python -m gen convert|normalize|fp32mac``: the FP32 <-> HBFP blocks and the FP32 MAC.

``generate_convert``, ``generate_normalize`` and ``generate_fp32mac`` build Verilog plus
manifest in memory (registry entries of :mod:`gen.targets`); the subcommands lint the result
with Verilator and only then write it atomically, so a refused parameter or a lint failure
leaves nothing on disk. See ``docs/datapath_fp.md`` for the blocks themselves.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from gen.cli import add_design_args, design_from_args, flag_name, write
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
from golden.facts import PROD_EXP_WIDTH, default_acc_width
from hw.convert import FP32ToHBFP
from hw.fp32mac import FP32MAC
from hw.normalize import HBFPToFP32

__all__ = [
    "register",
    "generate_convert",
    "generate_normalize",
    "generate_fp32mac",
    "CONVERT_PROTOCOL",
    "NORMALIZE_PROTOCOL",
    "FP32MAC_PROTOCOL",
    "DEFAULT_OFFSET_BITS",
]

#: Random bits per lane and block of the stochastic converter unless --offset-bits says otherwise.
DEFAULT_OFFSET_BITS = 8
#: LFSR reset seed unless --seed says otherwise (equals golden.arith_fp.DEFAULT_LFSR_SEED).
DEFAULT_SEED = 0x5EED

CONVERT_PROTOCOL = STREAM_RULE + (
    "One block of FP32 bit patterns per beat on i (payload x[i], lane i). o carries it "
    "`latency` cycles later as an HBFP block: block.exp the shared exponent (signed, e itself: "
    "value = block.mant[i] * 2^(block.exp - m)) and block.mant the signed mantissas. "
    "e = max over the block of max(exponent field, 1) - 126; all-zero block -> e = -125. "
    "Rounding half to even (or stochastic: per-lane 32-bit LFSR x^32+x^22+x^2+x+1, offset_bits "
    "per block), then saturation to +-(2^m-1). A block with a NaN/Inf lane sets invalid, "
    "block.exp = 129 and all mantissas 0. See docs/datapath_fp.md."
)

NORMALIZE_PROTOCOL = STREAM_RULE + (
    "One value per beat on i (payload acc, exp: the dot unit's result layout). o carries it "
    "`latency` cycles later as f32 = FP32 bit pattern of acc * 2^(exp - frac_bits), rounded "
    "half to even. acc = 0 -> +0; overflow (biased exponent >= 255 after rounding) -> +-Inf; "
    "underflow (biased exponent <= 0 after rounding) -> zero of the value's sign (flush, no "
    "subnormals). See docs/datapath_fp.md."
)

FP32MAC_PROTOCOL = STREAM_RULE + (
    "One multiply-add per beat on i (payload a, b, first): acc <- round(round(a*b) + "
    "(first ? -0.0 : acc)), i.e. first starts a new sum with the product. o carries acc "
    "`latency` cycles later (one beat per input beat). Non-fused, round half to even; subnormal "
    "inputs read as zero, results below 2^-126 flush to signed zero, overflow -> +-Inf, NaN "
    "results are 0x7FC00000. See docs/datapath_fp.md."
)

_CONVERT_MEANINGS = {
    "i__valid": "a block is presented on i__payload this cycle (no backpressure)",
    "i__payload": "x = block_size FP32 bit patterns, lane i at bits [32i, 32i+32) "
    "(payload_layout.i)",
    "o__valid": "the block presented `latency` cycles ago is on o__payload",
    "o__payload": "block.mant = signed mantissas q (value q * 2^(e - m)), block.exp = shared "
    "exponent e (signed, unbiased; 129 = invalid block), invalid = the block had a NaN or Inf "
    "lane (mantissas forced to 0) (payload_layout.o)",
}

_NORMALIZE_MEANINGS = {
    "i__valid": "a value is presented on i__payload this cycle (no backpressure)",
    "i__payload": "acc = signed fixed-point significand (e.g. a dot unit's accumulator), exp = "
    "signed exponent: value = acc * 2^(exp - frac_bits) (payload_layout.i)",
    "o__valid": "the value presented `latency` cycles ago is on o__payload",
    "o__payload": "f32 = FP32 bit pattern, RNE, +-Inf on overflow, signed zero on underflow",
}

_FP32MAC_MEANINGS = {
    "i__valid": "a product a*b is presented on i__payload this cycle (no backpressure)",
    "i__payload": "a, b = FP32 bit patterns of the operands, first = start a new sum: acc <- "
    "a*b (the addend is -0.0 instead of acc) (payload_layout.i)",
    "o__valid": "the product presented `latency` cycles ago has been accumulated",
    "o__payload": "acc = FP32 accumulator after that product (holds while o__valid=0)",
}


def _cfg_subset(cfg: DesignConfig, keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in cfg.to_dict().items() if k in keys}


def generate_convert(
    cfg: DesignConfig,
    *,
    mant_bits: int | None = None,
    offset_bits: int = DEFAULT_OFFSET_BITS,
    seed: int = DEFAULT_SEED,
) -> Design:
    """FP32 -> HBFP converter for ``cfg`` (block ``cfg.block_size``, m from ``cfg.format``).

    ``mant_bits`` overrides the format's m (2..15); stochastic rounding follows
    ``cfg.rounding``. Raises :class:`ConfigError` on bad parameters, before any file exists.
    """

    mb = cfg.mant_bits if mant_bits is None else mant_bits
    dut = FP32ToHBFP(
        block_size=cfg.block_size, mant_bits=mb, pipeline=cfg.pipeline,
        stochastic=cfg.rounding == "stochastic", offset_bits=offset_bits, seed=seed,
    )
    top = cfg.name or "sqgen_convert"
    params: dict[str, Any] = {
        "block_size": dut.block_size,
        "mant_bits": dut.mant_bits,
        "pipeline": dut.latency,
        "rounding": "stochastic" if dut.stochastic else "nearest_even",
    }
    extra: dict[str, Any] = {"throughput": "1 block per cycle", "invalid_block_exp": 129}
    if dut.stochastic:
        params.update(offset_bits=dut.offset_bits, seed=dut.seed)
        extra["lfsr"] = {
            "width": 32,
            "polynomial": "x^32 + x^22 + x^2 + x + 1",
            "step": "s <- (s << 1) | (s[31] ^ s[21] ^ s[1] ^ s[0]), offset_bits steps per block",
            "offset": "low offset_bits bits of the lane's state before the block's steps",
            "lane_seeds": dut.lane_seeds(),
        }
    cfgd = _cfg_subset(cfg, ("format", "block_size", "rounding", "name"))
    if mant_bits is not None:
        cfgd.pop("format")
    return _design(dut, top, "convert", {**cfgd, **params}, _CONVERT_MEANINGS,
                   CONVERT_PROTOCOL, extra)


def generate_normalize(
    cfg: DesignConfig,
    *,
    acc_width: int | None = None,
    frac_bits: int | None = None,
    exp_width: int | None = None,
    mant_bits: int | None = None,
) -> Design:
    """HBFP -> FP32 normalizer sized for the dot unit of ``cfg``.

    Defaults: ``acc_width = cfg.acc_width``, ``frac_bits = 2 m`` (a product of two m-bit HBFP
    mantissas), ``exp_width = PROD_EXP_WIDTH`` (``e_a + e_b``).
    """

    mb = cfg.mant_bits if mant_bits is None else mant_bits
    try:
        fb = 2 * int(mb) if frac_bits is None else frac_bits
    except (TypeError, ValueError):
        raise ConfigError(f"mantissa width must be an integer, not {mb!r}") from None
    if mant_bits is not None and not 2 <= int(mb) <= 15:
        raise ConfigError(f"mantissa width must be 2..15 bits, not {mb}", field="mant_bits")
    dut = HBFPToFP32(
        acc_width=cfg.acc_width if acc_width is None else acc_width,
        frac_bits=fb,
        exp_width=PROD_EXP_WIDTH if exp_width is None else exp_width,
        pipeline=cfg.pipeline,
    )
    top = cfg.name or "sqgen_normalize"
    params = {
        "acc_width": dut.acc_width,
        "frac_bits": dut.frac_bits,
        "exp_width": dut.exp_width,
        "pipeline": dut.latency,
    }
    cfgd = _cfg_subset(cfg, ("format", "block_size", "name"))
    if mant_bits is not None:
        cfgd.pop("format")
    extra = {"throughput": "1 value per cycle", "underflow": "flush to signed zero",
             "overflow": "+-Inf", "zero": "+0"}
    return _design(dut, top, "normalize", {**cfgd, **params}, _NORMALIZE_MEANINGS,
                   NORMALIZE_PROTOCOL, extra)


def generate_fp32mac(cfg: DesignConfig) -> Design:
    """The FP32 multiply-accumulate baseline; only ``cfg.pipeline`` (1 or 2) applies."""

    dut = FP32MAC(pipeline=cfg.pipeline)
    top = cfg.name or "sqgen_fp32mac"
    extra = {"throughput": "1 multiply-add per cycle", "fused": False, "denormals": "flushed",
             "rounding": "nearest_even", "nan": "0x7FC00000"}
    return _design(dut, top, "fp32mac", {"pipeline": dut.latency, "name": cfg.name},
                   _FP32MAC_MEANINGS, FP32MAC_PROTOCOL, extra)


def _design(dut: Any, top: str, kind: str, config: dict[str, Any], meanings: dict[str, str],
            protocol: str, extra: dict[str, Any]) -> Design:
    text = to_verilog(dut, top)
    manifest = design_manifest(
        kind=kind, top=top, config=config, ports=clock_ports() + port_table(dut, meanings),
        protocol=protocol, latency=dut.latency,
        extra={**extra, "payload_layout": payload_layout(dut)},
    )
    return Design(top, {f"{top}.v": text}, manifest)




# ---- command line ---------------------------------------------------------------------------


def _int_arg(text: str | None, flag: str) -> int | None:
    if text is None:
        return None
    try:
        return int(str(text).strip(), 0)
    except ValueError:
        raise ConfigError(f"{flag} must be an integer, not {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="FP32 -> HBFP block converter (issue 3)")
    add_design_args(p, pod=False)
    p.add_argument("--mant-bits", metavar="M", help="override the mantissa width m (2..15)")
    p.add_argument("--offset-bits", metavar="B",
                   help=f"stochastic rounding: random bits per lane (1..32, default "
                   f"{DEFAULT_OFFSET_BITS})")
    p.add_argument("--seed", metavar="S", help="stochastic rounding: LFSR reset seed")
    p.add_argument("--no-lint", action="store_true", help="skip the Verilator lint check")
    p.set_defaults(func=_run_convert)

    q = sub.add_parser("normalize", help="HBFP -> FP32 normalizer (issue 3)")
    add_design_args(q, pod=False)
    q.add_argument("--mant-bits", metavar="M",
                   help="override m (frac_bits defaults to 2m, the scale of an HBFP product)")
    q.add_argument("--frac-bits", metavar="F", help="binary point: value = acc * 2^(exp - F)")
    q.add_argument("--exp-width", metavar="W", help="signed exponent input width (default 10)")
    q.add_argument("--no-lint", action="store_true", help="skip the Verilator lint check")
    q.set_defaults(func=_run_normalize)

    r = sub.add_parser("fp32mac", help="FP32 multiply-accumulate baseline (issue 3)")
    add_design_args(r, pod=False)
    r.add_argument("--no-lint", action="store_true", help="skip the Verilator lint check")
    r.set_defaults(func=_run_fp32mac)


def _finish(args: argparse.Namespace, design: Design) -> int:
    if args.out is None:
        raise ConfigError("--out DIR is required")
    if not args.no_lint:
        design.lint()
    out = write(design, args, args.out)
    print(f"wrote {out} (top {design.top}, latency {design.manifest['latency']})",
          file=sys.stderr)
    return 0


def _config(args: argparse.Namespace, with_override: bool) -> DesignConfig:
    if with_override:
        # With an explicit m the format's accumulator check no longer applies.
        args = argparse.Namespace(**{**vars(args), "acc_width": None, "narrow_format": None})
    return design_from_args(args)


def _run_convert(args: argparse.Namespace) -> int:
    mb = _int_arg(args.mant_bits, "--mant-bits")
    ob = _int_arg(args.offset_bits, "--offset-bits")
    seed = _int_arg(args.seed, flag_name(args, "--seed"))
    if seed is not None and not 0 <= seed <= 0xFFFFFFFF:
        raise ConfigError(f"{flag_name(args, '--seed')}={args.seed}: the LFSR seed must be in "
                          "0..2**32-1 (a 32-bit state); it is not folded")
    cfg = _config(args, mb is not None)
    design = generate_convert(
        cfg, mant_bits=mb, offset_bits=DEFAULT_OFFSET_BITS if ob is None else ob,
        seed=DEFAULT_SEED if seed is None else seed,
    )
    return _finish(args, design)


def _run_normalize(args: argparse.Namespace) -> int:
    mb = _int_arg(args.mant_bits, "--mant-bits")
    fb = _int_arg(args.frac_bits, "--frac-bits")
    ew = _int_arg(args.exp_width, "--exp-width")
    aw = _int_arg(args.acc_width, "--acc-width") if mb is not None else None
    cfg = _config(args, mb is not None)
    if mb is not None and aw is None:

        if not 2 <= mb <= 15:
            raise ConfigError(f"mantissa width must be 2..15 bits, not {mb}", field="mant_bits")
        aw = default_acc_width(mb, cfg.block_size)
    design = generate_normalize(cfg, acc_width=aw, frac_bits=fb, exp_width=ew, mant_bits=mb)
    return _finish(args, design)


def _run_fp32mac(args: argparse.Namespace) -> int:
    return _finish(args, generate_fp32mac(design_from_args(args)))
