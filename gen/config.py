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
    MAX_TILE,
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
    "read_yaml",
    "yaml_fields",
    "build",
    "check_name",
    "LIMITS",
]

#: HBFP format name -> magnitude mantissa bits ``m`` (the registry's HBFP entries).
FORMATS = HBFP_FORMATS
#: A refused design-point value (the project's one parameter-error type).
ConfigError = ParamError
format_mant_bits = hbfp_mant_bits
parse_sparsity = parse_nm


#: Documented range (inclusive) of every integer design-point field; README "Parameters".
#: 512 is SOSA's largest (monolithic) array; an accumulator beyond 64 bits has no use here
#: (the normalizer and every reference take at most 64).
LIMITS: dict[str, tuple[int, int]] = {
    "rows": (1, 512),
    "cols": (1, 512),
    "block_size": (1, 4096),
    "acc_width": (2, 64),
    "pipeline": (1, 16),
    "tile": (1, MAX_TILE),
}
#: How each field is named in messages.
FIELD_NAMES = {
    "rows": "pod rows", "cols": "pod cols", "block_size": "block size",
    "acc_width": "accumulator width", "pipeline": "pipeline depth", "tile": "tile height",
}
#: A Verilog-2005 identifier (escaped identifiers are not accepted), at most 64 characters.
IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
#: Verilog and SystemVerilog keywords that also match IDENT_RE (a module may not be named so).
VERILOG_KEYWORDS = frozenset("""
always and assign automatic begin buf bufif0 bufif1 case casex casez cell cmos config
deassign default defparam design disable edge else end endcase endconfig endfunction
endgenerate endmodule endprimitive endspecify endtable endtask event for force forever fork
function generate genvar highz0 highz1 if ifnone incdir include initial inout input instance
integer join large liblist library localparam macromodule medium module nand negedge nmos nor
noshowcancelled not notif0 notif1 or output parameter pmos posedge primitive pull0 pull1
pulldown pullup pulsestyle_onevent pulsestyle_ondetect rcmos real realtime reg release repeat
rnmos rpmos rtran rtranif0 rtranif1 scalared showcancelled signed small specify specparam
strong0 strong1 supply0 supply1 table task time tran tranif0 tranif1 tri tri0 tri1 triand
trior trireg unsigned use uwire vectored wait wand weak0 weak1 while wire wor xnor xor
logic bit byte int shortint longint class interface package program typedef enum struct
union string void import export extends virtual static const return break continue
""".split())


def _int_field(value: Any, field: str) -> int:
    """An integer field within :data:`LIMITS`; decimal strings are accepted (CLI flags)."""
    what = FIELD_NAMES[field]
    lo, hi = LIMITS[field]
    if isinstance(value, bool):
        raise ConfigError(f"{what} must be a positive integer, not {value!r}", field=field)
    try:
        v = operator.index(value)
    except TypeError:
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,20}\s*", value):
            v = int(value)
        else:
            shown = value if not isinstance(value, str) or len(value) < 40 else value[:37] + "..."
            raise ConfigError(f"{what} must be a positive integer, not {shown!r}",
                              field=field) from None
    if v < 1:
        raise ConfigError(f"{what} must be a positive integer, not {v}", field=field)
    if not lo <= v <= hi:
        raise ConfigError(f"{what} must be in {lo}..{hi}, not {v}", field=field)
    return v


def check_name(value: Any, *, field: str = "name") -> str:
    """A module name: a Verilog identifier that is not a keyword."""
    if not isinstance(value, str) or not IDENT_RE.fullmatch(value) or value in VERILOG_KEYWORDS:
        shown = value if not isinstance(value, str) or len(value) < 40 else value[:37] + "..."
        raise ConfigError(
            f"{field} must be a Verilog identifier (letters, digits and _, not starting with a "
            f"digit, at most 64 characters, not a keyword), not {shown!r}", field=field)
    return value


ROUNDINGS = ("nearest_even", "stochastic")
#: How a pod meets backpressure (hw.pod.STALLS; docs/timing.md "The global stall").
STALLS = ("enable", "queue")
#: Formats of the baseline arrays the engine generator also builds (same shell, other PEs).
BASELINE_FORMATS = ("fp32", "int8")


def _field(field: str, fn: Any, *args: Any, **kw: Any) -> Any:
    """Run ``fn`` and tag a refusal with ``field``."""
    try:
        return fn(*args, **kw)
    except ParamError as e:
        raise ConfigError(str(e), field=field) from None


