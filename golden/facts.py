"""The one table of number-format and width facts, and the rules every layer checks against.

Everything above ``golden`` (hw, gen, flow, studies) reads these definitions instead of writing
its own: the format registry (HBFP8/6/4, the six OCP MX element formats, INT8, FP32), the
HBFP exponent widths, the N:M rule, the index-bits rule, the accumulator-width rule, and the
one exception type for a refused parameter, :class:`ParamError`.

Adding a number format means one :data:`FORMATS` entry plus its arithmetic (a quantizer in
:mod:`golden.formats`, and a PE arithmetic in :mod:`hw.arith` for hardware); see the README's
"Add a number format" walkthrough.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ParamError",
    "NumberFormat",
    "MXFormat",
    "FORMATS",
    "MX_FORMATS",
    "HBFP_FORMATS",
    "format_spec",
    "hbfp_mant_bits",
    "HBFP_MANT_BITS_RANGE",
    "EXP_WIDTH",
    "PROD_EXP_WIDTH",
    "ZERO_BLOCK_EXP",
    "MAX_TILE",
    "MAX_BLOCK_EXP",
    "mant_width",
    "NM_MAX_M",
    "check_nm",
    "parse_nm",
    "index_bits",
    "ACC_HEADROOM",
    "min_acc_width",
    "default_acc_width",
    "check_index",
]


class ParamError(ValueError):
    """A parameter was refused. ``str(err)`` is one line meant for the user.

    The one exception type for a bad parameter in every layer: golden raises it from argument
    checks, hw from component constructors (before anything is elaborated), gen from config
    validation (``gen.config.ConfigError`` is this class). ``field`` optionally names the
    design-point field at fault, so that the command line can say what the user typed
    (``POD`` under make, ``--pod`` on the CLI, ``file: key`` in YAML).
    """

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


def check_index(value: Any, what: str, lo: int | None = None, hi: int | None = None) -> int:
    """Return ``value`` as an ``int`` (``operator.index``), within ``[lo, hi]``, or raise.

    Booleans and floats are refused: a width given as ``5.0`` is almost always a unit mix-up.
    """
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        raise ParamError(f"{what} must be an integer, got {value!r}")
    try:
        iv = operator.index(value)
    except TypeError:
        raise ParamError(f"{what} must be an integer, got {value!r}") from None
    if lo is not None and iv < lo:
        raise ParamError(f"{what} must be >= {lo}, got {iv}")
    if hi is not None and iv > hi:
        raise ParamError(f"{what} must be <= {hi}, got {iv}")
    return iv


# ---- HBFP exponents ---------------------------------------------------------------------------
#: Width of a signed shared block exponent (holds e in [ZERO_BLOCK_EXP, MAX_BLOCK_EXP]).
EXP_WIDTH = 9
#: Width of a signed product exponent (e_a + e_b).
PROD_EXP_WIDTH = 10
#: Shared exponent of an all-zero block: exponent field 0 is read as 1, so e = 1 - 127 + 1.
ZERO_BLOCK_EXP = -125
#: Largest shared exponent a finite FP32 block can have (field 254: 254 - 127 + 1).
MAX_BLOCK_EXP = 128
#: Magnitude mantissa bits the golden HBFP quantizer accepts (the RTL blocks check their own
#: narrower ranges against it).
HBFP_MANT_BITS_RANGE = (1, 15)


def mant_width(mant_bits: int) -> int:
    """Signed width of an ``m``-bit magnitude mantissa: sign + ``m`` bits."""
    return mant_bits + 1


# ---- the format registry ----------------------------------------------------------------------
@dataclass(frozen=True)
class MXFormat:
    """OCP MX element format parameters, named as in the microxcaling library.

    ``mbits`` counts the sign and the implicit one, so an fp element keeps ``mbits - 2``
    fraction bits; ``emax`` is the largest normal element exponent and ``bias`` the bias of the
    element's exponent field (unused for int8).
    """

    name: str
    ebits: int
    mbits: int
    emax: int
    max_norm: float

    @property
    def frac_bits(self) -> int:
        return self.mbits - 2

    @property
    def bias(self) -> int:
        return 2 ** (self.ebits - 1) - 1 if self.ebits else 0

    @property
    def min_exp(self) -> int:
        """Smallest normal element exponent (subnormals share its scale)."""
        return 2 - 2 ** (self.ebits - 1) if self.ebits else 0

    @property
    def code_bits(self) -> int:
        return 1 + self.ebits + self.frac_bits if self.ebits else self.mbits


@dataclass(frozen=True)
class NumberFormat:
    """One number format of the registry.

    Attributes
    ----------
    name:
        Registry key (``hbfp6``, ``mxfp4``, ``int8``, ``fp32``).
    family:
        ``"hbfp"``, ``"mx"``, ``"int"`` or ``"fp"``.
    element_bits:
        Bits of one stored element (sign included).
    mant_bits:
        HBFP: magnitude mantissa bits ``m``; MX: fraction bits kept; INT8: 7; FP32: 23.
    block:
        Default block size along the reduction axis (0: no block).
    scale_bits:
        Bits of the per-block shared exponent or scale (0: none).
    exp_range:
        ``(lo, hi)`` of the shared exponent (HBFP), the E8M0 scale (MX) or the element
        exponent (FP32); ``None`` for INT8.
    mx:
        The :class:`MXFormat` of an MX entry.
    """

    name: str
    family: str
    element_bits: int
    mant_bits: int
    block: int
    scale_bits: int
    exp_range: tuple[int, int] | None
    mx: MXFormat | None = None

    @property
    def hardware(self) -> bool:
        """True where an sqgen PE arithmetic exists for this format."""
        return self.family in ("hbfp", "int", "fp")


def _hbfp(name: str, m: int) -> NumberFormat:
    return NumberFormat(name, "hbfp", m + 1, m, 64, EXP_WIDTH, (ZERO_BLOCK_EXP, MAX_BLOCK_EXP))


def _mx(name: str, f: MXFormat) -> NumberFormat:
    return NumberFormat(name, "mx", f.code_bits, f.frac_bits if f.ebits else f.mbits - 1, 32, 8,
                        (-127, 127), f)


#: The six MX element formats, keyed by microxcaling's names.
MX_FORMATS: dict[str, MXFormat] = {
    f.name: f
    for f in (
        MXFormat("int8", 0, 8, 0, 127 / 64),
        MXFormat("fp8_e4m3", 4, 5, 8, 448.0),
        MXFormat("fp8_e5m2", 5, 4, 15, 57344.0),
        MXFormat("fp6_e3m2", 3, 4, 4, 28.0),
        MXFormat("fp6_e2m3", 2, 5, 2, 7.5),
        MXFormat("fp4_e2m1", 2, 3, 2, 6.0),
    )
}

#: Every number format sqgen knows, by its user-facing name.
FORMATS: dict[str, NumberFormat] = {
    f.name: f
    for f in (
        _hbfp("hbfp8", 7),
        _hbfp("hbfp6", 5),
        _hbfp("hbfp4", 3),
        _mx("mxfp8_e4m3", MX_FORMATS["fp8_e4m3"]),
        _mx("mxfp8_e5m2", MX_FORMATS["fp8_e5m2"]),
        _mx("mxfp6_e3m2", MX_FORMATS["fp6_e3m2"]),
        _mx("mxfp6_e2m3", MX_FORMATS["fp6_e2m3"]),
        _mx("mxfp4", MX_FORMATS["fp4_e2m1"]),
        _mx("mxint8", MX_FORMATS["int8"]),
        NumberFormat("int8", "int", 8, 7, 0, 0, None),
        NumberFormat("fp32", "fp", 32, 23, 0, 0, (-126, 127)),
    )
}

#: HBFP format name -> magnitude mantissa bits ``m``.
HBFP_FORMATS: dict[str, int] = {k: f.mant_bits for k, f in FORMATS.items() if f.family == "hbfp"}


def format_spec(name: Any, *, family: str | tuple[str, ...] | None = None,
                what: str = "format") -> NumberFormat:
    """Look ``name`` up in :data:`FORMATS` (case-insensitive), optionally of one ``family``."""
    fams = (family,) if isinstance(family, str) else family
    key = str(name).strip().lower() if isinstance(name, str) else None
    f = FORMATS.get(key) if key is not None else None
    if f is None or (fams is not None and f.family not in fams):
        names = [k for k, v in FORMATS.items() if fams is None or v.family in fams]
        raise ParamError(f"{what} must be one of {', '.join(names)}, not {name!r}")
    return f


def hbfp_mant_bits(name: Any, *, what: str = "format") -> int:
    """``m`` (magnitude mantissa bits) of an HBFP format name such as ``"hbfp6"``."""
    return format_spec(name, family="hbfp", what=what).mant_bits


# ---- N:M structured sparsity --------------------------------------------------------------
#: Largest engine output-buffer height (rows of C FP32 words; ``TILE=``).
MAX_TILE = 1 << 16

#: Largest group size M the hardware decodes (a 4-bit index).
NM_MAX_M = 16


def check_nm(n: Any, m: Any, *, what: str = "sparsity", allow_dense: bool = False
             ) -> tuple[int, int]:
    """The N:M rule: ``1 <= N < M <= 16``; return ``(N, M)`` as ints.

    ``allow_dense`` also admits ``N == M`` and any M (a group that keeps everything), which
    the software pruning functions of :mod:`golden.sparsity` accept as the identity.
    """
    ni = check_index(n, f"{what} N")
    mi = check_index(m, f"{what} M")
    return _nm_rule(ni, mi, f"{what} {ni}:{mi}", allow_dense)


def _nm_rule(n: int, m: int, head: str, allow_dense: bool) -> tuple[int, int]:
    if n < 1:
        raise ParamError(f"{head}: N must be at least 1, not {n}")
    if allow_dense:
        if n > m:
            raise ParamError(f"{head}: N must be <= M")
        return n, m
    if m > NM_MAX_M:
        raise ParamError(f"{head}: M must be at most {NM_MAX_M}, not {m}")
    if n >= m:
        raise ParamError(f"{head}: N must be smaller than M (1 <= N < M <= {NM_MAX_M})")
    return n, m


def parse_nm(text: Any, *, what: str = "sparsity") -> tuple[int, int] | None:
    """Parse ``"N:M"`` (or an ``(N, M)`` pair) into ``(N, M)``; dense spellings give ``None``.

    YAML 1.1 reads an unquoted ``2:4`` as the base-60 integer 124; such an int is refused with
    a hint to quote it.
    """
    if text is None:
        return None
    if isinstance(text, tuple | list) and len(text) == 2:
        if tuple(text) == (1, 1):
            return None
        return check_nm(*text, what=what)
    if isinstance(text, int) and not isinstance(text, bool):
        raise ParamError(f"{what}={text!r} is not of the form N:M; quote it in YAML "
                         "(sparsity: \"2:4\"), which otherwise reads 2:4 as the number 124")
    s = str(text).strip().lower()
    if s in ("", "none", "dense"):
        return None
    mt = re.fullmatch(r"(\d+):(\d+)", s)
    if not mt:
        raise ParamError(f"{what}={text!r} is not of the form N:M (e.g. 2:4)")
    return _nm_rule(int(mt.group(1)), int(mt.group(2)), f"{what}={text!r}", False)


def index_bits(m: int) -> int:
    """Bits of one in-group N:M index, ``ceil(log2 M)``; 0 when ``M = 1`` (dense)."""
    return (operator.index(m) - 1).bit_length()


# ---- accumulator width ------------------------------------------------------------------------
#: Default headroom bits above the exact block-sum width (room for cross-block accumulation).
ACC_HEADROOM = 8


def min_acc_width(mant_bits: int, k: int) -> int:
    """Bits for an exact ``k``-term sum of ``(m+1)``-bit signed products: ``2(m+1) +
    ceil(log2 k)``."""
    return 2 * mant_width(mant_bits) + math.ceil(math.log2(k)) if k > 1 else 2 * mant_width(
        mant_bits)


def default_acc_width(mant_bits: int, k: int) -> int:
    """The generators' default accumulator width: the exact width plus :data:`ACC_HEADROOM`."""
    return min_acc_width(mant_bits, k) + ACC_HEADROOM
