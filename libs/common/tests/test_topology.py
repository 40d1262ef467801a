from cityline_common.amqp.topology import DLX, EXCHANGES, definitions, registered_queues


def test_every_queue_is_quorum_with_a_delivery_limit_and_its_own_dlq():
    document = definitions()
    declared = {queue["name"]: queue for queue in document["queues"]}
    queues = registered_queues()
    assert queues  # segment-service's, at least
    for queue in queues:
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


def test_a_queue_is_bound_only_to_what_its_consumer_handles():
    bindings = {(b["destination"], b["source"], b["routing_key"]) for b in definitions()["bindings"]}
    segment = {(source, key) for destination, source, key in bindings if destination == "segment.line-events"}
    # Follows and blocks (residents), messages and postbacks (受信設定 in the chat): nothing else.
    assert segment == {("line.events", f"line.event.{kind}") for kind in ("follow", "unfollow", "message", "postback")}
    # No queue waits for a consumer that does not exist.
    assert {queue.name for queue in registered_queues()} == {"segment.line-events", "dispatcher.send-jobs",
                                                             "richmenu.residents", "admin.city-events"}
    menus = {(source, key) for destination, source, key in bindings if destination == "richmenu.residents"}
    assert menus == {("city.events", "segment.resident.followed"),
                     ("city.events", "segment.resident.preferences-changed"),
                     ("city.commands", "richmenu.disaster-mode.switch")}
    audit = {(source, key) for destination, source, key in bindings if destination == "admin.city-events"}
    assert audit == {("city.events", "richmenu.disaster-mode.switched")}
    jobs = {(source, key) for destination, source, key in bindings if destination == "dispatcher.send-jobs"}
    assert jobs == {("city.commands", "dispatcher.send-job")}
    (send_jobs,) = (q for q in registered_queues() if q.name == "dispatcher.send-jobs")
    assert send_jobs.arguments()["x-single-active-consumer"] is True  # one channel budget, one consumer
