"""The FuseSoC CAPI2 core every generated design ships (gen/fusesoc.py, gen.emit.write_design).

The cores are checked by FuseSoC itself, not by re-reading our own text: the ``fusesoc``
executable of this environment parses each written ``<top>.core`` (schema-validated), lists
it, sets up its ``default`` target and runs its ``lint`` target, whose Edalize lint flow runs
Verilator ``--lint-only -Wall`` with the project's waivers on the files FuseSoC staged. The
test reads back the EDAM description FuseSoC writes (``<name>.eda.yml``: toplevel, files,
file types, Verilator options) and compares it with the design. No network is used; HOME,
the XDG directories and the FuseSoC config live under ``tmp_path``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gen import fusesoc
from gen.config import DesignConfig
from gen.emit import LINT_WAIVERS, Design
from gen.targets import generate
from gen.toolchain import toolchain_env

#: The fusesoc script installed beside this interpreter (fusesoc is a core dependency).
FUSESOC = Path(sys.executable).parent / "fusesoc"

#: Small design points: a dense dot unit, a 2:4 sparse dot unit and a 2x2 pod.
POINTS = {
    "dot": ("dot", DesignConfig(format="hbfp6", block_size=4)),
    "sparsedot": ("sparsedot", DesignConfig(format="hbfp6", block_size=8, sparsity="2:4")),
    "pod": ("pod", DesignConfig(rows=2, cols=2, format="hbfp6")),
}

LINT_OPTIONS = ["-Wall", *(f"-Wno-{w}" for w in sorted(LINT_WAIVERS))]


def _fusesoc(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run fusesoc with HOME, XDG dirs, config and working directory under ``home``."""
    assert FUSESOC.exists(), f"fusesoc is a core dependency but {FUSESOC} does not exist"
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in toolchain_env().items() if not k.startswith("FUSESOC")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
    )
    cmd = [str(FUSESOC), "--monochrome", "--config", str(home / "fusesoc.conf"), *args]
    return subprocess.run(cmd, cwd=home, env=env, capture_output=True, text=True, timeout=300)


def _eda(work: Path) -> dict:
    (path,) = work.glob("*.eda.yml")
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, dict[str, tuple[Design, Path]]]:
    """Every design point generated and written under one cores root."""
    root = tmp_path_factory.mktemp("cores")
    out = {}
    for label, (target, cfg) in POINTS.items():
        d = generate(target, cfg)
        out[label] = (d, d.write(root / label))
    return root, out


def test_core_is_written_listed_and_deterministic(written):
    _, designs = written
    tops = [d.top for d, _ in designs.values()]
    assert len(set(tops)) == len(tops), "distinct VLNVs in one cores root"
    for label, (d, out) in designs.items():
        core_name = f"{d.top}.core"
        man = json.loads((out / "manifest.json").read_text())
        assert man["files"] == sorted([*d.files, core_name, "manifest.json"])
        assert sorted(p.name for p in out.iterdir()) == man["files"]
        text = (out / core_name).read_text()
        assert text == fusesoc.core_text(d, waivers=LINT_WAIVERS)
        again = generate(*POINTS[label])
        assert fusesoc.core_text(again, waivers=LINT_WAIVERS) == text, "deterministic text"
        assert text.startswith("CAPI=2:\n")
        assert f'name: "sqgen:gen:{d.top}:{fusesoc.sqgen_version()}"' in text


def test_fusesoc_parses_and_lists_every_core(written, tmp_path):
    root, designs = written
    r = _fusesoc(tmp_path, "--cores-root", str(root), "core", "list")
    assert r.returncode == 0, r.stderr
    assert "Parse error" not in r.stderr, r.stderr
    for d, _ in designs.values():
        assert fusesoc.vlnv(d.top) in r.stdout, r.stdout


@pytest.mark.parametrize("label", list(POINTS))
def test_fusesoc_targets_stage_the_design(written, tmp_path, label):
    """``lint`` runs Verilator on exactly the design's files; ``default`` has the top."""
    _, designs = written
    d, out = designs[label]
    name = fusesoc.vlnv(d.top)

    work = tmp_path / "lint"
    r = _fusesoc(tmp_path, "--cores-root", str(out), "run", "--target", "lint",
                 "--work-root", str(work), name)
    assert r.returncode == 0, r.stdout + r.stderr
    eda = _eda(work)
    assert eda["toplevel"] == d.top
    assert [Path(f["name"]).name for f in eda["files"]] == d.verilog_files
    assert {f["file_type"] for f in eda["files"]} == {"verilogSource"}
    for f in eda["files"]:
        assert (work / f["name"]).read_text() == d.files[Path(f["name"]).name]
    assert eda["flow_options"] == {"tool": "verilator", "verilator_options": LINT_OPTIONS}
    vc = (work / f"{eda['name']}.vc").read_text().split()
    assert "--lint-only" in vc and vc[vc.index("--top-module") + 1] == d.top

    work = tmp_path / "default"
    r = _fusesoc(tmp_path, "--cores-root", str(out), "run", "--setup", "--tool", "icarus",
                 "--work-root", str(work), name)
    assert r.returncode == 0, r.stdout + r.stderr
    eda = _eda(work)
    assert eda["toplevel"] == d.top
    assert [Path(f["name"]).name for f in eda["files"]] == d.verilog_files


def test_broken_cores_are_caught(written, tmp_path):
    """The checks above fail on a malformed core, a wrong file list or missing waivers."""
    d, _ = written[1]["dot"]
    name = fusesoc.vlnv(d.top)
    good = fusesoc.core_text(d, waivers=LINT_WAIVERS)

    def write(tag: str, core: str, files: dict[str, str] | None = None) -> Path:
        out = tmp_path / tag
        out.mkdir()
        for fname, text in (d.files if files is None else files).items():
            (out / fname).write_text(text)
        (out / f"{d.top}.core").write_text(core)
        return out

    # Truncated YAML, and a key the CAPI2 schema does not know: FuseSoC ignores the file.
    for tag, core in (("truncated", good[: len(good) // 2] + "  [\n"),
                      ("schema", good.replace("    toplevel:", "    top_level:", 1))):
        r = _fusesoc(tmp_path / "home", "--cores-root", str(write(tag, core)), "core", "list")
        assert name not in r.stdout and "Parse error" in r.stderr, (tag, r.stdout, r.stderr)

    # A core naming a file that is not there: setup fails.
    out = write("nofile", good, files={})
    r = _fusesoc(tmp_path / "home", "--cores-root", str(out), "run", "--setup", "--target",
                 "lint", "--work-root", str(tmp_path / "w-nofile"), name)
    assert r.returncode != 0 and "Cannot find" in r.stderr, r.stderr

    # Without the waivers, Verilator -Wall rejects Amaranth's Verilog: the lint target lints.
    out = write("nowaivers", fusesoc.core_text(d, waivers=()))
    r = _fusesoc(tmp_path / "home", "--cores-root", str(out), "run", "--target", "lint",
                 "--work-root", str(tmp_path / "w-nowaivers"), name)
    assert r.returncode != 0 and "%Warning-WIDTH" in r.stdout + r.stderr, r.stdout + r.stderr


def test_core_text_refuses_a_design_without_verilog():
    with pytest.raises(ValueError, match="no Verilog files"):
        fusesoc.core_text(Design("x", {"notes.txt": ""}, {"top": "x"}), waivers=())
