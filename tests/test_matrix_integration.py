"""The bot as a user runs it (`python bot.py run -c ...`) in rooms of a real Synapse, with
two people holding meetings: every command in both spellings, edits and redactions, a
SIGKILL while people keep talking, Synapse's default rate limits, encrypted rooms."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import minutes_json_files
from tests.matrix_server import SERVER_NAME, Person, Synapse
from tests.servers import free_port
from tests.test_irc_integration import _start_bot, _stop_bot

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent
BOT = f"@minutebot:{SERVER_NAME}"


async def people_on(url: str, *names: str) -> list[Person]:
    people = []
    for name in names:
        person = Person(url, f"{name}{uuid.uuid4().hex[:6]}")
        await person.register()
        await person.client.set_displayname(name)
        person.start_listening()
        people.append(person)
    return people


@pytest.fixture
async def room(synapse: Synapse) -> AsyncIterator[tuple[Person, Person, str, str]]:
    """alice (who made the room, power level 100) and bob (0) in a fresh public room."""
    alice, bob = await people_on(synapse.url, "alice", "bob")
    alias_name = f"meeting{uuid.uuid4().hex[:6]}"
    room_id = await alice.create_room(alias_name)
    await bob.join(room_id)
    yield alice, bob, room_id, f"#{alias_name}:{SERVER_NAME}"
    await alice.close()
    await bob.close()


_bot_user_made: set[str] = set()


async def bot_account(url: str) -> None:
    if url not in _bot_user_made:
        bot = Person(url, "minutebot")
        await bot.register()
        await bot.close()
        _bot_user_made.add(url)


def matrix_config(tmp: Path, url: str, rooms: list[str], extra: str = "") -> Path:
    path = tmp / "config.toml"
    path.write_text(
        f'[storage]\nurl = "sqlite:///{tmp}/bot.db"\n'
        f'[publish]\ndir = "{tmp}/minutes"\nbase_url = "https://minutes.example.org"\n'
        "[[matrix]]\n"
        f'name = "matrix"\nhomeserver = "{url}"\nuser_id = "{BOT}"\n'
        'password = "password-minutebot"\n'
        f"rooms = {json.dumps(rooms)}\nsync_timeout = 5\n{extra}"
    )
    return path


async def wait_joined(person: Person, room_id: str, seconds: float = 30) -> None:
    async with asyncio.timeout(seconds):
        while True:
            members: Any = await person.client.joined_members(room_id)
            if BOT in [m.user_id for m in getattr(members, "members", [])]:
                return
            await asyncio.sleep(0.1)


def minutes_json(tmp: Path) -> dict[str, Any]:
    files = minutes_json_files(tmp / "minutes")
    assert len(files) == 1, files
    data: dict[str, Any] = json.loads(files[0].read_text())
    return data


async def _set_power(person: Person, room_id: str, user_id: str, level: int) -> None:
    state: Any = await person.client.room_get_state_event(room_id, "m.room.power_levels")
    content = dict(state.content)
    content["users"] = {**content.get("users", {}), user_id: level}
    response = await person.client.room_put_state(room_id, "m.room.power_levels", content)
    assert hasattr(response, "event_id"), response


def _search(folder: Path, query: str) -> list[dict[str, Any]]:
    found = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "search", query, "--json", "-c",
         str(folder / "config.toml")], capture_output=True, text=True, check=True)
    hits: list[dict[str, Any]] = json.loads(found.stdout)["hits"]
    return hits


async def test_full_meeting_in_a_matrix_room(
    synapse: Synapse, room: tuple[Person, Person, str, str], tmp_path: Path
) -> None:
    alice, bob, room_id, alias = room
    await bot_account(synapse.url)
    bot = _start_bot(matrix_config(tmp_path, synapse.url, [alias]))
    try:
        await wait_joined(alice, room_id)
        await alice.say(room_id, "!sm Matrix Test")
        await alice.wait_for(BOT, "Meeting started")
        await bob.say(room_id, "#startmeeting again")
        await alice.wait_for(BOT, "already in progress")
        await alice.say(room_id, "!topic First topic")
        await alice.say(room_id, "^info maubot spelling")
        await alice.say(room_id, "#info MeetBot spelling")
        await alice.say(room_id, "^action bob writes the docs")  # localpart match
        multi = await alice.say(room_id, "^idea an idea\n^link https://example.org/spec\n"
                                         "^halp reviewers wanted")  # three commands
        await alice.say(room_id, "!t Second topic")
        typo = await alice.say(room_id, "#agreed ship it on Tusday")
        await alice.edit(room_id, typo, "#agreed ship it on Tuesday")
        await bob.say(room_id, "#rejected bob is no chair")
        await alice.wait_for(BOT, "is for chairs only")
        await _set_power(alice, room_id, bob.user_id, 50)
        await asyncio.sleep(0.5)  # the bot sees the new power level in its next sync
        await bob.say(room_id, "^rejected the old plan")
        secret = await bob.say(room_id, "oops, my password is hunter2")
        await alice.redact(room_id, secret)
        await bob.say(room_id, "waves", msgtype="m.emote")
        await bob.say(room_id, "> <@x:test.local> quoted\n\nmy reply <b>bold</b>",
                      extra={"m.relates_to": {"m.in_reply_to": {"event_id": typo}}})
        await alice.say(room_id, "!mn matrix-test")
        await alice.wait_for(BOT, "meeting name has been set to 'matrix-test'")
        await bob.say(room_id, "!em")
        await alice.wait_for(BOT, "Log:")
        # After the end: a redaction still reaches the ended meeting's outputs.
        (minutes,) = (p for p in (tmp_path / "minutes").rglob("matrix-test.*.html")
                      if not p.name.endswith(".log.html"))
        assert "an idea" in minutes.read_text()
        await alice.redact(room_id, multi)
        async with asyncio.timeout(20):
            while "an idea" in minutes.read_text():  # noqa: ASYNC110 (a file: polled)
                await asyncio.sleep(0.1)
    finally:
        output = await _stop_bot(bot)
    data = minutes_json(tmp_path)
    items = [(i["kind"], i["text"]) for i in data["items"]]
    assert items == [
        ("topic", "First topic"), ("info", "maubot spelling"), ("info", "MeetBot spelling"),
        ("action", "bob writes the docs"),
        ("topic", "Second topic"), ("agreed", "ship it on Tuesday"),
        ("rejected", "the old plan"),
    ], output
    assert data["name"] == "matrix-test"
    assert data["channel"] == alias  # the room as configured, not its opaque id
    assert data["chairs"] == ["alice"]
    by_text = {e["text"]: e for e in data["log"] if e["kind"] in ("message", "action")}
    # The display name is shown, the user id kept beside it.
    assert by_text["!sm Matrix Test"]["nick"] == "alice"
    assert by_text["!sm Matrix Test"]["account"] == alice.user_id
    assert by_text["#agreed ship it on Tuesday"].get("edited") is True
    assert by_text["waves"]["kind"] == "action"
    assert "my reply <b>bold</b>" in by_text  # body, not the quoted fallback
    assert [a["owners"] for a in data["actions"]] == [["bob"]]
    kinds = [e["kind"] for e in data["log"]]
    assert "redacted" in kinds
    assert "redaction" in kinds
    everything = "".join(p.read_text(errors="replace")
                         for p in (tmp_path / "minutes").rglob("*") if p.is_file())
    assert "hunter2" not in everything
    html = "".join(p.read_text() for p in (tmp_path / "minutes").rglob("*.html"))
    assert "&lt;b&gt;bold" in html
    assert "<b>bold" not in html
    # Every line once: the bot's own messages echoed back by the sync are not logged twice.
    texts = [e["text"] for e in data["log"]]
    assert len(texts) == len(set(zip(texts, [e["line"] for e in data["log"]], strict=True)))
    assert texts.count("!sm Matrix Test") == 1
    assert _search(tmp_path, "hunter2") == []
    assert _search(tmp_path, "Tuesday"), "the edited text is searchable"


async def _event_time(person: Person, room_id: str, event_id: str) -> str:
    """An event's origin_server_ts, as the JSON minutes write times."""
    from datetime import UTC, datetime

    response: Any = await person.client.room_get_event(room_id, event_id)
    stamp = datetime.fromtimestamp(response.event.server_timestamp / 1000, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_killed_bot_catches_up_every_line_once_in_order(
    synapse: Synapse, room: tuple[Person, Person, str, str], tmp_path: Path
) -> None:
    alice, bob, room_id, alias = room
    await bot_account(synapse.url)
    config = matrix_config(tmp_path, synapse.url, [alias])
    bot = _start_bot(config)
    sent: list[tuple[str, str]] = []  # (text, event id) in the order said
    try:
        await wait_joined(alice, room_id)
        sent.append(("#startmeeting", await alice.say(room_id, "#startmeeting")))
        await alice.wait_for(BOT, "Meeting started")
        text = "#topic before the crash"
        sent.append((text, await alice.say(room_id, text)))
        sent.append(("#chair bob", await alice.say(room_id, "#chair bob")))
        await alice.wait_for(BOT, "Current chairs")
    finally:
        bot.send_signal(signal.SIGKILL)
        await _stop_bot(bot)
    devices = await _devices(synapse.url, tmp_path)
    # More than one sync's timeline (100 events) is said while the bot is dead, so the
    # bot's first sync comes back `limited` and the rest must be read from /messages.
    for n in range(130):
        speaker = alice if n % 2 else bob
        text = f"said while the bot was down {n}"
        sent.append((text, await speaker.say(room_id, text)))
    sent.append(("#agreed agreed while the bot was down",
                 await bob.say(room_id, "#agreed agreed while the bot was down")))
    bot = _start_bot(config)
    try:
        await alice.wait_for(BOT, "Resumed recording")
        text = "#info after the restart"
        sent.append((text, await alice.say(room_id, text)))
        sent.append(("#endmeeting", await bob.say(room_id, "#endmeeting")))
        await alice.wait_for(BOT, "Log:")
    finally:
        output = await _stop_bot(bot)
        print(output[-5000:])
    data = minutes_json(tmp_path)
    people = [e for e in data["log"] if e["nick"] in ("alice", "bob")]
    assert [e["text"] for e in people] == [text for text, _ in sent], output
    for entry, (_, event_id) in zip(people, sent, strict=True):
        assert entry["time"] == await _event_time(alice, room_id, event_id)
    assert [i["text"] for i in data["items"]] == [
        "before the crash", "agreed while the bot was down", "after the restart"]
    # Commands caught up are applied, not answered late: one "Current chairs" reply only,
    # and nothing about the agreement said while the bot was away.
    assert len(await alice.wait_for(BOT, "Current chairs")) == 1
    assert len(alice.said_by(BOT)) == len(set(alice.said_by(BOT)))
    assert data["gaps"] == []  # nothing was missed, so no gap is claimed
    # The password logged in once: the second run reused the kept access token and device.
    assert await _devices(synapse.url, tmp_path) == devices


async def _devices(url: str, folder: Path) -> int:
    import sqlite3

    with sqlite3.connect(folder / "bot.db") as db:
        (token,) = db.execute("SELECT value FROM chat_state WHERE network = 'matrix' "
                              "AND key = 'access_token'").fetchone()
    client = Person(url, "minutebot")
    client.client.access_token = token
    try:
        response: Any = await client.client.devices()
        return len(response.devices)
    finally:
        await client.close()


@pytest.fixture(scope="module")
def synapse_limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    """Synapse with its default message rate limits (a burst of ~10, then HTTP 429)."""
    server = Synapse(tmp_path_factory.mktemp("synapse-limited"), free_port(), rate_limits=True)
    server.start()
    yield server
    server.stop()


async def test_default_rate_limits_delay_replies_but_never_lose_or_repeat_them(
    synapse_limited: Synapse, tmp_path: Path
) -> None:
    alice, bob = await people_on(synapse_limited.url, "alice", "bob")
    try:
        alias_name = f"limited{uuid.uuid4().hex[:6]}"
        room_id = await alice.create_room(alias_name)
        await bob.join(room_id)
        await bot_account(synapse_limited.url)
        bot = _start_bot(matrix_config(tmp_path, synapse_limited.url,
                                 [f"#{alias_name}:{SERVER_NAME}"]))
        try:
            await wait_joined(alice, room_id)
            await alice.say(room_id, "#startmeeting")
            await alice.wait_for(BOT, "Meeting started")
            # One message of 20 commands, 10 of which ask for a reply: with the replies
            # around them, more than Synapse lets the bot send at once (about 10).
            await alice.say(room_id, "\n".join(
                f"#info item {n}\n#nick name{n}" for n in range(10)))
            await alice.say(room_id, "#endmeeting")
            await alice.wait_for(BOT, "Log:", seconds=120)
            # The minutes' URLs go before the replies still waiting; those follow.
            await alice.wait_for(BOT, "Nick added for action items: name9", seconds=120)
        finally:
            output = await _stop_bot(bot)
        replies = alice.said_by(BOT)
        for n in range(10):
            assert replies.count(f"Nick added for action items: name{n}") == 1, output
        assert len(replies) == len(set(replies)), replies
        assert "429" in output  # the limit was met, and waited out
        data = minutes_json(tmp_path)
        assert [i["text"] for i in data["items"]] == [f"item {n}" for n in range(10)]
    finally:
        await alice.close()
        await bob.close()


HOSTILE_NAME = '"><img src=x onerror=alert(1)>'


async def test_encrypted_room_is_refused_once_and_invites_follow_invite_servers(
    synapse: Synapse, tmp_path: Path
) -> None:
    alice, bob = await people_on(synapse.url, "alice", "bob")
    try:
        await bot_account(synapse.url)
        secret_room = await alice.create_room(f"secret{uuid.uuid4().hex[:6]}", encrypted=True)
        open_room = await bob.create_room(f"open{uuid.uuid4().hex[:6]}")
        config = matrix_config(tmp_path, synapse.url, [], f'invite_servers = ["{SERVER_NAME}"]\n')
        bot = _start_bot(config)
        try:
            await asyncio.sleep(1)  # the bot's first sync, before any invitation
            await alice.client.room_invite(secret_room, BOT)
            await bob.client.room_invite(open_room, BOT)
            await wait_joined(bob, open_room)
            await alice.wait_for(BOT, "end-to-end encrypted")
            await bob.client.set_displayname(HOSTILE_NAME)
            await bob.say(open_room, "#startmeeting invited")
            await bob.wait_for(BOT, "Meeting started")
            await bob.say(open_room, "#endmeeting")
            await bob.wait_for(BOT, "Log:")
        finally:
            await _stop_bot(bot)
        bot = _start_bot(config)
        try:
            # A command said while the bot is still catching up is applied unanswered;
            # asking until it answers proves it is back.
            before = len(bob.said_by(BOT))
            async with asyncio.timeout(30):
                while not [m for m in bob.said_by(BOT)[before:]
                           if "started" in m or "progress" in m]:
                    await bob.say(open_room, "#startmeeting again")
                    await asyncio.sleep(1)
        finally:
            await _stop_bot(bot)
        # Said once, not again after the restart.
        assert len([m for m in alice.said_by(BOT) if "end-to-end encrypted" in m]) == 1
        # A hostile display name is inert text in every HTML output, title included.
        pages = [p.read_text() for p in (tmp_path / "minutes").rglob("*.html")]
        assert any("&lt;img src=x onerror=alert(1)&gt;" in page for page in pages)
        assert not any("<img" in page for page in pages)
    finally:
        await alice.close()
        await bob.close()


async def test_invites_from_other_servers_are_declined(synapse: Synapse, tmp_path: Path) -> None:
    (carol,) = await people_on(synapse.url, "carol")
    try:
        await bot_account(synapse.url)
        room_id = await carol.create_room(f"elsewhere{uuid.uuid4().hex[:6]}")
        bot = _start_bot(matrix_config(tmp_path, synapse.url, [], 'invite_servers = ["a.org"]\n'))
        try:
            await asyncio.sleep(1)
            await carol.client.room_invite(room_id, BOT)
            async with asyncio.timeout(20):
                while True:  # declined: the invitation turns into a leave
                    state: Any = await carol.client.room_get_state_event(
                        room_id, "m.room.member", BOT)
                    if getattr(state, "content", {}).get("membership") == "leave":
                        break
                    await asyncio.sleep(0.2)
        finally:
            await _stop_bot(bot)
    finally:
        await carol.close()


async def test_homeserver_restart_mid_meeting_loses_nothing(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """Synapse stops and comes back (same database and port): the bot retries with backoff,
    catches up, and the meeting ends with every line once."""
    server = Synapse(tmp_path_factory.mktemp("synapse-restart"), free_port())
    server.start()
    alice: Person | None = None
    try:
        (alice,) = await people_on(server.url, "alice")
        alias_name = f"restart{uuid.uuid4().hex[:6]}"
        room_id = await alice.create_room(alias_name)
        await bot_account(server.url)
        bot = _start_bot(matrix_config(tmp_path, server.url, [f"#{alias_name}:{SERVER_NAME}"]))
        try:
            await wait_joined(alice, room_id)
            await alice.say(room_id, "#startmeeting")
            await alice.wait_for(BOT, "Meeting started")
            await alice.say(room_id, "#info before the outage")
            await asyncio.sleep(1)
            server.stop()
            await asyncio.sleep(3)  # the bot's syncs fail meanwhile
            server.start()
            await alice.say(room_id, "#info after the outage")
            await alice.say(room_id, "#endmeeting")
            await alice.wait_for(BOT, "Log:", seconds=90)
        finally:
            output = await _stop_bot(bot)
        data = minutes_json(tmp_path)
        assert [i["text"] for i in data["items"]] == ["before the outage", "after the outage"], \
            output
        assert "sync failed" in output  # it noticed, and came back by itself
    finally:
        if alice is not None:
            await alice.close()
        server.stop()


async def test_a_room_of_todays_default_version_configured_by_its_id(
    synapse: Synapse, room: tuple[Person, Person, str, str], tmp_path: Path
) -> None:
    """Synapse creates rooms of room version 12 by default, whose ids have no server
    part; such an id in the config is a room like any other."""
    alice, _bob, room_id, alias = room
    assert ":" not in room_id, room_id  # the homeserver's default room version
    await bot_account(synapse.url)
    bot = _start_bot(matrix_config(tmp_path, synapse.url, [room_id]))
    try:
        await wait_joined(alice, room_id)
        await alice.say(room_id, "#startmeeting by id")
        await alice.wait_for(BOT, "Meeting started")
        await alice.say(room_id, "#agreed opaque room ids work")
        await alice.say(room_id, "#endmeeting")
        await alice.wait_for(BOT, "Log:", seconds=60)
    finally:
        output = await _stop_bot(bot)
    data = minutes_json(tmp_path)
    assert data["channel"] == alias, output  # a room is named by its alias where it has one
    assert [i["text"] for i in data["items"]] == ["opaque room ids work"]


async def _topic_becomes(person: Person, room_id: str, wanted: str,
                         seconds: float = 20) -> None:
    async with asyncio.timeout(seconds):
        while True:
            state: Any = await person.client.room_get_state_event(room_id, "m.room.topic")
            if getattr(state, "content", {}).get("topic") == wanted:
                return
            await asyncio.sleep(0.1)


async def test_topic_follows_the_power_level_and_is_put_back(
    synapse: Synapse, room: tuple[Person, Person, str, str], tmp_path: Path
) -> None:
    """m.room.topic needs power level 50 in a public room: at 0 the bot leaves the topic
    alone and says nothing of it; made a moderator, it sets MeetBot's topic, and the end
    of the meeting puts the room's own topic back."""
    alice, _bob, room_id, _alias = room
    response = await alice.client.room_put_state(room_id, "m.room.topic",
                                                 {"topic": "Room rules"})
    assert hasattr(response, "event_id"), response
    await bot_account(synapse.url)
    bot = _start_bot(matrix_config(tmp_path, synapse.url, [room_id]))
    try:
        await wait_joined(alice, room_id)
        await alice.say(room_id, "#startmeeting Weekly")
        await alice.wait_for(BOT, "The meeting name has been set")
        await alice.say(room_id, "#topic Without power")
        await alice.say(room_id, "#info a line after it")
        await asyncio.sleep(1.5)
        await _topic_becomes(alice, room_id, "Room rules", seconds=1)
        await _set_power(alice, room_id, BOT, 50)
        await asyncio.sleep(1)  # the bot's sync carries the new power levels
        await alice.say(room_id, "#topic Budget")
        await _topic_becomes(alice, room_id, "Budget (Meeting topic: Weekly)")
        await alice.say(room_id, "#endmeeting")
        await alice.wait_for(BOT, "Log:", seconds=60)
        await _topic_becomes(alice, room_id, "Room rules")
        assert not [b for b in alice.said_by(BOT) if "topic" in b.lower()
                    and "Useful Commands" not in b]
    finally:
        await _stop_bot(bot)
