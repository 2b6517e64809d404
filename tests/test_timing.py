"""Timing flow (flow/timing.py, ``python -m flow timing``): Fmax, critical path and slack.

The designs are small (dot units of block 8, a 4x4 pod, one-register modules, a chain of 12
small blocks) so that the file runs in about a minute on one core; the 8x8 pod comparison of
the two methods is ``slow``. Everything that runs OpenSTA is skipped when ``sta`` is
not installed (``make timing`` / ``make test`` install it as root: ``apt-get install -y
opensta``); the refusals are checked either way.
"""

from __future__ import annotations

import json
import math
import re
import shutil

import pytest

from flow import area, timing
from flow.cli import main
from flow.timing import (
    NotAbstractable,
    TimingError,
    load_timing_library,
    timing_of_design,
    timing_of_verilog,
)
from gen.config import DesignConfig
from gen.targets import generate

pytestmark = pytest.mark.xdist_group("timing")

needs_sta = pytest.mark.skipif(
    shutil.which("sta") is None,
    reason="OpenSTA 'sta' is not installed (make timing installs it: apt-get install -y opensta)",
)
IHP = area.ihp_liberty()
needs_ihp = pytest.mark.skipif(
    IHP is None, reason="IHP SG13G2 liberty not found at <repo>/../shared/pdk/ihp-sg13g2/ "
    "(set SQGEN_IHP_LIB to point at sg13g2_stdcell_typ_1p20V_25C.lib)"
)

#: One registered AND: the smallest design that has a clock, a flop and a timed path.
TINY = {"tiny.v": (
    "module tiny(input clk, input a, input b, output reg y);\n"
    "  always @(posedge clk) y <= a & b;\n"
    "endmodule\n"
)}

#: Every cell of the generic library with its area and output function: the timing data added
#: for this flow must leave both exactly as the area flow uses them.
GENERIC_CELLS = {
    "INV": (0.6667, "!A"), "BUF": (1.3333, "A"), "NAND2": (1.0, "!(A&B)"),
    "NOR2": (1.0, "!(A|B)"), "AND2": (1.3333, "(A&B)"), "OR2": (1.3333, "(A|B)"),
    "NAND3": (1.3333, "!(A&B&C)"), "NOR3": (1.3333, "!(A|B|C)"), "XOR2": (2.0, "(A^B)"),
    "XNOR2": (2.0, "!(A^B)"), "MUX2": (2.3333, "((A&!S)|(B&S))"),
    "AOI21": (1.3333, "!((A1&A2)|B)"), "OAI21": (1.3333, "!((A1|A2)&B)"),
    "AOI22": (1.6667, "!((A1&A2)|(B1&B2))"), "OAI22": (1.6667, "!((A1|A2)&(B1|B2))"),
    "TIEHI": (0.6667, "1"), "TIELO": (0.6667, "0"), "DFF": (5.6667, "IQ"),
    "DFFR": (6.6667, "IQ"), "DFFS": (6.6667, "IQ"),
}

REQUIRED = [
    "design", "target", "config", "top", "timed", "timed_note", "fmax_mhz", "critical_path_ns",
    "worst_slack_ns", "tns_ns", "met", "critical_path", "library", "wire_load", "constraints",
    "synthesis", "area", "seconds", "files", "tools", "cached",
]


def _one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture(scope="module")
def dot():
    """Timing of a dot unit (generic library, no area flow), each design run once."""
    runs: dict[tuple, timing.TimingReport] = {}

    def get(fmt: str, block: int = 8, pipeline: int = 1) -> timing.TimingReport:
        key = (fmt, block, pipeline)
        if key not in runs:
            cfg = DesignConfig(format=fmt, block_size=block, pipeline=pipeline)
            runs[key] = timing_of_design(generate("dot", cfg), area_flow=False, cache_dir=None)
        return runs[key]

    return get


# ---- the generic library ----------------------------------------------------------------------
def test_generic_library_has_timing_and_unchanged_cells():
    lib = load_timing_library(None)
    assert lib.generic and lib.name == "sqgen_generic"
    assert (lib.time_unit_ns, lib.cap_unit_pf) == (1.0, 1.0)
    assert (lib.buffer, lib.driver, lib.tie_hi, lib.tie_lo) == ("BUF", "BUF", "TIEHI", "TIELO")
    assert lib.default_wire_load == "sqgen_1k" and lib.wire_load_mode == "top"
    assert {n: (round(c.area, 4), c.functions[0]) for n, c in lib.cells.items()} == GENERIC_CELLS
    timed = {n for n, c in lib.cells.items() if c.timed}
    assert timed == set(GENERIC_CELLS) - {"TIEHI", "TIELO"}


