"""LINE's official OpenAPI files, read at start-up: routes, request validators, response schemas.

Nothing is hand-copied: paths, operation ids and JSON schemas come from the yml files in
``shared/line-openapi``. Two OpenAPI 3.0 features JSON Schema lacks are translated once:
``discriminator`` (a Message of ``type: text`` must satisfy TextMessage) and ``nullable``.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml

SPEC_FILES = ("messaging-api.yml", "manage-audience.yml", "insight.yml")
_REF_PREFIX = "#/components/schemas/"


def find_openapi_dir(explicit: str | None = None) -> Path:
    """``LINE_OPENAPI_DIR``, else a ``shared/line-openapi`` beside an ancestor of the cwd or package."""
    candidates: list[Path] = []
    for value in (explicit, os.environ.get("LINE_OPENAPI_DIR")):
        if value:
            candidates.append(Path(value))
    for start in (Path.cwd(), Path(__file__).resolve()):
        for parent in (start, *start.parents):
            candidates.append(parent / "shared" / "line-openapi")
    for candidate in candidates:
        if (candidate / "messaging-api.yml").is_file():
            return candidate
    raise FileNotFoundError(
        "LINE's OpenAPI files were not found: set LINE_OPENAPI_DIR to the folder holding messaging-api.yml "
        "(the repository expects ../shared/line-openapi beside it)"
    )


@dataclass
class Operation:
    operation_id: str
    method: str
    path: str
    pattern: re.Pattern[str]
    literal_segments: int
    request_content_types: list[str]
    request_validator: Any | None
    response_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = ""

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path)
        return found.groupdict() if found else None


@dataclass
class Spec:
    directory: Path
    operations: list[Operation]
    documents: dict[str, dict[str, Any]]

    def route(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        for operation in self.operations:
            if operation.method == method:
                params = operation.match(path)
                if params is not None:
                    return operation, params
        return None

    def path_known(self, path: str) -> bool:
        return any(operation.match(path) is not None for operation in self.operations)

    def by_id(self, operation_id: str) -> Operation:
        for operation in self.operations:
            if operation.operation_id == operation_id:
                return operation
        raise KeyError(operation_id)

    def response_validator(self, operation_id: str, status: str) -> Any | None:
        operation = self.by_id(operation_id)
        schema = operation.response_schemas.get(status)
        if schema is None:
            return None
        return _validator(schema, self.documents[operation.source])


def load_spec(directory: Path) -> Spec:
    operations: list[Operation] = []
    documents: dict[str, dict[str, Any]] = {}
    for name in SPEC_FILES:
        raw = yaml.safe_load((directory / name).read_text(encoding="utf-8"))
        document = _json_schema_components(raw)
        documents[name] = document
        for path, item in raw.get("paths", {}).items():
            for method, operation in item.items():
                if method not in {"get", "post", "put", "delete"}:
                    continue
                content = (operation.get("requestBody") or {}).get("content") or {}
                json_schema = (content.get("application/json") or {}).get("schema")
                responses: dict[str, dict[str, Any]] = {}
                for status, response in (operation.get("responses") or {}).items():
                    schema = ((response.get("content") or {}).get("application/json") or {}).get("schema")
                    if schema is not None:
                        responses[str(status)] = schema
                operations.append(Operation(
                    operation_id=operation["operationId"],
                    method=method.upper(),
                    path=path,
                    pattern=_path_pattern(path),
                    literal_segments=sum(1 for part in path.split("/") if part and "{" not in part),
                    request_content_types=list(content),
                    request_validator=_validator(json_schema, document) if json_schema else None,
                    response_schemas=responses,
                    source=name,
                ))
    # Literal paths win over templated ones (/richmenu/list before /richmenu/{richMenuId}).
    operations.sort(key=lambda op: (-op.literal_segments, op.path))
    return Spec(directory=directory, operations=operations, documents=documents)


def _path_pattern(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", re.escape(path).replace(r"\{", "{").replace(r"\}", "}")))


def _validator(schema: dict[str, Any], document: dict[str, Any]) -> Any:
    root = {"components": document["components"], **copy.deepcopy(schema)}
    return jsonschema_rs.Draft7Validator(root)


def _json_schema_components(raw: dict[str, Any]) -> dict[str, Any]:
    """Translate the OpenAPI components into plain JSON Schema (Draft 7)."""
    schemas: dict[str, Any] = copy.deepcopy((raw.get("components") or {}).get("schemas") or {})
    for schema in _walk(schemas):
        if schema.get("nullable") is True and isinstance(schema.get("type"), str):
            schema["type"] = [schema["type"], "null"]
    with_discriminator = {
        name: schema for name, schema in schemas.items()
        if isinstance(schema, dict) and isinstance(schema.get("discriminator"), dict)
        and schema["discriminator"].get("mapping")
    }
    # Sub-schemas that extend a discriminated base point at the base without its dispatch,
    # otherwise "TextMessage allOf Message" would recurse back into the dispatch.
    for name in with_discriminator:
        base_name = f"{name}__base"
        base = copy.deepcopy(schemas[name])
        base.pop("discriminator", None)
        schemas[base_name] = base
        for schema in _walk(schemas):
            for part in schema.get("allOf", []) or []:
                if isinstance(part, dict) and part.get("$ref") == _REF_PREFIX + name:
                    part["$ref"] = _REF_PREFIX + base_name
    for name, original in with_discriminator.items():
        discriminator = original["discriminator"]
        prop = discriminator["propertyName"]
        mapping: dict[str, str] = discriminator["mapping"]
        dispatch: dict[str, Any] = {
            "allOf": [{"$ref": _REF_PREFIX + f"{name}__base"}],
            "properties": {prop: {"enum": sorted(mapping)}},
            "required": [prop],
        }
        for key, ref in mapping.items():
            dispatch["allOf"].append({
                "if": {"properties": {prop: {"const": key}}, "required": [prop]},
                "then": {"$ref": ref},
            })
        schemas[name] = dispatch
    return {"components": {"schemas": schemas}}


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def error_details(validator: Any, instance: Any, limit: int = 10) -> list[dict[str, str]]:
    """LINE-shaped error details: ``[{"message": …, "property": "messages[0].text"}]``."""
    details = []
    for error in validator.iter_errors(instance):
        message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
        details.append({"message": message, "property": _property(error.instance_path)})
        if len(details) >= limit:
            break
    return details


def _property(path: Any) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
