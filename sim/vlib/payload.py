"""Packing and unpacking of struct-layout stream payloads (``i__payload``, ``o__payload``).

A generated design's manifest describes every payload port field by field
(``manifest["payload_layout"][<stream>]``, written by :func:`gen.emit.payload_layout` from the
Amaranth layouts of :mod:`hw.signatures`): ``{"a.mant": {"lsb", "width", "count",
"element_width", "signed"}, "first": {"lsb", "width", "signed"}, ...}``. :class:`Payload` reads
that table, exactly as an outside testbench would, and converts between per-field columns
(NumPy arrays, one row per beat) and one Python int per beat, vectorized, before the clock
starts: the benches then write one port per cycle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["Payload"]


class Payload:
    """One payload port's field table (a ``payload_layout`` entry of a manifest).

    Parameters
    ----------
    fields:
        ``name -> {"lsb", "width", "signed"[, "count", "element_width"]}``; a field with
        ``count`` is an array of ``count`` elements of ``element_width`` bits.
    """

    def __init__(self, fields: Mapping[str, Mapping[str, Any]]):
        self.fields = {name: dict(f) for name, f in fields.items()}
        self.width = max((f["lsb"] + f["width"] for f in self.fields.values()), default=0)

    def _elements(self, name: str) -> list[tuple[int, int, bool]]:
        """``(lsb, width, signed)`` of each element of field ``name`` (one for a scalar)."""
        f = self.fields[name]
        if "count" not in f:
            return [(f["lsb"], f["width"], bool(f["signed"]))]
        ew = f["element_width"]
        return [(f["lsb"] + j * ew, ew, bool(f["signed"])) for j in range(f["count"])]

    def pack(self, values: Mapping[str, Any], n: int | None = None) -> list[int]:
        """One int per beat from per-field columns.

        ``values[name]`` is ``[n]`` for a scalar field and ``[n, count]`` for an array field
        (signed values in two's complement are fine); a field not given is 0. ``n`` is needed
        only when no field is given.
        """
        unknown = set(values) - set(self.fields)
        if unknown:
            raise KeyError(f"no payload field(s) {sorted(unknown)}; fields: {list(self.fields)}")
        if n is None:
            n = len(next(iter(values.values())))
        word = np.zeros(n, dtype=object)
        for name, v in values.items():
            col = np.asarray(v).astype(object).reshape(n, -1)
            elems = self._elements(name)
            if col.shape[1] != len(elems):
                raise ValueError(f"payload field {name!r} has {len(elems)} element(s), "
                                 f"not {col.shape[1]}")
            for j, (lsb, w, _) in enumerate(elems):
                word += (col[:, j] & ((1 << w) - 1)) << lsb
        return word.tolist()

    def unpack(self, words: Sequence[Any]) -> dict[str, np.ndarray]:
        """Per-field columns (object arrays of Python ints, signed fields sign-extended) from
        payload words: ``[n]`` for a scalar field, ``[n, count]`` for an array field."""
        w = np.empty(len(words), dtype=object)
        w[:] = [int(x) for x in words]
        out: dict[str, np.ndarray] = {}
        for name, f in self.fields.items():
            elems = self._elements(name)
            col = np.empty((len(w), len(elems)), dtype=object)
            for j, (lsb, width, signed) in enumerate(elems):
                c = (w >> lsb) & ((1 << width) - 1)
                if signed and len(w):
                    c = np.where(c >= (1 << (width - 1)), c - (1 << width), c)
                col[:, j] = c
            out[name] = col if "count" in f else col[:, 0]
        return out
