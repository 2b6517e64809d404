"""``python -m gen pod`` / ``make gen POD=RxC``: output, determinism, lint, error contract."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gen.cmd_pod import generate_pod, pod_config
from gen.config import ConfigError, DesignConfig
from gen.emit import lint_verilog
from golden.systolic import PodGeometry, PodLayout

ROOT = Path(__file__).resolve().parent.parent


def run_gen(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gen", "pod", *args], capture_output=True, text=True, cwd=cwd,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def _flat_count(text: str, top: str, leaf: str) -> int:
    """How many ``leaf`` instances ``top`` holds once the hierarchy is flattened."""
    bodies = dict(re.findall(r"^module (\w+)\((.*?)^endmodule", text, re.M | re.S))
    def count(mod: str) -> int:
        if mod == leaf:
            return 1
        insts = re.findall(r"^\s*(\w+) \w+ \(", bodies[mod], re.M)
        return sum(count(i) for i in insts if i in bodies)
    return count(top)


def test_pe_and_row_emitted_once_and_deterministic():
    cfg = DesignConfig(rows=6, cols=5, format="hbfp4", sparsity="2:4", block_size=12)
    d1, d2 = generate_pod(cfg), generate_pod(cfg)
    assert d1.files == d2.files  # same config -> same bytes
    (text,) = d1.files.values()
    names = re.findall(r"^module (\w+)\(", text, re.M)
    assert len(names) == len(set(names)) == len(d1.manifest["modules"])  # each module once
    for m in ("sqgen_pod_pe", "sqgen_pod_row5", "sqgen_pod_array6", "sqgen_pod"):
        assert len(re.findall(rf"^module {m}\(", text, re.M)) == 1
    assert _flat_count(text, "sqgen_pod", "sqgen_pod_pe") == 30   # 6 x 5 PEs
    assert _flat_count(text, "sqgen_pod_array6", "sqgen_pod_row5") == 6   # 6 rows
    assert _flat_count(text, "sqgen_pod_row5", "sqgen_pod_pe") == 5   # 5 PEs per row
    assert text.count("(* top =") == 1  # only the pod carries the top mark
    assert len(text) < 60_000


def test_manifest_ports_match_layout(tmp_path):
    cfg = DesignConfig(rows=4, cols=3, format="hbfp6", sparsity="2:4", narrow_format="hbfp4")
    d = generate_pod(cfg)
    man = d.manifest
    p = pod_config(cfg)
    assert man["config"]["block_size"] == p["block_size"] == 8  # widened to R*M/N
    geo = PodGeometry(4, 3, 5, cfg.acc_width, 8, (2, 4), 3)
    lay = PodLayout(geo)
    ports = {pt["name"]: pt for pt in man["ports"]}
    assert ports["act__payload"]["width"] == lay.width(lay.act)
    assert ports["w__payload"]["width"] == lay.width(lay.w)
    assert ports["res__payload"]["width"] == lay.width(lay.res)
    assert {"clk", "rst", "narrow", "act__valid", "act__ready", "res__ready"} <= set(ports)
    assert all(pt["meaning"] for pt in man["ports"])
    assert man["latency"] == 4 + 3 - 1
    assert "cycles = k_{F-1}+R+C" in man["cycle_formula"]
    assert man["payload_layout"]["w"]["idx"] == {"lsb": 3 * 6, "width": 3 * 2, "signed": False}
    out = d.write(tmp_path / "pod")
    lint_verilog([out / f"{d.top}.v"], d.top)
    assert json.loads((out / "manifest.json").read_text())["top"] == "sqgen_pod"


def test_register_bits_match_yosys():
    """The summary's flip-flop count equals what Yosys finds in the emitted Verilog."""
    cfg = DesignConfig(rows=3, cols=2, format="hbfp4", sparsity="1:2", block_size=6)
    d = generate_pod(cfg)
    (text,) = d.files.values()
    ffs = _yosys_ffs(text, d.top, ROOT / "build" / "test_gen_pod", passes="proc; flatten")
    assert sum(ffs.values()) == d.manifest["register_bits"]["total"]


