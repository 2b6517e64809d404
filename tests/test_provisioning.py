"""Provisioning report's speed columns (studies/provisioning.py): Fmax, power, TOPS, TOPS/W,
TOPS/mm², the 130 nm -> 28 nm scaling and the SOSA / Gemmini anchors.

The arithmetic is checked on rows with hand-chosen figures (every expected value below is
computed by hand from them); one test runs the real timing flow (generic library, no cache) on
three small dot units and checks that a wider mantissa never raises Fmax and that two runs give
identical figures. Skipped without OpenSTA.
"""

from __future__ import annotations

import re
import shutil
from types import SimpleNamespace

import pytest

from flow import area, dse, power
from studies import provisioning as prov
from studies.provisioning import Point, SpeedRow

needs_sta = pytest.mark.skipif(
    shutil.which("sta") is None,
    reason="OpenSTA 'sta' is not installed (make timing installs it: apt-get install -y opensta)",
)


def _pt(target: str, fmax: float, cells: dict[str, int], *, um2: float, ge: float = 1.0
        ) -> Point:
    return Point(target, None, ge=ge, um2=um2, fmax_mhz=fmax,
                 report=SimpleNamespace(cells_by_type=cells))


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _num(s: str) -> float:
    return float(s.replace(",", ""))


# ---- the row arithmetic -------------------------------------------------------------------------
def test_speed_row_identities():
    r = SpeedRow("x", "datapath", ("a",), macs_per_cycle=64, fmax_mhz=100.0, area=1e6,
                 power_mw=50.0)
    assert r.tops == pytest.approx(2 * 64 * 100e6 / 1e12)          # 0.0128
    assert r.tops_per_w == pytest.approx(0.0128 / 0.050)            # 0.256
    assert r.pj_per_mac == pytest.approx(50e-3 / (64 * 100e6) * 1e12)  # 7.8125
    assert r.tops_per_w == pytest.approx(2 / r.pj_per_mac)
    assert r.tops_per_mm2 == pytest.approx(0.0128 / 1.0)            # 1e6 um^2 = 1 mm^2
    assert r.tops_per_mge is None
    g = SpeedRow("g", "pod", ("a",), 16, fmax_mhz=250.0, area=2e5, generic=True)
    assert g.tops_per_mm2 is None and g.tops_per_w is None and g.pj_per_mac is None
    assert g.tops_per_mge == pytest.approx(2 * 16 * 250e6 / 1e12 / 0.2)


def test_compute_speed_lane_runs_at_slowest_part_and_sums_power():
    pts = {"dot": _pt("dot", 120.0, {"NAND2": 100}, um2=1000.0),
           "conv": _pt("convert", 80.0, {"NAND2": 10, "$DFF": 5}, um2=300.0),
           "norm": _pt("normalize", 150.0, {"NAND2": 1}, um2=50.0)}
    energies = {"NAND2": (0.5, 0.001), "DFF": (2.0, 0.01)}   # (pJ per cycle, leakage mW)
    rows = [SpeedRow("lane", "datapath", ("dot", "conv", "norm"), 16),
            SpeedRow("dot only", "datapath", ("dot",), 16)]
    prov.compute_speed(rows, pts, generic=False, energies=energies, factor=2.0)
    lane, dot = rows
    assert lane.fmax_mhz == 80.0 and lane.limit == "convert"
    assert dot.fmax_mhz == 120.0 and dot.limit == ""
    assert lane.area == pytest.approx(1350.0)
    # factor x cells x pJ x MHz x 1e-3 (mW) + leakage, at the lane's 80 MHz
    dyn = 2.0 * (111 * 0.5 + 5 * 2.0) * 80.0 * 1e-3
    assert lane.power_mw == pytest.approx(dyn + 111 * 0.001 + 5 * 0.01)
    assert dot.power_mw == pytest.approx(2.0 * 100 * 0.5 * 120.0 * 1e-3 + 100 * 0.001)
    # one definition: the same figure as the DSE's function
    assert dot.power_mw == pytest.approx(
        dse.calibrated_power_mw({"NAND2": 100}, energies, 120.0, 2.0))
    with pytest.raises(KeyError, match="missing"):
        prov.compute_speed([SpeedRow("m", "datapath", ("missing",), 1)], pts, generic=False)
    pts["dot"].fmax_mhz = None
    with pytest.raises(ValueError, match="no Fmax"):
        prov.compute_speed([SpeedRow("d", "datapath", ("dot",), 1)], pts, generic=False)


