"""``cityline-dlq``: look at dead letters and unrouted messages, put them back, or throw them away.

It works on the inspection queues only — ``<queue>.dlq`` (dead letters: a consumer's
:class:`~cityline_common.amqp.consumer.PoisonMessage` with the reason in ``x-error``, or the broker's
delivery limit, recorded in ``x-death``) and ``<exchange>.unrouted`` (messages no queue was bound
for). Browsing a work queue would take messages away from its consumers and count deliveries
against its delivery limit, so those names are refused.

    cityline-dlq list [--queue Q]… [--json]           count and group by reason, oldest first
    cityline-dlq show QUEUE MESSAGE_ID [--full]       headers, properties and body
    cityline-dlq replay QUEUE (ID… | --all | --reason TEXT) [--dry-run]
    cityline-dlq purge QUEUE [--yes]

**Browsing loses and reorders nothing.** Messages are taken with ``basic.get`` without an ack on a
channel of their own; closing that channel hands every one of them back to the broker, which puts
them back at the head of the queue in the order they were taken (quorum queues return unacked
messages ahead of the rest). The inspection queues have no delivery limit, so the
``x-delivery-count`` that grows with each look never dead-letters or drops anything; replay strips
it. ``libs/common/tests/test_dlq.py`` checks both against a real broker.

**Replay** republishes a message to the exchange and routing key it was first published to — from
the ``x-original-exchange``/``x-original-routing-key`` headers our consumer adds when it
dead-letters, from ``x-death`` when the broker did, or from the delivery itself for an unrouted
message (the alternate exchange keeps them) — with its ``message_id``, ``type``, body and headers,
minus the dead-letter bookkeeping, persistent and ``mandatory``, and removes it from the queue only
after the broker's confirm. A message whose origin is unknown, or that has no ``message_id``, is
refused and stays. Other queues bound to the same routing key receive the replay too: their
consumers handled it already and skip it as a duplicate as long as they remember its id
(``processed_messages``, kept :data:`cityline_common.relay.PROCESSED_RETENTION`); replaying an older
message prints a warning.

Exit status: 0 done; 1 something was not done (an id not found, a message refused or not
confirmed, a confirmation typed wrong); 2 a wrong invocation (unknown or non-inspection queue,
``purge`` without ``--yes`` when nobody can be asked).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

import pika
import pika.exceptions

from cityline_common.amqp.topology import DLX, inspection_queues, is_inspection_queue, registered_queues

NOT_FOUND = 404
BODY_PREVIEW_BYTES = 4096
DEFAULT_LIST_LIMIT = 1000
UNROUTED_REASON = "unrouted: no queue was bound for its routing key"

# Headers that record a message's dead-lettering rather than the message itself; replay drops them.
BOOKKEEPING_HEADERS = frozenset({
    "x-error", "x-consumer", "x-original-exchange", "x-original-routing-key", "x-death",
    "x-delivery-count", "x-replayed-from",
})
BOOKKEEPING_PREFIXES = ("x-first-death-", "x-last-death-")


class UsageError(Exception):
    """The command cannot run as asked (exit status 2)."""


@dataclass(frozen=True)
class Letter:
    """One message of an inspection queue, as browsing found it."""

    queue: str
    delivery_tag: int
    exchange: str  # of the delivery: city.dlx for a dead letter, the original one for an unrouted message
    routing_key: str
    properties: Any  # pika.BasicProperties
    body: bytes

    @property
    def headers(self) -> dict[str, Any]:
        return dict(self.properties.headers or {})

    @property
    def message_id(self) -> str | None:
        return _text(self.properties.message_id)

    @property
    def type(self) -> str | None:
        return _text(self.properties.type)

    @property
    def reason(self) -> str:
        return reason_of(self.queue, self.headers)

    @property
    def origin(self) -> tuple[str, str] | None:
        return origin_of(self.queue, self.exchange, self.routing_key, self.headers)

    @property
    def refusal(self) -> str | None:
        """Why replay must leave this message where it is, or None when it can go back."""
        if not self.message_id:
            return "it has no message_id, so no consumer could de-duplicate it"
        if self.origin is None:
            return "its original exchange and routing key are unknown (no x-original-* or x-death headers)"
        return None

    @property
    def died_at(self) -> datetime | None:
        death = _death(self.queue, self.headers)
        return _as_datetime(death.get("time")) if death else None

    @property
    def published_at(self) -> datetime | None:
        return _as_datetime(self.properties.timestamp)

    def summary(self) -> dict[str, Any]:
        origin = self.origin
        return {
            "message_id": self.message_id,
            "type": self.type,
            "reason": self.reason,
            "exchange": origin[0] if origin else None,
            "routing_key": origin[1] if origin else None,
            "died_at": _iso(self.died_at),
            "published_at": _iso(self.published_at),
            "consumer": _text(self.headers.get("x-consumer")),
            "bytes": len(self.body),
            "replayable": self.refusal is None,
        }


def reason_of(queue: str, headers: dict[str, Any]) -> str:
    """What put a message here: our consumer's ``x-error``, the broker's dead-letter reason, or
    "unrouted"."""
    error = _text(headers.get("x-error"))
    if error:
        return error
    death = _death(queue, headers)
    reason = _text(death.get("reason")) if death else None
    reason = reason or _text(headers.get("x-first-death-reason"))
    if reason:
        return reason
    if queue.endswith(".unrouted"):
        return UNROUTED_REASON
    return "unknown (no x-error or x-death header)"


def origin_of(queue: str, exchange: str, routing_key: str, headers: dict[str, Any]) -> tuple[str, str] | None:
    """The exchange and routing key a message was first published to, or None when unknown."""
    original_exchange = _text(headers.get("x-original-exchange"))
    original_key = _text(headers.get("x-original-routing-key"))
    if original_exchange is not None and original_key is not None:
        origin: tuple[str, str] | None = (original_exchange, original_key)
    elif (death := _death(queue, headers)) is not None:
        keys = death.get("routing-keys") or []
        death_exchange = _text(death.get("exchange"))
        origin = (death_exchange, _text(keys[0]) or "") if death_exchange is not None and keys else None
    elif queue.endswith(".unrouted") and exchange and exchange != queue:
        # An alternate exchange leaves the delivery's exchange and routing key as published.
        origin = (exchange, routing_key)
    else:
        origin = None
    if origin is not None and origin[0] == DLX:
        return None  # back to the dead-letter exchange would only bring it back here
    return origin


def replay_headers(headers: dict[str, Any]) -> dict[str, Any]:
    """The message's own headers: the dead-letter bookkeeping removed."""
    return {
        key: value for key, value in headers.items()
        if key not in BOOKKEEPING_HEADERS and not key.startswith(BOOKKEEPING_PREFIXES)
    }


def replay_properties(letter: Letter) -> Any:
    """The properties the message is republished with: its own, persistent, and where it came from."""
    original = letter.properties
    return pika.BasicProperties(
        content_type=original.content_type,
        content_encoding=original.content_encoding,
        headers={**replay_headers(letter.headers), "x-replayed-from": letter.queue},
        delivery_mode=pika.DeliveryMode.Persistent,
        priority=original.priority,
        correlation_id=original.correlation_id,
        reply_to=original.reply_to,
        message_id=original.message_id,
        timestamp=original.timestamp,
        type=original.type,
        app_id=original.app_id,
    )


def _death(queue: str, headers: dict[str, Any]) -> dict[str, Any] | None:
    """The ``x-death`` entry of the queue this dead letter died in (the newest entry otherwise)."""
    deaths = [entry for entry in headers.get("x-death") or [] if isinstance(entry, dict)]
    for entry in deaths:
        if f"{_text(entry.get('queue'))}.dlq" == queue:
            return entry
    return deaths[0] if deaths else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int) and value > 0:
        return datetime.fromtimestamp(value, UTC)
    return None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


class Broker:
    """One connection to RabbitMQ for one command."""

    def __init__(self, url: str) -> None:
        params = pika.URLParameters(url)
        params.connection_attempts = 1
        params.socket_timeout = 10
        params.blocked_connection_timeout = 30
        params.client_properties = {"connection_name": "cityline-dlq"}
        self._connection = pika.BlockingConnection(params)
        self._publisher: Any = None

    def close(self) -> None:
        if self._connection.is_open:
            self._connection.close()

    def depth(self, queue: str) -> int | None:
        """Messages ready in ``queue``, or None when it does not exist (nothing is declared)."""
        channel = self._connection.channel()
        try:
            declared = channel.queue_declare(queue, passive=True)
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code == NOT_FOUND:
                return None
            raise
        count = int(declared.method.message_count)
        channel.close()
        return count

    @contextmanager
    def browsing(self, queue: str) -> Iterator[Browse]:
        """Take messages without acking them; closing the channel afterwards gives back every one
        not removed, in order."""
        channel = self._connection.channel()
        try:
            yield Browse(queue, channel)
        finally:
            if channel.is_open:
                channel.close()

    def publish(self, letter: Letter, exchange: str, routing_key: str) -> None:
        """Publish with a confirm; raises when the broker does not take it (nack, unroutable, no
        such exchange)."""
        if self._publisher is None or not self._publisher.is_open:
            self._publisher = self._connection.channel()
            self._publisher.confirm_delivery()
        self._publisher.basic_publish(exchange, routing_key, letter.body, replay_properties(letter), mandatory=True)

    def purge(self, queue: str) -> int:
        channel = self._connection.channel()
        try:
            return int(channel.queue_purge(queue).method.message_count)
        finally:
            if channel.is_open:
                channel.close()


class Browse:
    def __init__(self, queue: str, channel: Any) -> None:
        self.queue = queue
        self._channel = channel

    def take(self, limit: int | None = None) -> Iterator[Letter]:
        """The queue's messages from its head, at most ``limit``."""
        taken = 0
        while limit is None or taken < limit:
            method, properties, body = self._channel.basic_get(self.queue, auto_ack=False)
            if method is None:
                return
            taken += 1
            yield Letter(self.queue, method.delivery_tag, method.exchange or "", method.routing_key or "",
                         properties, body)

    def remove(self, letter: Letter) -> None:
        self._channel.basic_ack(letter.delivery_tag)


# --- commands --------------------------------------------------------------------------------------


def _checked(queue: str) -> str:
    if is_inspection_queue(queue):
        return queue
    hint = ""
    if any(each.name == queue for each in registered_queues()):
        hint = f"; did you mean {queue}.dlq?"
    raise UsageError(f"{queue!r} is not a dead-letter (<queue>.dlq) or unrouted (<exchange>.unrouted) queue: "
                     f"cityline-dlq leaves work queues to their consumers{hint}")


def _existing_depth(broker: Broker, queue: str) -> int:
    depth = broker.depth(_checked(queue))
    if depth is None:
        raise UsageError(f"no queue {queue!r} on this broker (vhost); known: {', '.join(inspection_queues())}")
    return depth


def command_list(broker: Broker, args: argparse.Namespace, out: TextIO) -> int:
    named: list[str] = args.queue or []
    queues = list(dict.fromkeys(named or inspection_queues()))
    report: list[dict[str, Any]] = []
    for queue in queues:
        depth = _existing_depth(broker, queue) if named else broker.depth(_checked(queue))
        if depth is None:
            report.append({"queue": queue, "missing": True})
            continue
        reasons: dict[str, list[dict[str, Any]]] = {}
        with broker.browsing(queue) as browse:
            for letter in browse.take(min(depth, args.limit)):
                reasons.setdefault(letter.reason, []).append(letter.summary())
        report.append({
            "queue": queue, "messages": depth, "shown": sum(len(each) for each in reasons.values()),
            "reasons": [{"reason": reason, "count": len(letters), "messages": letters}
                        for reason, letters in reasons.items()],
        })
    if args.json:
        print(json.dumps({"queues": report}, ensure_ascii=False, indent=2), file=out)
        return 0
    for entry in report:
        if entry.get("missing"):
            print(f"{entry['queue']}: not declared on this broker", file=out)
            continue
        more = f" (first {entry['shown']} shown; --limit for more)" if entry["shown"] < entry["messages"] else ""
        print(f"{entry['queue']}: {entry['messages']} message(s){more}", file=out)
        for group in entry["reasons"]:
            print(f"  {group['count']} × {group['reason']}", file=out)
            for summary in group["messages"]:
                origin = (f"{summary['exchange'] or '(default)'} {summary['routing_key']}"
                          if summary["routing_key"] is not None else "origin unknown")
                print(f"    {summary['message_id'] or '(no message_id)'}  type={summary['type'] or '-'}  "
                      f"from {origin}  died={summary['died_at'] or '-'}  published={summary['published_at'] or '-'}",
                      file=out)
    return 0


def command_show(broker: Broker, args: argparse.Namespace, out: TextIO) -> int:
    depth = _existing_depth(broker, args.queue)
    with broker.browsing(args.queue) as browse:
        found = [letter for letter in browse.take(depth) if letter.message_id == args.message_id]
    if not found:
        print(f"no message {args.message_id!r} in {args.queue}", file=sys.stderr)
        return 1
    letter = found[0]
    body = letter.body if args.full else letter.body[:BODY_PREVIEW_BYTES]
    text = body.decode("utf-8", "backslashreplace")
    properties = {
        name: _jsonable(getattr(letter.properties, name))
        for name in ("message_id", "type", "content_type", "content_encoding", "delivery_mode", "priority",
                     "correlation_id", "reply_to", "timestamp", "app_id", "user_id", "expiration")
        if getattr(letter.properties, name) is not None
    }
    document = {
        **letter.summary(), "queue": letter.queue, "copies": len(found), "properties": properties,
        "headers": _jsonable(letter.headers), "body": text, "body_truncated": len(body) < len(letter.body),
    }
    if args.json:
        print(json.dumps(document, ensure_ascii=False, indent=2), file=out)
        return 0
    origin = letter.origin
    print(f"queue:       {letter.queue}", file=out)
    print(f"message_id:  {letter.message_id}" + (f"  ({len(found)} copies)" if len(found) > 1 else ""), file=out)
    print(f"reason:      {letter.reason}", file=out)
    print(f"origin:      {f'{origin[0]} {origin[1]}' if origin else 'unknown'}", file=out)
    print(f"replayable:  {'yes' if letter.refusal is None else 'no: ' + str(letter.refusal)}", file=out)
    print("properties:", file=out)
    for name, value in properties.items():
        shown = _iso(letter.published_at) if name == "timestamp" else value
        print(f"  {name}: {shown}", file=out)
    print("headers:", file=out)
    for name, value in document["headers"].items():
        print(f"  {name}: {json.dumps(value, ensure_ascii=False)}", file=out)
    cut = f", first {len(body)} shown; --full for all" if document["body_truncated"] else ""
    print(f"body ({len(letter.body)} bytes{cut}):", file=out)
    print(text, file=out)
    return 0


def command_replay(broker: Broker, args: argparse.Namespace, out: TextIO) -> int:
    if sum((bool(args.message_ids), args.all, args.reason is not None)) != 1:
        raise UsageError("replay needs message ids, or --all, or --reason TEXT (one of them)")
    depth = _existing_depth(broker, args.queue)
    wanted = set(args.message_ids)

    def selected(letter: Letter) -> bool:
        if args.all:
            return True
        if args.reason is not None:
            return str(args.reason) in letter.reason
        return letter.message_id in wanted

    from cityline_common.relay import PROCESSED_RETENTION

    seen: set[str] = set()
    replayed = refused = failed = 0
    verb = "would replay" if args.dry_run else "replayed"
    # Only the messages there now: a replay that lands here again (unrouted once more, or poison
    # again) joins the tail and is not taken twice.
    with broker.browsing(args.queue) as browse:
        for letter in browse.take(depth):
            if not selected(letter):
                continue
            seen.add(letter.message_id or "")
            label = f"{letter.message_id or '(no message_id)'} ({letter.type or 'no type'})"
            if letter.refusal is not None:
                refused += 1
                print(f"refused {label}: {letter.refusal}; left in {args.queue}", file=out)
                continue
            exchange, routing_key = letter.origin or ("", "")
            target = f"{exchange or '(default exchange)'} {routing_key}"
            if args.dry_run:
                replayed += 1
                print(f"{verb} {label} to {target}", file=out)
                continue
            try:
                broker.publish(letter, exchange, routing_key)
            except (pika.exceptions.AMQPError, OSError) as exc:
                failed += 1
                print(f"not replayed {label} to {target}: {type(exc).__name__} {exc}; left in {args.queue}",
                      file=out)
                continue
            browse.remove(letter)  # only after the broker confirmed the copy
            replayed += 1
            print(f"{verb} {label} to {target}", file=out)
            _warn_if_forgotten(letter, PROCESSED_RETENTION, target)
    missing = sorted(wanted - seen)
    for message_id in missing:
        print(f"not found {message_id} in {args.queue}", file=out)
    print(f"{verb} {replayed}, refused {refused}, failed {failed}, not found {len(missing)}", file=out)
    return 1 if refused or failed or missing else 0


def _warn_if_forgotten(letter: Letter, retention: timedelta, target: str) -> None:
    published = letter.published_at
    if published is not None and datetime.now(UTC) - published > retention:
        print(f"warning: {letter.message_id} was published {published:%Y-%m-%d}, longer ago than consumers remember "
              f"handled ids ({retention.days} days): other consumers of {target} may handle it again",
              file=sys.stderr)


def command_purge(broker: Broker, args: argparse.Namespace, out: TextIO) -> int:
    depth = _existing_depth(broker, args.queue)
    if not args.yes:
        if not _interactive():
            raise UsageError(f"purge would delete {depth} message(s) from {args.queue} for good: "
                             "confirm with --yes (nobody at a terminal to ask)")
        answer = input(f"{depth} message(s) in {args.queue} will be deleted for good. "
                       "Type the queue name to confirm: ")
        if answer.strip() != args.queue:
            print("not confirmed; nothing purged", file=out)
            return 1
    purged = broker.purge(args.queue)
    print(f"purged {purged} message(s) from {args.queue}", file=out)
    return 0


def _interactive() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cityline-dlq",
        description="Inspect, replay or purge dead letters (<queue>.dlq) and unrouted messages (<exchange>.unrouted).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="count and group the messages of every inspection queue by reason")
    listing.add_argument("--queue", action="append", help="only this queue (repeatable)")
    listing.add_argument("--limit", type=int, default=DEFAULT_LIST_LIMIT,
                         help=f"messages shown per queue (default {DEFAULT_LIST_LIMIT})")
    listing.add_argument("--json", action="store_true", help="JSON for machines")
    show = commands.add_parser("show", help="one message: properties, headers, body")
    show.add_argument("queue")
    show.add_argument("message_id")
    show.add_argument("--full", action="store_true", help=f"the whole body, not its first {BODY_PREVIEW_BYTES} bytes")
    show.add_argument("--json", action="store_true")
    replay = commands.add_parser("replay", help="republish messages to where they were first published")
    replay.add_argument("queue")
    replay.add_argument("message_ids", nargs="*", metavar="MESSAGE_ID")
    replay.add_argument("--all", action="store_true", help="every message of the queue")
    replay.add_argument("--reason", metavar="TEXT", help="the messages whose reason contains TEXT")
    replay.add_argument("--dry-run", action="store_true", help="say what would be replayed, change nothing")
    purge = commands.add_parser("purge", help="delete every message of a dead-letter or unrouted queue")
    purge.add_argument("queue")
    purge.add_argument("--yes", action="store_true", help="do not ask")
    return parser


COMMANDS: dict[str, Callable[[Broker, argparse.Namespace, TextIO], int]] = {
    "list": command_list, "show": command_show, "replay": command_replay, "purge": command_purge,
}


def main(argv: Sequence[str] | None = None) -> int:
    """``cityline-dlq``; the exit status is returned (see the module's docstring)."""
    from cityline_common.settings import CommonSettings, load_settings_or_exit

    args = _parser().parse_args(argv)
    settings = load_settings_or_exit(CommonSettings)
    try:
        broker = Broker(settings.amqp_url)
    except pika.exceptions.AMQPError as exc:
        where = pika.URLParameters(settings.amqp_url)  # never the URL itself: it holds the password
        print(f"cannot reach RabbitMQ at {where.host}:{where.port} (vhost {where.virtual_host}): {exc!r}",
              file=sys.stderr)
        return 1
    try:
        return COMMANDS[args.command](broker, args, sys.stdout)
    except UsageError as exc:
        print(f"cityline-dlq: {exc}", file=sys.stderr)
        return 2
    finally:
        broker.close()


if __name__ == "__main__":
    raise SystemExit(main())
