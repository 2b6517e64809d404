"""``python -m gen system`` (``make gen POD=8x8 PODS=16 NET=butterfly``): a multi-pod system.

``generate_system(cfg, sysp)`` builds :class:`hw.system.System` (``PODS`` engines, banked
buffers, activation/weight/result networks, the bank controller) in memory; every distinct
module (the engine and its children, each network and its switches) is emitted once. ``run``
writes ``build/system_<PODS>x<R>x<C>/`` atomically.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gen.cli import add_design_args, design_from_args, flag_name, write
from gen.cmd_engine import engine_config
from gen.config import ConfigError, DesignConfig
from gen.emit import Design, clock_ports, design_manifest, payload_layout, port_table
from gen.hier import emit_hierarchy
from golden.facts import ParamError
from golden.scaleout import CONFIG_FIELDS, CONFIG_STRIDE, LOAD_SPACES, NETWORKS, SystemGeometry
from hw.system import System

__all__ = ["SystemParams", "register", "run", "generate_system", "system_params"]

SYSTEM_PROTOCOL = (
    "RESET: rst synchronous, active high. LOAD: one load beat per cycle, always accepted "
    "(load.ready is not a port): space 0 writes word addr of activation bank `bank`, space 1 "
    "of weight bank `bank`, space 2 configuration word addr = 8*k + i with i in "
    f"{list(CONFIG_FIELDS)} (act/w counts and destination pods of bank k's readers, the "
    "expected result words of result bank k, the result bank of pod k). START: a one-cycle "
    "pulse; readers stream bank words 0..count-1 to their destination pods through the "
    "networks; busy stays high until every result bank holds res_count words. Then rd streams "
    "the result banks out (bank 0 first, valid/ready) and done rises after the last beat. "
    "Each bank word is an engine stream beat (docs/engine.md); golden.scaleout.system_program "
    "writes the load beats and the expected rd beats. See docs/scaleout.md."
)

_MEANINGS = {
    "load__payload": "space (2), bank, addr, data: one host write",
    "load__valid": "a load beat (always accepted)",
    "start": "pulse: run the loaded program",
    "busy": "running (start to the last result written)",
    "rd__payload": "data = one result-bank word (the engine's res payload), bank",
    "rd__valid": "a result word offered (after busy falls)",
    "rd__ready": "sink takes the result word",
    "done": "every result word has been sent on rd",
    "error": "an engine's sticky error (a fold longer than the partition)",
}


@dataclass(frozen=True)
class SystemParams:
    """The system's own parameters (beside the engines' DesignConfig)."""

    pods: int
    net: str = "butterfly"
    expand: int = 0
    part: int = 32
    bank_words: int = 1024


def _int(v: Any, flag: str) -> int:
    try:
        return int(str(v).strip(), 0)
    except ValueError:
        raise ConfigError(f"{flag}={v!r} is not an integer") from None


def system_params(args: argparse.Namespace) -> SystemParams:
    """Read ``--pods --net --expand --part --bank-words`` (named as the user typed them)."""
    def name(f: str) -> str:
        return flag_name(args, f)

    if args.pods is None:
        raise ConfigError(f"{name('--pods')}: the pod count is required (e.g. 16)")
    net = (args.net or "butterfly").strip().lower()
    if net not in NETWORKS:
        raise ConfigError(f"{name('--net')}={args.net}: must be one of {', '.join(NETWORKS)}")
    return SystemParams(_int(args.pods, name("--pods")), net,
                        _int(args.expand or 0, name("--expand")),
                        _int(args.part or 32, name("--part")),
                        _int(args.bank_words or 1024, name("--bank-words")))


def check_system(cfg: DesignConfig, sp: SystemParams, names: dict[str, str] | None = None
                 ) -> tuple[dict[str, Any], SystemGeometry]:
    """Validate; return the engine kwargs and the golden system geometry."""
    names = {"pods": "--pods", "net": "--net", "expand": "--expand", "part": "--part",
             "bank_words": "--bank-words", "pod": "--pod", **(names or {})}
    if cfg.rounding != "nearest_even":
        raise ConfigError(f"{names.get('rounding', '--rounding')}={cfg.rounding}: the "
                          "multi-pod system rounds to nearest even")
    try:
        geo = SystemGeometry(sp.pods, cfg.rows, cfg.cols, sp.part, sp.net, sp.expand,
                             cfg.nm or (1, 1), sp.bank_words)
        if not 1 <= sp.bank_words <= 1 << 20:
            raise ParamError(f"bank size must be 1..{1 << 20} words, not {sp.bank_words}",
                             field="bank_words")
    except ParamError as e:
        typed = {"pods": sp.pods, "net": sp.net, "expand": sp.expand, "part": sp.part,
                 "bank_words": sp.bank_words, "pod": f"{cfg.rows}x{cfg.cols}"}
        f = e.field if e.field in typed else "pods"
        raise ConfigError(f"{names[f]}={typed[f]}: {e}") from None
    eng = engine_config(cfg.replace(tile=sp.part), names={"tile": names["part"]})
    return eng, geo


def generate_system(cfg: DesignConfig, sp: SystemParams, *,
                    names: dict[str, str] | None = None) -> Design:
    """Build the system in memory (nothing written). Raises ConfigError."""
    eng, geo = check_system(cfg, sp, names)
    top = cfg.name or "sqgen_system"
    d = sp.bank_words
    sysm = System(pods=sp.pods, engine=eng, net=sp.net, expand=sp.expand, act_depth=d,
                  w_depth=d, res_depth=d, prefix=top)
    modules, verilog_text = emit_hierarchy(sysm, top)
    text = (f"// sqgen multi-pod system: {sp.pods} engines of {cfg.rows}x{cfg.cols} "
            f"{cfg.format}, {sp.net} networks (expansion {1 << sp.expand}), partition "
            f"{sp.part} rows, banks of {d} words. See docs/scaleout.md.\n" + verilog_text)
    manifest = design_manifest(
        kind="system", top=top, config={**cfg.to_dict(), "tile": sp.part},
        ports=clock_ports() + port_table(sysm, _MEANINGS), protocol=SYSTEM_PROTOCOL,
        latency=None,
        extra={
            "modules": modules, "pods": sp.pods, "network": sp.net,
            "expansion": 1 << sp.expand, "partition": sp.part, "bank_words": d,
            "engine_module": f"{top}_engine", "load_spaces": LOAD_SPACES,
            "config_fields": list(CONFIG_FIELDS), "config_stride": CONFIG_STRIDE,
            "payload_layout": payload_layout(sysm),
            "network_latency": geo.net_latency,
            "macs_per_cycle": geo.macs_per_cycle,
            "cycle_model": "golden.scaleout.system_cycles: busy cycles = the busiest pod's "
            "engine fold recurrence plus the bank, network and write latencies (exact when "
            "no network contends, which the compiler's layout guarantees)",
        })
    return Design(top, {f"{top}.v": text}, manifest)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("system", help="multi-pod scale-out system (issue 14)")
    add_design_args(p)
    g = p.add_argument_group("system")
    g.add_argument("--pods", metavar="N", help="engines (a power of two for butterfly/benes)")
    g.add_argument("--net", metavar="KIND", help=" | ".join(NETWORKS) + " (default butterfly)")
    g.add_argument("--expand", metavar="E", help="Butterfly expansion exponent (factor 2^E)")
    g.add_argument("--part", metavar="ROWS", help="partition size (rows; default 32)")
    g.add_argument("--bank-words", metavar="WORDS", help="words per bank (default 1024)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    cfg = design_from_args(args, baseline=True)
    sp = system_params(args)
    names = {k: flag_name(args, f"--{k.replace('_', '-')}")
             for k in ("pods", "net", "expand", "part", "bank_words", "pod", "rounding")}
    design = generate_system(cfg, sp, names=names)
    out = Path(args.out or f"build/system_{sp.pods}x{cfg.rows}x{cfg.cols}")
    write(design, args, str(out))
    man = design.manifest
    print("\n".join([
        f"sqgen system {sp.pods} x {cfg.rows}x{cfg.cols} {cfg.format}  {sp.net} "
        f"(x{1 << sp.expand})  partition {sp.part}  banks {sp.bank_words} words",
        f"  MACs per cycle {man['macs_per_cycle']}  network latency {man['network_latency']}",
        f"  wrote {out}/: " + ", ".join(json.loads((out / "manifest.json").read_text())["files"]),
        f"  ({time.perf_counter() - t0:.1f} s)"]))
    return 0
