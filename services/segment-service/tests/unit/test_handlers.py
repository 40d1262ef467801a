"""segment-service's use cases as stories, run in memory through the message bus."""

import uuid

import pytest
from cityline_common.contracts import open_line_user_id, seal_line_user_id
from cityline_common.crypto import FieldCipher, generate_key
from cityline_common.line_events import LineWebhookEvent
from cityline_common.messagebus import MessageBus
from segment_service.adapters.in_memory import InMemorySegmentData
from segment_service.contracts import ResidentFollowed, ResidentUnfollowed, TaxonomyPublished
from segment_service.domain.commands import FollowResident, PublishTaxonomy, UnfollowResident
from segment_service.domain.taxonomy import InvalidTaxonomy
from segment_service.service_layer import views
from segment_service.service_layer.handlers import handlers

HANAKO = "U" + "a1" * 16
CIPHER = FieldCipher.from_spec(f"k1:{generate_key()}")


@pytest.fixture
def city():
    data = InMemorySegmentData()
    bus = MessageBus(data.uow, handlers(lambda resident_id, line_id: seal_line_user_id(CIPHER, resident_id, line_id)))
    return data, bus


def test_a_new_friend_is_recorded_and_announced_by_resident_id_with_the_line_id_sealed(city):
    data, bus = city
    bus.handle(FollowResident(HANAKO, 1000))

    [announced] = data.emitted()
    assert isinstance(announced, ResidentFollowed)
    assert announced.refollowed is False
    assert HANAKO not in str(announced.payload())
    assert open_line_user_id(CIPHER, announced.resident_id, announced.line_user_id_sealed) == HANAKO
    assert bus.query(views.resident_counts) == {"following": 1, "blocked": 0}


def test_a_friend_who_blocks_and_comes_back_is_announced_each_time_as_the_same_resident(city):
    data, bus = city
    bus.handle(FollowResident(HANAKO, 1000))
    bus.handle(UnfollowResident(HANAKO, 2000))
    bus.handle(FollowResident(HANAKO, 3000))

    followed, blocked, back = data.emitted()
    assert isinstance(blocked, ResidentUnfollowed) and isinstance(back, ResidentFollowed)
    assert followed.resident_id == blocked.resident_id == back.resident_id
    assert back.refollowed is True
    assert bus.query(views.resident_counts) == {"following": 1, "blocked": 0}


def test_a_block_we_hear_of_first_is_remembered_and_a_late_older_follow_changes_nothing(city):
    data, bus = city
    bus.handle(UnfollowResident(HANAKO, 5000))  # she followed before this system existed
    bus.handle(FollowResident(HANAKO, 4000))  # LINE delivered an older event late

    assert data.emitted() == []
    assert bus.query(views.resident_counts) == {"following": 0, "blocked": 1}


def test_publishing_the_same_taxonomy_twice_makes_one_version_and_one_event(city):
    data, bus = city
    document = {"municipality": {"code": "282073", "name": "伊丹市"},
                "categories": [{"key": "bousai", "label": "防災", "always_delivered": True}]}
    assert bus.handle(PublishTaxonomy(document)) == (1, True)
    assert bus.handle(PublishTaxonomy(document)) == (1, False)
    [published] = data.emitted()
    assert isinstance(published, TaxonomyPublished) and published.version == 1
    assert bus.query(views.current_taxonomy)["taxonomy"]["categories"][0]["key"] == "bousai"


def test_a_taxonomy_with_mistakes_changes_nothing(city):
    data, bus = city
    with pytest.raises(InvalidTaxonomy):
        bus.handle(PublishTaxonomy({"municipality": {"code": "1"}}))
    assert data.emitted() == [] and bus.query(views.current_taxonomy) is None


def test_a_sealed_line_event_from_ingress_becomes_a_follow(city):
    from segment_service.entrypoints.consumer import deliver_line_event

    data, bus = city
    event = {"type": "follow", "timestamp": 7, "source": {"type": "user", "userId": HANAKO}}
    message = LineWebhookEvent.seal(CIPHER, destination="U" + "0" * 32, webhook_event_id="01J", event_type="follow",
                                    is_redelivery=False, standby=False, event=event)
    service = type("Service", (), {"bus": bus, "cipher": CIPHER, "line": None})()  # no reply token: no answer
    with data.uow() as uow:
        deliver_line_event(service, LineWebhookEvent.parse(message.outbound("01J").body), uow)
        uow.commit()
    assert bus.query(views.resident_counts)["following"] == 1
    assert uuid.UUID(str(data.emitted()[0].resident_id))
