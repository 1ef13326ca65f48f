"""What an operator's log collector gets: `[logging] format = "json"` gives one object
per line (time, level, logger, message; network, room and meeting where known), and no
password, token or key of the config appears in any line, at debug level, on a real
ngIRCd, with the secrets in the places a bot would log them."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from openminutes.runtime.logs import JsonFormatter, MaskSecrets
from tests.servers import IrcClient, NgIrcd
from tests.test_irc_integration import CHANNEL, _config, _start_bot, _stop_bot

SASL, HOOK, SMTP = "sasl-pass-0815", "hook-key-1234", "smtp-pass-9999"


async def test_json_logs_carry_context_and_no_secret(ngircd: NgIrcd, tmp_path: Path) -> None:
    config = _config(tmp_path, ngircd.port,
                     'sasl_username = "minutebot"\n'
                     f'sasl_password = "{SASL}"\nsend_rate = 20.0\nsend_burst = 10\n'
                     '[logging]\nlevel = "debug"\nformat = "json"\n'
                     '[[notify.webhook]]\nurl = "http://127.0.0.1:9/hook"\n'
                     f'secret = "{HOOK}"\n'
                     '[notify.email]\nto = ["a@example.org"]\nsender = "b@example.org"\n'
                     'smtp_host = "127.0.0.1"\nsmtp_port = 9\nusername = "u"\n'
                     f'password = "{SMTP}"\n')
    bot = _start_bot(config)
    alice = IrcClient("alice")
    try:
        await alice.connect(ngircd.port)
        await alice.join(CHANNEL)
        await alice.wait_joined("minutebot")
        alice.say(CHANNEL, "#startmeeting logs")
        alice.say(CHANNEL, f"#info the password is {SASL}")  # said in the room
        alice.say(CHANNEL, "#endmeeting")
        await alice.wait_for("Log:")
    finally:
        await alice.close()
        output = await _stop_bot(bot)
    lines = [ln for ln in output.splitlines() if ln.strip()]
    entries = [json.loads(ln) for ln in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
    assert any(e.get("network") == "test" and "registering without an account" in e["message"]
               for e in entries)
    assert any(e["level"] == "debug" for e in entries)
    for secret in (SASL, HOOK, SMTP):
        assert secret not in output, secret
    # The minutes keep what was said: masking is for the logs only.
    minutes = next((tmp_path / "minutes").rglob("*.log.txt")).read_text()
    assert f"the password is {SASL}" in minutes


def test_a_secret_in_an_exception_or_a_library_message_is_masked() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(MaskSecrets(["pg-pass-42", "tok"]))  # too short to mask: "tok"
    logger = logging.getLogger("test.masking")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        raise ConnectionError("postgresql://u:pg-pass-42@db/x refused")
    except ConnectionError:
        logger.exception("connecting to %s failed", "postgresql://u:pg-pass-42@db/x")
    entry = json.loads(stream.getvalue())
    assert entry["message"] == "connecting to postgresql://u:***@db/x failed"
    assert "pg-pass-42" not in entry["exception"]
    assert "postgresql://u:***@db/x refused" in entry["exception"]
