"""Safe file writes: a reader sees the old file or the whole new one, never half of one, and
nothing but a regular file is ever replaced.

The rules, for every file the library writes (checkpoints, JSON, plots, downloads):

- the new content goes to a temporary file beside the target (``.name.xxxxxxxx.tmp``), renamed
  over the target only once it is complete and flushed to the disk; the folder is flushed
  after the rename (``fsync`` on the file before it and on the folder after it: after a power
  cut the target holds the old content or all of the new, where the file system and the disk
  honour fsync; one without it is written without); a temporary file that a killed run left
  behind is removed by the next write of the same target, once `STALE_TEMPORARY_S` old (a
  younger one may be another process's write in progress);
- a target that exists must be a regular file: a folder, device, FIFO or socket is refused
  (`check_writable`, which the command line calls before training starts), and so is a name
  too long for its file system once the temporary file's tag is added;
- a symbolic link is written through: the file it points to is replaced, the link stays;
- a new file gets the permissions any new file gets: the temporary file is created with mode
  ``0o666``, which the system narrows by the umask (and a folder's default ACL), so the umask
  is never read or changed; a replaced file keeps its read, write and execute bits, but not a
  setuid or setgid bit (as the system clears them when a file is written), so new content
  never runs with another's rights.
"""

from __future__ import annotations

import errno
import glob
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from .types import PathLike

TEMPORARY_TAG = re.compile(r"[a-z0-9_]{8}")
"""The 8 random characters in the name of `atomic_write`'s temporary files."""
TEMPORARY_EXTRA = len(".") + 8 + len("..tmp")
"""How many bytes longer a temporary file's name is than its target's."""
STALE_TEMPORARY_S = 600.0
"""Seconds after which a temporary file nobody writes to any more counts as left behind."""
NO_FSYNC = (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP)
"""The errors of ``fsync`` on a file system that cannot sync (passed over)."""
KEPT_MODE_BITS = 0o777
"""The permission bits a replaced file keeps: read, write and execute, for each class of user
(not setuid, setgid or sticky)."""


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Remove the temporary files of writes of ``target`` that were killed: those untouched
    for `STALE_TEMPORARY_S` (files that cannot be removed are left). Returns those removed."""
    removed = []
    now = time.time()
    for path in target.parent.glob(f".{glob.escape(target.name)}.{'?' * 8}.tmp"):
        if not TEMPORARY_TAG.fullmatch(path.name[len(target.name) + 2 : -4]):
            continue  # not a name atomic_write gives: someone else's file
        try:
            if now - path.stat().st_mtime > STALE_TEMPORARY_S:
                path.unlink()
                removed.append(path)
        except OSError:
            continue
    return removed


def check_writable(path: PathLike, what: str = "output") -> Path:
    """The path a write of ``path`` will replace (symbolic links resolved), or an OSError that
    says why it cannot be written: its folder is missing or not writable, it exists and is not
    a regular file, or its name (with the temporary file's tag) is too long for its folder."""
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
    length, longest = len(os.fsencode(target.name)), _longest_name(folder)
    if length + TEMPORARY_EXTRA > longest:
        raise OSError(
            f"the name of the {what} {path} is {length} bytes long: with the {TEMPORARY_EXTRA} "
            f"of its temporary file's, over the {longest} a name may have there; give a shorter one"
        )
    return target


def _kind(path: Path) -> str:
    mode = path.stat().st_mode
    for test, name in ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")):  # fmt: skip
        if test(mode):
            return name
    return "not a regular file"


def _longest_name(folder: Path) -> int:
    """The longest file name, in bytes, that ``folder``'s file system takes (255 where the
    system does not say)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):  # (no pathconf on Windows)
        return 255


@contextmanager
def atomic_write(path: PathLike, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; rename it over ``path`` if the block succeeds.

    If the block raises, the temporary file is removed and ``path`` is left as it was. The
    rename is atomic because the temporary file is in the same folder (same file system). See
    the module docstring for the flushes to the disk, links, permissions and what may be
    replaced.
    """
    target = check_writable(path)
    remove_stale_temporaries(target)
    kept = stat.S_IMODE(target.stat().st_mode) & KEPT_MODE_BITS if target.exists() else None
    handle, temporary = _create_temporary(target)
    try:
        if kept is not None:
            os.chmod(temporary, kept)
        with os.fdopen(handle, mode) as stream:
            yield stream
            stream.flush()
            _sync(stream.fileno(), str(path))  # the content, before the name points to it
        os.replace(temporary, target)
        _sync_folder(target.parent, path)  # the name, so that it stays after a power cut
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _create_temporary(target: Path) -> tuple[int, str]:
    """Create ``.<name>.<8 random characters>.tmp`` beside ``target``, with mode ``0o666``,
    which the system narrows by the umask as for any new file; return its descriptor and
    path. Never opens a file that exists (``O_EXCL``)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)  # (POSIX; Windows)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789_"
    for _ in range(100):
        tag = "".join(secrets.choice(alphabet) for _ in range(8))
        temporary = str(target.parent / f".{target.name}.{tag}.tmp")
        try:
            return os.open(temporary, flags, 0o666), temporary
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, f"no free temporary file name beside {target}")


def _sync(descriptor: int, what: str) -> None:
    """Have the system write an open file (or folder) to the disk (``fsync``), so that a
    crash cannot lose what was written to it. A file system that cannot sync (`NO_FSYNC`) is
    passed over; any other error says ``what`` could not be written."""
    try:
        os.fsync(descriptor)
    except OSError as error:
        if error.errno not in NO_FSYNC:
            raise OSError(
                error.errno, f"could not write {what} to the disk: {error.strerror}"
            ) from None


def _sync_folder(folder: Path, path: PathLike) -> None:
    """Write ``folder`` to the disk after a rename in it, so that the new name survives a
    power cut; passed over where a folder cannot be opened (Windows) or synced."""
    try:
        descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        _sync(descriptor, f"the folder entry of {path}")
    finally:
        os.close(descriptor)