def test_speed_table_columns_are_consistent():
    rows = [SpeedRow("8x8 HBFP6 pod", "pod", ("pod/8",), 64, fmax_mhz=212.8, area=555_000.0,
                     power_mw=47.3, gate_mw=50.1),
            SpeedRow("FP32 MAC", "pod", ("fp32mac",), 1, fmax_mhz=51.5, area=52_783.0,
                     power_mw=3.21)]
    lines = prov.speed_table(rows, gate=True)
    head = _cells(lines[0])
    assert head == ["row", "MACs/cycle", "Fmax MHz", "limited by", "area µm²", "mW at Fmax",
                    "pJ/MAC", "TOPS", "TOPS/W", "TOPS/mm²", "gate-level mW"]
    for line, r in zip(lines[2:], rows, strict=True):
        c = dict(zip(head, _cells(line), strict=True))
        mhz, mw, pj = _num(c["Fmax MHz"]), _num(c["mW at Fmax"]), _num(c["pJ/MAC"])
        tops, tw, td = _num(c["TOPS"]), _num(c["TOPS/W"]), _num(c["TOPS/mm²"])
        assert mhz == pytest.approx(r.fmax_mhz, abs=0.05)
        assert tops == pytest.approx(2 * r.macs_per_cycle * mhz / 1e6, rel=5e-3)
        assert tw == pytest.approx(tops / (mw / 1000), rel=1e-2)
        assert pj == pytest.approx(2 / tw, rel=1e-2)
        assert td == pytest.approx(tops / (_num(c["area µm²"]) * 1e-6), rel=1e-2)
    assert _num(_cells(lines[2])[-1]) == pytest.approx(50.1)
    assert _cells(lines[3])[-1] == "-"        # no gate-level figure: a dash, not a number


def test_gate_level_figure_moves_with_the_clock():
    g = {"dynamic_mw": 10.0, "leakage_mw": 0.1, "mhz": 200.0}
    assert prov.gate_level_mw(g, 100.0) == pytest.approx(5.1)
    assert prov.gate_level_mw(g, 200.0) == pytest.approx(10.1)


# ---- the technology scaling and the anchors ------------------------------------------------------
def test_tech_scaling_factors_as_documented():
    t = prov.TECH_SCALING
    assert t["area"] == pytest.approx((28 / 130) ** 2) == pytest.approx(0.04639, rel=1e-3)
    assert t["delay"] == pytest.approx(28 / 130)
    assert t["energy"] == pytest.approx((28 / 130) * (0.9 / 1.2) ** 2)   # 0.1212
    sc = prov.scale_to_28nm(200.0, 4.0, 8700.0)
    assert sc["mhz"] == pytest.approx(200.0 * 130 / 28)                   # 928.6 MHz
    assert sc["pj_per_mac"] == pytest.approx(4.0 * 0.121154, rel=1e-4)
    assert sc["area"] == pytest.approx(8700.0 * 784 / 16900)
    assert prov.scale_to_28nm(200.0, None, None)["area"] is None


def test_sosa_per_pe_figures():
    s = prov.sosa_per_pe()
    assert s["pj_per_mac"] == pytest.approx(0.42)        # 0.42 mW / 1 GHz
    assert s["tops_per_w"] == pytest.approx(2e9 / 0.42e-3 / 1e12)        # 4.76
    assert s["tops_per_mm2"] == pytest.approx(2e9 / 478e-6 / 1e12)       # 4.18
    assert s["mw"] == pytest.approx(0.42)


