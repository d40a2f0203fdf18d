"""Names from files that become paths, output-folder locks, and stale temp files.

A suite name or a prompt id read from a YAML file ends up in a file name; ``safe_name``
refuses anything that could leave its folder (separators, ``..``, absolute paths, control
characters), and ``inside`` checks the joined path really stays in its folder (symlinks
resolved). ``OutputLock`` keeps two writers out of one output folder.
"""

from __future__ import annotations

import errno
import logging
import os
import re
from pathlib import Path

from .errors import ConfigError, DatasetError, PathEscapeError
from .limits import brief

log = logging.getLogger(__name__)

_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,119}")
LOCK_FILE = ".stickgen.lock"


def safe_name(name: object, where: str) -> str:
    """``name`` when it is a plain file name (letters, digits, ``. _ + -``; not starting with a dot;
    at most 120 characters), else a ConfigError naming ``where``."""
    text = name if isinstance(name, str) else str(name) if isinstance(name, (int, float)) else None
    if text is None or not _SAFE.fullmatch(text) or text.strip(".") == "":
        raise ConfigError(f"{where}: {brief(name)} cannot be used as a file name; expected letters, digits, "
                          "'.', '_', '+' or '-' (at most 120, not starting with '.'), no '/' or '..'")
    return text


def inside(folder: str | os.PathLike, *parts: str) -> Path:
    """``folder / parts...``, refusing a result that resolves outside ``folder``."""
    base = Path(folder).resolve()
    target = base.joinpath(*parts).resolve()
    if target != base and base not in target.parents:
        raise PathEscapeError(f"{Path(folder, *parts)}: resolves outside {folder}; refused", target)
    return Path(folder).joinpath(*parts)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def temp_owner(name: str) -> int | None:
    """The pid recorded in a temp name ``.<target>.<pid>.<random>.tmp`` (see io.atomic_path)."""
    m = re.fullmatch(r"\..+\.(\d+)\.[^.]+\.tmp", name)
    return int(m.group(1)) if m else None


def clean_stale_temps(folder: str | os.PathLike) -> int:
    """Remove temp files in ``folder`` left by processes that no longer run; returns how many."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for e in entries:
        pid = temp_owner(e.name)
        if pid is None or pid == os.getpid() or _pid_alive(pid):
            continue  # not a temp file, or one still being written
        try:
            if e.is_symlink() or e.is_file(follow_symlinks=False):
                os.unlink(e.path)
                removed += 1
        except OSError:
            pass
    if removed:
        log.info("removed %d stale temp file(s) from %s", removed, folder)
    return removed


class OutputLock:
    """An exclusive, non-blocking lock on an output folder (``flock`` on ``.stickgen.lock``).

    A second writer gets a DatasetError at once instead of interleaving its files with ours.
    The lock goes with the process: a killed writer never leaves the folder locked.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self._fd: int | None = None

    def __enter__(self) -> "OutputLock":
        import fcntl

        if self.folder.exists() and not self.folder.is_dir():
            raise DatasetError(f"{self.folder}: is a file; expected an output folder", self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise DatasetError(f"{self.folder}: another stickgen process (pid {holder}) is writing this "
                                   "folder; wait for it to finish or choose another output folder",
                                   self.folder) from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None
