"""The one output writer: a generated directory appears whole, and nothing of the user's is lost.

:func:`write_tree` is what every generator's ``--out DIR`` goes through. Its rules:

* **Never delete what sqgen did not write.** An existing ``DIR`` is replaced only if it is empty
  or holds an sqgen design (a ``manifest.json`` whose ``generator`` starts with ``sqgen``) and
  nothing beyond the files that manifest lists. Anything else is refused with one line, unless
  ``force``: then sqgen's files are written into ``DIR`` one by one (each atomically, the
  manifest last) and every other entry is left as it is. An existing *file* at ``DIR`` is
  refused, always; so is the current directory or one of its parents.
* **Old or new, never neither.** The new tree is built in a hidden sibling
  ``.DIR.tmp-<pid>-<random>`` and swapped in with one ``renameat2(RENAME_EXCHANGE)`` (Linux):
  at every instant ``DIR`` is the complete old design or the complete new one, whatever signal
  arrives. Where the exchange is unavailable the old tree is renamed aside first and restored
  by the next run if a kill lands between the two renames.
* **Leftovers are cleaned.** Before writing, siblings ``.DIR.tmp-*`` / ``.DIR.old-*`` whose
  process is gone are removed (an ``.old-`` tree is put back first if ``DIR`` is missing).
* **Concurrent writers** of one ``DIR`` take an exclusive ``flock`` on the parent directory
  for the swap, so both end cleanly and the later one wins.
* **The umask is honoured** for the directory (``mkdtemp`` would make it 0700) and its files.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from gen.config import ConfigError

__all__ = ["write_tree", "is_sqgen_design", "cleanup_leftovers"]

_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)(?:-[^/]*)?$")
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _libc_renameat2():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_renameat2 = _libc_renameat2()


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap ``a`` and ``b`` (both must exist). False if the OS cannot."""
    if _renameat2 is None:
        return False
    rc = _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_sqgen_design(d: Path) -> list[str] | None:
    """The file list of the sqgen design in ``d``, or ``None`` if ``d`` holds none."""
    try:
        man = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(man, dict) or not str(man.get("generator", "")).startswith("sqgen"):
        return None
    files = man.get("files")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return files


def cleanup_leftovers(out: Path) -> None:
    """Remove what killed writers of ``out`` left beside it (restoring a lost old tree)."""
    parent = out.parent
    try:
        entries = list(parent.iterdir())
    except OSError:
        return
    for e in entries:
        mt = _LEFTOVER.match(e.name)
        if not mt or mt.group("name") != out.name or _alive(int(mt.group("pid"))):
            continue
        if mt.group("kind") == "old" and not os.path.lexists(out):
            os.replace(e, out)  # a kill between the two fallback renames: put the old back
            continue
        _remove(e)
    # --force writes files one by one inside out: their temporaries are named the same way.
    if out.is_dir() and not out.is_symlink():
        for e in out.iterdir():
            mt = _LEFTOVER.match(e.name)
            if mt and mt.group("kind") == "tmp" and not _alive(int(mt.group("pid"))):
                _remove(e)


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)


def _check_target(out: Path, what: str, force: bool) -> str:
    """``"new"``, ``"replace"`` (ours or empty) or ``"merge"`` (force); refuse otherwise."""
    shown = f"{what} {out}"
    try:
        here = Path.cwd().resolve()
    except OSError:
        here = None
    res = out.resolve()
    if here is not None and (res == here or res in here.parents):
        raise ConfigError(f"{shown}: is the current directory or one of its parents; name a "
                          "new or sqgen-written subdirectory (e.g. build/pod_4x4)")
    if os.path.lexists(out) and not out.is_dir():
        raise ConfigError(f"{shown}: is a file, not a directory; sqgen never replaces a file "
                          "with a design (choose another path)")
    if not out.exists():
        return "new"
    try:
        present = sorted(p.name for p in out.iterdir())
    except OSError as e:
        raise ConfigError(f"{shown}: cannot read the directory: {e.strerror}") from None
    if not present:
        return "replace"
    ours = is_sqgen_design(out)
    foreign = present if ours is None else [p for p in present if p not in ours]
    if not foreign:
        return "replace"
    if force:
        return "merge"
    listed = ", ".join(foreign[:4]) + (" ..." if len(foreign) > 4 else "")
    why = "holds no sqgen design" if ours is None else "holds files sqgen did not write"
    raise ConfigError(f"{shown}: {why} ({listed}); refusing to replace it (choose an empty or "
                      "new directory, or add --force to write sqgen's files beside them)")


def _write_files(d: Path, files: Mapping[str, str], mode: int) -> None:
    for name, text in files.items():
        p = d / name
        with open(p, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(p, mode)


def write_tree(out_dir: str | Path, files: Mapping[str, str], *, manifest_name: str,
               force: bool = False, what: str = "--out") -> Path:
    """Write ``files`` (name -> text; ``manifest_name`` among them, written last) as ``out_dir``.

    ``what`` is how the user named the directory (``--out``, ``OUT``), for refusals, which are
    :class:`gen.config.ConfigError` (one line; nothing is written).
    """
    out = Path(out_dir)
    mode = _umask()
    dmode, fmode = 0o777 & ~mode, 0o666 & ~mode
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"{what} {out}: cannot create {out.parent}: {e.strerror}") from None
    try:
        pfd = os.open(out.parent, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as e:
        raise ConfigError(f"{what} {out}: cannot open {out.parent}: {e.strerror}") from None
    ordered = {k: v for k, v in files.items() if k != manifest_name}
    ordered[manifest_name] = files[manifest_name]
    try:
        fcntl.flock(pfd, fcntl.LOCK_EX)
        cleanup_leftovers(out)
        how = _check_target(out, what, force)
        if how == "merge":
            _merge(out, ordered, fmode)
            return out
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-",
                                        dir=out.parent))
        except OSError as e:
            raise ConfigError(f"{what} {out}: cannot write there: {e.strerror}") from None
        try:
            os.chmod(tmp, dmode)
            _write_files(tmp, ordered, fmode)
            _swap(tmp, out, how)
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ConfigError(f"{what} {out}: cannot write there: {e.strerror}") from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    finally:
        os.close(pfd)  # releases the lock
    return out


def _swap(tmp: Path, out: Path, how: str) -> None:
    if how == "new" or not out.exists():
        os.rename(tmp, out)  # out cannot appear meanwhile: we hold the parent's lock
        return
    if _exchange(tmp, out):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old tree
        return
    # Fallback: rename aside, then in. A kill between the two is repaired by the next run.
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    os.rename(out, old)
    os.rename(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def _merge(out: Path, files: Mapping[str, str], fmode: int) -> None:
    """``force`` into a foreign directory: each file atomically, the manifest last."""
    for name, text in files.items():
        fd, t = tempfile.mkstemp(prefix=f".{name}.tmp-{os.getpid()}-", dir=out)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(t, fmode)
            os.replace(t, out / name)
        except BaseException:
            Path(t).unlink(missing_ok=True)
            raise
