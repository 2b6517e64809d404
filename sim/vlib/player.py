"""A stimulus and response player: Python off the per-cycle path of a stream co-simulation.

:func:`player_verilog` writes a Verilog testbench wrapper around a design with valid/ready
streams. The wrapper holds every input beat in a memory, with its idle gap before it, and
offers the beats in order. It takes every output beat into a memory, with ``ready`` following
a periodic stall pattern. It counts cycles and raises ``done``. The files are read with
``$readmemh`` at time 0 and written with ``$writememh`` when done, so the host writes the
stimulus before the simulator starts (:func:`write_player_files`) and reads the responses
after it (:func:`read_stream_file`). The cocotb side only starts the C++ (GPI) clock, pulses
reset and waits for one edge of ``done`` (:func:`play`). Every cycle runs in the simulator,
and every beat is still checked bit for bit, in bulk, afterwards.

Files in the simulator's run directory: ``<s>.hex`` (beats of input stream ``s``),
``<s>.gaps.hex`` (idle cycles before each beat), ``<o>.ready.hex`` (one ready bit per cycle
of output stream ``o``, repeating with period ``ready_period``), ``counts.hex`` (beats per
input stream, then expected beats per output stream, then the cycle limit, one per line, in
the order of :attr:`PlayerSpec.streams`), and after the run ``<o>.out.hex``.

The cycle count is the bench's usual one: rising edges from the first one after reset at
which every input stream is valid, to the edge that takes the last output beat, inclusive.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from gen.toolchain import toolchain_env
from sim.vlib.patterns import Pattern, as_pattern

__all__ = ["PlayerSpec", "player_verilog", "write_player_files", "read_stream_file", "play",
           "cxx_harness", "PLAYER_TOP"]

#: Module name of the wrapper.
PLAYER_TOP = "sqgen_player"


@dataclass(frozen=True)
class PlayerSpec:
    """The design the wrapper drives.

    ``inputs``/``outputs`` map a stream name to its payload width; ``ready`` lists the streams
    that have a ready port (the others are ``always_ready``); ``status`` maps a plain output
    port to its width (brought out of the wrapper unchanged); ``capacity`` is the number of
    beats each stream's memory holds (a run may use fewer).
    """

    dut: str
    inputs: Mapping[str, int]
    outputs: Mapping[str, int]
    capacity: Mapping[str, int]
    ready: Sequence[str] = ()
    status: Mapping[str, int] = field(default_factory=dict)
    ready_period: int = 4096

    @property
    def streams(self) -> list[str]:
        return [*self.inputs, *self.outputs]


def _w(bits: int) -> str:
    return f"[{bits - 1}:0] " if bits > 1 else ""


def player_verilog(spec: PlayerSpec) -> str:
    """The wrapper module :data:`PLAYER_TOP` (Verilog-2005, Icarus and Verilator)."""
    L: list[str] = []
    a = L.append
    ports = ["clk", "rst", "done", "timeout", "cycles"] + list(spec.status)
    a(f"// sqgen stream player around {spec.dut} (sim/vlib/player.py); testbench only.")
    a(f"module {PLAYER_TOP}({', '.join(ports)});")
    a("  input clk;\n  input rst;\n  output reg done;\n  output reg timeout;")
    a("  output reg [31:0] cycles;")
    for s, bits in spec.status.items():
        a(f"  output {_w(bits)}{s};")
    n_streams = len(spec.streams)
    a(f"  reg [31:0] counts [0:{n_streams}];")
    a('  initial $readmemh("counts.hex", counts);')
    for s, bits in spec.inputs.items():
        cap = spec.capacity[s]
        a(f"  reg [{bits - 1}:0] {s}_mem [0:{cap - 1}];")
        a(f"  reg [15:0] {s}_gap [0:{cap}];")
        a(f'  initial begin $readmemh("{s}.hex", {s}_mem); '
          f'$readmemh("{s}.gaps.hex", {s}_gap); end')
        a(f"  reg [31:0] {s}_i;\n  reg [15:0] {s}_wait;")
        a(f"  wire {s}_valid = ({s}_i < counts[{spec.streams.index(s)}]) && ({s}_wait == 0);")
        a(f"  wire {s}_ready;")
    P = spec.ready_period
    for s, bits in spec.outputs.items():
        cap = spec.capacity[s]
        a(f"  reg [{bits - 1}:0] {s}_mem [0:{cap - 1}];")
        a(f"  reg {s}_rdy [0:{P - 1}];")
        a(f'  initial $readmemh("{s}.ready.hex", {s}_rdy);')
        a(f"  reg [31:0] {s}_i;\n  wire {s}_valid;\n  wire [{bits - 1}:0] {s}_payload;")
        a(f"  wire {s}_ready = {s}_rdy[phase] && !done;")
    a(f"  reg [{max(1, (P - 1).bit_length()) - 1}:0] phase;")
    a("  reg started, finished;")
    # the DUT
    conns = [".clk(clk)", ".rst(rst)"]
    for s in spec.inputs:
        conns += [f".{s}__valid({s}_valid)", f".{s}__payload({s}_mem[{s}_i])"]
        if s in spec.ready:
            conns.append(f".{s}__ready({s}_ready)")
    for s in spec.outputs:
        conns += [f".{s}__valid({s}_valid)", f".{s}__payload({s}_payload)"]
        if s in spec.ready:
            conns.append(f".{s}__ready({s}_ready)")
    conns += [f".{s}({s})" for s in spec.status]
    a(f"  {spec.dut} dut ({', '.join(conns)});")
    for s in spec.inputs:
        if s not in spec.ready:
            a(f"  assign {s}_ready = 1'b1;")
    all_valid = " && ".join(f"{s}_valid" for s in spec.inputs) or "1'b1"
    outs_done = " && ".join(
        f"({s}_i + ({s}_valid && {s}_ready) >= counts[{spec.streams.index(s)}])"
        for s in spec.outputs)
    limit = f"counts[{n_streams}]"
    a("  always @(posedge clk) begin")
    a("    if (rst) begin")
    a("      done <= 0; timeout <= 0; cycles <= 0; started <= 0; finished <= 0; phase <= 0;")
    for s in spec.inputs:
        a(f"      {s}_i <= 0; {s}_wait <= {s}_gap[0];")
    for s in spec.outputs:
        a(f"      {s}_i <= 0;")
    a("    end else if (!finished) begin")
    a("      phase <= phase + 1;")
    a(f"      if (started || ({all_valid})) begin started <= 1; cycles <= cycles + 1; end")
    for s in spec.inputs:
        a(f"      if ({s}_valid && {s}_ready) begin {s}_i <= {s}_i + 1; "
          f"{s}_wait <= {s}_gap[{s}_i + 1]; end")
        a(f"      else if ({s}_wait != 0) {s}_wait <= {s}_wait - 1;")
    for s in spec.outputs:
        a(f"      if ({s}_valid && {s}_ready) begin {s}_mem[{s}_i] <= {s}_payload; "
          f"{s}_i <= {s}_i + 1; end")
    a(f"      if ({outs_done}) finished <= 1;")
    a(f"      if (cycles >= {limit}) begin finished <= 1; timeout <= 1; end")
    a("    end else if (!done) begin")
    a("      done <= 1;")
    for s in spec.outputs:
        a(f'      if ({s}_i > 0) $writememh("{s}.out.hex", {s}_mem, 0, {s}_i - 1);')
    a("    end")
    a("  end")
    a("endmodule")
    return "\n".join(L) + "\n"


def _hex_lines(words: Sequence[int], bits: int) -> str:
    digits = max(1, (bits + 3) // 4)
    return "".join(f"{int(w):0{digits}x}\n" for w in words)


def write_player_files(run_dir: str | Path, spec: PlayerSpec, beats: Mapping[str, Sequence[int]],
                       expect: Mapping[str, int], *, idle: Mapping[str, Any] | None = None,
                       stall: Mapping[str, Any] | None = None, limit: int = 10**9) -> None:
    """Write the stimulus files into the simulator's run directory.

    ``beats``: input stream -> beat payloads; ``expect``: output stream -> beats to take;
    ``idle``: input stream -> idle :class:`~sim.vlib.patterns.Pattern` (gaps before beats);
    ``stall``: output stream -> stall pattern (ready low on its ``True`` cycles); ``limit``:
    cycles after which the player gives up (``timeout``).
    """
    d = Path(run_dir)
    d.mkdir(parents=True, exist_ok=True)
    counts = []
    for s, bits in spec.inputs.items():
        b = list(beats[s])
        if len(b) > spec.capacity[s]:
            raise ValueError(f"{s}: {len(b)} beats exceed the player's capacity "
                             f"{spec.capacity[s]}")
        pat: Pattern = as_pattern((idle or {}).get(s))
        gaps = [0] * (len(b) + 1) if pat.never else list(pat.gaps(len(b))) + [0]
        (d / f"{s}.hex").write_text(_hex_lines(b or [0], bits))
        (d / f"{s}.gaps.hex").write_text(_hex_lines([min(g, 0xFFFF) for g in gaps], 16))
        counts.append(len(b))
    for s in spec.outputs:
        if expect[s] > spec.capacity[s]:
            raise ValueError(f"{s}: {expect[s]} beats exceed the capacity {spec.capacity[s]}")
        pat = as_pattern((stall or {}).get(s))
        stalls = ([False] * spec.ready_period if pat.never
                  else pat.take(spec.ready_period))
        (d / f"{s}.ready.hex").write_text("".join("0\n" if x else "1\n" for x in stalls))
        counts.append(int(expect[s]))
        (d / f"{s}.out.hex").unlink(missing_ok=True)
    counts.append(int(limit))
    (d / "counts.hex").write_text(_hex_lines(counts, 32))


def read_stream_file(run_dir: str | Path, name: str) -> list[int]:
    """The beats output stream ``name`` delivered (``<name>.out.hex``), as ints."""
    p = Path(run_dir) / f"{name}.out.hex"
    if not p.exists():
        return []
    out = []
    for line in p.read_text().splitlines():
        text = line.split("//", 1)[0].strip()  # simulators add "// 0x<address>" comments
        if text:
            out.append(int(text, 16))
    return out


async def play(dut: Any, *, period_ns: float = 10, reset_cycles: int = 3) -> int:
    """cocotb side: GPI clock, reset, wait for ``done``; returns the measured cycle count.

    Raises ``AssertionError`` when the player timed out.
    """
    Clock(dut.clk, period_ns, unit="ns", impl="gpi").start()
    dut.rst.value = 1
    for _ in range(reset_cycles):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await RisingEdge(dut.done)
    assert not int(dut.timeout.value), "player timed out"
    return int(dut.cycles.value)


_HARNESS_CPP = r"""// Plain C++ Verilator harness around the player (sim/vlib/player.py).
#include <chrono>
#include <cstdio>
#include "V%(top)s.h"
#include "verilated.h"
int main(int argc, char** argv) {
    VerilatedContext* ctx = new VerilatedContext;
    ctx->commandArgs(argc, argv);
    V%(top)s* top = new V%(top)s{ctx};
    top->clk = 0;
    top->rst = 1;
    for (int i = 0; i < 6; i++) { top->clk = !top->clk; top->eval(); }
    top->rst = 0;
    auto t0 = std::chrono::steady_clock::now();
    while (!top->done && !ctx->gotFinish()) {
        top->clk = 0; top->eval();
        top->clk = 1; top->eval();
    }
    auto t1 = std::chrono::steady_clock::now();
    std::printf("cycles %%u timeout %%d wall %%.6f\n", (unsigned)top->cycles, (int)top->timeout,
                std::chrono::duration<double>(t1 - t0).count());
    top->final();
    delete top;
    return 0;
}
"""


def cxx_harness(build_dir: str | Path, sources: Sequence[str | Path], run_dir: str | Path,
                *, extra_args: Sequence[str] = ()) -> dict[str, float]:
    """Build the player (:data:`PLAYER_TOP`) with a plain C++ main (``-O3``, one thread, only
    ports visible) and run it in ``run_dir`` (where the player's files are).

    Returns ``{"cycles", "wall_s", "build_s"}``. The reference a cocotb bench is measured
    against (REFERENCE.md section 9).
    """
    build = Path(build_dir)
    build.mkdir(parents=True, exist_ok=True)
    main = build / "harness.cpp"
    main.write_text(_HARNESS_CPP % {"top": PLAYER_TOP})
    env = toolchain_env()
    t0 = time.perf_counter()
    cmd = ["verilator", "--cc", "--exe", "--build", "-O3", "--x-assign", "fast",
           "--top-module", PLAYER_TOP, "-Mdir", str(build), "-o", "harness",
           *extra_args, str(main), *(str(s) for s in sources)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(f"verilator harness build failed: {res.stderr[-2000:]}")
    t1 = time.perf_counter()
    res = subprocess.run([str(build / "harness")], cwd=run_dir, env=env, capture_output=True,
                         text=True)
    if res.returncode:
        raise RuntimeError(f"harness failed: {res.stderr[-2000:]}")
    words = res.stdout.split()
    vals = dict(zip(words[::2], words[1::2], strict=False))
    if int(vals["timeout"]):
        raise RuntimeError("harness: the player timed out")
    return {"cycles": int(vals["cycles"]), "wall_s": float(vals["wall"]), "build_s": t1 - t0}
