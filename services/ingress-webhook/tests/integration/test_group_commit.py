"""Group commit against the real database and broker: concurrent requests share transactions, and
every event is still published once and only once."""

import json
import threading
import time
import uuid

import pytest
from cityline_common.amqp import ConfirmingPublisher
from cityline_common.amqp.topology import LINE_EVENTS
from cityline_common.settings import load_settings
from ingress_webhook.bootstrap import bootstrap
from ingress_webhook.config import Settings
from ingress_webhook.entrypoints.flask_app import create_app
from ingress_webhook.service_layer.unit_of_work import SqlIngressUnitOfWork
from prometheus_client import REGISTRY

from testsupport import drain, sign_webhook, tap_queue

pytestmark = pytest.mark.integration


@pytest.fixture
def service(service_env):
    settings = load_settings(Settings)
    publisher = ConfirmingPublisher(settings.amqp_url)
    publisher.start(wait=2.0)
    service = bootstrap(settings, publisher)
    yield service
    service.close()


@pytest.fixture
def tap(amqp_url):
    with tap_queue(amqp_url, LINE_EVENTS, prefix="group-commit-tap") as name:
        yield name


def follow(event_id: str, redelivery: bool = False) -> dict:
    return {"type": "follow", "mode": "active", "timestamp": int(time.time() * 1000), "webhookEventId": event_id,
            "deliveryContext": {"isRedelivery": redelivery}, "source": {"type": "user", "userId": "U" + "3" * 32}}


def batches() -> tuple[float, float]:
    return (REGISTRY.get_sample_value("cityline_webhook_batch_requests_count") or 0.0,
            REGISTRY.get_sample_value("cityline_webhook_batch_requests_sum") or 0.0)


def test_concurrent_requests_are_taken_together_and_each_event_once(service, tap, amqp_url):
    client = create_app(service).test_client()
    ids = [uuid.uuid4().hex[:26] for _ in range(12)]
    # Each event twice, in two requests racing each other (LINE's redelivery against its original).
    bodies = [json.dumps({"destination": "U" + "d" * 32, "events": [follow(each, redelivery=copy == 1)]}).encode()
              for each in ids for copy in (0, 1)]
    start = threading.Barrier(len(bodies))
    statuses: list[int] = []

    def post(body: bytes) -> None:
        start.wait()
        statuses.append(client.post("/callback", data=body, headers={"X-Line-Signature": sign_webhook(body)})
                        .status_code)

    count_before, sum_before = batches()
    threads = [threading.Thread(target=post, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert statuses == [200] * len(bodies)
    published = [props.message_id for _, props, _ in drain(amqp_url, tap)]
    assert sorted(published) == sorted(ids)  # each once: no loss, no duplicate
    count, total = batches()
    assert total - sum_before == len(bodies)
    assert count - count_before < len(bodies), "no two requests shared a transaction"


def test_a_released_claim_goes_to_the_transaction_waiting_for_it(service):
    """Without the spool, a batch gives back the claims of the requests it answers 503; a concurrent
    batch blocked on one of those rows then takes the event (LINE's redelivery is not lost)."""
    event_id = uuid.uuid4().hex[:26]
    taken_by_second: list[set[str]] = []
    second_waiting = threading.Event()

    def second() -> None:
        with SqlIngressUnitOfWork(service.engine) as uow:
            second_waiting.set()
            taken_by_second.append(uow.seen.claim([event_id]))  # waits on the first one's row lock
            uow.commit()

    with SqlIngressUnitOfWork(service.engine) as first:
        assert first.seen.claim([event_id]) == {event_id}
        waiter = threading.Thread(target=second)
        waiter.start()
        second_waiting.wait(5)
        time.sleep(0.3)  # let the second claim reach the row lock
        first.seen.release([event_id])
        first.commit()
    waiter.join(10)
    assert taken_by_second == [{event_id}]
