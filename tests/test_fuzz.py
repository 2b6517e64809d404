# amaranth: UnusedElaboratable=no
"""Seeded fuzzing of every generator in :data:`gen.targets.TARGETS` with *valid* design points.

Each point is drawn from the documented ranges (``gen.config.LIMITS`` and the ``check()``
classmethods of ``hw/*.py``), with edge values mixed in: 1-row and 1-column pods, prime shapes,
the smallest and largest widths, blocks, pipeline depths and accumulators, several N:M pairs,
narrow (Accuracy Boosters) formats, stochastic rounding with extreme seeds, module names up to
64 characters. Every point is generated in memory, linted with Verilator ``-Wall`` (the
documented waivers, ``Design.lint``) and elaborated by Icarus (``iverilog -g2012 -s <top>``).

The default suite runs the hand-picked edge points plus one seeded random point per target;
``make regress`` (marker ``slow``) adds many more seeds, larger sizes and the largest blocks.
A failure prints the point as a Python expression that rebuilds it.
"""

from __future__ import annotations

import json
import random
import shutil
import string
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gen.config import (
    FORMATS,
    LIMITS,
    VERILOG_KEYWORDS,
    ConfigError,
    DesignConfig,
    min_acc_width,
)
from gen.emit import Design
from gen.targets import SPARSE_ONLY, TARGETS, generate

pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")

IVERILOG = shutil.which("iverilog")
ACC_MAX = LIMITS["acc_width"][1]
PIPE_MAX = LIMITS["pipeline"][1]
MANT_MIN, MANT_MAX = 2, 15  # hw.dot / hw.convert: mantissa widths 2..15
FMT_NAMES = tuple(FORMATS)  # hbfp8, hbfp6, hbfp4
NM_PAIRS = ((1, 2), (2, 4), (1, 4), (3, 4), (2, 8), (4, 8), (7, 8), (3, 5), (1, 16), (15, 16))


@dataclass(frozen=True)
class Point:
    """One design point: a target, its DesignConfig keywords and extra generator keywords."""

    target: str
    cfg: dict[str, Any]
    kw: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        """A Python expression that rebuilds the design (see :data:`REBUILD`)."""
        extra = f", **{self.kw!r}" if self.kw else ""
        return f"TARGETS[{self.target!r}](DesignConfig(**{self.cfg!r}){extra})"


#: The imports that the expression ``str(point)`` needs.
REBUILD = "from gen.config import DesignConfig; from gen.targets import TARGETS"


def build(p: Point) -> Design:
    """Generate ``p`` the way the CLI does (the registry, or the generator with its keywords)."""
    cfg = DesignConfig(**p.cfg)
    if p.kw:
        return TARGETS[p.target](cfg, **p.kw)
    return generate(p.target, cfg)


# ---- random valid points ----------------------------------------------------------------------
@dataclass(frozen=True)
class Sizes:
    pod_dim: int  # largest pod rows / cols
    pod_fold: int  # largest fold depth R*M/N of a sparse pod
    lanes: int  # largest dot lanes
    convert_block: int  # the converter grows fast with its block
    groups: int  # largest N:M groups per beat


SMALL = Sizes(pod_dim=6, pod_fold=24, lanes=48, convert_block=10, groups=4)
LARGE = Sizes(pod_dim=16, pod_fold=96, lanes=512, convert_block=24, groups=16)


def _pick(rng: random.Random, lo: int, hi: int, *edges: int) -> int:
    """An integer in lo..hi; two times in five one of the edges (lo, hi and ``edges``)."""
    if rng.random() < 0.4:
        return rng.choice([lo, hi, *(e for e in edges if lo <= e <= hi)])
    return rng.randint(lo, hi)


def _name(rng: random.Random) -> str | None:
    """None (the generator's default) or a random Verilog identifier of 4..64 characters.

    At least 4 characters so that a random name does not collide with a port or internal
    signal by chance (``test_name_equal_to_a_port`` covers that case on purpose).
    """
    if rng.random() < 0.6:
        return None
    n = _pick(rng, 4, 64)
    while True:
        s = rng.choice(string.ascii_letters + "_") + "".join(
            rng.choice(string.ascii_letters + string.digits + "_") for _ in range(n - 1))
        if s not in VERILOG_KEYWORDS:
            return s


