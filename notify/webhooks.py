"""Signed JSON POSTs to the configured webhooks, retried with backoff."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import uuid
from typing import Any
from urllib.parse import urlsplit

from openminutes.notify.config import WebhookConfig

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Openminutes-Signature"  # "sha256=" + hex HMAC of the body
RETRY_DELAYS = (1.0, 5.0, 30.0, 120.0, 600.0)  # then it gives up, and says so in the log


def redacted(url: str) -> str:
    """A webhook URL as it may be logged: scheme, host and port. The rest can be the
    secret itself (credentials, a token in the path or the query)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # not a port number
        port = ""
    return f"{parts.scheme}://{host}{port}/…" if parts.path or parts.query else \
        f"{parts.scheme}://{host}{port}"


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def deliver(hook: WebhookConfig, payload: dict[str, Any], *,
                  delays: tuple[float, ...] = RETRY_DELAYS) -> bool:
    """POST until a 2xx answer; a 4xx other than 408/429 is final. True when delivered."""
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "openminutes",
               "X-Openminutes-Event": str(payload.get("event", "")),
               "X-Openminutes-Delivery": uuid.uuid4().hex}
    if hook.secret:
        headers[SIGNATURE_HEADER] = signature(hook.secret, body)
    import aiohttp  # loaded by the first delivery: a bot without webhooks never needs it

    timeout = aiohttp.ClientTimeout(total=30)
    shown = redacted(hook.url)
    for attempt in range(len(delays) + 1):
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session, \
                    session.post(hook.url, data=body, headers=headers) as response:
                if 200 <= response.status < 300:
                    return True
                if 400 <= response.status < 500 and response.status not in (408, 429):
                    log.error("webhook %s refused %s: HTTP %d", shown, payload.get("event"),
                              response.status)
                    return False
                why = f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            why = repr(exc).replace(hook.url, shown)
        if attempt == len(delays):
            break
        log.warning("webhook %s: %s; retrying in %ss", shown, why, delays[attempt])
        await asyncio.sleep(delays[attempt])
    log.error("webhook %s: gave up delivering %s", shown, payload.get("event"))
    return False
