"""What the bot is about to say on one network: bounded, fair across rooms, announcements
first, and never the same reply twice in a row. Pure: the adapters drain it at their own
pace (IRC's token bucket, Matrix's rate limits)."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)

PER_ROOM = 20  # lines of chatter waiting in one room; more is dropped, never queued
TOTAL = 400  # lines waiting on one network, all rooms together
REPEAT_WINDOW = 30.0  # seconds in which an identical reply to a room is not sent again
# Tokens of a sender's bucket kept for urgent lines: "Meeting ended ..." and the line
# naming the minutes go out at once however much chatter spent the burst before them.
URGENT_RESERVE = 2


def chatter_reserve(burst: int) -> int:
    """How many of a bucket's `burst` tokens chatter may not spend (it keeps one)."""
    return max(0, min(URGENT_RESERVE, burst - 1))


class Outbox:
    def __init__(self, *, per_room: int = PER_ROOM, total: int = TOTAL,
                 repeat_window: float = REPEAT_WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_room = per_room
        self.total = total
        self.repeat_window = repeat_window
        self._clock = clock
        # Two lanes, each a queue per room; rooms are served in turn (the one served
        # goes to the back), urgent lines before any chatter.
        self._urgent: OrderedDict[str, deque[str]] = OrderedDict()
        self._chatter: OrderedDict[str, deque[str]] = OrderedDict()
        self._said: dict[tuple[str, str], float] = {}  # (room, text) -> when queued
        # (room, kind) -> its line waiting in the room's chatter, replaced by a newer one
        self._replaceable: dict[tuple[str, str], str] = {}
        self._size = 0
        self.dropped = 0

    def __len__(self) -> int:
        return self._size

    def put(self, room: str, text: str, pieces: Sequence[str], *, urgent: bool = False,
            replaces: str | None = None) -> bool:
        """Queue a message (its pieces: the wire lines it takes) whole or not at all.
        Urgent messages (the minutes' URLs) are never refused; chatter is refused when it
        repeats what the room was just told or when the room or network is full.
        `replaces` names a one-line kind of which only the newest matters (the channel
        topic): it takes the place of one of its kind still waiting in the room."""
        key = room  # as given: Matrix room ids are case-sensitive
        now = self._clock()
        if replaces is not None and len(pieces) == 1 and self._replace(key, replaces,
                                                                      pieces[0]):
            return True
        if not urgent:
            said = self._said.get((key, text))
            if said is not None and now - said < self.repeat_window:
                return False
            waiting = len(self._chatter.get(key, ()))
            if waiting + len(pieces) > self.per_room or self._size + len(pieces) > self.total:
                self.dropped += 1
                log.warning("not saying %r in %s: %d lines already wait there", text[:60],
                            room, waiting)
                return False
        self._prune(now)
        self._said[(key, text)] = now
        lane = self._urgent if urgent else self._chatter
        lane.setdefault(key, deque()).extend(pieces)
        self._size += len(pieces)
        if replaces is not None and not urgent and len(pieces) == 1:
            self._replaceable[(key, replaces)] = pieces[0]
        return True

    def _replace(self, room: str, kind: str, line: str) -> bool:
        waiting = self._replaceable.get((room, kind))
        queue = self._chatter.get(room)
        if waiting is None or queue is None:
            return False
        try:
            queue[queue.index(waiting)] = line
        except ValueError:  # said already
            return False
        self._replaceable[(room, kind)] = line
        return True

    @property
    def urgent_waiting(self) -> bool:
        return bool(self._urgent)

    def pop(self, *, chatter: bool = True) -> tuple[str, str] | None:
        """The next line to send and its room, or None; urgent lines first, and chatter
        only when `chatter`."""
        for lane in (self._urgent, self._chatter) if chatter else (self._urgent,):
            if lane:
                room, queue = next(iter(lane.items()))
                line = queue.popleft()
                if queue:
                    lane.move_to_end(room)
                else:
                    del lane[room]
                self._size -= 1
                return room, line
        return None

    def push_back(self, room: str, line: str) -> None:
        """A line popped but not sent (the connection went): first again."""
        lane = self._urgent.setdefault(room, deque())
        lane.appendleft(line)
        self._urgent.move_to_end(room, last=False)
        self._size += 1

    def _prune(self, now: float) -> None:
        if len(self._said) > 1000:
            self._said = {k: t for k, t in self._said.items() if now - t < self.repeat_window}
