"""``python -m gen decoder|sparsedot``: files, manifest metadata layout, lint, bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from gen.__main__ import main
from gen.cmd_sparse import generate_decoder, generate_sparsedot
from gen.config import ConfigError, DesignConfig
from gen.emit import lint_verilog
from golden import nm_hw
from sim.common import ROOT


def _run(argv, capsys):
    rc = main(argv)
    cap = capsys.readouterr()
    return rc, cap.err


@pytest.mark.parametrize("cmd", ["decoder", "sparsedot"])
def test_cli_writes_design(tmp_path, capsys, cmd):
    out = tmp_path / cmd
    rc, _ = _run([cmd, "--sparsity", "2:4", "--format", "hbfp6", "--block", "16", "--out",
                  str(out)], capsys)
    assert rc == 0
    man = json.loads((out / "manifest.json").read_text())
    top = man["top"]
    assert sorted(p.name for p in out.iterdir()) == sorted(man["files"])
    text = (out / f"{top}.v").read_text()
    assert re.search(rf"^module {top}\(", text, re.M)
    meta = man["metadata"]
    assert meta["sparsity"] == "2:4" and meta["index_bits"] == 2 and meta["kept_lanes"] == 8
    golden_rows = nm_hw.meta_layout(2, 4, 4)
    assert [(r["group"], r["lane"], r["flat_lane"]) for r in meta["layout"]] == [
        (r["group"], r["lane"], r["flat_lane"]) for r in golden_rows]
    ports = {p["name"]: p for p in man["ports"]}
    idx = man["payload_layout"]["i"]["idx"]
    assert (idx["count"], idx["element_width"]) == (8, 2)
    for row in meta["layout"]:  # every documented index sits in the idx field of i__payload
        k = row["flat_lane"]
        lo = idx["lsb"] + 2 * k
        assert row["port"] == "i__payload" and row["bits"] == f"[{lo + 1}:{lo}]"
    assert ports["i__payload"]["direction"] == "input"
    assert re.search(rf"input \[{ports['i__payload']['width'] - 1}:0\] i__payload;", text)
    assert ports["meta_error"]["direction"] == "output"
    assert ports["clear"]["direction"] == "input" and "i__ready" not in ports
    if cmd == "sparsedot":
        assert man["latency"]["cycles"] == 1
        assert man["parameters"]["multipliers"] == 8
        assert man["parameters"]["dense_macs_per_beat"] == 16
        lay = man["payload_layout"]["i"]
        assert lay["a.mant"]["count"] == 8 and lay["b.mant"]["count"] == 16
        assert ports["i__payload"]["width"] == (8 + 16) * 6 + 2 * 9 + 1 + 8 * 2
    else:
        assert man["latency"]["cycles"] == 1


def test_sparsedot_decoder_register_flag(tmp_path, capsys):
    out = tmp_path / "r"
    rc, _ = _run(["sparsedot", "--sparsity", "2:4", "--block", "8", "--pipeline", "2",
                  "--decoder-register", "--no-lint", "--out", str(out)], capsys)
    assert rc == 0
    man = json.loads((out / "manifest.json").read_text())
    assert man["latency"]["cycles"] == 3 and man["latency"]["decoder"] == 1
    assert man["parameters"]["decoder_register"] is True


def test_packed24_manifest(tmp_path, capsys):
    out = tmp_path / "p"
    rc, _ = _run(["decoder", "--sparsity", "2:4", "--block", "8", "--packed24", "--out",
                  str(out)], capsys)
    assert rc == 0
    man = json.loads((out / "manifest.json").read_text())
    assert man["metadata"]["form"] == "packed24"
    lay = man["payload_layout"]["i"]
    assert lay["meta"]["width"] == 8 and "idx" not in lay
    lo = lay["meta"]["lsb"]
    assert [r["bits"] for r in man["metadata"]["layout"]] == [
        f"[{lo + 2 * j + 1}:{lo + 2 * j}]" for j in range(4)]


@pytest.mark.parametrize(
    "argv,msg",
    [
        (["--sparsity", "4:4", "--block", "16"], "N must be smaller than M"),
        (["--sparsity", "5:4", "--block", "16"], "N must be smaller than M"),
        (["--sparsity", "2:17", "--block", "34"], "M must be at most 16"),
        (["--sparsity", "0:4", "--block", "16"], "N must be at least 1"),
        (["--sparsity", "3:7", "--block", "16"], "M=7 must divide the block size 16"),
        (["--sparsity", "2of4", "--block", "16"], "not of the form N:M"),
        (["--sparsity", "2:4:8", "--block", "16"], "not of the form N:M"),
        (["--block", "16"], "needs --sparsity"),
        (["--sparsity", "dense", "--block", "16"], "needs --sparsity"),
        (["--sparsity", "2:8", "--block", "16", "--packed24"], "needs sparsity 2:4"),
        (["--sparsity", "2:4", "--block", "0"], "block size must be a positive integer"),
        (["--sparsity", "2:4", "--block", "16", "--format", "fp16"], "format must be one of"),
    ],
)
@pytest.mark.parametrize("cmd", ["decoder", "sparsedot"])
def test_cli_bad_input(tmp_path, capsys, cmd, argv, msg):
    out = tmp_path / "out"
    rc, err = _run([cmd, *argv, "--out", str(out)], capsys)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and msg in lines[0], err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_cli_requires_out(capsys):
    rc, err = _run(["decoder", "--sparsity", "2:4", "--block", "16"], capsys)
    assert rc == 2 and err.strip() == "error: --out DIR is required"


def test_cli_subprocess_exit_code(tmp_path):
    # The real entry point: exit status 2, one line, no files.
    out = tmp_path / "o"
    res = subprocess.run(
        [sys.executable, "-m", "gen", "sparsedot", "--sparsity", "2:4", "--block", "18",
         "--out", str(out)], capture_output=True, text=True, cwd=ROOT,
    )
    assert res.returncode == 2
    assert res.stderr.strip() == (
        "error: --sparsity=2:4: sparsity 2:4: M=4 must divide the block size 18")
    assert not out.exists()


def test_generators_refuse_dense():
    with pytest.raises(ConfigError, match="sparsity"):
        generate_decoder(DesignConfig(block_size=16))


@pytest.mark.parametrize(
    "gen,sp,block,fmt,narrow,kw",
    [
        (generate_decoder, "2:4", 16, "hbfp6", None, {}),
        (generate_decoder, "2:4", 16, "hbfp6", None, {"packed24": True}),
        (generate_decoder, "3:7", 14, "hbfp8", None, {}),
        (generate_sparsedot, "2:4", 16, "hbfp6", None, {}),
        (generate_sparsedot, "2:4", 16, "hbfp6", None, {"packed24": True,
                                                        "decoder_register": True}),
        (generate_sparsedot, "3:7", 14, "hbfp6", "hbfp4", {"decoder_register": True}),
        (generate_sparsedot, "1:16", 16, "hbfp4", None, {}),
    ],
)
def test_lint_clean(tmp_path, gen, sp, block, fmt, narrow, kw):
    cfg = DesignConfig(sparsity=sp, block_size=block, format=fmt, narrow_format=narrow)
    design = gen(cfg, **kw)
    out = design.write(tmp_path / "d")
    lint_verilog([out / f for f in design.verilog_files], design.top)  # raises on warnings
    assert design.manifest["lint_waivers"]
