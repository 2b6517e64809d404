"""Scoreboard: exact integer comparison of received against expected, one report per run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["Scoreboard", "as_rows"]


def as_rows(x: Any) -> np.ndarray:
    """``x`` as an ``[n, k]`` object array of Python ints (one row per item).

    Items may be ints or equal-length sequences of ints; object dtype keeps ints wider than
    64 bits exact and compares them without overflow.
    """
    if isinstance(x, np.ndarray) and x.dtype != object:
        a = x.astype(object)  # numpy ints -> Python ints
    else:
        a = np.empty(len(x), dtype=object) if len(x) == 0 else np.array(
            [list(r) if isinstance(r, (tuple, list, np.ndarray)) else r for r in x],
            dtype=object)
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    if a.size == 0:
        return a.reshape(len(a), a.shape[1] if a.ndim == 2 else 1)
    return a.reshape(len(a), -1)


def _show(row: np.ndarray, fmt: Callable[[int], str]) -> str:
    vals = [fmt(int(v)) for v in row]
    return vals[0] if len(vals) == 1 else "[" + ", ".join(vals) + "]"


class Scoreboard:
    """Collects the comparisons and conditions of one run and fails once, with everything.

    Parameters
    ----------
    name:
        What is checked (block and configuration), the first word of the report.
    seed:
        The run's seed, named in every failure.
    show:
        Offending items listed per comparison.

    Examples
    --------
    >>> sb = Scoreboard("convert k=16 m=5", seed=11)
    >>> sb.compare(got_rows, want_rows, what="results", inputs=blocks)  # doctest: +SKIP
    >>> sb.expect(n_out == n_in, f"{n_out} outputs for {n_in} inputs")  # doctest: +SKIP
    >>> sb.check()  # raises AssertionError listing every problem  # doctest: +SKIP
    """

    def __init__(self, name: str, *, seed: int | None = None, show: int = 5):
        self.name = name
        self.seed = seed
        self.show = show
        self.problems: list[str] = []
        self.compared = 0

    def compare(self, got: Any, want: Any, *, what: str = "items",
                inputs: Any = None, describe: Callable[[int], str] | None = None,
                fmt: Callable[[int], str] = str,
                in_fmt: Callable[[int], str] | None = None) -> int:
        """Compare item ``i`` of ``got`` with item ``i`` of ``want``, exactly.

        Parameters
        ----------
        got, want:
            Sequences (or arrays) of ints or of equal-length int rows, in order. A length
            difference (lost or invented items) is a problem of its own; the common prefix is
            still compared so the first divergence is named.
        what:
            Name of the compared stream in the report.
        inputs:
            Optional per-item stimulus rows, listed with each offending item.
        describe:
            Optional ``describe(i) -> str`` adding context to an offending item (cycle, mode...).
        fmt:
            Formats each received / expected integer in the report (e.g. ``hex``).
        in_fmt:
            Formats each input integer (default: ``fmt``).

        Returns
        -------
        The number of mismatching items (0 when equal and of equal length).
        """
        g, w = as_rows(got), as_rows(want)
        n = min(len(g), len(w))
        self.compared += n
        bad_n = 0
        if len(g) != len(w):
            self.problems.append(f"{what}: {len(g)} received, {len(w)} expected")
            bad_n = abs(len(g) - len(w))
        if n and g.shape[1] != w.shape[1]:
            self.problems.append(f"{what}: items of {g.shape[1]} values, expected {w.shape[1]}")
            return bad_n + n
        bad = np.nonzero((g[:n] != w[:n]).any(axis=1))[0] if n else np.zeros(0, dtype=int)
        if bad.size:
            lines = [f"{what}: {bad.size}/{len(w)} mismatches"]
            for i in bad[: self.show].tolist():
                line = f"  #{i}: got {_show(g[i], fmt)}, want {_show(w[i], fmt)}"
                if inputs is not None:
                    line += f", in {_show(as_rows(inputs[i : i + 1])[0], in_fmt or fmt)}"
                if describe is not None:
                    line += f" ({describe(i)})"
                lines.append(line)
            self.problems.append("\n".join(lines))
        return bad_n + int(bad.size)

    def compare_values(self, got: Sequence[int], want: Sequence[int], *,
                       what: str = "values", describe: Callable[[int], str] | None = None,
                       fmt: Callable[[int], str] = str) -> int:
        """:meth:`compare` of flat int sequences (e.g. a per-cycle trace)."""
        return self.compare(list(got), list(want), what=what, describe=describe, fmt=fmt)

    def expect(self, condition: bool, message: str) -> None:
        """Record ``message`` as a problem unless ``condition`` holds."""
        if not condition:
            self.problems.append(message)

    @property
    def ok(self) -> bool:
        return not self.problems

    def report(self) -> str:
        head = f"{self.name} (seed {self.seed})" if self.seed is not None else self.name
        return head + ": " + ("OK" if self.ok else "\n".join(self.problems))

    def check(self) -> None:
        """Raise ``AssertionError`` with every recorded problem, if any."""
        if self.problems:
            raise AssertionError(self.report())
