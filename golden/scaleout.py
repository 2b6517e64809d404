"""Scale-out (SOSA): the tile compiler and the cycle and power models of a multi-pod system.

Pure Python/NumPy. A *system* is ``pods`` FP32-in/FP32-out engines (:mod:`golden.engine`), each
an R x C weight-stationary pod with its FP32 shell, and per pod one activation, one weight and
one result buffer bank; networks (Butterfly with expansion factor ``2^expand``, Benes,
crossbar, bus) connect the banks to the pods. The facts of SOSA's design and models are in
``../shared/REFERENCE.md`` section 7; ``docs/scaleout.md`` describes ours.

Tiling (SOSA's, with the custom partition size ``part``): the weights are cut into R x C tiles
(``Kf`` x C with N:M sparsity), the activations into partitions of ``part`` rows. A *job*
``(n, t)`` is one output tile (``part`` rows x C columns): the ``ceil(K / Kf)`` folds of n-tile
``n`` over partition ``t``, run back to back on one engine, whose output buffer (``tile =
part``) adds the K-folds in FP32. Jobs are numbered n-major (``j = n * T + t``) and dealt
round-robin: job ``j`` runs on pod ``j mod pods`` as its ``j // pods``-th job.

Data layout (the compiler's, conflict-free by construction): each pod's activation bank holds
the partitions of its own jobs in stream order (a partition used by several jobs is stored once
per job), its weight bank the weight tiles of its jobs, and it writes its results to its
own result bank; so every network carries a permutation (the identity) and never blocks.
The networks still let any pod reach any bank (a layer's results feeding the next layer);
with this layout they add their latency, and the bus, which moves one beat per cycle for all
pods, serializes.

Cycle model: a pod that is never starved runs the engine's exact fold recurrence
(:func:`golden.systolic.fold_cycles`) over its folds' row counts; the system adds the bank
read, the network latency in and out, and the result write (:func:`system_cycles`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from golden.engine import EngineLayout, _f32_bits, engine_program, int8_act_scale
from golden.facts import MAX_TILE, ParamError, check_index
from golden.network import MAX_PORTS, network_power, zero_load_latency
from golden.systolic import fold_cycles

__all__ = [
    "NETWORKS",
    "MAX_EXPAND",
    "SystemGeometry",
    "Job",
    "SystemProgram",
    "compile_gemm",
    "system_cycles",
    "network_latency",
    "network_power_w",
    "sosa_power_w",
    "pods_under_budget",
    "GemmResult",
    "evaluate_gemm",
    "evaluate_workload",
    "SOSA",
    "LOAD_SPACES",
    "CONFIG_FIELDS",
    "CONFIG_STRIDE",
    "SystemImage",
    "system_program",
]

#: The selectable interconnects.
NETWORKS = ("butterfly", "benes", "crossbar", "bus")
#: Largest Butterfly expansion exponent (factor 2^4 = 16, SOSA's range 1..16).
MAX_EXPAND = 4
#: The RTL system's fixed latencies (hw/system.py): the bank's synchronous read, the reader's
#: FIFO, the FIFO in front of each engine input, and busy falling the edge after the last
#: result is written (the write itself is the network output's transfer).
BANK_READ = READ_FIFO = INPUT_FIFO = DONE_FLAG = 1

#: SOSA's model constants (REFERENCE.md section 7; 28 nm, 1 GHz).
SOSA = {
    "freq_hz": 1.0e9,
    "sram_pj_per_byte": 2.7,
    "mac_pj": 0.4,
    "net_w_per_byte": 2.875e-5,
    "tdp_w": 400.0,
    "dram_bytes_per_s": 1.2e12,
    "pod_um2_32x32": 492_349.0,
    "pod_mw_32x32": 492.0,
    "peak_effective_tops": 600.0,
}


def _pow2(x: int) -> bool:
    return x >= 1 and x & (x - 1) == 0


@dataclass(frozen=True)
class SystemGeometry:
    """Static facts of one multi-pod system.

    ``convert_latency`` and ``normalize_latency`` are the engines' (``golden.engine``).
    ``bank_words`` bounds every activation bank (one word = one activation beat); the
    compiler refuses a partition that does not fit.
    """

    pods: int
    rows: int
    cols: int
    part: int
    net: str = "butterfly"
    expand: int = 0
    sparsity: tuple[int, int] = (1, 1)
    bank_words: int = 1 << 16
    convert_latency: int = 1
    normalize_latency: int = 1

    def __post_init__(self) -> None:
        p = check_index(self.pods, "pod count")
        if p < 1:
            raise ParamError(f"pod count must be positive, not {p}", field="pods")
        if self.net not in NETWORKS:
            raise ParamError(f"network must be one of {', '.join(NETWORKS)}, not {self.net!r}",
                             field="net")
        if self.net in ("butterfly", "benes") and not (_pow2(p) and p >= 2):
            raise ParamError(f"a {self.net} network needs a power-of-two pod count of at "
                             f"least 2, not {p}", field="pods")
        e = check_index(self.expand, "expansion")
        if e and self.net != "butterfly":
            raise ParamError(f"an expansion factor is a Butterfly's, not a {self.net}'s",
                             field="expand")
        if not 0 <= e <= MAX_EXPAND:
            raise ParamError(f"Butterfly expansion must be 0..{MAX_EXPAND} (factor 1..."
                             f"{1 << MAX_EXPAND}), not {e}", field="expand")
        t = check_index(self.part, "partition size")
        if not 1 <= t <= MAX_TILE:
            raise ParamError(f"partition size must be 1..{MAX_TILE} rows, not {t}",
                             field="part")
        if check_index(self.rows, "pod rows") < 2 or check_index(self.cols, "pod cols") < 1:
            raise ParamError(f"pods must be at least 2 x 1, not {self.rows}x{self.cols}",
                             field="pod")
        if check_index(self.bank_words, "bank words") < 1:
            raise ParamError(f"bank size must be positive, not {self.bank_words}",
                             field="bank_words")

    @property
    def kf(self) -> int:
        """Reduction elements per fold (``R * M / N``)."""
        n, m = self.sparsity
        return self.rows // n * m

    @property
    def stages(self) -> int:
        """``log2 pods`` (network stages of a Butterfly)."""
        return max(1, (self.pods - 1).bit_length())

    @property
    def net_latency(self) -> int:
        return network_latency(self.net, self.pods, self.expand)

    @property
    def macs_per_cycle(self) -> int:
        """Dense-equivalent MACs per cycle of the whole system at full rate."""
        n, m = self.sparsity
        return self.pods * self.rows * self.cols * m // n


def network_latency(kind: str, pods: int, expand: int = 0) -> int:
    """Zero-load latency of a network in cycles: SOSA's figures (crossbar 1, bus 1, Benes
    2n - 1, Butterfly n + 2e with n = log2 pods), which our RTL networks meet exactly
    (:func:`golden.network.zero_load_latency`). Past the RTL networks' 1,024 ports (the fast
    model of large systems) the same formulas."""
    if pods <= MAX_PORTS:
        return zero_load_latency(kind, pods, expand)
    n = (pods - 1).bit_length()
    return 1 if kind in ("crossbar", "bus") else 2 * n - 1 if kind == "benes" else n + 2 * expand


def network_power_w(kind: str, pods: int, width_bytes: float, expand: int = 0) -> float:
    """SOSA's network power: 2.875e-5 W per byte of width x {crossbar N^2; Benes 2 N n;
    Butterfly N' log2 N' with N' = 2^e N; bus 1}."""
    return network_power(kind, pods, width_bytes, expand)


