"""Replacing a file all at once: a reader (or a crash) sees the old content or the new,
never part of either. The one way the Python side writes a file that something else
reads: registry definitions and their record, a registry's index, exported skills, an
MCP client's configuration, the files a step made on a Ray node.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from typing import Optional, Union


def write_atomic(path: Union[str, os.PathLike], data: Union[bytes, str], *, mode: Optional[int] = None) -> None:
    """Write `data` (text as UTF-8) to `path`: into a temporary file in the same folder,
    flushed and fsynced, renamed over `path`, then the folder fsynced where the system
    allows it. On any failure the temporary file is removed and `path` is as it was.

    `mode`: the file's permission bits. None keeps those of the file it replaces, or for a
    new file gives what `open()` would (0666 less the umask)."""
    path = os.fspath(path)
    folder = os.path.dirname(path) or "."
    if isinstance(data, str):
        data = data.encode("utf-8")
    if mode is None:
        with contextlib.suppress(FileNotFoundError):
            mode = stat.S_IMODE(os.stat(path).st_mode)
    fd, tmp = _create(folder, os.path.basename(path), 0o600 if mode is not None else 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.fchmod(f.fileno(), mode)  # exact: the mode given to open() is cut by the umask
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_folder(folder)


def _create(folder: str, name: str, mode: int) -> tuple[int, str]:
    """A new file `.NAME.RANDOM.tmp` in `folder`, open for writing (never an existing one,
    never through a link)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    while True:
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, mode), tmp
        except FileExistsError:
            continue


def _sync_folder(folder: str) -> None:
    """Make the rename itself durable; not every system lets a folder be opened or synced."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
