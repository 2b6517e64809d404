"""The base class of every sqgen component and the Signature classes blocks share.

:class:`Block` checks a component's parameters *before* the object exists: ``__new__`` calls
the class's :meth:`Block.check` with the constructor's keyword arguments, so a refused design
point raises :class:`golden.facts.ParamError` without ever creating an Elaboratable (and so
without Amaranth's "created but never used" warning, and without touching its private state).
"""

from __future__ import annotations

from typing import Any

from amaranth.lib import wiring

from golden.facts import ParamError

__all__ = ["Block", "MAX_INPUT_BITS", "check_input_bits"]

#: Amaranth's netlist numbers the bits of one cell (a module's inputs are one cell) in 16 bits.
MAX_INPUT_BITS = (1 << 16) - 1


def check_input_bits(bits: int, what: str) -> None:
    """Refuse a block whose ports would need more input bits than one module may have."""
    if bits > MAX_INPUT_BITS:
        raise ParamError(
            f"{what} needs {bits:,} input bits, more than the {MAX_INPUT_BITS:,} a module may "
            "have (Amaranth's limit): use a smaller block size or mantissa width",
            field="block_size")


class Block(wiring.Component):
    """A ``wiring.Component`` whose keyword-only parameters are validated before construction.

    Subclasses override :meth:`check` (a classmethod taking the constructor's keyword
    arguments) to raise :class:`golden.facts.ParamError` with one line naming the parameter,
    its value and the accepted range.
    """

    def __new__(cls, *args: Any, **kwargs: Any):
        cls.check(**kwargs)
        # src_loc_at=1: Amaranth records where the component was created, one frame up.
        return super().__new__(cls, src_loc_at=1)

    @classmethod
    def check(cls, **params: Any) -> None:
        """Raise :class:`golden.facts.ParamError` if ``params`` are refused (default: accept)."""
