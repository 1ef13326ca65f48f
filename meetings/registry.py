"""How plugins declare commands: one registry of name, aliases, permission, help, handler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from meetings.model import Line
from meetings.state import Meeting


@dataclass
class Outcome:
    """What handling one line asks the outside world to do. Dropped during replay."""

    replies: list[str] = field(default_factory=list)
    publish: bool = False  # write the minutes now (#save, #endmeeting)
    ended: bool = False


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


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    handler: Handler
    help: str
    aliases: tuple[str, ...] = ()
    chair_only: bool = False
    # Commands that make an item are listed in MeetBot's "Useful Commands" line.
    useful: bool = False


class Registry:
    def __init__(self) -> None:
        self._by_name: dict[str, Command] = {}
        self._commands: list[Command] = []

    def add(self, cmd: Command) -> None:
        for name in (cmd.name, *cmd.aliases):
            if name in self._by_name:
                raise ValueError(f"command #{name} is declared twice")
            self._by_name[name] = cmd
        self._commands.append(cmd)

    def lookup(self, name: str) -> Command | None:
        return self._by_name.get(name.lower())

    def commands(self) -> list[Command]:
        return sorted(self._commands, key=lambda c: c.name)

    def command(
        self,
        name: str,
        *,
        help: str,
        aliases: tuple[str, ...] = (),
        chair_only: bool = False,
        useful: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Decorator: declare a handler as a command."""

        def register(handler: Handler) -> Handler:
            self.add(Command(name, handler, help, aliases, chair_only, useful))
            return handler

        return register


# The registry the bundled plugins declare their commands in.
REGISTRY = Registry()
command = REGISTRY.command
