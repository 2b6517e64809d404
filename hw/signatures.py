"""Signature classes the blocks share, so that neighbours connect with ``wiring.connect``.

Each is written from the *producer's* side (members ``Out``); a consumer takes it as
``In(...)``. The systolic chain uses them at every level with the same port names:
``in_act``/``out_act`` (activations and their weight-bank bit, flowing east),
``in_psum``/``out_psum`` (partial sums, flowing south) and ``w`` (the weight write port).
"""

from __future__ import annotations

import operator

from amaranth.hdl import Shape, ShapeLike, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

__all__ = ["ActBus", "PsumBus", "WeightWrite"]


class ActBus(wiring.Signature):
    """Activations passed east: ``data`` (packed mantissas), ``bank`` (weight bank to use) and,
    with ``mode``, the narrow-mode bit the activation was accepted with.

    Parameters
    ----------
    width:
        Bits of ``data``: ``sel`` mantissas of ``m + 1`` bits, element i at bit ``i*(m+1)``.
    mode:
        Add the ``mode`` bit (pods with an Accuracy Boosters narrow mode).
    """

    def __init__(self, *, width: int, mode: bool = False):
        self.width = operator.index(width)
        self.mode = bool(mode)
        members = {"data": Out(unsigned(self.width)), "bank": Out(1)}
        if self.mode:
            members["mode"] = Out(1)
        super().__init__(members)


class PsumBus(wiring.Signature):
    """Partial sums passed south: ``data`` (one signed sum, or C packed column sums)."""

    def __init__(self, *, shape: ShapeLike):
        self.shape = Shape.cast(shape)
        super().__init__({"data": Out(self.shape)})


class WeightWrite(wiring.Signature):
    """A weight write port: on a clock edge with ``we`` set, bank ``bank`` takes ``data``.

    Parameters
    ----------
    shape:
        Shape of ``data`` (one mantissa, or C packed mantissas of a row).
    idx_bits:
        Bits of ``idx``, the N:M in-group indices stored with the weights (0: no ``idx``).
    rows:
        Width of ``we``: 1 for a PE or a row, R (one enable per row) for the array.
    """

    def __init__(self, *, shape: ShapeLike, idx_bits: int = 0, rows: int = 1):
        self.shape = Shape.cast(shape)
        self.idx_bits = operator.index(idx_bits)
        self.rows = operator.index(rows)
        members = {"data": Out(self.shape)}
        if self.idx_bits:
            members["idx"] = Out(unsigned(self.idx_bits))
        members.update(we=Out(self.rows), bank=Out(1))
        super().__init__(members)
