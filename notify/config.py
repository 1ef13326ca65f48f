"""What webhooks and email are configured with; runtime/config.py builds these from the
TOML and checks them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    secret: str = ""  # HMAC-SHA256 key of the X-Openminutes-Signature header
    events: list[str] = field(default_factory=lambda: ["meeting.started", "meeting.ended",
                                                       "meeting.amended"])


@dataclass(frozen=True)
class EmailConfig:
    to: list[str] = field(default_factory=list)  # empty: no email
    sender: str = "openminutes@localhost"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    starttls: bool = False
    username: str = ""
    password: str = ""


@dataclass(frozen=True)
class NotifyConfig:
    webhook: list[WebhookConfig] = field(default_factory=list)
    email: EmailConfig = field(default_factory=EmailConfig)
