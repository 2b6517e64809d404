"""Power flow (flow/power.py, ``python -m flow power``): energy model, simulation, refusals.

The energy evaluation is checked against answers computed by hand from a small liberty written
here (:data:`TLIB`: every table value below is read off it), on circuits whose per-cycle values
are given directly: an inverter chain, a flip-flop with conditional clock-pin tables, a NAND2
whose output toggles by one input, the other, or both. A two-cell circuit runs through the
real gate-level simulation (Yosys cell models + Icarus) with known toggle counts. Whole-flow
tests use a 2x2 HBFP6 pod (tiny GEMM) and the INT8 MAC on the generic library: zero
activations draw less than random ones, the golden check catches a wrong result, figures are
deterministic. Everything that runs OpenSTA or Icarus is skipped when the tool is missing; the
refusals are checked either way.
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from flow import area, power
from flow.cli import main
from flow.power import PowerError, Stimulus
from gen.config import DesignConfig
from gen.targets import generate

pytestmark = pytest.mark.xdist_group("power")

needs_sta = pytest.mark.skipif(
    shutil.which("sta") is None,
    reason="OpenSTA 'sta' is not installed (make power installs it: apt-get install -y opensta)",
)
needs_iverilog = pytest.mark.skipif(
    shutil.which("iverilog") is None or shutil.which("vvp") is None,
    reason="Icarus Verilog is not installed (make power installs it: apt-get install -y iverilog)",
)
IHP = area.ihp_liberty()
needs_ihp = pytest.mark.skipif(
    IHP is None, reason="IHP SG13G2 liberty not found at <repo>/../shared/pdk/ihp-sg13g2/ "
    "(set SQGEN_IHP_LIB to point at sg13g2_stdcell_typ_1p20V_25C.lib)"
)

_TR = """      timing () { related_pin : "%s"; %s
        cell_rise (scalar) { values ("0.05"); } cell_fall (scalar) { values ("0.05"); }
        rise_transition (scalar) { values ("0.1"); } fall_transition (scalar) { values ("0.1"); }
      }
