"""Area flow (flow/area.py), provisioning accounting and the INT8 MAC baseline (issue 6).

Syntheses share one cache per test session (a temporary directory, so a stale build/area/cache
can never make a test pass); the designs are kept small (block 8) to hold the file to about a
minute on two busy cores.
"""

from __future__ import annotations

import json
import random

import pytest

from flow import area
from flow.area import AreaError, area_of_verilog, load_library, split_modules
from gen.cmd_datapath import generate_int8mac
from gen.config import DesignConfig
from gen.targets import generate

# One xdist worker runs this whole file (make test uses --dist loadgroup), so that the session
# cache below is shared by every test and each design is synthesized once per run.
pytestmark = pytest.mark.xdist_group("area")

IHP = area.ihp_liberty()
needs_ihp = pytest.mark.skipif(
    IHP is None, reason="IHP SG13G2 liberty not found at <repo>/../shared/pdk/ihp-sg13g2/ "
    "(set SQGEN_IHP_LIB to point at sg13g2_stdcell_typ_1p20V_25C.lib)"
)
LIBS = [None, pytest.param("ihp", marks=needs_ihp)]


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("area-cache")


def _lib(which):
    return None if which is None else IHP


def _area(target, cfg, which, cache, **kw):
    design = generate(target, cfg)
    return area.area_of_design(design, liberty=_lib(which), cache_dir=cache, **kw)


def _int8_verilog():
    d = generate_int8mac()
    return d.files, d.top


# ---- liberty handling --------------------------------------------------------------------------
def test_generic_library_is_in_nand2_units():
    lib = load_library(None)
    assert lib.generic and lib.unit == "GE"
    assert lib.nand2_cell == "NAND2" and lib.nand2_area == 1.0


@needs_ihp
def test_ihp_library_nand2_is_the_smallest_nand2():
    lib = load_library(IHP)
    assert lib.unit == "um2"
    assert lib.nand2_cell == "sg13g2_nand2_1"
    assert lib.nand2_area == pytest.approx(7.2576)


def test_missing_liberty_fails_clearly(tmp_path):
    with pytest.raises(AreaError, match=r"liberty file .*nope\.lib.* does not exist"):
        load_library(tmp_path / "nope.lib")


@pytest.mark.parametrize(
    "text, why",
    [
        ("this is not liberty\n", "no 'library"),
        ("library (x) {\n  cell (NAND2) { area : 1.0;\n}\n", "'{'"),
        ("library (x) {\n  cell (INV) { area : 1.0; pin (A) { direction : input; }\n"
         "  pin (Y) { direction : output; function : \"!A\"; } }\n}\n", "no 2-input NAND"),
    ],
)
def test_malformed_liberty_fails_clearly(tmp_path, text, why):
    p = tmp_path / "bad.lib"
    p.write_text(text)
    with pytest.raises(AreaError) as ei:
        load_library(p)
    assert why in str(ei.value) and "\n" not in str(ei.value)


def test_liberty_yosys_rejects_fails_clearly(tmp_path):
    # Passes the quick structural checks but is not liberty syntax: Yosys must refuse it and the
    # flow must report that in one line instead of dying with the worker.
    src = area.GENERIC_LIB.read_text()
    p = tmp_path / "broken.lib"
    p.write_text(src.replace("cell (BUF) {", "cell (BUF) { area :: ;; @@@ {}"))
    files, top = _int8_verilog()
    with pytest.raises(AreaError) as ei:
        area_of_verilog(files, top, liberty=p, cache_dir=None)
    msg = str(ei.value)
    assert "yosys failed" in msg and "\n" not in msg


def test_unparsable_verilog_fails_clearly():
    files = {"x.v": "module broken(input a, output y);\n  assign y = a +;\nendmodule\n"}
    with pytest.raises(AreaError) as ei:
        area_of_verilog(files, "broken", cache_dir=None)
    msg = str(ei.value)
    assert "module broken" in msg and "syntax error" in msg and "\n" not in msg


def test_no_module_fails_clearly():
    with pytest.raises(AreaError, match="no Verilog module found"):
        area_of_verilog({"x.v": "garbage\n"}, "top", cache_dir=None)