def parse_pod(text: str, *, what: str = "--pod") -> tuple[int, int]:
    """Parse ``"RxC"`` (e.g. ``"32x32"``) into ``(rows, cols)``."""
    s = str(text).strip()
    mt = re.fullmatch(r"(\d{1,9})[xX](\d{1,9})", s)
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
    tile:
        Engine output-buffer height: rows of the result tile one fold streams (SOSA's row
        partition). Other generators ignore it.
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
    tile: int = 64
    stall: str = "enable"
    name: str | None = None
    # derived, filled in __post_init__
    mant_bits: int = field(init=False)
    narrow_mant_bits: int | None = field(init=False)

    def __post_init__(self) -> None:
        s = object.__setattr__
        s(self, "rows", _int_field(self.rows, "rows"))
        s(self, "cols", _int_field(self.cols, "cols"))
        if self.name is not None:
            check_name(self.name)
        if not isinstance(self.format, str):
            raise ConfigError(f"format must be one of {', '.join(FORMATS)}, not {self.format!r}",
                              field="format")
        s(self, "format", self.format.strip().lower())
        if self.format in BASELINE_FORMATS:
            self._baseline()
            return
        s(self, "mant_bits", _field("format", format_mant_bits, self.format))
        if self.narrow_format in (None, "", "none"):
            s(self, "narrow_format", None)
            s(self, "narrow_mant_bits", None)
        else:
            nm = _field("narrow_format", format_mant_bits, self.narrow_format,
                        what="narrow_format")
            if nm >= self.mant_bits:
                raise ConfigError(
                    f"narrow_format {self.narrow_format!r} must be narrower than format "
                    f"{self.format!r}", field="narrow_format"
                )
            s(self, "narrow_format", str(self.narrow_format).strip().lower())
            s(self, "narrow_mant_bits", nm)
        sp = _field("sparsity", parse_sparsity, self.sparsity)
        if sp is not None and self.block_size is None and self.rows % sp[0]:
            raise ConfigError(
                f"pod rows {self.rows} must be a multiple of N={sp[0]} of sparsity "
                f"{sp[0]}:{sp[1]} (each group of N rows serves M reduction elements)",
                field="sparsity")
        if self.block_size is not None:
            bs = _int_field(self.block_size, "block_size")
        elif sp is not None:
            # N physical rows serve M reduction elements: one fold covers rows*M/N elements.
            bs = self.rows * sp[1] // sp[0]
        else:
            bs = self.rows
        s(self, "block_size", bs)
        s(self, "sparsity", None if sp is None else f"{sp[0]}:{sp[1]}")
        if sp is not None and self.block_size % sp[1] != 0:
            raise ConfigError(
                f"sparsity {self.sparsity}: M={sp[1]} must divide the block size "
                f"{self.block_size}", field="sparsity"
            )
        need = min_acc_width(self.mant_bits, self.reduction_length)
        if self.acc_width is None:
            s(self, "acc_width", default_acc_width(self.mant_bits, self.reduction_length))
        else:
            aw = _int_field(self.acc_width, "acc_width")
            if aw < need:
                raise ConfigError(
                    f"accumulator width {aw} is too narrow: an exact {self.reduction_length}-term "
                    f"sum of {self.format} products needs 2(m+1)+ceil(log2 k) = {need} bits",
                    field="acc_width"
                )
            s(self, "acc_width", aw)
        s(self, "pipeline", _int_field(self.pipeline, "pipeline"))
        s(self, "tile", _int_field(self.tile, "tile"))
        if self.rounding not in ROUNDINGS:
            raise ConfigError(
                f"rounding must be 'nearest_even' or 'stochastic', not {self.rounding!r}",
                field="rounding"
            )
        self._check_stall()

    def _check_stall(self) -> None:
        v = str(self.stall).strip().lower() if isinstance(self.stall, str) else self.stall
        if v not in STALLS:
            raise ConfigError(f"stall must be 'enable' (a global clock enable) or 'queue' (an "
                              f"output queue with credits), not {self.stall!r}", field="stall")
        object.__setattr__(self, "stall", v)

    def _baseline(self) -> None:
        """``format: fp32`` / ``int8``: the FP32 or INT8 baseline array (engine only): 32-bit
        FP32 operands and sums, or 8-bit codes (``mant_bits`` 7) with INT32 sums."""
        s = object.__setattr__
        name = self.format.upper()
        for f, v in (("narrow_format", None), ("sparsity", None)):
            if getattr(self, f) not in (None, "", "none", v):
                raise ConfigError(f"format {self.format}: the {name} baseline array has no "
                                  f"{f.replace('_', ' ')}", field=f)
        s(self, "narrow_format", None)
        s(self, "narrow_mant_bits", None)
        s(self, "sparsity", None)
        s(self, "mant_bits", 23 if self.format == "fp32" else 7)
        if self.acc_width is not None and _int_field(self.acc_width, "acc_width") != 32:
            raise ConfigError(f"format {self.format}: the {name} array's sums are 32 bits "
                              f"wide, not {self.acc_width}", field="acc_width")
        s(self, "acc_width", 32)
        bs = self.rows if self.block_size is None else _int_field(self.block_size, "block_size")
        s(self, "block_size", bs)
        s(self, "pipeline", _int_field(self.pipeline, "pipeline"))
        s(self, "tile", _int_field(self.tile, "tile"))
        if self.rounding not in ROUNDINGS:
            raise ConfigError(f"rounding must be 'nearest_even' or 'stochastic', not "
                              f"{self.rounding!r}", field="rounding")
        self._check_stall()

    @property
    def is_baseline(self) -> bool:
        """A baseline array format (``fp32``, ``int8``), built by the engine generator only."""
        return self.format in BASELINE_FORMATS

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
    "pipeline", "rounding", "tile", "stall", "name",
)


