"""docs/asyncapi.yaml: valid AsyncAPI 3.0.0 (checked against the official JSON Schema, @asyncapi/specs
from package.json), generated from the registry and not stale, and covering every contract in flight."""

from __future__ import annotations

import copy
import enum
import json
import uuid
from typing import Any, Literal

import pytest
import yaml
from cityline_common import asyncapi
from cityline_common.amqp.topology import CITY_EVENTS, LINE_EVENTS
from cityline_common.contracts import Contract, ContractInfo
from cityline_common.manifest import ServiceManifest, Subscription, contract_uses, schema_tables
from jsonschema import validators
from jsonschema.exceptions import best_match
from pydantic import BaseModel

from testsupport import ROOT

OFFICIAL_SCHEMA = ROOT / "node_modules" / "@asyncapi" / "specs" / "schemas" / "3.0.0-without-$id.json"
DOCUMENT = ROOT / "docs" / "asyncapi.yaml"
REGENERATE = "run `cityline-contracts asyncapi` (from the repository root) and commit docs/asyncapi.yaml"


def _asyncapi_errors(document: dict[str, Any]) -> list[str]:
    """What the official AsyncAPI 3.0.0 JSON Schema finds wrong with ``document``."""
    if not OFFICIAL_SCHEMA.exists():
        pytest.fail(f"{OFFICIAL_SCHEMA.relative_to(ROOT)} is missing: run `make install` (npm ci installs it)")
    schema = json.loads(OFFICIAL_SCHEMA.read_text(encoding="utf-8"))
    validator = validators.validator_for(schema)  # draft-07, as the schema's $schema says
    validator.check_schema(schema)
    errors = sorted(validator(schema).iter_errors(document), key=lambda error: list(error.absolute_path))
    return [
        f"/{'/'.join(str(part) for part in error.absolute_path)}: "
        f"{(best_match(error.context) if error.context else error).message[:300]}"
        for error in errors
    ]


def _unresolved_refs(document: dict[str, Any]) -> list[str]:
    """Every ``$ref`` that does not point at a node of the document (the JSON Schema cannot tell)."""
    unresolved = []

    def resolves(pointer: str) -> bool:
        node: Any = document
        for escaped in pointer.removeprefix("#/").split("/"):
            part = escaped.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and not (ref.startswith("#/") and resolves(ref)):
                unresolved.append(ref)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    return unresolved


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi.document()


def test_the_document_is_valid_asyncapi_3(document):
    assert document["asyncapi"] == "3.0.0"
    errors = _asyncapi_errors(document)
    assert not errors, "asyncapi.document() is not valid AsyncAPI 3.0.0:\n" + "\n".join(errors[:20])
    assert not _unresolved_refs(document)


def test_docs_asyncapi_yaml_is_not_stale(document):
    assert DOCUMENT.exists(), f"{DOCUMENT.relative_to(ROOT)} is missing: {REGENERATE}"
    written = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    assert written == document, f"{DOCUMENT.relative_to(ROOT)} is stale: {REGENERATE}"


def _check_covers(document: dict[str, Any], services: dict[str, ServiceManifest] | None = None) -> None:
    uses = contract_uses(services)
    operations = document["operations"]
    for message_type, use in uses.items():
        identifier = asyncapi.channel_id(message_type)
        assert identifier in document["channels"], f"{message_type} has no channel"
        channel = document["channels"][identifier]
        message = channel["messages"][identifier]
        payload, components = asyncapi.payload_schema(use.contract)
        assert message["payload"] == payload, f"{message_type}: the payload is not the contract's JSON Schema"
        for name, schema in components.items():
            assert document["components"]["schemas"].get(name) == schema, f"{message_type}: {name} differs"
        plain = use.contract.json_schema()
        assert set(payload.get("properties", {})) == set(plain.get("properties", {}))
        assert payload.get("required") == plain.get("required")
        assert message["name"] == message_type
        assert message["bindings"]["amqp"]["messageType"] == message_type
        assert channel["bindings"]["amqp"]["exchange"]["name"] == use.contract.contract.exchange

        on_channel = [op for op in operations.values() if op["channel"] == {"$ref": f"#/channels/{identifier}"}]
        senders = {op["tags"][0]["$ref"].rsplit("/", 1)[1] for op in on_channel if op["action"] == "send"}
        assert senders == set(use.publishers), f"{message_type}: publishers {senders} != {set(use.publishers)}"
        queues = {(op["tags"][0]["$ref"].rsplit("/", 1)[1], op["x-amqp-queue"]["name"])
                  for op in on_channel if op["action"] == "receive"}
        assert queues == set(use.consumers), f"{message_type}: consumer queues {queues} != {set(use.consumers)}"
        for service, queue in use.consumers:
            assert any(f"`{queue}`" in op.get("description", "") for op in on_channel), f"{service}: {queue} unnamed"
    assert set(document["channels"]) == {asyncapi.channel_id(message_type) for message_type in uses}


