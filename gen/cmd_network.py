"""``python -m gen network``: a scale-out interconnect (butterfly, Benes, crossbar or bus).

``generate_network(kind=..., ports=..., width=..., expand=...)`` builds the Verilog of one
:class:`hw.network.Network` and its manifest in memory; ``python -m gen network --kind
butterfly --ports 8 --width 32 [--expand 1] [--out DIR] [--lint]`` writes it atomically to
``build/network_<kind>_<N>/`` (``..._e<expand>`` with an expansion). Docs: docs/network.md.

The network is not a :mod:`gen.targets` target: those are built from a pod/format design point
(:class:`gen.config.DesignConfig`), which says nothing about a network.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from gen.cli import write
from gen.config import ConfigError
from gen.emit import Design, clock_ports, design_manifest, payload_layout, port_table
from gen.hier import emit_hierarchy
from golden.network import KINDS, check_network, network_power
from hw.network import Network

__all__ = ["register", "run", "generate_network", "network_dir", "NETWORK_PROTOCOL"]

NETWORK_PROTOCOL = (
    "2N lib.stream valid/ready streams, transfer on a rising edge with valid=1 and ready=1; "
    "valid never waits for ready, and an offered beat (valid, payload) is held until taken. "
    "RESET: rst synchronous, active high; keep every i__<s>__valid at 0 during reset. INPUTS: "
    "i__<s> carries beats from source s: dest (the output, 0..N-1; a beat whose dest is not a "
    "port is never taken) and data. OUTPUTS: o__<d> carries every beat whose dest was d, with "
    "src = the input it entered at; o__<d>__ready = 0 holds it (nothing is dropped). "
    "GUARANTEES: every beat leaves output dest exactly once; beats of one (src, dest) pair "
    "leave in the order they entered (a pair always takes one path); every contention point "
    "arbitrates round robin, so no input starves while its outputs keep taking beats. "
    "i__<s>__ready is combinational in o__*__ready and in the payloads offered (it may "
    "depend on valid, never the other way). TIMING: one register per stage; a beat accepted "
    "in cycle c leaves in cycle c + latency when nothing contends (latency in this manifest). "
    "Cycle-exact model: golden.network.simulate. See docs/network.md."
)


def _meanings(n: int) -> dict[str, str]:
    m: dict[str, str] = {}
    for s in range(n):
        m[f"i__{s}__payload"] = f"beat from source {s}: dest (output port), data (payload_layout.i)"
        m[f"i__{s}__valid"] = f"source {s} offers a beat"
        m[f"i__{s}__ready"] = f"the network takes source {s}'s beat (its first link has room)"
        m[f"o__{s}__payload"] = f"beat for output {s}: src (input it came from), data " \
            "(payload_layout.o)"
        m[f"o__{s}__valid"] = f"a beat for output {s} is offered (held until taken)"
        m[f"o__{s}__ready"] = f"sink {s} takes the beat; 0 holds it in the network"
    return m


def generate_network(*, kind: str, ports: int, width: int, expand: int = 0,
                     name: str | None = None) -> Design:
    """Build one network in memory (nothing written). Raises ConfigError (= ParamError)."""
    spec = check_network(kind=kind, ports=ports, width=width, expand=expand)
    top = name or f"sqgen_network_{spec.kind}_{spec.ports}" + (
        f"_e{spec.expand}" if spec.expand else "")
    net = Network(kind=kind, ports=ports, width=width, expand=expand, prefix=top)
    N = net.ports
    topo = net.topology
    modules, verilog_text = emit_hierarchy(net, top)
    text = (
        f"// sqgen scale-out network: {net.kind}, {N} ports, {net.width} data bits"
        f"{f', expansion 2^{net.expand}' if net.expand else ''}.\n"
        f"// {topo.stages} register stages, {len(topo.nodes)} switch nodes, "
        f"{topo.registers} one-entry link registers. {top}_sw<k>x<m>_<bits>: one switch\n"
        f"// (k inputs, m output registers of <bits> bits, round robin), emitted once.\n"
        f"// See docs/network.md.\n"
        + verilog_text
    )
    lay = payload_layout(net)
    man = design_manifest(
        kind="network",
        top=top,
        config={"kind": net.kind, "ports": N, "width": net.width, "expand": net.expand,
                "name": name},
        ports=clock_ports() + port_table(net, _meanings(N)),
        protocol=NETWORK_PROTOCOL,
        latency=net.latency,
        extra={
            "latency_definition": "cycles from a beat's transfer on i__<s> to its transfer "
            "on o__<d> with no contention and ready outputs (golden.network.zero_load_latency; "
            "SOSA's crossbar 1, bus 1, Benes 2n-1, Butterfly n+2e)",
            "modules": modules,
            "stages": topo.stages,
            "switch_nodes": len(topo.nodes),
            "link_registers": topo.registers,
            "register_bits": net.register_bits,
            "planes": net.spec.planes,
            "plane_rule": "(src ^ dest) mod 2^expand" if net.expand else None,
            "arbitration": "round robin at every switch output, merge and the bus: the first "
            "requester at or after the pointer wins, the pointer then moves past the winner "
            "(reset: input 0 first)",
            "sosa_power_w_per_byte": network_power(net.kind, N, 1, net.expand),
            # One table for all inputs and one for all outputs: every i__<s> (o__<d>) payload
            # has the same fields.
            "payload_layout": {"i": lay["i__0"], "o": lay["o__0"], "packing": lay["packing"],
                               "streams": f"i__0..i__{N - 1} share layout i, o__0..o__{N - 1} "
                               "share layout o"},
        },
    )
    return Design(top, {f"{top}.v": text}, man)


def network_dir(kind: str, ports: int, expand: int = 0) -> str:
    """The default output directory: ``build/network_<kind>_<N>[_e<expand>]``."""
    return f"build/network_{kind}_{ports}" + (f"_e{expand}" if expand else "")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("network", help="scale-out interconnect: butterfly, Benes, crossbar, bus")
    p.add_argument("--kind", required=True, help=" | ".join(KINDS))
    p.add_argument("--ports", required=True, metavar="N", help="ports (power of two for "
                   "butterfly and benes)")
    p.add_argument("--width", required=True, metavar="BITS", help="data bits per beat")
    p.add_argument("--expand", default="0", metavar="E",
                   help="butterfly expansion: 2^E planes (0..4)")
    p.add_argument("--name", help="top module name (default sqgen_network_<kind>_<N>)")
    p.add_argument("--out", metavar="DIR", help="output directory (default "
                   "build/network_<kind>_<N>[_e<E>])")
    p.add_argument("--force", action="store_true",
                   help="write into a non-empty directory that holds no sqgen design")
    p.add_argument("--lint", action="store_true", help="also run verilator --lint-only -Wall")
    p.set_defaults(func=run)


def _int(args: argparse.Namespace, flag: str) -> Any:
    text = str(getattr(args, flag.lstrip("-"))).strip()
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{flag}={text}: must be an integer") from None


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    # A refusal from the network's own check names its field; prefix it with what was typed.
    args.__dict__["_labels"] = {f: f"--{f}={getattr(args, f)}"
                                for f in ("kind", "ports", "width", "expand")}
    design = generate_network(kind=args.kind, ports=_int(args, "--ports"),
                              width=_int(args, "--width"), expand=_int(args, "--expand"),
                              name=args.name)
    if args.lint:
        design.lint()
    c = design.manifest["config"]
    out = Path(args.out or network_dir(c["kind"], c["ports"], c["expand"]))
    write(design, args, str(out))
    man = design.manifest
    files = json.loads((out / "manifest.json").read_text())["files"]
    print("\n".join([
        f"sqgen network {c['kind']}  {c['ports']} ports  {c['width']} data bits"
        + (f"  expansion 2^{c['expand']} ({man['planes']} planes)" if c["expand"] else ""),
        f"  latency {man['latency']} cycles ({man['stages']} stages), {man['switch_nodes']} "
        f"switch nodes, {man['link_registers']} link registers ({man['register_bits']} bits)",
        f"  wrote {out}/: {', '.join(files)}",
        f"  ({time.perf_counter() - t0:.1f} s)",
    ]))
    return 0