def _fmt(rng: random.Random, narrow: bool) -> dict[str, Any]:
    f = rng.choice(FMT_NAMES)
    out: dict[str, Any] = {"format": f}
    narrower = [g for g in FMT_NAMES if FORMATS[g] < FORMATS[f]]
    if narrow and narrower and rng.random() < 0.5:
        out["narrow_format"] = rng.choice(narrower)
    return out


def _acc(rng: random.Random, need: int) -> int | None:
    """None (the default width) or an accumulator in need..64."""
    return None if rng.random() < 0.4 else _pick(rng, need, ACC_MAX)


def _nm(rng: random.Random, max_m: int = 16) -> tuple[int, int]:
    if rng.random() < 0.5:
        return rng.choice([p for p in NM_PAIRS if p[1] <= max_m])
    m = rng.randint(2, max_m)
    return rng.randint(1, m - 1), m


def _cfg(**kw: Any) -> dict[str, Any]:
    return {k: v for k, v in kw.items() if v is not None}


def draw_pod(rng: random.Random, s: Sizes) -> Point:
    rows = _pick(rng, 1, s.pod_dim, 3, 5, 7)
    cols = _pick(rng, 1, s.pod_dim, 2, 3, 7)
    f = _fmt(rng, narrow=True)
    sp = _pod_nm(rng, rows, s)
    n, m = sp or (1, 1)
    kf = rows // n * m
    block = kf * rng.choice([1, 1, 2]) if rng.random() < 0.4 else None
    need = min_acc_width(FORMATS[f["format"]], block or kf)
    return Point("pod", _cfg(rows=rows, cols=cols, **f, block_size=block,
                             sparsity=None if sp is None else f"{n}:{m}",
                             acc_width=_acc(rng, need), name=_name(rng)))


def _pod_nm(rng: random.Random, rows: int, s: Sizes) -> tuple[int, int] | None:
    """Half the time an N:M pattern that fits ``rows`` (N divides it, fold within limits)."""
    if rng.random() < 0.5:
        for _ in range(20):
            n, m = _nm(rng)
            if rows % n == 0 and rows // n * m <= s.pod_fold:
                return n, m
    return None


def draw_engine(rng: random.Random, s: Sizes) -> Point:
    rows = _pick(rng, 2, s.pod_dim, 3, 5)
    cols = _pick(rng, 1, s.pod_dim, 2, 3)
    if rng.random() < 0.2:  # the FP32 baseline array in the engine shell
        return Point("engine", _cfg(rows=rows, cols=cols, format="fp32",
                                    tile=_pick(rng, 1, 300, 2, 64), name=_name(rng)))
    if rng.random() < 0.15:  # the INT8 baseline array in the engine shell
        return Point("engine", _cfg(rows=rows, cols=cols, format="int8",
                                    tile=_pick(rng, 1, 300, 2, 64),
                                    pipeline=_pick(rng, 1, rows - 1), name=_name(rng)))
    f = _fmt(rng, narrow=True)
    sp = _pod_nm(rng, rows, s)
    n, m = sp or (1, 1)
    kf = rows // n * m
    need = min_acc_width(FORMATS[f["format"]], kf)
    return Point("engine", _cfg(rows=rows, cols=cols, **f, tile=_pick(rng, 1, 300, 2, 64),
                                sparsity=None if sp is None else f"{n}:{m}",
                                pipeline=_pick(rng, 1, rows - 1),
                                rounding=rng.choice(["nearest_even", "stochastic"]),
                                acc_width=_acc(rng, need), name=_name(rng)))


def draw_dot(rng: random.Random, s: Sizes) -> Point:
    lanes = _pick(rng, 1, s.lanes, 2, 3, 16, 17)
    pipe = _pick(rng, 1, PIPE_MAX, 2, 3)
    if rng.random() < 0.5:  # a named format (and narrow format) through DesignConfig
        f = _fmt(rng, narrow=True)
        need = min_acc_width(FORMATS[f["format"]], lanes)
        return Point("dot", _cfg(block_size=lanes, pipeline=pipe, **f,
                                 acc_width=_acc(rng, need), name=_name(rng)))
    mb = _pick(rng, MANT_MIN, MANT_MAX)  # any width 2..15 through generate_dot's overrides
    kw: dict[str, Any] = {"mant_bits": mb}
    if mb > MANT_MIN and rng.random() < 0.5:
        kw["narrow_mant_bits"] = _pick(rng, MANT_MIN, mb - 1)
    aw = _acc(rng, min_acc_width(mb, lanes))
    if aw is not None:
        kw["acc_width"] = aw
    return Point("dot", _cfg(block_size=lanes, pipeline=pipe, name=_name(rng)), kw)


