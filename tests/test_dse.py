"""Design-space exploration on Dask (flow/dse.py, issue 15).

Unit tests of the sweep file, the network switch counts, the power model's arithmetic and the
Pareto front; then a tiny sweep on a LocalCluster (with a point that must fail) and a real
distributed run: ``dask scheduler`` and two ``dask worker`` processes on localhost, one killed
mid-sweep, every point still delivered.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from flow import dse
from flow.dse_report import pareto
from golden.network import topology

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "configs" / "sweeps" / "tiny.yaml"
GENERIC = ROOT / "flow" / "sqgen_generic.lib"


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(text)
    return p


# ---- sweep files ---------------------------------------------------------------------------
def test_default_sweep_has_48_points():
    s = dse.load_sweep(dse.DEFAULT_SWEEP)
    assert len(s.points) == 48
    assert s.budget_w == 400.0
    assert {p.pods for p in s.points} == {0}  # the budget decides
    wide = dse.load_sweep(dse.DEFAULT_SWEEP.with_name("granularity-wide.yaml"))
    assert wide.skipped and all("int8/2:4" in x for x in wide.skipped)


@pytest.mark.parametrize("text, words", [
    ("pod: [8y8]\npods: [4]\n", "pod '8y8' is not RxC"),
    ("format: [hbfp5]\npods: [4]\n", "format 'hbfp5'"),
    ("network: [mesh]\npods: [4]\n", "network 'mesh'"),
    ("network: [benes-e1]\npods: [4]\n", "expansion"),
    ("sparsity: [3:2]\npods: [4]\n", "sparsity '3:2'"),
    ("partition: [0]\npods: [4]\n", "partition 0"),
    ("pods: budget\n", "needs a budget"),
    ("pods: [3]\nnetwork: [butterfly]\n", "power-of-two"),
    ("budget: {power_w: -1}\n", "positive"),
    ("colour: red\n", "unknown key 'colour'"),
    ("workloads: [gpt-5]\npods: [4]\n", "workload 'gpt-5'"),
    ("- 1\n- 2\n", "must be a mapping"),
    ("pod: [8x8\n", "not valid YAML"),
])
def test_bad_sweep_is_one_line(tmp_path, text, words):
    with pytest.raises(dse.DseError) as e:
        dse.load_sweep(_write(tmp_path, text))
    msg = str(e.value)
    assert words in msg and "\n" not in msg


def test_bad_sweep_cli_exit_2_nothing_written(tmp_path, capsys):
    out = tmp_path / "out"
    rc = dse.main(["--sweep", str(_write(tmp_path, "pod: [8x8]\nbogus: 1\n")),
                   "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "unknown key 'bogus'" in err[0]
    assert not out.exists()
    rc = dse.main(["--sweep", str(tmp_path / "missing.yaml"), "--out", str(out)])
    assert rc == 2 and not out.exists()
    rc = dse.main(["--sweep", str(TINY), "--out", str(out), "--workers", "zero"])
    assert rc == 2 and not out.exists()


# ---- models ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, expand", [("butterfly", 0), ("butterfly", 1), ("butterfly", 2),
                                          ("benes", 0)])
@pytest.mark.parametrize("ports", [4, 8, 64, 256, 1024])
def test_switch_counts_match_topology(kind, expand, ports):
    topo = topology(kind, ports, expand)
    got = Counter((len(n.inputs), len(n.outputs)) for n in topo.nodes)
    assert dict(got) == dse.switch_counts(kind, ports, expand)


def test_crossbar_is_not_costed():
    with pytest.raises(dse.DseError, match="not modelled"):
        dse.switch_counts("crossbar", 16)


def test_model_power_arithmetic():
    energies = {"NAND2": (0.5, 0.001), "DFF": (2.0, 0.01)}
    p = dse.model_power_mw({"NAND2": 10, "DFF": 3, "BLACKBOX": 7}, energies, 200.0)
    # 10 x 0.5 pJ + 3 x 2 pJ = 11 pJ per cycle at 200 MHz = 2.2 mW
    assert p["dynamic_mw"] == pytest.approx(2.2)
    assert p["leakage_mw"] == pytest.approx(0.04)


def test_cell_energies_flops_cost_more_than_inverters():
    from flow import power
    e = dse.cell_energies(power.load_power_library(None))
    assert e["DFF"][0] > e["INV"][0] > 0
    # activity scales the data part only: a flip-flop's clock toggles every cycle
    e0 = dse.cell_energies(power.load_power_library(None), activity=0.0)
    assert e0["INV"][0] == 0.0 and e0["DFF"][0] > 0.0


def test_pareto_front():
    rows = [{"a": 1, "b": 5}, {"a": 2, "b": 4}, {"a": 2, "b": 3}, {"a": 3, "b": 1},
            {"a": 0.5, "b": 0.5}]
    assert [(r["a"], r["b"]) for r in pareto(rows, "a", "b")] == [(1, 5), (2, 4), (3, 1)]


def test_cache_key_changes_with_inputs(tmp_path):
    env = dse.Env(None, "sha", True, (("yosys", "1"),), str(tmp_path))
    k = env.key("engine", {"rows": 4})
    assert k == env.key("engine", {"rows": 4})
    assert k != env.key("engine", {"rows": 8})
    assert k != dse.Env(None, "sha", True, (("yosys", "2"),), str(tmp_path)).key(
        "engine", {"rows": 4})
    assert k != dse.Env(None, "sha2", True, (("yosys", "1"),), str(tmp_path)).key(
        "engine", {"rows": 4})


# ---- sweeps on Dask ----------------------------------------------------------------------
def _parquet(path: Path) -> list[dict]:
    import pyarrow.parquet as pq
    return pq.read_table(path).to_pylist()


@pytest.fixture(scope="module")
def flow_cache(tmp_path_factory):
    """Flow caches shared by the Dask tests (each test has a DSE cache of its own)."""
    return tmp_path_factory.mktemp("dse-cache")


@pytest.mark.xdist_group("dse")
def test_tiny_sweep_local_cluster(tmp_path, flow_cache, capsys):
    sweep = tmp_path / "t.yaml"
    # the tiny sweep plus a crossbar, which the cost model refuses: those points fail alone
    sweep.write_text(TINY.read_text().replace("network: [butterfly, benes]",
                                              "network: [butterfly, benes, crossbar]"))
    out = tmp_path / "out"
    args = ["--sweep", str(sweep), "--out", str(out), "--cache", str(flow_cache),
            "--liberty", str(GENERIC), "--no-progress", "--workers", "2"]
    assert dse.main(args) == 0
    text = capsys.readouterr().out
    assert "dashboard http" in text
    rows = _parquet(out / "tiny" / "results.parquet")
    ok = [r for r in rows if r["error"] is None]
    bad = [r for r in rows if r["error"] is not None]
    assert len(ok) == 8 and len(bad) == 4
    assert all("crossbar" in r["label"] and "not modelled" in r["error"] for r in bad)
    for r in ok:
        assert r["fmax_mhz"] > 0 and r["power_w"] > 0 and r["area"] > 0
        assert 0 < r["utilization"] <= 1 and r["effective_tops"] <= r["peak_tops"] + 1e-12
    # more pods, more throughput and more power on the same GEMMs
    by = {(r["format"], r["net"], r["pods"]): r for r in ok}
    for f in ("hbfp6", "hbfp4"):
        assert by[(f, "butterfly", 8)]["power_w"] > by[(f, "butterfly", 4)]["power_w"]
        assert by[(f, "butterfly", 8)]["peak_tops"] == pytest.approx(
            2 * by[(f, "butterfly", 4)]["peak_tops"])
    # one engine task per distinct engine, whatever the number of points using it
    assert "'engine': 2," in text and "'point': 12" in text
    report = (out / "tiny" / "report.md").read_text()
    assert "## Headline" in report and "Failed points" in report
    assert (out / "tiny" / "pareto.png").stat().st_size > 1000
    # a warm rerun: everything from the cache
    t0 = time.perf_counter()
    assert dse.main(args) == 0
    assert time.perf_counter() - t0 < 60
    again = _parquet(out / "tiny" / "results.parquet")
    key = lambda r: r["label"]  # noqa: E731
    assert sorted(again, key=key) == sorted(rows, key=key)


def _dask_bin() -> str:
    return str(Path(sys.executable).with_name("dask"))


@pytest.mark.xdist_group("dse")
def test_distributed_run_survives_a_killed_worker(tmp_path, flow_cache):
    sched_file = tmp_path / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    procs = []

    def start(args: list[str]) -> subprocess.Popen:
        p = subprocess.Popen([_dask_bin(), *args], cwd=ROOT, env=env, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        return p

    try:
        start(["scheduler", "--scheduler-file", str(sched_file), "--port", "0",
               "--no-dashboard"])
        for _ in range(200):
            if sched_file.exists() and sched_file.stat().st_size:
                break
            time.sleep(0.1)
        addr = json.loads(sched_file.read_text())["address"]
        workers = [start(["worker", addr, "--nthreads", "1", "--no-dashboard",
                          "--name", f"w{i}"]) for i in range(2)]
        out = tmp_path / "out"
        cache = tmp_path / "cache"
        # the flow caches of the LocalCluster test make this run quick; its own DSE cache
        # is empty, so every task runs here
        cache.mkdir()
        for sub in ("area", "timing", "power"):
            if (flow_cache / sub).exists():
                os.symlink(flow_cache / sub, cache / sub)
        run = subprocess.Popen(
            [sys.executable, "-m", "flow.dse", "--sweep", str(TINY), "--out", str(out),
             "--cache", str(cache), "--liberty", str(GENERIC), "--no-progress"],
            cwd=ROOT, env={**env, "DASK_SCHEDULER": addr}, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        # kill one worker (its whole process group: nanny and worker) once tasks have run
        t0 = time.time()
        while time.time() - t0 < 300 and run.poll() is None:
            done = list((cache / "dse").glob("*/*.json")) if (cache / "dse").exists() else []
            if done:
                break
            time.sleep(0.2)
        assert run.poll() is None, "the sweep ended before a worker could be killed"
        os.killpg(workers[0].pid, signal.SIGKILL)
        text, _ = run.communicate(timeout=900)
        assert run.returncode == 0, text
        rows = _parquet(out / "tiny" / "results.parquet")
        assert len(rows) == 8 and all(r["error"] is None for r in rows), text
        assert "8 points done, 0 failed" in text
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_network_latency_past_the_rtl_port_limit():
    from golden.scaleout import network_latency
    # the formulas continue past the 1,024 ports the RTL networks accept (large budgets)
    assert network_latency("benes", 1024) == 19 and network_latency("benes", 2048) == 21
    assert network_latency("butterfly", 4096, 1) == 12 + 2
