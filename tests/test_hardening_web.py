"""`serve` as a user runs it, probed as an attacker would: symlinks out of the publish
dir, ids past any column, malformed requests, idle and trickling sockets, and the content
types a browser needs."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.servers import free_port, wait_for_port
from tests.test_irc_integration import ROOT, _stop_bot

HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options",
           "Referrer-Policy")


def _serve(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(ROOT / "bot.py"), "serve", "-c", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


class Served:
    def __init__(self, url: str, port: int, root: Path) -> None:
        self.url, self.port, self.root = url, port, root


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    minutes = tmp_path / "minutes"
    # An archive made as a user would: a console meeting, then `serve`.
    await asyncio.to_thread(
        subprocess.run, [sys.executable, str(ROOT / "bot.py"), "run"], cwd=tmp_path,
        check=True, input=b"#startmeeting web\n#info hello\n#endmeeting\n",
        capture_output=True, timeout=60)
    config = tmp_path / "serve.toml"  # beside the console's openminutes.db and minutes/
    port = free_port()
    config.write_text(f'[storage]\nurl = "sqlite:///{tmp_path}/openminutes.db"\n'
                      f'[publish]\ndir = "{minutes}"\n'
                      f'[web]\nlisten = "127.0.0.1:{port}"\nidle_timeout = 2.0\n')
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "index.html").write_text("the secret outside the publish dir")
    (secret / "notes.txt").write_text("secret notes")
    (minutes / "escape").mkdir()
    (minutes / "escape" / "index.html").symlink_to(secret / "index.html")
    (minutes / "link.txt").symlink_to(secret / "notes.txt")
    server = _serve(config)
    try:
        await asyncio.to_thread(wait_for_port, port, "serve", 20)
        yield Served(f"http://127.0.0.1:{port}", port, minutes)
    finally:
        await _stop_bot(server)


async def test_symlinks_out_of_the_publish_dir_are_not_followed(served: Served) -> None:
    async with aiohttp.ClientSession() as session:
        for path in ("/escape/", "/escape/index.html", "/escape", "/link.txt"):
            async with session.get(served.url + path) as response:
                body = await response.text()
                assert response.status == 404, (path, body)
                assert "secret" not in body
                for header in HEADERS:
                    assert header in response.headers, (path, header)


async def test_ids_past_any_column_and_errors_carry_the_headers(served: Served) -> None:
    async with aiohttp.ClientSession() as session:
        for path in ("/api/meetings/99999999999999999999999", "/api/meetings/-1",
                     "/api/meetings/0", "/api/meetings/1e9",
                     "/api/meetings?limit=99999999999999999999", "/api/meetings?offset=-5"):
            async with session.get(served.url + path) as response:
                assert response.status == 400, path
                assert "error" in await response.json()
                for header in HEADERS:
                    assert header in response.headers, (path, header)
        async with session.get(served.url + "/api/meetings/1") as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "application/json; charset=utf-8"


async def _raw(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(65536), 10)
    writer.close()
    return answer


async def test_malformed_requests_get_aiohttps_400_with_our_headers(served: Served) -> None:
    for request in (b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GARBAGE\r\n\r\n",
                    b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 70000 + b"\r\n\r\n"):
        answer = await _raw(served.port, request)
        head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        assert head.startswith(("HTTP/1.1 4", "HTTP/1.0 4")), head
        for header in HEADERS:
            assert f"{header}:" in head, (request[:20], header)


async def test_idle_and_trickling_connections_are_closed(served: Served) -> None:
    idle = [await asyncio.open_connection("127.0.0.1", served.port) for _ in range(20)]
    trickler = await asyncio.open_connection("127.0.0.1", served.port)
    started = time.monotonic()
    request = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 40

    async def trickle() -> None:
        for byte in request:
            trickler[1].write(bytes([byte]))
            await asyncio.sleep(0.1)

    task = asyncio.create_task(trickle())
    for reader, _ in [*idle, trickler]:
        # The server closes each (idle_timeout = 2 s): EOF, or a reset.
        try:
            data = await asyncio.wait_for(reader.read(), 15)
        except ConnectionResetError:
            data = b""
        assert not data.startswith(b"HTTP/1.1 200")
    task.cancel()
    assert time.monotonic() - started < 15
    for _, writer in [*idle, trickler]:
        writer.close()
    async with aiohttp.ClientSession() as session, session.get(served.url + "/") as response:
        assert response.status == 200  # the server still serves everyone else


async def test_archive_files_have_their_content_types_with_charsets(served: Served) -> None:
    (txt,) = served.root.glob("web/*/*.log.txt")
    relative = txt.relative_to(served.root).as_posix()
    expected = {
        "/": "text/html; charset=utf-8",
        "/feed.atom": "application/atom+xml; charset=utf-8",
        f"/{relative}": "text/plain; charset=utf-8",
        f"/{relative[:-len('.log.txt')]}.md": "text/markdown; charset=utf-8",
        f"/{relative[:-len('.log.txt')]}.json": "application/json; charset=utf-8",
        "/static/localtime.js": "text/javascript; charset=utf-8",
    }
    async with aiohttp.ClientSession() as session:
        for path, content_type in expected.items():
            async with session.get(served.url + path) as response:
                assert response.status == 200, path
                assert response.headers["Content-Type"] == content_type, path
