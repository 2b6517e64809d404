"""Design-point configuration: one frozen dataclass that YAML files and CLI flags both land in.

Every generator (`python -m gen <cmd>`) starts from a :class:`DesignConfig`. Validation happens in
``__post_init__`` so that a bad value is refused before anything is elaborated or written.
Errors are :class:`ConfigError` (a ``ValueError``) carrying one readable line.
"""

from __future__ import annotations

import dataclasses
import operator
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from golden.facts import (
    HBFP_FORMATS,
    ParamError,
    default_acc_width,
    hbfp_mant_bits,
    min_acc_width,
    parse_nm,
)

__all__ = [
    "ConfigError",
    "DesignConfig",
    "FORMATS",
    "format_mant_bits",
    "parse_pod",
    "parse_sparsity",
    "min_acc_width",
    "load_yaml",
]

#: HBFP format name -> magnitude mantissa bits ``m`` (the registry's HBFP entries).
FORMATS = HBFP_FORMATS
#: A refused design-point value (the project's one parameter-error type).
ConfigError = ParamError
format_mant_bits = hbfp_mant_bits
parse_sparsity = parse_nm


def _pos_int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{what} must be a positive integer, not {value!r}")
    try:
        v = operator.index(value)
    except TypeError:
        if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
            v = int(value)
        else:
            raise ConfigError(f"{what} must be a positive integer, not {value!r}") from None
    if v < 1:
        raise ConfigError(f"{what} must be a positive integer, not {v}")
    return v


def parse_pod(text: str, *, what: str = "--pod") -> tuple[int, int]:
    """Parse ``"RxC"`` (e.g. ``"32x32"``) into ``(rows, cols)``."""
    s = str(text).strip()
    mt = re.fullmatch(r"(\d+)[xX](\d+)", s)
    if not mt:
        raise ConfigError(
            f"{what}={text!r} is not of the form RxC with positive integers (e.g. 32x32)"
        )
    rows, cols = int(mt.group(1)), int(mt.group(2))
    if rows < 1:
        raise ConfigError(f"{what}={text!r}: pod rows must be a positive integer, not {rows}")
    if cols < 1:
        raise ConfigError(f"{what}={text!r}: pod cols must be a positive integer, not {cols}")
    return rows, cols


