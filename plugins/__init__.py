"""The bundled commands. Importing this package registers them in meetings.registry.REGISTRY."""

from meetings.registry import REGISTRY, Registry
from plugins import meeting as _meeting  # noqa: F401 - registers its commands
from plugins import votes as _votes  # noqa: F401


def default_registry() -> Registry:
    return REGISTRY
