"""Bad-input corpus: every refusal of the real command lines is one line, exit 2, no trace.

Each item runs ``python -m gen ...`` / ``python -m flow area ...`` in a subprocess with
``cwd=tmp_path`` (so a default output directory would land there, never in the repository), or
``make -s gen|area|lint-rtl VAR=...`` from the repository root with ``OUT`` under ``tmp_path``.
For every refusal the test asserts: exit status 2; stderr is exactly one line starting with
``error: ``; it names what the user typed (``--pod`` for a flag, ``POD`` for a make variable,
``<file>: key '<key>'`` for a YAML value); no traceback; nothing on stdout; and nothing was
written (``tmp_path`` is unchanged, entry by entry and byte by byte, and every output path the
item names is absent or untouched).

make adds its own ``make: *** [Makefile:N: gen] Error 2`` line after a failing recipe; the make
items strip exactly that line (which also proves the CLI exited 2) and
``test_make_refusal_is_exactly_one_line`` holds the README's one-line promise separately.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import shutil
import stat
import string
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PY_ENV = {"PYTHONPATH": str(ROOT), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
MAKE_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
#: make must never (re)install the venv from a test, even if pyproject.toml was just touched.
MAKE = ["make", "-s", "-o", ".venv/.sqgen-core"]
MAKE_TRAILER = re.compile(r"make: \*\*\* \[Makefile:\d+: [\w-]+\] Error 2")
MEM_LIMIT = 12 << 30  # a huge number must never make a test eat the shared machine's memory


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEM_LIMIT, MEM_LIMIT))


def run_py(module: str, argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *argv], cwd=cwd, env=PY_ENV, capture_output=True,
        text=True, encoding="utf-8", errors="replace", timeout=300, preexec_fn=_limit_memory,
    )


def run_make(argv: list[str]) -> subprocess.CompletedProcess:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    return subprocess.run(
        [*MAKE, *argv], cwd=ROOT, env=MAKE_ENV, capture_output=True, text=True,
        encoding="utf-8", errors="replace", timeout=300,
    )


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under ``root``: its type, and for files their bytes and mtime."""
    out: dict[str, tuple] = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        if stat.S_ISREG(st.st_mode):
            out[str(p.relative_to(root))] = ("file", p.read_bytes(), st.st_mtime_ns)
        else:
            out[str(p.relative_to(root))] = (stat.S_IFMT(st.st_mode),)
    return out


def assert_refusal(res: subprocess.CompletedProcess, names: tuple[str, ...],
                   forbid: tuple[str, ...] = (), what: str = "") -> str:
    """Exit 2, one ``error: `` line on stderr naming ``names``, no traceback, empty stdout."""
    err = res.stderr
    shown = f"{what}\n  exit {res.returncode}\n  stderr: {err!r}\n  stdout: {res.stdout!r}"
    assert "Traceback" not in err, shown
    assert res.returncode == 2, shown
    lines = err.splitlines()
    assert len(lines) == 1 and err.endswith("\n"), f"not exactly one line: {shown}"
    line = lines[0]
    assert line.startswith("error: "), shown
    for n in names:
        assert n in line, f"does not name {n!r}: {shown}"
    for n in forbid:
        assert n not in line, f"names {n!r}: {shown}"
    assert res.stdout == "", f"printed on stdout: {shown}"
    return line


# ---- the python -m corpus ---------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]  # after ``python -m``: module first
    names: tuple[str, ...]  # what the error line must name
    files: dict[str, bytes] = field(default_factory=dict)  # created in tmp_path first
    forbid: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()  # absolute paths that must not exist afterwards
    check: Callable[[str], None] | None = None  # further checks of the error line


def _yaml(text: str | bytes) -> dict[str, bytes]:
    return {"c.yaml": text if isinstance(text, bytes) else text.encode()}


def _pod_yaml(text: str | bytes, key: str | None, *more: str) -> Case:
    """``python -m gen pod --config c.yaml``: the message names ``c.yaml: key '<key>'``."""
    names = ("c.yaml: key " + repr(key),) if key else ("c.yaml: ",)
    return Case(("gen", "pod", "--config", "c.yaml", "--out", "out"), names + more, _yaml(text))


def _gen(*argv: str, names: tuple[str, ...], **kw) -> Case:
    return Case(("gen", *argv), names, **kw)


def _random_bytes(seed: int) -> bytes:
    return random.Random(seed).randbytes(512)