def test_every_contract_in_flight_has_its_channel_and_operations(document):
    _check_covers(document)


# --- the generator itself, on contracts that use what the real ones may not (yet) ---------------------


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


class Line(BaseModel):
    """A nested model: its schema goes to components/schemas."""

    label: str
    pair: tuple[int, str] | None = None


class Tree(BaseModel):
    name: str
    children: list[Tree] = []


class Envelope(Contract):
    """An event routed by one of its fields.

    A second paragraph."""

    contract = ContractInfo("test.Envelope", 1, LINE_EVENTS, "line.event.{event_type}", binding="line.event.*")
    event_type: str
    mode: Literal["active", "standby"]


class Painted(Contract):
    """Something was painted."""

    contract = ContractInfo("test.Painted", 2, CITY_EVENTS, "test.painted.{colour}", binding="test.painted.*")
    thing_id: uuid.UUID
    colour: Colour
    note: str | None = None
    lines: tuple[Line, ...] = ()
    tree: Tree | None = None


def _fake_services() -> dict[str, ServiceManifest]:
    def manifest(name: str, **kwargs: Any) -> ServiceManifest:
        return ServiceManifest(name, name.replace("-", "_"), *schema_tables(name.replace("-", "_")), "x:y", **kwargs)

    return {
        "gateway": manifest("gateway", publishes=(Envelope,), description="Receives the webhooks."),
        "painter": manifest("painter", publishes=(Painted,), subscriptions=(
            Subscription("painter.events", (Envelope,)),
        )),
        "viewer": manifest("viewer", subscriptions=(
            Subscription("viewer.paint", (Painted,), delivery_limit=3),
            Subscription("viewer.paint-audit", (Painted, Envelope)),
        )),
    }


def test_the_generator_handles_parameters_nested_models_and_several_queues(monkeypatch, tmp_path, capsys):
    services = _fake_services()
    document = asyncapi.document(services)
    errors = _asyncapi_errors(document)
    assert not errors, "\n".join(errors[:20])
    assert not _unresolved_refs(document)
    _check_covers(document, services)

    envelope = document["channels"]["testEnvelopeV1"]
    assert envelope["address"] == "line.event.{eventType}"
    assert envelope["parameters"]["eventType"]["location"] == "$message.payload#/eventType"
    assert envelope["messages"]["testEnvelopeV1"]["summary"] == "An event routed by one of its fields."
    painted = document["channels"]["testPaintedV2"]
    assert painted["parameters"]["colour"]["enum"] == ["red", "blue"]
    assert "$defs" not in json.dumps(document)
    assert "test.Painted.v2.Tree" in document["components"]["schemas"]
    assert set(document["operations"]) >= {
        "gatewayPublishesTestEnvelopeV1", "painterReceivesTestEnvelopeV1", "viewerReceivesTestPaintedV2FromViewerPaint",
    }

    # The official schema does catch a mistake (an AMQP message binding has no deliveryMode).
    broken = copy.deepcopy(document)
    broken["channels"]["testPaintedV2"]["messages"]["testPaintedV2"]["bindings"]["amqp"]["deliveryMode"] = 2
    assert _asyncapi_errors(broken)

    # The command writes the YAML; --check passes on it and fails once it is edited.
    monkeypatch.setattr(asyncapi, "registered_services", lambda: services)
    output = tmp_path / "asyncapi.yaml"
    asyncapi.main(["asyncapi", "--output", str(output)])
    text = output.read_text(encoding="utf-8")
    assert text.startswith("# Generated by `cityline-contracts asyncapi`; do not edit.")
    assert yaml.safe_load(text) == document
    assert text == asyncapi.render(services)
    asyncapi.main(["asyncapi", "--check", "--output", str(output)])
    output.write_text(text.replace("version: 1.0.0", "version: 1.0.1"), encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        asyncapi.main(["asyncapi", "--check", "--output", str(output)])
    assert exited.value.code == 1
    assert "is stale: run `cityline-contracts asyncapi --output" in capsys.readouterr().err
