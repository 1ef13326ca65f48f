"""A real Synapse homeserver for tests, and meeting participants on matrix-nio."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from nio import AsyncClient, RegisterResponse, RoomCreateResponse, RoomSendResponse

from tests.servers import _Process

SERVER_NAME = "test.local"
# tests/install-servers.sh puts Synapse in its own virtualenv here.
SYNAPSE_PYTHON = Path(os.environ.get(
    "OPENMINUTES_SYNAPSE_VENV",
    Path.home() / ".cache" / "openminutes" / "synapse-venv")) / "bin" / "python"

# Synapse's rate limits, and their sub-keys, that the tests lift.
_LIMITS: dict[str, tuple[str, ...]] = {
    "rc_message": (), "rc_registration": (), "rc_room_creation": (), "rc_joins_per_room": (),
    "rc_login": ("address", "account", "failed_attempts"), "rc_joins": ("local", "remote"),
    "rc_invites": ("per_room", "per_user", "per_issuer"),
}
# Making the tests' users and rooms is not what a rate-limit test is about.
_SETUP_LIMITS = ("rc_registration", "rc_login", "rc_room_creation", "rc_joins")


def _lifted(keys: tuple[str, ...] | list[str]) -> str:
    unlimited = "{per_second: 10000, burst_count: 100000}"
    lines = []
    for key in keys:
        subkeys = _LIMITS[key]
        lines.append(f"{key}: {unlimited}" if not subkeys else f"{key}:")
        lines += [f"  {sub}: {unlimited}" for sub in subkeys]
    return "\n".join(lines) + "\n"


class Synapse(_Process):
    def __init__(self, folder: Path, port: int, *, rate_limits: bool = False) -> None:
        self.folder = folder
        self.port = port
        self.rate_limits = rate_limits
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if not SYNAPSE_PYTHON.exists():
            raise RuntimeError(f"Synapse is not installed at {SYNAPSE_PYTHON} "
                               "(make test installs it)")
        d = self.folder
        conf = d / "homeserver.yaml"
        conf.write_text(
            f'server_name: "{SERVER_NAME}"\npid_file: {d}/homeserver.pid\n'
            f"listeners:\n  - port: {self.port}\n    bind_addresses: ['127.0.0.1']\n"
            "    type: http\n    tls: false\n    resources: [{names: [client]}]\n"
            f"database:\n  name: sqlite3\n  args: {{database: {d}/homeserver.db}}\n"
            f"media_store_path: {d}/media\nsigning_key_path: {d}/signing.key\n"
            'registration_shared_secret: "test_shared_secret"\n'
            "enable_registration: true\nenable_registration_without_verification: true\n"
            "trusted_key_servers: []\nsuppress_key_server_warning: true\n"
            "federation_domain_whitelist: []\npresence: {enabled: false}\n"
            "report_stats: false\n"
            + _lifted(_SETUP_LIMITS if self.rate_limits else list(_LIMITS))
        )
        command = [str(SYNAPSE_PYTHON), "-m", "synapse.app.homeserver", "-c", str(conf)]
        subprocess.run([*command, "--generate-keys"], check=True, capture_output=True)
        self.log = (d / "synapse.log").open("wb")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT,
                                        cwd=d)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                # An http URL we made ourselves (S310 is about user-given schemes).
                with urllib.request.urlopen(f"{self.url}/_matrix/client/versions",  # noqa: S310
                                            timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"Synapse exited; see {d}/synapse.log") from None
                time.sleep(0.1)
        raise RuntimeError("Synapse did not start")


class Person:
    """A meeting participant: a real Matrix account driven with matrix-nio."""

    def __init__(self, url: str, name: str) -> None:
        self.name = name
        self.user_id = f"@{name}:{SERVER_NAME}"
        self.client = AsyncClient(url, self.user_id)
        self.seen: list[tuple[str, str, str]] = []  # (sender, msgtype, body) in order
        self._token: str | None = None
        self._new = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def register(self) -> None:
        response = await self.client.register(self.name, "password-" + self.name)
        assert isinstance(response, RegisterResponse), response

    def start_listening(self) -> None:
        self._task = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        while True:
            response: Any = await self.client.sync(timeout=500, since=self._token)
            if not hasattr(response, "next_batch"):
                await asyncio.sleep(0.2)
                continue
            self._token = response.next_batch
            for info in response.rooms.join.values():
                for event in info.timeline.events:
                    source = event.source
                    if source.get("type") == "m.room.message":
                        content = source.get("content", {})
                        self.seen.append((source["sender"], str(content.get("msgtype")),
                                          str(content.get("body"))))
            self._new.set()

    async def create_room(self, alias: str, *, encrypted: bool = False) -> str:
        initial = [{"type": "m.room.encryption", "state_key": "",
                    "content": {"algorithm": "m.megolm.v1.aes-sha2"}}] if encrypted else []
        response = await self.client.room_create(alias=alias, name=alias,
                                                 preset=_public(), initial_state=initial)
        assert isinstance(response, RoomCreateResponse), response
        return str(response.room_id)

    async def join(self, room: str) -> None:
        response = await self.client.join(room)
        assert hasattr(response, "room_id"), response

    async def say(self, room_id: str, text: str, *, msgtype: str = "m.text",
                  extra: dict[str, Any] | None = None) -> str:
        content = {"msgtype": msgtype, "body": text, **(extra or {})}
        response = await self.client.room_send(room_id, "m.room.message", content)
        assert isinstance(response, RoomSendResponse), response
        return str(response.event_id)

    async def edit(self, room_id: str, event_id: str, text: str) -> str:
        return await self.say(room_id, f"* {text}", extra={
            "m.new_content": {"msgtype": "m.text", "body": text},
            "m.relates_to": {"rel_type": "m.replace", "event_id": event_id}})

    async def redact(self, room_id: str, event_id: str) -> None:
        response = await self.client.room_redact(room_id, event_id, reason="test")
        assert hasattr(response, "event_id"), response

    def said_by(self, user_id: str) -> list[str]:
        return [body for sender, _, body in self.seen if sender == user_id]

    async def wait_for(self, user_id: str, fragment: str, *, count: int = 1,
                       seconds: float = 30.0) -> list[str]:
        async with asyncio.timeout(seconds):
            while True:
                found = [b for b in self.said_by(user_id) if fragment in b]
                if len(found) >= count:
                    return found
                self._new.clear()
                await self._new.wait()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.client.close()


def _public() -> Any:
    from nio.api import RoomPreset

    return RoomPreset.public_chat
