"""Safe file writes: a reader sees the old file or the whole new one, never half of one, and
nothing but a regular file is ever replaced.

The rules, for every file the library writes (checkpoints, JSON, plots, downloads):

- the new content goes to a temporary file beside the target (``.name.xxxx.tmp``), renamed
  over the target only once it is complete and flushed to the disk (``fsync``: after a crash
  of the system too, the target holds the old content or all of the new, where the file
  system and the disk honour fsync; one without it is written without); a temporary
  file that a killed run left behind is removed by the next write of the same target, once
  `STALE_TEMPORARY_S` old (a younger one may be another process's write in progress);
- a target that exists must be a regular file: a folder, device, FIFO or socket is refused
  (`check_writable`, which the command line calls before training starts);
- a symbolic link is written through: the file it points to is replaced, the link stays;
- the file gets the permissions a new file gets from the user's umask (``0o666 & ~umask``),
  or keeps its own when it is replaced.
"""

from __future__ import annotations

import errno
import glob
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from .types import PathLike

TEMPORARY_TAG = re.compile(r"[a-z0-9_]{8}")
"""The 8 random characters ``tempfile.mkstemp`` puts in the name of `atomic_write`'s files."""
STALE_TEMPORARY_S = 600.0
"""Seconds after which a temporary file nobody writes to any more counts as left behind."""


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Remove the temporary files of writes of ``target`` that were killed: those untouched
    for `STALE_TEMPORARY_S` (files that cannot be removed are left). Returns those removed."""
    removed = []
    now = time.time()
    for path in target.parent.glob(f".{glob.escape(target.name)}.{'?' * 8}.tmp"):
        if not TEMPORARY_TAG.fullmatch(path.name[len(target.name) + 2 : -4]):
            continue  # not a name mkstemp gives: someone else's file
        try:
            if now - path.stat().st_mtime > STALE_TEMPORARY_S:
                path.unlink()
                removed.append(path)
        except OSError:
            continue
    return removed


def check_writable(path: PathLike, what: str = "output") -> Path:
    """The path a write of ``path`` will replace (symbolic links resolved), or an OSError that
    says why it cannot be written: its folder is missing or not writable, or it exists and is
    not a regular file."""
    given, target = Path(path), Path(os.path.realpath(path))
    # What the name leads to (links followed); its resolved path may name nothing, as for
    # /dev/stdout when it is a pipe, /proc/<pid>/fd/pipe:[...].
    if given.exists() and not given.is_file():
        kind = "a folder" if given.is_dir() else _kind(given)
        raise OSError(f"the {what} {path} is {kind}, not a regular file: give a file name")
    if given.exists() and not os.access(given, os.W_OK):
        raise OSError(f"the {what} {path} is not writable: give another name, or change its mode")
    folder = target.parent
    if not folder.is_dir():
        raise OSError(f"the folder of the {what} {path} does not exist: create {folder} first")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OSError(f"the folder of the {what} {path} is not writable: {folder}")
    return target


def _kind(path: Path) -> str:
    mode = path.stat().st_mode
    for test, name in ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")):  # fmt: skip
        if test(mode):
            return name
    return "not a regular file"


@contextmanager
def atomic_write(path: PathLike, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; rename it over ``path`` if the block succeeds.

    If the block raises, the temporary file is removed and ``path`` is left as it was. The
    rename is atomic because the temporary file is in the same folder (same file system). See
    the module docstring for links, permissions and what may be replaced.
    """
    target = check_writable(path)
    remove_stale_temporaries(target)
    permissions = stat.S_IMODE(target.stat().st_mode) if target.exists() else _new_file_mode()
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        os.chmod(temporary, permissions)
        with os.fdopen(handle, mode) as stream:
            yield stream
            _flush_to_disk(stream, path)  # before the name points to it
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _flush_to_disk(stream: IO[Any], path: PathLike) -> None:
    """Flush ``stream``'s buffers and have the system write its file to the disk (``fsync``), so
    that a crash cannot leave an empty or partial file under the name it is renamed to. A file
    system that cannot sync files (EINVAL, ENOTSUP) is passed over; any other error names
    ``path``."""
    stream.flush()
    try:
        os.fsync(stream.fileno())
    except OSError as error:
        if error.errno in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            return
        raise OSError(
            error.errno, f"could not write {path} to the disk: {error.strerror}"
        ) from None


PROCESS_STATUS = "/proc/self/status"
"""Where Linux (4.7 and later) tells a process its umask without changing it."""


def _new_file_mode() -> int:
    """``0o666`` less the process's umask: what ``open(path, "w")`` would give a new file."""
    return 0o666 & ~_umask()


def _umask() -> int:
    """The process's umask: read from `PROCESS_STATUS` where the system has it; elsewhere set
    to 0 and back, the only portable way, during which a file that another thread creates
    would get the mode 0o666."""
    try:
        with open(PROCESS_STATUS, errors="replace") as status:  # names may not be UTF-8
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0)
    os.umask(umask)
    return umask
