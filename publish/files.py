"""Where a meeting's files go, and writing them so a reader never sees half a file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from publish.viewmodel import EXTENSIONS


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


def write_atomic(path: Path, content: str, *, durable: bool = True) -> None:
    """Temp file in the same folder, flushed, then renamed over the old one. Pages that
    are rebuilt from storage anyway (archive pages) skip the fsync."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(content)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
