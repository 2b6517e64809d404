"""``python -m gen network``: output directory, manifest, lint, and the one-line error contract."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gen.cmd_network import generate_network, network_dir
from golden.network import network_power, topology
from sim.vlib import Payload

ROOT = Path(__file__).resolve().parent.parent


def run_gen(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gen", "network", *args], capture_output=True,
                          text=True, cwd=cwd, env={"PYTHONPATH": str(ROOT),
                                                   "PATH": "/usr/bin:/bin"})


def test_manifest_ports_layout_and_facts():
    d = generate_network(kind="butterfly", ports=8, width=32, expand=1)
    man = d.manifest
    assert d.top == "sqgen_network_butterfly_8_e1" and man["top"] == d.top
    assert man["latency"] == 3 + 2 and man["stages"] == 5 and man["planes"] == 2
    names = {p["name"]: p for p in man["ports"]}
    for s in range(8):
        assert names[f"i__{s}__payload"]["width"] == 3 + 32
        assert names[f"o__{s}__payload"]["width"] == 3 + 32
        assert names[f"i__{s}__ready"]["direction"] == "output"
        assert names[f"o__{s}__ready"]["direction"] == "input"
        assert all(names[f"{x}__{s}__{f}"]["meaning"] for x in "io"
                   for f in ("payload", "valid", "ready"))
    lay = man["payload_layout"]
    assert lay["i"] == {"dest": {"lsb": 0, "width": 3, "signed": False},
                        "data": {"lsb": 3, "width": 32, "signed": False}}
    assert lay["o"] == {"src": {"lsb": 0, "width": 3, "signed": False},
                        "data": {"lsb": 3, "width": 32, "signed": False}}
    # an outside bench packs and unpacks with the table
    assert Payload(lay["i"]).pack({"dest": [5], "data": [0xDEADBEEF]}) == [5 | 0xDEADBEEF << 3]
    topo = topology("butterfly", 8, 1)
    assert man["link_registers"] == topo.registers and man["switch_nodes"] == len(topo.nodes)
    assert man["sosa_power_w_per_byte"] == pytest.approx(network_power("butterfly", 8, 1, 1))
    # one module per distinct switch, each emitted once, then the top instantiating them
    text = d.files[f"{d.top}.v"]
    # per (shape, routing rule): 1x2 demultiplexers on the plane bit, 2x2 switches on one
    # destination bit per stage, 2x1 merges
    count: dict[str, int] = {}
    for nd in topo.nodes:
        rule = "" if len(nd.outputs) == 1 else f"_b3_s{nd.route.smask:x}d{nd.route.dmask:x}"
        key = f"{d.top}_sw{len(nd.inputs)}x{len(nd.outputs)}_38{rule}"
        count[key] = count.get(key, 0) + 1
    sw = list(count)
    assert sorted(man["modules"]) == sorted([*sw, d.top]) and man["modules"][-1] == d.top
    assert sorted(re.findall(r"^module (\S+)\(", text, re.M)) == sorted(man["modules"])
    inst = {m: len(re.findall(rf"^\s*{m} \S+ \(", text, re.M)) for m in sw}
    assert inst == count
    assert sum(v for k, v in count.items() if "_sw1x2_" in k) == 8
    assert sum(v for k, v in count.items() if "_sw2x2_" in k) == 2 * 4 * 3
    assert sum(v for k, v in count.items() if "_sw2x1_" in k) == 8
    assert text == generate_network(kind="butterfly", ports=8, width=32, expand=1).files[
        f"{d.top}.v"]


@pytest.mark.parametrize("kind,ports,width", [("benes", 4, 3), ("crossbar", 3, 70),
                                              ("bus", 1, 1), ("butterfly", 2, 1)])
def test_lint_clean(kind, ports, width):
    generate_network(kind=kind, ports=ports, width=width).lint()


def test_cli_writes_the_design(tmp_path):
    r = run_gen("--kind", "crossbar", "--ports", "4", "--width", "8", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = tmp_path / network_dir("crossbar", 4)
    man = json.loads((out / "manifest.json").read_text())
    assert sorted(man["files"]) == sorted(["manifest.json", "sqgen_network_crossbar_4.v",
                                           "sqgen_network_crossbar_4.core"])
    assert man["config"] == {"kind": "crossbar", "ports": 4, "width": 8, "expand": 0,
                             "name": None}
    assert "latency 1 cycles" in r.stdout
    r = run_gen("--kind", "butterfly", "--ports", "4", "--width", "8", "--expand", "1",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "build/network_butterfly_4_e1/sqgen_network_butterfly_4_e1.v").is_file()


@pytest.mark.parametrize("args,typed", [
    (("--kind", "ring", "--ports", "4", "--width", "8"), "--kind=ring"),
    (("--kind", "benes", "--ports", "6", "--width", "8"), "--ports=6"),
    (("--kind", "bus", "--ports", "4x", "--width", "8"), "--ports=4x"),
    (("--kind", "bus", "--ports", "4", "--width", "0"), "--width=0"),
    (("--kind", "crossbar", "--ports", "4", "--width", "8", "--expand", "1"), "--expand=1"),
    (("--kind", "butterfly", "--ports", "4", "--width", "8", "--expand", "3"), "--expand=3"),
])
def test_cli_refusals_are_one_line_naming_the_flag(tmp_path, args, typed):
    r = run_gen(*args, "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {typed}: "), r.stderr
    assert not (tmp_path / "out").exists()
