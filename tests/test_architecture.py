"""The rooms of ARCHITECTURE.md and the way their arrows point, checked on the source."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROOMS = ("chat", "importer", "meetings", "notify", "plugins", "publish", "runtime",
         "schedules", "storage", "web")
# What each room may import of the others; anything else is an arrow pointing up.
ALLOWED = {
    "meetings": set(),
    "plugins": {"meetings"},
    "chat": {"meetings"},
    "schedules": {"meetings"},
    "storage": {"meetings"},
    "publish": {"meetings", "storage"},
    "notify": {"meetings", "publish"},
    "importer": {"meetings", "publish", "storage"},
    "web": {"meetings", "plugins", "publish", "storage"},
    "runtime": set(ROOMS) - {"runtime"},
}
# Third-party libraries that belong to one room only.
LIBRARIES = {"irc": {"chat"}, "nio": {"chat"}, "jaraco": {"chat"},
             "sqlalchemy": {"storage"}, "alembic": {"storage"}, "jinja2": {"publish"},
             "prometheus_client": {"runtime", "web"}}


def _top(module: str) -> str:
    """The room (`openminutes.chat.base` -> chat) or the library (`sqlalchemy.orm`)."""
    parts = module.split(".")
    return parts[1] if parts[0] == "openminutes" and len(parts) > 1 else parts[0]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(_top(node.module))
        elif isinstance(node, ast.Import):
            found.update(_top(alias.name) for alias in node.names)
    return found


def _room_imports() -> dict[str, dict[Path, set[str]]]:
    return {room: {path: _imports(path) for path in (ROOT / room).rglob("*.py")
                   if "migrations" not in path.parts}
            for room in ROOMS}


def test_every_arrow_points_down() -> None:
    seen = {other for files in _room_imports().values() for imported in files.values()
            for other in imported}
    assert {"meetings", "storage", "chat"} <= seen  # the imports are read at all
    wrong = [f"{path.relative_to(ROOT)} imports {other}"
             for room, files in _room_imports().items()
             for path, imported in files.items()
             for other in sorted(imported & set(ROOMS))
             if other != room and other not in ALLOWED[room]]
    assert wrong == []


def test_libraries_stay_in_their_room() -> None:
    wrong = [f"{path.relative_to(ROOT)} imports {library}"
             for room, files in _room_imports().items()
             for path, imported in files.items()
             for library, rooms in LIBRARIES.items()
             if library in imported and room not in rooms]
    assert wrong == []


def test_the_allowed_arrows_have_no_circle() -> None:
    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in ALLOWED[start]:
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    assert [room for room in ROOMS if reaches(room, room, set())] == []


def test_the_schema_head_is_alembics_newest_migration() -> None:
    from alembic.script import ScriptDirectory

    from openminutes.storage.repository import SCHEMA_HEAD, alembic_config

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == SCHEMA_HEAD


def test_an_irc_bot_on_sqlite_loads_no_library_it_does_not_use(tmp_path: Path) -> None:
    """Memory (bench/bench_e2e.py --only idle): Matrix, PostgreSQL, calendars, serving and
    migrations and webhooks are loaded only where configured or needed. The database is migrated
    first, as a bot that ran before finds it."""
    url = f"sqlite:///{tmp_path}/bot.db"
    script = (
        "import asyncio, sys\n"
        "from openminutes.runtime import cli\n"
        "from openminutes.storage import Storage\n"
        "async def main():\n"
        f"    await (await Storage.open({url!r})).close()\n"
        "asyncio.run(main())\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    first = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=True, cwd=ROOT)
    assert "alembic" in first.stdout.split()  # a new database is migrated
    loaded = set(subprocess.run([sys.executable, "-c", script], capture_output=True,
                                text=True, check=True, cwd=ROOT).stdout.split())
    assert "sqlalchemy" in loaded  # the list is read at all
    assert loaded.isdisjoint({"nio", "alembic", "mako", "pygments", "psycopg", "icalendar",
                              "aiohttp"}), \
        loaded
