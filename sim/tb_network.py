"""cocotb regressions of the generated scale-out networks (``gen.cmd_network.generate_network``).

One simulator build holds every configuration of :data:`CONFIGS` side by side (Verilator: all
but :data:`VERILATOR_SKIP`). Each network is its own generated design (``net_<cid>`` and its
switch modules, exactly what ``python -m gen network`` writes); a scaffolding toplevel
``network_tb`` only rewires them by port name (``<cid>_i__0__valid`` ->
``net_<cid>.i__0__valid``). So the bench pays one Verilator build instead of one per network,
and all networks run in the same :func:`sim.vlib.run_streams` loop.

The cocotb side reads its configuration as JSON from ``SQGEN_TB_CFG``. Per network, stimulus
(beats: dest and data, packed by :class:`sim.vlib.Payload` from the manifest's
``payload_layout``), idle gaps and output stall patterns are drawn before the clock starts;
the golden twin (:func:`golden.network.simulate`) runs on the same beats, gaps and ready
patterns. Checks, per network: every output transfer equals the twin's ``(src, data, cycle)``,
every input beat is taken in the twin's cycle (stream monitors on both sides), nothing is lost,
duplicated or reordered per ``(src, dest)`` pair (:func:`golden.network.delivery_problems`),
and nothing follows the last beat.
"""

from __future__ import annotations

from typing import Any

import cocotb
import numpy as np
import pytest

from gen.cmd_network import generate_network
from gen.emit import Design
from golden.network import (
    delivery_problems,
    hotspot_traffic,
    permutation_traffic,
    simulate,
    uniform_traffic,
)
from sim.vlib import (
    Bursts,
    CosimRun,
    FromIterable,
    Payload,
    Scoreboard,
    StreamMonitor,
    StreamSink,
    StreamSource,
    clock_and_reset,
    cosim,
    expect_quiet,
    run_streams,
    simulators,
    tb_config_from_env,
)

#: (cid, kind, ports, width, expand): 4 and 8 ports of every kind, the butterfly with and
#: without expansion, a 3-port crossbar (dest beyond the ports exists) with a payload wider than
#: 64 bits, a 1-bit payload.
CONFIGS = [
    ("bf4", "butterfly", 4, 8, 0),
    ("bf8", "butterfly", 8, 32, 0),
    ("bf4e1", "butterfly", 4, 1, 1),
    ("bf8e1", "butterfly", 8, 16, 1),
    ("bn4", "benes", 4, 8, 0),
    ("bn8", "benes", 8, 12, 0),
    ("xb4", "crossbar", 4, 8, 0),
    ("xb8", "crossbar", 8, 32, 0),
    ("xb3", "crossbar", 3, 70, 0),
    ("bus4", "bus", 4, 8, 0),
    ("bus8", "bus", 8, 5, 0),
]
#: Verilator builds cost about 5 s of C++ compilation per network beyond a fixed 30 s, so it runs
#: every kind at 4 and 8 ports but leaves Benes 4, bus 8 and the 3-port crossbar to Icarus.
VERILATOR_SKIP = ("bn4", "bus8", "xb3")


class NetTB:
    """Driver (N sources), monitor (N sinks and 2N monitors), twin and checker of one network."""

    def __init__(self, dut: Any, net: dict, beats: list[list[tuple[int, int]]], *,
                 rng: np.random.Generator, idle: bool):
        self.cid, self.kind = net["cid"], net["kind"]
        self.N, self.width, self.expand = net["ports"], net["width"], net["expand"]
        self.beats = beats
        N, pfx = self.N, net["cid"]
        pin, pout = Payload(net["layout"]["i"]), Payload(net["layout"]["o"])
        self.pout = pout
        self.src = []
        for s in range(N):
            words = pin.pack({"dest": [d for d, _ in beats[s]], "data": [x for _, x in beats[s]]},
                             n=len(beats[s])) if beats[s] else []
            self.src.append(StreamSource(dut, f"{pfx}_i__{s}", words,
                                         idle=Bursts(4, 2, rng) if idle else None))
        counts = [sum(1 for lst in beats for d, _ in lst if d == o) for o in range(N)]
        horizon = 60 * max(1, sum(counts)) + 200
        self.stall = [Bursts(5, 3, rng).take(horizon + 1) if idle else None for _ in range(N)]
        self.sink = [StreamSink(dut, f"{pfx}_o__{d}", counts[d],
                                stall=None if self.stall[d] is None else FromIterable(
                                    self.stall[d])) for d in range(N)]
        self.mon_o = [StreamMonitor(dut, f"{pfx}_o__{d}") for d in range(N)]
        self.mon_i = [StreamMonitor(dut, f"{pfx}_i__{s}") for s in range(N)]
        self.horizon = horizon
        self.idle_ports = {f"{pfx}_i__{s}__valid": 0 for s in range(N)}
        self.idle_ports.update({f"{pfx}_o__{d}__ready": 0 for d in range(N)})

    def twin(self):
        gaps = [s.gaps for s in self.src]
        ready = [None if st is None else [not x for x in st] for st in self.stall]
        return simulate(self.kind, self.N, self.beats, expand=self.expand, width=self.width,
                        gaps=None if all(g is None for g in gaps) else gaps,
                        ready=None if all(r is None for r in ready) else ready)

    def check(self, sb: Scoreboard) -> None:
        tw = self.twin()
        got = []
        for d, mon in enumerate(self.mon_o):
            f = self.pout.unpack(mon.words)
            # StreamMonitor cycles count the edge that ends the transfer's cycle: twin cycle + 1
            rows = [(int(s), int(x), c - 1) for s, x, c in zip(f["src"], f["data"], mon.cycles,
                                                               strict=True)]
            got.append(rows)
            sb.compare(rows, tw.received[d], what=f"{self.cid} o[{d}] (src, data, cycle)")
        for s, mon in enumerate(self.mon_i):
            sb.compare([c - 1 for c in mon.cycles], tw.accepted[s],
                       what=f"{self.cid} i[{s}] accept cycles")
        for p in delivery_problems(self.beats, got):
            sb.expect(False, f"{self.cid}: {p}")


