# amaranth: UnusedElaboratable=no
"""Formal tier (flow/formal.py): SAT proofs of the N:M decoder and the PE against behavioural
specs, and, for every proof, a mutant on which the same proof must report a counterexample.

Proofs (each prints one summary line; run ``pytest -s`` to see them):

* ``decoder.select``: ``registered=False`` decoder, ``o__payload``/``o__valid`` equal to the
  spec for *all* inputs (combinational, exhaustive).
* ``decoder.registered``: ``registered=True`` decoder, ``o__payload``/``o__valid`` (latency 1,
  hold between valid beats, cleared by ``rst``) equal for every input sequence (induction).
* ``decoder.meta_error``: the sticky flag equals the spec's flag for every input sequence
  (induction), registered and combinational decoders.
* ``pe.mac``: every PE output equals the spec for every input sequence (induction over the
  paired state: outputs and both weight banks).

Counterexamples of the negative tests are also replayed on the golden model, which checks the
Verilog specs against ``golden.nm_hw`` on the traces the solver picked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from amaranth.hdl import Const, Module, Signal
from amaranth.lib.wiring import In

from flow import formal
from flow.formal import FormalError
from golden import nm_hw
from golden.facts import ParamError
from hw.arith import MantissaMAC
from hw.decoder import NMDecoder
from hw.pe import PE

# (n, m, groups, width, packed24): small N:M points, power-of-two and not, packed 2:4 metadata
DECODERS = [
    (2, 4, 1, 3, False),
    (2, 4, 2, 3, False),
    (1, 4, 1, 4, False),
    (3, 4, 1, 3, False),
    (2, 8, 2, 4, False),
    (1, 5, 2, 3, False),
    (2, 4, 2, 3, True),
]
# wider points, three proofs each, 1-4 s; 8:16 x 4 groups (~4 s) only in `make regress`
DECODERS_WIDE = [(4, 16, 2, 8, False), (3, 7, 3, 6, False), (2, 4, 4, 8, True),
                 (15, 16, 2, 8, False)]
DECODERS_SLOW = [(8, 16, 4, 8, False)]
# (mant_bits, acc_width, sel): tiny widths, then HBFP4/HBFP6 with their pod accumulators
PES = [(3, 10, 1), (3, 10, 4), (2, 8, 3), (2, 6, 2), (3, 21, 4), (5, 25, 4)]
# HBFP8 (8-bit signed multipliers): 15-20 s each, `make regress` only
PES_SLOW = [(7, 20, 1), (7, 20, 8), (7, 29, 4)]


def _dec_id(cfg):
    n, m, g, w, pk = cfg
    return f"{n}:{m}-g{g}-w{w}{'-packed' if pk else ''}"


def _pe_id(cfg):
    return "m{}-acc{}-sel{}".format(*cfg)


def _run(spec, dut, name, **kw):
    res = formal.prove_equiv(spec, formal.amaranth_source(dut), name=name, **kw)
    print(res.summary())
    assert "\n" not in res.summary()
    return res


def _proved(res):
    assert res.passed, res.summary()
    assert res.counterexample is None


def _refuted(res):
    assert res.failed, res.summary()
    cex = res.counterexample
    assert cex is not None and cex.mismatches, res.summary()
    return cex


# ---- mutants: a wrapper around the real block that corrupts one connection ---------------------
def _connect(m, outer, inner, skip=()):
    """Wire ``outer``'s ports to ``inner``'s (same signature), except the paths in ``skip`` and
    the constant members (an ``always_ready`` stream's ``ready``)."""
    pairs = zip(outer.signature.flatten(outer), inner.signature.flatten(inner), strict=True)
    for (path, member, ov), (_, _, iv) in pairs:
        if path in skip or isinstance(ov, Const):
            continue
        m.d.comb += iv.eq(ov) if member.flow == In else ov.eq(iv)


class _DecoderMutant(NMDecoder):
    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        m.submodules.inner = inner = NMDecoder(
            n=self.n, m=self.m, groups=self.groups, width=self.width, packed24=self.packed24,
            registered=self.registered)
        self.corrupt(m, inner)
        return m


class SwapLanes(_DecoderMutant):
    """Lanes 0 and 1 of the output swapped."""

    def corrupt(self, m, inner):
        _connect(m, self, inner, skip={("o", "payload")})
        out, got = self.o.payload.act, inner.o.payload.act
        m.d.comb += [out[0].eq(got[1]), out[1].eq(got[0])]
        m.d.comb += [out[k].eq(got[k]) for k in range(2, self.lanes)]


class NoClear(_DecoderMutant):
    """``clear`` not connected: the flag never drops until reset."""

    def corrupt(self, m, inner):
        _connect(m, self, inner, skip={("clear",)})
        m.d.comb += inner.clear.eq(0)


class WrongBank(PE):
    """The MAC reads the other weight bank (the bank bit passed east is still right)."""

    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        m.submodules.inner = inner = PE(arith=self.arith, sel=self.sel)
        _connect(m, self, inner, skip={("in_act", "bank"), ("out_act", "bank")})
        bank_r = Signal(reset_less=True)  # the correct bank bit, registered here
        with m.If(self.en):
            m.d.sync += bank_r.eq(self.in_act.bank)
        m.d.comb += [inner.in_act.bank.eq(~self.in_act.bank), self.out_act.bank.eq(bank_r)]
        return m


class WriteGatedByEn(PE):
    """Weight writes wrongly stall with the array (``we & en``)."""

    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        m.submodules.inner = inner = PE(arith=self.arith, sel=self.sel)
        _connect(m, self, inner, skip={("w", "we")})
        m.d.comb += inner.w.we.eq(self.w.we & self.en)
        return m


@dataclass(frozen=True)
class SubMAC(MantissaMAC):
    """Subtracts the product instead of adding it."""

    name: str = "hbfp_sub"

    def mac(self, acc, w, a, m=None):
        return acc - w * a


def _mutate_spec(src, old, new, count=1):
    """A copy of a spec with ``old`` replaced by ``new`` (which must occur ``count`` times)."""
    assert src.text.count(old) == count, (old, src.text)
    return formal.verilog_source(src.text.replace(old, new), src.top)


# ---- golden replay of a counterexample --------------------------------------------------------
def _signed(v, bits):
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _lanes(word, width, count, lsb=0, signed=True):
    """Elements ``0..count-1`` of ``width`` bits from bit ``lsb`` of a payload word."""
    return [(_signed if signed else (lambda v, b: v & ((1 << b) - 1)))(
        word >> (lsb + k * width), width) for k in range(count)]


def _trace_idx(s, n, m, groups, width, packed24):
    """The per-lane indices in the ``i__payload`` of one counterexample step."""
    base = groups * m * width
    if packed24:
        return _lanes(s["i__payload"], 2, groups * n, base, signed=False)
    return _lanes(s["i__payload"], nm_hw.index_bits(m), groups * n, base, signed=False)


def _decoder_trace_inputs(cex, n, m, groups, width, packed24):
    steps = range(1, cex.steps + 1)
    ins = [cex.inputs(t) for t in steps]
    act = np.array([_lanes(s["i__payload"], width, groups * m) for s in ins])
    idx = np.array([_trace_idx(s, n, m, groups, width, packed24) for s in ins])
    bits = {k: np.array([s[k] for s in ins], bool) for k in ("i__valid", "clear", "rst")}
    return act, idx, bits


def _check_decoder_spec_on_trace(cex, cfg, registered, from_reset=True):
    """The spec side of the trace is what golden.nm_hw predicts, cycle by cycle.

    ``from_reset=False`` (combinational proofs: registers free) starts from the trace's
    register values instead of zeros.
    """
    n, m, groups, width, packed24 = cfg
    act, idx, b = _decoder_trace_inputs(cex, n, m, groups, width, packed24)
    sel = nm_hw.decode_select(act, idx, n, m)
    viol = nm_hw.meta_violation(idx, n, m)
    err, out = 0, [0] * (groups * n)  # register values in step 1 (all-zero start)
    if not from_reset:
        first = cex.trace[0]
        err = first["gold_meta_error"]
        out = _lanes(first["gold_o__payload"], width, groups * n)
    for t in range(cex.steps):
        got = cex.trace[t]
        assert got["gold_meta_error"] == err, (t + 1, cex.summary())
        want = out if registered else list(sel[t])
        assert _lanes(got["gold_o__payload"], width, groups * n) == list(want), (t + 1)
        # clock edge (synchronous rst wins; a violation wins over a clear)
        if b["rst"][t]:
            err, out = 0, [0] * (groups * n)
        else:
            err = int((err and not b["clear"][t]) or (b["i__valid"][t] and viol[t]))
            if b["i__valid"][t]:
                out = list(sel[t])


def _check_pe_spec_on_trace(cex, cfg):
    """The spec side of the trace is the PE cycle model (as tests/test_pe.py writes it)."""
    mant_bits, acc, sel = cfg
    mw = mant_bits + 1
    w, idx, psum, act = [0, 0], [0, 0], 0, (0, 0)
    for t in range(cex.steps):
        got, s = cex.trace[t], cex.inputs(t + 1)
        assert _signed(got["gold_out_psum__data"], acc) == psum, (t + 1, cex.summary())
        assert (got["gold_out_act__data"], got["gold_out_act__bank"]) == act, (t + 1, act)
        b = s["in_act__bank"]
        lanes = [_signed(s["in_act__data"] >> (i * mw), mw) for i in range(sel)]
        i = idx[b] if sel > 1 else 0
        a = lanes[i] if i < sel else 0
        if s["en"]:
            psum = _signed(s["in_psum__data"] + w[b] * a, acc)
            act = (s["in_act__data"], b)
        if s["w__we"]:
            w[s["w__bank"]] = _signed(s["w__data"], mw)
            if sel > 1:
                idx[s["w__bank"]] = s["w__idx"]


# ---- decoder -----------------------------------------------------------------------------------
def _decoder(cfg, registered, cls=NMDecoder):
    n, m, g, w, pk = cfg
    dut = cls(n=n, m=m, groups=g, width=w, packed24=pk, registered=registered)
    spec = formal.decoder_spec(n, m, g, w, registered=registered, packed24=pk)
    return spec, dut


def _sel_outputs(cfg):  # noqa: ARG001
    return ["o__valid", "o__payload"]


def _differing_lanes(cex, cfg):
    """Output lanes in which spec and DUT differ, over every mismatch of ``o__payload``."""
    n, _, g, w, _ = cfg
    out = set()
    for _, what, spec_v, dut_v in cex.mismatches:
        assert what == "o__payload", what
        a, b = _lanes(spec_v, w, g * n), _lanes(dut_v, w, g * n)
        out |= {k for k in range(g * n) if a[k] != b[k]}
    return out


def _tag(cls, base, spec_edit):
    return ("" if cls is base else f"+{cls.__name__}") + (
        f"+spec:{spec_edit.__name__}" if spec_edit else "")


def _decoder_select(cfg, cls=NMDecoder, spec_edit=None):
    spec, dut = _decoder(cfg, False, cls)
    spec = spec_edit(spec) if spec_edit else spec
    return _run(spec, dut, f"decoder.select[{_dec_id(cfg)}]{_tag(cls, NMDecoder, spec_edit)}",
                method="combinational", outputs=_sel_outputs(cfg))


def _decoder_registered(cfg, cls=NMDecoder, spec_edit=None):
    spec, dut = _decoder(cfg, True, cls)
    spec = spec_edit(spec) if spec_edit else spec
    return _run(spec, dut, f"decoder.registered[{_dec_id(cfg)}]{_tag(cls, NMDecoder, spec_edit)}",
                method="induction", outputs=_sel_outputs(cfg))


def _decoder_meta(cfg, registered, cls=NMDecoder, spec_edit=None):
    spec, dut = _decoder(cfg, registered, cls)
    spec = spec_edit(spec) if spec_edit else spec
    name = (f"decoder.meta_error[{_dec_id(cfg)}-{'reg' if registered else 'comb'}]"
            f"{_tag(cls, NMDecoder, spec_edit)}")
    return _run(spec, dut, name, method="induction", outputs=["meta_error"])


@pytest.mark.parametrize("cfg", DECODERS, ids=_dec_id)
def test_decoder_select_equals_spec_for_all_inputs(cfg):
    _proved(_decoder_select(cfg))


@pytest.mark.parametrize("cfg", DECODERS, ids=_dec_id)
def test_decoder_registered_outputs_equal_spec_by_induction(cfg):
    res = _decoder_registered(cfg)
    _proved(res)
    assert res.depth == 1  # the outputs are the state: 1-inductive


@pytest.mark.parametrize("registered", [True, False], ids=["reg", "comb"])
@pytest.mark.parametrize("cfg", DECODERS, ids=_dec_id)
def test_decoder_meta_error_equals_sticky_spec_by_induction(cfg, registered):
    res = _decoder_meta(cfg, registered)
    _proved(res)
    assert res.depth == 1


def _decoder_all(cfg):
    spec, dut = _decoder(cfg, True)
    return _run(spec, dut, f"decoder.all_outputs[{_dec_id(cfg)}]", method="induction")


@pytest.mark.parametrize("cfg", [DECODERS[0], DECODERS[6]], ids=_dec_id)
def test_decoder_all_outputs_equal_spec_by_induction(cfg):
    _proved(_decoder_all(cfg))


@pytest.mark.parametrize("cfg", DECODERS_WIDE + [
    pytest.param(c, marks=pytest.mark.slow) for c in DECODERS_SLOW], ids=_dec_id)
def test_decoder_wide_configs(cfg):
    _proved(_decoder_all(cfg))
    _proved(_decoder_select(cfg))
    _proved(_decoder_meta(cfg, False))


# -- negative: each decoder proof reports a counterexample on an injected bug
@pytest.mark.parametrize("cfg", [DECODERS[1], DECODERS[6]], ids=_dec_id)
def test_decoder_select_catches_swapped_lanes(cfg):
    cex = _refuted(_decoder_select(cfg, SwapLanes))
    assert _differing_lanes(cex, cfg) <= {0, 1}
    _check_decoder_spec_on_trace(cex, cfg, registered=False, from_reset=False)


def test_decoder_select_catches_spec_without_window():
    # A spec whose lane 0 also selects act[3] (no window: [0, 2] for 2:4) disagrees with the
    # DUT exactly on an out-of-window index; the counterexample must show one.
    cfg = (2, 4, 1, 3, False)
    spec, dut = _decoder(cfg, False)
    spec = _mutate_spec(spec, "if (idx_0 >= 0 && idx_0 <= 2)", "if (1'b1)")
    spec = _mutate_spec(spec, "      0: sel_0 = act_0;",
                        "      0: sel_0 = act_0;\n      3: sel_0 = act_3;")
    cex = _refuted(_run(spec, dut, "decoder.select[2:4-g1-w3]+spec_without_window",
                        method="combinational", outputs=_sel_outputs(cfg)))
    assert cex.mismatches[0][1] == "o__payload" and _differing_lanes(cex, cfg) == {0}
    assert _trace_idx(cex.inputs(1), 2, 4, 1, 3, False)[0] == 3


@pytest.mark.parametrize("cfg", [DECODERS[0], DECODERS[4]], ids=_dec_id)
def test_decoder_registered_catches_swapped_lanes(cfg):
    cex = _refuted(_decoder_registered(cfg, SwapLanes))
    assert cex.steps >= 2  # latency 1: the bug shows one cycle after the beat
    _check_decoder_spec_on_trace(cex, cfg, registered=True)


def test_decoder_registered_catches_spec_without_hold():
    # Spec mutant: the output payload loads on every cycle, not only on valid beats.
    cfg = DECODERS[0]

    def no_hold(s):
        return _mutate_spec(s, "if (i__valid) begin", "if (1'b1) begin")

    cex = _refuted(_decoder_registered(cfg, spec_edit=no_hold))
    last = cex.inputs(cex.mismatches[0][0] - 1)
    assert last["i__valid"] == 0 and last["rst"] == 0


@pytest.mark.parametrize("registered", [True, False], ids=["reg", "comb"])
@pytest.mark.parametrize("cfg", [DECODERS[0], DECODERS[3], DECODERS[5], DECODERS[6]],
                         ids=_dec_id)
def test_decoder_meta_error_catches_dropped_clear(cfg, registered):
    cex = _refuted(_decoder_meta(cfg, registered, NoClear))
    step, what, spec_v, dut_v = cex.mismatches[0]
    assert (what, spec_v, dut_v) == ("meta_error", 0, 1)
    assert cex.inputs(step - 1)["clear"] == 1
    _check_decoder_spec_on_trace(cex, cfg, registered)


@pytest.mark.parametrize("mutation", ["equal_indices_ok", "clear_wins"])
def test_decoder_meta_error_catches_spec_mutants(mutation):
    cfg = DECODERS[1]
    old, new = {
        # the rule says idx[j] >= idx[j+1] is a violation; ">" lets duplicates through
        "equal_indices_ok": ("(idx_0 >= idx_1)", "(idx_0 > idx_1)"),
        # the rule says a violation beats a simultaneous clear
        "clear_wins": ("(meta_error & ~clear) | (i__valid & violation)",
                       "(meta_error | (i__valid & violation)) & ~clear"),
    }[mutation]

    def edit(s):
        return _mutate_spec(s, old, new)

    edit.__name__ = mutation
    cex = _refuted(_decoder_meta(cfg, True, spec_edit=edit))
    assert cex.mismatches[0][1] == "meta_error"


# ---- PE ------------------------------------------------------------------------------------------
def _pe(cfg, cls=PE, arith=MantissaMAC, method="induction", state=True, depth=8):
    mant_bits, acc, sel = cfg
    dut = cls(arith=arith(mant_bits, acc), sel=sel)
    tag = _tag(cls, PE, None) + _tag(arith, MantissaMAC, None) + ("" if state else "(outputs only)")
    return _run(formal.pe_spec(mant_bits, acc, sel), dut, f"pe.mac[{_pe_id(cfg)}]{tag}",
                method=method, state=formal.pe_state_map(sel) if state else (), depth=depth)


@pytest.mark.parametrize("cfg", PES, ids=_pe_id)
def test_pe_mac_and_banks_equal_spec_by_induction(cfg):
    res = _pe(cfg)
    _proved(res)
    assert res.depth == 1  # outputs + paired banks are 1-inductive: holds from any paired state
    assert len(res.obligations) == 1 + len(formal.pe_state_map(cfg[2]))


@pytest.mark.slow
@pytest.mark.parametrize("cfg", PES_SLOW, ids=_pe_id)
def test_pe_mac_wide_configs(cfg):
    _proved(_pe(cfg))


def test_pe_outputs_alone_are_not_inductive():
    # Without the paired banks the induction step cannot close (a never-read bank may differ
    # forever): the result is "inconclusive", never a (false) counterexample. Bounded from
    # reset it passes.
    res = _pe(PES[1], state=False, depth=3)
    assert res.status == "inconclusive" and res.counterexample is None, res.summary()
    _proved(_pe(PES[1], state=False, method="bounded", depth=3))


@pytest.mark.parametrize("mutant", ["subtract", "wrong_bank", "write_gated_by_en"])
@pytest.mark.parametrize("cfg", [PES[0], PES[1]], ids=_pe_id)
def test_pe_proof_catches_mutants(cfg, mutant):
    kw = {"subtract": {"arith": SubMAC}, "wrong_bank": {"cls": WrongBank},
          "write_gated_by_en": {"cls": WriteGatedByEn}}[mutant]
    cex = _refuted(_pe(cfg, **kw))
    whats = {w for _, w, _, _ in cex.mismatches}
    if mutant == "write_gated_by_en":
        assert whats & {"bank0_w/w0", "bank1_w/w1"}, cex.summary()  # caught on the banks
    else:
        assert whats == {"out_psum__data"}, cex.summary()
    _check_pe_spec_on_trace(cex, cfg)


def test_pe_bounded_catches_mutant():
    cex = _refuted(_pe(PES[1], arith=SubMAC, method="bounded", depth=3, state=False))
    assert cex.mismatches[0][1] == "out_psum__data"
    _check_pe_spec_on_trace(cex, PES[1])


# ---- the library's own contract ---------------------------------------------------------------
def test_mismatched_ports_are_an_error_not_a_crash():
    spec = formal.pe_spec(3, 10, 4)
    dut = PE(arith=MantissaMAC(3, 10), sel=1)  # no w__idx, narrower in_act
    with pytest.raises(FormalError, match=r"ports of pe_spec and dut differ.*w__idx"):
        formal.prove_equiv(spec, formal.amaranth_source(dut), name="ports")


def test_yosys_error_is_contained():
    bad = formal.verilog_source("module pe_spec(input a; endmodule\n", "pe_spec")
    dut = PE(arith=MantissaMAC(3, 10), sel=1)
    with pytest.raises(FormalError, match="yosys failed"):
        formal.prove_equiv(bad, formal.amaranth_source(dut), name="syntax")


def test_parameters_are_checked():
    spec = formal.pe_spec(3, 10, 1)
    with pytest.raises(ParamError, match="method"):
        formal.prove_equiv(spec, spec, name="x", method="magic")
    with pytest.raises(ParamError, match="different module names"):
        formal.prove_equiv(spec, spec, name="x")
    with pytest.raises(ParamError, match="depth"):
        formal.prove_equiv(spec, formal.pe_spec(3, 10, 1, name="b"), name="x", depth=0)


def test_in_process_mode_proves_too():
    res = _run(formal.pe_spec(2, 6, 2), PE(arith=MantissaMAC(2, 6), sel=2), "pe.mac[in-process]",
               state=formal.pe_state_map(2), isolate=False)
    _proved(res)