def draw_sparsedot(rng: random.Random, s: Sizes) -> Point:
    n, m = _nm(rng)
    block = m * _pick(rng, 1, s.groups)
    f = _fmt(rng, narrow=True)
    kw: dict[str, Any] = {}
    if (n, m) == (2, 4) and rng.random() < 0.5:
        kw["packed24"] = True
    if rng.random() < 0.5:
        kw["decoder_register"] = True
    need = min_acc_width(FORMATS[f["format"]], block)
    return Point("sparsedot", _cfg(block_size=block, sparsity=f"{n}:{m}", **f,
                                   pipeline=_pick(rng, 1, PIPE_MAX, 2),
                                   acc_width=_acc(rng, need), name=_name(rng)), kw)


def draw_convert(rng: random.Random, s: Sizes) -> Point:
    block = _pick(rng, 1, s.convert_block, 2, 3, 8)
    kw: dict[str, Any] = {}
    cfg: dict[str, Any] = {"block_size": block, "pipeline": _pick(rng, 1, 4, 2),
                           "name": _name(rng)}
    if rng.random() < 0.5:
        kw["mant_bits"] = _pick(rng, MANT_MIN, MANT_MAX)
    else:
        cfg["format"] = rng.choice(FMT_NAMES)
    if rng.random() < 0.6:
        cfg["rounding"] = "stochastic"
        kw["offset_bits"] = _pick(rng, 1, 32, 8)
        kw["seed"] = rng.choice([0, 1, 0xFFFFFFFF, rng.getrandbits(32)])
    return Point("convert", _cfg(**cfg), kw)


def draw_normalize(rng: random.Random, s: Sizes) -> Point:
    kw: dict[str, Any] = {"acc_width": _pick(rng, 2, ACC_MAX, 3, 32),
                          "exp_width": _pick(rng, 2, 16, 9, 10)}
    if rng.random() < 0.5:
        kw["frac_bits"] = _pick(rng, 0, 1024, 1, 63, 64)
    else:
        kw["mant_bits"] = _pick(rng, MANT_MIN, MANT_MAX)  # frac_bits = 2m
    return Point("normalize", _cfg(pipeline=_pick(rng, 1, 4, 2), name=_name(rng)), kw)


def draw_fp32mac(rng: random.Random, s: Sizes) -> Point:
    return Point("fp32mac", _cfg(pipeline=rng.choice([1, 2]), name=_name(rng)))


def draw_decoder(rng: random.Random, s: Sizes) -> Point:
    n, m = _nm(rng)
    kw = {"packed24": True} if (n, m) == (2, 4) and rng.random() < 0.5 else {}
    return Point("decoder", _cfg(block_size=m * _pick(rng, 1, s.groups), sparsity=f"{n}:{m}",
                                 format=rng.choice(FMT_NAMES), name=_name(rng)), kw)


def draw_int8mac(rng: random.Random, s: Sizes) -> Point:
    return Point("int8mac", {})


DRAW = {
    "pod": draw_pod, "engine": draw_engine, "dot": draw_dot, "sparsedot": draw_sparsedot,
    "convert": draw_convert,
    "normalize": draw_normalize, "fp32mac": draw_fp32mac, "decoder": draw_decoder,
    "int8mac": draw_int8mac,
}


def random_point(target: str, seed: int, sizes: Sizes = SMALL) -> Point:
    """The seeded random point of ``target`` (deterministic: a string seed is not hashed)."""
    return DRAW[target](random.Random(f"sqgen-fuzz-{target}-{seed}"), sizes)


def test_every_target_has_a_drawer() -> None:
    assert set(DRAW) == set(TARGETS)


