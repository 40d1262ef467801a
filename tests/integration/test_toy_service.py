"""Adding a service touches its own folder: a toy service, registered through an entry point only,
is picked up by topology, definitions, migrations, the outbox relay, the status page and AsyncAPI
with no edit to libs/common."""

from __future__ import annotations

import json
import os
import textwrap
import uuid
from pathlib import Path

import pika
import pytest
from cityline_common.amqp.topology import CITY_EVENTS, declare_with_url, definitions
from cityline_common.db import SqlUnitOfWork, make_engine
from cityline_common.manifest import all_processes, registered_services
from sqlalchemy import text

from testsupport import drain, tap_queue, wait_until
from testsupport.processes import RunningProcess, free_port

pytestmark = pytest.mark.integration

TOY = {
    "toy_service/__init__.py": '"""A toy service: it exists only in this test."""\n',
    "toy_service/manifest.py": '''
        from cityline_common.amqp.topology import CITY_EVENTS
        from cityline_common.contracts import Contract, ContractInfo
        from cityline_common.manifest import Process, ServiceManifest, Subscription, schema_tables
        from segment_service.contracts import ResidentFollowed
        from sqlalchemy import Column, Integer, Table

        metadata, plumbing = schema_tables("toy")
        toys = Table("toys", metadata, Column("id", Integer, primary_key=True))


        class ToyMade(Contract):
            """A toy was made."""

            contract = ContractInfo("toy.ToyMade", 1, CITY_EVENTS, "toy.toy.made")
            toy_id: int


        MANIFEST = ServiceManifest(
            name="toy", schema="toy", metadata=metadata, plumbing=plumbing, migrations="toy_service:migrations",
            processes=(Process("toy-worker", "worker", ("toy-worker",), port=8099, label="おもちゃ"),),
            subscriptions=(Subscription("toy.resident-events", handles=(ResidentFollowed,)),),
            publishes=(ToyMade,),
        )
    ''',
    "toy_service/migrations/__init__.py": "",
    "toy_service/migrations/env.py": '''
        from cityline_common.migrations import run_env

        from toy_service.manifest import MANIFEST

        run_env(MANIFEST)
    ''',
    "toy_service/migrations/versions/0001_toys.py": '''
        import sqlalchemy as sa
        from alembic import op
        from cityline_common.migrations import create_plumbing_v1, drop_plumbing_v1

        revision = "0001"
        down_revision = None
        branch_labels = None
        depends_on = None


        def upgrade():
            create_plumbing_v1("toy")
            op.create_table("toys", sa.Column("id", sa.Integer, primary_key=True), schema="toy")


        def downgrade():
            op.drop_table("toys", schema="toy")
            drop_plumbing_v1("toy")
    ''',
    "toy_service-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: toy-service\nVersion: 0.1\n",
    "toy_service-0.1.dist-info/entry_points.txt": "[cityline.services]\ntoy = toy_service.manifest:MANIFEST\n",
}


@pytest.fixture
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service_env):
    for name, content in TOY.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content).lstrip(), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))  # the entry point is found like an installed package's
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    yield registered_services()["toy"]
    engine = make_engine(service_env["DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(text('DROP SCHEMA IF EXISTS "toy" CASCADE'))
    engine.dispose()


def test_a_toy_service_is_picked_up_everywhere_without_editing_libs_common(toy, service_env, amqp_url):
    # Topology and the chart's definitions: its queue, bound only to what its consumer handles.
    document = definitions()
    assert {"source": CITY_EVENTS, "destination": "toy.resident-events", "routing_key": "segment.resident.followed",
            "vhost": "/", "destination_type": "queue", "arguments": {}} in document["bindings"]
    assert "toy.resident-events.dlq" in {queue["name"] for queue in document["queues"]}
    declare_with_url(amqp_url)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        connection.channel().queue_declare("toy.resident-events", passive=True)  # exists, or this raises
    finally:
        connection.close()

    # Migrations: cityline-migrate knows it by name.
    migrate = RunningProcess("migrate-toy", ["cityline-migrate", "toy"], service_env).start()
    assert migrate.process is not None and migrate.process.wait(60) == 0, migrate.output()
    engine = make_engine(service_env["DATABASE_URL"])
    with engine.connect() as connection:
        assert connection.execute(text("SELECT to_regclass('toy.toys')")).scalar() is not None

    # The relay relays its outbox.
    manifest_module = __import__("toy_service.manifest", fromlist=["ToyMade"])
    with SqlUnitOfWork(engine, toy.plumbing) as uow:
        message_id = uow.emit(manifest_module.ToyMade(toy_id=7))
        uow.commit()
    engine.dispose()
    port = free_port()
    with tap_queue(amqp_url, CITY_EVENTS, "toy.#") as tap:
        relay = RunningProcess("relay-toy", ["cityline-outbox-relay", "toy", "--http-port", str(port)], service_env,
                               f"http://127.0.0.1:{port}/readyz")
        relay.start()
        try:
            [(method, properties, body)] = wait_until(lambda: drain(amqp_url, tap, timeout=0.3), message="ToyMade")
        finally:
            relay.stop()
    assert (method.routing_key, properties.type, properties.message_id) == ("toy.toy.made", "toy.ToyMade.v1",
                                                                            message_id)
    assert json.loads(body) == {"toyId": 7}

    # AsyncAPI documents what it publishes and consumes.
    from cityline_common.asyncapi import document as asyncapi

    described = asyncapi()
    assert described["channels"]["toyToyMadeV1"]["address"] == "toy.toy.made"
    assert any(op["action"] == "receive" and "toy.resident-events" in op.get("description", "")
               for op in described["operations"].values())

    # The status page asks it too.
    from admin_ui.bootstrap import status_targets

    assert "toy-worker" in {process.name for process in all_processes()}
    target = next(target for target in status_targets() if target.name == "toy-worker")
    assert (target.label, target.url) == ("おもちゃ", "http://127.0.0.1:8099")


def test_a_manifest_refuses_a_process_it_cannot_run():
    from cityline_common.manifest import Process

    with pytest.raises(ValueError, match="needs a port"):
        Process("nameless-worker", "worker", ("x",))
    with pytest.raises(ValueError, match="names its app factory"):
        Process("web-without-app", "web", port=1)
    with pytest.raises(ValueError, match="needs a schedule"):
        Process("cron-without-schedule", "cron", ("x",))
    assert Process(f"w-{uuid.uuid4().hex[:4]}", "web", port=1, app="a:b()").command[0] == "cityline-serve"
