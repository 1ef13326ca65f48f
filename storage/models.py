"""SQLAlchemy 2 models. The lines table is the truth; items are a projection for search."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC on every backend, handed back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class MeetingRow(Base):
    __tablename__ = "meetings"
    __table_args__ = (
        Index("ix_meetings_open", "network", "channel", "ended_at"),
        Index("ix_meetings_name_started", "name", "started_at"),
        Index("ix_meetings_started", "started_at"),
        # The archive's series list reads only this (see migration 0009).
        Index("ix_meetings_published", "name", "started_at", "ended_at", "stem",
              sqlite_where=text("ended_at IS NOT NULL AND stem IS NOT NULL"),
              postgresql_where=text("ended_at IS NOT NULL AND stem IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200), default="")
    title: Mapped[str] = mapped_column(Text, default="")
    founder: Mapped[str] = mapped_column(String(200), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Where the outputs live, relative to the publish dir and without extension;
    # claimed once so that re-rendering never moves or overwrites another meeting.
    stem: Mapped[str | None] = mapped_column(String(400), unique=True, nullable=True)
    # Ended live, but its minutes are not yet published and announced (migration 0010).
    publish_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    # The series an imported archive filed it under (migration 0012); "" for the others.
    series: Mapped[str] = mapped_column(String(200), default="", server_default="")


class LineRow(Base):
    __tablename__ = "lines"
    __table_args__ = (
        UniqueConstraint("meeting_id", "seq", name="uq_lines_meeting_seq"),
        UniqueConstraint("meeting_id", "event_id", name="uq_lines_meeting_event"),
        Index("ix_lines_event", "event_id", sqlite_where=text("event_id IS NOT NULL"),
              postgresql_where=text("event_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16))
    nick: Mapped[str] = mapped_column(String(200))
    identity: Mapped[str | None] = mapped_column(String(300), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    own: Mapped[bool] = mapped_column(Boolean, default=False)
    event_id: Mapped[str | None] = mapped_column(String(300), nullable=True)
    privileged: Mapped[bool] = mapped_column(Boolean, default=False)
    relates_to: Mapped[str | None] = mapped_column(String(300), nullable=True)
    scope: Mapped[str] = mapped_column(String(64), default="", server_default="")  # scope_of
    who: Mapped[str] = mapped_column(String(16), default="", server_default="")  # person_token


class ItemRow(Base):
    __tablename__ = "items"
    __table_args__ = (
        Index("ix_items_meeting", "meeting_id", "position"),
        # Whether a log line made an item, as a search asks of each matching line (0013).
        Index("ix_items_line", "meeting_id", "line"),
        Index("ix_items_kind_time", "kind", "time"),
        # The decision register across series, newest first (migration 0011).
        Index("ix_items_decisions", "time", sqlite_where=text("decision"),
              postgresql_where=text("decision")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(64))  # a kind a plugin declares (ItemKind)
    decision: Mapped[bool] = mapped_column(Boolean, default=False)  # ItemKind.decision
    text: Mapped[str] = mapped_column(Text)
    nick: Mapped[str] = mapped_column(String(200))
    time: Mapped[datetime] = mapped_column(UTCDateTime)
    line: Mapped[int] = mapped_column(Integer)
    owners: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")  # JSON list
    scope: Mapped[str] = mapped_column(String(64), default="", server_default="")  # scope_of
    who: Mapped[str] = mapped_column(String(16), default="", server_default="")  # person_token


class AmendmentRow(Base):
    """An operator's correction of an ended meeting (meetings.model.Amendment); applied
    after every replay, so the lines stay as said (a redaction alone blanks one)."""

    __tablename__ = "amendments"
    __table_args__ = (Index("ix_amendments_meeting", "meeting_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(16))
    line: Mapped[int] = mapped_column(Integer)  # the seq of the line it is about
    kind: Mapped[str] = mapped_column(String(64), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    owners: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    by: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    change: Mapped[str] = mapped_column(Text, default="")  # in words, when it was made
    digest: Mapped[str] = mapped_column(String(64), default="")  # SHA-256, redactions


class ChatStateRow(Base):
    """What an adapter must find again after a restart (Matrix: sync token, access token)."""

    __tablename__ = "chat_state"

    network: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class SourceRow(Base):
    """A file imported from an older bot's archive, and the meetings made from it."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(1000), unique=True)
    digest: Mapped[str] = mapped_column(String(64))  # sha256 of the file's bytes
    meeting_ids: Mapped[str] = mapped_column(Text)  # JSON list


class LeaseRow(Base):
    """Which process of a group records a room (runtime/group.py): a lease its holder
    renews, and an epoch every takeover raises and every write of lines checks."""

    __tablename__ = "recorder_leases"

    network: Mapped[str] = mapped_column(String(100), primary_key=True)
    room: Mapped[str] = mapped_column(String(200), primary_key=True)  # folded
    holder: Mapped[str] = mapped_column(String(200))
    epoch: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the database's clock
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RecorderRow(Base):
    """A process of a group, as it last reported itself (`openminutes status`)."""

    __tablename__ = "recorders"

    holder: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    nicks: Mapped[str] = mapped_column(Text, default="{}")  # JSON: network -> nick
    buffers: Mapped[str] = mapped_column(Text, default="{}")  # JSON: room -> [since, lines]
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