def test_cli_errors_exit_2(capsys, tmp_path):
    from flow.cli import main

    assert main(["area", "--make", "--target", "int8mac", "--liberty",
                 str(tmp_path / "missing.lib")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: LIBERTY:") and "does not exist" in err and "\n" not in err
    assert main(["area", "--target", "nosuch"]) == 2
    assert "--target='nosuch'" in capsys.readouterr().err


# ---- hierarchy -----------------------------------------------------------------------------
def _three_pe_top():
    from amaranth.hdl import Module, signed
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    from gen.emit import to_verilog
    from hw.int8mac import Int8Mac

    class Chain(wiring.Component):
        def __init__(self):
            super().__init__({"a": In(signed(8)), "b": In(signed(8)), "y": Out(signed(32))})

        def elaborate(self, platform):
            m = Module()
            pes = [Int8Mac() for _ in range(3)]
            for i, pe in enumerate(pes):
                m.submodules[f"pe_{i}"] = pe
                m.d.comb += [pe.i.payload.b.eq(self.b), pe.i.valid.eq(1)]
            m.d.comb += pes[0].i.payload.a.eq(self.a)
            for i in (1, 2):
                m.d.comb += pes[i].i.payload.a.eq(pes[i - 1].o.payload.acc[:8])
            m.d.comb += self.y.eq(pes[2].o.payload.acc)
            return m

    return {"chain.v": to_verilog(Chain(), "chain")}


def test_split_finds_modules_and_instances():
    files = _three_pe_top()
    mods = split_modules(files)
    assert set(mods) == {"chain", "chain.pe_0", "chain.pe_1", "chain.pe_2"}
    assert mods["chain"].children == {"chain.pe_0": 1, "chain.pe_1": 1, "chain.pe_2": 1}


def test_hierarchical_synthesizes_identical_modules_once(cache):
    files = _three_pe_top()
    rep = area_of_verilog(files, "chain", cache_dir=cache)
    assert [(m.instances, m.names) for m in rep.modules] == [(1, 1), (3, 3)]
    pe = rep.modules[1]
    assert pe.cells > 500
    assert rep.cells == rep.modules[0].cells + 3 * pe.cells
    assert rep.ge == pytest.approx(rep.modules[0].ge + 3 * pe.ge)
    flat = area_of_verilog(files, "chain", cache_dir=cache, flat=True)
    assert len(flat.modules) == 1 and flat.modules[0].instances == 1
    # pe_0/pe_1 feed only 8 accumulator bits onward: flattening removes the rest.
    assert flat.ge < rep.ge


def test_same_input_same_numbers(tmp_path):
    files, top = _int8_verilog()
    a = area_of_verilog(files, top, cache_dir=None).to_json()
    b = area_of_verilog(files, top, cache_dir=None).to_json()
    for d in (a, b):
        d.pop("wall_seconds")
        for m in d["modules"]:
            m.pop("synth_seconds")
    assert a == b
    assert a["total"]["cells"] > 500 and a["total"]["transistors_exact"]


def test_cache_returns_the_synthesized_numbers(tmp_path):
    files, top = _int8_verilog()
    first = area_of_verilog(files, top, cache_dir=tmp_path)
    again = area_of_verilog(files, top, cache_dir=tmp_path)
    assert not first.modules[0].cached and again.modules[0].cached
    assert (again.ge, again.cells, again.transistors) == (first.ge, first.cells,
                                                          first.transistors)


@needs_ihp
def test_one_worker_for_two_libraries_gives_the_single_library_numbers(tmp_path):
    files, top = _int8_verilog()
    both = area.area_of_verilog_libs(files, top, [None, IHP], cache_dir=tmp_path)
    for lib, rep in zip((None, IHP), both, strict=True):
        single = area_of_verilog(files, top, liberty=lib, cache_dir=None)
        assert (rep.ge, rep.cells, rep.transistors) == (single.ge, single.cells,
                                                        single.transistors)
    assert both[0].library.unit == "GE" and both[1].library.unit == "um2"
    assert both[0].ge != both[1].ge


def test_area_json_written(tmp_path, cache):
    files, top = _int8_verilog()
    rep = area_of_verilog(files, top, cache_dir=cache)
    p = area.write_report(rep, tmp_path / "int8mac")
    d = json.loads(p.read_text())
    assert d["mode"] == "hierarchical" and d["library"]["unit"] == "GE"
    m = d["modules"][0]
    assert m["instances"] == 1 and m["cells"] == rep.cells and "um2" not in m
    assert d["total"]["ge"] == pytest.approx(rep.ge, abs=1e-3)
    assert sum(m["cells_by_type"].values()) == m["cells"]


# ---- ranking ----------------------------------------------------------------------------------
@pytest.mark.parametrize("which", LIBS)
def test_area_grows_with_mantissa_bits(which, cache):
    per_mac = {}
    for fmt in ("hbfp4", "hbfp6", "hbfp8"):
        rep = _area("dot", DesignConfig(format=fmt, block_size=8), which, cache)
        per_mac[fmt] = rep.ge / 8
    fp32 = _area("fp32mac", DesignConfig(), which, cache).ge
    assert per_mac["hbfp4"] < per_mac["hbfp6"] < per_mac["hbfp8"] < fp32, (per_mac, fp32)


@pytest.mark.parametrize("which", LIBS)
def test_sparse_per_effective_mac_below_dense(which, cache):
    dense = _area("dot", DesignConfig(format="hbfp6", block_size=8), which, cache)
    sparse = _area("sparsedot", DesignConfig(format="hbfp6", block_size=8, sparsity="2:4"),
                   which, cache)
    # Both do 8 dense-equivalent MACs per cycle; the sparse unit with 4 multipliers + muxes.
    assert sparse.ge / 8 < dense.ge / 8, (sparse.ge, dense.ge)


@needs_ihp
def test_generic_and_ihp_rank_designs_the_same(cache):
    points = [("dot", DesignConfig(format=f, block_size=8)) for f in ("hbfp4", "hbfp6", "hbfp8")]
    points += [("sparsedot", DesignConfig(format="hbfp6", block_size=8, sparsity="2:4")),
               ("int8mac", DesignConfig()), ("fp32mac", DesignConfig())]
    gen_ge, ihp_um2 = [], []
    for target, cfg in points:
        gen_ge.append(_area(target, cfg, None, cache).ge)
        rep = _area(target, cfg, "ihp", cache)
        assert rep.um2 == pytest.approx(rep.ge * 7.2576)
        ihp_um2.append(rep.um2)
    order = sorted(range(len(points)), key=gen_ge.__getitem__)
    assert order == sorted(range(len(points)), key=ihp_um2.__getitem__), (gen_ge, ihp_um2)


# ---- INT8 MAC baseline -------------------------------------------------------------------------
def test_int8mac_matches_reference():
    from amaranth.sim import Simulator

    from hw.int8mac import Int8Mac

    dut = Int8Mac()
    rng = random.Random(6)
    seq = [(rng.randint(-128, 127), rng.randint(-128, 127), rng.random() < 0.8,
            rng.random() < 0.1) for _ in range(300)]
    seq[:3] = [(-128, -128, True, True), (-128, -128, True, False), (127, -128, True, False)]
    got, want, got_v = [], [], []
    acc = 0
    for a, b, en, clr in seq:
        if en:
            acc = ((0 if clr else acc) + a * b + 2**31) % 2**32 - 2**31
        want.append(acc)

    async def tb(ctx):
        ins = dut.i.payload
        for a, b, en, clr in seq:
            ctx.set(ins.a, a)
            ctx.set(ins.b, b)
            ctx.set(dut.i.valid, en)
            ctx.set(ins.first, clr)
            await ctx.tick()
            got.append(ctx.get(dut.o.payload.acc))
            got_v.append(bool(ctx.get(dut.o.valid)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
    assert not bad, f"{len(bad)}/{len(want)} mismatches (seed 6), first: {bad[:3]}"
    assert got_v == [en for _, _, en, _ in seq], "o.valid is not i.valid delayed one cycle"


def test_int8mac_rejects_bad_widths():
    from gen.config import ConfigError
    from hw.int8mac import Int8Mac

    with pytest.raises(ConfigError, match="narrower than one product"):
        Int8Mac(width=8, acc_width=15)
    with pytest.raises(ConfigError, match="at least 2"):
        Int8Mac(width=1)


# ---- provisioning accounting --------------------------------------------------------------------
def test_per_mac_amortizes_converter_and_normalizer():
    from studies.provisioning import Point, per_mac

    pts = {"dot/hbfp6/16": Point("dot", None, ge=1600.0, um2=16000.0),
           "convert/hbfp6/16": Point("convert", None, ge=320.0, um2=3200.0),
           "normalize/hbfp6/16": Point("normalize", None, ge=80.0, um2=800.0)}
    assert per_mac(pts, "hbfp6", 16, "GE") == pytest.approx((1600 + 320 + 80) / 16)
    assert per_mac(pts, "hbfp6", 16, "um2", with_io=False) == pytest.approx(1000.0)
    del pts["convert/hbfp6/16"]  # a missing point is an error, never a silent gap
    with pytest.raises(KeyError, match="convert/hbfp6/16"):
        per_mac(pts, "hbfp6", 16, "GE")
    with pytest.raises(ValueError, match="no um2 figure"):
        per_mac({"dot/hbfp6/16": Point("dot", None, ge=1600.0)}, "hbfp6", 16, "um2",
                with_io=False)