# ---- the edge points --------------------------------------------------------------------------
P = Point
EDGES = {
    # pods: 1x1, a 1-row and a 1-column pod, primes, the widest accumulator, N:M pairs
    "pod-1x1-hbfp4": P("pod", {"rows": 1, "cols": 1, "format": "hbfp4"}),
    # engines: the smallest (2x1, one-row tile), a prime shape with 1:3 and a narrow mode
    "engine-2x1-tile1": P("engine", {"rows": 2, "cols": 1, "format": "hbfp4", "tile": 1}),
    "engine-2x3-fp32": P("engine", {"rows": 2, "cols": 3, "format": "fp32", "tile": 3}),
    "engine-3x5-1of3-narrow-sr": P("engine", {"rows": 3, "cols": 5, "format": "hbfp8",
                                              "narrow_format": "hbfp6", "sparsity": "1:3",
                                              "rounding": "stochastic", "pipeline": 2}),
    "pod-1x5-1of16-acc64": P("pod", {"rows": 1, "cols": 5, "sparsity": "1:16",
                                     "acc_width": ACC_MAX}),
    "pod-7x1-7of8-narrow": P("pod", {"rows": 7, "cols": 1, "format": "hbfp8",
                                     "narrow_format": "hbfp4", "sparsity": "7:8"}),
    "pod-3x7-hbfp8-block2x": P("pod", {"rows": 3, "cols": 7, "format": "hbfp8",
                                       "narrow_format": "hbfp6", "block_size": 6,
                                       "name": "_"}),
    "pod-5x2-5of6-block2x": P("pod", {"rows": 5, "cols": 2, "sparsity": "5:6",
                                      "block_size": 12, "name": "p" * 64}),
    # dot: the smallest and the largest widths, deepest pipeline
    "dot-min": P("dot", {"block_size": 1}, {"mant_bits": MANT_MIN}),
    "dot-max-widths": P("dot", {"block_size": 17, "pipeline": PIPE_MAX},
                        {"mant_bits": MANT_MAX, "narrow_mant_bits": MANT_MAX - 1,
                         "acc_width": ACC_MAX}),
    # sparse dot: extreme N:M pairs, packed 2:4 metadata, decoder register
    "sparsedot-1of16-narrow-p16": P("sparsedot", {
        "block_size": 16, "sparsity": "1:16", "format": "hbfp8", "narrow_format": "hbfp4",
        "pipeline": PIPE_MAX}, {"decoder_register": True}),
    "sparsedot-2of4-packed-acc64": P("sparsedot", {"block_size": 4, "sparsity": "2:4",
                                                   "acc_width": ACC_MAX}, {"packed24": True}),
    # converter: smallest/largest mantissa, stochastic with the extreme seeds and offsets
    "convert-min-stoch-seedmax": P("convert", {"block_size": 1, "rounding": "stochastic"},
                                   {"mant_bits": MANT_MIN, "offset_bits": 32,
                                    "seed": 0xFFFFFFFF}),
    "convert-7-m15-stoch-seed0": P("convert", {"block_size": 7, "rounding": "stochastic",
                                               "pipeline": 3},
                                   {"mant_bits": MANT_MAX, "offset_bits": 1, "seed": 0}),
    # normalizer: the whole documented range of its three widths
    "normalize-max": P("normalize", {}, {"acc_width": 64, "frac_bits": 1024, "exp_width": 16}),
    "normalize-min": P("normalize", {"pipeline": 2}, {"acc_width": 2, "frac_bits": 0,
                                                      "exp_width": 2}),
    "fp32mac-p2": P("fp32mac", {"pipeline": 2, "name": "fp32mac_" + "x" * 56}),
    # decoder: the largest N:M, one packed 2:4 group
    "decoder-15of16": P("decoder", {"block_size": 32, "sparsity": "15:16"}),
    "decoder-2of4-packed-1group": P("decoder", {"block_size": 4, "sparsity": "2:4",
                                                "format": "hbfp4"}, {"packed24": True}),
}

#: Larger and largest documented sizes, for ``make regress`` only.
SLOW_EDGES = {
    "pod-16x16": P("pod", {"rows": 16, "cols": 16}),
    "pod-64x1": P("pod", {"rows": 64, "cols": 1, "format": "hbfp4"}),
    "pod-1x64": P("pod", {"rows": 1, "cols": 64, "format": "hbfp8"}),
    "pod-13x11-1of2": P("pod", {"rows": 13, "cols": 11, "sparsity": "1:2"}),
    "dot-block4096-hbfp4": P("dot", {"block_size": LIMITS["block_size"][1], "format": "hbfp4"}),
    "decoder-block4096-1of16": P("decoder", {"block_size": LIMITS["block_size"][1],
                                             "sparsity": "1:16"}),
    "sparsedot-block4096-1of16": P("sparsedot", {"block_size": LIMITS["block_size"][1],
                                                 "sparsity": "1:16", "format": "hbfp4"}),
    "convert-64": P("convert", {"block_size": 64, "format": "hbfp4"}),
    "normalize-p16": P("normalize", {"pipeline": PIPE_MAX}),
}


