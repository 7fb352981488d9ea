"""One writer at a time for a run or export directory: a lock file beside it, holding the pid.

``DIR``'s lock is ``DIR/../.DIR.lock`` (beside the directory, so that locking a directory that
does not exist yet creates nothing in it). The file is held with ``flock``, which the kernel
releases when its process ends, however it ends: a lock file left by a killed process is not
held, and the next process takes it over, saying whose it was. The pid and host written into it
name the holder in the error a second process gets.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "run"
    >>> with DirectoryLock(target) as lock:
    ...     lock.path.name
    '.run.lock'
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
from pathlib import Path

from lirank_tf.errors import UserError


class DirectoryInUseError(UserError):
    """Another live process holds the lock of the directory."""


def lock_path_of(directory: str | Path) -> Path:
    """The lock file of ``directory``: ``.NAME.lock`` in its parent."""
    directory = Path(directory).absolute()
    return directory.parent / f".{directory.name}.lock"


class DirectoryLock:
    """An exclusive, non-blocking lock on ``directory`` for the life of a command.

    Args:
        directory: str or Path, the run or export directory (it need not exist).
        what: str, default ``"run directory"``. How errors and messages name it.

    Raises (from `acquire`):
        DirectoryInUseError: a live process holds it; the message names its pid and the lock
            file.
    """

    def __init__(self, directory: str | Path, what: str = "run directory") -> None:
        if not isinstance(what, str) or not what:
            raise ValueError(f"what must be a non-empty description, got {what!r}")
        self.directory = Path(directory)
        self.what = what
        self.path = lock_path_of(directory)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "DirectoryLock":
        """Takes the lock (a stale one of a dead process with a message on stderr)."""
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read(fd)
                os.close(fd)
                raise DirectoryInUseError(
                    f"{self.what} {self.directory} is in use by process {holder or '?'} (lock "
                    f"file {self.path}); wait until it ends, or write elsewhere") from None
            if _same_file(fd, self.path):
                break
            os.close(fd)  # the holder released and removed it between our open and flock
        previous = _read(fd)
        if previous and previous.split()[0] != str(os.getpid()):  # not our own (reentrant) lock
            print(f"lirank-tf: taking over the lock of {self.what} {self.directory} from "
                  f"process {previous}, which no longer holds it (it was killed or crashed)",
                  file=sys.stderr, flush=True)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Removes the lock file and releases it (nothing when not held)."""
        if self._fd is None:
            return
        try:
            if _same_file(self._fd, self.path):
                self.path.unlink()
        finally:
            os.close(self._fd)  # closing releases the flock
            self._fd = None

    def __enter__(self) -> "DirectoryLock":
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()


def _read(fd: int) -> str:
    """The holder written in the lock file as ``"PID on HOST"`` ("" when empty)."""
    words = os.pread(fd, 200, 0).decode(errors="replace").split()
    return " on ".join(words[:2])


def _same_file(fd: int, path: Path) -> bool:
    """True when ``path`` still names the file open as ``fd`` (not removed or replaced)."""
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False
