"""The bundled commands. Importing this package registers them in meetings.registry.REGISTRY."""

from meetings.registry import REGISTRY, Registry
from plugins import meeting as _meeting  # noqa: F401 - registers its commands


def default_registry() -> Registry:
    return REGISTRY
