"""The files ``train`` writes, checked before any work: the ``--save``, ``--json`` and
``--plot`` targets. No file is lost to a run:

- every target must be writable at the end of an epoch (`check_writable`: its folder exists
  and is writable; it is a regular file or absent; its name is not too long);
- a target that exists must be its option's own kind of output (`OWN_KINDS`), ``--overwrite``
  or not: a checkpoint of this library for ``--save``, a metrics file as ``--json`` writes it
  for ``--json``, a picture in the plot's format for ``--plot``. Anything else, a data set's
  file, another option's output, a user's notes, is never replaced, and the refusal says what
  the file is;
- a checkpoint that exists is replaced only with ``--overwrite``, or when it is the one the
  run resumes from: otherwise a run replaces only the checkpoints it writes itself;
- a ``--save`` pattern gives every epoch the run will write (after the resumed checkpoint's)
  a plain name in one folder, from the one placeholder ``{epoch}``;
- no two options name one file, but for ``--save`` naming the ``--resume`` file.

Each refusal is a `UsageError`, which `commands.main` reports as argparse reports a bad
option (exit status 2), before the data are read.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import string
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Callable

from ..core.atomic import check_writable
from ..data.registry import DATASETS
from ..training.archive import Archive, CheckpointError
from .parser import UsageError
from .plots import plot_format

SAVE_NAMES_CHECKED = 10_000
"""Up to this many epochs, every epoch's ``--save`` name is checked before training
(`_epochs_checked`); beyond, a sample of them, and the folder is searched for the names that
exist (`_existing_names`)."""
LONGEST_PATH = 4096
"""The longest ``--save`` name checked (Linux's PATH_MAX): a wider format is refused at once."""
HEAD_BYTES = 4096
"""How much of a file is read to tell what it is."""
METRICS_KEYS = frozenset({"epoch", "train_loss", "train_acc", "test_acc"})
"""The entries that mark the first record of a ``--json`` file (`EpochStats`'s own)."""
TEXT_METRICS_KEYS = frozenset({"iter", "train_loss", "val_loss", "tokens_per_second"})
"""The entries that mark the first record of a language model's ``--json`` file
(`lm_loop.EvalRecord`'s)."""
PICTURES: dict[str, tuple[str, Callable[[bytes], bool]]] = {
    "png": ("a PNG image", lambda head: head.startswith(b"\x89PNG\r\n\x1a\n")),
    "pdf": ("a PDF document", lambda head: head.startswith(b"%PDF-")),
    "svg": ("an SVG image", lambda head: head.lstrip().startswith(b"<?xml") and b"<svg" in head),
}
"""For each plot format: what its file is called, and how its first bytes show it."""
SIGNATURES = (
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"PK\x03\x04", "a zip archive (such as an .npz) that is not a checkpoint of this library"),
    (b"\x93NUMPY", "a NumPy .npy array"),
    (b"\x00\x00\x08", "an IDX data file"),
    (b"\x7fELF", "a program"),
)
"""The first bytes of some files a refusal may name, and what those files are."""
DATA_FILES = frozenset(
    name
    for info in DATASETS.values()
    for filename in info.sha256
    for name in (filename, filename.removesuffix(".gz"))
)
"""The names of the data sets' files, gzipped or not."""


def check_outputs(
    args: argparse.Namespace, first_epoch: int, last_epoch: int, *, numbered: bool = True
) -> None:
    """Refuse, before training, an output the run could not write at the end of an epoch or
    should not write (this module's rules), for a run that writes epochs ``first_epoch`` to
    ``last_epoch``; a ``--plot`` format `plot_training` does not write is refused too.
    ``numbered=False`` (a language model's run): ``--save`` is one file, which the run
    replaces at each better evaluation, and ``{epoch}`` is refused."""
    targets: dict[Path, str] = {}
    resumed = Path(os.path.realpath(args.resume)) if args.resume else None
    if resumed is not None:
        targets[resumed] = "--resume"
    try:
        if args.save and not numbered and "{epoch" in args.save:
            raise UsageError(
                f"argument --save: a language model keeps one checkpoint, its best, so "
                f"{args.save!r} needs no {{epoch}}: give one file name"
            )
        if args.save:
            names = [args.save] if not numbered else _save_paths(args.save, first_epoch, last_epoch)
            if last_epoch - first_epoch >= SAVE_NAMES_CHECKED:  # a sample: look for the rest
                names += _existing_names(args.save, first_epoch, last_epoch)
            for name in dict.fromkeys(names):
                path = check_writable(name, "checkpoint (--save)")
                _claim(targets, path, "--save")
                if path != resumed:
                    _check_existing(name, "--save", "a checkpoint", args.overwrite)
        if args.json:
            _claim(targets, check_writable(args.json, "--json file"), "--json")
            _check_existing(args.json, "--json", "a metrics file as --json writes it")
        for option, path in (("--plot", args.plot), ("--diagnostics", args.diagnostics)):
            if path:
                try:
                    picture = PICTURES[plot_format(path)][0]
                except ValueError as error:
                    raise UsageError(f"argument {option}: {error}") from None
                _claim(targets, check_writable(path, f"{option} file"), option)
                _check_existing(path, option, picture)
    except OSError as error:
        raise UsageError(str(error)) from None


