"""How the process logs: `[logging] level` and `format` ("text" for people, "json" for a
log collector: one object per line with time, level, logger, message and, where known,
network, room and meeting). No secret reaches a log line: the configured passwords and
tokens are masked wherever they appear."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_CONTEXT = ("network", "room", "meeting")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in _CONTEXT:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class MaskSecrets(logging.Filter):
    """Replaces each secret of the config with *** in the finished message (and in an
    exception's text), whoever logged it: ours, aiohttp's, a driver's."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is masked whole.
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def _mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg = self._mask(record.getMessage())
            record.args = None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self._mask(record.exc_text)
        return True


def configure(level: str, fmt: str, secrets: Iterable[str] = ()) -> None:
    """Set up the root logger once (the CLI calls it after reading the config)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(MaskSecrets(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("nio").setLevel(logging.WARNING)  # a line per event otherwise
    # irc.client logs every raw line at debug, PASS and AUTHENTICATE included; aiosqlite
    # every statement with its parameters; asyncio, its selector.
    for chatty in ("irc.client", "irc.client_aio", "aiosqlite", "asyncio"):
        logging.getLogger(chatty).setLevel(max(root.level, logging.INFO))
