"""How plugins declare commands and item kinds, and the registry built from them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from openminutes.meetings.model import CORE_KINDS, ItemKind, Line
from openminutes.meetings.state import Meeting


@dataclass
class Outcome:
    """What handling one line asks the outside world to do. Dropped during replay."""

    replies: list[str] = field(default_factory=list)
    publish: bool = False  # write the minutes now (#save, #endmeeting)
    ended: bool = False
    # The channel topic the meeting asks for (#topic), where the bot may set it; and at
    # the end, the topic it replaced put back (MeetBot's behaviour).
    topic: str | None = None
    restore_topic: bool = False


@dataclass
class Context:
    meeting: Meeting
    line: Line
    command: str  # the name typed, lower case (may be an alias)
    args: str
    outcome: Outcome
    registry: Registry

    def reply(self, text: str) -> None:
        self.outcome.replies.append(text)


Handler = Callable[[Context], None]
_COMMAND_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # lower case; letters, digits, '_' and '-' ("decision-deadline")
    handler: Handler
    help: str  # "#name ARGS: what it does", shown by #commands and the README
    aliases: tuple[str, ...] = ()
    chair_only: bool = False
    # Commands that make an item are listed in MeetBot's "Useful Commands" line.
    useful: bool = False
    kind: ItemKind | None = None  # the kind of item it makes, if it makes one


class Plugin:
    """What one plugin declares: its commands, each with its permission, help and the
    item kind it makes, and the kinds its handlers make otherwise (a vote's result).
    Declaring changes nothing until the plugin is given to build_registry."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.commands: list[Command] = []
        self.kinds: list[ItemKind] = []
        self.listeners: list[Handler] = []

    def add(self, cmd: Command) -> None:
        if not _COMMAND_NAME.fullmatch(cmd.name) or not all(
                _COMMAND_NAME.fullmatch(a) for a in cmd.aliases):
            raise ValueError(f"plugin {self.name}: #{cmd.name}: a command is a word of "
                             "letters, digits, '_' and '-', starting with a letter")
        self.commands.append(cmd)
        if cmd.kind is not None:
            self.kind(cmd.kind)

    def listen(self, handler: Handler) -> Handler:
        """Decorator: a handler that sees every line said in a meeting that carries no
        command (ctx.command is "", ctx.args the text): meetingology's `+1` ballots."""
        self.listeners.append(handler)
        return handler

    def kind(self, kind: ItemKind) -> ItemKind:
        if kind not in self.kinds:
            self.kinds.append(kind)
        return kind

    def command(
        self,
        name: str,
        *,
        help: str,
        aliases: tuple[str, ...] = (),
        chair_only: bool = False,
        useful: bool = False,
        kind: ItemKind | None = None,
    ) -> Callable[[Handler], Handler]:
        """Decorator: declare a handler as a command of this plugin."""

        def register(handler: Handler) -> Handler:
            self.add(Command(name, handler, help, aliases, chair_only, useful, kind))
            return handler

        return register

    def item_command(self, kind: ItemKind, usage: str, help: str, *,
                     aliases: tuple[str, ...] = (), chair_only: bool = False,
                     useful: bool = False, name: str = "", may_be_empty: bool = False,
                     then: Handler | None = None) -> None:
        """A command that records its text as an item of `kind` (#agreed TEXT): usage
        "TEXT", help "record an agreement". `may_be_empty`: said alone, it records an item
        with no text (as MeetBot does) instead of answering with the usage; `then` runs
        after the item is recorded (#topic sets the channel topic)."""
        command = name or kind.name

        def handler(ctx: Context) -> None:
            if not ctx.args and not may_be_empty:
                ctx.reply(f"Usage: {ctx.meeting.prefixes[0]}{ctx.command} {usage}")
                return
            ctx.meeting.add_item(kind, ctx.line, ctx.args, command)
            if then is not None:
                then(ctx)

        self.add(Command(command, handler, f"#{command} {usage}: {help}", aliases,
                         chair_only, useful, kind))


class Registry:
    """Every command and item kind of the plugins it was built from (build_registry):
    the engine looks commands up here, and the outputs, search, the CLI and the API take
    the kinds from here."""

    def __init__(self) -> None:
        self._by_name: dict[str, Command] = {}
        self._commands: list[Command] = []
        self._kinds: dict[str, ItemKind] = {k.name: k for k in CORE_KINDS}
        self.listeners: list[Handler] = []

    def add(self, cmd: Command) -> None:
        for name in (cmd.name, *cmd.aliases):
            if name in self._by_name:
                raise ValueError(f"command #{name} is declared twice")
            self._by_name[name] = cmd
        self._commands.append(cmd)
        if cmd.kind is not None:
            self.add_kind(cmd.kind)

    def add_kind(self, kind: ItemKind) -> None:
        known = self._kinds.get(kind.name)
        if known is not None and known != kind:
            raise ValueError(f"item kind {kind.name!r} is declared twice, differently")
        self._kinds[kind.name] = kind

    def lookup(self, name: str) -> Command | None:
        return self._by_name.get(name.lower())

    def commands(self) -> list[Command]:
        return sorted(self._commands, key=lambda c: c.name)

    def kinds(self) -> list[ItemKind]:
        """Every item kind, in the order declared (the engine's own first)."""
        return list(self._kinds.values())

    def kind_names(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    def decision_kinds(self) -> tuple[str, ...]:
        """The names of the kinds that are decisions, sorted."""
        return tuple(sorted(k.name for k in self._kinds.values() if k.decision))


def build_registry(plugins: Iterable[Plugin]) -> Registry:
    """The registry of these plugins' commands and kinds; a name declared twice is an
    error, not a silent override."""
    registry = Registry()
    for plugin in plugins:
        for kind in plugin.kinds:
            registry.add_kind(kind)
        for cmd in plugin.commands:
            registry.add(cmd)
        registry.listeners.extend(plugin.listeners)
    return registry