"""

#: A hand-checkable library: 1 V, pJ/pF/ns; every slew is 0.1 ns (scalar transitions), power
#: tables indexed by slew {0.1, 0.3} x load {0.01, 0.03} pF.
TLIB = """library (tlib) {
  delay_model : table_lookup;
  time_unit : "1ns"; voltage_unit : "1V"; current_unit : "1mA";
  capacitive_load_unit (1, pf); leakage_power_unit : "1nW"; nom_voltage : 1.0;
  input_threshold_pct_rise : 50; input_threshold_pct_fall : 50;
  output_threshold_pct_rise : 50; output_threshold_pct_fall : 50;
  slew_lower_threshold_pct_rise : 20; slew_lower_threshold_pct_fall : 20;
  slew_upper_threshold_pct_rise : 80; slew_upper_threshold_pct_fall : 80;
  power_lut_template (pw) { variable_1 : input_transition_time;
    variable_2 : total_output_net_capacitance; index_1 ("0.1, 0.3"); index_2 ("0.01, 0.03"); }
  power_lut_template (pp) { variable_1 : input_transition_time; index_1 ("0.1, 0.3"); }
  cell (INV) { area : 1; cell_leakage_power : 2;
    pin (A) { direction : input; capacitance : 0.01; }
    pin (Y) { direction : output; function : "!A";
""" + _TR % ("A", "") + """      internal_power () { related_pin : "A";
        rise_power (pw) { values ("0.010, 0.012", "0.014, 0.016"); }
        fall_power (pw) { values ("0.020, 0.022", "0.024, 0.026"); } } } }
  cell (BUF) { area : 1; cell_leakage_power : 3;
    pin (A) { direction : input; capacitance : 0.01; }
    pin (Y) { direction : output; function : "A";
""" + _TR % ("A", "") + """    } }
  cell (NAND2) { area : 1; cell_leakage_power : 4;
    pin (A) { direction : input; capacitance : 0.01; }
    pin (B) { direction : input; capacitance : 0.01; }
    pin (Y) { direction : output; function : "!(A*B)";
""" + _TR % ("A", "") + _TR % ("B", "") + """      internal_power () { related_pin : "A";
        rise_power (scalar) { values ("0.01"); } fall_power (scalar) { values ("0.02"); } }
      internal_power () { related_pin : "B";
        rise_power (scalar) { values ("0.03"); } fall_power (scalar) { values ("0.04"); } } } }
  cell (TIEHI) { area : 1; pin (Y) { direction : output; function : "1"; } }
  cell (TIELO) { area : 1; pin (Y) { direction : output; function : "0"; } }
  cell (DFF) { area : 5; cell_leakage_power : 10;
    ff (IQ, IQN) { next_state : "D"; clocked_on : "CK"; }
    pin (D) { direction : input; capacitance : 0.01;
      internal_power () { when : "CK";
        rise_power (pp) { values ("0.001, 0.001"); } fall_power (pp) { values ("0.002, 0.002"); } }
      internal_power () { when : "!CK";
        rise_power (pp) { values ("0.003, 0.003"); } fall_power (pp) { values ("0.004, 0.004"); } }
    }
    pin (CK) { direction : input; capacitance : 0.003; clock : true;
      internal_power () { when : "D&Q";
        rise_power (pp) { values ("0.1, 0.1"); } fall_power (pp) { values ("0.2, 0.2"); } }
      internal_power () { when : "!D&!Q";
        rise_power (pp) { values ("0.3, 0.3"); } fall_power (pp) { values ("0.4, 0.4"); } }
      internal_power () {
        rise_power (pp) { values ("0.5, 0.5"); } fall_power (pp) { values ("0.6, 0.6"); } }
    }
    pin (Q) { direction : output; function : "IQ";
""" + _TR % ("CK", "timing_type : rising_edge;") + """      internal_power () { related_pin : "CK";
        rise_power (pw) { values ("0.05, 0.05", "0.05, 0.05"); }
        fall_power (pw) { values ("0.07, 0.07", "0.07, 0.07"); } } } }
}
"""

#: An inverter chain a -> u1 -> n1 -> u2 -> n2 -> u3 -> y.
CHAIN = """module chain(a, y);
  input a; output y;
  wire a; wire n1; wire n2; wire y;
  INV u1 (.A(a), .Y(n1));
  INV u2 (.A(n1), .Y(n2));
  INV u3 (.A(n2), .Y(y));
endmodule
"""

#: One flip-flop sampling input d; its output drives port q.
FLOP = """module flop(clk, d, q);
  input clk; input d; output q;
  wire clk; wire d; wire q;
  DFF f (.CK(clk), .D(d), .Q(q));
endmodule
"""

NAND = """module nand2(a, b, y);
  input a; input b; output y;
  wire a; wire b; wire y;
  NAND2 g (.A(a), .B(b), .Y(y));
endmodule
"""

#: A toggle flip-flop (q <= !q) and a flip-flop sampling input d.
TOGGLE = """module toggle(clk, d, q, r);
  input clk; input d; output q; output r;
  wire clk; wire d; wire q; wire r; wire nq;
  DFF t (.CK(clk), .D(nq), .Q(q));
  INV i (.A(q), .Y(nq));
  DFF s (.CK(clk), .D(d), .Q(r));
