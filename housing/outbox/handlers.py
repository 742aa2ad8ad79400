"""Which service acts on which outbox topic: each area registers its own handler.

An area that asks for work through the outbox writes messages of its topic with `Outbox`
and registers the function that acts on them with `@outbox_handler(topic)`. The registry
lives here, below the areas, so the outbox never imports them; it is complete once
housing.models (which imports every area's registering modules) is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from housing.outbox.services import Handler

_HANDLERS: dict[str, Handler] = {}


def outbox_handler(topic: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the one that acts on messages of `topic`."""

    def register(handler: Handler) -> Handler:
        if topic in _HANDLERS:
            raise RuntimeError(f"outbox topic {topic!r} already has a handler")
        _HANDLERS[topic] = handler
        return handler

    return register


def default_handlers() -> Mapping[str, Handler]:
    """Every registered handler by topic."""
    return MappingProxyType(_HANDLERS)
