"""The config is validated at start; every error names its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from openminutes.runtime.config import ConfigError, load, parse

ROOT = Path(__file__).resolve().parent.parent
IRC = '[[irc]]\nname = "n"\nhost = "h"\nnick = "b"\nchannels = ["#c"]\n'
MATRIX = ('[[matrix]]\nname = "m"\nhomeserver = "https://m.org"\nuser_id = "@bot:m.org"\n'
          'password = "p"\n')


def test_the_example_config_is_valid_and_complete() -> None:
    config = load(ROOT / "config.example.toml")
    assert config.irc[0].name == "libera"
    assert config.meetings.max_length_minutes == 60
    assert not config.console


def test_defaults() -> None:
    config = parse(IRC)
    assert config.storage.url == "sqlite:///openminutes.db"
    assert (config.irc[0].port, config.irc[0].tls, config.irc[0].send_burst) == (6667, False, 4)


def test_irc_and_matrix_side_by_side() -> None:
    config = parse(IRC + MATRIX + 'rooms = ["#meetings:m.org", "!abc:m.org"]\n')
    assert [c.name for c in config.irc] == ["n"]
    (matrix,) = config.matrix
    assert (matrix.chair_power_level, matrix.command_prefixes) == (50, ["#", "!", "^"])


def test_room_ids_of_room_version_12_have_no_server() -> None:
    room = "!Ccf0wIxSLWlBn3rOvDZ1GuFNAbjuXd2sqoPtEpnDkxk"
    (matrix,) = parse(IRC + MATRIX + f'rooms = ["{room}"]\n').matrix
    assert matrix.rooms == [room]


def test_no_config_file_means_console_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load(None).console


@pytest.mark.parametrize(("text", "message"), [
    ("[storage]\nurll = 'x'\n", "unknown key storage.urll"),
    ("colour = 1\n", "unknown key colour"),
    ("console = true\n", "unknown key console"),
    ("[meetings]\nmax_length_minutes = '60'\n", "meetings.max_length_minutes must be an integer"),
    ("[meetings]\nmax_length_minutes = true\n", "meetings.max_length_minutes must be an integer"),
    ("[meetings]\nmax_length_minutes = 0\n", "meetings.max_length_minutes must be positive"),
    ("[meetings]\ncommand_prefix = ' '\n", "meetings.command_prefix must not be empty"),
    ("[web]\nlive_streams = 0\n", "web.live_streams must be at least 1"),
    ("[recorders]\nlease_seconds = 1.5\n", "recorders.lease_seconds must be at least twice"),
    ("[recorders]\nrenew_seconds = 0\n", "recorders.renew_seconds must be positive"),
    ("[recorders]\nbuffer_minutes = -1\n", "recorders.buffer_minutes must be positive"),
    ("[recorders]\nlease = 4\n", "unknown key recorders.lease"),
    ("[web]\nlive_streams_per_client = -1\n", "web.live_streams_per_client must be at least 1"),
    ('[[irc]]\nname = "n"\nnick = "b"\nchannels = []\n', "irc[0].host is required"),
    (IRC + "port = 99999\n", "irc[0].port must be between 1 and 65535"),
    (IRC.replace('["#c"]', '"#c"'), "irc[0].channels must be a list"),
    (IRC.replace('["#c"]', '["c"]'), "irc[0].channels[0] 'c' is not a channel name"),
    (IRC + 'sasl_username = "u"\n', "irc[0].sasl_username and sasl_password go together"),
    (IRC + IRC, "irc[1].name 'n' is used twice"),
    ("[votes]\nthreshold = 'most'\n", "votes.threshold must be one of majority"),
    ("[[votes.channel]]\nchannel = '#tc'\nquorum = -1\n", "votes.channel[0].quorum must not"),
    ("[[votes.channel]]\nquorum = 1\n", "votes.channel[0].channel is required"),
    (MATRIX.replace("https://m.org", "m.org"), "matrix[0].homeserver must be an http"),
    (MATRIX.replace("@bot:m.org", "bot"), "matrix[0].user_id must look like @name:server"),
    (MATRIX + 'access_token = "t"\n', "matrix[0]: set one of password and access_token"),
    (MATRIX + 'rooms = ["meetings"]\n', "matrix[0].rooms[0] 'meetings' is not a room id"),
    (MATRIX + "chair_power_level = 0\n", "matrix[0].chair_power_level must be at least 1"),
    (MATRIX + "rooms = '#a:m.org'\n", "matrix[0].rooms must be a list"),
    (MATRIX + "encryption = true\n", "unknown key matrix[0].encryption"),
    (IRC + MATRIX.replace('"m"', '"n"'), "matrix[0].name 'n' is used twice"),
    ("[[notify.webhook]]\nurl = 'ftp://x'\n", "notify.webhook[0].url must be an http"),
    ("[[notify.webhook]]\nurl = 'https://x'\nevents = ['meeting.paused']\n",
     "notify.webhook[0].events[0] must be one of meeting.started, meeting.ended"),
    ("[notify.email]\nto = ['nobody']\n", "notify.email.to[0] 'nobody' is not an email"),
    ("[notify.email]\nusername = 'u'\n", "notify.email.username and password go together"),
    ("[schedule]\nreminder_minutes = -5\n", "schedule.reminder_minutes must not be negative"),
    ("[schedule]\nfolder = 'x'\n", "unknown key schedule.folder"),
    ("[publish\n", "is not valid TOML"),
    ("publish = 3\n", "publish must be a table"),
])
def test_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse(text)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load(tmp_path / "missing.toml")


def test_vote_rules_reach_the_engine() -> None:
    from openminutes.meetings.votes import Threshold
    from openminutes.runtime.app import settings_of

    config = parse("[votes]\nquorum = 2\n[[votes.channel]]\nchannel = '#TC'\n"
                   "threshold = 'unanimity'\nabstentions_count = true\n")
    settings = settings_of(config)
    assert settings.vote_rule.quorum == 2
    tc = settings.vote_rule_for("#tc")
    assert (tc.threshold, tc.abstentions_count, tc.quorum) == (Threshold.UNANIMITY, True, 0)
