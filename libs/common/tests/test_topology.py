from cityline_common.amqp.topology import DLX, EXCHANGES, QUEUES, definitions


def test_every_queue_is_quorum_with_a_delivery_limit_and_its_own_dlq():
    document = definitions()
    declared = {queue["name"]: queue for queue in document["queues"]}
    for queue in QUEUES:
        args = declared[queue.name]["arguments"]
        assert args["x-queue-type"] == "quorum"
        assert args["x-delivery-limit"] >= 1
        assert args["x-dead-letter-exchange"] == DLX
        assert args["x-dead-letter-routing-key"] == queue.name
        assert queue.dlq in declared
        assert {"source": DLX, "destination": queue.dlq, "routing_key": queue.name}.items() <= next(
            b for b in document["bindings"] if b["destination"] == queue.dlq
        ).items()


def test_topic_exchanges_keep_what_nobody_routes():
    document = definitions()
    by_name = {exchange["name"]: exchange for exchange in document["exchanges"]}
    for exchange in EXCHANGES:
        if exchange.keeps_unrouted:
            assert by_name[exchange.name]["arguments"]["alternate-exchange"] == exchange.unrouted
            assert exchange.unrouted in {queue["name"] for queue in document["queues"]}
