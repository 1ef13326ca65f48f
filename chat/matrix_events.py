"""Matrix room events, as the client-server API sends them, turned into ChatEvents.

Pure: works on the raw event JSON (the same from /sync and from /messages), so it is
tested without a homeserver."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from openminutes.chat.base import ChatEvent, clean_text
from openminutes.meetings.model import LineKind, part_id

_KINDS = {"m.emote": LineKind.ACTION, "m.notice": LineKind.NOTICE}
# Messages that carry a file: the body is its name, shown with what it is.
_MEDIA = {"m.image": "image", "m.file": "file", "m.video": "video", "m.audio": "audio"}


@dataclass
class RoomView:
    """What converting an event needs to know about its room at that moment; kept current
    by the state events that pass through convert()."""

    network: str
    label: str  # the room as meetings and minutes name it
    own_user: str
    chair_level: int = 50
    names: dict[str, str] = field(default_factory=dict)  # user id -> display name
    levels: dict[str, int] = field(default_factory=dict)  # user id -> power level
    default_level: int = 0
    encrypted: bool = False
    topic: str = ""
    # The power level sending each kind of state event needs (m.room.power_levels).
    state_levels: dict[str, int] = field(default_factory=dict)
    state_default: int = 50

    def level_of(self, user_id: str) -> int:
        return self.levels.get(user_id, self.default_level)

    def may_send_state(self, user_id: str, event_type: str) -> bool:
        return self.level_of(user_id) >= self.state_levels.get(event_type, self.state_default)


def _power_levels(view: RoomView, content: dict[str, Any]) -> None:
    users = content.get("users")
    view.levels = {u: v for u, v in (users or {}).items()
                   if isinstance(u, str) and isinstance(v, int)} \
        if isinstance(users, dict) else {}
    default = content.get("users_default", 0)
    view.default_level = default if isinstance(default, int) else 0
    events = content.get("events")
    view.state_levels = {k: v for k, v in events.items() if isinstance(k, str)
                         and isinstance(v, int)} if isinstance(events, dict) else {}
    state_default = content.get("state_default", 50)
    view.state_default = state_default if isinstance(state_default, int) else 50


def display_name(view: RoomView, user_id: str) -> str:
    """The name a member is shown by: their display name, told apart from another
    member's identical one by the user id, as Matrix clients do."""
    name = view.names.get(user_id) or user_id
    if name != user_id and any(n == name and u != user_id for u, n in view.names.items()):
        return f"{name} ({user_id})"
    return name


def _time(event: dict[str, Any]) -> datetime:
    stamp = event.get("origin_server_ts")
    if isinstance(stamp, int) and not isinstance(stamp, bool) and stamp > 0:
        return datetime.fromtimestamp(stamp / 1000, UTC)
    return datetime.now(UTC)


def strip_reply_fallback(body: str) -> str:
    """A reply's body starts with the quoted message (`> <@a:b> text`) and a blank line;
    the log shows what was said, not the quote again."""
    lines = body.split("\n")
    i = 0
    while i < len(lines) and lines[i].startswith(">"):
        i += 1
    if i and i < len(lines) and not lines[i].strip():
        return "\n".join(lines[i + 1:])
    return body


def _text_lines(body: str) -> list[str]:
    """The non-empty lines of a message, each cleaned as every chat line is."""
    return [t for t in (clean_text(p).strip() for p in body.split("\n")) if t]


def convert(view: RoomView, event: dict[str, Any], *, catch_up: bool = False) -> list[ChatEvent]:
    """The lines one room event makes (several for a multi-line message, none for what
    is not part of a log). Member events update view.names as they pass."""
    kind = event.get("type")
    sender = event.get("sender")
    event_id = event.get("event_id")
    content = event.get("content")
    if not isinstance(sender, str) or not isinstance(event_id, str) \
            or not isinstance(content, dict):
        return []
    if kind == "m.room.member":
        return _member(view, event, content, catch_up)
    if kind == "m.room.power_levels" and event.get("state_key") == "":
        _power_levels(view, content)
        return []
    if kind == "m.room.encryption" and event.get("state_key") == "":
        view.encrypted = True
        return []
    if kind == "m.room.topic" and isinstance(content.get("topic"), str):
        view.topic = content["topic"]
    if sender == view.own_user:
        return []  # the recorder logs what the bot says itself

    def make(text: str, line_kind: LineKind, eid: str = event_id,
             relates_to: str | None = None) -> ChatEvent:
        return ChatEvent(view.network, view.label, display_name(view, sender), text, line_kind,
                         _time(event), sender, eid, view.level_of(sender) >= view.chair_level,
                         relates_to, catch_up)

    if kind == "m.room.message":
        return _message(content, make, event_id)
    if kind == "m.room.redaction":
        redacts = event.get("redacts") or content.get("redacts")  # room v11 moved it
        return [make("", LineKind.REDACTION, relates_to=redacts)] \
            if isinstance(redacts, str) else []
    if kind == "m.room.topic" and isinstance(content.get("topic"), str):
        return [make(clean_text(content["topic"]), LineKind.TOPIC)]
    return []


def _message(content: dict[str, Any], make: Callable[..., ChatEvent],
             event_id: str) -> list[ChatEvent]:
    relates = content.get("m.relates_to")
    relates = relates if isinstance(relates, dict) else {}
    if relates.get("rel_type") == "m.replace":
        new = content.get("m.new_content")
        target = relates.get("event_id")
        if not isinstance(new, dict) or not isinstance(new.get("body"), str) \
                or not isinstance(target, str):
            return []
        return [make("\n".join(_text_lines(new["body"])), LineKind.EDIT, relates_to=target)]
    body = content.get("body")
    if not isinstance(body, str):
        return []
    if isinstance(relates.get("m.in_reply_to"), dict):
        body = strip_reply_fallback(body)
    msgtype = content.get("msgtype")
    if msgtype in _MEDIA:
        body = f"({_MEDIA[msgtype]}) {body}"
    line_kind = _KINDS.get(msgtype if isinstance(msgtype, str) else "", LineKind.MESSAGE)
    return [make(text, line_kind, part_id(event_id, i))
            for i, text in enumerate(_text_lines(body))]


def _member(view: RoomView, event: dict[str, Any], content: dict[str, Any],
            catch_up: bool) -> list[ChatEvent]:
    user = event.get("state_key")
    if not isinstance(user, str):
        return []
    unsigned = event.get("unsigned")
    prev = unsigned.get("prev_content") if isinstance(unsigned, dict) else None
    prev = prev if isinstance(prev, dict) else {}
    membership = content.get("membership")
    was_joined = prev.get("membership") == "join"
    old_name = display_name(view, user)
    new_name = content.get("displayname")
    if membership == "join":
        view.names[user] = clean_text(new_name) if isinstance(new_name, str) and new_name \
            else user
    elif membership in ("leave", "ban"):
        view.names.pop(user, None)
    if user == view.own_user:
        return []

    def make(kind: LineKind, nick: str, text: str = "") -> list[ChatEvent]:
        return [ChatEvent(view.network, view.label, nick, text, kind, _time(event), user,
                          str(event["event_id"]), catch_up=catch_up)]

    if membership == "join" and not was_joined:
        return make(LineKind.JOIN, display_name(view, user))
    if membership == "join":
        new = display_name(view, user)
        return make(LineKind.NICK, old_name, new) if new != old_name else []
    if membership in ("leave", "ban") and was_joined:
        reason = content.get("reason")
        return make(LineKind.PART, old_name, clean_text(reason) if isinstance(reason, str)
                    else "")
    return []