@pytest.mark.parametrize("pod", ["0x32", "32", "axb", "32x32x2", "4x0"])
def test_cli_bad_pod(tmp_path, pod):
    r = run_gen("--make", "--pod", pod, cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: POD=")
    assert "RxC" in lines[0] or "positive integer" in lines[0]
    assert not (tmp_path / "build").exists()


@pytest.mark.parametrize(
    "args, var, hint",
    [
        (["--pod", "8x8", "--format", "hbfp5"], "FMT", "hbfp8, hbfp6, hbfp4"),
        (["--pod", "8x8", "--block", "12"], "BLOCK=12", "multiple of the fold depth 8"),
        (["--pod", "8x8", "--block", "4"], "BLOCK=4", "accepted: 8, 16"),
        (["--pod", "8x8", "--block", "x"], "BLOCK", "positive integer"),
        (["--pod", "8x8", "--sparsity", "2:3", "--block", "8"], "SPARSITY", "M=3 must divide"),
        (["--pod", "9x8", "--sparsity", "2:3", "--block", "9"], "SPARSITY", "N=2 must divide"),
        (["--pod", "8x8", "--sparsity", "two"], "SPARSITY", "N:M"),
    ],
)
def test_cli_bad_values_name_the_variable(tmp_path, args, var, hint):
    r = run_gen("--make", *args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert var in lines[0] and hint in lines[0], lines[0]
    assert not (tmp_path / "build").exists()


def test_cli_writes_default_dir_and_summary(tmp_path):
    r = run_gen("--make", "--pod", "4x3", "--format", "hbfp8", "--sparsity", "2:4", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "build" / "pod_4x3"
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "sqgen_pod.core",
                                                      "sqgen_pod.v"]
    man = json.loads((out / "manifest.json").read_text())
    s = r.stdout
    assert f"register bits  {man['register_bits']['total']}" in s
    assert "PEs            12 instances" in s
    assert "MACs per cycle 12  (24 dense-equivalent" in s
    assert "manifest.json, sqgen_pod.core, sqgen_pod.v" in s
    assert len(s.splitlines()) <= 24


def test_pod_config_errors_without_make():
    with pytest.raises(ConfigError, match="--block=6 does not fit the rows"):
        pod_config(DesignConfig(rows=4, cols=4, block_size=6))


def _yosys_ffs(text: str, top: str, tmp: Path, *, module: str | None = None,
               passes: str | None = None) -> dict[str, int]:
    """Flip-flop bits by cell type ($dff, $dffe, ...) after ``passes`` (default ``proc``,
    memories mapped to flip-flops, ``opt_dff``), of the flattened ``top`` or of one ``module``
    as it is."""
    from pyosys import libyosys as ys

    design = ys.Design()
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "pod.v").write_text(text)
    ys.run_pass(f"read_verilog {tmp / 'pod.v'}", design)
    ys.run_pass(f"hierarchy -top {module or top}", design)
    ys.run_pass(passes or ("proc; memory -nomap; memory_map; opt_dff"
                           + ("" if module else "; flatten")), design)
    out: dict[str, int] = {}
    for mod in design.selected_whole_modules_warn():
        for cell in mod.selected_cells():
            t = cell.type.str()
            if "dff" in t:
                out[t] = out.get(t, 0) + cell.getParam(ys.IdString("\\WIDTH")).as_int()
    return out


def test_queue_pod_has_no_enable_on_the_datapath():
    """stall=queue: the PE has no en port and its stage register loads on every edge (only the
    weight banks keep their write enable); the flip-flop count, the output queue included,
    matches the summary's."""
    cfg = DesignConfig(rows=3, cols=2, format="hbfp6", stall="queue")
    d = generate_pod(cfg)
    (text,) = d.files.values()
    assert d.manifest["config"]["stall"] == "queue"
    pe = text[text.index(f"module {d.top}_pe("):]
    pe = pe[:pe.index("endmodule")]
    assert not re.search(r"\binput\s+(wire\s+)?en\b", pe)
    tmp = Path(ROOT / "build" / "test_gen_pod_queue")
    ffs = _yosys_ffs(text, d.top, tmp, module=f"{d.top}_pe")
    ow = cfg.mant_bits + 1
    assert ffs.get("$dffe", 0) == 2 * ow  # the two weight banks, written on w.we
    gated = generate_pod(cfg.replace(stall="enable"))
    (gtext,) = gated.files.values()
    gffs = _yosys_ffs(gtext, gated.top, tmp, module=f"{gated.top}_pe")
    assert gffs["$dffe"] > 2 * ow  # with the global enable the stage register is enabled too
    total = _yosys_ffs(text, d.top, tmp)
    bits = d.manifest["register_bits"]
    res_w = next(p["width"] for p in d.manifest["ports"] if p["name"] == "res__payload")
    assert bits["output_queue"] == (3 + 2 - 1) * res_w  # one entry per beat in flight
    assert sum(total.values()) == bits["total"]
