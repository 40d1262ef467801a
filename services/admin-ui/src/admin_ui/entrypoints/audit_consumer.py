"""``admin-ui-audit-consumer``: puts into the 操作ログ what other systems did without the console (災害時モード
switched through the broker or the CLI), from richmenu-service's ``DisasterModeSwitched`` events."""

from __future__ import annotations

import argparse
import signal
from functools import partial

from cityline_common.amqp.consumer import Consumer, PoisonMessage, contract_handler
from cityline_common.contracts import Contract
from cityline_common.crypto import FieldCipher
from cityline_common.db import check_schema, make_engine
from cityline_common.logging import configure_logging
from cityline_common.messagebus import MessageBus
from cityline_common.settings import load_settings_or_exit
from cityline_common.tracing import setup_tracing
from cityline_common.web import add_http_port_option, serve_worker_endpoints
from richmenu_service.contracts import DisasterModeSwitched
from sqlalchemy import Engine

from admin_ui.config import HousekeepingSettings
from admin_ui.manifest import CITY_EVENTS_QUEUE, MANIFEST
from admin_ui.service_layer import city_events
from admin_ui.service_layer.unit_of_work import AbstractAdminUnitOfWork, SqlAdminUnitOfWork

PROCESS = "admin-audit-consumer"


def deliver(bus: MessageBus[AbstractAdminUnitOfWork], contract: Contract, uow: AbstractAdminUnitOfWork) -> None:
    if not isinstance(contract, DisasterModeSwitched):
        raise PoisonMessage(f"{contract.message_type()} is not for the 操作ログ")
    bus.dispatch(city_events.RecordDisasterSwitch(contract.on, contract.actor, contract.via, contract.menu_id,
                                                  contract.change_id, contract.reason), uow)


def build_consumer(settings: HousekeepingSettings, engine: Engine) -> Consumer[AbstractAdminUnitOfWork]:
    cipher = FieldCipher.from_spec(settings.field_encryption_keys.get_secret_value())
    bus = MessageBus(partial(SqlAdminUnitOfWork, engine, cipher), city_events.handlers())
    subscription = MANIFEST.subscription(CITY_EVENTS_QUEUE)
    return Consumer(url=settings.amqp_url, queue=subscription.declaration(), name="admin-ui",
                    uow_factory=bus.uow_factory, handler=contract_handler(subscription.handles, partial(deliver, bus)),
                    prefetch=settings.amqp_prefetch, heartbeat=settings.amqp_heartbeat_seconds)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_http_port_option(parser)
    args = parser.parse_args(argv)
    settings = load_settings_or_exit(HousekeepingSettings)
    configure_logging(PROCESS, settings)
    setup_tracing(PROCESS)
    engine = make_engine(settings.database_url, pool_size=2)
    consumer = build_consumer(settings, engine)

    serve_worker_endpoints(PROCESS, {"database": partial(check_schema, engine, MANIFEST.schema),
                                     "consuming": consumer.check_consuming}, args.http_port)
    signal.signal(signal.SIGTERM, lambda *_: consumer.stop())
    signal.signal(signal.SIGINT, lambda *_: consumer.stop())
    consumer.run()
