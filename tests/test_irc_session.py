"""The IRC protocol without a socket: transcripts of what real servers send (ngIRCd,
Solanum as on Libera.Chat, InspIRCd, a network without capability negotiation) fed to an
IrcSession, checking what it sends back and what it hands the recorder."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import irc.client
import pytest
from irc.features import FeatureSet

from openminutes.chat.base import ChatEvent, Checkpoint, Outage
from openminutes.chat.config import IrcConfig
from openminutes.chat.irc_session import IrcSession
from openminutes.meetings.model import LineKind

T0 = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


class Wire:
    """Parses server lines as the live adapter's irc.client connection does, and feeds the
    events to a session; records what the session sends and emits."""

    def __init__(self, **config: object) -> None:
        settings: dict[str, object] = {"name": "net", "host": "h", "nick": "minutebot",
                                       "channels": ["#meeting"], **config}
        self.sent: list[str] = []
        self.emitted: list[ChatEvent | Checkpoint | Outage] = []
        self.clock = T0
        self.session = IrcSession(IrcConfig(**settings),  # type: ignore[arg-type]
                                  self.sent.append, self.emitted.append, lambda: self.clock)
        reactor = irc.client.Reactor()
        reactor.add_global_handler("all_events", self._event, -10)
        self._conn = reactor.server()
        self._conn.real_nickname = "minutebot"
        self._conn.real_server_name = ""
        self._conn.handlers = {}
        self._conn.features = FeatureSet()

    def _event(self, conn: object, event: irc.client.Event) -> None:
        if event.type != "all_raw_messages":
            self.session.handle(event)

    def server(self, *lines: str) -> list[str]:
        """Feed server lines; returns what the session sent in answer."""
        before = len(self.sent)
        for line in lines:
            self._conn._process_line(line)
        return self.sent[before:]

    def chat(self) -> list[ChatEvent]:
        return [e for e in self.emitted if isinstance(e, ChatEvent)]


def test_ngircd_has_no_sasl_and_no_whox() -> None:
    wire = Wire()
    assert wire.session.connection_made() == "CAP LS 302"
    assert wire.server(":irc.test.local CAP * LS :multi-prefix") == ["CAP REQ :multi-prefix"]
    assert wire.server(":irc.test.local CAP minutebot ACK :multi-prefix") == ["CAP END"]
    assert wire.server(":irc.test.local 001 minutebot :Welcome to the Internet Relay Network "
                       "minutebot!~minutebot@localhost") == ["JOIN #meeting"]
    assert wire.session.registered
    assert wire.server(":irc.test.local 005 minutebot RFC2812 IRCD=ngIRCd CHANTYPES=#&+ "
                       "PREFIX=(qaohv)~&@%+ :are supported on this server") == []
    assert not wire.session.whox
    # Our own JOIN: ask the channel's modes (may the bot set the topic? see #topic).
    assert wire.server(":minutebot!~minutebot@localhost JOIN :#meeting") == ["MODE #meeting"]
    assert wire.session.prefix_reserve == len(b":minutebot!~minutebot@localhost ")
    wire.server(":alice!~alice@localhost PRIVMSG #meeting :#startmeeting")
    (join, said) = wire.chat()
    assert (join.kind, join.nick) == (LineKind.JOIN, "minutebot")
    assert (said.kind, said.nick, said.text, said.identity) == (
        LineKind.MESSAGE, "alice", "#startmeeting", None)
    assert said.time == T0  # no server-time: the session's clock


LIBERA_LS = (
    ":tantalum.libera.chat CAP * LS * :account-notify away-notify chghost extended-join "
    "invite-notify multi-prefix sasl=PLAIN,ECDSA-NIST256P-CHALLENGE,EXTERNAL tls",
    ":tantalum.libera.chat CAP * LS :account-tag cap-notify echo-message message-tags "
    "server-time solanum.chat/identify-msg",
)


def test_solanum_cap_302_sasl_whox_and_accounts() -> None:
    wire = Wire(sasl_username="minutebot", sasl_password="hunter2")
    wire.session.connection_made()
    assert wire.server(LIBERA_LS[0]) == []  # more to come ("*")
    (request,) = wire.server(LIBERA_LS[1])
    assert request == ("CAP REQ :server-time account-tag extended-join account-notify "
                       "message-tags multi-prefix sasl")
    assert wire.server(f":tantalum.libera.chat CAP minutebot ACK :{request[9:]}") == [
        "AUTHENTICATE PLAIN"]
    blob = base64.b64encode(b"\0minutebot\0hunter2").decode()
    assert wire.server("AUTHENTICATE +") == [f"AUTHENTICATE {blob}"]
    assert wire.server(":tantalum.libera.chat 900 minutebot minutebot!m@h minutebot :You are "
                       "now logged in as minutebot",
                       ":tantalum.libera.chat 903 minutebot :SASL authentication successful"
                       ) == ["CAP END"]
    assert wire.server(":tantalum.libera.chat 001 minutebot :Welcome") == ["JOIN #meeting"]
    wire.server(":tantalum.libera.chat 005 minutebot WHOX KNOCK SAFELIST ELIST=CMNTU "
                "CHANTYPES=# :are supported by this server")
    assert wire.session.whox
    # Our own extended JOIN: ask who is here, and under which account.
    assert wire.server(":minutebot!~m@user/minutebot JOIN #meeting minutebot :openminutes"
                       ) == ["MODE #meeting", "WHO #meeting %tna,147"]
    wire.server(":tantalum.libera.chat 354 minutebot 147 alice alice",
                ":tantalum.libera.chat 354 minutebot 147 guest 0")
    assert wire.session.accounts == {"minutebot": "minutebot", "alice": "alice"}
    wire.server("@time=2026-12-01T18:05:00.123Z;account=alice;msgid=abc "
                ":alice!~a@user/alice PRIVMSG #meeting :#startmeeting",
                ":guest!~g@gateway PRIVMSG #meeting :hi",
                ":bob!~b@user/bob JOIN #meeting bobby :Bob",
                ":bob!~b@user/bob NICK :bob2",
                ":bob2!~b@user/bob PRIVMSG #meeting :renamed",
                ":guest!~g@gateway ACCOUNT guestacct")
    events = [(e.kind, e.nick, e.identity) for e in wire.chat()]
    assert events[1:] == [(LineKind.MESSAGE, "alice", "alice"),
                          (LineKind.MESSAGE, "guest", None),
                          (LineKind.JOIN, "bob", "bobby"),
                          (LineKind.NICK, "bob", "bobby"),
                          (LineKind.MESSAGE, "bob2", "bobby")]
    first = wire.chat()[1]
    assert first.time == datetime(2026, 12, 1, 18, 5, 0, 123000, tzinfo=UTC)
    assert first.event_id == "abc"
    assert wire.session.accounts["guest"] == "guestacct"


def test_inspircd_tags_lines_by_server_time_without_msgid() -> None:
    wire = Wire()
    wire.session.connection_made()
    wire.server(":irc.insp.test CAP * LS :cap-notify server-time message-tags",
                ":irc.insp.test CAP minutebot ACK :server-time message-tags",
                ":irc.insp.test 001 minutebot :Welcome")
    wire.server("@time=2026-12-01T18:00:01.000Z :alice!a@h PRIVMSG #meeting :one")
    (line,) = wire.chat()
    assert line.event_id is not None
    assert line.event_id.startswith("st:")


@pytest.mark.parametrize(("required", "sent"), [
    (False, ["CAP END"]), (True, ["QUIT :SASL login required"])])
def test_a_failed_sasl_login_warns_or_refuses(required: bool, sent: list[str],
                                             caplog: pytest.LogCaptureFixture) -> None:
    wire = Wire(sasl_username="minutebot", sasl_password="wrong", sasl_required=required)
    wire.session.connection_made()
    wire.server(":s CAP * LS :sasl", ":s CAP minutebot ACK :sasl", "AUTHENTICATE +")
    assert wire.server(":s 904 minutebot :SASL authentication failed") == sent
    assert "the SASL login failed" in caplog.text


def test_a_network_without_capabilities_registers_with_a_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    wire = Wire(sasl_username="minutebot", sasl_password="pw")
    wire.session.connection_made()
    assert wire.server(":old.net 001 minutebot :Welcome") == ["JOIN #meeting"]
    assert "does not negotiate capabilities" in caplog.text
    refusing = Wire(sasl_username="minutebot", sasl_password="pw", sasl_required=True)
    refusing.session.connection_made()
    assert refusing.server(":old.net 001 minutebot :Welcome") == ["QUIT :SASL login required"]
    assert not refusing.session.registered


def test_a_taken_nick_then_reclaimed_when_the_ghost_leaves() -> None:
    wire = Wire()
    wire.session.connection_made()
    assert wire.server(":s 433 * minutebot :Nickname is already in use") == [
        "NICK minutebot_"]
    wire.server(":s 001 minutebot_ :Welcome", ":minutebot_!m@h JOIN #meeting",
                ":minutebot!m@old JOIN #meeting")
    assert wire.session.nick == "minutebot_"
    assert wire.server(":minutebot!m@old QUIT :Ping timeout") == ["NICK minutebot"]
    wire.server(":minutebot_!m@h NICK :minutebot")
    assert wire.session.nick == "minutebot"


def test_a_lost_connection_is_an_outage_when_registered_again() -> None:
    wire = Wire()
    wire.session.connection_made()
    wire.server(":s 001 minutebot :Welcome")
    wire.clock = T0 + timedelta(minutes=1)
    wire.server(":s PONG s :openminutes")  # the last thing heard
    wire.clock = T0 + timedelta(minutes=5)
    wire.session.connection_lost(closing=False)
    wire.session.connection_made()
    wire.server(":s 001 minutebot :Welcome back")
    outages = [e for e in wire.emitted if isinstance(e, Outage)]
    assert outages == [Outage("net", T0 + timedelta(minutes=1), T0 + timedelta(minutes=5))]
    # Closing on purpose is no outage.
    wire.session.connection_lost(closing=True)
    wire.session.connection_made()
    wire.server(":s 001 minutebot :Welcome")
    assert len([e for e in wire.emitted if isinstance(e, Outage)]) == 1


def test_quits_and_kicks_leave_every_channel_they_were_seen_in() -> None:
    wire = Wire(channels=["#a", "#b"])
    wire.session.connection_made()
    wire.server(":s 001 minutebot :Welcome", ":s 353 minutebot = #a :@alice +bob minutebot",
                ":s 353 minutebot = #b :alice")
    wire.server(":alice!a@h QUIT :bye", ":op!o@h KICK #a bob :spam")
    assert sorted((e.room, e.kind, e.nick, e.text) for e in wire.chat()) == [
        ("#a", LineKind.PART, "bob", "kicked by op: spam"),
        ("#a", LineKind.QUIT, "alice", "bye"),
        ("#b", LineKind.QUIT, "alice", "bye")]


def test_who_may_set_the_topic_follows_modes_ranks_and_topiclen() -> None:
    """+t and -t from 324 and MODE, the bot's rank from NAMES and MODE; the topic a
    meeting replaces is kept (and said in a Checkpoint, so a restart still finds it)."""
    wire = Wire()
    wire.server(":s CAP * LS :multi-prefix", ":s CAP minutebot ACK :multi-prefix",
                ":s 001 minutebot :Welcome", ":s 005 minutebot TOPICLEN=12 :are supported",
                ":minutebot!m@h JOIN #meeting", ":s 332 minutebot #meeting :Old topic",
                ":s 353 minutebot = #meeting :minutebot @alice",
                ":s 324 minutebot #meeting +nt")
    session = wire.session
    assert session.topic_line("#meeting", "Budget") is None  # +t, and no rank
    wire.server(":alice!a@h MODE #meeting +o minutebot")
    assert session.topic_line("#Meeting", "Budget and more words") == \
        "TOPIC #Meeting :Budget and"  # cut at TOPICLEN, at a space
    assert session.replaced_topics == {"#meeting": "Old topic"}
    wire.server(":minutebot!m@h TOPIC #meeting :Budget and")  # our echo: not a line
    wire.server(":alice!a@h MODE #meeting -o minutebot", ":alice!a@h MODE #meeting -t")
    assert session.restore_line("#meeting") == "TOPIC #meeting :Old topic"  # -t: anyone may
    assert session.restore_line("#meeting") is None  # once
    wire.server(":alice!a@h MODE #meeting +t")
    wire.server(":s 353 minutebot = #meeting :%minutebot alice")
    assert session.may_set_topic("#meeting")  # halfop
    kept = [e for e in wire.emitted if isinstance(e, Checkpoint)]
    assert [(c.key, c.value) for c in kept] == [("topic-before:#meeting", "=Old topic"),
                                                ("topic-before:#meeting", "")]
    assert [e.kind for e in wire.chat()] == [LineKind.JOIN]
