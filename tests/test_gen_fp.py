"""``python -m gen convert|normalize|fp32mac``: files, manifest, lint, parsing, refusals."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gen.__main__ import main
from gen.config import DesignConfig
from gen.targets import generate

ROOT = Path(__file__).resolve().parent.parent


def _yosys_parse(path: Path, top: str) -> None:
    """Parse with Yosys (pyosys) in a child process, so a libyosys abort cannot kill pytest."""
    code = (
        "from pyosys import libyosys as ys; d = ys.Design(); "
        f"ys.run_pass('read_verilog -sv {path}', d); ys.run_pass('hierarchy -check -top {top}', d)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]


#: (command, arguments, latency, {port or "<stream>.<field>": width}); a field is looked up in
#: the manifest's payload_layout (an array field by its element width).
CASES = [
    ("convert", ["--format", "hbfp6", "--block", "12"], 1,
     {"i__payload": 12 * 32, "o__payload": 12 * 6 + 9 + 1, "i.x": 32, "o.block.mant": 6,
      "o.block.exp": 9, "o.invalid": 1}),
    ("convert", ["--mant-bits", "15", "--block", "3", "--pipeline", "2", "--rounding",
                 "stochastic", "--offset-bits", "12"], 2, {"o.block.mant": 16}),
    ("normalize", ["--format", "hbfp8", "--block", "64"], 1,
     {"i.acc": 30, "i.exp": 10, "o.f32": 32, "i__payload": 40}),
    ("fp32mac", ["--pipeline", "2"], 2, {"i.a": 32, "i.b": 32, "i.first": 1, "o.acc": 32}),
]


@pytest.mark.parametrize("cmd,args,latency,widths", CASES, ids=[c[0] + str(i)
                                                                for i, c in enumerate(CASES)])
def test_cli_writes_linted_design(tmp_path, capsys, cmd, args, latency, widths):
    out = tmp_path / "d"
    assert main([cmd, *args, "--out", str(out)]) == 0  # includes the Verilator -Wall lint
    man = json.loads((out / "manifest.json").read_text())
    top = man["top"]
    assert man["latency"] == latency
    assert sorted(man["files"]) == sorted([f"{top}.v", f"{top}.core", "manifest.json"])
    assert sorted(p.name for p in out.iterdir()) == man["files"]
    ports = {p["name"]: p for p in man["ports"]}
    lay = man["payload_layout"]
    for name, w in widths.items():
        if "." in name:
            stream, field = name.split(".", 1)
            f = lay[stream][field]
            assert f.get("element_width", f["width"]) == w, (name, f)
        else:
            assert ports[name]["width"] == w and ports[name]["meaning"]
    assert set(ports) == {"clk", "rst", "i__valid", "i__payload", "o__valid", "o__payload"}
    assert all(p["meaning"] for p in ports.values())
    assert man["lint_waivers"] and "amaranth" in man["tool_versions"]
    assert man["protocol"] and man["config"]["pipeline"] == latency
    if cmd == "convert" and "stochastic" in args:
        assert man["config"]["offset_bits"] == 12 and len(man["lfsr"]["lane_seeds"]) == 3
    if shutil.which("iverilog"):
        res = subprocess.run(["iverilog", "-g2012", "-o", str(tmp_path / "a.out"),
                              str(out / f"{top}.v")], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
    _yosys_parse(out / f"{top}.v", top)


@pytest.mark.parametrize(
    "argv,msg",
    [
        (["convert", "--mant-bits", "1"], "mantissa width must be 2..15"),
        (["convert", "--mant-bits", "16"], "mantissa width must be 2..15"),
        (["convert", "--block", "0"], "block size"),
        (["convert", "--mant-bits", "x"], "--mant-bits must be an integer"),
        (["convert", "--rounding", "stochastic", "--offset-bits", "0"], "offset bits"),
        (["normalize", "--mant-bits", "16"], "mantissa width must be 2..15"),
        (["normalize", "--exp-width", "1"], "exponent width"),
        (["normalize", "--acc-width", "3"], "too narrow"),
        (["fp32mac", "--pipeline", "3"], "pipeline depth must be 1 or 2"),
    ],
)
def test_cli_refuses_bad_input_and_writes_nothing(tmp_path, capsys, argv, msg):
    out = tmp_path / "d"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and msg in err[0], err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_cli_subprocess_exit_code(tmp_path):
    out = tmp_path / "d"
    res = subprocess.run([sys.executable, "-m", "gen", "convert", "--mant-bits", "1", "--out",
                          str(out)], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 2 and "mantissa width" in res.stderr and not out.exists()


def test_registry_builds_in_memory():
    cfg = DesignConfig(format="hbfp4", block_size=5, pipeline=2)
    conv = generate("convert", cfg)
    assert conv.manifest["config"]["mant_bits"] == 3 and conv.manifest["latency"] == 2
    norm = generate("normalize", cfg)
    assert norm.manifest["config"]["frac_bits"] == 6
    assert norm.manifest["config"]["acc_width"] == cfg.acc_width
    mac = generate("fp32mac", cfg)
    assert mac.verilog_files == ["sqgen_fp32mac.v"] and mac.manifest["latency"] == 2
