"""Where a meeting's files go, and writing them so a reader never sees half a file."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TextIO

from openminutes.publish.viewmodel import EXTENSIONS


def stem_for(name: str, started_at: datetime) -> str:
    """`{name}/{YYYY}/{name}.{YYYY-MM-DD-HH.MM}`, MeetBot's layout."""
    return f"{name}/{started_at:%Y}/{name}.{started_at:%Y-%m-%d-%H.%M}"


def stem_candidates(base: str) -> Iterator[str]:
    """The base stem, then `-2`, `-3` ... for meetings of the same name in the same minute."""
    yield base
    for n in range(2, 1000):
        yield f"{base}-{n}"


def files_for(stem: str) -> dict[str, str]:
    return {key: f"{stem}.{ext}" for key, ext in EXTENSIONS.items()}


def inside(root: Path, relative: str) -> Path:
    """The path of an output, refusing anything that would land outside the publish dir."""
    target = (root / relative).resolve()
    if not target.is_relative_to(root.resolve()):
        raise ValueError(f"output path {relative!r} escapes the publish dir")
    return target


class AtomicFiles:
    """Files written piece by piece (a long log never is one string in memory), each
    renamed into place only once all are complete; on an error none is replaced."""

    def __init__(self, paths: dict[str, Path], *, durable: bool = True) -> None:
        self.durable = durable
        self._targets = paths
        self._temps: dict[str, Path] = {}
        self._handles: dict[str, TextIO] = {}
        try:
            for key, path in paths.items():
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                           suffix=".tmp")
                self._temps[key] = Path(tmp)
                self._handles[key] = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        except BaseException:
            self.discard()
            raise

    def write(self, pieces: dict[str, str]) -> None:
        for key, text in pieces.items():
            self._handles[key].write(text)

    def copy(self, key: str, source: TextIO) -> None:
        shutil.copyfileobj(source, self._handles[key])

    def commit(self) -> None:
        for key, handle in self._handles.items():
            handle.flush()
            if self.durable:
                os.fsync(handle.fileno())
            handle.close()
            os.chmod(self._temps[key], 0o644)
        for key, tmp in self._temps.items():
            os.replace(tmp, self._targets[key])
        self._temps.clear()

    def discard(self) -> None:
        for handle in self._handles.values():
            # Closing flushes what is buffered, which fails again on a full disk: the
            # temporary files must go all the same.
            with contextlib.suppress(OSError):
                handle.close()
        for tmp in self._temps.values():
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        self._temps.clear()

    def __enter__(self) -> AtomicFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()  # after commit(), nothing is left to discard


def write_atomic(path: Path, content: str, *, durable: bool = True) -> None:
    """Temp file in the same folder, flushed, then renamed over the old one. Pages that
    are rebuilt from storage anyway (archive pages) skip the fsync."""
    with AtomicFiles({"": path}, durable=durable) as out:
        out.write({"": content})
        out.commit()
