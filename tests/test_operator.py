"""What an operator runs before and around the bot, as they would run it:
`openminutes check` against real servers (each passing and each failing), and
`openminutes db current|upgrade|copy` on SQLite and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from openminutes.storage import Storage
from openminutes.storage.repository import alembic_config
from tests.matrix_server import SERVER_NAME, Synapse
from tests.servers import FakeServices, InspIrcd, NgIrcd, free_port
from tests.test_matrix_integration import bot_account, people_on

ROOT = Path(__file__).resolve().parent.parent


def _bot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), *args], capture_output=True,
                          text=True, check=False, timeout=120)


def _config(tmp: Path, body: str, *, url: str = "", publish: str = "") -> Path:
    path = tmp / "config.toml"
    path.write_text(f'[storage]\nurl = "{url or f"sqlite:///{tmp}/bot.db"}"\n'
                    f'[publish]\ndir = "{publish or tmp / "minutes"}"\n'
                    f'base_url = "https://minutes.example.org"\n{body}')
    return path


def _irc(port: int, extra: str = "") -> str:
    return (f'[[irc]]\nname = "test"\nhost = "127.0.0.1"\nport = {port}\nnick = "checkbot"\n'
            f'channels = ["#meeting"]\n{extra}')


def _lines(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """Each check's line by what it checked: `ok   irc[0] test: ...` -> {irc[0] test: ok ...}"""
    found = {}
    for line in done.stdout.splitlines():
        status, _, rest = line.partition(" ")
        what, _, detail = rest.strip().partition(": ")
        if status in ("ok", "FAIL"):
            found[what] = f"{status} {detail}"
    return found


async def test_check_passes_on_a_good_config_and_names_what_fails(
        ngircd: NgIrcd, tmp_path: Path) -> None:
    good = _bot("check", "-c", str(_config(tmp_path, _irc(ngircd.port))))
    assert good.returncode == 0, good.stdout + good.stderr
    lines = _lines(good)
    assert lines["config"].startswith("ok")
    assert lines["storage.url"].startswith("ok")
    assert "new" in lines["storage.url"]
    assert lines["publish.dir"].startswith("ok")
    assert lines["irc[0] test"].startswith(f"ok registered as checkbot on 127.0.0.1:{ngircd.port}")
    assert good.stdout.splitlines()[-1] == "all checks passed"
    assert not (tmp_path / "bot.db").exists()  # a check changes nothing

    closed = free_port()
    (tmp_path / "afile").write_text("")
    bad = _bot("check", "-c", str(_config(tmp_path, _irc(closed),
                                          publish=str(tmp_path / "afile" / "minutes"))))
    assert bad.returncode == 1
    lines = _lines(bad)
    assert lines["irc[0] test"].startswith(f"FAIL cannot connect to 127.0.0.1:{closed}")
    assert lines["publish.dir"].startswith("FAIL")
    assert "is not a folder" in lines["publish.dir"]
    assert bad.stdout.splitlines()[-1] == "some checks failed"

    broken = _bot("check", "-c", str(_config(tmp_path, "[irc]\nnick = 3\n")))
    assert broken.returncode == 1
    assert _lines(broken)["config"].startswith("FAIL")


def _at_revision(url: str, revision: str) -> None:
    """A database as an older openminutes left it."""
    cfg = alembic_config()
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    engine.dispose()


async def test_check_and_db_commands_on_a_database_behind(postgres_url: str,
                                                         tmp_path: Path) -> None:
    _at_revision(postgres_url, "0010")
    scripts = ScriptDirectory.from_config(alembic_config())
    head = scripts.get_current_head()
    pending = sum(1 for _ in scripts.iterate_revisions(head, "0010"))
    config = str(_config(tmp_path, "", url=postgres_url))
    behind = _bot("check", "-c", config)
    assert behind.returncode == 1
    line = _lines(behind)["storage.url"]
    assert line.startswith("FAIL")
    assert f"schema 0010, {pending} migrations pending" in line
    assert "postgres@127.0.0.1" in line
    current = _bot("db", "current", "-c", config)
    assert current.returncode == 1
    assert f"schema 0010, {pending} migrations pending (to {head}" in current.stdout
    upgraded = _bot("db", "upgrade", "-c", config)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip() == f"schema {head} (up to date)"
    assert _bot("check", "-c", config).returncode == 0
    # A database that cannot be reached: named, with no password shown.
    name = f"missing_{uuid.uuid4().hex[:8]}"
    gone = _bot("check", "-c", str(_config(
        tmp_path, "", url=f"postgresql://postgres:sekrit@127.0.0.1:5432/{name}")))
    assert gone.returncode == 1
    line = _lines(gone)["storage.url"]
    assert line.startswith("FAIL cannot open postgresql://postgres:***@127.0.0.1:5432/")
    assert "sekrit" not in gone.stdout + gone.stderr


