"""What `/healthz` asks, without the web server: `run` builds its health check from this
whether or not it serves one (aiohttp is loaded only where something is served)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from openminutes.storage.protocols import SearchIndex

# What is wrong, in a few words each ("database: connection refused"); empty: healthy.
HealthCheck = Callable[[], Awaitable[list[str]]]


async def database_problems(storage: SearchIndex) -> list[str]:
    """What /healthz says of the database: nothing while it answers."""
    try:
        await storage.ping()
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        return [f"database: {type(exc).__name__}: {first}"]
    return []
