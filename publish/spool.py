"""The log of an open meeting rendered ahead, on disk, while the meeting is quiet.

Publishing then copies what is rendered and renders only the lines since, so #endmeeting
of a long meeting is quick without the rendered log being held in memory. A correction
of a line already rendered makes the spool start again (see `stale`)."""

from __future__ import annotations

import asyncio
import tempfile
from typing import TextIO

from openminutes.meetings.state import Meeting
from openminutes.publish.render import LOG_OUTPUTS


class Spool:
    def __init__(self) -> None:
        # Anonymous temporary files: nothing to clean up, nothing left after a crash.
        self._files: dict[str, TextIO] = {
            key: tempfile.TemporaryFile("w+", encoding="utf-8", newline="\n")  # noqa: SIM115
            for key in LOG_OUTPUTS
        }
        self.lock = asyncio.Lock()  # one user at a time: warming or publishing
        self.upto = 0  # the seq of the last line rendered
        self.seen = 0  # how many of the meeting's corrections the rendered lines reflect

    def stale(self, meeting: Meeting) -> bool:
        """Whether a line already rendered has been corrected since."""
        return any(seq <= self.upto for seq in meeting.corrected[self.seen:])

    def check(self, meeting: Meeting) -> None:
        """Start again if a line already rendered has been corrected since."""
        if self.stale(meeting):
            for handle in self._files.values():
                handle.seek(0)
                handle.truncate()
            self.upto = self.seen = 0

    def append(self, pieces: dict[str, str], upto: int, seen: int) -> None:
        for key, text in pieces.items():
            handle = self._files[key]
            handle.seek(0, 2)
            handle.write(text)
        self.upto, self.seen = upto, seen

    def read(self, key: str) -> TextIO:
        """The rendered pieces of one output, from their start."""
        handle = self._files[key]
        handle.flush()
        handle.seek(0)
        return handle

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
