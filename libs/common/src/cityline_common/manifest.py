"""What each service declares about itself, and the registry that reads those declarations.

A service registers one :class:`ServiceManifest` under the ``cityline.services`` entry-point group
(in its own ``pyproject.toml``). The platform's tools read the registry and never name a service:

* ``cityline-migrate`` upgrades every manifest's schema; the outbox relay relays every outbox;
* ``cityline-topology`` (and ``--definitions`` for the chart) declares every manifest's queues, each
  bound only to the routing keys of the contracts its consumer handles;
* ``cityline-serve NAME`` runs a web process under gunicorn with the settings its manifest gives;
* admin-ui's status page (システム状態) probes every process that has a label;
* ``cityline-contracts asyncapi`` writes docs/asyncapi.yaml from the contracts manifests publish
  and consume;
* ``cityline-keys`` reports and rotates the keys of every manifest's encrypted columns.

The Procfile, the Helm chart's ``components``, ``.env.example`` and the container image are checked
against the registry by tests/packaging, so adding a service means its own folder plus those lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Literal

from sqlalchemy import MetaData, Table

from cityline_common.amqp.topology import Binding, Queue
from cityline_common.contracts import Contract
from cityline_common.db import PlumbingTables, plumbing_tables

ENTRY_POINT_GROUP = "cityline.services"

ProcessKind = Literal["web", "worker", "cron"]


@dataclass(frozen=True)
class Process:
    """One process of the platform: a line of the Procfile and a component of the Helm chart.

    ``web`` processes are Flask apps under gunicorn (``app`` names the factory) listening on
    ``$<NAME>_PORT``; ``worker`` processes serve /healthz, /readyz and /metrics on ``--http-port``;
    ``cron`` processes run to completion (a loop locally, one pass per CronJob run in a cluster).
    """

    name: str  # kebab-case: the Procfile name; the chart's component is its camelCase
    kind: ProcessKind
    command: tuple[str, ...] = ()  # web processes: always ``cityline-serve NAME``
    port: int | None = None
    label: str | None = None  # 画面表示名 on admin-ui's status page; None: not shown
    app: str | None = None  # web: "package.entrypoints.flask_app:create_app()"
    workers: int = 2
    threads: int = 4
    schedule: str | None = None  # cron: when the chart's CronJob runs it

    def __post_init__(self) -> None:
        if self.kind in ("web", "worker") and self.port is None:
            raise ValueError(f"process {self.name}: a {self.kind} process needs a port")
        if self.kind == "web" and self.app is None:
            raise ValueError(f"process {self.name}: a web process names its app factory")
        if self.kind == "cron" and self.schedule is None:
            raise ValueError(f"process {self.name}: a cron process needs a schedule")
        if self.kind == "web":
            object.__setattr__(self, "command", ("cityline-serve", self.name))
        elif not self.command:
            raise ValueError(f"process {self.name}: a {self.kind} process names its command")

    @property
    def env_prefix(self) -> str:
        return self.name.upper().replace("-", "_")

    @property
    def port_env(self) -> str:
        """Where a web process reads its port, and the Procfile's default for a worker's --http-port."""
        return f"{self.env_prefix}_PORT"

    @property
    def url_env(self) -> str:
        """Where callers (admin-ui's status page, internal API clients) find it."""
        return f"{self.env_prefix}_URL"


@dataclass(frozen=True)
class Subscription:
    """A queue this service consumes, and the contracts its consumer handles there."""

    queue: str
    handles: tuple[type[Contract], ...]
    # Narrower than the contracts' own patterns: only these keys (e.g. two of LINE's event types).
    routing_keys: tuple[str, ...] = ()
    delivery_limit: int = 10
    single_active_consumer: bool = False  # one consumer at a time; the others take over if it goes

    def declaration(self) -> Queue:
        bindings = tuple(dict.fromkeys(
            Binding(contract.contract.exchange, key)
            for contract in self.handles
            for key in (self.routing_keys or (contract.contract.routing_pattern,))
        ))
        return Queue(self.queue, bindings, delivery_limit=self.delivery_limit,
                     single_active_consumer=self.single_active_consumer)


@dataclass(frozen=True)
class EncryptedColumn:
    """A column of the service's own tables holding field-encryption tokens (personal data).

    Each token is bound to its row: sealed with :meth:`~cityline_common.crypto.FieldCipher.encrypt_for_row`
    under ``context`` and the value of ``id_column``. When the column is looked up by equality, its
    blind index lives in ``blind_index_column`` (``<kid>:<hex>``, computed for ``blind_index_purpose``).
    ``cityline-keys`` reads these declarations to report and rotate keys without naming a service.
    """

    table: str
    column: str  # the ciphertext column
    context: str  # the column context, e.g. "segment.residents.line_user_id"
    id_column: str = "id"
    blind_index_column: str | None = None
    blind_index_purpose: str | None = None

    def __post_init__(self) -> None:
        if (self.blind_index_column is None) != (self.blind_index_purpose is None):
            raise ValueError(f"encrypted column {self.name}: a blind index needs both its column and its purpose")

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"


@dataclass(frozen=True)
class ServiceManifest:
    name: str
    schema: str
    metadata: MetaData
    plumbing: PlumbingTables
    migrations: str  # Alembic script location, "package:directory"
    processes: tuple[Process, ...] = ()
    subscriptions: tuple[Subscription, ...] = ()
    publishes: tuple[type[Contract], ...] = ()
    description: str = ""
    # Personal data stored encrypted (read by ``cityline-keys status`` / ``rotate``).
    encrypted_columns: tuple[EncryptedColumn, ...] = ()

    def __post_init__(self) -> None:
        for each in self.encrypted_columns:
            self.encrypted_table(each)  # every declared table and column exists

    def encrypted_table(self, column: EncryptedColumn) -> Table:
        """The table holding ``column``, checked against the declaration."""
        table = self.metadata.tables.get(f"{self.schema}.{column.table}")
        if table is None:
            raise ValueError(f"{self.name}: encrypted column {column.name}: no table {column.table!r} "
                             f"in schema {self.schema!r}")
        named = (column.id_column, column.column, column.blind_index_column)
        missing = [name for name in named if name is not None and name not in table.c]
        if missing:
            raise ValueError(f"{self.name}: encrypted column {column.name}: table {column.table!r} has no "
                             f"column {', '.join(repr(name) for name in missing)}")
        return table

    def queues(self) -> tuple[Queue, ...]:
        return tuple(subscription.declaration() for subscription in self.subscriptions)

    def subscription(self, queue: str) -> Subscription:
        for each in self.subscriptions:
            if each.queue == queue:
                return each
        raise KeyError(f"{self.name} declares no queue {queue!r}")


def schema_tables(schema: str) -> tuple[MetaData, PlumbingTables]:
    """A service's ``MetaData`` in its own schema, with the outbox and processed-message tables."""
    metadata = MetaData(schema=schema)
    return metadata, plumbing_tables(metadata)


# Processes of the platform itself rather than of one service.
PLATFORM_PROCESSES: tuple[Process, ...] = (
    Process("outbox-relay", "worker", ("cityline-outbox-relay",), port=8010, label="サービス間の送信中継"),
)


def registered_services() -> dict[str, ServiceManifest]:
    found: dict[str, ServiceManifest] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        manifest = entry.load()
        if not isinstance(manifest, ServiceManifest):
            raise TypeError(f"entry point {entry.name} does not name a ServiceManifest")
        if manifest.name in found:
            raise ValueError(f"two installed packages register the service {manifest.name!r}")
        found[manifest.name] = manifest
    return found


def all_processes(services: dict[str, ServiceManifest] | None = None) -> tuple[Process, ...]:
    services = registered_services() if services is None else services
    processes = [*PLATFORM_PROCESSES]
    for name in sorted(services):
        processes.extend(services[name].processes)
    names = [process.name for process in processes]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ValueError(f"process names used twice: {', '.join(duplicated)}")
    return tuple(processes)


def process(name: str) -> Process:
    for each in all_processes():
        if each.name == name:
            return each
    raise KeyError(name)


def all_queues(services: dict[str, ServiceManifest] | None = None) -> tuple[Queue, ...]:
    services = registered_services() if services is None else services
    return tuple(queue for name in sorted(services) for queue in services[name].queues())


@dataclass(frozen=True)
class ContractUse:
    contract: type[Contract]
    publishers: tuple[str, ...] = field(default=())
    consumers: tuple[tuple[str, str], ...] = field(default=())  # (service, queue)


def contract_uses(services: dict[str, ServiceManifest] | None = None) -> dict[str, ContractUse]:
    """Every contract in flight, by message type, with who publishes and who consumes it."""
    services = registered_services() if services is None else services
    uses: dict[str, ContractUse] = {}

    def use(contract: type[Contract]) -> ContractUse:
        known = uses.get(contract.message_type())
        if known is not None and known.contract is not contract:
            raise ValueError(f"two classes define the contract {contract.message_type()}")
        return known or ContractUse(contract)

    for name in sorted(services):
        manifest = services[name]
        for contract in manifest.publishes:
            current = use(contract)
            uses[contract.message_type()] = ContractUse(contract, (*current.publishers, name), current.consumers)
        for subscription in manifest.subscriptions:
            for contract in subscription.handles:
                current = use(contract)
                uses[contract.message_type()] = ContractUse(
                    contract, current.publishers, (*current.consumers, (name, subscription.queue)))
    return uses