def _nets(cfg: dict, traffic: str, rng: np.random.Generator) -> list[tuple[dict, list]]:
    out = []
    for net in cfg["nets"]:
        N, w = net["ports"], net["width"]
        if traffic == "uniform":
            beats = uniform_traffic(N, cfg["beats"], rng, width=w)
        elif traffic == "hotspot":
            beats = hotspot_traffic(N, cfg["beats"] // 4, rng, hot=N - 1, width=w)
        else:
            beats = permutation_traffic(rng.permutation(N).tolist(), cfg["beats"], rng, width=w)
        out.append((net, beats))
    return out


async def _run(dut: Any, traffic: str, *, idle: bool, seed: int) -> None:
    cfg = tb_config_from_env()
    rng = np.random.default_rng(seed)
    tbs = [NetTB(dut, net, beats, rng=rng, idle=idle) for net, beats in _nets(cfg, traffic, rng)]
    idle_ports = {k: v for tb in tbs for k, v in tb.idle_ports.items()}
    await clock_and_reset(dut, cycles=3, edge="rising", idle=idle_ports)
    sources = [s for tb in tbs for s in tb.src]
    sinks = [k for tb in tbs for k in tb.sink]
    monitors = [m for tb in tbs for m in (*tb.mon_o, *tb.mon_i)]
    await run_streams(dut.clk, sources, sinks, monitors,
                      timeout=max(tb.horizon for tb in tbs))
    await expect_quiet(dut.clk, sinks, 12)
    sb = Scoreboard(f"networks, {traffic} traffic{' with gaps and stalls' if idle else ''}",
                    seed=seed)
    for tb in tbs:
        tb.check(sb)
    sb.check()


@cocotb.test()
async def cocotb_network_uniform_gaps_stalls(dut):
    """Uniform random traffic, bursty idle gaps on every input and stalls on every output."""
    await _run(dut, "uniform", idle=True, seed=tb_config_from_env()["seed"])


@cocotb.test()
async def cocotb_network_permutation_saturated(dut):
    """A random permutation, inputs back to back, outputs always ready."""
    await _run(dut, "permutation", idle=False, seed=tb_config_from_env()["seed"] + 1)


@cocotb.test()
async def cocotb_network_hotspot_stalls(dut):
    """All inputs to one output, which stalls in bursts: round robin, nothing lost."""
    await _run(dut, "hotspot", idle=True, seed=tb_config_from_env()["seed"] + 2)


# ---- pytest runner ---------------------------------------------------------------------------
def wrapper_verilog(designs: dict[str, Design]) -> str:
    """``network_tb``: every network's ports as ``<cid>_<port>``, by name (test scaffolding)."""
    decls, insts = [], []
    for cid, d in designs.items():
        conns = [".clk(clk)", ".rst(rst)"]
        for p in d.manifest["ports"]:
            if p["name"] in ("clk", "rst"):
                continue
            rng = f"[{p['width'] - 1}:0] " if p["width"] > 1 else ""
            decls.append(f"  {p['direction']} wire {rng}{cid}_{p['name']}")
            conns.append(f".{p['name']}({cid}_{p['name']})")
        insts.append(f"  {d.top} u_{cid} (\n    " + ",\n    ".join(conns) + "\n  );")
    return ("// cocotb scaffolding: the generated networks side by side, ports renamed\n"
            "module network_tb (\n  input wire clk,\n  input wire rst,\n"
            + ",\n".join(decls) + "\n);\n" + "\n".join(insts) + "\nendmodule\n")


def bench_design(configs=CONFIGS) -> tuple[Design, list[dict]]:
    """One :class:`gen.emit.Design` holding every network and the wrapper; the JSON per net."""
    designs = {cid: generate_network(kind=k, ports=n, width=w, expand=e, name=f"net_{cid}")
               for cid, k, n, w, e in configs}
    files = {f: t for d in designs.values() for f, t in d.files.items()}
    files["network_tb.v"] = wrapper_verilog(designs)
    nets = [{"cid": cid, "kind": k, "ports": n, "width": w, "expand": e,
             "layout": designs[cid].manifest["payload_layout"]}
            for cid, k, n, w, e in configs]
    return Design("network_tb", files, {"top": "network_tb"}), nets


def build_and_run(sim: str, *, seed: int = 11, beats: int = 48, configs=CONFIGS,
                  cid: str = "all") -> CosimRun:
    """Generate every network, build them once under ``sim`` and run the three tests."""
    design, nets = bench_design(configs)
    # The bench touches nothing but the wrapper's ports: Verilator need not expose the
    # networks' thousands of internal signals (a third of the build time, REFERENCE.md sec. 9).
    return cosim(design, sim=sim, block="network", cid=cid, test_module="sim.tb_network",
                 tb_cfg={"nets": nets, "seed": seed, "beats": beats}, ports_only=True)


@pytest.mark.parametrize("sim", [pytest.param(s, marks=pytest.mark.sim) for s in simulators()])
def test_network_cosim(sim):
    skip = VERILATOR_SKIP if sim == "verilator" else ()
    build_and_run(sim, configs=[c for c in CONFIGS if c[0] not in skip])