@needs_ihp
def test_ihp_library_cells():
    lib = load_timing_library(IHP)
    assert (lib.buffer, lib.driver) == ("sg13g2_buf_1", "sg13g2_buf_2")
    assert (lib.tie_hi, lib.tie_lo) == ("sg13g2_tiehi", "sg13g2_tielo")
    assert lib.default_wire_load == "1k" and "Zero" in lib.wire_loads


@needs_ihp
def test_generic_timing_is_the_documented_fit_to_ihp():
    """Every delay/transition table and input capacitance of the generic library is the
    bilinear fit of flow.timing.fit_generic_timing (flow/sqgen_generic.lib header)."""
    fit = timing.fit_generic_timing(IHP)
    text = area.GENERIC_LIB.read_text()
    checked = 0
    for m in re.finditer(r"cell \((\w+)\) \{(.*?)\n  \}\n", text, re.S):
        name, body = m.group(1), m.group(2)
        if name not in fit:
            assert "timing ()" not in body, name
            continue
        f = fit[name]
        for cap in re.findall(r"direction : input; capacitance : ([0-9.]+);", body):
            assert float(cap) == round(f["cap"], 4), name
        tables = re.findall(r"(cell_rise|cell_fall|rise_transition|fall_transition) "
                            r"\(sqgen_delay_2x2\) \{.*?values \(([^;]*)\);", body, re.S)
        assert tables, name
        for kind, vals in tables:
            got = [[float(x) for x in row.split(",")] for row in re.findall(r'"([^"]*)"', vals)]
            want = f["tables"]["delay" if kind.startswith("cell") else "transition"]
            assert got == want, (name, kind)
            checked += 1
    assert checked > 80


def test_sta_script_constraints():
    lib = load_timing_library(None)
    tcl = timing.sta_script("top", lib, clock_ns=4.0, load_pf=0.005, wire_load="sqgen_1k",
                            clock_port="clk")
    for line in ["link_design top", "set_wire_load_model -name {sqgen_1k}",
                 "create_clock -name clk -period 4 [get_ports clk]",
                 "set_input_delay 0 -clock clk $sqgen_inputs",
                 "set_output_delay 0 -clock clk [all_outputs]",
                 "set_driving_cell -lib_cell BUF -pin Y $sqgen_inputs",
                 "set_load 0.005 [all_outputs]"]:
        assert line in tcl.splitlines(), line
    assert "report_checks -path_delay max" in tcl


# ---- refusals -----------------------------------------------------------------------------------
def test_missing_and_malformed_liberty_refused(capsys, tmp_path):
    assert main(["timing", "--target", "dot", "--liberty", str(tmp_path / "no.lib")]) == 2
    err = _one_line(capsys.readouterr().err)
    assert err.startswith("error: --liberty:") and "does not exist" in err
    bad = tmp_path / "bad.lib"
    bad.write_text("library (bad) {\n  cell (NAND2) { area : 1;\n")
    assert main(["timing", "--make", "--liberty", str(bad)]) == 2
    err = _one_line(capsys.readouterr().err)
    assert err.startswith("error: LIBERTY:") and "malformed" in err


def test_liberty_without_timing_or_buffers_refused(tmp_path):
    notime = tmp_path / "notime.lib"
    notime.write_text(
        "library (notime) {\n"
        "  cell (NAND2) { area : 1; pin (A) { direction : input; }\n"
        "    pin (B) { direction : input; }\n"
        "    pin (Y) { direction : output; function : \"!(A&B)\"; } }\n}\n")
    with pytest.raises(TimingError, match="has no timing data"):
        load_timing_library(notime)
    text = area.GENERIC_LIB.read_text()
    nobuf = tmp_path / "nobuf.lib"
    nobuf.write_text(text.replace('function : "A";', 'function : "!A";'))
    with pytest.raises(TimingError, match="has no buffer cell"):
        load_timing_library(nobuf)


