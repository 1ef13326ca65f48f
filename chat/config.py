"""What each network adapter is configured with; runtime/config.py builds these from the
TOML and checks them, the adapters only read them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class IrcConfig:
    name: str
    host: str
    nick: str
    channels: list[str]
    port: int = 6667
    tls: bool = False
    tls_verify: bool = True
    username: str = ""
    realname: str = "openminutes meeting bot"
    password: str = ""
    sasl_username: str = ""
    sasl_password: str = ""
    # With SASL configured: refuse to register without a login (a server that offers no
    # SASL, or refuses ours) instead of going on with a warning.
    sasl_required: bool = False
    # Token bucket for what the bot sends: `send_burst` lines at once, then
    # `send_rate` lines per second. The defaults stay under common flood limits.
    send_burst: int = 4
    send_rate: float = 1.0
    # #topic sets the channel topic (MeetBot's "TOPIC (Meeting topic: TITLE)") where the
    # bot may, and #endmeeting puts the earlier one back.
    set_topic: bool = True
    ping_interval: int = 120
    ping_timeout: int = 60
    reconnect_max_delay: int = 300


@dataclass(frozen=True)
class MatrixConfig:
    name: str
    homeserver: str  # https://matrix.example.org
    user_id: str  # @openminutes:example.org
    # Either a password (the bot logs in once and keeps its access token and device id in
    # storage) or an access token.
    password: str = ""
    access_token: str = ""
    device_name: str = "openminutes"
    rooms: list[str] = field(default_factory=list)  # room ids (!x:s) or aliases (#x:s)
    # Invitations are accepted from users on these servers (empty: none).
    invite_servers: list[str] = field(default_factory=list)
    # Members with at least this power level are chairs (50: moderator).
    chair_power_level: int = 50
    # #topic sets the room topic where the bot's power level allows it (see IrcConfig).
    set_topic: bool = True
    # Commands in these spellings besides [meetings] command_prefix: "!sm" / "^info".
    command_prefixes: list[str] = field(default_factory=lambda: ["#", "!", "^"])
    sync_timeout: int = 30  # seconds a long-poll sync waits for events
    send_retries: int = 8  # sends retried after HTTP 429 or a network error
