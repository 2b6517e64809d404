"""The scale-out tile compiler, cycle and power models (golden/scaleout.py) and the workloads."""

from __future__ import annotations

import math

import numpy as np
import pytest

from golden.engine import EngineGeometry, engine_cycles
from golden.facts import ParamError
from golden.scaleout import (
    BANK_READ,
    DONE_FLAG,
    INPUT_FIFO,
    READ_FIFO,
    SystemGeometry,
    compile_gemm,
    evaluate_workload,
    network_latency,
    network_power_w,
    pods_under_budget,
    sosa_power_w,
    system_cycles,
)
from golden.workloads import bert, bert_layer, minilm, resnet50, workload


@pytest.mark.parametrize("shape", [(37, 11, 23), (64, 64, 64), (5, 3, 200), (130, 70, 9)])
@pytest.mark.parametrize("pods,rc,part", [(4, (4, 4), 8), (8, (4, 3), 5), (2, (8, 8), 64),
                                          (16, (2, 2), 1)])
def test_jobs_tile_the_output_exactly_once(shape, pods, rc, part):
    M, N, K = shape
    geo = SystemGeometry(pods, *rc, part)
    prog = compile_gemm(M, N, K, geo)
    cover = np.zeros((M, math.ceil(N / rc[1]) * rc[1]), int)
    for j in prog.jobs:
        cover[j.r0:j.r1, j.n * rc[1]:(j.n + 1) * rc[1]] += 1
        assert prog.per_pod[j.pod][j.slot] is j
    assert (cover == 1).all()
    assert sum(prog.res_words) == M * math.ceil(N / rc[1])
    # each bank holds its pod's streams in order: every job's rows and weights for all K-folds
    for p, js in enumerate(prog.per_pod):
        assert prog.act_words[p] == sum(j.rows for j in js) * prog.nkf
        assert prog.w_words[p] == len(js) * prog.nkf * rc[0]


@pytest.mark.parametrize("net", ["crossbar", "butterfly", "benes"])
@pytest.mark.parametrize("shape,part", [((37, 11, 23), 64), ((37, 11, 23), 8),
                                        ((9, 16, 40), 3)])
def test_one_pod_is_the_engine_plus_the_bank_and_network_path(net, shape, part):
    """One pod runs the whole GEMM: the engine's schedule (n, tile, k) and its exact cycles."""
    pods = 2 if net != "crossbar" else 1
    M, N, K = shape
    geo = SystemGeometry(pods, 4, 4, part, net)
    eng = EngineGeometry(4, 4, 5, 24, part)
    prog = compile_gemm(M, N, K, geo)
    if pods == 1:
        lat = network_latency(net, pods)
        want = (BANK_READ + READ_FIFO + lat + INPUT_FIFO + engine_cycles(M, N, K, eng) + lat
                + DONE_FLAG)
        assert system_cycles(prog) == want
    # with more pods, no pod does more folds than the one-pod engine, and the busiest sets it
    one = compile_gemm(M, N, K, SystemGeometry(1, 4, 4, part, "crossbar"))
    assert system_cycles(prog) <= system_cycles(one) + 2 * network_latency(net, pods)


def test_more_pods_never_slower_and_utilization_bounded():
    prev = None
    for pods in (2, 4, 8, 16, 32):
        r = evaluate_workload(minilm(128), SystemGeometry(pods, 8, 8, 32))
        assert 0 < r["utilization"] <= 1
        if prev is not None:
            assert r["cycles"] <= prev
        prev = r["cycles"]


def test_bus_serializes_and_is_slowest():
    gem = [g for g in minilm(64)][:3]
    fast = evaluate_workload(gem, SystemGeometry(16, 8, 8, 16, "crossbar"))
    bus = evaluate_workload(gem, SystemGeometry(16, 8, 8, 16, "bus"))
    assert bus["cycles"] > 4 * fast["cycles"]


def test_network_latency_and_power_follow_sosa():
    assert [network_latency(k, 256, 0) for k in ("crossbar", "bus", "benes", "butterfly")] == \
        [1, 1, 15, 8]
    assert network_latency("butterfly", 256, 2) == 12
    w = 2.875e-5 * 4
    assert network_power_w("crossbar", 8, 4) == pytest.approx(w * 64)
    assert network_power_w("benes", 8, 4) == pytest.approx(w * 2 * 8 * 3)
    assert network_power_w("butterfly", 8, 4, 1) == pytest.approx(w * 16 * 4)
    assert network_power_w("bus", 8, 4) == pytest.approx(w)
    p = sosa_power_w(SystemGeometry(256, 32, 32, 32))
    assert p["mac_w"] == pytest.approx(32 * 32 * 256 * 0.4e-12 * 1e9)
    assert p["sram_w"] == pytest.approx((32 + 5 * 32) * 256 * 2.7e-12 * 1e9)
    n = pods_under_budget(32, 32, "butterfly", expand=1)
    assert sosa_power_w(SystemGeometry(n, 32, 32, 32, "butterfly", 1))["total_w"] <= 400
    assert sosa_power_w(SystemGeometry(2 * n, 32, 32, 32, "butterfly", 1))["total_w"] > 400


def test_workload_shapes():
    assert sum(g.macs for g in resnet50()) == pytest.approx(4.09e9, rel=0.01)
    layer = bert_layer(768, 12, 3072, 128)
    params = sum(g.N * g.K * g.count for g in layer if g.name in ("qkv", "out", "ffn_up",
                                                                  "ffn_down"))
    assert params == 4 * 768**2 + 2 * 768 * 3072  # BERT-base: 7.08 M weights per layer
    assert len(bert("large", 512)) == 6 and bert("large", 512)[0].count == 3 * 24
    with pytest.raises(ValueError, match="unknown workload"):
        workload("gpt-5")


@pytest.mark.parametrize("kw,field", [
    (dict(pods=6, net="butterfly"), "pods"),
    (dict(pods=1, net="benes"), "pods"),
    (dict(expand=5), "expand"),
    (dict(expand=1, net="crossbar"), "expand"),
    (dict(part=0), "part"),
    (dict(net="mesh"), "net"),
    (dict(pods=0, net="bus"), "pods"),
])
def test_bad_system_parameters(kw, field):
    with pytest.raises(ParamError) as e:
        SystemGeometry(**(dict(pods=4, rows=4, cols=4, part=8) | kw))
    assert e.value.field == field


def test_a_partition_that_does_not_fit_a_bank_is_refused():
    geo = SystemGeometry(4, 4, 4, 64, bank_words=100)
    with pytest.raises(ParamError, match="partition size 64") as e:
        compile_gemm(64, 8, 64, geo)
    assert e.value.field == "part"
    compile_gemm(64, 8, 4, geo)  # one fold per partition fits