class _StrictLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses duplicate keys (PyYAML keeps the last one silently)."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, list | dict):
            continue  # unhashable: construct_mapping refuses it below
        if key in seen:
            raise ConfigError(f"key {key!r}: given twice (line {key_node.start_mark.line + 1})",
                              field=str(key))
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a design-point YAML file strictly: UTF-8, no duplicate keys, a mapping at the top.

    Raises :class:`ConfigError` ``"<file>: <reason>"``.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise ConfigError(f"{p}: cannot read config: {e.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{p}: not UTF-8 text (byte {e.start}); a config is a YAML text file"
                          ) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except ConfigError as e:
        raise ConfigError(f"{p}: {e}", field=e.field) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        why = " ".join(str(getattr(e, "problem", None) or e).split())
        raise ConfigError(f"{p}: malformed YAML{where}: {why}") from None
    except RecursionError:
        raise ConfigError(f"{p}: malformed YAML: nested too deeply") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: top level must be a mapping of keys to values")
    for key in data:
        if key not in YAML_KEYS:
            raise ConfigError(f"{p}: key {key!r}: unknown key (known: {', '.join(YAML_KEYS)})")
    for k in ("rows", "cols"):
        if "pod" in data and k in data:
            raise ConfigError(f"{p}: key {k!r}: conflicts with key 'pod' (give one of them)")
    return data


def yaml_fields(path: str | Path, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """DesignConfig keyword arguments from YAML ``data``, and field -> ``"<file>: <key>"``."""
    kwargs: dict[str, Any] = {}
    labels: dict[str, str] = {}
    for key, value in data.items():
        if key == "pod":
            try:
                kwargs["rows"], kwargs["cols"] = parse_pod(value, what="pod")
            except ConfigError as e:
                raise ConfigError(f"{path}: key 'pod': {e}") from None
            labels["rows"] = labels["cols"] = f"{path}: key 'pod'"
        else:
            kwargs[key] = value
            labels[key] = f"{path}: key {key!r}"
    return kwargs, labels


def build(kwargs: dict[str, Any], labels: dict[str, str], default: str | None = None
          ) -> DesignConfig:
    """``DesignConfig(**kwargs)``; a refusal names the field as ``labels`` says it was typed
    (or is prefixed with ``default``, e.g. the config file, for a field nobody typed)."""
    try:
        return DesignConfig(**kwargs)
    except ConfigError as e:
        label = labels.get(e.field or "", default)
        if label is None:
            raise
        # labelled: the field is no longer open for the CLI to name (gen.cli.run_main)
        raise ConfigError(f"{label}: {e}") from None


def load_yaml(path: str | Path, **overrides: Any) -> DesignConfig:
    """Load a design point from YAML, apply non-``None`` overrides, validate.

    Raises :class:`ConfigError` with ``"<file>: key '<key>': <reason>"`` on any problem.
    """
    kwargs, labels = yaml_fields(path, read_yaml(path))
    ov = {k: v for k, v in overrides.items() if v is not None}
    for k in ov:
        labels.pop(k, None)
    kwargs.update(ov)
    return build(kwargs, labels, default=str(path))
