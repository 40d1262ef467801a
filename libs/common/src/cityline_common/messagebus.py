"""The one way into a service's use cases: a message bus in the cosmicpython style.

Entrypoints (Flask routes, AMQP consumers, CLIs) build a command and hand it to the bus; they never
call handlers or repositories themselves. One handler per command, any number per event. A
command's handler and every event it leads to run in one unit of work, which the bus commits: the
business change and the messages it emits through the outbox land together or not at all.

Handlers are registered through :class:`Handlers`, whose methods are typed per message class, so
mypy checks that each handler takes the message it is registered for; a command declares its
result type (``class PublishTaxonomy(Command[tuple[int, bool]])``) and ``bus.handle`` returns it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Self, TypeVar, cast

from cityline_common.unit_of_work import AbstractUnitOfWork, Event

R = TypeVar("R")
T = TypeVar("T")
U = TypeVar("U", bound=AbstractUnitOfWork)
C = TypeVar("C", bound="Command[Any]")
E = TypeVar("E", bound=Event)


class Command(Generic[R]):
    """Something a service is asked to do: imperative names (FollowResident). ``R``: what it answers."""


class Handlers(Generic[U]):
    """The handler map of one service, built with typed registrations."""

    def __init__(self) -> None:
        # Stored type-erased; :meth:`command` and :meth:`event` check each pairing when registered.
        self._commands: dict[type[Command[Any]], Callable[[Any, U], object]] = {}
        self._events: dict[type[Event], list[Callable[[Any, U], None]]] = {}

    def command(self, kind: type[C], handler: Callable[[C, U], object]) -> Self:
        if kind in self._commands:
            raise ValueError(f"{kind.__name__} already has a handler")
        self._commands[kind] = handler
        return self

    def event(self, kind: type[E], *handlers: Callable[[E, U], None]) -> Self:
        self._events.setdefault(kind, []).extend(handlers)
        return self

    def for_command(self, command: Command[R]) -> Callable[[Command[R], U], R]:
        handler = self._commands.get(type(command))
        if handler is None:
            raise LookupError(f"no handler for command {type(command).__name__}")
        # Registration paired the handler with this command class, whose declared result is R.
        return cast(Callable[[Command[R], U], R], handler)

    def for_event(self, event: Event) -> list[Callable[[Any, U], None]]:
        return self._events.get(type(event), [])


class MessageBus(Generic[U]):
    def __init__(self, uow_factory: Callable[[], U], handlers: Handlers[U]) -> None:
        self.uow_factory = uow_factory
        self._handlers = handlers

    def handle(self, command: Command[R]) -> R:
        """Run ``command`` and what it leads to in a new unit of work, commit, and return its result."""
        with self.uow_factory() as uow:
            result = self.dispatch(command, uow)
            uow.commit()
        return result

    def dispatch(self, command: Command[R], uow: U) -> R:
        """Run ``command`` inside ``uow`` without committing (a consumer commits with its claim)."""
        result = self._handlers.for_command(command)(command, uow)
        self._follow_events(uow)
        return result

    def publish(self, event: Event, uow: U) -> None:
        """Handle an event that arrived from outside inside ``uow``, without committing."""
        for handler in self._handlers.for_event(event):
            handler(event, uow)
        self._follow_events(uow)

    def query(self, view: Callable[[U], T]) -> T:
        """Read-side: run ``view`` in a unit of work that commits nothing."""
        with self.uow_factory() as uow:
            return view(uow)

    def _follow_events(self, uow: U) -> None:
        pending: list[Event] = list(uow.collect_new_events())
        while pending:
            event = pending.pop(0)
            for handler in self._handlers.for_event(event):
                handler(event, uow)
            pending.extend(uow.collect_new_events())


__all__ = ["Command", "Event", "Handlers", "MessageBus"]
