"""gen/output.py: the output writer never loses a user's file, and a design appears whole.

Each test failed against the writer it replaced (which emptied a foreign --out directory,
replaced a file by a folder, could leave neither design after a signal, leaked .old-/.tmp-
folders and created folders 0700).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gen.config import ConfigError, DesignConfig
from gen.output import write_tree
from gen.targets import generate

ROOT = Path(__file__).resolve().parent.parent


def _design():
    return generate("dot", DesignConfig(block_size=4, format="hbfp4"))


def _gen(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gen", *args], capture_output=True, text=True,
                          cwd=cwd, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def _user_files(d: Path) -> None:
    (d / "sub").mkdir(parents=True)
    (d / "notes.txt").write_text("mine")
    (d / "sub" / "data.bin").write_bytes(b"\x00\x01")


def _assert_user_files(d: Path) -> None:
    assert (d / "notes.txt").read_text() == "mine"
    assert (d / "sub" / "data.bin").read_bytes() == b"\x00\x01"


def test_foreign_directory_is_refused_and_kept(tmp_path):
    out = tmp_path / "out"
    _user_files(out)
    r = _gen("dot", "--block", "4", "--out", str(out), cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--out" in lines[0] and "holds no sqgen design" in lines[0]
    _assert_user_files(out)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "sub"]


def test_force_writes_beside_and_keeps_user_files(tmp_path):
    out = tmp_path / "out"
    _user_files(out)
    r = _gen("dot", "--block", "4", "--out", str(out), "--force", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    _assert_user_files(out)
    man = json.loads((out / "manifest.json").read_text())
    assert all((out / f).is_file() for f in man["files"])


def test_make_names_out_and_reads_force(tmp_path):
    out = tmp_path / "o"
    _user_files(out)
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OUT": str(out), "POD": "2x2"}
    r = subprocess.run([sys.executable, "-m", "gen", "pod", "--make"], capture_output=True,
                       text=True, cwd=tmp_path, env=env)
    assert r.returncode == 2 and r.stderr.startswith(f"error: OUT {out}:"), r.stderr
    r = subprocess.run([sys.executable, "-m", "gen", "pod", "--make"], capture_output=True,
                       text=True, cwd=tmp_path, env={**env, "FORCE": "1"})
    assert r.returncode == 0, r.stderr
    _assert_user_files(out)


def test_a_file_is_never_replaced(tmp_path):
    f = tmp_path / "design"
    f.write_text("precious")
    with pytest.raises(ConfigError, match="is a file"):
        _design().write(f)
    with pytest.raises(ConfigError, match="is a file"):
        _design().write(f, force=True)
    assert f.read_text() == "precious"


def test_regenerate_replaces_own_design_but_not_added_files(tmp_path):
    out = tmp_path / "d"
    _design().write(out)
    first = sorted(p.name for p in out.iterdir())
    generate("dot", DesignConfig(block_size=8)).write(out)  # ours: replaced
    assert sorted(p.name for p in out.iterdir()) == first
    assert json.loads((out / "manifest.json").read_text())["config"]["block_size"] == 8
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="did not write.*notes.txt"):
        _design().write(out)
    assert (out / "notes.txt").read_text() == "mine"


def test_current_directory_and_unwritable_places_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x").write_text("keep")
    for bad in (".", str(tmp_path), str(tmp_path.parent)):
        with pytest.raises(ConfigError, match="current directory"):
            _design().write(bad)
    with pytest.raises(ConfigError, match="cannot"):
        _design().write("/proc/self/sqgen-out")
    assert (tmp_path / "x").read_text() == "keep"
    r = _gen("dot", "--block", "4", "--out", "/proc/sqgen", cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_umask_is_honoured(tmp_path):
    old = os.umask(0o022)
    try:
        out = _design().write(tmp_path / "u")
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o755
    assert all((p.stat().st_mode & 0o777) == 0o644 for p in out.iterdir())


# ---- signals and concurrency --------------------------------------------------------------
_WRITER = """
import sys
from gen.output import write_tree
out, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
files = {f"f{i:03d}.v": f"// {tag} {i}\\n" * 2000 for i in range(n)}
files["manifest.json"] = '{"generator": "sqgen test", "tag": "%s", "files": %s}' % (
    tag, str(sorted([*files, "manifest.json"])).replace("'", '"'))
write_tree(out, files, manifest_name="manifest.json")
"""


def _whole(out: Path) -> str | None:
    """The tag of the complete design in ``out`` (asserting it is complete), or None."""
    if not out.exists():
        return None
    man = json.loads((out / "manifest.json").read_text())
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(man["files"]), names
    for f in man["files"]:
        if f != "manifest.json":
            assert (out / f).read_text().startswith(f"// {man['tag']} "), f
    return man["tag"]


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_regeneration_leaves_old_or_new_and_is_cleaned(tmp_path, sig):
    out = tmp_path / "d"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # The first run compiles the modules' bytecode (a clean clone has none): time the second.
    subprocess.run([sys.executable, "-c", _WRITER, str(out), "v0", "60"], check=True, env=env)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", _WRITER, str(out), "v0", "60"], check=True, env=env)
    full = time.perf_counter() - t0  # kill delays scale with this machine's speed
    rng = random.Random(sig)
    seen = set()
    # Kills alternate between early (mostly before the swap) and late (mostly after) delays, at
    # least 14 of them and until both outcomes were seen: a loaded machine shifts the timing
    # but cannot make the test pass without exercising both sides.
    for i in range(60):
        if i >= 14 and seen == {True, False}:
            break
        # SIGINT as an interactive shell would deliver it: a runner started in the background
        # inherits SIGINT ignored, and Python then never raises KeyboardInterrupt.
        p = subprocess.Popen([sys.executable, "-c", _WRITER, str(out), f"v{i + 1}", "60"],
                             env=env, stderr=subprocess.DEVNULL, preexec_fn=_default_sigint)
        lo, hi = (0.05, 0.7) if i % 2 == 0 else (0.9, 2.0)
        time.sleep(rng.uniform(lo, hi) * full)
        p.send_signal(sig)
        p.wait()
        tag = _whole(out)
        assert tag is not None, f"kill {i}: neither the old nor the new design exists"
        seen.add(tag == f"v{i + 1}")
    assert seen == {True, False}, "the kills should land both before and after the swap"
    # the next writer removes whatever the killed ones left behind
    subprocess.run([sys.executable, "-c", _WRITER, str(out), "final", "3"], check=True, env=env)
    assert _whole(out) == "final"
    assert _leftovers(tmp_path) == [], _leftovers(tmp_path)


def test_concurrent_writers_both_end_cleanly(tmp_path):
    out = tmp_path / "d"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(out), f"w{k}", "40"], env=env,
                              stderr=subprocess.PIPE, text=True) for k in range(3)]
    for p in procs:
        _, err = p.communicate()
        assert p.returncode == 0, err
    assert _whole(out) in {"w0", "w1", "w2"}
    assert _leftovers(tmp_path) == []


def test_write_tree_writes_manifest_last(tmp_path):
    order = []
    files = {"manifest.json": "{}", "a.v": "x", "b.v": "y"}
    write_tree(tmp_path / "t", files, manifest_name="manifest.json", force=False)
    for p in sorted((tmp_path / "t").iterdir(), key=lambda p: p.stat().st_mtime_ns):
        order.append(p.name)
    assert order[-1] == "manifest.json"
