"""Wires ingress-webhook: one confirming publisher per worker process, created after fork."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from cityline_common.amqp import ConfirmingPublisher, OutboundMessage, PublishError

from ingress_webhook.config import Settings
from ingress_webhook.service_layer import handlers


@dataclass
class IngressService:
    settings: Settings
    publisher: ConfirmingPublisher

    def publish_all(self, messages: Sequence[OutboundMessage]) -> list[PublishError | None]:
        return self.publisher.publish_all(messages, timeout=self.settings.publish_timeout_seconds)

    def accept(self, body: bytes, signatures: list[str]) -> handlers.Result:
        secret = self.settings.line_channel_secret.get_secret_value().encode()
        return handlers.accept_webhook(body, signatures, secret, partial(IngressService.publish_all, self))


def bootstrap(settings: Settings, publisher: ConfirmingPublisher | None = None) -> IngressService:
    if publisher is None:
        publisher = ConfirmingPublisher(settings.amqp_url, name="ingress-webhook",
                                        heartbeat=settings.amqp_heartbeat_seconds)
        publisher.start(wait=5.0)
    return IngressService(settings=settings, publisher=publisher)
