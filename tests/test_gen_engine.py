"""``python -m gen engine`` / ``make gen POD=RxC TOP=engine``: output, manifest, error contract."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gen.cmd_engine import engine_config, generate_engine, geometry
from gen.config import ConfigError, DesignConfig
from golden.engine import EngineLayout

ROOT = Path(__file__).resolve().parent.parent


def run_gen(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gen", "engine", *args], capture_output=True, text=True, cwd=cwd,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", **(env or {})},
    )


def test_every_module_once_and_deterministic():
    cfg = DesignConfig(rows=4, cols=3, format="hbfp6", sparsity="2:4", narrow_format="hbfp4",
                       tile=5)
    d1, d2 = generate_engine(cfg), generate_engine(cfg)
    text = d1.files["sqgen_engine.v"]
    assert text == d2.files["sqgen_engine.v"]
    names = re.findall(r"^module (\S+)\(", text, re.M)
    assert len(names) == len(set(names))
    for child in ("sqgen_engine_pod", "sqgen_engine_convert", "sqgen_engine_norm",
                  "sqgen_engine_buffer", "sqgen_engine_pe"):
        assert child in names
    # one normalizer module, instantiated once per column
    assert len(re.findall(r"^\s*sqgen_engine_norm \w+ \(", text, re.M)) == 3


def test_manifest_ports_and_layout_match_golden():
    cfg = DesignConfig(rows=4, cols=4, format="hbfp8", narrow_format="hbfp4", tile=7)
    d = generate_engine(cfg)
    man = d.manifest
    lay = EngineLayout(geometry(engine_config(cfg)))
    widths = {p["name"]: p["width"] for p in man["ports"]}
    assert widths["act__payload"] == lay.width(lay.act)
    assert widths["w__payload"] == lay.width(lay.w)
    assert widths["res__payload"] == lay.width(lay.res)
    assert widths["error"] == 1
    for s in ("act", "w", "res"):
        got = man["payload_layout"][s]
        want = dict(getattr(lay, s))
        assert {k: v["width"] for k, v in got.items()} == want
    assert man["output_buffer"] == {**man["output_buffer"], "rows": 7, "word_bits": 128,
                                    "bits": 7 * 128}
    assert man["latency"] == 2 + 7 + 2 and man["fold_depth"] == 4


def test_cli_writes_default_dir_and_summary(tmp_path):
    r = run_gen("--make", cwd=tmp_path, env={"POD": "4x4", "TILE": "8"})
    assert r.returncode == 0, r.stderr
    out = tmp_path / "build" / "engine_4x4"
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "sqgen_engine.core",
                                                      "sqgen_engine.v"]
    man = json.loads((out / "manifest.json").read_text())
    assert man["config"]["tile"] == 8 and "engine" in json.dumps(man["generator"])
    assert "output buffer  8 x 128 bits = 1024 bits" in r.stdout


@pytest.mark.parametrize("env, hint", [
    ({"POD": "4x4", "TILE": "0"}, "TILE=0: tile height must be a positive integer"),
    ({"POD": "4x4", "TILE": "70000"}, "TILE=70000: tile height must be in 1..65536"),
    ({"POD": "4x4", "TILE": "x"}, "TILE=x: tile height must be a positive integer"),
    ({"POD": "4x4", "BLOCK": "8"}, "BLOCK=8: the engine's HBFP block is one fold slice"),
    ({"POD": "4x4", "PIPELINE": "4"}, "PIPELINE=4: a 4-row engine cannot hide a 4-stage"),
    ({"POD": "1x4"}, "an engine needs at least 2 pod rows"),
    ({"POD": "4x4", "SPARSITY": "3:4"}, "SPARSITY"),
    ({"POD": "4x4", "FMT": "fp32", "SPARSITY": "2:4"}, "the FP32 baseline array has no"),
    ({"POD": "4x4", "FMT": "fp32", "PIPELINE": "2"}, "PIPELINE=2: the FP32 engine has no"),
    ({"POD": "4x4", "FMT": "fp32", "ACC": "24"}, "the FP32 array's sums are 32 bits wide"),
    ({"POD": "4x4", "FMT": "fp32", "ROUNDING": "stochastic"}, "does no conversion"),
])
def test_cli_bad_values_one_line_nothing_written(tmp_path, env, hint):
    r = run_gen("--make", cwd=tmp_path, env=env)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert hint in lines[0], lines[0]
    assert not (tmp_path / "build").exists()


def test_engine_config_refuses_a_block_other_than_the_fold():
    with pytest.raises(ConfigError, match="accepted: 8 or leave it unset"):
        engine_config(DesignConfig(rows=4, cols=4, sparsity="2:4", block_size=16))


def test_make_gen_top_engine(tmp_path):
    out = tmp_path / "e"
    r = subprocess.run(["make", "-s", "gen", "POD=4x2", "TOP=engine", f"OUT={out}"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (out / "sqgen_engine.v").exists()
    r = subprocess.run(["make", "-s", "gen", "POD=4x2", "TOP=bogus", f"OUT={out}x"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 2 and "TOP=bogus: must be pod, engine or system" in r.stderr
    assert not (tmp_path / "ex").exists()


def test_fp32_engine_is_the_same_shell_around_fp32_pes():
    d = generate_engine(DesignConfig(rows=4, cols=3, format="fp32", tile=4))
    text = d.files["sqgen_engine.v"]
    names = re.findall(r"^module (\S+)\(", text, re.M)
    assert "sqgen_engine_convert" not in names and "sqgen_engine_norm" not in names
    assert {"sqgen_engine_pod", "sqgen_engine_buffer", "sqgen_engine_pe"} <= set(names)
    man = d.manifest
    assert man["arith"] == "fp32" and man["latencies"]["input"] == 1
    widths = {p["name"]: p["width"] for p in man["ports"]}
    assert widths["w__payload"] == 3 * 32 and widths["act__payload"] == 4 * 32 + 3


def test_fp32_format_is_refused_by_other_generators(tmp_path):
    r = subprocess.run([sys.executable, "-m", "gen", "pod", "--make"], capture_output=True,
                       text=True, cwd=tmp_path, env={"PYTHONPATH": str(ROOT),
                                                     "PATH": "/usr/bin:/bin", "FMT": "fp32"})
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "FMT=fp32: the FP32 baseline array is built by the engine" in r.stderr


def test_int8_engine_is_the_same_shell_around_int8_pes():
    d = generate_engine(DesignConfig(rows=4, cols=3, format="int8", tile=4))
    text = d.files["sqgen_engine.v"]
    names = re.findall(r"^module (\S+)\(", text, re.M)
    assert {"sqgen_engine_pod", "sqgen_engine_buffer", "sqgen_engine_pe",
            "sqgen_engine_convert", "sqgen_engine_norm"} <= set(names)
    man = d.manifest
    assert man["arith"] == "int8" and man["config"]["format"] == "int8"
    widths = {p["name"]: p["width"] for p in man["ports"]}
    assert widths["w__payload"] == 3 * 8 + 3 * 32  # codes, then the columns' FP32 scales
    assert widths["act__payload"] == 4 * 32 + 3 + 32  # lanes, flags, the FP32 1/s_a
    lay = man["payload_layout"]["act"]
    assert lay["scale"]["lsb"] == 4 * 32 + 3 and lay["scale"]["width"] == 32
    assert man["payload_layout"]["w"]["scale"] == {"lsb": 24, "width": 96, "signed": False}


@pytest.mark.parametrize("flag, hint", [
    (["--sparsity", "2:4"], "--sparsity=2:4: format int8: the INT8 baseline array has no "
                            "sparsity"),
    (["--rounding", "stochastic"], "the INT8 engine's quantizer rounds to nearest even"),
    (["--acc-width", "24"], "the INT8 array's sums are 32 bits wide"),
])
def test_int8_engine_bad_values(tmp_path, flag, hint):
    r = subprocess.run([sys.executable, "-m", "gen", "engine", "--pod", "4x4", "--format",
                        "int8", *flag, "--out", str(tmp_path / "e")], capture_output=True,
                       text=True, cwd=ROOT)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert hint in r.stderr
    assert not (tmp_path / "e").exists()
