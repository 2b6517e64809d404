"""Registry of generator entry points: target name -> ``generate(cfg) -> gen.emit.Design``.

Used by the CLI, the area flow, the benches and tests to build any design the same way.
"""

from __future__ import annotations

from collections.abc import Callable

from gen import cmd_datapath, cmd_engine, cmd_fp, cmd_pod, cmd_sparse
from gen.config import ConfigError, DesignConfig
from gen.emit import Design

__all__ = ["TARGETS", "generate", "design_label"]

TARGETS: dict[str, Callable[[DesignConfig], Design]] = {
    "pod": cmd_pod.generate_pod,
    "engine": cmd_engine.generate_engine,
    "dot": cmd_datapath.generate_dot,
    "sparsedot": cmd_sparse.generate_sparsedot,
    "convert": cmd_fp.generate_convert,
    "normalize": cmd_fp.generate_normalize,
    "fp32mac": cmd_fp.generate_fp32mac,
    "decoder": cmd_sparse.generate_decoder,
    "int8mac": cmd_datapath.generate_int8mac,
}

#: Targets that only exist with N:M sparsity.
SPARSE_ONLY = ("sparsedot", "decoder")


def generate(target: str, cfg: DesignConfig, *, what: str = "target") -> Design:
    """Build ``target`` for design point ``cfg`` in memory (nothing is written).

    ``what`` is the name the user typed for the target (``TARGET`` under make).
    """
    if target not in TARGETS:
        raise ConfigError(f"{what}={target!r}: must be one of {', '.join(TARGETS)}")
    if cfg.is_baseline and target != "engine":
        raise ConfigError(f"format {cfg.format}: the {cfg.format.upper()} baseline array is "
                          f"built by the engine generator ({what}=engine); the "
                          f"{cfg.format.upper()} MAC block is {what}={cfg.format}mac",
                          field="format")
    if target in SPARSE_ONLY and cfg.nm is None:
        raise ConfigError(f"{what}={target}: needs a sparsity N:M (e.g. 2:4)")
    return TARGETS[target](cfg)


def design_label(target: str, cfg: DesignConfig) -> str:
    """Directory name of a design point under ``build/area/``, e.g. ``pod_8x8_hbfp6_2of4``."""
    if target == "int8mac":
        return "int8mac"
    if target == "fp32mac":
        return "fp32mac"
    parts = [target]
    if target in ("pod", "engine"):
        parts.append(f"{cfg.rows}x{cfg.cols}")
    parts.append(cfg.format)
    if target != "pod" or cfg.block_size != cfg.rows:
        parts.append(f"b{cfg.block_size}")
    if cfg.narrow_format:
        parts.append(f"n{cfg.narrow_format}")
    if cfg.sparsity:
        parts.append(cfg.sparsity.replace(":", "of"))
    return "_".join(parts)
