"""The TOML config, validated into typed objects at start; a bad key stops the bot by name."""

from __future__ import annotations

import dataclasses
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openminutes.chat.config import IrcConfig as IrcConfig  # each adapter's config lives beside it
from openminutes.chat.config import MatrixConfig as MatrixConfig
from openminutes.notify.config import EmailConfig as EmailConfig
from openminutes.notify.config import NotifyConfig as NotifyConfig
from openminutes.notify.config import WebhookConfig as WebhookConfig


class ConfigError(Exception):
    """A config problem, with the key it is about in the message."""


@dataclass(frozen=True)
class StorageConfig:
    url: str = "sqlite:///openminutes.db"
    # Lines that may wait in memory while the database is unavailable; past this the bot
    # says in the channel that it is not recording.
    max_pending_lines: int = 10_000


@dataclass(frozen=True)
class RecordersConfig:
    """Several `run` processes on one PostgreSQL database (README: "Running more than one
    recorder"): one records each room, the others stand by (runtime/group.py)."""

    lease_seconds: float = 3.5  # a room's recorder is replaced this long after it stops
    renew_seconds: float = 1.0  # how often leases are renewed, and free ones looked for
    buffer_minutes: float = 10.0  # how much a standby keeps of what it hears


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "info"  # debug, info, warning, error
    format: str = "text"  # "json": one object per line, for a log collector


@dataclass(frozen=True)
class MetricsConfig:
    # HOST:PORT where `run` answers GET /healthz and GET /metrics ("": only beside the
    # archive when [web] enabled).
    listen: str = ""


@dataclass(frozen=True)
class PublishConfig:
    dir: str = "minutes"
    base_url: str = ""


@dataclass(frozen=True)
class MeetingsConfig:
    max_length_minutes: int = 60
    command_prefix: str = "#"
    # The bot ends a meeting left open this long: twice its scheduled duration, or
    # twice max_length_minutes when it is not on a schedule. false: never.
    auto_end: bool = True


@dataclass(frozen=True)
class WebConfig:
    enabled: bool = False  # `run` serves the archive too
    listen: str = "127.0.0.1:8080"
    # Searches per second per client, with bursts of search_burst.
    search_rate: float = 2.0
    search_burst: int = 20
    # Seconds a connection may stay without a complete request (idle between requests,
    # or sending its headers slowly) before it is closed.
    idle_timeout: float = 15.0
    # Open live-page event streams (/live/{id}/events): per process, and per client address.
    live_streams: int = 500
    live_streams_per_client: int = 6


@dataclass(frozen=True)
class ChannelVotesConfig:
    channel: str
    quorum: int = 0
    threshold: str = "majority"
    abstentions_count: bool = False


@dataclass(frozen=True)
class VotesConfig:
    """The rule votes follow unless a chair sets another with #voterule."""

    quorum: int = 0
    threshold: str = "majority"  # majority | two-thirds | unanimity
    abstentions_count: bool = False
    channel: list[ChannelVotesConfig] = field(default_factory=list)


@dataclass(frozen=True)
class ScheduleConfig:
    dir: str = ""  # a folder of irc-meetings YAML files; empty: no schedules
    reminder_minutes: int = 15  # before each scheduled meeting; 0: no reminders


@dataclass(frozen=True)
class PluginsConfig:
    # Modules that declare `plugin = Plugin(...)`, added to the bundled plugins.
    extra: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Config:
    storage: StorageConfig = field(default_factory=StorageConfig)
    recorders: RecordersConfig = field(default_factory=RecordersConfig)
    publish: PublishConfig = field(default_factory=PublishConfig)
    meetings: MeetingsConfig = field(default_factory=MeetingsConfig)
    votes: VotesConfig = field(default_factory=VotesConfig)
    web: WebConfig = field(default_factory=WebConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)

    def secrets(self) -> list[str]:
        """Every password, token and key the config holds (masked in every log line)."""
        found = [*(n.password for n in self.irc), *(n.sasl_password for n in self.irc),
                 *(m.password for m in self.matrix), *(m.access_token for m in self.matrix),
                 *(w.secret for w in self.notify.webhook), self.notify.email.password]
        return [s for s in found if s]
    irc: list[IrcConfig] = field(default_factory=list)
    matrix: list[MatrixConfig] = field(default_factory=list)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    plugins: PluginsConfig = field(default_factory=PluginsConfig)
    console: bool = False  # no config file: a local text-mode chat in the terminal


