"""The multi-pod system generator (gen/cmd_system.py): output, manifest, make, bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gen.cmd_system import SystemParams, generate_system
from gen.config import DesignConfig
from golden import scaleout as GS
from hw import system as HS

ROOT = Path(__file__).resolve().parents[1]


def run_gen(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gen", "system", *args], capture_output=True, text=True,
        cwd=cwd, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", **(env or {})})


def test_every_module_once_and_manifest():
    d = generate_system(DesignConfig(rows=4, cols=4, format="hbfp6"),
                        SystemParams(pods=4, net="butterfly", expand=1, part=8,
                                     bank_words=64))
    text = d.files["sqgen_system.v"]
    names = re.findall(r"^module (\S+)\(", text, re.M)
    assert len(names) == len(set(names))
    assert {"sqgen_system", "sqgen_system_engine", "sqgen_system_pod",
            "sqgen_system_pe"} <= set(names)
    assert len(re.findall(r"^\s*sqgen_system_engine \S+ \(", text, re.M)) == 4
    man = d.manifest
    assert man["pods"] == 4 and man["network"] == "butterfly" and man["expansion"] == 2
    assert man["network_latency"] == GS.network_latency("butterfly", 4, 1) == 4
    assert man["config_fields"] == list(GS.CONFIG_FIELDS) == list(HS.CONFIG_FIELDS)
    assert man["load_spaces"] == GS.LOAD_SPACES == HS.SPACES
    widths = {p["name"]: p["width"] for p in man["ports"]}
    # load: space (2) + bank (2) + addr + data (one activation beat: 4 lanes + 3 flags)
    abits = max(64, 8 * 4).bit_length()
    assert widths["load__payload"] == 2 + 2 + abits + 4 * 32 + 3
    assert widths["rd__payload"] == 2 + 4 * 32 + 1 and "rd__ready" in widths


def test_make_gen_pods_builds_the_system(tmp_path):
    r = subprocess.run(["make", "-s", "gen", "POD=4x4", "PODS=4", "NET=crossbar", "PART=8",
                        "BANK=64", f"OUT={tmp_path / 's'}"], cwd=ROOT, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    man = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert man["generator"] == "sqgen system" and man["network"] == "crossbar"
    assert "sqgen system 4 x 4x4 hbfp6  crossbar" in r.stdout


@pytest.mark.parametrize("env, hint", [
    ({"PODS": "6", "NET": "butterfly"}, "PODS=6: a butterfly network needs a power-of-two pod"),
    ({"PODS": "6", "NET": "benes"}, "PODS=6: a benes network needs a power-of-two"),
    ({"PODS": "4", "EXPAND": "5"}, "EXPAND=5: Butterfly expansion must be 0..4"),
    ({"PODS": "4", "EXPAND": "1", "NET": "crossbar"}, "EXPAND=1: an expansion factor is a"),
    ({"PODS": "4", "NET": "mesh"}, "NET=mesh: must be one of butterfly, benes, crossbar, bus"),
    ({"PODS": "4", "PART": "0"}, "PART=0: partition size must be 1..65536"),
    ({"PODS": "4", "BANK": "0"}, "BANK=0: bank size must be positive"),
    ({"PODS": "x"}, "PODS='x' is not an integer"),
    ({"NET": "crossbar"}, "PODS: the pod count is required"),
    ({"PODS": "4", "ROUNDING": "stochastic"}, "ROUNDING=stochastic: the multi-pod system"),
    ({"PODS": "4", "SPARSITY": "3:4"}, "SPARSITY"),
])
def test_bad_values_one_line_nothing_written(tmp_path, env, hint):
    r = run_gen("--make", cwd=tmp_path, env={"POD": "4x4", **env})
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert hint in lines[0], lines[0]
    assert not (tmp_path / "build").exists()


def test_a_partition_that_does_not_fit_a_bank_is_refused_by_the_compiler():
    import numpy as np

    from golden.engine import EngineGeometry
    geo = GS.SystemGeometry(2, 4, 4, 16, "crossbar", bank_words=8)
    with pytest.raises(GS.ParamError, match="partition size 16"):
        GS.system_program(np.zeros((16, 8), np.float32), np.zeros((8, 4), np.float32), geo,
                          EngineGeometry(4, 4, 5, 24, 16), depths=(8, 8, 8))
