"""The live meeting pages, with `serve` in its own process and the recorder in this one,
on SQLite and PostgreSQL: each stored line reaches an open event stream within a second,
a reconnect with Last-Event-ID resumes without a gap or a repeat, the end of the meeting
links the minutes, open meetings are listed, streams are bounded; and in Chromium the
page follows the meeting with no console error (the CSP allows what we ship)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import async_playwright

from openminutes.chat.base import ChatEvent
from openminutes.meetings.model import LineKind
from openminutes.publish.publisher import Publisher
from openminutes.runtime.recorder import Recorder
from openminutes.storage import Storage
from tests.helpers import recording
from tests.servers import IrcClient, NgIrcd, free_port, wait_for_port
from tests.test_browser import ARGS, CHROMIUM

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Live:
    url: str  # of serve
    recorder: Recorder
    storage: Storage

    def say(self, nick: str, text: str) -> None:
        self.recorder.submit(ChatEvent("net", "#live", nick, text, LineKind.MESSAGE,
                                       datetime.now(UTC)))


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\nurl = "{database_url}"\n[publish]\n'
                      f'dir = "{tmp_path / "minutes"}"\n[web]\nlisten = "127.0.0.1:{port}"\n')
    storage = await Storage.open(database_url)
    publisher = Publisher(storage, tmp_path / "minutes")
    recorder, task = recording(storage, publisher)
    server = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bot.py"), "serve", "-c", str(config),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await asyncio.to_thread(wait_for_port, port, "serve", 20)
        yield Live(f"http://127.0.0.1:{port}", recorder, storage)
    finally:
        server.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(server.wait(), 15) == 0
        task.cancel()
        await storage.close()


async def _events(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[str, str, str]]:
    """(id, event, data) of each event of a stream; comments are skipped."""
    fields: dict[str, str] = {}
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if not line:
            if "event" in fields:
                yield fields.get("id", ""), fields["event"], fields.get("data", "")
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value


async def _next(stream: AsyncIterator[tuple[str, str, str]],
                seconds: float = 5.0) -> tuple[str, str, dict[str, Any]]:
    event_id, name, data = await asyncio.wait_for(anext(stream), seconds)
    return event_id, name, json.loads(data)


async def _meeting_id(live: Live) -> int:
    for _ in range(100):
        found = await live.storage.open_meetings()
        if found:
            return found[0].id
        await asyncio.sleep(0.05)
    raise AssertionError("the meeting was not stored")


async def test_each_line_is_an_event_within_a_second_and_a_reconnect_resumes(
        live: Live) -> None:
    live.say("alice", "#startmeeting Live test")
    meeting_id = await _meeting_id(live)
    async with aiohttp.ClientSession() as http:
        listing = await (await http.get(f"{live.url}/api/meetings")).json()
        assert [(m["id"], m["ended_at"]) for m in listing["items"]] == [(meeting_id, None)]
        index = await (await http.get(f"{live.url}/live")).text()
        assert f'href="live/{meeting_id}"' in index
        assert "Live test" in index
        page = await (await http.get(f"{live.url}/live/{meeting_id}")).text()
        assert "In progress" in page
        response = await http.get(f"{live.url}/live/{meeting_id}/events")
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        stream = _events(response)
        seen: list[int] = []
        while not seen or seen[-1] < 2:  # the start and the bot's reply
            event_id, name, data = await _next(stream)
            assert (name, event_id) == ("line", str(data["line"]))
            seen.append(data["line"])
        latencies = []
        sections: dict[str, str] = {}  # the minutes, as the latest events carried them
        for n, text in enumerate(["#topic Budget", "#agreed <b>spend</b> less",
                                  "#startvote Ship it? yes, no", "#vote yes"]):
            said = time.monotonic()
            live.say("alice", text)
            while True:
                _, name, data = await _next(stream)
                sections.update(data.get("sections", {}))
                if data["text"] == text:
                    break
            latencies.append(time.monotonic() - said)
            if n == 1:
                assert "AGREED:" in sections["summary"]
                assert "&lt;b&gt;spend&lt;/b&gt;" in sections["summary"]
                assert "&lt;b&gt;spend&lt;/b&gt;" in data["row"]
            if n == 2:
                assert set(data.get("sections", {})) <= {"votes"}  # only what changed
            if n == 3:
                assert "yes 1, no 0" in sections["votes"]
        assert max(latencies) < 1.0, latencies
        last = data["line"]
        response.close()

        # Away for a while; then back with Last-Event-ID: what was missed, once, in order.
        live.say("bob", "said while nobody listened")
        live.say("alice", "#endvote")
        live.say("alice", "#endmeeting")
        await live.recorder.drained()
        response = await http.get(f"{live.url}/live/{meeting_id}/events",
                                  headers={"Last-Event-ID": str(last)})
        stream = _events(response)
        resumed = []
        while True:
            _, name, data = await _next(stream, 10)
            if name == "ended":
                break
            resumed.append(data["line"])
        assert resumed == list(range(last + 1, resumed[-1] + 1))
        assert data["minutes"].endswith(".html")
        page = await (await http.get(f"{live.url}/live/{meeting_id}")).text()
        assert "The meeting has ended." in page
        assert f'href="{data["minutes"]}"' in page
        assert (await http.get(f"{live.url}{data['minutes']}")).status == 200


async def test_streams_are_bounded_per_client(live: Live) -> None:
    live.say("alice", "#startmeeting Bounded")
    meeting_id = await _meeting_id(live)
    async with aiohttp.ClientSession() as http:
        opened = [await http.get(f"{live.url}/live/{meeting_id}/events") for _ in range(6)]
        assert all(r.status == 200 for r in opened)
        refused = await http.get(f"{live.url}/live/{meeting_id}/events")
        assert refused.status == 429
        opened.pop().close()
        for _ in range(50):  # the server notices the closed stream
            again = await http.get(f"{live.url}/live/{meeting_id}/events")
            if again.status == 200:
                break
            await asyncio.sleep(0.1)
        assert again.status == 200
        assert (await http.get(f"{live.url}/live/999999/events")).status == 404
        assert (await http.get(f"{live.url}/live/x/events")).status == 404


async def _spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bot.py"), *args, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)


async def test_chromium_follows_a_meeting_held_over_irc(
        database_url: str, ngircd: NgIrcd, tmp_path: Path) -> None:
    """`run` on ngIRCd and `serve` in two processes on one database; people talk on IRC
    while the page is open in Chromium."""
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\nurl = "{database_url}"\n[publish]\ndir = "{tmp_path / "minutes"}"\n'
        f'[web]\nlisten = "127.0.0.1:{port}"\n'
        f'[[irc]]\nname = "test"\nhost = "127.0.0.1"\nport = {ngircd.port}\n'
        'nick = "livebot"\nchannels = ["#live"]\n')
    await (await Storage.open(database_url)).close()  # migrated once, before both start
    bot, serve = await _spawn("run", "-c", str(config)), await _spawn("serve", "-c",
                                                                        str(config))
    alice, bob = IrcClient("alice"), IrcClient("bob")
    errors: list[str] = []
    try:
        await asyncio.to_thread(wait_for_port, port, "serve", 20)
        for person in (alice, bob):
            await person.connect(ngircd.port)
            await person.join("#live")
        await alice.wait_joined("livebot")
        alice.say("#live", "#startmeeting Browser test")
        await alice.wait_for("Meeting started")
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = await browser.new_page()
            page.on("console",
                    lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(f"http://127.0.0.1:{port}/live")
            await page.get_by_role("link", name="Browser test").click()
            log = page.locator("#live-log")
            await log.get_by_text("Meeting started").first.wait_for(timeout=2000)
            for who, text in [(bob, "<script>alert('live')</script>"),
                              (alice, "#agreed adopt the charter")]:
                said = time.monotonic()
                who.say("#live", text)
                await log.get_by_text(text).wait_for(timeout=1000)
                assert time.monotonic() - said < 1.0
            await page.locator("#live-summary").get_by_text("adopt the charter").wait_for(
                timeout=1000)
            alice.say("#live", "#startvote Ship it? yes, no")
            bob.say("#live", "#vote yes")
            tally = page.locator("#vote-open .tally")
            await tally.get_by_text("yes 1, no 0").wait_for(timeout=2000)
            alice.say("#live", "#vote no")
            await tally.get_by_text("yes 1, no 1").wait_for(timeout=1000)
            alice.say("#live", "#endvote")
            alice.say("#live", "#endmeeting")
            link = page.locator("#live-status a")
            await link.wait_for(timeout=3000)
            href = await link.get_attribute("href") or ""
            await link.click()
            await page.wait_for_url(f"**{href}")
            assert await page.locator("h1").count() == 1
            await browser.close()
    finally:
        for person in (alice, bob):
            await person.close()
        for proc in (bot, serve):
            proc.send_signal(signal.SIGTERM)
        for proc in (bot, serve):
            assert await asyncio.wait_for(proc.wait(), 20) == 0
    assert href.endswith(".html")
    assert errors == []