def _claim(targets: dict[Path, str], path: Path, option: str) -> None:
    """Refuse a second option naming a file another one already names (``--save`` may name
    the ``--resume`` file: a resumed run goes on in its checkpoint)."""
    other = targets.setdefault(path, option)
    if other != option and (other, option) != ("--resume", "--save"):
        raise UsageError(
            f"argument {option}: {path} is also the {other} file; give each its own name"
        )


# -- what a target holds --------------------------------------------------------------------------


def _check_existing(name: str, option: str, kind: str, overwrite: bool = True) -> None:
    """Refuse a file that exists at ``option``'s target ``name`` unless it is of ``option``'s
    own ``kind``; and a checkpoint unless ``overwrite``."""
    if not os.path.exists(name):
        return
    summary = checkpoint_summary(name) if option == "--save" else None
    if option == "--save":
        own = summary is not None
    elif option == "--json":
        own = _is_metrics(name)
    else:
        own = _is_picture(name, kind)
    if not own:
        raise UsageError(
            f"argument {option}: {name} is {_describe(name)}, not {kind}: {option} replaces only "
            "its own kind of file, with --overwrite or without; give another name"
        )
    if not overwrite:
        raise UsageError(
            f"argument {option}: {name} exists: it is {summary}. Pass --overwrite to replace "
            f"it, or give {option} another name"
        )


def checkpoint_summary(name: str) -> str | None:
    """``"a checkpoint (TwoLayerMLP, epoch 5, test accuracy 97.94%)"`` if ``name`` is a
    checkpoint of this library (its archive and header are read, not its arrays); else None."""
    try:
        with Archive(name) as archive:
            header = archive.header
    except (CheckpointError, OSError):
        return None
    facts = [str(header.get("model", "a model"))]
    epoch, metrics = header.get("epoch"), header.get("metrics")
    if isinstance(epoch, int):
        facts.append(f"epoch {epoch}")
    if isinstance(header.get("iter"), int):
        facts.append(f"iteration {header['iter']}")
    if isinstance(metrics, dict) and isinstance(metrics.get("test_acc"), float):
        facts.append(f"test accuracy {metrics['test_acc']:.2%}")
    if isinstance(metrics, dict) and isinstance(metrics.get("val_loss"), float):
        facts.append(f"validation loss {metrics['val_loss']:.4f}")
    return f"a checkpoint ({', '.join(facts)})"


def _is_metrics(name: str) -> bool:
    """Whether ``name`` begins as ``--json`` writes: a JSON list whose first item is an epoch's
    record (`METRICS_KEYS`)."""
    text = _head(name).decode("utf-8", errors="replace").lstrip()
    if not text.startswith("["):
        return False
    try:
        record, _ = json.JSONDecoder().raw_decode(text[1:].lstrip())
    except ValueError:  # (not JSON, or a first record longer than the head)
        return False
    return isinstance(record, dict) and (
        record.keys() >= METRICS_KEYS or record.keys() >= TEXT_METRICS_KEYS
    )


def _is_picture(name: str, kind: str) -> bool:
    """Whether ``name``'s first bytes are those of the picture ``kind`` (`PICTURES`)."""
    head = _head(name)
    return any(called == kind and looks(head) for called, looks in PICTURES.values())


