"""MiniLM workloads for the power flow: ``python -m studies.power_workloads`` (``make power``).

The power flow (:mod:`flow.power`) sits below the studies layer and has no MiniLM data; this
module supplies it. :func:`minilm_pod_workload` takes a slice of a real MiniLM linear layer --
the FP32 inputs the layer sees in the NumPy forward pass on the study sentences
(:func:`studies.engine_layers.layer_gemm`), one token per activation row, and the layer's
weights -- and encodes it in the pod's HBFP format (:func:`golden.formats.hbfp_encode`, blocks
along the reduction, round to nearest even; N:M-pruned first on a sparse pod).

``python -m studies.power_workloads [flow power options]`` is ``python -m flow power`` with
``minilm`` added, and made the pod's default workload.
"""

from __future__ import annotations

import sys

import numpy as np

from flow import power, power_cli
from gen.config import ConfigError
from golden.formats import hbfp_encode
from golden.sparsity import nm_prune
from golden.systolic import PodGeometry

__all__ = ["LAYER", "minilm_pod_workload", "main"]

#: The layer the pod's workload is cut from: the first encoder block's query projection
#: (inputs: LayerNorm'd token embeddings, 384 wide; weights 384 x 384).
LAYER = "layer.0.attention.self.query"


def minilm_pod_workload(geo: PodGeometry, *, gemm: tuple[int, int, int] | None = None,
                        seed: int = 1, layer: str = LAYER) -> power.PodWorkload:
    """A ``M x K @ K x N`` slice of MiniLM layer ``layer`` in the pod's HBFP format.

    ``gemm`` defaults to :func:`flow.power.default_pod_gemm` (64 tokens). ``seed`` is unused
    (the data is fixed); it keeps the provider signature of :mod:`flow.power_cli`.
    """
    from studies.minilm import study_extra_missing

    why = study_extra_missing()
    if why:
        raise ConfigError(f"workload minilm: {why}")
    from studies.engine_layers import layer_gemm

    M, N, K = gemm or power.default_pod_gemm(geo)
    if K > 384 or N > 384:
        raise ConfigError(f"workload minilm: {layer} is 384 x 384; a {M}x{N}x{K} GEMM does not "
                          "fit (K and N at most 384)")
    a, w = layer_gemm(layer, M, k=K, n=N)
    if len(a) < M:
        raise ConfigError(f"workload minilm: the study sentences give {len(a)} tokens, not {M}")
    if geo.sparse:
        w = nm_prune(w, geo.n, geo.m, axis=0)
    ea, qa = hbfp_encode(a, geo.mant_bits, geo.block_size, axis=1)
    ew, qw = hbfp_encode(w, geo.mant_bits, geo.block_size, axis=0)
    desc = (f"MiniLM {layer}: {M} tokens x {K} inputs -> {N} outputs, HBFP m={geo.mant_bits} "
            f"block {geo.block_size}" + (f", weights {geo.n}:{geo.m}-pruned" if geo.sparse
                                        else ""))
    return power.PodWorkload("minilm", geo, np.asarray(qa, np.int64), np.asarray(ea, np.int64),
                             np.asarray(qw, np.int64), np.asarray(ew, np.int64), desc)


def main(argv: list[str] | None = None) -> int:
    """``python -m flow power`` with the ``minilm`` workload (the pod's default here)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "power":
        args = ["power", *args]
    return power_cli.main(args, workloads={"minilm": minilm_pod_workload},
                          default_workload="minilm", prog="python -m studies.power_workloads")


if __name__ == "__main__":
    sys.exit(main())
