"""The channel topic on a real ngIRCd, as MeetBot handles it: #topic sets
"TOPIC (Meeting topic: TITLE)" where the bot may (op, or a channel without +t), the end
of the meeting puts the earlier topic back (also after the bot was SIGKILLed in between),
and where it may not, or is told not to, it touches nothing and says nothing about it."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from tests.servers import IrcClient, NgIrcd
from tests.test_irc_integration import CHANNEL, _config, _start_bot, _stop_bot

FAST = "send_rate = 20.0\nsend_burst = 10\n"


def _topics_by_bot(client: IrcClient) -> list[str]:
    return [ln.split(" :", 1)[1] for ln in client.lines
            if ln.startswith(":minutebot!") and f" TOPIC {CHANNEL} " in ln]


async def _chair(ngircd: NgIrcd, topic: str, modes: str = "+t") -> IrcClient:
    """alice opens the channel (so she is its op) with a topic and modes of her own."""
    alice = IrcClient("alice")
    await alice.connect(ngircd.port)
    await alice.join(CHANNEL)
    alice.send(f"MODE {CHANNEL} {modes}")
    alice.send(f"TOPIC {CHANNEL} :{topic}")
    await alice.wait_for(f" TOPIC {CHANNEL} :{topic}")
    return alice


async def _op_bot(alice: IrcClient, times: int = 1) -> None:
    await alice.wait_joined("minutebot", count=times)
    alice.send(f"MODE {CHANNEL} +o minutebot")
    await alice.wait_for(f"MODE {CHANNEL} +o minutebot", count=times)


async def test_topic_set_and_put_back_across_a_sigkill(ngircd: NgIrcd, tmp_path: Path) -> None:
    alice = await _chair(ngircd, "Welcome, see the wiki")
    config = _config(tmp_path, ngircd.port, FAST)
    bot = _start_bot(config)
    try:
        await _op_bot(alice)
        alice.say(CHANNEL, "#startmeeting Weekly")
        await alice.wait_for("The meeting name has been set")
        alice.say(CHANNEL, "#topic Budget")
        await alice.wait_for(f"TOPIC {CHANNEL} :Budget (Meeting topic: Weekly)")
        alice.say(CHANNEL, "#topic Hiring")
        await alice.wait_for(f"TOPIC {CHANNEL} :Hiring (Meeting topic: Weekly)")
        bot.send_signal(signal.SIGKILL)
        await _stop_bot(bot)
        bot = _start_bot(config)
        await _op_bot(alice, times=2)
        alice.say(CHANNEL, "#endmeeting")
        await alice.wait_for("Minutes:")
        await alice.wait_for(f"TOPIC {CHANNEL} :Welcome, see the wiki", count=2)
        assert _topics_by_bot(alice) == ["Budget (Meeting topic: Weekly)",
                                         "Hiring (Meeting topic: Weekly)",
                                         "Welcome, see the wiki"]
        # The topic the meeting sets is not a line of its log (as on Matrix); alice's is.
        log = next((tmp_path / "minutes").rglob("*.log.txt")).read_text()
        assert "Budget (Meeting topic: Weekly)" not in log
    finally:
        await _stop_bot(bot)
        await alice.close()


@pytest.mark.parametrize("case", ["not-op-and-plus-t", "set_topic-off"])
async def test_no_topic_where_the_bot_may_not_or_is_told_not_to(
        ngircd: NgIrcd, tmp_path: Path, case: str) -> None:
    alice = await _chair(ngircd, "Keep me")
    extra = FAST + ("set_topic = false\n" if case == "set_topic-off" else "")
    bot = _start_bot(_config(tmp_path, ngircd.port, extra))
    try:
        if case == "set_topic-off":
            await _op_bot(alice)
        else:
            await alice.wait_joined("minutebot")
        alice.say(CHANNEL, "#startmeeting")
        await alice.wait_for("Useful Commands")
        alice.say(CHANNEL, "#topic Budget")
        alice.say(CHANNEL, "#endmeeting")
        await alice.wait_for("Minutes:")
        await asyncio.sleep(0.3)
        assert _topics_by_bot(alice) == []
        # Two lines at the start, the end and the three URLs: nothing about the topic.
        said = alice.messages_from("minutebot")
        assert len(said) == 6, said
        assert not [ln for ln in alice.lines if " 482 " in ln]
        alice.send(f"TOPIC {CHANNEL}")
        await alice.wait_for(f" 332 alice {CHANNEL} :Keep me")
    finally:
        await _stop_bot(bot)
        await alice.close()


async def test_a_channel_without_plus_t_takes_the_topic_from_anyone(
        ngircd: NgIrcd, tmp_path: Path) -> None:
    alice = await _chair(ngircd, "Open channel", modes="-t")
    bot = _start_bot(_config(tmp_path, ngircd.port, FAST))
    try:
        await alice.wait_joined("minutebot")  # not an op
        alice.say(CHANNEL, "#startmeeting")
        await alice.wait_for("Useful Commands")
        alice.say(CHANNEL, "#topic Budget")
        await alice.wait_for(f"TOPIC {CHANNEL} :Budget")
        alice.say(CHANNEL, "#endmeeting")
        await alice.wait_for(f"TOPIC {CHANNEL} :Open channel", count=2)
        assert _topics_by_bot(alice) == ["Budget", "Open channel"]
    finally:
        await _stop_bot(bot)
        await alice.close()
