import pytest
from cityline_common.amqp.consumer import PoisonMessage
from segment_service.domain.commands import FollowResident, UnfollowResident
from segment_service.entrypoints.line_events import to_command

USER = "U" + "ab" * 16


def test_follow_and_unfollow_become_commands():
    follow = {"type": "follow", "timestamp": 7, "source": {"type": "user", "userId": USER}, "follow": {}}
    assert to_command(follow) == FollowResident(USER, 7)
    unfollow = {"type": "unfollow", "timestamp": 8, "source": {"type": "user", "userId": USER}}
    assert to_command(unfollow) == UnfollowResident(USER, 8)


def test_other_events_are_not_ours():
    assert to_command({"type": "beacon", "timestamp": 1}) is None


@pytest.mark.parametrize(
    "body",
    [
        {"type": "follow", "timestamp": 1},
        {"type": "unfollow", "timestamp": 1, "source": "U1"},
        {"type": "follow", "timestamp": 1, "source": {"type": "group", "groupId": "C1"}},
        {"type": "follow", "timestamp": "1", "source": {"type": "user", "userId": USER}},
        {"type": "follow", "timestamp": True, "source": {"type": "user", "userId": USER}},
        {"type": "follow", "timestamp": 1, "source": {"type": "user", "userId": "U1"}},
    ],
)
def test_malformed_events_are_poison(body):
    with pytest.raises(PoisonMessage):
        to_command(body)
