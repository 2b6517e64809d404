"""Formal tier: SAT-based equivalence and induction proofs of small RTL blocks with pyosys.

A proof compares a *design under test* (an Amaranth component, converted to RTLIL) with an
independently written *behavioural specification* (Verilog text, see :func:`decoder_spec` and
:func:`pe_spec`) on a Yosys miter::

    read_rtlil dut.il; read_verilog -sv spec.v; proc; check -assert
    miter -equiv -flatten -make_outputs <spec> <dut> miter
    hierarchy -top miter; async2sync; dffunmap; opt_clean
    sat <method options> -prove gold_<out> gate_<out> ... [-prove gold.<reg> gate.<reg> ...]

Three methods (:data:`METHODS`):

``combinational``
    ``sat -seq 1`` after ``setattr -unset init``: one time step with every input *and every
    register* free; the named outputs are equal for all of them (meaningful for outputs that
    depend on inputs only, e.g. a ``registered=False`` decoder's selection).
``bounded``
    ``sat -seq K -set-init-zero``: equal in every cycle of every input sequence of length ``K``
    that starts from the initial state.
``induction``
    ``sat -tempinduct -maxsteps K -set-init-zero``: equal in *every* cycle of *every* input
    sequence of any length from the initial state (k-induction; the result records the ``k``
    at which the induction step closed). Hidden state that the outputs do not show (the PE's
    weight banks) must be paired explicitly (``state=[(spec_reg, dut_reg), ...]``): the
    proven invariant is then "outputs equal and paired registers equal", and with ``k = 1`` it
    holds from *any* paired state, not only from the initial one.

The initial state is each register's ``init`` value (Amaranth writes the reset values as
``init`` attributes; Yosys' sat lets them win over ``-set-init-zero``) and 0 for registers
without one (the spec's). The synchronous ``rst`` input is free in every cycle, so resets at
any time are covered.

A result is ``proved``, ``failed`` (a real counterexample from the initial state, see
:class:`Counterexample`) or ``inconclusive`` (the induction step did not close within
``maxsteps``: not a bug, a too weak invariant).

Yosys runs in a separate worker process by default (``isolate=True``): a Yosys ``ERROR`` ends
the process that hosts libyosys, and the worker also gives each proof a wall-clock timeout. The
worker imports only pyosys (about 0.2 s per proof). ``isolate=False`` runs in this process.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amaranth.back import rtlil
from pyosys import libyosys as ys

from flow.area import yosys_error
from gen.emit import signal_ports
from golden.facts import ParamError, index_bits, mant_width

__all__ = [
    "METHODS",
    "Counterexample",
    "FormalError",
    "ProofResult",
    "Source",
    "amaranth_source",
    "decoder_spec",
    "pe_spec",
    "pe_state_map",
    "prove_equiv",
    "verilog_source",
]

#: Proof methods of :func:`prove_equiv`.
METHODS = ("combinational", "bounded", "induction")
#: Seconds one proof may run in its worker before it is reported as an error.
DEFAULT_TIMEOUT = 300.0


class FormalError(RuntimeError):
    """The proof could not be run (bad input, Yosys error, timeout); one readable line."""


# ---- sources ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """One design as Yosys reads it: ``lang`` is ``"rtlil"`` or ``"verilog"``, ``top`` the module
    that the proof uses (other modules in ``text`` are its submodules)."""

    text: str
    lang: str
    top: str

    def __post_init__(self) -> None:
        if self.lang not in ("rtlil", "verilog"):
            raise ParamError(f"source language must be rtlil or verilog, not {self.lang!r}")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.top):
            raise ParamError(f"top module name must be a plain identifier, not {self.top!r}")


def amaranth_source(component: Any, name: str = "dut") -> Source:
    """An Amaranth component as RTLIL (``amaranth.back.rtlil``), top module ``name``; its ports
    are :func:`gen.emit.signal_ports` (no port for an ``always_ready`` stream's ``ready``)."""
    return Source(rtlil.convert(component, name=name, emit_src=False,
                                ports=signal_ports(component)), "rtlil", name)


def verilog_source(text: str, top: str) -> Source:
    """Verilog text (read with ``read_verilog -sv``) whose module ``top`` is the design."""
    return Source(text, "verilog", top)


# ---- results ----------------------------------------------------------------------------------
Value = int | str  # an int, or the bit string (MSB first) when some bits are x


@dataclass(frozen=True)
class Counterexample:
    """A trace from the reset state that breaks the proof.

    ``trace[i]`` maps signal -> value in time step ``i + 1`` (Yosys numbers steps from 1):
    the miter's inputs (``in_<port>``), both sides' outputs (``gold_<port>`` is the spec,
    ``gate_<port>`` the DUT) and paired registers. ``mismatches`` lists
    ``(step, what, spec_value, dut_value)`` for every proof obligation that fails.
    """

    trace: tuple[dict[str, Value], ...]
    mismatches: tuple[tuple[int, str, Value, Value], ...]

    @property
    def steps(self) -> int:
        return len(self.trace)

    def inputs(self, step: int) -> dict[str, Value]:
        """Input port values in ``step`` (1-based), without the ``in_`` prefix and clocks."""
        vals = self.trace[step - 1]
        return {k[3:]: vals[k] for k in sorted(vals, key=_natural)
                if k.startswith("in_") and k != "in_clk"}

    def summary(self, max_inputs: int = 12) -> str:
        """One line: the first failing step, what differs, and the inputs up to that step."""
        if not self.mismatches:
            return f"{self.steps}-step trace, no mismatch decoded"
        step = self.mismatches[0][0]
        diffs = ", ".join(f"{w}: spec={_fmt(g)} dut={_fmt(d)}"
                          for s, w, g, d in self.mismatches if s == step)
        ins = []
        for t in range(1, step + 1):
            items = list(self.inputs(t).items())
            shown = " ".join(f"{k}={_fmt(v)}" for k, v in items[:max_inputs])
            ins.append(f"[{t}] {shown}{' ...' if len(items) > max_inputs else ''}")
        return f"step {step}/{self.steps}: {diffs}; inputs {' '.join(ins)}"


def _natural(name: str) -> list[Any]:
    """Sort key that puts ``in_act__2`` before ``in_act__10``."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def _fmt(v: Value) -> str:
    return str(v) if isinstance(v, int) else f"'{v}'"


@dataclass(frozen=True)
class ProofResult:
    """Outcome of one proof (see the module docstring for the three statuses)."""

    name: str
    method: str
    status: str
    depth: int
    seconds: float
    obligations: tuple[str, ...]
    counterexample: Counterexample | None = None
    log: str = field(default="", repr=False)

    @property
    def passed(self) -> bool:
        return self.status == "proved"

    @property
    def failed(self) -> bool:
        """True only for a real counterexample (not for an inconclusive induction)."""
        return self.status == "failed"

    def summary(self) -> str:
        """One line for logs and test output."""
        if self.method == "combinational":
            what = "combinational, all inputs and register states"
        elif self.method == "bounded":
            what = f"bounded, {self.depth} steps from reset"
        else:
            what = {"proved": f"induction, closed at k={self.depth}",
                    "failed": f"induction, base case of length {self.depth}",
                    "inconclusive": f"induction, not closed up to k={self.depth}"}[self.status]
        head = (f"formal {self.status.upper():<12} {self.name}: "
                f"{len(self.obligations)} obligation(s), {what}, {self.seconds:.2f} s")
        if self.counterexample is not None:
            return f"{head}; counterexample {self.counterexample.summary()}"
        if self.status == "inconclusive":
            return f"{head}; induction step did not close (strengthen with paired state)"
        return head


# ---- the worker (pyosys only; runs in a subprocess, or in this process) -------------------------
_WORKER_SRC = r'''
import json, time
from pyosys import libyosys as ys


def _resolve(mod, name):
    """Exact public wire, or a unique hierarchical match side.<...>.leaf of side.leaf."""
    if "\\" + name in mod:
        return name
    if "." in name:
        side, leaf = name.split(".", 1)
        hits = [w for w in mod if w.startswith("\\" + side + ".") and w.endswith("." + leaf)]
        if len(hits) == 1:
            return hits[0][1:]
        if hits:
            raise LookupError(f"{name} is ambiguous: {', '.join(h[1:] for h in sorted(hits))}")
    raise LookupError(f"no signal {name} in the miter")


def run_job(job):
    d = ys.Design()
    log = job["log"]
    t0 = time.perf_counter()

    def run(cmd):
        ys.run_pass(f"tee -q -a {log} {cmd}", d)

    def ports(top):
        mod = d.module(ys.IdString("\\" + top))
        if mod is None:
            raise LookupError(f"module {top} not found")
        return {k.str()[1:]: (w.width, w.port_input, w.port_output)
                for k, w in mod.wires_.items() if w.port_input or w.port_output}

    try:
        for path, lang in job["files"]:
            run(f"read_rtlil {path}" if lang == "rtlil" else f"read_verilog -sv {path}")
        run("proc")
        run("check -assert")
        gold, gate = job["gold"], job["gate"]
        pg, pd = ports(gold), ports(gate)
        if pg != pd:
            only_g = sorted(set(pg) - set(pd))
            only_d = sorted(set(pd) - set(pg))
            diff = sorted(k for k in set(pg) & set(pd) if pg[k] != pd[k])
            raise LookupError(f"ports of {gold} and {gate} differ: only in {gold} {only_g}, "
                              f"only in {gate} {only_d}, width/direction {diff}")
        run(f"miter -equiv -flatten -make_outputs {gold} {gate} miter")
        run("hierarchy -top miter")
        run("async2sync")
        run("dffunmap")
        run("opt_clean")
        if job["free_init"]:
            run("setattr -unset init")
        mod = d.module(ys.IdString("\\miter"))
        wires = {k.str() for k in mod.wires_.keys()}
        pairs = [(_resolve(wires, a), b if b.isdigit() else _resolve(wires, b))
                 for a, b in job["prove"]]
    except LookupError as e:
        return {"error": str(e), "seconds": time.perf_counter() - t0}
    args = [job["sat"]]
    for a, b in pairs:
        args.append(f"-prove {a} {b}")
    args += ["-show-inputs", "-show-outputs"]
    args += [f"-show {s}" for a, b in pairs if "." in a for s in (a, b)]
    run("sat " + " ".join(args))
    return {"error": None, "pairs": pairs, "seconds": time.perf_counter() - t0}


if __name__ == "__main__":
    import sys
    job = json.loads(sys.stdin.read())
    res = run_job(job)
    with open(job["result"], "w") as f:
        json.dump(res, f)
'''

_WORKER_NS: dict[str, Any] = {"ys": ys}
exec(compile(_WORKER_SRC, "<flow.formal worker>", "exec"), _WORKER_NS)


def _run_worker(job: dict[str, Any], *, isolate: bool, timeout: float) -> dict[str, Any]:
    if not isolate:
        return _WORKER_NS["run_job"](job)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _WORKER_SRC], input=json.dumps(job), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
    except subprocess.TimeoutExpired:
        raise FormalError(f"proof did not finish in {timeout:g} s") from None
    res_path = Path(job["result"])
    if proc.returncode != 0 or not res_path.exists():
        text = Path(job["log"]).read_text() if Path(job["log"]).exists() else ""
        raise FormalError(f"yosys failed: {yosys_error(text + proc.stdout)}")
    return json.loads(res_path.read_text())


# ---- parsing the sat pass' log --------------------------------------------------------------
#: One row of sat's model table: time step (or "init"), signal, decimal, hex, binary.
_ROW_RE = re.compile(r"^\s*(init|\d+)\s+\\?(\S+)\s+\S+\s+\S+\s+([01xz]+)\s*$")


def _sat_section(log: str) -> str:
    i = log.rfind("Executing SAT pass")
    return log[i:] if i >= 0 else log


def _parse_model(text: str) -> list[dict[str, Value]]:
    """The last model table printed by ``sat`` (it prints one per model found)."""
    start = text.rfind("Time Signal Name")
    if start < 0:
        return []
    steps: dict[int, dict[str, Value]] = {}
    for line in text[start:].splitlines()[2:]:
        if not line.strip():
            break
        mt = _ROW_RE.match(line)
        if not mt or mt.group(1) == "init":
            continue
        bits = mt.group(3)
        val: Value = int(bits, 2) if set(bits) <= {"0", "1"} else bits
        steps.setdefault(int(mt.group(1)), {})[mt.group(2)] = val
    return [steps[t] for t in sorted(steps)]


def _status(text: str, method: str) -> tuple[str, int]:
    if method == "induction":
        if "model found for base case: FAIL!" in text:
            ks = re.findall(r"\[base case (\d+)\]", text)
            return "failed", int(ks[-1]) if ks else 0
        if "Induction step proven: SUCCESS!" in text:
            ks = re.findall(r"\[induction step (\d+)\]", text)
            return "proved", int(ks[-1]) if ks else 0
        if "Reached maximum number of time steps" in text:
            ks = re.findall(r"\[induction step (\d+)\]", text)
            return "inconclusive", int(ks[-1]) if ks else 0
    else:
        if "SAT proof finished - no model found: SUCCESS!" in text:
            return "proved", 0
        if "SAT proof finished - model found: FAIL!" in text:
            return "failed", 0
    raise FormalError(f"unrecognized sat output: {yosys_error(text)}")


# ---- the proof ----------------------------------------------------------------------------------
def prove_equiv(
    spec: Source,
    dut: Source,
    *,
    name: str,
    method: str = "induction",
    outputs: Iterable[str] | None = None,
    state: Iterable[tuple[str, str]] = (),
    depth: int = 8,
    isolate: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    keep_log: bool = False,
) -> ProofResult:
    """Prove that ``dut`` behaves like ``spec`` (same port names and widths).

    Parameters
    ----------
    spec, dut:
        The reference (miter "gold") and the design under test ("gate").
    name:
        The proof's name in :meth:`ProofResult.summary`.
    method:
        ``"combinational"``, ``"bounded"`` or ``"induction"`` (module docstring).
    outputs:
        Output ports to compare; default all of them.
    state:
        Register pairs ``(spec_reg, dut_reg)`` that must stay equal too (the hidden state of an
        induction proof). A DUT name may be a leaf found anywhere in the DUT's hierarchy
        (``"w0"`` also finds ``inner.w0`` in a wrapper), if unique.
    depth:
        ``bounded``: steps checked; ``induction``: the largest ``k`` tried (``-maxsteps``).
    isolate:
        Run Yosys in a worker process (default). ``False`` runs it in this process: faster by
        ~0.2 s, but a Yosys ``ERROR`` (e.g. a syntax error in a spec) then ends this process,
        and ``timeout`` does not apply.
    keep_log:
        Keep the whole Yosys log in :attr:`ProofResult.log`.

    Raises
    ------
    FormalError
        The proof could not be run: ports differ, a state register is not found, Yosys
        failed, or the worker timed out. A *failing* proof is a result, not an error.
    """
    if method not in METHODS:
        raise ParamError(f"proof method must be one of {', '.join(METHODS)}, not {method!r}")
    depth = int(depth)
    if depth < 1:
        raise ParamError(f"proof depth must be >= 1, not {depth}")
    if spec.top == dut.top:
        raise ParamError(f"spec and DUT must have different module names, both are {spec.top}")
    outs = None if outputs is None else list(outputs)
    if outs is not None and not outs:
        raise ParamError("outputs must name at least one port (or be None for all)")
    # proof obligations as (spec side, DUT side) miter signals, with their names in results
    prove = ([("trigger", "0")] if outs is None else
             [(f"gold_{o}", f"gate_{o}") for o in outs])
    labels = ["trigger"] if outs is None else list(outs)
    state = [(str(a), str(b)) for a, b in state]
    prove += [(f"gold.{a}", f"gate.{b}") for a, b in state]
    labels += [f"{a}/{b}" for a, b in state]
    sat = {
        "combinational": "-seq 1",
        "bounded": f"-seq {depth} -set-init-zero",
        "induction": f"-tempinduct -maxsteps {depth} -set-init-zero",
    }[method]
    obligations = tuple(["all outputs"] if outs is None else outs) + tuple(
        f"{a}=={b}" for a, b in state)

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sqgen-formal-") as tmp:
        t = Path(tmp)
        files = []
        for i, src in enumerate((spec, dut)):
            p = t / f"src{i}.{'il' if src.lang == 'rtlil' else 'v'}"
            p.write_text(src.text)
            files.append([str(p), src.lang])
        job = {"files": files, "gold": spec.top, "gate": dut.top, "prove": prove, "sat": sat,
               "free_init": method == "combinational",
               "log": str(t / "yosys.log"), "result": str(t / "result.json")}
        res = _run_worker(job, isolate=isolate, timeout=timeout)
        if res.get("error"):
            raise FormalError(f"{name}: {res['error']}")
        log = Path(job["log"]).read_text()
    seconds = time.perf_counter() - t0
    text = _sat_section(log)
    status, k = _status(text, method)
    if method == "bounded":
        k = depth
    elif method == "combinational":
        k = 1
    cex = None
    if status == "failed":
        trace = _parse_model(text)
        cex = Counterexample(tuple(trace), _mismatches(trace, res["pairs"], labels))
    return ProofResult(name=name, method=method, status=status, depth=k, seconds=seconds,
                       obligations=obligations, counterexample=cex,
                       log=log if keep_log else "")


def _mismatches(trace: Sequence[Mapping[str, Value]], pairs: Sequence[Sequence[str]],
                labels: Sequence[str]) -> tuple[tuple[int, str, Value, Value], ...]:
    out = []
    outputs = sorted({k[5:] for step in trace for k in step if k.startswith("gold_")})
    for t, vals in enumerate(trace, start=1):
        for (a, b), label in zip(pairs, labels, strict=True):
            if a == "trigger":
                # all-outputs miter: report the ports that differ
                for o in outputs:
                    g, d = vals.get(f"gold_{o}"), vals.get(f"gate_{o}")
                    if g is not None and g != d:
                        out.append((t, o, g, d))
            elif a in vals and vals.get(a) != vals.get(b):
                out.append((t, label, vals[a], vals.get(b, "?")))
    return tuple(out)


# ---- behavioural specifications ---------------------------------------------------------------
def _ports(decls: Sequence[str]) -> str:
    return ",\n  ".join(decls)


def decoder_spec(n: int, m: int, groups: int, width: int, *, registered: bool = True,
                 packed24: bool = False, name: str = "nm_decoder_spec") -> Source:
    """Behavioural Verilog of the N:M decoder, written from ``golden.nm_hw``'s definitions.

    Ports as :class:`hw.decoder.NMDecoder`'s (default layouts): ``i__valid``, ``i__payload``
    (``act`` = ``groups*m`` signed ``width``-bit activations from bit 0, then ``idx`` =
    ``groups*n`` indices of ``ceil(log2 m)`` bits, or ``meta`` = ``4*groups`` nibble bits),
    ``clear``, ``o__valid``, ``o__payload`` (``act`` = ``groups*n`` selections) and
    ``meta_error``. Inside, ``act_<i>``, ``idx_<k>`` and ``out_<k>`` name the fields.

    * Lane ``k = g*n + j`` with index ``i`` outputs ``act[g*m + i]`` when ``j <= i <= m-n+j``
      (the lane's window), else 0 (:func:`golden.nm_hw.decode_select`).
    * A beat violates the metadata rule when some group has ``idx[j] >= idx[j+1]`` or its last
      index is ``>= m`` (:func:`golden.nm_hw.meta_violation`).
    * ``meta_error`` is a register: 0 after reset, set by a valid violating beat, held until
      ``clear`` (a violation in the same cycle wins) or ``rst``
      (:func:`golden.nm_hw.meta_error_trace`).
    * ``registered``: ``o__valid``/``o__payload`` are registers (latency 1), cleared by ``rst``,
      the payload loaded only on a valid beat; otherwise combinational (latency 0).
    * ``packed24`` (2:4): lane ``k``'s index is bits ``[2k+1:2k]`` of ``meta``.
    """
    ib = index_bits(m)
    lanes = groups * n
    act_bits = groups * m * width
    meta_bits = 4 * groups if packed24 else lanes * ib
    decl = ["input clk", "input rst", "input i__valid", "input clear",
            f"input [{act_bits + meta_bits - 1}:0] i__payload"]
    kind = "reg" if registered else "wire"
    decl += [f"output {kind} o__valid", f"output [{lanes * width - 1}:0] o__payload",
             "output reg meta_error"]
    body = [f"wire signed [{width - 1}:0] act_{i} = i__payload[{(i + 1) * width - 1}:{i * width}];"
            for i in range(groups * m)]
    for k in range(lanes):
        lo = act_bits + (2 * k if packed24 else k * ib)
        body.append(f"wire [{ib - 1}:0] idx_{k} = i__payload[{lo + ib - 1}:{lo}];")
    body.append("// per lane: the activation its index selects, 0 outside the lane's window")
    for g in range(groups):
        for j in range(n):
            k = g * n + j
            lo, hi = j, m - n + j
            body.append(f"reg signed [{width - 1}:0] sel_{k};")
            body.append("always @* begin")
            body.append(f"  sel_{k} = {width}'d0;")
            body.append(f"  if (idx_{k} >= {lo} && idx_{k} <= {hi})")
            body.append(f"    case (idx_{k})")
            for i in range(lo, hi + 1):
                body.append(f"      {i}: sel_{k} = act_{g * m + i};")
            body.append("    endcase")
            body.append("end")
    body.append("// metadata rule: strictly increasing inside each group, last index < M")
    terms = []
    for g in range(groups):
        for j in range(n - 1):
            terms.append(f"(idx_{g * n + j} >= idx_{g * n + j + 1})")
        terms.append(f"({{1'b0, idx_{g * n + n - 1}}} >= {m})")
    body.append(f"wire violation = {' | '.join(terms)};")
    body.append("always @(posedge clk) begin")
    body.append("  if (rst) meta_error <= 1'b0;")
    body.append("  else meta_error <= (meta_error & ~clear) | (i__valid & violation);")
    body.append("end")
    body += [f"{kind} signed [{width - 1}:0] out_{k};" for k in range(lanes)]
    body.append("assign o__payload = {" + ", ".join(f"out_{k}" for k in reversed(range(lanes)))
                + "};")
    if registered:
        body.append("always @(posedge clk) begin")
        body.append("  if (rst) begin")
        body.append("    o__valid <= 1'b0;")
        body += [f"    out_{k} <= {width}'d0;" for k in range(lanes)]
        body.append("  end else begin")
        body.append("    o__valid <= i__valid;")
        body.append("    if (i__valid) begin")
        body += [f"      out_{k} <= sel_{k};" for k in range(lanes)]
        body.append("    end")
        body.append("  end")
        body.append("end")
    else:
        body.append("assign o__valid = i__valid;")
        body += [f"assign out_{k} = sel_{k};" for k in range(lanes)]
    text = (f"module {name}(\n  {_ports(decl)}\n);\n  " + "\n  ".join(body) + "\nendmodule\n")
    return verilog_source(text, name)


def pe_spec(mant_bits: int, acc_width: int, sel: int = 1, *, name: str = "pe_spec") -> Source:
    """Behavioural Verilog of the weight-stationary PE (:class:`hw.pe.PE` + ``MantissaMAC``).

    Two weight banks ``bank0_*``/``bank1_*``: on a clock edge with ``w__we`` bank ``w__bank``
    takes ``w__data`` (and ``w__idx`` when ``sel > 1``), whatever ``en`` is. On an edge with
    ``en``: ``out_act`` <= ``in_act`` (data and bank bit) and ``out_psum`` <= ``in_psum +
    w[b] * a[idx[b]]`` with ``b = in_act__bank``, in ``acc_width``-bit two's complement; the
    operand ``a[i]`` is bits ``[i*(m+1) +: m+1]`` of ``in_act__data`` (signed), 0 for
    ``i >= sel``. ``rst`` does not touch the datapath. State names: :func:`pe_state_map`.
    """
    mw = mant_width(mant_bits)
    ib = index_bits(sel) if sel > 1 else 0
    aw = sel * mw
    decl = ["input clk", "input rst", "input en",
            f"input signed [{mw - 1}:0] w__data"]
    if ib:
        decl.append(f"input [{ib - 1}:0] w__idx")
    decl += ["input w__we", "input w__bank",
             f"input [{aw - 1}:0] in_act__data", "input in_act__bank",
             f"input signed [{acc_width - 1}:0] in_psum__data",
             f"output reg [{aw - 1}:0] out_act__data", "output reg out_act__bank",
             f"output reg signed [{acc_width - 1}:0] out_psum__data"]
    body = [f"reg signed [{mw - 1}:0] bank0_w, bank1_w;"]
    body.append(f"wire signed [{mw - 1}:0] w_use = in_act__bank ? bank1_w : bank0_w;")
    body.append(f"reg signed [{mw - 1}:0] a_use;")
    if ib:
        body.append(f"reg [{ib - 1}:0] bank0_idx, bank1_idx;")
        body.append(f"wire [{ib - 1}:0] idx_use = in_act__bank ? bank1_idx : bank0_idx;")
        body.append("always @* begin")
        body.append(f"  a_use = {mw}'d0;")
        body.append("  case (idx_use)")
        for i in range(sel):
            body.append(f"    {i}: a_use = in_act__data[{(i + 1) * mw - 1}:{i * mw}];")
        body.append("  endcase")
        body.append("end")
    else:
        body.append("always @* a_use = in_act__data;")
    body.append(f"wire signed [{acc_width - 1}:0] mac = in_psum__data + w_use * a_use;")
    body.append("always @(posedge clk) begin")
    for b in (0, 1):
        cond = "w__bank" if b else "!w__bank"
        body.append(f"  if (w__we && {cond}) begin")
        body.append(f"    bank{b}_w <= w__data;")
        if ib:
            body.append(f"    bank{b}_idx <= w__idx;")
        body.append("  end")
    body.append("  if (en) begin")
    body.append("    out_act__data <= in_act__data;")
    body.append("    out_act__bank <= in_act__bank;")
    body.append("    out_psum__data <= mac;")
    body.append("  end")
    body.append("end")
    text = (f"module {name}(\n  {_ports(decl)}\n);\n  " + "\n  ".join(body) + "\nendmodule\n")
    return verilog_source(text, name)


def pe_state_map(sel: int = 1) -> list[tuple[str, str]]:
    """Register pairs (:func:`pe_spec` name, :class:`hw.pe.PE` name) of the weight banks."""
    pairs = [("bank0_w", "w0"), ("bank1_w", "w1")]
    if sel > 1:
        pairs += [("bank0_idx", "idx0"), ("bank1_idx", "idx1")]
    return pairs
