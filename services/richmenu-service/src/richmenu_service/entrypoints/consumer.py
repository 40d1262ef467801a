"""``richmenu-consumer``: residents who follow or change their 受信設定 (segment-service's events) get the menu
the rules give them within seconds; ``richmenu.SwitchDisasterMode`` from other city systems switches
災害時モード (safe to send twice)."""

from __future__ import annotations

import argparse
import logging
import signal
from functools import partial

from cityline_common.amqp.consumer import Consumer, PoisonMessage, contract_handler
from cityline_common.contracts import Contract
from cityline_common.db import check_schema
from cityline_common.tracing import setup_tracing
from cityline_common.web import (
    ReadinessCheck,
    add_http_port_option,
    bootstrap_from_environment,
    serve_worker_endpoints,
)
from segment_service.contracts import PreferencesChanged, ResidentFollowed

from richmenu_service import contracts
from richmenu_service.bootstrap import RichmenuService, bootstrap
from richmenu_service.config import Settings
from richmenu_service.domain import commands as c
from richmenu_service.manifest import MANIFEST, RESIDENTS_QUEUE
from richmenu_service.service_layer.ports import RichmenuError
from richmenu_service.service_layer.unit_of_work import AbstractRichmenuUnitOfWork

log = logging.getLogger(__name__)
CONSUMER_NAME = "richmenu-service"
PROCESS = "richmenu-consumer"
SYSTEM_NAME_MAX = 40


def deliver(service: RichmenuService, contract: Contract, uow: AbstractRichmenuUnitOfWork) -> None:
    if isinstance(contract, ResidentFollowed | PreferencesChanged):
        cause = "followed" if isinstance(contract, ResidentFollowed) else "preferences"
        done = service.bus.dispatch(c.RelinkResident(contract.resident_id, cause), uow)
        log.info("resident's menu re-evaluated", extra={"resident": str(contract.resident_id), "cause": cause,
                                                        "outcome": done})
    elif isinstance(contract, contracts.SwitchDisasterMode):
        system = contract.requested_by.strip()[:SYSTEM_NAME_MAX]
        if not system:
            raise PoisonMessage("requestedBy: the system asking must be named")
        try:
            changed = service.bus.dispatch(c.SwitchDisasterMode(c.Actor(system, system=system), contract.on,
                                                                "broker", contract.menu_id, contract.reason), uow)
        except RichmenuError as exc:
            raise PoisonMessage(f"disaster mode not switched: {exc.reason}") from None
        log.warning("disaster mode switched from the broker" if changed else "disaster mode already so",
                    extra={"on": contract.on, "system": system})
    else:
        raise PoisonMessage(f"{contract.message_type()} is not for richmenu-service")


def build_consumer(service: RichmenuService) -> Consumer[AbstractRichmenuUnitOfWork]:
    subscription = MANIFEST.subscription(RESIDENTS_QUEUE)
    return Consumer(
        url=service.settings.amqp_url,
        queue=subscription.declaration(),
        name=CONSUMER_NAME,
        uow_factory=service.bus.uow_factory,
        handler=contract_handler(subscription.handles, partial(deliver, service)),
        prefetch=service.settings.amqp_prefetch,
        heartbeat=service.settings.amqp_heartbeat_seconds,
    )


def readiness(service: RichmenuService,
              consumer: Consumer[AbstractRichmenuUnitOfWork]) -> dict[str, ReadinessCheck]:
    return {"database": partial(check_schema, service.engine, MANIFEST.schema), "consuming": consumer.check_consuming}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Relink residents' rich menus as they follow or change preferences.")
    add_http_port_option(parser)
    args = parser.parse_args(argv)
    service = bootstrap_from_environment(PROCESS, Settings, bootstrap)
    setup_tracing(PROCESS)
    consumer = build_consumer(service)
    serve_worker_endpoints(PROCESS, readiness(service, consumer), args.http_port)
    signal.signal(signal.SIGTERM, lambda *_: consumer.stop())
    signal.signal(signal.SIGINT, lambda *_: consumer.stop())
    consumer.run()
