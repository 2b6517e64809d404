"""Design-point validation, YAML loading and the ``python -m gen`` error contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gen.config import (
    ConfigError,
    DesignConfig,
    load_yaml,
    min_acc_width,
    parse_pod,
    parse_sparsity,
)

ROOT = Path(__file__).resolve().parent.parent


def run_gen(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gen", *args], capture_output=True, text=True,
        cwd=cwd or ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rows": 0}, "pod rows must be a positive integer, not 0"),
        ({"cols": -3}, "pod cols must be a positive integer, not -3"),
        ({"rows": 2.5}, "pod rows must be a positive integer, not 2.5"),
        ({"rows": True}, "pod rows must be a positive integer, not True"),
        ({"format": "hbfp5"}, "format must be one of hbfp8, hbfp6, hbfp4, not 'hbfp5'"),
        ({"narrow_format": "hbfp8"}, "must be narrower than format"),
        ({"block_size": 0}, "block size must be a positive integer, not 0"),
        ({"sparsity": "4:4"}, "N must be smaller than M"),
        ({"sparsity": "0:4"}, "N must be at least 1, not 0"),
        ({"sparsity": "2:32"}, "M must be at most 16, not 32"),
        ({"sparsity": "2-4"}, "is not of the form N:M"),
        ({"rows": 6, "sparsity": "4:8"}, "pod rows 6 must be a multiple of N=4"),
        ({"rows": 8, "sparsity": "4:8", "block_size": 6}, "M=8 must divide the block size 6"),
        ({"acc_width": 8}, "accumulator width 8 is too narrow"),
        ({"pipeline": 0}, "pipeline depth must be a positive integer, not 0"),
        ({"rounding": "up"}, "rounding must be 'nearest_even' or 'stochastic', not 'up'"),
        ({"stall": "skid"}, "stall must be 'enable' (a global clock enable) or 'queue'"),
        ({"format": "int8", "stall": 1}, "stall must be 'enable'"),
    ],
)
def test_design_config_refuses(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        DesignConfig(**kwargs)


def test_design_config_defaults_and_derived() -> None:
    c = DesignConfig(rows=16, cols=4, format="HBFP8", sparsity="2:4", narrow_format="hbfp4")
    assert (c.rows, c.cols, c.format, c.mant_bits, c.narrow_mant_bits) == (16, 4, "hbfp8", 7, 3)
    assert c.block_size == 32 and c.nm == (2, 4)  # 16 rows x 4/2: one fold of the pod
    assert c.acc_width == min_acc_width(7, 32) + 8 == 16 + 5 + 8
    assert DesignConfig(rows=16).block_size == 16
    with pytest.raises(AttributeError):
        c.rows = 3  # frozen


def test_min_acc_width_formula() -> None:
    # 2(m+1) + ceil(log2 k)
    assert min_acc_width(5, 16) == 12 + 4
    assert min_acc_width(5, 12) == 12 + 4
    assert min_acc_width(3, 1) == 8
    assert min_acc_width(7, 64) == 16 + 6


@pytest.mark.parametrize("text", ["0x32", "32", "axb", "32x32x2", "", "-1x4", "4x0"])
def test_parse_pod_refuses(text: str) -> None:
    with pytest.raises(ConfigError, match="--pod"):
        parse_pod(text)


def test_parse_pod_and_sparsity_accept() -> None:
    assert parse_pod("32x16") == (32, 16)
    assert parse_pod(" 4X4 ") == (4, 4)
    assert parse_sparsity("3:7") == (3, 7)
    assert parse_sparsity("dense") is None and parse_sparsity(None) is None


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load(path: Path) -> None:
    cfg = load_yaml(path)
    assert cfg.name == path.stem


@pytest.mark.parametrize(
    "text, message",
    [
        ("pod: 8x8\nfromat: hbfp6\n", "key 'fromat': unknown key"),
        ("pod: 8x8\nformat: [hbfp6\n", "malformed YAML"),
        ("- 1\n- 2\n", "top level must be a mapping"),
        ("pod: 8\n", "key 'pod'"),
        ("rows: 0\n", "pod rows must be a positive integer, not 0"),
        ("pod: 8x8\nacc_width: 4\n", "accumulator width 4 is too narrow"),
    ],
)
def test_yaml_errors_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as ei:
        load_yaml(f)
    msg = str(ei.value)
    assert str(f) in msg and message in msg and "\n" not in msg


def test_yaml_overrides_apply(tmp_path: Path) -> None:
    f = tmp_path / "x.yaml"
    f.write_text("pod: 8x8\nformat: hbfp6\n")
    assert load_yaml(f, format="hbfp4", rows=None).mant_bits == 3


def test_cli_help_lists_subcommands() -> None:
    res = run_gen("--help")
    assert res.returncode == 0
    for cmd in ("pod",):
        assert cmd in res.stdout


def test_cli_bad_config_is_one_line_exit_2(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("pod: 8x8\nbogus: 1\n")
    res = run_gen("pod", "--config", str(f), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "bogus" in lines[0] and "Traceback" not in res.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "build").exists()


def test_cli_missing_config_file(tmp_path: Path) -> None:
    res = run_gen("pod", "--config", str(tmp_path / "nope.yaml"), cwd=tmp_path)
    assert res.returncode == 2 and "cannot read config" in res.stderr
