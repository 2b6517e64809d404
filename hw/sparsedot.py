"""Sparse HBFP dot-product unit: N:M-compressed weights times dense activations.

Composes :class:`hw.decoder.NMDecoder` with :class:`hw.dot.HBFPDot` of ``n*block/m`` lanes, so
``n`` multipliers do the work of ``m``. Golden twin: :func:`golden.nm_hw.sparse_dot_expected`
(equal to :func:`golden.nm_hw.dense_dot_expected`, the dense dot product of the decompressed
weights, whenever the metadata is valid). See ``docs/sparsity.md``.
"""

from __future__ import annotations

import operator

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib.wiring import In, Out

from golden.facts import EXP_WIDTH, PROD_EXP_WIDTH, ParamError, check_index, check_nm, index_bits
from hw.block import Block, check_input_bits
from hw.decoder import NMDecoder
from hw.dot import HBFPDot

__all__ = ["SparseHBFPDot"]


class SparseHBFPDot(Block):
    """HBFP dot product of an N:M-compressed weight block with a dense activation block.

    Parameters
    ----------
    n, m : int
        Weight sparsity ``n:m`` along the reduction axis, ``1 <= n < m <= 16``.
    block : int
        Dense HBFP block size (reduction terms per beat); ``m`` must divide it.
    mant_bits : int
        Magnitude mantissa bits ``m_w`` of the (wide) format; ports are ``mant_bits+1`` signed.
    acc_width : int
        Accumulator width of the inner :class:`hw.dot.HBFPDot`.
    pipeline : int
        Pipeline depth of the inner dot unit.
    narrow_mant_bits : int or None
        Optional mixed-mantissa narrow mode (adds ``in_mode``), passed to the dot unit.
    packed24 : bool
        Metadata as the packed 2:4 nibble bus ``in_w_meta`` instead of ``in_w_idx__k``.
    decoder_register : bool
        Register the decoder's selections (and delay the weight side band to match): one more
        cycle of latency and ``lanes*(2*(mant_bits+1)) + 2*EXP_WIDTH + 3`` flip-flops, in
        exchange for taking the ``(m-n+1):1`` multiplexer out of the multiply cycle. Default
        ``False``: the selection feeds the dot unit's multipliers directly.

    Ports
    -----
    in_valid, in_first : In(1)
        A beat is presented / it starts a new accumulation (as :class:`hw.dot.HBFPDot`).
    in_mode : In(1)
        Only with ``narrow_mant_bits``: 1 = narrow operands.
    in_clear : In(1)
        Clear the sticky ``meta_error``.
    in_w_exp, in_a_exp : In(signed(EXP_WIDTH))
        Shared exponents of the weight and activation blocks.
    in_w : In(signed(mant_bits+1)).array(lanes)
        Compressed weight mantissas, lane ``k = g*n + j`` (``lanes = n*block/m``).
    in_w_idx : In(unsigned(ceil(log2 m))).array(lanes)
        In-group index of each kept weight (absent with ``packed24``).
    in_w_meta : In(unsigned(block))
        Packed 2:4 nibbles, group ``g`` at ``[4g+3:4g]`` (only with ``packed24``).
    in_a : In(signed(mant_bits+1)).array(block)
        Dense activation mantissas.
    out_valid, out_acc, out_exp : Out
        As :class:`hw.dot.HBFPDot`: value ``out_acc * 2^(out_exp - 2*m_mode)``.
    meta_error : Out(1)
        The decoder's sticky metadata error; it rises one cycle after the offending beat is
        presented (``latency - 1`` cycles before that beat's result), whatever the latency.

    Latency and throughput
    ----------------------
    ``latency = pipeline + decoder_register`` (optional selection register, then the dot
    pipeline); one beat, i.e. ``block`` dense MACs with ``lanes`` multipliers, per cycle.
    """

    @classmethod
    def check(cls, *, n: int, m: int, block: int, mant_bits: int, acc_width: int,
              pipeline: int = 1, narrow_mant_bits: int | None = None, packed24: bool = False,
              decoder_register: bool = False) -> None:
        n, m = check_nm(n, m)
        block = check_index(block, "block size")
        if block < 1 or block % m:
            raise ParamError(f"sparsity {n}:{m}: M={m} must divide the block size {block}")
        mb = check_index(mant_bits, "mantissa width")
        check_input_bits((n * (block // m) + block) * (mb + 1) + block, "this sparse dot unit")
        # The children check themselves too; checking here refuses before any is built.
        NMDecoder.check(n=n, m=m, groups=block // m, width=mb + 1, packed24=packed24,
                        registered=decoder_register)
        HBFPDot.check(lanes=n * (block // m), mant_bits=mb, acc_width=acc_width,
                      pipeline=pipeline, narrow_mant_bits=narrow_mant_bits)

    def __init__(
        self,
        *,
        n: int,
        m: int,
        block: int,
        mant_bits: int,
        acc_width: int,
        pipeline: int = 1,
        narrow_mant_bits: int | None = None,
        packed24: bool = False,
        decoder_register: bool = False,
    ) -> None:
        n, m, block = operator.index(n), operator.index(m), operator.index(block)
        self._n, self._m, self._block = n, m, block
        self._groups = block // m
        self._lanes = n * self._groups
        self._packed24 = bool(packed24)
        # Built here (not in elaborate) so that bad parameters are refused at construction
        # and the latency is known up front.
        self._dec = NMDecoder(
            n=n, m=m, groups=self._groups, width=operator.index(mant_bits) + 1,
            packed24=self._packed24, registered=bool(decoder_register),
        )
        self._dot = HBFPDot(
            lanes=self._lanes, mant_bits=mant_bits, acc_width=acc_width, pipeline=pipeline,
            narrow_mant_bits=narrow_mant_bits,
        )
        self._mant_bits = operator.index(mant_bits)
        self._narrow = narrow_mant_bits
        mw = self._mant_bits + 1
        sig = {
            "in_valid": In(1),
            "in_first": In(1),
            "in_clear": In(1),
            "in_w_exp": In(signed(EXP_WIDTH)),
            "in_a_exp": In(signed(EXP_WIDTH)),
            "in_w": In(signed(mw)).array(self._lanes),
            "in_a": In(signed(mw)).array(block),
            "out_valid": Out(1),
            "out_acc": Out(signed(self._dot.acc_width)),
            "out_exp": Out(signed(PROD_EXP_WIDTH)),
            "meta_error": Out(1),
        }
        if narrow_mant_bits is not None:
            sig["in_mode"] = In(1)
        if self._packed24:
            sig["in_w_meta"] = In(unsigned(4 * self._groups))
        else:
            sig["in_w_idx"] = In(unsigned(index_bits(m))).array(self._lanes)
        super().__init__(sig)

    @property
    def n(self) -> int:
        return self._n

    @property
    def m(self) -> int:
        return self._m

    @property
    def block(self) -> int:
        return self._block

    @property
    def groups(self) -> int:
        return self._groups

    @property
    def lanes(self) -> int:
        """Multipliers (kept-weight lanes), ``n*block/m``."""
        return self._lanes

    @property
    def mant_bits(self) -> int:
        return self._mant_bits

    @property
    def acc_width(self) -> int:
        return self._dot.acc_width

    @property
    def packed24(self) -> bool:
        return self._packed24

    @property
    def decoder_register(self) -> bool:
        return self._dec.registered

    @property
    def latency(self) -> int:
        """Cycles from a beat on the inputs to its ``out_valid``."""
        return self._dec.latency + self._dot.latency

    def elaborate(self, platform: object) -> Module:
        mod = Module()
        mod.submodules.decoder = dec = self._dec
        mod.submodules.dot = dot = self._dot
        mod.d.comb += [
            dec.in_valid.eq(self.in_valid),
            dec.in_clear.eq(self.in_clear),
            self.meta_error.eq(dec.meta_error),
        ]
        for i in range(self._block):
            mod.d.comb += dec.in_act[i].eq(self.in_a[i])
        if self._packed24:
            mod.d.comb += dec.in_meta.eq(self.in_w_meta)
        else:
            for k in range(self._lanes):
                mod.d.comb += dec.in_idx[k].eq(self.in_w_idx[k])

        mode = self.in_mode if self._narrow is not None else None
        if self._dec.registered:
            # Side band delayed by the decoder's register so it meets the selected activations.
            # Captured only on valid beats (like the decoder's data) to avoid needless toggling.
            w_d = [Signal(signed(self._mant_bits + 1), name=f"w_d{k}")
                   for k in range(self._lanes)]
            w_exp_d = Signal(signed(EXP_WIDTH))
            a_exp_d = Signal(signed(EXP_WIDTH))
            first_d = Signal()
            with mod.If(self.in_valid):
                mod.d.sync += [wd.eq(self.in_w[k]) for k, wd in enumerate(w_d)]
                mod.d.sync += [
                    w_exp_d.eq(self.in_w_exp), a_exp_d.eq(self.in_a_exp),
                    first_d.eq(self.in_first),
                ]
            if mode is not None:
                mode_d = Signal()
                with mod.If(self.in_valid):
                    mod.d.sync += mode_d.eq(self.in_mode)
                mode = mode_d
        else:
            w_d = [self.in_w[k] for k in range(self._lanes)]
            w_exp_d, a_exp_d, first_d = self.in_w_exp, self.in_a_exp, self.in_first
        if mode is not None:
            mod.d.comb += dot.in_mode.eq(mode)

        mod.d.comb += [
            dot.in_valid.eq(dec.out_valid),
            dot.in_first.eq(first_d),
            dot.in_a_exp.eq(w_exp_d),
            dot.in_b_exp.eq(a_exp_d),
            self.out_valid.eq(dot.out_valid),
            self.out_acc.eq(dot.out_acc),
            self.out_exp.eq(dot.out_exp),
        ]
        for k in range(self._lanes):
            mod.d.comb += [dot.in_a[k].eq(w_d[k]), dot.in_b[k].eq(dec.out_act[k])]
        return mod
