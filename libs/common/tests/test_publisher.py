import uuid

import pika
import pytest
from cityline_common.amqp import BrokerUnavailable, ConfirmingPublisher, OutboundMessage, PublishUnroutable
from cityline_common.amqp.topology import declare_with_url

from testsupport import wait_until

pytestmark = pytest.mark.integration


def message(exchange: str, routing_key: str) -> OutboundMessage:
    return OutboundMessage(exchange=exchange, routing_key=routing_key, body=b"{}",
                           message_id=str(uuid.uuid4()), type="test")


def test_confirmed_publish_lands_persistent_with_ids(amqp_url):
    declare_with_url(amqp_url)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.queue_declare("publisher-test", durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind("publisher-test", "city.events", "publisher.test")
    publisher = ConfirmingPublisher(amqp_url)
    assert publisher.start()
    try:
        sent = message("city.events", "publisher.test")
        publisher.publish_and_wait(sent)
        method, properties, body = channel.basic_get("publisher-test", auto_ack=True)
        assert method is not None and body == b"{}"
        assert properties.message_id == sent.message_id
        assert properties.delivery_mode == 2
        # Many concurrent publishes share confirms; all of them resolve.
        results = publisher.publish_all([message("city.events", "publisher.test") for _ in range(500)], timeout=10)
        assert results == [None] * 500
    finally:
        publisher.close()
        channel.queue_delete("publisher-test")
        connection.close()


def test_unroutable_message_is_an_error_not_a_silent_drop(amqp_url):
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    connection.channel().exchange_declare("no-alternate", "topic", durable=False, auto_delete=True)
    publisher = ConfirmingPublisher(amqp_url)
    assert publisher.start()
    try:
        with pytest.raises(PublishUnroutable):
            publisher.publish_and_wait(message("no-alternate", "nobody.listens"))
        # The publisher stays usable afterwards.
        with pytest.raises(PublishUnroutable):
            publisher.publish_and_wait(message("no-alternate", "still.nobody"))
    finally:
        publisher.close()
        connection.close()


def test_unknown_exchange_fails_and_the_publisher_recovers(amqp_url):
    declare_with_url(amqp_url)
    publisher = ConfirmingPublisher(amqp_url)
    assert publisher.start()
    try:
        with pytest.raises(BrokerUnavailable):
            publisher.publish_and_wait(message("does-not-exist", "x"))
        wait_until(lambda: publisher.ready, message="publisher reconnect")
        publisher.publish_and_wait(message("city.events", "anything"))  # to the alternate exchange
    finally:
        publisher.close()


def test_no_broker_fails_fast():
    publisher = ConfirmingPublisher("amqp://guest:guest@127.0.0.1:1/%2F")
    assert not publisher.start(wait=0.5)
    with pytest.raises(BrokerUnavailable):
        publisher.publish_and_wait(message("city.events", "x"), timeout=0.5)
    publisher.close()
