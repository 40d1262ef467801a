"""RabbitMQ plumbing: topology, a confirming publisher and a consumer base."""

from cityline_common.amqp.messages import InboundMessage, OutboundMessage
from cityline_common.amqp.publisher import (
    BrokerUnavailable,
    ConfirmingPublisher,
    PublishError,
    PublishNacked,
    PublishUnroutable,
)

__all__ = [
    "BrokerUnavailable",
    "ConfirmingPublisher",
    "InboundMessage",
    "OutboundMessage",
    "PublishError",
    "PublishNacked",
    "PublishUnroutable",
]
