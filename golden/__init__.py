"""sqgen golden model: pure NumPy, the single source of truth for RTL tests and reports.

Modules: :mod:`golden.formats` (HBFP, MX, INT8 quantizers), :mod:`golden.sparsity` (N:M and
unstructured pruning, compressed form), :mod:`golden.interplay` (S->Q / Q->S composition and error
metrics), :mod:`golden.arith` (bit-exact twins of the RTL blocks), :mod:`golden.nm_hw` (sparse
decoder twin, metadata packing), :mod:`golden.systolic` (pod model and cycle formulas),
:mod:`studies.interplay` (``make interplay``), :mod:`studies.minilm` (NumPy MiniLM encoder with
pluggable linear-layer arithmetic), :mod:`studies.sentences` (the study's sentence set).
No amaranth or cocotb imports anywhere in this package.
"""