def sosa_power_w(geo: SystemGeometry, freq_hz: float = SOSA["freq_hz"]) -> dict[str, float]:
    """SOSA's system power model at full activity: SRAM ``(r + 5c) N 2.7 pJ/B f``, MACs
    ``r c N 0.4 pJ f``, and seven networks (our reading of the widths: activations R bytes,
    weights C, partial sums in and out 2C each, three post-processing networks C each)."""
    r, c, N = geo.rows, geo.cols, geo.pods
    sram = (r + 5 * c) * N * SOSA["sram_pj_per_byte"] * 1e-12 * freq_hz
    mac = r * c * N * SOSA["mac_pj"] * 1e-12 * freq_hz
    widths = [r, c, 2 * c, 2 * c, c, c, c]
    net = sum(network_power_w(geo.net, N, w, geo.expand) for w in widths)
    return {"sram_w": sram, "mac_w": mac, "network_w": net, "total_w": sram + mac + net}


def pods_under_budget(rows: int, cols: int, net: str, *, expand: int = 0,
                      budget_w: float = SOSA["tdp_w"], max_pods: int = 1 << 16) -> int:
    """SOSA's method: the largest pod count (a power of two for Butterfly/Benes) whose
    :func:`sosa_power_w` stays within ``budget_w``; 0 if not even one pod fits."""
    best = 0
    n = 1 if net in ("crossbar", "bus") else 2
    while n <= max_pods:
        geo = SystemGeometry(n, rows, cols, 32, net, expand)
        if sosa_power_w(geo)["total_w"] > budget_w:
            break
        best = n
        n = n * 2 if net in ("butterfly", "benes") else n + max(1, n // 8)
    return best


@dataclass(frozen=True)
class Job:
    """Output tile ``(n, t)``: rows ``r0 <= r < r1`` of A, columns of n-tile ``n``."""

    n: int
    t: int
    pod: int
    slot: int  #: the job's position in its pod's job list
    r0: int
    r1: int

    @property
    def rows(self) -> int:
        return self.r1 - self.r0


@dataclass
class SystemProgram:
    """What the tile compiler produces for one GEMM (see the module docstring)."""

    geo: SystemGeometry
    M: int
    N: int
    K: int
    jobs: list[Job]
    per_pod: list[list[Job]] = field(repr=False)
    act_words: list[int] = field(repr=False)   #: activation-bank words per pod
    w_words: list[int] = field(repr=False)     #: weight-bank words per pod
    res_words: list[int] = field(repr=False)   #: result-bank words per pod

    @property
    def nkf(self) -> int:
        return math.ceil(self.K / self.geo.kf)

    def pod_fold_rows(self, p: int) -> list[int]:
        """Rows of every fold pod ``p`` streams, in order."""
        return [j.rows for j in self.per_pod[p] for _ in range(self.nkf)]


def compile_gemm(M: int, N: int, K: int, geo: SystemGeometry) -> SystemProgram:
    """Tile ``A (M x K) @ W (K x N)`` onto the system (module docstring). Shapes need not be
    multiples of anything: the last partition and the last n-tile are partial."""
    M, N, K = (check_index(d, name) for d, name in ((M, "M"), (N, "N"), (K, "K")))
    if min(M, N, K) < 1:
        raise ParamError(f"GEMM dimensions must be positive, not M={M} N={N} K={K}",
                         field="gemm")
    T, nnf, nkf = math.ceil(M / geo.part), math.ceil(N / geo.cols), math.ceil(K / geo.kf)
    per_pod: list[list[Job]] = [[] for _ in range(geo.pods)]
    jobs = []
    for j in range(nnf * T):
        n, t = divmod(j, T)
        p = j % geo.pods
        job = Job(n, t, p, len(per_pod[p]), t * geo.part, min(M, (t + 1) * geo.part))
        per_pod[p].append(job)
        jobs.append(job)
    act, wts, res = [], [], []
    for js in per_pod:
        # Each bank holds its pod's streams in order, one copy per job (a bank reader is a
        # sequential address counter): a partition or weight tile two jobs share is stored
        # twice.
        act.append(sum(j.rows for j in js) * nkf)
        wts.append(len(js) * nkf * geo.rows)
        res.append(sum(j.rows for j in js))
    big = geo.part * nkf
    if min(geo.part, M) * nkf > geo.bank_words:
        raise ParamError(f"partition size {geo.part}: one partition needs {big} activation "
                         f"words ({geo.part} rows x {nkf} folds), more than a bank's "
                         f"{geo.bank_words}", field="part")
    return SystemProgram(geo, M, N, K, jobs, per_pod, act, wts, res)


@lru_cache(maxsize=4096)
def _pod_cycles(rows_key: tuple[int, ...], R: int, C: int) -> int:
    return fold_cycles(list(rows_key), R, C)


def system_cycles(prog: SystemProgram) -> int:
    """Cycles of the system for ``prog``: from the controller's first bank read to the last
    result written into its bank.

    Counted like the RTL's ``busy``: edges after the one that samples ``start``, up to the one
    that lowers ``busy``. Pod ``p`` (jobs, hence folds, of its own) runs the engine recurrence
    once its first beats arrive ``BANK_READ + READ_FIFO + net_latency + INPUT_FIFO`` cycles
    after the start; its last result is written ``net_latency`` cycles after the engine hands
    it over, and ``busy`` falls ``DONE_FLAG`` later. The bus moves
    one beat per cycle for all pods, so there the activation and weight beats of all pods
    bound the count from below (a bound, not a cycle-exact count).
    """
    geo = prog.geo
    R, C = geo.rows, geo.cols
    out_latency = geo.normalize_latency + 1
    worst = 0
    for p in range(geo.pods):
        if not prog.per_pod[p]:
            continue
        worst = max(worst, _pod_cycles(tuple(prog.pod_fold_rows(p)), R, C) + out_latency)
    lat = geo.net_latency
    head = BANK_READ + READ_FIFO + lat + INPUT_FIFO
    total = head + worst + lat + DONE_FLAG
    if geo.net == "bus":
        beats = sum(sum(j.rows for j in js) * prog.nkf for js in prog.per_pod)
        wbeats = sum(len(js) * prog.nkf * R for js in prog.per_pod)
        total = max(total, head + max(beats, wbeats) + lat + DONE_FLAG)
    return total


@dataclass(frozen=True)
class GemmResult:
    """Figures of one GEMM (``count`` repeats included) on one system."""

    name: str
    macs: int
    cycles: int
    utilization: float      #: useful MACs / (cycles x peak MACs per cycle)

    def seconds(self, freq_hz: float) -> float:
        return self.cycles / freq_hz


def evaluate_gemm(M: int, N: int, K: int, geo: SystemGeometry, *, count: int = 1,
                  name: str = "") -> GemmResult:
    """Cycles and utilization of ``count`` back-to-back runs of one GEMM."""
    prog = compile_gemm(M, N, K, geo)
    cyc = system_cycles(prog) * count
    macs = M * N * K * count
    return GemmResult(name, macs, cyc, macs / (cyc * geo.macs_per_cycle))


def evaluate_workload(gemms: Sequence, geo: SystemGeometry, *,
                      freq_hz: float = SOSA["freq_hz"],
                      dram_bytes_per_s: float | None = None,
                      bytes_per_word: float = 1.0) -> dict[str, float]:
    """A workload (``golden.workloads.Gemm`` list) on one system: total cycles, utilization,
    effective TOPS (2 MACs per useful MAC / time).

    With ``dram_bytes_per_s``, each GEMM also takes at least the time to stream its operands
    and results once from DRAM (``bytes_per_word`` per element): an analytic bound, as in
    SOSA's simulator, outside the exact on-chip cycle model.
    """
    cycles = macs = 0
    for g in gemms:
        r = evaluate_gemm(g.M, g.N, g.K, geo, count=g.count, name=g.name)
        c = r.cycles
        if dram_bytes_per_s:
            b = (g.M * g.K + g.K * g.N + g.M * g.N) * bytes_per_word * g.count
            c = max(c, math.ceil(b / dram_bytes_per_s * freq_hz))
        cycles += c
        macs += r.macs
    secs = cycles / freq_hz
    return {"cycles": cycles, "macs": macs, "seconds": secs,
            "utilization": macs / (cycles * geo.macs_per_cycle),
            "effective_tops": 2 * macs / secs / 1e12}


# ---- the RTL system's program (hw/system.py) ------------------------------------------------

#: ``load.space`` values and the configuration words per bank (``addr = 8 * bank + index``);
#: hw.system defines the same (a test checks they agree).
LOAD_SPACES = {"act": 0, "w": 1, "config": 2}
CONFIG_FIELDS = ("act_count", "act_dest", "w_count", "w_dest", "res_count", "res_dest")
CONFIG_STRIDE = 8


@dataclass
class SystemImage:
    """Everything a testbench needs for one GEMM on the RTL system."""

    load_beats: list[int]     #: packed ``load`` payloads (space, bank, addr, data), in order
    rd_beats: list[int]       #: expected ``rd`` payloads (result banks in order, bank 0 first)
    out: np.ndarray           #: the M x N FP32 result (uint32)
    cycles: int               #: :func:`system_cycles` (``busy`` high, exact without conflicts)
    perm: list[int]           #: bank k holds the streams of pod ``perm[k]``
    widths: dict[str, int] = field(default_factory=dict)


def _pack(fields: list[tuple[int, int]]) -> int:
    out, pos = 0, 0
    for v, w in fields:
        out |= (int(v) & ((1 << w) - 1)) << pos
        pos += w
    return out


def system_program(a: np.ndarray, w: np.ndarray, geo: SystemGeometry, eng, *,
                   depths: tuple[int, int, int], perm: Sequence[int] | None = None
                   ) -> SystemImage:
    """Bank images, configuration and expected results of ``A @ W`` on the RTL system.

    ``eng`` is the engines' :class:`golden.engine.EngineGeometry` (``tile`` = ``geo.part``,
    nearest-even rounding: every pod's converter would otherwise continue its own LFSR
    sequence). A job is the engine GEMM of its partition rows and n-tile columns
    (:func:`golden.engine.engine_program`), so a pod's streams are its jobs' streams back to
    back. ``perm`` places pod ``perm[k]``'s streams in bank k (default: the identity) and its
    results in result bank k; ``depths`` are the banks' (activation, weight, result) words.
    """
    if eng.tile != geo.part or eng.rows != geo.rows or eng.cols != geo.cols:
        raise ParamError("the engines' tile and shape must be the system's partition and pod",
                         field="part")
    if eng.stochastic:
        raise ParamError("the multi-pod system rounds to nearest even", field="rounding")
    bits = _f32_bits(a)
    M, K = bits.shape
    w = np.asarray(w, np.float32)
    N = w.shape[1]
    prog = compile_gemm(M, N, K, geo)
    P, C = geo.pods, geo.cols
    perm = list(range(P)) if perm is None else [int(x) for x in perm]
    if sorted(perm) != list(range(P)):
        raise ValueError(f"perm must be a permutation of 0..{P - 1}, not {perm}")
    bank_of = {p: k for k, p in enumerate(perm)}
    s_a = int8_act_scale(bits) if eng.arith == "int8" else None
    lay = EngineLayout(eng)
    act_w, w_w, res_w = lay.width(lay.act), lay.width(lay.w), lay.width(lay.res)
    ad, wd, rdp = depths
    bb = max(1, (P - 1).bit_length())
    ab = max(ad, wd, rdp, CONFIG_STRIDE * P).bit_length()
    db = max(act_w, w_w, 32)
    streams = {p: {"act": [], "w": [], "res": []} for p in range(P)}
    out = np.zeros((M, N), np.uint32)
    for job in prog.jobs:
        cols = slice(job.n * C, min(N, (job.n + 1) * C))
        sub = engine_program(bits[job.r0:job.r1], w[:, cols], eng, act_scale=s_a)
        st = streams[job.pod]
        st["act"] += sub.act_beats
        st["w"] += sub.w_beats
        st["res"] += [_pack([(int(x), 32) for x in row] + [(int(last), 1)])
                      for row, last in zip(sub.res, sub.res_last, strict=True)]
        out[job.r0:job.r1, cols] = sub.out
    loads: list[int] = []

    def load(space: str, bank: int, addr: int, value: int) -> None:
        loads.append(_pack([(LOAD_SPACES[space], 2), (bank, bb), (addr, ab), (value, db)]))

    for k, p in enumerate(perm):
        st = streams[p]
        for kind, depth in (("act", ad), ("w", wd), ("res", rdp)):
            if len(st[kind]) > depth:
                raise ParamError(f"pod {p} needs {len(st[kind])} {kind} words, more than a "
                                 f"bank's {depth}", field="bank_words")
        for kind in ("act", "w"):
            for i, v in enumerate(st[kind]):
                load(kind, k, i, v)
        cfg = {"act_count": len(st["act"]), "act_dest": p, "w_count": len(st["w"]),
               "w_dest": p, "res_count": len(streams[perm[k]]["res"]), "res_dest": bank_of[k]}
        for i, f in enumerate(CONFIG_FIELDS):
            load("config", 0, CONFIG_STRIDE * k + i, cfg[f])
    rd = [_pack([(k, bb), (v, res_w)]) for k, p in enumerate(perm) for v in streams[p]["res"]]
    return SystemImage(loads, rd, out, system_cycles(prog), perm,
                       {"load": 2 + bb + ab + db, "rd": res_w + bb, "bank": bb, "addr": ab,
                        "data": db, "res": res_w})