# ---- the checks -------------------------------------------------------------------------------
def check_point(p: Point, tmp_path: Path) -> None:
    """Generate, lint (Verilator -Wall, documented waivers) and elaborate with Icarus."""
    where = f"\n  design point: {REBUILD}; design = {p}"
    try:
        design = build(p)
    except Exception as e:  # any failure of a valid point is a finding
        pytest.fail(f"generation failed: {type(e).__name__}: {e}{where}")
    assert design.manifest.get("top") == design.top, f"manifest top differs{where}"
    name = p.cfg.get("name")
    if name is not None and p.target != "int8mac":  # int8mac has a fixed top
        assert design.top == name, f"top {design.top!r} is not the name {name!r}{where}"
    assert design.verilog_files, f"no Verilog files{where}"
    json.dumps(design.manifest)  # the manifest must be JSON (it is written as manifest.json)
    try:
        design.lint()
    except Exception as e:
        pytest.fail(f"Verilator lint failed: {e}{where}")
    if IVERILOG is None:
        pytest.skip("iverilog is not installed (make test installs it)")
    src = design.write_sources(tmp_path / "src")
    res = subprocess.run(
        [IVERILOG, "-g2012", "-o", "/dev/null", "-s", design.top, *map(str, src)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert res.returncode == 0, (
        f"iverilog failed (exit {res.returncode}):\n{res.stdout}{res.stderr}{where}")


def _edge_params(edges: dict[str, Any]) -> list[Any]:
    """pytest params named by their keys (an entry may already be a marked ``pytest.param``)."""
    out = []
    for k, v in edges.items():
        if isinstance(v, Point):
            out.append(pytest.param(v, id=k))
        else:
            out.append(pytest.param(*v.values, marks=v.marks, id=k))
    return out


@pytest.mark.parametrize("point", _edge_params(EDGES))
def test_edge_point(point: Point, tmp_path: Path) -> None:
    check_point(point, tmp_path)


@pytest.mark.parametrize("target", list(TARGETS))
def test_random_point(target: str, tmp_path: Path) -> None:
    check_point(random_point(target, 0), tmp_path)


def test_name_equal_to_a_port_is_refused() -> None:
    # A module named like one of its ports fails Verilator -Wall (VARHIDDEN): refused up front.
    with pytest.raises(ConfigError, match="also a port"):
        generate("fp32mac", DesignConfig(name="clk"))


@pytest.mark.parametrize("point", [
    P("dot", {"block_size": LIMITS["block_size"][1], "format": "hbfp8"}),
    P("dot", {"block_size": 2048}, {"mant_bits": MANT_MAX}),
], ids=["dot-block4096-hbfp8", "dot-block2048-m15"])
def test_more_input_bits_than_a_module_holds_is_refused(point: Point) -> None:
    # 2*4096*8 and 2*2048*16 input bits: more than Amaranth's 65,535 per module.
    with pytest.raises(ConfigError, match="input bits"):
        build(point)


SLOW_SEEDS = range(1, 13)
#: int8mac has no parameters: one point (the default suite's) is all there is.
SLOW_TARGETS = [t for t in TARGETS if t != "int8mac"]


@pytest.mark.slow
@pytest.mark.parametrize("seed", SLOW_SEEDS)
@pytest.mark.parametrize("target", SLOW_TARGETS)
def test_random_point_slow(target: str, seed: int, tmp_path: Path) -> None:
    check_point(random_point(target, seed, LARGE if seed % 3 == 0 else SMALL), tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("point", _edge_params(SLOW_EDGES))
def test_edge_point_slow(point: Point, tmp_path: Path) -> None:
    check_point(point, tmp_path)


def test_draws_are_valid_and_deterministic() -> None:
    """Every drawn point (default and regress seeds) is a valid DesignConfig, drawn the same
    way twice, and the sparse-only targets always get a sparsity."""
    for target in TARGETS:
        for seed in [0, *SLOW_SEEDS]:
            for sizes in (SMALL, LARGE):
                p = random_point(target, seed, sizes)
                assert p == random_point(target, seed, sizes)
                cfg = DesignConfig(**p.cfg)
                if target in SPARSE_ONLY:
                    assert cfg.nm is not None, p
