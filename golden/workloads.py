"""GEMM shapes of the scale-out workloads: BERT-base/large, MiniLM-L6 and ResNet-50.

Pure Python facts (no weights): every layer as the GEMMs it runs, ``A (M x K) @ W (K x N)``,
with a repeat count (heads, identical layers). Convolutions are lowered to GEMMs by im2col:
``M = batch * H_out * W_out``, ``K = C_in * kh * kw``, ``N = C_out``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Gemm", "bert", "bert_layer", "resnet50", "minilm", "WORKLOADS", "workload"]


@dataclass(frozen=True)
class Gemm:
    """One GEMM of a workload, run ``count`` times (heads, repeated layers)."""

    name: str
    M: int
    N: int
    K: int
    count: int = 1

    @property
    def macs(self) -> int:
        return self.M * self.N * self.K * self.count


def bert_layer(hidden: int, heads: int, ffn: int, seq: int, *, prefix: str = "") -> list[Gemm]:
    """One transformer encoder layer: Q, K, V, the per-head scores and context, the output
    projection, FFN up and down (softmax, layer norms and biases are not GEMMs)."""
    dh = hidden // heads
    return [
        Gemm(f"{prefix}qkv", seq, hidden, hidden, 3),
        Gemm(f"{prefix}scores", seq, seq, dh, heads),
        Gemm(f"{prefix}context", seq, dh, seq, heads),
        Gemm(f"{prefix}out", seq, hidden, hidden),
        Gemm(f"{prefix}ffn_up", seq, ffn, hidden),
        Gemm(f"{prefix}ffn_down", seq, hidden, ffn),
    ]


def _layers(one: list[Gemm], n: int) -> list[Gemm]:
    return [Gemm(g.name, g.M, g.N, g.K, g.count * n) for g in one]


def bert(size: str, seq: int) -> list[Gemm]:
    """BERT-base (12 layers, 768, 12 heads, FFN 3072) or -large (24, 1024, 16, 4096)."""
    hidden, heads, ffn, layers = {"base": (768, 12, 3072, 12),
                                  "large": (1024, 16, 4096, 24)}[size]
    return _layers(bert_layer(hidden, heads, ffn, seq), layers)


def minilm(seq: int = 128) -> list[Gemm]:
    """MiniLM-L6 (all-MiniLM-L6-v2: 6 layers, 384, 12 heads, FFN 1536)."""
    return _layers(bert_layer(384, 12, 1536, seq), 6)


def resnet50(batch: int = 1) -> list[Gemm]:
    """ResNet-50 v1.5 (stride on the 3x3 convolution), 224x224 input, as im2col GEMMs, plus
    the final fully connected layer."""
    out: list[Gemm] = []

    def conv(name: str, hw: int, cin: int, cout: int, k: int, stride: int = 1) -> int:
        ho = (hw + 2 * (k // 2) - k) // stride + 1
        out.append(Gemm(name, batch * ho * ho, cout, cin * k * k))
        return ho

    hw = conv("conv1", 224, 3, 64, 7, 2)
    hw = (hw + 2 - 3) // 2 + 1  # 3x3/2 max pool: 112 -> 56
    cin = 64
    for s, (blocks, width) in enumerate(((3, 64), (4, 128), (6, 256), (3, 512))):
        for b in range(blocks):
            stride = 2 if (b == 0 and s > 0) else 1
            p = f"s{s + 2}b{b}"
            conv(f"{p}.conv1", hw, cin, width, 1)
            ho = conv(f"{p}.conv2", hw, width, width, 3, stride)
            conv(f"{p}.conv3", ho, width, width * 4, 1)
            if b == 0:
                conv(f"{p}.down", hw, cin, width * 4, 1, stride)
            hw, cin = ho, width * 4
    out.append(Gemm("fc", batch, 1000, 2048))
    return out


#: The scale-out report's workload suite: name -> GEMM list.
WORKLOADS = {
    "bert-base-128": lambda: bert("base", 128),
    "bert-base-512": lambda: bert("base", 512),
    "bert-large-128": lambda: bert("large", 128),
    "bert-large-512": lambda: bert("large", 512),
    "resnet50": lambda: resnet50(1),
    "minilm-128": lambda: minilm(128),
}


def workload(name: str) -> list[Gemm]:
    """The GEMMs of workload ``name`` (one of :data:`WORKLOADS`)."""
    if name not in WORKLOADS:
        raise ValueError(f"unknown workload {name!r}; known: {', '.join(WORKLOADS)}")
    return WORKLOADS[name]()
