"""The base class of every sqgen component and the Signature classes blocks share.

:class:`Block` checks a component's parameters *before* the object exists: ``__new__`` calls
the class's :meth:`Block.check` with the constructor's keyword arguments, so a refused design
point raises :class:`golden.facts.ParamError` without ever creating an Elaboratable (and so
without Amaranth's "created but never used" warning, and without touching its private state).
"""

from __future__ import annotations

from typing import Any

from amaranth.lib import wiring

__all__ = ["Block"]


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