def _random_text(seed: int) -> bytes:
    """Printable ASCII garbage (for the YAML parser itself); no VT/FF (see control-char)."""
    rng = random.Random(seed)
    alphabet = "".join(c for c in string.printable if c not in "\x0b\x0c")
    return "".join(rng.choice(alphabet) for _ in range(400)).encode()


BAD_LIB = b"""library (bad) {
  cell (NAND2) {
    area : 1.0;
    pin (A) { direction : input; }
    pin (B) { direction : input; }
    pin (Y) { direction : output; function : "!(A&B)"; }
  }
  cell (NEGATIVE) {
    area : -3;
    pin (A) { direction : input; }
    pin (Y) { direction : output; function : "!A"; }
  }
}
"""


def _rows_multiple_of_n(line: str) -> None:
    assert "rows 3 must be a multiple of N=2" in line, line
    assert "block" not in line.lower(), f"a block-size message for a rows problem: {line}"


def _no_widening(line: str) -> None:
    assert "multiple of the fold depth 16" in line, line


POD1 = ("pod", "--pod", "1x1")
CORPUS: dict[str, object] = {
    # -- huge numbers
    "yaml-rows-1e23": _pod_yaml("rows: 1e23\n", "rows"),
    "yaml-rows-1.0e+23-float": _pod_yaml("rows: 1.0e+23\n", "rows"),
    "yaml-rows-10**23-int": _pod_yaml(f"rows: {10**23}\n", "rows"),
    "yaml-acc_width-10**12": _pod_yaml("acc_width: 1000000000000\n", "acc_width"),
    "cli-pod-99999x99999": _gen("pod", "--pod", "99999x99999", "--out", "out",
                                names=("--pod",)),
    "cli-acc-width-10**12": _gen("pod", "--acc-width", "1000000000000", "--out", "out",
                                 names=("--acc-width",)),
    "cli-sparsity-2:10**23": _gen("pod", "--sparsity", f"2:{10**23}", "--out", "out",
                                  names=("--sparsity",)),
    "cli-dot-mant-bits-acc-width-10**12": _gen(
        "dot", "--mant-bits", "4", "--acc-width", "1000000000000", "--out", "out",
        names=("--acc-width",)),
    # -- files that are not YAML text
    "yaml-random-bytes-seed0": _pod_yaml(_random_bytes(0), None),
    "yaml-random-bytes-seed1": _pod_yaml(_random_bytes(1), None),
    "yaml-random-bytes-seed2": _pod_yaml(_random_bytes(2), None),
    "yaml-invalid-utf8": _pod_yaml(b"name: caf\xe9\nrows: 4\n", None, "UTF-8"),
    "yaml-random-ascii-seed0": _pod_yaml(_random_text(0), None),
    "yaml-random-ascii-seed1": _pod_yaml(_random_text(1), None),
    "yaml-control-char": _pod_yaml("rows: 4\x0b\n", None),
    # -- names that are not Verilog identifiers, or not strings
    "yaml-name-3x": _pod_yaml("name: 3x\n", "name"),
    "yaml-name-a-b": _pod_yaml("name: a-b\n", "name"),
    "yaml-name-keyword-module": _pod_yaml("name: module\n", "name"),
    "yaml-name-100-chars": _pod_yaml("name: " + "n" * 100 + "\n", "name"),
    "yaml-name-int": _pod_yaml("name: 5\n", "name"),
    "yaml-name-list": _pod_yaml("name: [a]\n", "name"),
    # -- --out that must not be used
    "out-current-dir": _gen(*POD1, "--out", ".", names=("--out",)),
    "out-unwritable-proc": _gen(*POD1, "--out", "/proc/sqgen-x", names=("--out",),
                                absent=("/proc/sqgen-x",)),
    "out-existing-file": _gen(*POD1, "--out", "out", names=("--out",),
                              files={"out": b"precious, not a design\n"}),
    "out-foreign-dir": _gen(*POD1, "--out", "out", names=("--out",),
                            files={"out/notes.txt": b"mine\n", "out/sub/x.v": b"module x;\n"}),
    # -- conflicting or duplicated values
    "yaml-duplicate-key": _pod_yaml("rows: 4\nrows: 8\n", "rows"),
    "yaml-pod-and-rows": _pod_yaml("pod: 8x8\nrows: 4\n", "rows", "'pod'"),
    "cli-pod-and-rows": _gen("pod", "--pod", "8x8", "--rows", "4", "--out", "out",
                             names=("--rows", "--pod")),
    # -- pod constraints
    "cli-block-not-fold-multiple": _gen(
        "pod", "--pod", "8x8", "--sparsity", "2:4", "--block", "8", "--out", "out",
        names=("--block=8",), check=_no_widening),
    "cli-pod-pipeline-2": _gen("pod", "--pod", "4x4", "--pipeline", "2", "--out", "out",
                               names=("--pipeline",)),
    "cli-pod-stall-unknown": _gen("pod", "--pod", "4x4", "--stall", "skid", "--out", "out",
                                  names=("--stall", "skid")),
    "cli-engine-stall-queue": _gen("engine", "--pod", "4x4", "--stall", "queue", "--out", "out",
                                   names=("--stall=queue",)),
    "cli-rows-3-sparsity-2:4": Case(
        ("gen", "pod", "--rows", "3", "--sparsity", "2:4", "--out", "out"), ("--sparsity",),
        check=_rows_multiple_of_n),
    # -- stochastic rounding seed outside 32 bits
    "cli-seed-2**32": _gen("convert", "--rounding", "stochastic", "--seed", "4294967296",
                           "--out", "out", names=("--seed",)),
    "cli-seed-negative": _gen("convert", "--rounding", "stochastic", "--seed", "-1",
                              "--out", "out", names=("--seed",)),
    # -- liberty with a negative cell area
    "liberty-negative-area": Case(
        ("flow", "area", "--target", "int8mac", "--liberty", "bad.lib", "--out", "out"),
        ("--liberty", "bad.lib", "NEGATIVE"), {"bad.lib": BAD_LIB}),
    # -- further items: values checked by hw/ whose message should name the flag
    "cli-dot-mant-bits-16": _gen("dot", "--mant-bits", "16", "--out", "out",
                                 names=("--mant-bits",)),
    "cli-convert-offset-bits-0": _gen("convert", "--rounding", "stochastic", "--offset-bits", "0",
                                      "--out", "out", names=("--offset-bits",)),
    "cli-normalize-frac-bits-1025": _gen("normalize", "--frac-bits", "1025", "--out", "out",
                                         names=("--frac-bits",)),
    "cli-fp32mac-pipeline-3": _gen("fp32mac", "--pipeline", "3", "--out", "out",
                                   names=("--pipeline",)),
    "cli-area-target-needs-sparsity": Case(
        ("flow", "area", "--target", "decoder", "--out", "out"), ("--target",)),
    "cli-config-missing": _gen("pod", "--config", "missing.yaml", "--out", "out",
                               names=("missing.yaml",)),
}


