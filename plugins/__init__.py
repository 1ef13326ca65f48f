"""The bundled plugins, and building a registry from them and from any others named."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from openminutes.meetings.registry import Plugin, Registry, build_registry
from openminutes.plugins import hcoop, meeting, meetingology, votes

BUNDLED: tuple[Plugin, ...] = (meeting.plugin, votes.plugin, hcoop.plugin, meetingology.plugin)


def load_plugin(module: str) -> Plugin:
    """The `plugin` a module declares (`plugins.extra` in the config names such modules)."""
    found = getattr(importlib.import_module(module), "plugin", None)
    if not isinstance(found, Plugin):
        raise ValueError(f"{module} declares no `plugin = Plugin(...)`")
    return found


def default_registry(extra: Iterable[str] = ()) -> Registry:
    """The bundled plugins' commands and kinds, and those of the modules named."""
    return build_registry([*BUNDLED, *(load_plugin(m) for m in extra)])