@pytest.mark.integration
async def test_check_logs_in_to_synapse_and_resolves_rooms(synapse: Synapse,
                                                           tmp_path: Path) -> None:
    (alice,) = await people_on(synapse.url, "alice")
    alias = f"checkroom{uuid.uuid4().hex[:6]}"
    room_id = await alice.create_room(alias)
    await alice.close()
    await bot_account(synapse.url)

    def matrix(password: str, rooms: str) -> str:
        return (f'[[matrix]]\nname = "matrix"\nhomeserver = "{synapse.url}"\n'
                f'user_id = "@minutebot:{SERVER_NAME}"\npassword = "{password}"\n'
                f"rooms = [{rooms}]\n")

    good = _bot("check", "-c", str(_config(
        tmp_path, matrix("password-minutebot", f'"#{alias}:{SERVER_NAME}", "{room_id}"'))))
    assert good.returncode == 0, good.stdout + good.stderr
    line = _lines(good)["matrix[0] matrix"]
    assert f"#{alias}:{SERVER_NAME} -> {room_id}" in line
    assert f"{room_id} (run joins it)" in line
    wrong = _bot("check", "-c", str(_config(tmp_path, matrix("not-it", ""))))
    assert wrong.returncode == 1
    assert _lines(wrong)["matrix[0] matrix"].startswith(
        f"FAIL {synapse.url} refused the login of @minutebot:{SERVER_NAME} (password)")
    assert "not-it" not in wrong.stdout + wrong.stderr
    missing = _bot("check", "-c", str(_config(
        tmp_path, matrix("password-minutebot", f'"#nowhere:{SERVER_NAME}"'))))
    assert missing.returncode == 1
    assert _lines(missing)["matrix[0] matrix"].startswith(
        f"FAIL rooms[0] '#nowhere:{SERVER_NAME}' does not resolve")


def test_db_copy_needs_an_empty_target(tmp_path: Path, postgres_server: str) -> None:
    del postgres_server  # a running PostgreSQL, for the fixture's sake
    source = tmp_path / "a"
    source.mkdir()
    log = source / "proj" / "weekly.2026-01-01-18.00.log.txt"
    log.parent.mkdir()
    log.write_text("18:00:00 <chair> #startmeeting\n18:00:10 <chair> #agreed ship\n"
                   "18:00:20 <chair> #endmeeting\n")
    config = str(_config(source, ""))
    assert _bot("import", str(log), "-c", config).returncode == 0
    target = f"sqlite:///{tmp_path}/target.db"
    first = _bot("db", "copy", "--to", target, "-q", "-c", config)
    assert first.returncode == 0, first.stderr
    assert "1 meetings" in first.stdout
    assert "lines of 1 meetings verified" in first.stdout
    again = _bot("db", "copy", "--to", target, "-q", "-c", config)
    assert again.returncode == 1
    assert "the target already holds 1 meetings and 1 imported files" in again.stderr


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix != ".ics"}