def _params(corpus: dict[str, object]) -> list[object]:
    out = []
    for k, v in corpus.items():
        if isinstance(v, Case):
            out.append(pytest.param(v, id=k))
        else:
            out.append(pytest.param(*v.values, marks=v.marks, id=k))
    return out


@pytest.mark.parametrize("case", _params(CORPUS))
def test_refused(case: Case, tmp_path: Path) -> None:
    for rel, data in case.files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    before = snapshot(tmp_path)
    res = run_py(case.argv[0], list(case.argv[1:]), tmp_path)
    what = "python -m " + " ".join(case.argv)
    line = assert_refusal(res, case.names, case.forbid, what)
    if case.check is not None:
        case.check(line)
    assert snapshot(tmp_path) == before, f"something was written under tmp_path: {what}"
    for a in case.absent:
        assert not os.path.lexists(a), f"{a} was created: {what}"


# ---- YAML 1.1 reads an unquoted 2:4 as 124 ----------------------------------------------------
def test_unquoted_sparsity_is_refused_with_a_hint_or_read_as_2_4(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("pod: 4x4\nsparsity: 2:4\n")
    res = run_py("gen", ["pod", "--config", "c.yaml", "--out", "out"], tmp_path)
    if res.returncode == 0:  # accepted: then it must mean 2:4, not 124 or anything else
        man = json.loads((tmp_path / "out" / "manifest.json").read_text())
        assert man["config"]["sparsity"] == "2:4", man["config"]
        return
    line = assert_refusal(res, ("c.yaml: key 'sparsity'",), what="unquoted sparsity: 2:4")
    assert "quote" in line and '"2:4"' in line, f"no hint to quote it: {line}"
    assert not (tmp_path / "out").exists()


# ---- --force and lint: the accepted paths ---------------------------------------------------
def test_force_writes_beside_foreign_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "notes.txt").write_bytes(b"mine\n")
    (out / "sub" / "x.v").write_bytes(b"module x;\n")
    mine = snapshot(out)
    res = run_py("gen", ["pod", "--pod", "1x1", "--out", "out", "--force"], tmp_path)
    assert res.returncode == 0, res.stderr
    after = snapshot(out)
    for k, v in mine.items():
        assert after.get(k) == v, f"--force changed {k}"
    man = json.loads((out / "manifest.json").read_text())
    assert set(man["files"]) == {"manifest.json", "sqgen_pod.v", "sqgen_pod.core"}, man["files"]
    assert set(after) == set(mine) | set(man["files"]), sorted(after)