def _describe(name: str) -> str:
    """What a file is, for a refusal: a data set's file, one of the outputs, or what its first
    bytes say (`SIGNATURES`), else an empty, text or binary file."""
    if os.path.basename(name) in DATA_FILES:
        return f"a data set's file ({os.path.basename(name)}, as MNIST-style data sets name them)"
    summary = checkpoint_summary(name)
    if summary is not None:
        return summary
    if _is_metrics(name):
        return "a --json metrics file"
    head = _head(name)
    for what, looks in PICTURES.values():
        if looks(head):
            return what
    for magic, what in SIGNATURES:
        if head.startswith(magic):
            return what
    if not head:
        return "an empty file"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "a binary file"
    return "a text file"


def _head(name: str) -> bytes:
    """The first `HEAD_BYTES` of a file (nothing if it cannot be read)."""
    try:
        with open(name, "rb") as stream:
            return stream.read(HEAD_BYTES)
    except OSError:
        return b""


# -- the --save pattern ---------------------------------------------------------------------------


def _save_paths(pattern: str, first: int, last: int) -> list[str]:
    """The file names ``--save`` gives the epochs checked (`_epochs_checked`) of a run that
    writes epochs ``first`` to ``last``; a UsageError unless ``{epoch}`` is the only
    placeholder (none nested in another's format) and every name is a plain name in one
    folder."""
    formatter = string.Formatter()
    try:
        fields = [(name, spec) for _, name, spec, _ in formatter.parse(pattern) if name is not None]
        nested = [
            (inner, f"{{{name}:{spec}}}")
            for name, spec in fields
            for _, inner, _, _ in formatter.parse(spec or "")
            if inner is not None
        ]
        others = [f"{{{name}}}" for name, _ in fields if name != "epoch"]
        others += [f"{{{inner}}} (in {field})" for inner, field in nested]
        names = [] if others else [pattern.format(epoch=first)]
        if names and len(names[0]) <= LONGEST_PATH:  # (not a width of millions)
            names = [pattern.format(epoch=epoch) for epoch in _epochs_checked(first, last)]
    except (ValueError, TypeError, OverflowError) as error:  # ({epoch:c} past chr's range)
        raise UsageError(
            f"argument --save: {pattern!r} is not a file name pattern ({error}): {{epoch}} "
            "stands for the epoch's number, {{ and }} for braces"
        ) from None
    if others:
        verb = "is not a placeholder" if len(others) == 1 else "are not placeholders"
        raise UsageError(
            f"argument --save: {', '.join(sorted(set(others)))} {verb}: only {{epoch}} is "
            "filled in (the epoch's number), as in ck_{epoch}.npz"
        )
    plain = all(name.isprintable() and len(name) <= LONGEST_PATH for name in names)
    if len({os.path.dirname(name) for name in names}) > 1 or not plain:
        raise UsageError(
            f"argument --save: {pattern!r} does not give every epoch a plain file name in one "
            "folder: write {epoch} (or {epoch:03d}) for the epoch's number"
        )
    return names


def _epochs_checked(first: int, last: int) -> Sequence[int]:
    """The epochs from ``first`` to ``last`` whose ``--save`` names are checked before
    training: all of them, up to `SAVE_NAMES_CHECKED`; beyond, so that a long run is not held
    up (or out of memory) by its checks, the first, the last, and those where the number gains
    a digit, where a format such as ``{epoch:_>4}`` could change a name's shape."""
    if last - first < SAVE_NAMES_CHECKED:
        return range(first, last + 1)
    picks, power = {first, last}, 10
    while power <= last:
        picks.update(epoch for epoch in (power - 1, power) if epoch >= first)
        power *= 10
    return sorted(picks)


def _existing_names(pattern: str, first: int, last: int) -> list[str]:
    """The files of the ``--save`` folder that a long run would write over: each name that
    some number in it, between ``first`` and ``last``, turns the pattern into."""
    folder = os.path.dirname(pattern.format(epoch=first))
    try:
        entries = os.listdir(folder or ".")
    except OSError:
        return []  # (check_writable says why)
    found = []
    for entry in entries:
        for number in _numbers_in(entry):
            name = pattern.format(epoch=number) if first <= number <= last else ""
            if name and os.path.basename(name) == entry:
                found.append(name)
    return found


def _numbers_in(text: str) -> Iterable[int]:
    """The whole numbers written in ``text``: each run of digits, and each run with ``,`` or
    ``_`` between its digits (as ``{epoch:,}`` writes 12,345)."""
    runs = re.findall(r"\d+", text) + re.findall(r"\d[\d,_]*\d", text)
    return {int(re.sub(r"[,_]", "", run)) for run in runs}