def test_bad_clock_refused(capsys):
    for bad in ["0", "-3", "abc", "nan", "inf"]:
        assert main(["timing", "--target", "dot", "--clock-ns", bad]) == 2
        err = _one_line(capsys.readouterr().err)
        assert err.startswith(f"error: --clock-ns={bad!r}:") and "positive number" in err


def test_missing_sta_refused(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without sta
    assert main(["timing", "--target", "dot", "--block", "8", "--out", str(tmp_path / "o")]) == 2
    err = _one_line(capsys.readouterr().err)
    assert "OpenSTA ('sta') is not installed" in err and "apt-get install -y opensta" in err
    assert not (tmp_path / "o").exists()
    with pytest.raises(TimingError, match="not installed"):
        timing_of_verilog(TINY, "tiny", area_flow=False, cache_dir=None)


@needs_sta
def test_sta_errors_fail_loudly(tmp_path):
    # Without the slew/delay thresholds sta refuses the library ("Error: ... thresholds").
    text = area.GENERIC_LIB.read_text()
    lib = tmp_path / "nothresholds.lib"
    lib.write_text("\n".join(ln for ln in text.splitlines() if "threshold_pct" not in ln))
    with pytest.raises(TimingError) as ei:
        timing_of_verilog(TINY, "tiny", liberty=lib, area_flow=False, cache_dir=None)
    msg = str(ei.value)
    assert "sta reported" in msg and "Error" in msg and "\n" not in msg
    with pytest.raises(TimingError, match="wire-load model 'nosuch' is not in library"):
        timing_of_verilog(TINY, "tiny", wire_load="nosuch", area_flow=False, cache_dir=None)


def test_unknown_port_for_path_from_refused():
    with pytest.raises(TimingError, match="'nosuch' is not an input port of tiny"):
        timing_of_verilog(TINY, "tiny", paths_from=["nosuch"], area_flow=False, cache_dir=None)
    with pytest.raises(TimingError, match="'y' is not an input port"):
        timing_of_verilog(TINY, "tiny", paths_from=["y"], area_flow=False, cache_dir=None)


def test_unknown_wire_load_refused_by_cli(capsys):
    assert main(["timing", "--target", "dot", "--wire-load", "nosuch"]) == 2
    err = _one_line(capsys.readouterr().err)
    assert err.startswith("error: --wire-load='nosuch':") and "sqgen_1k" in err


@needs_sta
def test_results_are_cached(tmp_path):
    first = timing_of_verilog(TINY, "tiny", cache_dir=tmp_path, area_cache=tmp_path / "a")
    again = timing_of_verilog(TINY, "tiny", cache_dir=tmp_path, area_cache=tmp_path / "a")
    assert not first.data["cached"] and again.data["cached"]
    assert again.data["fmax_mhz"] == first.data["fmax_mhz"]
    assert again.data["area"] == first.data["area"]
    assert again.sta_log == first.sta_log
    cp = first.data["critical_path"]
    assert cp["startpoint"]["kind"].startswith("input port") and cp["cells"] == ["AND2"]
    assert cp["endpoint"]["register"] == "y"


# ---- figures ------------------------------------------------------------------------------------
@needs_sta
def test_fmax_falls_as_the_mantissa_widens(dot):
    narrow, wide = dot("hbfp4"), dot("hbfp8")
    assert narrow.fmax_mhz > wide.fmax_mhz
    assert (narrow.data["critical_path"]["logic_levels"]
            < wide.data["critical_path"]["logic_levels"])


@needs_sta
def test_pipelined_dot_unit_is_faster(dot):
    flat, piped = dot("hbfp8"), dot("hbfp8", pipeline=2)
    assert piped.fmax_mhz > 1.15 * flat.fmax_mhz
    # the unpipelined unit's worst path starts at an input, the pipelined one's at a register
    assert "input port" in flat.data["critical_path"]["startpoint"]["kind"]
    assert "flip-flop" in piped.data["critical_path"]["startpoint"]["kind"]


@needs_sta
def test_figures_are_deterministic(dot):
    first = dot("hbfp4")
    again = timing_of_design(generate("dot", DesignConfig(format="hbfp4", block_size=8)),
                             area_flow=False, cache_dir=None)

    def fixed(d):
        return {k: v for k, v in d.items() if k != "seconds"} | {
            "synthesis": {k: v for k, v in d["synthesis"].items() if k != "steps_seconds"}}

    assert fixed(first.data) == fixed(again.data)
    assert first.sta_log == again.sta_log


@needs_sta
def test_cli_writes_timing_json_with_all_fields(tmp_path, capsys):
    out = tmp_path / "pod"
    assert main(["timing", "--target", "pod", "--pod", "4x4", "--format", "hbfp6",
                 "--clock-ns", "8", "--path-from", "res__ready", "--out", str(out),
                 "--no-cache"]) == 0
    printed = capsys.readouterr().out
    assert "Fmax" in printed and "critical path" in printed
    assert {p.name for p in out.iterdir()} == {"timing.json", "timing.rpt", "sta.log", "sta.tcl"}
    d = json.loads((out / "timing.json").read_text())
    for k in REQUIRED:
        assert k in d, k
    assert d["design"] == "pod_4x4_hbfp6" and d["target"] == "pod"
    assert d["timed"].startswith("hierarchical") and d["modules_flattened"] > 1
    c = d["constraints"]
    assert c["clock"] == {"port": "clk", "name": "clk", "period_ns": 8.0, "ideal": True,
                          "virtual": False}
    assert (c["input_delay_ns"], c["output_delay_ns"], c["load_pf"]) == (0.0, 0.0, 0.005)
    assert c["driving_cell"] == "BUF" and c["driving_pin"] == "Y"
    assert d["wire_load"]["model"] == "sqgen_1k"
    assert d["library"]["generic"] and d["library"]["name"] == "sqgen_generic"
    assert d["synthesis"]["abc_delay_target_ps"] == 8000
    assert math.isclose(d["critical_path_ns"], 8.0 - d["worst_slack_ns"], abs_tol=1e-3)
    assert math.isclose(d["fmax_mhz"], 1000.0 / d["critical_path_ns"], rel_tol=1e-4)
    assert d["met"] == (d["worst_slack_ns"] >= 0)
    cp = d["critical_path"]
    assert cp["logic_levels"] == len(cp["cells"]) > 3 and 0 <= cp["buffers"] <= cp["logic_levels"]
    for end in ("startpoint", "endpoint"):
        assert cp[end]["name"] and cp[end]["kind"]
    assert cp["points"] and cp["points"][-1]["time"] == pytest.approx(cp["arrival_ns"], abs=2e-3)
    stall = d["paths_from"]["res__ready"]  # the pod's global stall enable
    assert stall["startpoint"]["name"] == "res__ready" and stall["logic_levels"] >= 1
    assert stall["slack_ns"] >= d["worst_slack_ns"]
    assert math.isclose(stall["path_ns"], 8.0 - stall["slack_ns"], abs_tol=1e-3)
    h = d["hierarchy"]
    (pe,) = h["blocks"]
    assert pe["name"] == "sqgen_pod_pe" and pe["instances"] == 16 and pe["model"].endswith(".lib")
    assert 0 < pe["internal_critical_path_ns"] <= d["critical_path_ns"] + 1e-6
    assert pe["pins"]["constrained_inputs"] > 10 and pe["pins"]["outputs_with_arcs"] > 10
    # the stall enable reaches every PE: the flow buffers it, and says so
    en = next(t for t in h["buffer_trees"] if "en" in t["sink_pins"])
    assert en["sinks"] == 16 and en["levels"] >= 2 and en["buffers"] >= 3
    assert h["top"]["block_instances"] == 16
    a = d["area"]
    assert a["mapped"]["unit"] == "GE" and a["mapped"]["area"] > 0 and a["mapped"]["cells"] > 0
    assert a["area_flow"]["mode"] == "hierarchical" and a["area_flow"]["ge"] > 0
    assert "mapped_vs_area_flow_pct" in a
    rpt = (out / "timing.rpt").read_text()
    assert "Startpoint:" in rpt and "slack" in rpt and "wire load  : sqgen_1k" in rpt
    assert "Error" not in (out / "sta.log").read_text()


@needs_sta
@needs_ihp
def test_ihp_units_and_wire_load():
    rep = timing_of_design(generate("dot", DesignConfig(format="hbfp6", block_size=8)),
                           liberty=IHP, area_flow=False)
    d = rep.data
    assert d["wire_load"]["model"] == "1k" and d["wire_load"]["library_default"] == "1k"
    assert d["constraints"]["driving_cell"] == "sg13g2_buf_2"
    assert d["area"]["mapped"]["unit"] == "um2" and not d["library"]["generic"]
    assert 50 < rep.fmax_mhz < 1000  # a 130 nm dot unit: some 100-200 MHz


#: A chain of 12 small registered blocks sharing an enable: the smallest design with a
#: repeated block (MIN_BLOCK_INSTANCES) and a net into more block pins than one gate drives.
CHAIN_N = 12


def _chain() -> dict[str, str]:
    insts = "\n".join(
        f"  leaf l{i} (.clk(clk), .en(en), .a({'x' if i == 0 else f's{i}'}), .b(x), "
        f".y(s{i + 1}));" for i in range(CHAIN_N))
    wires = " ".join(f"wire [3:0] s{i};" for i in range(1, CHAIN_N + 1))
    return {"chain.v": (
        "module leaf(clk, en, a, b, y);\n"
        "  input clk; input en; input [3:0] a; input [3:0] b; output reg [3:0] y;\n"
        "  always @(posedge clk) if (en) y <= a + b;\n"
        "endmodule\n"
        "module chain(clk, en, x, out);\n"
        "  input clk; input en; input [3:0] x; output reg [3:0] out;\n"
        f"  {wires}\n{insts}\n"
        f"  always @(posedge clk) out <= s{CHAIN_N} ^ x;\n"
        "endmodule\n")}


def test_blocks_are_the_repeated_leaves():
    pod = generate("pod", DesignConfig(rows=4, cols=4, format="hbfp6"))
    assert timing.hierarchical_blocks(dict(pod.files), pod.top) == {"sqgen_pod_pe": 16}
    dot = generate("dot", DesignConfig(format="hbfp6", block_size=8))
    assert timing.hierarchical_blocks(dict(dot.files), dot.top) == {}
    assert timing.hierarchical_blocks(_chain(), "chain") == {"leaf": CHAIN_N}
    assert timing.MIN_BLOCK_INSTANCES <= CHAIN_N


def test_json_netlist_buffers_aliased_ports_and_refuses_constants():
    lib = load_timing_library(None)
    js = {"modules": {"m": {
        "ports": {"a": {"direction": "input", "bits": [2]},
                  "y": {"direction": "output", "bits": [2]},
                  "z": {"direction": "output", "bits": [3, 3]}},
        "cells": {"$abc$1": {"type": "INV", "connections": {"A": [2], "Y": [3]}}},
        "netnames": {"a": {"bits": [2], "hide_name": 0}}}}}
    nl = timing._netlist_from_json(js, "m", lib, {}, block=False, what="m")
    text = nl.to_verilog()
    assert "assign" not in text and text.count("BUF ") == 2  # y = a and z[1] = z[0]
    assert [n for n, _, _ in nl.ports] == ["a", "y", "z[0]", "z[1]"]
    assert "\\z[0] " in text  # escaped bus-bit names, as splitnets -ports writes them
    blk = timing._netlist_from_json(js, "m", lib, {}, block=True, what="m")
    assert [n for n, _, _ in blk.ports] == ["a", "y", "z_0_", "z_1_"]  # scalar ETM pins
    js["modules"]["m"]["cells"]["$abc$1"]["connections"]["A"] = ["1"]
    with pytest.raises(TimingError, match="constant '1' left on pin A"):
        timing._netlist_from_json(js, "m", lib, {}, block=False, what="m")


@needs_sta
def test_hierarchical_method_matches_the_flat_one(tmp_path):
    """Blocks as timing models, composed at the top with buffer trees on the shared enable and
    inputs, give about the flat netlist's critical path (ABC maps the block alone a little
    differently than in context, and the trees are not ABC's)."""
    hier = timing_of_verilog(_chain(), "chain", area_flow=False, cache_dir=None,
                             paths_from=["en"], flat=False, keep_netlist=True)
    flat = timing_of_verilog(_chain(), "chain", area_flow=False, cache_dir=None,
                             paths_from=["en"], flat=True)
    h, f = hier.data, flat.data
    assert f["timed"] == "flattened design" and h["timed"].startswith("hierarchical")
    assert h["critical_path_ns"] == pytest.approx(f["critical_path_ns"], rel=0.10)
    (tree,) = [t for t in h["hierarchy"]["buffer_trees"] if t["net"] == "en"]
    assert tree["sinks"] == CHAIN_N and tree["sink_pins"] == {"en": CHAIN_N}
    assert tree["levels"] >= 2 and tree["buffers"] >= 3  # 12 pins -> >= 2 nodes -> 1 root
    assert tree["driver"] == "input port en"
    # the enable's path runs through the tree into a block and ends at a register inside it
    en = h["paths_from"]["en"]
    assert en["endpoint"]["block"] == "leaf" and en["endpoint"]["register"].startswith("l")
    assert en["buffers"] >= 2 and en["path_ns"] == pytest.approx(
        f["paths_from"]["en"]["path_ns"], rel=0.25)
    cp = h["critical_path"]
    assert cp["logic_levels"] == len(cp["cells"]) > 2
    # the kept files rerun in sta to the same slack (sta.tcl reads the model beside it)
    out = tmp_path / "hier"
    timing.write_report(hier, out)
    assert {"netlist.v", "leaf.lib", "leaf.v", "sta.tcl"} <= {p.name for p in out.iterdir()}
    assert "read_liberty {leaf.lib}" in (out / "sta.tcl").read_text()
    import subprocess
    res = subprocess.run(["sta", "-no_init", "-no_splash", "-exit", "sta.tcl"], cwd=out,
                         capture_output=True, text=True, timeout=120)
    assert "Error" not in res.stdout
    ws = float(re.search(r"^sqgen-worst-slack (\S+)", res.stdout, re.M).group(1))
    assert ws == pytest.approx(h["critical_path_top_ns"] and 10.0 - h["critical_path_top_ns"],
                               abs=1e-3)


@needs_sta
def test_hierarchical_results_are_cached(tmp_path):
    first = timing_of_verilog(_chain(), "chain", area_flow=False, cache_dir=tmp_path)
    again = timing_of_verilog(_chain(), "chain", area_flow=False, cache_dir=tmp_path)
    flat = timing_of_verilog(_chain(), "chain", area_flow=False, cache_dir=tmp_path, flat=True)
    assert not first.data["cached"] and again.data["cached"] and not flat.data["cached"]
    assert first.data["timed"].startswith("hierarchical") and flat.data["timed"] != first.data[
        "timed"]  # the method is part of the key
    for k in ("fmax_mhz", "critical_path", "hierarchy", "area"):
        assert again.data[k] == first.data[k], k
    assert again.sta_log == first.sta_log


@needs_sta
def test_block_with_a_combinational_path_is_timed_flat():
    text = _chain()["chain.v"].replace("output reg [3:0] y;\n  always @(posedge clk) "
                                       "if (en) y <= a + b;",
                                       "output [3:0] y; reg [3:0] r;\n  always @(posedge clk) "
                                       "if (en) r <= a; assign y = r + b;")
    with pytest.raises(NotAbstractable, match="combinational path"):
        timing_of_verilog({"c.v": text}, "chain", area_flow=False, cache_dir=None, flat=False)
    rep = timing_of_verilog({"c.v": text}, "chain", area_flow=False, cache_dir=None)
    assert rep.data["timed"] == "flattened design"
    assert "hierarchical method did not apply" in rep.data["timed_note"]


@needs_sta
def test_flat_option_times_the_flattened_pod(tmp_path, capsys):
    out = tmp_path / "flat"
    assert main(["timing", "--target", "pod", "--pod", "4x4", "--format", "hbfp6", "--flat",
                 "--path-from", "res__ready", "--out", str(out), "--no-cache",
                 "--no-area-flow"]) == 0
    capsys.readouterr()
    d = json.loads((out / "timing.json").read_text())
    assert d["timed"] == "flattened design" and "hierarchy" not in d
    assert d["paths_from"]["res__ready"]["logic_levels"] >= 3


@pytest.mark.slow
@needs_sta
def test_hierarchical_and_flat_pods_agree():
    """8x8 HBFP6 pod, generic library: the methods' Fmax within 10 % (docs/timing.md
    explains the few per cent: the flat flow merges equal bank-bit registers across PEs)."""
    pod = generate("pod", DesignConfig(rows=8, cols=8, format="hbfp6"))
    kw = {"area_flow": False, "cache_dir": None, "paths_from": ["res__ready"]}
    h = timing_of_design(pod, flat=False, **kw).data
    f = timing_of_design(pod, flat=True, **kw).data
    assert h["fmax_mhz"] == pytest.approx(f["fmax_mhz"], rel=0.10)
    assert h["area"]["mapped"]["area"] == pytest.approx(f["area"]["mapped"]["area"], rel=0.25)