def test_lint_accepts_a_freshly_generated_pod(tmp_path: Path) -> None:
    res = run_py("gen", ["pod", "--pod", "2x3", "--out", "pod"], tmp_path)
    assert res.returncode == 0, res.stderr
    res = run_py("gen", ["lint", "pod"], tmp_path)
    assert res.returncode == 0, f"exit {res.returncode}: {res.stderr}{res.stdout}"
    assert "lint clean" in res.stdout, res.stdout


# ---- make -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MakeCase:
    argv: tuple[str, ...]  # make target and variables; "{tmp}" is replaced by tmp_path
    names: tuple[str, ...]
    forbid: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()  # paths (with "{tmp}") that must not exist afterwards
    check: Callable[[str], None] | None = None


MAKE_CORPUS = {
    "make-gen-POD-99999x99999": MakeCase(
        ("gen", "POD=99999x99999", "OUT={tmp}/out"), ("POD=",), ("--pod",),
        absent=(str(ROOT / "build" / "pod_99999x99999"),)),
    "make-gen-BLOCK-not-fold-multiple": MakeCase(
        ("gen", "POD=8x8", "SPARSITY=2:4", "BLOCK=8", "OUT={tmp}/out"), ("BLOCK=8",),
        ("--block",), check=_no_widening),
    "make-gen-PIPELINE-2": MakeCase(
        ("gen", "POD=4x4", "PIPELINE=2", "OUT={tmp}/out"), ("PIPELINE=2",), ("--pipeline",)),
    "make-gen-POD-quote-injection": MakeCase(
        ("gen", "POD=4x4' --out '{tmp}/x", "OUT={tmp}/out"), ("POD=",), ("--pod",),
        absent=("{tmp}/x", "{tmp}/x'")),
    "make-gen-POD-negative": MakeCase(
        ("gen", "POD=-4x4", "OUT={tmp}/out"), ("POD=", "-4x4"), ("--pod",)),
    "make-area-SPARSITY-3:4": MakeCase(
        ("area", "SPARSITY=3:4", "TARGET=sparsedot", "OUT={tmp}/out"), ("SPARSITY=3:4",),
        ("--sparsity",)),
    "make-lint-rtl-DIR-missing": MakeCase(
        ("lint-rtl", "DIR={tmp}/nonexistent"), ("{tmp}/nonexistent",)),
}


@pytest.mark.parametrize("case", [pytest.param(v, id=k) for k, v in MAKE_CORPUS.items()])
def test_make_refused(case: MakeCase, tmp_path: Path) -> None:
    def sub(s: str) -> str:
        return s.replace("{tmp}", str(tmp_path))

    (tmp_path / "marker").write_text("untouched\n")
    before = snapshot(tmp_path)
    res = run_make([sub(a) for a in case.argv])
    what = "make -s " + " ".join(sub(a) for a in case.argv)
    lines = res.stderr.splitlines()
    # make's own trailer line; "Error 2" is the CLI's exit status
    assert lines and MAKE_TRAILER.fullmatch(lines[-1]), f"{what}: {res.stderr!r}"
    res = subprocess.CompletedProcess(res.args, res.returncode, res.stdout,
                                      "".join(s + "\n" for s in lines[:-1]))
    line = assert_refusal(res, tuple(sub(n) for n in case.names), case.forbid, what)
    if case.check is not None:
        case.check(line)
    assert snapshot(tmp_path) == before, f"something was written under tmp_path: {what}"
    for a in case.absent:
        assert not os.path.lexists(sub(a)), f"{sub(a)} was created: {what}"


def test_make_refusal_is_the_cli_line_plus_makes_trailer(tmp_path: Path) -> None:
    """make cannot be kept from adding its own 'make: *** [...] Error 2' line (README says
    so); everything sqgen prints is the one 'error:' line."""
    res = run_make(["gen", "POD=32", f"OUT={tmp_path}/out"])
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2 and len(lines) == 2, res.stderr
    assert lines[0].startswith("error: POD=") and MAKE_TRAILER.fullmatch(lines[1]), res.stderr
