"""``python -m gen dot``: generation, manifest, lint, Icarus/Yosys parse, bad-input refusal."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gen.__main__ import main as gen_main
from gen.cmd_datapath import generate_dot
from gen.config import ConfigError, DesignConfig
from gen.emit import LINT_WAIVERS
from gen.targets import generate

ROOT = Path(__file__).resolve().parent.parent


def _run_cli(args: list[str], capsys) -> tuple[int, str]:
    rc = gen_main(["dot", *args])
    return rc, capsys.readouterr().err


def test_cli_writes_verilog_and_manifest(tmp_path: Path, capsys) -> None:
    out = tmp_path / "dot"
    rc, err = _run_cli(["--format", "hbfp6", "--block", "16", "--narrow-format", "hbfp4",
                        "--pipeline", "3", "--out", str(out)], capsys)
    assert rc == 0, err
    man = json.loads((out / "manifest.json").read_text())
    assert man["files"] == ["manifest.json", "sqgen_dot.core", "sqgen_dot.v"]
    assert man["top"] == "sqgen_dot" and man["latency"] == 3
    assert man["config"]["lanes"] == 16 and man["config"]["mant_bits"] == 5
    assert man["config"]["narrow_mant_bits"] == 3 and man["config"]["acc_width"] == 24
    assert man["lint_waivers"] == sorted(LINT_WAIVERS)
    assert {"amaranth", "verilator", "cocotb"} <= set(man["tool_versions"])
    ports = {p["name"]: p for p in man["ports"]}
    assert set(ports) == {"clk", "rst", "i__valid", "i__payload", "o__valid", "o__payload"}
    lay_i, lay_o = man["payload_layout"]["i"], man["payload_layout"]["o"]
    a = lay_i["a.mant"]
    assert (a["count"], a["element_width"], a["signed"]) == (16, 6, True)
    assert lay_i["mode"] == {"lsb": 2 * (16 * 6 + 9) + 1, "width": 1, "signed": False}
    assert ports["i__payload"]["width"] == 2 * (16 * 6 + 9) + 2
    assert ports["i__payload"]["direction"] == "input" and ports["i__payload"]["meaning"]
    assert lay_o["acc"]["width"] == 24 and lay_o["exp"] == {"lsb": 24, "width": 10,
                                                            "signed": True}
    assert ports["o__payload"]["width"] == 34
    assert all(p["meaning"] for p in man["ports"]), "every port documented"
    assert "latency" in man["protocol"] and man["pipeline_cuts"]["levels"] == [0, 4]
    text = (out / "sqgen_dot.v").read_text()
    assert "module sqgen_dot" in text and "i__payload" in text and "i__ready" not in text


def test_width_overrides_and_targets_registry(tmp_path: Path, capsys) -> None:
    out = tmp_path / "m2"
    rc, err = _run_cli(["--mant-bits", "2", "--block", "12", "--acc-width", "10", "--out",
                        str(out)], capsys)
    assert rc == 0, err
    man = json.loads((out / "manifest.json").read_text())
    assert (man["config"]["mant_bits"], man["config"]["acc_width"]) == (2, 10)
    assert "format" not in man["config"] and "mode" not in man["payload_layout"]["i"]
    d = generate_dot(DesignConfig(block_size=5), mant_bits=15, narrow_mant_bits=2)
    assert d.manifest["config"]["acc_width"] == 2 * 16 + 3 + 8
    cfg = DesignConfig(format="hbfp8", block_size=8, pipeline=2)
    d1, d2 = generate("dot", cfg), generate("dot", cfg)
    assert d1.files == d2.files, "same config -> same bytes"
    assert d1.manifest["config"]["mant_bits"] == 7 and d1.manifest["latency"] == 2


@pytest.mark.parametrize(
    "args,msg",
    [
        (["--mant-bits", "16"], "mantissa width must be 2..15"),
        (["--mant-bits", "1"], "mantissa width must be 2..15"),
        (["--mant-bits", "x"], "--mant-bits must be an integer"),
        (["--block", "0"], "block size must be a positive integer"),
        (["--block", "16", "--acc-width", "15"], "accumulator width 15 is too narrow"),
        (["--mant-bits", "2", "--block", "12", "--acc-width", "9"], "needs 2(m+1)+ceil"),
        (["--format", "hbfp4", "--narrow-format", "hbfp6"], "must be narrower"),
        (["--mant-bits", "7", "--narrow-mant-bits", "7"], "narrow mantissa width"),
        (["--mant-bits", "7", "--narrow-format", "hbfp4"], "--narrow-mant-bits"),
        (["--pipeline", "0"], "pipeline depth"),
        (["--format", "fp32"], "the FP32 baseline array is built by the engine"),
        (["--format", "fp16"], "format must be one of"),
    ],
)
def test_bad_input_refused_nothing_written(tmp_path: Path, capsys, args, msg) -> None:
    out = tmp_path / "never"
    rc, err = _run_cli([*args, "--out", str(out)], capsys)
    assert rc == 2
    assert err.startswith("error: ") and msg in err and err.count("\n") == 1, err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_generate_refuses_without_writing() -> None:
    with pytest.raises(ConfigError):
        generate_dot(DesignConfig(block_size=4), mant_bits=20)


def test_module_entry_point_exit_code(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "gen", "dot", "--acc-width", "3", "--out",
                          str(tmp_path / "x")], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 2
    assert res.stderr.startswith("error: --acc-width=3: accumulator width 3")
    assert not (tmp_path / "x").exists()


def test_parses_in_icarus_and_yosys(tmp_path: Path) -> None:
    d = generate("dot", DesignConfig(format="hbfp6", narrow_format="hbfp4", block_size=12,
                                     pipeline=4))
    v = tmp_path / "sqgen_dot.v"
    v.write_text(d.files["sqgen_dot.v"])
    if shutil.which("iverilog"):
        res = subprocess.run(["iverilog", "-g2012", "-o", str(tmp_path / "a.vvp"), str(v)],
                             capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
    from pyosys import libyosys as ys

    design = ys.Design()
    ys.run_pass(f"read_verilog {v}", design)
    ys.run_pass("hierarchy -check -top sqgen_dot", design)
    assert any(m.name.str() == "\\sqgen_dot" for m in design.selected_whole_modules_warn())


@pytest.mark.parametrize(
    "lanes,mb,narrow,pipe",
    [(1, 2, None, 5), (2, 15, 14, 2), (33, 6, None, 3), (64, 7, 3, 7)],
)
def test_edge_configs_lint_clean(lanes, mb, narrow, pipe) -> None:
    from gen.cmd_datapath import build_dot
    from gen.config import min_acc_width

    d = build_dot(lanes=lanes, mant_bits=mb, acc_width=min_acc_width(mb, lanes),
                  pipeline=pipe, narrow_mant_bits=narrow)
    d.lint()  # raises gen.emit.LintError on any warning outside the documented waivers
    assert d.manifest["latency"] == pipe