@dataclass(frozen=True)
class DesignConfig:
    """One design point.

    Parameters
    ----------
    rows, cols:
        Pod shape (R x C processing elements). Single-block generators ignore ``cols``.
    format:
        HBFP format of the datapath: ``hbfp8`` (m=7), ``hbfp6`` (m=5) or ``hbfp4`` (m=3).
    narrow_format:
        Optional mixed-mantissa (Accuracy Boosters) narrow mode, narrower than ``format``.
    block_size:
        HBFP block size (dense reduction elements per block; lanes ``k`` of a dense dot unit).
        Defaults to ``rows``, or ``rows*M/N`` with N:M sparsity (one pod fold).
    sparsity:
        ``"N:M"`` structured sparsity of the weights along the reduction axis, or ``None``.
    acc_width:
        Accumulator width in bits. Defaults to :func:`golden.facts.default_acc_width`.
    pipeline:
        Pipeline depth (register stages) of a dot-product unit, >= 1.
    rounding:
        ``nearest_even`` or ``stochastic`` (converter rounding mode).
    """

    rows: int = 8
    cols: int = 8
    format: str = "hbfp6"
    narrow_format: str | None = None
    block_size: int | None = None
    sparsity: str | None = None
    acc_width: int | None = None
    pipeline: int = 1
    rounding: str = "nearest_even"
    name: str | None = None
    # derived, filled in __post_init__
    mant_bits: int = field(init=False)
    narrow_mant_bits: int | None = field(init=False)

    def __post_init__(self) -> None:
        s = object.__setattr__
        s(self, "rows", _pos_int(self.rows, "pod rows"))
        s(self, "cols", _pos_int(self.cols, "pod cols"))
        s(self, "format", str(self.format).strip().lower())
        s(self, "mant_bits", format_mant_bits(self.format))
        if self.narrow_format in (None, "", "none"):
            s(self, "narrow_format", None)
            s(self, "narrow_mant_bits", None)
        else:
            nm = format_mant_bits(self.narrow_format, what="narrow_format")
            if nm >= self.mant_bits:
                raise ConfigError(
                    f"narrow_format {self.narrow_format!r} must be narrower than format "
                    f"{self.format!r}"
                )
            s(self, "narrow_format", str(self.narrow_format).strip().lower())
            s(self, "narrow_mant_bits", nm)
        sp = parse_sparsity(self.sparsity)
        if self.block_size is not None:
            bs = _pos_int(self.block_size, "block size")
        elif sp is not None and self.rows % sp[0] == 0:
            # N physical rows serve M reduction elements: one fold covers rows*M/N elements.
            bs = self.rows * sp[1] // sp[0]
        else:
            bs = self.rows
        s(self, "block_size", bs)
        s(self, "sparsity", None if sp is None else f"{sp[0]}:{sp[1]}")
        if sp is not None and self.block_size % sp[1] != 0:
            raise ConfigError(
                f"sparsity {self.sparsity}: M={sp[1]} must divide the block size "
                f"{self.block_size}"
            )
        need = min_acc_width(self.mant_bits, self.reduction_length)
        if self.acc_width is None:
            s(self, "acc_width", default_acc_width(self.mant_bits, self.reduction_length))
        else:
            aw = _pos_int(self.acc_width, "accumulator width")
            if aw < need:
                raise ConfigError(
                    f"accumulator width {aw} is too narrow: an exact {self.reduction_length}-term "
                    f"sum of {self.format} products needs 2(m+1)+ceil(log2 k) = {need} bits"
                )
            s(self, "acc_width", aw)
        s(self, "pipeline", _pos_int(self.pipeline, "pipeline depth"))
        if self.rounding not in ("nearest_even", "stochastic"):
            raise ConfigError(
                f"rounding must be 'nearest_even' or 'stochastic', not {self.rounding!r}"
            )

    # ---- derived facts ------------------------------------------------------------------
    @property
    def nm(self) -> tuple[int, int] | None:
        """``(N, M)`` of the weight sparsity, or ``None`` when dense."""
        return parse_sparsity(self.sparsity)

    @property
    def reduction_length(self) -> int:
        """Reduction terms summed exactly per block (the block size)."""
        return self.block_size

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> DesignConfig:
        return dataclasses.replace(self, **changes)


#: YAML keys accepted in configs/*.yaml (``pod: RxC`` is a shorthand for rows and cols).
YAML_KEYS = (
    "pod", "rows", "cols", "format", "narrow_format", "block_size", "sparsity", "acc_width",
    "pipeline", "rounding", "name",
)


def load_yaml(path: str | Path, **overrides: Any) -> DesignConfig:
    """Load a design point from YAML, apply non-``None`` overrides, validate.

    Raises :class:`ConfigError` with ``"<file>: <key>: <reason>"`` on any problem.
    """
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise ConfigError(f"{p}: cannot read config: {e.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{p}: malformed YAML{where}: {getattr(e, 'problem', e)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: top level must be a mapping of keys to values")
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in YAML_KEYS:
            raise ConfigError(f"{p}: key {key!r}: unknown key (known: {', '.join(YAML_KEYS)})")
        if key == "pod":
            try:
                kwargs["rows"], kwargs["cols"] = parse_pod(value, what="pod")
            except ConfigError as e:
                raise ConfigError(f"{p}: key 'pod': {e}") from None
        else:
            kwargs[key] = value
    kwargs.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return DesignConfig(**kwargs)
    except ConfigError as e:
        raise ConfigError(f"{p}: {e}") from None
