"""A small message bus in the cosmicpython style: one handler per command, many per event.

Handlers receive the message and the unit of work. After each handler the bus asks the unit of
work for domain events its aggregates raised and handles those too, in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Command:
    """Something we were asked to do: imperative names (FollowResident)."""


class Event:
    """Something that happened: past-tense names (ResidentFollowed)."""


class CollectsEvents(Protocol):
    def collect_new_events(self) -> Iterable[Event]: ...


CommandHandler = Callable[[Any, Any], Any]
EventHandler = Callable[[Any, Any], None]


class MessageBus:
    def __init__(
        self,
        command_handlers: dict[type[Command], CommandHandler],
        event_handlers: dict[type[Event], list[EventHandler]],
    ) -> None:
        self._commands = command_handlers
        self._events = event_handlers

    def handle(self, message: Command | Event, uow: CollectsEvents) -> Any:
        """Handle ``message`` and every event it leads to; return the command handler's result."""
        queue: list[Command | Event] = [message]
        result: Any = None
        while queue:
            current = queue.pop(0)
            if isinstance(current, Command):
                handler = self._commands.get(type(current))
                if handler is None:
                    raise LookupError(f"no handler for command {type(current).__name__}")
                outcome = handler(current, uow)
                if current is message:
                    result = outcome
            else:
                for event_handler in self._events.get(type(current), []):
                    event_handler(current, uow)
            queue.extend(uow.collect_new_events())
        return result
