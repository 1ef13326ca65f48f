"""What storage raises, so that no caller needs to know the database library."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.exc import SQLAlchemyError

P = ParamSpec("P")
T = TypeVar("T")


class StorageUnavailableError(Exception):
    """The database could not be reached or refused the transaction (PostgreSQL
    restarting, SQLite locked): nothing was written; the same call may succeed later."""


def retryable(method: Callable[P, Coroutine[Any, Any, T]]
              ) -> Callable[P, Coroutine[Any, Any, T]]:
    """A write callers retry: a database failure comes out as StorageUnavailableError."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except SQLAlchemyError as exc:
            raise StorageUnavailableError(str(exc).splitlines()[0] if str(exc) else
                                          type(exc).__name__) from exc

    return wrapper


class FencedError(Exception):
    """A write of lines for rooms whose lease this process no longer holds (another
    process of its group took them over): nothing was written."""

    def __init__(self, rooms: frozenset[tuple[str, str]]) -> None:
        super().__init__("no longer the recorder of " +
                         ", ".join(f"{room} on {network}" for network, room in sorted(rooms)))
        self.rooms = rooms


class InUseError(Exception):
    """Another `openminutes run` records into this SQLite file (the message: which)."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder
