"""Structured JSON logging with trace ids; LINE identifiers never reach a log line in clear.

Personal data rule: log records are passed through :func:`redact`, which replaces LINE user, group
and room ids with a short tag: HMAC-SHA256 under ``LOG_TAG_KEY``, so the same id gives the same tag
in every process sharing the key (an SRE can follow one resident through the logs) while nobody
without the key can recompute a tag from an id they hold. Without a configured key each process
draws a random one (tags then only match within that process). Free text from residents must never
be passed to a logger at all; handlers log lengths and ids instead.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

from cityline_common.line_ids import LINE_ID
from cityline_common.settings import CommonSettings

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_tag_key = os.urandom(32)


def set_tag_key(key: bytes | None) -> None:
    """Key the resident tags (``None``: a random key of this process)."""
    global _tag_key
    _tag_key = key if key else os.urandom(32)


def _tag(match: re.Match[str]) -> str:
    digest = hmac.new(_tag_key, match.group(0).encode(), hashlib.sha256).hexdigest()[:12]
    return f"{match.group(1)}#{digest}"


def redact(value: Any) -> Any:
    """Replace LINE ids inside strings (recursively in dicts and lists) with keyed tags."""
    if isinstance(value, str):
        return LINE_ID.sub(_tag, value)
    if isinstance(value, dict):
        return {key: redact(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            entry["trace_id"] = format(span_context.trace_id, "032x")
            entry["span_id"] = format(span_context.span_id, "016x")
        for key, item in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = redact(item)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return str(redact(super().format(record)))


def configure_logging(service: str, settings: CommonSettings) -> None:
    """Install one stderr handler on the root logger; safe to call more than once."""
    level, fmt = settings.log_level, settings.log_format
    set_tag_key(settings.log_tag_key.get_secret_value().encode() if settings.log_tag_key else None)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # pika is chatty at INFO about every connection step; its warnings still come through.
    logging.getLogger("pika").setLevel(logging.WARNING)