_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", float: "a number"}


def _check_value(key: str, value: Any, kind: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin is list:
        (inner,) = typing.get_args(kind)
        if not isinstance(value, list):
            raise ConfigError(f"{key} must be a list")
        return [_check_value(f"{key}[{i}]", v, inner) for i, v in enumerate(value)]
    if dataclasses.is_dataclass(kind):
        return _build(key, value, kind)
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise ConfigError(f"{key} must be {_TYPE_NAMES.get(kind, kind)}, not {value!r}")
    return value


def _build(prefix: str, raw: Any, cls: Any) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix} must be a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in raw:
        if key not in fields or key == "console":
            raise ConfigError(f"unknown key {prefix + '.' if prefix else ''}{key}")
    values = {}
    for name, f in fields.items():
        key = f"{prefix}.{name}" if prefix else name
        if name in raw:
            values[name] = _check_value(key, raw[name], hints[name])
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{key} is required")
    return cls(**values)


def _check_listen(key: str, listen: str) -> None:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{key} must be HOST:PORT, not {listen!r}")


def _validate(config: Config) -> None:
    if not config.meetings.command_prefix.strip():
        raise ConfigError("meetings.command_prefix must not be empty")
    if config.storage.max_pending_lines < 100:
        raise ConfigError("storage.max_pending_lines must be at least 100")
    recorders = config.recorders
    if recorders.renew_seconds <= 0:
        raise ConfigError("recorders.renew_seconds must be positive")
    if recorders.lease_seconds < 2 * recorders.renew_seconds:
        raise ConfigError("recorders.lease_seconds must be at least twice "
                          "recorders.renew_seconds (a lease must survive a late renewal)")
    if recorders.buffer_minutes <= 0:
        raise ConfigError("recorders.buffer_minutes must be positive")
    if config.meetings.max_length_minutes <= 0:
        raise ConfigError("meetings.max_length_minutes must be positive")
    _check_listen("web.listen", config.web.listen)
    if config.web.search_rate <= 0 or config.web.search_burst < 1:
        raise ConfigError("web.search_rate and web.search_burst must be positive")
    if config.web.idle_timeout <= 0:
        raise ConfigError("web.idle_timeout must be positive")
    for key in ("live_streams", "live_streams_per_client"):
        if getattr(config.web, key) < 1:
            raise ConfigError(f"web.{key} must be at least 1")
    if config.logging.level.lower() not in ("debug", "info", "warning", "error"):
        raise ConfigError("logging.level must be debug, info, warning or error, not "
                          f"{config.logging.level!r}")
    if config.logging.format not in ("text", "json"):
        raise ConfigError(f'logging.format must be "text" or "json", not '
                          f"{config.logging.format!r}")
    if config.metrics.listen:
        _check_listen("metrics.listen", config.metrics.listen)
    _validate_rule("votes", config.votes.quorum, config.votes.threshold)
    for i, rule in enumerate(config.votes.channel):
        _validate_rule(f"votes.channel[{i}]", rule.quorum, rule.threshold)
    names = set()
    for i, irc in enumerate(config.irc):
        key = f"irc[{i}]"
        if irc.name in names:
            raise ConfigError(f"{key}.name {irc.name!r} is used twice")
        names.add(irc.name)
        if not 0 < irc.port < 65536:
            raise ConfigError(f"{key}.port must be between 1 and 65535")
        if irc.send_burst < 1 or irc.send_rate <= 0:
            raise ConfigError(f"{key}.send_burst and send_rate must be positive")
        if bool(irc.sasl_username) != bool(irc.sasl_password):
            raise ConfigError(f"{key}.sasl_username and sasl_password go together")
        for j, channel in enumerate(irc.channels):
            if not channel or channel[0] not in "#&+!" or any(c in channel for c in " ,\x07"):
                raise ConfigError(f"{key}.channels[{j}] {channel!r} is not a channel name")
    _validate_notify(config)
    if config.schedule.reminder_minutes < 0:
        raise ConfigError("schedule.reminder_minutes must not be negative")
    for i, matrix in enumerate(config.matrix):
        key = f"matrix[{i}]"
        if matrix.name in names:
            raise ConfigError(f"{key}.name {matrix.name!r} is used twice")
        names.add(matrix.name)
        _validate_matrix(key, matrix)


