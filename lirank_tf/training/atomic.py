"""Writes that are complete or absent, never half done: files through a temporary file and
``os.replace``, directories (exports) through a rename or an atomic exchange.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "state.json"
    >>> _ = write_json_atomic(path, {"state": "running"})
    >>> json.loads(path.read_text()), sorted(p.name for p in path.parent.iterdir())
    ({'state': 'running'}, ['state.json'])
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import sys
from pathlib import Path

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Writes ``text`` to ``path`` through ``.NAME.tmp-PID`` beside it and ``os.replace``: a
    reader (or a process killed meanwhile) sees the old file or the new one, never a part."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(temporary, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | Path, value) -> Path:
    """`write_text_atomic` of ``value`` as indented JSON."""
    return write_text_atomic(path, json.dumps(value, indent=2) + "\n")


def publish_directory(staged: str | Path, target: str | Path, *, replace: bool = False) -> Path:
    """Moves the complete directory ``staged`` to ``target``.

    Without ``replace`` a ``target`` that exists (other than as an empty directory) is a
    `FileExistsError` and is left as it is, also when it appeared after an earlier check: the
    rename itself refuses a non-empty directory. With ``replace`` an existing ``target`` is
    exchanged with ``staged`` in one step (Linux ``renameat2(RENAME_EXCHANGE)``; elsewhere two
    renames, undone when the second fails) and the old directory is removed only then, so
    ``target`` holds a complete directory at every moment and a failure keeps the old one.

    Args:
        staged: the new directory, complete, on the same file system as ``target``.
        target: where it goes.
        replace: bool, default False. Replace an existing ``target``.

    Returns: ``target`` as a Path.
    """
    staged, target = Path(staged), Path(target)
    if not replace or not target.exists():
        if target.exists() and not (target.is_dir() and not any(target.iterdir())):
            raise FileExistsError(f"{target} already exists; pass --overwrite to replace it")
        try:
            os.rename(staged, target)  # atomic; fails if target became a non-empty directory
        except OSError as error:
            if error.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                raise FileExistsError(f"{target} appeared while this was written; it is left "
                                      "as it is: pass --overwrite to replace it") from error
            raise
        return target
    _swap(staged, target)            # target: the new directory; staged: the old one
    shutil.rmtree(staged)
    return target


def recover_publish(target: str | Path) -> None:
    """Cleans up after a `publish_directory` into ``target`` that a crash cut short (call it
    holding ``target``'s lock): staged copies (``.NAME.partial*``) are removed, and an old
    directory moved aside (``.NAME.old-PID``) is put back when ``target`` is missing."""
    target = Path(target)
    for staged in target.parent.glob(f".{target.name}.partial*"):
        shutil.rmtree(staged, ignore_errors=True)
    for aside in target.parent.glob(f".{target.name}.old-*"):
        if target.exists():
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.rename(aside, target)


def _swap(first: Path, second: Path) -> None:
    """Exchanges two directories: in one step where the kernel can, else by two renames
    through ``.NAME.old-PID`` (the first undone when the second fails)."""
    if _exchange(first, second):
        return
    aside = second.with_name(f".{second.name}.old-{os.getpid()}")
    os.rename(second, aside)
    try:
        os.rename(first, second)
    except BaseException:
        os.rename(aside, second)
        raise
    os.rename(aside, first)


def _exchange(first: Path, second: Path) -> bool:
    """``renameat2(RENAME_EXCHANGE)`` through libc (Python has no binding; Linux >= 3.15,
    glibc >= 2.28). False where it is unavailable, so the caller falls back to renames."""
    if not sys.platform.startswith("linux"):
        return False
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second),
                       _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):  # kernel or file system lacks it
        return False
    raise OSError(code, os.strerror(code), str(second))