endmodule
"""

REQUIRED = [
    "design", "target", "config", "top", "total_mw", "dynamic_mw", "internal_mw",
    "switching_mw", "leakage_mw", "sequential_mw", "combinational_mw", "pj_per_mac",
    "pj_per_cycle", "clock", "activity", "equivalence", "vectorless", "glitches", "breakdown",
    "modules", "module_attribution", "by_cell_type", "library", "method", "timing", "netlist",
    "tools", "run",
]


@pytest.fixture(scope="module")
def tlib(tmp_path_factory):
    p = tmp_path_factory.mktemp("lib") / "tlib.lib"
    p.write_text(TLIB)
    return power.load_power_library(p)


def _struct(tlib, text, port_load=0.02):
    nl = power.parse_netlist(text)
    return power.analyse_netlist(nl, tlib, wire_load=None, port_load_pf=port_load,
                                 clock_slew_ns=0.1, input_slew_ns=0.1)


def _values(st, **rows):
    """Per-cycle values of the named nets (the others 0)."""
    S = len(next(iter(rows.values())))
    v = np.zeros((len(st.netlist.nets), S), bool)
    for name, r in rows.items():
        v[st.netlist.index[name]] = np.array(r, bool)
    return v


def _one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


# ---- the liberty model -------------------------------------------------------------------------
def test_library_units_tables_and_groups(tlib):
    assert tlib.voltage == 1.0 and tlib.energy_unit_pj == 1.0
    inv = tlib.cells["INV"]
    assert inv.leakage_mw == pytest.approx(2e-6) and inv.pins["A"].cap_pf == 0.01
    rise = inv.arcs("Y")["A"][0].rise
    assert rise.lookup(0.1, 0.01) == pytest.approx(0.010)
    assert rise.lookup(0.2, 0.02) == pytest.approx(0.013)      # bilinear midpoint
    assert rise.lookup(0.05, 0.001) == pytest.approx(0.010)    # clamped to the index
    assert rise.lookup(0.5, 0.05, clamp=False) == pytest.approx(0.022)  # extrapolated
    dff = tlib.cells["DFF"]
    assert dff.sequential and dff.clock_pins == ["CK"]
    ck = dff.pin_groups("CK")
    assert [g.when_text for g in ck] == ["D&Q", "!D&!Q", None]  # conditional first


def test_boolean_expressions():
    combos = power._combos(3)
    env = {"A": combos[:, 0], "B": combos[:, 1], "C": combos[:, 2]}
    a, b, c = env["A"], env["B"], env["C"]

    def ev(text):
        return power.eval_bool(power.parse_bool(text), env, (8,))

    assert (ev("A B + !C") == ((a & b) | ~c)).all()
    assert (ev("(A+B)'") == ~(a | b)).all()
    assert (ev("A^B*C") == ((a ^ b) & c)).all()  # xor binds tighter than and
    assert (ev("A | B & C") == (a | (b & c))).all()
    assert (ev("1") == np.ones(8, bool)).all()
    for bad in ["A +", "(A", "A $ B", ""]:
        with pytest.raises(ValueError):
            power.parse_bool(bad)


def test_netlist_parsing():
    nl = power.parse_netlist(
        "module t(\\x[0] , \\x[1] , y);\n  input \\x[0] ;\n  input \\x[1] ;\n  output [1:0] y;\n"
        "  wire \\x[0] ;\n  wire \\x[1] ;\n  wire [1:0] y;\n"
        "  INV a (.A(\\x[0] ), .Y(y[0]));\n  INV b (.A(\\x[1] ), .Y(y[1]));\nendmodule\n")
    assert nl.ports["x"].bit_ports == ("\\x[0]", "\\x[1]") and nl.ports["x"].width == 2
    assert nl.ports["y"].bit_ports is None and nl.ports["y"].width == 2
    assert [c.pins for c in nl.cells] == [{"A": nl.index["\\x[0]"], "Y": nl.index["y[0]"]},
                                          {"A": nl.index["\\x[1]"], "Y": nl.index["y[1]"]}]
    with pytest.raises(PowerError, match="assign"):
        power.parse_netlist("module t(a, y);\n  input a; output y;\n  assign y = a;\nendmodule\n")


# ---- energy by hand ------------------------------------------------------------------------------
def test_inverter_chain_by_hand(tlib):
    st = _struct(tlib, CHAIN)
    a = [0, 1, 0, 1, 1]
    inv = [1 - x for x in a]
    act = power.evaluate_activity(st, _values(st, a=a, n1=inv, n2=a, y=inv))
    idx = st.netlist.index
    assert [act.toggles[idx[n]] for n in ("a", "n1", "n2", "y")] == [3, 3, 3, 3]
    # u1 drives n1 (0.01 pF): 1 rise x 0.010 + 2 falls x 0.020; u2 drives n2: 2 x 0.010 + 0.020;
    # u3 drives port y (0.02 pF, mid-index): 1 x 0.011 + 2 x 0.021
    assert act.internal_pj.tolist() == pytest.approx([0.050, 0.040, 0.053])
    # 1/2 C V^2 per toggle: a, n1, n2 carry one INV input (0.01 pF), y the 0.02 pF port
    assert act.switching_pj[[idx["a"], idx["n1"], idx["n2"], idx["y"]]].tolist() == \
        pytest.approx([0.015, 0.015, 0.015, 0.030])
    s = power.summarize(st, act, period_ns=10.0)  # 4 cycles of 10 ns
    assert s["internal_mw"] == pytest.approx(0.143 / 40)
    assert s["switching_mw"] == pytest.approx(0.075 / 40)
    assert s["leakage_mw"] == pytest.approx(3 * 2e-6)
    assert s["total_mw"] == pytest.approx((0.143 + 0.075) / 40 + 6e-6)
    assert s["breakdown"]["input_ports"]["switching_mw"] == pytest.approx(0.015 / 40)


def test_flip_flop_clock_and_conditions_by_hand(tlib):
    st = _struct(tlib, FLOP)
    d = [1, 1, 0, 0, 1]
    q = [0, 1, 1, 0, 0]  # q follows d one cycle later
    act = power.evaluate_activity(st, _values(st, d=d, q=q))
    # clock rises with the state before the edge (d, q): (1,0) default 0.5, (1,1) D&Q 0.1,
    # (0,1) 0.5, (0,0) !D&!Q 0.3; falls with the state after it: (1,1) 0.2, (0,1) 0.6,
    # (0,0) 0.4, (1,0) 0.6 -- the unconditional group only when no condition holds
    assert act.clock_pin_pj[0] == pytest.approx(1.4 + 1.8)
    # Q: one rise (0.05) and one fall (0.07); D: one fall, one rise, each averaged over the two
    # clock phases: (0.002 + 0.004) / 2 + (0.001 + 0.003) / 2
    assert act.internal_pj[0] == pytest.approx(3.2 + 0.12 + 0.005)
    # the clock net: its pin (0.003 pF) charged and discharged every cycle, C V^2 per cycle
    clk = st.netlist.index["clk"]
    assert clk in st.clock_nets and act.toggles[clk] == 8
    assert act.switching_pj[clk] == pytest.approx(4 * 0.003)
    s = power.summarize(st, act, period_ns=1.0)
    assert s["clock"]["flop_clock_pin_internal_mw"] == pytest.approx(3.2 / 4)
    assert s["breakdown"]["clock_net"]["switching_mw"] == pytest.approx(0.003)
    assert s["sequential_mw"] == pytest.approx((3.325 + 2 * 0.5 * 0.02) / 4 + 10e-6)


def test_output_energy_follows_the_toggling_input(tlib):
    st = _struct(tlib, NAND)
    a = [0, 1, 1, 0, 1]
    b = [1, 1, 0, 0, 1]
    y = [1, 0, 1, 1, 0]
    act = power.evaluate_activity(st, _values(st, a=a, b=b, y=y))
    # a rises: y falls by A (0.02); b falls: y rises by B (0.03); a falls with b low: no output
    # event; a and b rise together: y falls, half A and half B (0.01 + 0.02)
    assert act.internal_pj[0] == pytest.approx(0.02 + 0.03 + 0.03)


def test_vectorless_by_hand(tlib):
    st = _struct(tlib, CHAIN)
    v = power.vectorless(st, period_ns=10.0, activity=0.1, probability=0.5)
    # every net 0.1 toggles per cycle, half rising: u1, u2 0.1 x (0.010 + 0.020) / 2,
    # u3 0.1 x (0.011 + 0.021) / 2; switching 0.1 x 1/2 C per net
    assert v["internal_mw"] == pytest.approx((0.0015 + 0.0015 + 0.0016) / 10)
    assert v["switching_mw"] == pytest.approx(0.1 * 0.5 * (0.01 * 3 + 0.02) / 10)
    st = _struct(tlib, NAND)
    v = power.vectorless(st, period_ns=1.0, activity=0.1, probability=0.5)
    # D(y) = P(b) D(a) + P(a) D(b) = 0.1, half of it through each arc
    assert v["internal_mw"] == pytest.approx(0.05 * 0.015 + 0.05 * 0.035)


# ---- the gate-level simulation -------------------------------------------------------------------
@needs_iverilog
def test_simulation_toggle_counts(tlib, tmp_path):
    nl_text = TOGGLE
    st = _struct(tlib, nl_text)
    nl = st.netlist
    cells = power.cell_models_verilog(tlib, cache_dir=None)
    d = [0, 1, 1, 0, 1, 1, 1, 0, 0, 1]
    sampled = [i for i in range(len(nl.nets)) if st.driver[i] not in (-2, -3)
               and i not in st.clock_nets]
    sim = power.simulate({"netlist.v": nl_text, "cells.v": cells}, "toggle", nl.ports,
                         Stimulus(vectors={"d": d}, cycles=len(d) - 1), tmp_path,
                         sample=[power.net_ref(nl.nets[i]) for i in sampled])
    assert sim.cycles == len(d) - 1
    vals = np.zeros((len(nl.nets), sim.values.shape[1]), bool)
    vals[sampled] = sim.values
    q, r, din = (vals[nl.index[n]] for n in ("q", "r", "d"))
    assert (q[1:] != q[:-1]).all()            # the toggle flip-flop flips every cycle
    assert (r[1:] == din[:-1]).all()          # r is d one cycle late
    act = power.evaluate_activity(st, vals)
    assert act.toggles[nl.index["q"]] == len(d) - 1
    assert act.toggles[nl.index["d"]] == int(np.sum(np.diff(d) != 0))
    assert act.toggles[nl.index["r"]] == int(np.sum(np.diff(r.astype(int)) != 0))


# ---- whole flow ----------------------------------------------------------------------------------
POD = DesignConfig(rows=2, cols=2, format="hbfp6")
GEMM = (16, 8, 8)


def _pod_power(kind, cache, **kw):
    wl = power.pod_workload(kind, power.pod_geometry(POD), gemm=GEMM)
    return power.power_of_design(generate("pod", POD), workload=wl, cache_dir=cache, **kw)


@needs_sta
@needs_iverilog
def test_zero_activations_draw_less_and_results_match_golden(tmp_path):
    zeros = _pod_power("zeros", tmp_path)
    rand = _pod_power("random", tmp_path)
    for r in (zeros, rand):
        eq = r.data["equivalence"]
        assert eq["ok"] and eq["cycles_measured"] == eq["cycles_golden"]
        assert eq["result_beats"] == 16 * (8 // 2) * (8 // 2)
    assert rand.data["run"]["netlist_cached"]  # the second run reused the mapped netlist
    assert zeros.total_mw < 0.8 * rand.total_mw
    assert zeros.data["combinational_mw"] < 0.5 * rand.data["combinational_mw"]
    assert zeros.data["leakage_mw"] == rand.data["leakage_mw"]
    d = rand.data
    assert d["total_mw"] == pytest.approx(d["internal_mw"] + d["switching_mw"] + d["leakage_mw"],
                                          rel=1e-4)
    assert d["total_mw"] == pytest.approx(sum(m["total_mw"] for m in d["modules"].values()),
                                          rel=1e-3)
    assert {"array", "skew", "(top)", "(clock)"} <= set(d["modules"])
    assert d["clock"]["source"] == "Fmax of the timing flow"
    assert d["clock"]["mhz"] == pytest.approx(d["timing"]["fmax_mhz"], rel=1e-3)
    M, N, K = GEMM
    assert d["pj_per_mac"] == pytest.approx(
        d["total_mw"] * d["clock"]["period_ns"] * d["activity"]["cycles"] / (M * N * K),
        rel=1e-3)
    assert d["vectorless"]["total_mw"] > 0 and d["glitches"]["counted"] is False


@needs_sta
@needs_iverilog
def test_figures_are_deterministic_and_recomputation_is_exact(tmp_path):
    first = _pod_power("random", tmp_path, clock_ns=6.0)
    again = _pod_power("random", None, clock_ns=6.0)
    every = _pod_power("random", tmp_path, clock_ns=6.0, sample_all=True)

    def fixed(d, sampling=True):
        out = {k: v for k, v in d.items() if k != "run"}
        if not sampling:
            out["activity"] = {k: v for k, v in d["activity"].items()
                               if k not in ("sampled", "nets_simulated", "nets_checked")}
        return out

    assert fixed(first.data) == fixed(again.data)
    # every net from the simulator (and every recomputed net checked against it): same figures
    assert fixed(every.data, False) == fixed(first.data, False)
    assert every.data["activity"]["nets_checked"] > first.data["activity"]["nets_checked"]
    assert first.data["clock"]["period_ns"] == 6.0
    assert first.data["clock"]["source"] == "given clock period"


@needs_sta
@needs_iverilog
def test_a_wrong_result_fails_loudly(tmp_path, monkeypatch):
    real = power.PodWorkload.program

    def corrupt(self):
        prog = real(self)
        prog.psum[0, 3, 1] += 1
        return prog

    monkeypatch.setattr(power.PodWorkload, "program", corrupt)
    with pytest.raises(PowerError) as ei:
        _pod_power("random", tmp_path)
    msg = str(ei.value)
    assert "does not match golden.systolic" in msg and "beat 3 column 1" in msg
    assert "\n" not in msg


@needs_sta
@needs_iverilog
def test_datapath_block_random_and_zeros(tmp_path, capsys):
    out = tmp_path / "int8"
    for w in ("random", "zeros"):
        assert main(["power", "--target", "int8mac", "--workload", w, "--cycles", "64",
                     "--out", str(out / w)]) == 0
    capsys.readouterr()
    r, z = (json.loads((out / w / "power.json").read_text()) for w in ("random", "zeros"))
    assert r["equivalence"]["ok"] and r["equivalence"]["values_compared"] > 64
    assert "RTL simulation" in r["equivalence"]["against"]
    assert z["total_mw"] < 0.5 * r["total_mw"]
    assert r["activity"]["workload"]["macs"] == 64 and r["pj_per_mac"] > 0


@needs_sta
@needs_iverilog
def test_cli_writes_power_json_and_report(tmp_path, capsys):
    out = tmp_path / "pod"
    assert main(["power", "--target", "pod", "--pod", "2x2", "--format", "hbfp6", "--gemm",
                 "16x8x8", "--workload", "zeros", "--out", str(out), "--no-cache"]) == 0
    printed = capsys.readouterr().out
    assert "mW" in printed and "pJ/MAC" in printed and "vectorless" in printed
    assert {p.name for p in out.iterdir()} == {"power.json", "power.rpt"}
    d = json.loads((out / "power.json").read_text())
    for k in REQUIRED:
        assert k in d, k
    assert d["design"] == "pod_2x2_hbfp6" and d["target"] == "pod"
    assert d["activity"]["workload"]["name"] == "zeros"
    assert d["activity"]["workload"]["gemm"] == {"M": 16, "N": 8, "K": 8}
    b = d["breakdown"]
    assert d["sequential_mw"] == b["sequential"]["total_mw"]
    assert b["sequential"]["cells"] + b["combinational"]["cells"] == d["netlist"]["cells"]
    assert d["library"]["generic"] and d["library"]["voltage_v"] == 1.2
    rpt = (out / "power.rpt").read_text()
    assert "module" in rpt and "cell type" in rpt and "glitches" in rpt


# ---- refusals ------------------------------------------------------------------------------------
def test_missing_and_malformed_liberty_refused(capsys, tmp_path):
    assert main(["power", "--target", "pod", "--liberty", str(tmp_path / "no.lib")]) == 2
    err = _one_line(capsys.readouterr().err)
    assert err.startswith("error: --liberty:") and "does not exist" in err
    bad = tmp_path / "bad.lib"
    bad.write_text("library (bad) {\n  cell (NAND2) { area : 1;\n")
    assert main(["power", "--make", "--liberty", str(bad)]) == 2
    err = _one_line(capsys.readouterr().err)
    assert err.startswith("error: LIBERTY:") and "malformed" in err
    nopower = tmp_path / "nopower.lib"
    nopower.write_text(power._strip_power(area.GENERIC_LIB.read_text()))
    with pytest.raises(PowerError, match="has no power data"):
        power.load_power_library(nopower)


def test_missing_tools_refused(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # neither sta nor Icarus
    assert main(["power", "--target", "int8mac", "--out", str(tmp_path / "o")]) == 2
    err = _one_line(capsys.readouterr().err)
    assert "OpenSTA ('sta') is not installed" in err and "apt-get install -y opensta" in err
    assert not (tmp_path / "o").exists()
    sta = shutil.which("sta", path=os.environ.get("PATH_BACKUP", "/usr/bin:/usr/local/bin"))
    if sta is not None:  # sta present, Icarus missing
        (tmp_path / "bin").mkdir()
        os.symlink(sta, tmp_path / "bin" / "sta")
        monkeypatch.setenv("PATH", str(tmp_path / "bin"))
        assert main(["power", "--target", "int8mac", "--out", str(tmp_path / "o")]) == 2
        err = _one_line(capsys.readouterr().err)
        assert "Icarus Verilog ('iverilog') is not installed" in err


@needs_sta
@needs_iverilog
def test_bad_workload_and_flags_refused(capsys):
    cases = [
        (["--target", "pod", "--workload", "minilm"], "--workload=minilm: MiniLM data"),
        (["--target", "pod", "--workload", "nosuch"], "must be one of"),
        (["--target", "int8mac", "--workload", "minilm"], "takes random or zeros"),
        (["--target", "pod", "--gemm", "8x8"], "--gemm='8x8': must be MxNxK"),
        (["--target", "int8mac", "--cycles", "1"], "--cycles='1': must be an integer"),
        (["--target", "pod", "--clock-ns", "0"], "--clock-ns='0': must be a positive"),
        (["--target", "engine"], "--target=engine"),
    ]
    for argv, want in cases:
        assert main(["power", *argv]) == 2, argv
        err = _one_line(capsys.readouterr().err)
        assert want in err, (argv, err)


# ---- SRAM macros ---------------------------------------------------------------------------------
SRAM_LIB = """library (RM_TEST) {
  voltage_unit : "1V"; leakage_power_unit : "1nW"; capacitive_load_unit (1, pf);
  cell (RM_IHPSG13_2P_64x8_test) { area : 1000; cell_leakage_power : 50;
    pin (A_CLK) { direction : input; clock : "true";
      internal_power () { when : "A_MEN & A_WEN & !A_REN";
        rise_power ("scalar") { values (3.0); } fall_power ("scalar") { values (0.5); } }
      internal_power () { when : "A_MEN & !A_WEN & A_REN";
        rise_power ("scalar") { values (2.0); } fall_power ("scalar") { values (0); } }
      internal_power () { when : "!A_MEN";
        rise_power ("scalar") { values (0); } fall_power ("scalar") { values (0); } }
      internal_power () {
        rise_power ("scalar") { values (0.25); } fall_power ("scalar") { values (0); } } }
    pin (B_CLK) { direction : input; clock : "true";
      internal_power () { when : "B_MEN & !B_WEN & B_REN";
        rise_power ("scalar") { values (4.0); } fall_power ("scalar") { values (0); } }
      internal_power () { when : "B_MEN & B_WEN & !B_REN";
        rise_power ("scalar") { values (5.0); } fall_power ("scalar") { values (0); } } }
  }
}
"""


def test_sram_macro_energy_and_power(tmp_path):
    p = tmp_path / "RM_IHPSG13_2P_64x8_test_typ.lib"
    p.write_text(SRAM_LIB)
    e = power.sram_macro_energy(p)
    assert e.macro == "RM_IHPSG13_2P_64x8_test" and e.leakage_mw == pytest.approx(50e-6)
    assert e.ports["A"]["write_pj"] == 3.5 and e.ports["A"]["read_pj"] == 2.0
    assert e.ports["A"]["idle_pj"] == 0.25 and e.ports["A"]["disabled_pj"] == 0.0
    assert e.ports["B"]["read_pj"] == 4.0 and e.ports["B"]["write_pj"] == 5.0
    macro = power.sram.SramMacro("RM_IHPSG13_2P_64x8_test", 2, 64, 8, 1000.0, 50.0, str(p))
    mapping = {"macro": macro.name, "count": 4, "cols": 2, "rows": 2}
    s = power.sram_power(mapping, period_ns=10.0, reads_per_cycle=1.0, writes_per_cycle=0.5,
                         macros=[macro])
    # each access enables the 2 macros of a row: (0.5 x 3.5 on port A + 1 x 4.0 on B) x 2 / 10 ns
    assert s["dynamic_mw"] == pytest.approx((0.5 * 3.5 + 4.0) * 2 / 10)
    assert s["leakage_mw"] == pytest.approx(4 * 50e-6)
    bad = tmp_path / "bad.lib"
    bad.write_text("library (x) { cell (c) { area : 1; pin (A) { direction : input; } } }")
    with pytest.raises(PowerError, match="no clock pin"):
        power.sram_macro_energy(bad)


@pytest.mark.skipif(power.sram.sram_dir() is None, reason="IHP SRAM macros not found at "
                    "<repo>/../shared/pdk/ihp-sg13g2/sram (set SQGEN_IHP_SRAM)")
def test_ihp_sram_macro_energy():
    m = next(x for x in power.sram.sram_macros() if x.name.startswith("RM_IHPSG13_2P_256x32"))
    e = power.sram_macro_energy(m.path)
    assert e.ports["A"]["read_pj"] == pytest.approx(26.006)
    assert e.ports["A"]["write_pj"] == pytest.approx(33.4496)
    assert set(e.ports) == {"A", "B"} and e.leakage_mw == pytest.approx(159.4504e-6, rel=1e-5)
    mapping = power.sram.map_buffer(64, 256, ports=2)
    s = power.sram_power(mapping, period_ns=5.0, reads_per_cycle=1.0, writes_per_cycle=1.0)
    assert s["dynamic_mw"] > 0 and s["macro"] == mapping["macro"]


# ---- the generic library -------------------------------------------------------------------------
def test_generic_library_has_power_data():
    lib = power.load_power_library(None)
    assert lib.generic and lib.voltage == 1.2
    for name, cell in lib.cells.items():
        assert cell.leakage_mw > 0, name
        if name not in ("TIEHI", "TIELO"):
            for o in cell.outputs:
                assert cell.arcs(o), name
    assert [g.when_text for g in lib.cells["DFF"].pin_groups("CK")] == [
        "!D&!Q", "D&!Q", "!D&Q", "D&Q"]


@needs_ihp
def test_generic_power_is_the_documented_fit_to_ihp():
    """flow/sqgen_generic.lib's power data is exactly flow.power.fit_generic_power(IHP) as
    written by flow.power.apply_generic_power (the library header explains the fit)."""
    text = area.GENERIC_LIB.read_text()
    assert power.apply_generic_power(text, power.fit_generic_power(IHP)) == text


@needs_ihp
def test_ihp_library_power_model():
    lib = power.load_power_library(IHP)
    assert lib.voltage == 1.2 and lib.leakage_unit_mw == 1e-9 and lib.energy_unit_pj == 1.0
    dff = lib.cells["sg13g2_dfrbpq_1"]
    whens = [g.when_text for g in dff.pin_groups("CLK")]
    assert whens[-1] is None and len(whens) == 7  # six conditional groups, then the default
    assert lib.cells["sg13g2_nand2_1"].arcs("Y")["A"][0].rise.lookup(0.0186, 0.001) == \
        pytest.approx(0.00166701)


# ---- a real figure (long) ------------------------------------------------------------------------
@pytest.mark.slow
@needs_sta
@needs_iverilog
def test_pod_8x8_figures(tmp_path):
    cfg = DesignConfig(rows=8, cols=8, format="hbfp6")
    wl = power.pod_workload("random", power.pod_geometry(cfg))
    rep = power.power_of_design(generate("pod", cfg), workload=wl, cache_dir=tmp_path)
    d = rep.data
    assert d["equivalence"]["ok"] and d["activity"]["workload"]["utilization"] > 0.97
    assert 2.0 < d["pj_per_mac"] < 8.0  # REFERENCE.md section 8: 3.9 pJ/MAC zero-delay (IHP)
    assert d["modules"]["array"]["share"] > 0.5
