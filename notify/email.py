"""The text minutes by email, one message per meeting (SMTP, STARTTLS and login optional)."""

from __future__ import annotations

import asyncio
import logging
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from openminutes.notify.config import EmailConfig

log = logging.getLogger(__name__)
RETRY_DELAYS = (5.0, 30.0, 120.0, 600.0)


# Whatever could end a header line, for a mail parser or for Python's own check.
_HEADER_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def header_value(text: str) -> str:
    """A header's text on one line: a title or channel may hold anything a chat allows."""
    return " ".join(_HEADER_BREAKS.sub(" ", text).split())


def message(config: EmailConfig, subject: str, body: str) -> EmailMessage:
    """The message; non-ASCII header text is RFC 2047 encoded by the default policy."""
    msg = EmailMessage()
    msg["From"] = config.sender
    msg["To"] = ", ".join(config.to)
    msg["Subject"] = header_value(subject)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or None)
    msg.set_content(body)
    return msg


def _send(config: EmailConfig, msg: EmailMessage) -> None:
    with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=30) as smtp:
        if config.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if config.username:
            smtp.login(config.username, config.password)
        smtp.send_message(msg)


async def send(config: EmailConfig, msg: EmailMessage, *,
               delays: tuple[float, ...] = RETRY_DELAYS) -> bool:
    """Send in a thread (smtplib blocks), retrying a failed attempt with backoff."""
    for attempt in range(len(delays) + 1):
        try:
            await asyncio.to_thread(_send, config, msg)
            return True
        except smtplib.SMTPRecipientsRefused as exc:
            log.error("email refused for every recipient: %s", exc.recipients)
            return False
        except (smtplib.SMTPException, OSError) as exc:
            why = repr(exc)
        except (ValueError, UnicodeError) as exc:  # the message itself: no retry helps
            log.error("email %r cannot be sent: %r", msg["Subject"], exc)
            return False
        if attempt == len(delays):
            break
        log.warning("email to %s: %s; retrying in %ss", config.smtp_host, why, delays[attempt])
        await asyncio.sleep(delays[attempt])
    log.error("email: gave up sending %r", msg["Subject"])
    return False
