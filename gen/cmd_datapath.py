"""``python -m gen dot``: the HBFP dot-product unit (issue 3, block 2).

``generate_dot(cfg)`` builds the Verilog and manifest in memory (see :mod:`gen.targets`);
``python -m gen dot ... --out DIR`` lints it and writes it atomically. ``--mant-bits`` and
``--narrow-mant-bits`` reach widths the named formats do not cover (m = 2..15).
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
from golden.facts import default_acc_width
from hw.dot import HBFPDot
from hw.int8mac import Int8Mac

__all__ = [
    "register", "run", "generate_dot", "generate_int8mac", "build_dot", "dot_params",
    "DOT_PROTOCOL", "INT8MAC_PROTOCOL",
]

DOT_PROTOCOL = STREAM_RULE + (
    "One block pair per beat on i: HBFP blocks a and b (mant = lanes signed mantissas, exp = "
    "shared exponent), first = 1 restarts the accumulation with this block, mode = 1 (only "
    "with a narrow format) selects the narrow mantissas. o carries one beat per input beat "
    "exactly `latency` cycles later: acc, the running accumulation after that block, and exp. "
    "Value = acc * 2^(exp - 2*m_mode), m_mode = narrow_mant_bits if that block had mode=1 else "
    "mant_bits. Across blocks the smaller-exponent side is shifted right (floor) to the larger "
    "exponent, added, and saturated to acc_width bits. In narrow mode each mantissa's low "
    "narrow_mant_bits+1 bits are used (the upper field bits are ignored). The o layout (acc, "
    "exp) is the normalizer's i layout. See docs/dot.md."
)

INT8MAC_PROTOCOL = STREAM_RULE + (
    "One multiply-accumulate per beat on i (payload a, b, first; i__valid is the enable): "
    "acc <- (first ? 0 : acc) + a*b, two's complement, wrapping modulo 2^acc_width. o carries "
    "acc one cycle later (one beat per input beat); it holds otherwise."
)


def dot_params(cfg: DesignConfig, *, mant_bits: int | None = None,
               narrow_mant_bits: int | None = None, acc_width: int | None = None) -> dict[str, Any]:
    """HBFPDot keyword arguments for a design point, with optional width overrides.

    With a ``mant_bits`` override the format's narrow width and accumulator width no longer
    apply: ``narrow_mant_bits`` must be given explicitly (or none), and ``acc_width`` defaults to
    the exact width plus 8 bits of headroom.
    """
    if mant_bits is None:
        mb = cfg.mant_bits
        nmb = cfg.narrow_mant_bits if narrow_mant_bits is None else narrow_mant_bits
        aw = cfg.acc_width if acc_width is None else acc_width
    else:
        mb, nmb = mant_bits, narrow_mant_bits
        aw = acc_width
    if aw is None:
        try:
            aw = default_acc_width(int(mb), cfg.block_size)
        except (TypeError, ValueError):
            aw = 0  # HBFPDot reports the bad mantissa width
    return {
        "lanes": cfg.block_size,
        "mant_bits": mb,
        "acc_width": aw,
        "pipeline": cfg.pipeline,
        "narrow_mant_bits": nmb,
    }


_MEANINGS = {
    "i__valid": "a block pair is presented on i__payload this cycle (no backpressure)",
    "i__payload": "a.mant, b.mant = signed mantissas of blocks a and b (lane i = element i); "
    "a.exp, b.exp = their shared exponents e_a, e_b (signed, the exponents themselves); first "
    "= this block restarts the accumulation (acc := block sum, exp := e_a + e_b); mode (narrow "
    "formats only) = 1: operands are the low narrow_mant_bits+1 bits, output scale uses "
    "2*narrow_mant_bits (payload_layout.i)",
    "o__valid": "one beat per input block, `latency` cycles after it",
    "o__payload": "acc = running accumulation after this block (signed, saturated at "
    "acc_width), exp = its exponent: value = acc * 2^(exp - 2*m_mode) (payload_layout.o)",
}

_INT8MAC_MEANINGS = {
    "i__valid": "accumulate the product presented on i__payload this cycle (the enable)",
    "i__payload": "a, b = signed 8-bit operands, first = start a new sum with this product "
    "(payload_layout.i)",
    "o__valid": "the product presented one cycle ago has been accumulated",
    "o__payload": "acc = registered 32-bit accumulator (payload_layout.o)",
}


def build_dot(
    *,
    lanes: int,
    mant_bits: int,
    acc_width: int,
    pipeline: int = 1,
    narrow_mant_bits: int | None = None,
    name: str | None = None,
    config: dict[str, Any] | None = None,
) -> Design:
    """Elaborate an :class:`hw.dot.HBFPDot` into a :class:`gen.emit.Design` (nothing written).

    Raises :class:`gen.config.ConfigError` for out-of-range parameters.
    """

    dut = HBFPDot(lanes=lanes, mant_bits=mant_bits, acc_width=acc_width, pipeline=pipeline,
                  narrow_mant_bits=narrow_mant_bits)
    top = name or "sqgen_dot"
    text = to_verilog(dut, top)
    params = {
        "lanes": dut.lanes,
        "mant_bits": dut.mant_bits,
        "narrow_mant_bits": dut.narrow_mant_bits,
        "acc_width": dut.acc_width,
        "pipeline": dut.pipeline,
    }
    manifest = design_manifest(
        kind="dot",
        top=top,
        config={**(config or {}), **params},
        ports=clock_ports() + port_table(dut, _MEANINGS),
        protocol=DOT_PROTOCOL,
        latency=dut.latency,
        extra={
            "throughput": "1 block pair per cycle",
            "pipeline_cuts": {
                "levels": dut.cuts,
                "meaning": "register after level L: 0 = products, t = adder-tree level t; the "
                "accumulator register is always the last stage",
            },
            "alignment": "max-exponent, smaller side shifted right arithmetically (floor); "
            "sum saturated to acc_width",
            "reset_state": {"acc": 0, "exp": -512},
            "payload_layout": payload_layout(dut),
        },
    )
    return Design(top, {f"{top}.v": text}, manifest)


def generate_dot(
    cfg: DesignConfig,
    *,
    mant_bits: int | None = None,
    narrow_mant_bits: int | None = None,
    acc_width: int | None = None,
) -> Design:
    """Build the dot unit for ``cfg`` (lanes = ``cfg.block_size``); see :func:`dot_params`."""
    p = dot_params(cfg, mant_bits=mant_bits, narrow_mant_bits=narrow_mant_bits,
                   acc_width=acc_width)
    cfgd = {k: v for k, v in cfg.to_dict().items()
            if k in ("format", "narrow_format", "block_size", "name")}
    if mant_bits is not None:  # the format names no longer describe the widths
        cfgd.pop("format")
        cfgd.pop("narrow_format")
    return build_dot(**p, name=cfg.name, config=cfgd)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dot", help="HBFP dot-product unit with accumulator (issue 3)")
    add_design_args(p, pod=False)
    p.add_argument("--mant-bits", metavar="M",
                   help="override the wide mantissa width m (2..15) set by --format")
    p.add_argument("--narrow-mant-bits", metavar="N",
                   help="override the narrow width n (2..m-1) set by --narrow-format")
    p.add_argument("--no-lint", action="store_true", help="skip the Verilator lint check")
    p.set_defaults(func=run)


def _int_arg(text: str | None, flag: str) -> int | None:
    if text is None:
        return None
    try:
        return int(str(text).strip())
    except ValueError:
        raise ConfigError(f"{flag} must be an integer, not {text!r}") from None


def run(args: argparse.Namespace) -> int:
    mb = _int_arg(args.mant_bits, "--mant-bits")
    nmb = _int_arg(args.narrow_mant_bits, "--narrow-mant-bits")
    aw = None
    if mb is not None:
        # DesignConfig checks acc_width and narrow_format against --format's m; with an explicit
        # m those checks belong to HBFPDot instead.
        aw = _int_arg(args.acc_width, "--acc-width")
        if args.narrow_format is not None and nmb is None:
            raise ConfigError("with --mant-bits give the narrow width as --narrow-mant-bits")
        args = argparse.Namespace(**{**vars(args), "acc_width": None, "narrow_format": None})
    cfg = design_from_args(args)
    if args.out is None:
        raise ConfigError("--out DIR is required")
    design = generate_dot(cfg, mant_bits=mb, narrow_mant_bits=nmb, acc_width=aw)
    if not args.no_lint:
        design.lint()
    out = write(design, args, args.out)
    print(f"wrote {out} (top {design.top}, latency {design.manifest['latency']})",
          file=sys.stderr)
    return 0


def generate_int8mac(cfg: DesignConfig | None = None) -> Any:
    """The INT8 MAC baseline (:class:`hw.int8mac.Int8Mac`) as a :class:`gen.emit.Design`."""
    dut = Int8Mac()
    top = "int8mac"
    text = to_verilog(dut, top)
    ports = clock_ports() + port_table(dut, _INT8MAC_MEANINGS)
    man = design_manifest(kind="int8mac", top=top, config={"width": 8, "acc_width": 32},
                          ports=ports, protocol=INT8MAC_PROTOCOL, latency=dut.latency,
                          extra={"payload_layout": payload_layout(dut)})
    return Design(top, {f"{top}.v": text}, man)
