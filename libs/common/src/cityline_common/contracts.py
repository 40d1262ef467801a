"""Typed, versioned message contracts: one definition, used by the publisher and by the consumer.

A contract is a pydantic model naming one kind of message on the broker::

    class ResidentFollowed(Contract):
        contract = ContractInfo("segment.ResidentFollowed", 1, CITY_EVENTS, "segment.resident.followed")
        resident_id: UUID

* ``uow.emit(ResidentFollowed(...))`` derives the exchange, routing key, AMQP ``type``
  (``segment.ResidentFollowed.v1``) and the JSON payload (camelCase keys) from it.
* A consumer looks the AMQP ``type`` up among the contracts its queue handles; an unknown type or
  version, or a body that does not validate, is dead-lettered with the reason.
* Compatibility rule: a published version may only gain *optional* fields (consumers ignore fields
  they do not know, so a newer publisher never breaks an older consumer). Renaming, removing,
  retyping or making a field required is a new version: a new class with ``version + 1``, published
  beside the old one until every consumer handles it.

Messages name residents by their opaque resident id. Where a consumer must reach a resident on LINE,
the contract carries the LINE user id sealed (:func:`seal_line_user_id`), never in clear.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from string import Formatter
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from cityline_common.amqp.messages import OutboundMessage
from cityline_common.crypto import FieldCipher


class ContractViolation(ValueError):
    """A message does not match its contract (or names no contract we know)."""


@dataclass(frozen=True)
class ContractInfo:
    """Where a contract travels and under which name. ``routing_key`` may name fields: ``line.event.{event_type}``."""

    name: str
    version: int
    exchange: str
    routing_key: str
    # The routing key pattern consumers bind to when the key varies by field ("line.event.*").
    binding: str | None = None

    @property
    def message_type(self) -> str:
        return f"{self.name}.v{self.version}"

    @property
    def routing_pattern(self) -> str:
        if self.binding is not None:
            return self.binding
        if any(field for _, field, _, _ in Formatter().parse(self.routing_key)):
            raise ValueError(f"{self.name}: a routing key with fields needs an explicit binding pattern")
        return self.routing_key


class Contract(BaseModel):
    """Base of every message contract. Subclasses set ``contract`` and declare their fields."""

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True, extra="ignore")
    contract: ClassVar[ContractInfo]

    @classmethod
    def message_type(cls) -> str:
        return cls.contract.message_type

    def routing_key(self) -> str:
        return self.contract.routing_key.format(**dict(self))

    def payload(self) -> dict[str, Any]:
        """The JSON body as other systems see it (camelCase keys)."""
        document: dict[str, Any] = self.model_dump(mode="json", by_alias=True)
        return document

    def outbound(self, message_id: str, headers: dict[str, Any] | None = None) -> OutboundMessage:
        """This message as the publisher sends it (the outbox relay builds the same from a row)."""
        return OutboundMessage(
            exchange=self.contract.exchange, routing_key=self.routing_key(),
            body=json.dumps(self.payload(), ensure_ascii=False).encode(), message_id=message_id,
            type=self.message_type(), headers=headers or {},
        )

    @classmethod
    def parse(cls, body: bytes | str) -> Self:
        """Validate a body against this contract; :class:`ContractViolation` says what is wrong."""
        try:
            return cls.model_validate_json(body)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
                for error in exc.errors(include_url=False, include_input=False)
            )
            raise ContractViolation(f"{cls.message_type()} does not validate: {problems}") from None

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        schema: dict[str, Any] = cls.model_json_schema(by_alias=True, mode="serialization")
        return schema


class ContractCatalogue:
    """The contracts a consumer accepts, by AMQP ``type``."""

    def __init__(self, contracts: tuple[type[Contract], ...]) -> None:
        self._by_type: dict[str, type[Contract]] = {}
        for each in contracts:
            if each.message_type() in self._by_type:
                raise ValueError(f"contract {each.message_type()} is listed twice")
            self._by_type[each.message_type()] = each

    def decode(self, message_type: str, body: bytes) -> Contract:
        contract = self._by_type.get(message_type)
        if contract is None:
            known = ", ".join(sorted(self._by_type)) or "none"
            raise ContractViolation(f"unknown message type {message_type!r} (this consumer handles: {known})")
        return contract.parse(body)


# --- LINE user ids in transit ---------------------------------------------------------------------------

LINE_USER_ID_IN_TRANSIT = "transit.line_user_id"


def seal_line_user_id(cipher: FieldCipher, resident_id: uuid.UUID, line_user_id: str) -> str:
    """The LINE user id as a message may carry it: encrypted, and bound to the resident it names
    (a sealed id copied into a message about another resident does not open)."""
    return cipher.encrypt(line_user_id, f"{LINE_USER_ID_IN_TRANSIT}:{resident_id}")


def open_line_user_id(cipher: FieldCipher, resident_id: uuid.UUID, sealed: str) -> str:
    return cipher.decrypt(sealed, f"{LINE_USER_ID_IN_TRANSIT}:{resident_id}")
