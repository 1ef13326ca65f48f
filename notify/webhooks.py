"""Signed JSON POSTs to the configured webhooks, retried with backoff."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import uuid
from typing import Any

import aiohttp

from runtime.config import WebhookConfig

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Openminutes-Signature"  # "sha256=" + hex HMAC of the body
RETRY_DELAYS = (1.0, 5.0, 30.0, 120.0, 600.0)  # then it gives up, and says so in the log


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
    timeout = aiohttp.ClientTimeout(total=30)
    for attempt in range(len(delays) + 1):
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session, \
                    session.post(hook.url, data=body, headers=headers) as response:
                if 200 <= response.status < 300:
                    return True
                if 400 <= response.status < 500 and response.status not in (408, 429):
                    log.error("webhook %s refused %s: HTTP %d", hook.url, payload.get("event"),
                              response.status)
                    return False
                why = f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            why = repr(exc)
        if attempt == len(delays):
            break
        log.warning("webhook %s: %s; retrying in %ss", hook.url, why, delays[attempt])
        await asyncio.sleep(delays[attempt])
    log.error("webhook %s: gave up delivering %s", hook.url, payload.get("event"))
    return False