EVENTS = ("meeting.started", "meeting.ended", "meeting.amended")


def _validate_notify(config: Config) -> None:
    for i, hook in enumerate(config.notify.webhook):
        if not hook.url.startswith(("http://", "https://")):
            raise ConfigError(f"notify.webhook[{i}].url must be an http:// or https:// URL")
        for j, event in enumerate(hook.events):
            if event not in EVENTS:
                raise ConfigError(f"notify.webhook[{i}].events[{j}] must be one of "
                                  f"{', '.join(EVENTS)}, not {event!r}")
    email = config.notify.email
    for i, address in enumerate(email.to):
        if "@" not in address or any(c in address for c in "\r\n"):
            raise ConfigError(f"notify.email.to[{i}] {address!r} is not an email address")
    if not 0 < email.smtp_port < 65536:
        raise ConfigError("notify.email.smtp_port must be between 1 and 65535")
    if bool(email.username) != bool(email.password):
        raise ConfigError("notify.email.username and password go together")


_MATRIX_ID = re.compile(r"^[@!#][^:\s]+:[A-Za-z0-9.\-\[\]:]+$")
# A room id of room version 12 and later (Matrix 1.16) has no server part: "!" and an
# opaque hash, as the current Synapse creates rooms by default.
_OPAQUE_ROOM_ID = re.compile(r"^![A-Za-z0-9_\-+/=]{8,}$")


def _validate_matrix(key: str, matrix: MatrixConfig) -> None:
    if not matrix.homeserver.startswith(("http://", "https://")):
        raise ConfigError(f"{key}.homeserver must be an http:// or https:// URL, "
                          f"not {matrix.homeserver!r}")
    if not matrix.user_id.startswith("@") or not _MATRIX_ID.match(matrix.user_id):
        raise ConfigError(f"{key}.user_id must look like @name:server, not {matrix.user_id!r}")
    if bool(matrix.password) == bool(matrix.access_token):
        raise ConfigError(f"{key}: set one of password and access_token")
    for j, room in enumerate(matrix.rooms):
        if not room.startswith(("!", "#")) or not (
                _MATRIX_ID.match(room) or _OPAQUE_ROOM_ID.match(room)):
            raise ConfigError(f"{key}.rooms[{j}] {room!r} is not a room id (!id:server, "
                              "or !id in room version 12) or alias (#name:server)")
    if matrix.chair_power_level < 1:
        raise ConfigError(f"{key}.chair_power_level must be at least 1 (0 makes everyone chair)")
    if not matrix.command_prefixes or any(not p.strip() for p in matrix.command_prefixes):
        raise ConfigError(f"{key}.command_prefixes must be non-empty strings")
    if matrix.sync_timeout < 1 or matrix.send_retries < 0:
        raise ConfigError(f"{key}.sync_timeout must be positive and send_retries not negative")


THRESHOLDS = ("majority", "two-thirds", "unanimity")


def _validate_rule(key: str, quorum: int, threshold: str) -> None:
    if quorum < 0:
        raise ConfigError(f"{key}.quorum must not be negative")
    if threshold not in THRESHOLDS:
        raise ConfigError(f"{key}.threshold must be one of {', '.join(THRESHOLDS)}, "
                          f"not {threshold!r}")


def parse(text: str, source: str = "config") -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from exc
    config: Config = _build("", raw, Config)
    _validate(config)
    return config


def load(path: Path | None) -> Config:
    """The config at path; without one, `config.toml` here, else console mode."""
    if path is None:
        default = Path("config.toml")
        if not default.exists():
            return Config(console=True)
        path = default
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from exc
    return parse(text, str(path))