def _assert_analysed(url: str) -> None:
    """lines and items have planner statistics and were vacuumed (which also merges the
    GIN index's pending list), as a bulk load should leave them."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT relname, last_analyze, last_vacuum FROM "
                            "pg_stat_user_tables WHERE relname IN ('lines', 'items')").fetchall()
    assert len(rows) == 2
    assert all(analyzed and vacuumed for _, analyzed, vacuumed in rows), rows


def _hits(url: str, query: str) -> set[tuple[int, int]]:
    """(meeting id, line) of every hit of a query, on the store at url."""
    async def hits() -> set[tuple[int, int]]:
        storage = await Storage.open(url)
        try:
            found: set[tuple[int, int]] = set()
            for offset in range(0, 1000, 100):
                page = await storage.search(query, limit=100, offset=offset)
                found.update((hit.meeting.id, hit.line) for hit in page.hits)
            return found
        finally:
            await storage.close()
    return asyncio.run(hits())


def test_import_into_postgresql_leaves_it_analysed(postgres_url: str, tmp_path: Path) -> None:
    logs = tmp_path / "logs" / "proj"
    logs.mkdir(parents=True)
    for day in range(1, 4):
        (logs / f"proj.2026-02-0{day}-18.00.log.txt").write_text(
            "18:00:00 <chair> #startmeeting\n18:00:05 <bob> #agreed ship it\n"
            "18:00:20 <chair> #endmeeting\n")
    config = str(_config(tmp_path, "", url=postgres_url))
    done = _bot("import", str(tmp_path / "logs"), "-q", "--no-render", "-c", config)
    assert done.returncode == 0, done.stderr
    _assert_analysed(postgres_url)


def test_db_copy_to_postgresql_resumes_after_a_kill_and_renders_the_same(
        postgres_url: str, tmp_path: Path) -> None:
    logs = tmp_path / "logs" / "proj"
    logs.mkdir(parents=True)
    talk = "".join(f"18:{10 + n // 3600 % 40:02d}:{n % 60:02d} <p{n % 7}> line {n} of the "
                   f"meeting\n" for n in range(24_000))
    (logs / "big.2026-01-01-18.00.log.txt").write_text(
        "18:00:00 <chair> #startmeeting big\n18:00:01 <chair> #agreed keep it all\n"
        + talk + "18:59:59 <chair> #endmeeting\n")
    for day in range(2, 6):
        (logs / f"small.2026-01-0{day}-18.00.log.txt").write_text(
            f"18:00:00 <chair> #startmeeting\n18:00:05 <bob> #action bob to do {day}\n"
            "18:00:20 <chair> #endmeeting\n")
    config = str(_config(tmp_path, "", publish=str(tmp_path / "minutes")))
    assert _bot("import", str(tmp_path / "logs"), "-q", "-c", config).returncode == 0
    # Killed while it copies the lines, then run again: it carries on where it was.
    copying = subprocess.Popen(
        [sys.executable, str(ROOT / "bot.py"), "db", "copy", "--to", postgres_url, "-c", config],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert copying.stderr is not None
    seen = b""
    while b"copying lines: 10,000" not in seen:
        chunk = copying.stderr.read1(256)  # type: ignore[attr-defined]
        assert chunk, seen
        seen += chunk
    copying.kill()
    copying.wait()
    with psycopg.connect(postgres_url) as conn:
        copied = conn.execute("SELECT count(*) FROM lines").fetchone()
    assert copied is not None
    assert 10_000 <= copied[0] < 24_000
    resumed = _bot("db", "copy", "--to", postgres_url, "-q", "-c", config)
    assert resumed.returncode == 0, resumed.stderr
    assert "(resumed)" in resumed.stdout
    assert "the lines of 5 meetings verified" in resumed.stdout
    _assert_analysed(postgres_url)
    # Both stores find the same newest lines (24,000 lines span two blocks of ids).
    sqlite, copy = (_hits(url, "meeting") for url in
                    (f"sqlite:///{tmp_path}/bot.db", postgres_url))
    assert copy == sqlite
    assert len(copy) == 500
    # The copy renders the very same archive.
    pg_config = str(_config(tmp_path / "logs", "", url=postgres_url,
                            publish=str(tmp_path / "again")))
    rendered = _bot("render", "--all", "-c", pg_config)
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    ours, theirs = _files(tmp_path / "minutes"), _files(tmp_path / "again")
    assert sorted(ours) == sorted(theirs)
    assert [name for name in ours if ours[name] != theirs[name]] == []
    # New meetings on the copy take ids after the copied ones.
    with psycopg.connect(postgres_url) as conn:
        conn.execute("INSERT INTO meetings (network, channel, name, title, founder, started_at,"
                     " publish_pending, series) VALUES ('irc', '#x', '', '', '', now(), false,"
                     " '') ")
        new = conn.execute("SELECT max(id) FROM meetings").fetchone()
    assert new is not None
    assert new[0] == 6


@pytest.fixture
def sasl_server(tmp_path: Path) -> Iterator[InspIrcd]:
    server = InspIrcd(tmp_path, free_port(), services_port=free_port(), sasl=True)
    server.start()
    yield server
    server.stop()


async def test_check_logs_in_with_sasl_on_inspircd(sasl_server: InspIrcd, tmp_path: Path) -> None:
    assert sasl_server.services_port is not None
    services = FakeServices({"minutes-acct": "right-password"})
    await services.link(sasl_server.services_port)
    try:
        def sasl(password: str) -> str:
            return _irc(sasl_server.port, f'sasl_username = "minutes-acct"\n'
                                          f'sasl_password = "{password}"\n')

        good = await asyncio.to_thread(
            _bot, "check", "-c", str(_config(tmp_path, sasl("right-password"))))
        assert good.returncode == 0, good.stdout + good.stderr
        assert _lines(good)["irc[0] test"] == (
            f"ok registered as checkbot on 127.0.0.1:{sasl_server.port}; "
            "SASL: logged in as minutes-acct")
        wrong = await asyncio.to_thread(
            _bot, "check", "-c", str(_config(tmp_path, sasl("wrong-password"))))
        assert wrong.returncode == 1
        assert _lines(wrong)["irc[0] test"] == (
            "FAIL the SASL login failed (sasl_username 'minutes-acct' on "
            f"127.0.0.1:{sasl_server.port})")
        assert "wrong-password" not in wrong.stdout + wrong.stderr
    finally:
        await services.close()
