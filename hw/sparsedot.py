"""Sparse HBFP dot-product unit: N:M-compressed weights times dense activations.

Composes :class:`hw.decoder.NMDecoder` with :class:`hw.dot.HBFPDot` of ``n*block/m`` lanes, so
``n`` multipliers do the work of ``m``. Golden twin: :func:`golden.nm_hw.sparse_dot_expected`
(equal to :func:`golden.nm_hw.dense_dot_expected`, the dense dot product of the decompressed
weights, whenever the metadata is valid). See ``docs/sparsity.md``.
"""

from __future__ import annotations

import operator

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from golden.facts import ParamError, check_index, check_nm
from hw.block import Block, check_input_bits
from hw.decoder import NMDecoder
from hw.dot import HBFPDot
from hw.signatures import DotOperands

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
        Magnitude mantissa bits ``m_w`` of the (wide) format; mantissas are ``mant_bits+1``
        bits signed.
    acc_width : int
        Accumulator width of the inner :class:`hw.dot.HBFPDot`.
    pipeline : int
        Pipeline depth of the inner dot unit.
    narrow_mant_bits : int or None
        Optional mixed-mantissa narrow mode (adds the payload's ``mode`` bit), passed to the dot.
    packed24 : bool
        Metadata as the packed 2:4 nibble field ``meta`` instead of the per-lane array ``idx``.
    decoder_register : bool
        Register the decoder's output stream (selections and the side band that travels with
        them): one more cycle of latency and ``lanes*(2*(mant_bits+1)) + 2*EXP_WIDTH + 3``
        flip-flops, in exchange for taking the ``(m-n+1):1`` multiplexer out of the multiply
        cycle. Default ``False``: the selection feeds the dot unit's multipliers directly.

    Ports
    -----
    i : In(valid_stream(...))
        One beat per cycle, no backpressure (``always_ready``; Verilog ``i__valid``,
        ``i__payload``): ``a`` the compressed weight block (:class:`hw.signatures.HBFPBlock` of
        ``lanes = n*block/m`` mantissas, kept lane ``k = g*n + j``, and its exponent), ``b`` the
        dense activation block (``mant``: ``block`` mantissas, ``exp``), ``first`` (start a new
        accumulation, as :class:`hw.dot.HBFPDot`), ``mode`` (only with ``narrow_mant_bits``: 1
        = narrow operands), then ``idx`` (``ArrayLayout(unsigned(ceil(log2 m)), lanes)``, the
        in-group index of each kept weight) or, with ``packed24``, ``meta`` (``unsigned(block)``,
        group ``g`` at ``[4g+3:4g]``). It is the decoder's ``i`` layout
        (:class:`hw.decoder.NMDecoder` with ``out_layout = DotOperands(lanes, mant_bits)``).
    o : Out(valid_stream(DotResult(acc_width)))
        As :class:`hw.dot.HBFPDot`: ``acc``, ``exp``, value ``acc * 2^(exp - 2*m_mode)``.
    clear : In(1)
        Clear the sticky ``meta_error``.
    meta_error : Out(1)
        The decoder's sticky metadata error; it rises one cycle after the offending beat is
        presented (``latency - 1`` cycles before that beat's result), whatever the latency.

    The decoder and the dot unit are joined with ``wiring.connect``: the decoder's output
    layout is the dot unit's :class:`hw.signatures.DotOperands`, the selected activations
    landing in ``b.mant`` and everything else passing through.

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
            out_layout=DotOperands(self._lanes, mant_bits, mode=narrow_mant_bits is not None),
            select=("b", "mant"),
        )
        self._dot = HBFPDot(
            lanes=self._lanes, mant_bits=mant_bits, acc_width=acc_width, pipeline=pipeline,
            narrow_mant_bits=narrow_mant_bits,
        )
        self._mant_bits = operator.index(mant_bits)
        self._narrow = narrow_mant_bits
        super().__init__({
            # the decoder's input member and the dot unit's output member, as they are
            "i": self._dec.signature.members["i"],
            "o": self._dot.signature.members["o"],
            "clear": In(1),
            "meta_error": Out(1),
        })

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
        """Cycles from an input beat (``i.valid``) to its output beat (``o.valid``)."""
        return self._dec.latency + self._dot.latency

    def elaborate(self, platform: object) -> Module:
        mod = Module()
        mod.submodules.decoder = dec = self._dec
        mod.submodules.dot = dot = self._dot
        wiring.connect(mod, wiring.flipped(self.i), dec.i)
        wiring.connect(mod, dec.o, dot.i)
        wiring.connect(mod, dot.o, wiring.flipped(self.o))
        mod.d.comb += [dec.clear.eq(self.clear), self.meta_error.eq(dec.meta_error)]
        return mod