def test_anchor_section_applies_the_scaling():
    rows = [SpeedRow("4x4 HBFP6 pod", "pod", ("pod/4",), 16, fmax_mhz=219.2,
                     area=16 * 8600.0, power_mw=16 * 0.9),
            SpeedRow("8x8 HBFP6 pod", "pod", ("pod/8",), 64, fmax_mhz=212.8,
                     area=64 * 8500.0, power_mw=64 * 0.85),
            SpeedRow("INT8 MAC", "datapath", ("int8mac",), 1, fmax_mhz=229.9, area=10683.0,
                     power_mw=1.1)]
    text = "\n".join(prov.speed_anchors_section(rows, quick=True))
    sosa = next(x for x in text.splitlines() if x.startswith("| SOSA"))
    assert _cells(sosa)[2:] == ["1,000", "478", "0.42", "0.42", "4.76", "4.18"]
    for r in rows:
        here = next(x for x in text.splitlines() if x.startswith(f"| ours: {r.name} |"))
        there = next(x for x in text.splitlines()
                     if x.startswith(f"| ours: {r.name}, scaled |"))
        h, t = _cells(here), _cells(there)
        assert _num(h[2]) == pytest.approx(r.fmax_mhz, abs=0.05)
        assert _num(t[2]) == pytest.approx(r.fmax_mhz * 130 / 28, abs=0.05)
        assert _num(h[3]) == pytest.approx(r.area / r.macs_per_cycle, abs=0.5)
        assert _num(t[3]) == pytest.approx(r.area / r.macs_per_cycle * (28 / 130) ** 2,
                                           abs=0.5)
        assert _num(t[5]) == pytest.approx(r.pj_per_mac * prov.TECH_SCALING["energy"],
                                           rel=1e-2)
        assert _num(t[6]) == pytest.approx(_num(h[6]) / prov.TECH_SCALING["energy"], rel=1e-2)
    assert "Gemmini" in text and "500 MHz" in text
    assert f"{212.8 * 130 / 28:.0f} MHz scaled" in text


def test_speed_plan_covers_every_datapath_pod_and_engine():
    for quick in (True, False):
        plan = prov._plan(quick)
        rows = prov.speed_plan(quick)
        for r in rows:
            for k in r.parts:
                assert k in plan, (r.name, k)
        groups = {g: [r for r in rows if r.group == g] for g in ("datapath", "pod", "engine")}
        assert len(groups["pod"]) == len(prov.sweep_pods(quick))
        assert len(groups["engine"]) == len(prov.ENGINES)
        e = prov.engine_pod(quick)
        by = {r.name: r for r in rows}
        assert by["HBFP6 2:4 engine"].macs_per_cycle == 2 * e * e
        assert by["HBFP6 engine"].macs_per_cycle == e * e
        assert by["HBFP4 1:4 lane"].macs_per_cycle == prov.main_block(quick)
        # every timed design of the plan is used by some row
        assert {k for r in rows for k in r.parts} == set(plan)


# ---- the real flow -------------------------------------------------------------------------------
@needs_sta
def test_wider_mantissa_does_not_raise_fmax_and_runs_are_deterministic():
    plan = {f"dot/{f}/8": ("dot", prov._cfg(f, 8)) for f in ("hbfp4", "hbfp6", "hbfp8")}
    lib = area.load_library(None)
    energies = dse.cell_energies(power.load_power_library(None))

    def run() -> list[SpeedRow]:
        res = prov.run_plan(plan, [lib], use_cache=False, timing_lib=lib)
        rows = [SpeedRow(k, "datapath", (k,), 8) for k in plan]
        prov.compute_speed(rows, res[lib.tag], generic=True, energies=energies, factor=1.0)
        for r in rows:
            assert res[lib.tag][r.parts[0]].timing["timed"] == "design (single module)"
        return rows

    a = run()
    f4, f6, f8 = (r.fmax_mhz for r in a)
    assert f4 >= f6 >= f8 > 0, (f4, f6, f8)
    p4, p6, p8 = (r.power_mw for r in a)
    assert p4 < p6 < p8                      # more mantissa bits, more cells, more power
    assert all(r.tops_per_mge and r.tops_per_mm2 is None for r in a)
    b = run()
    assert [(r.fmax_mhz, r.power_mw, r.area) for r in a] == \
        [(r.fmax_mhz, r.power_mw, r.area) for r in b]
    text = "\n".join(prov.speed_section(a, {"library": "sqgen_generic", "block": 8,
                                             "engine": 4, "power_skipped": "test"}))
    assert re.search(r"\| dot/hbfp6/8 \| 8 \| [\d.]+ \| - \|", text)
    assert "TOPS/MGE" in text and "Power: not computed" in text
