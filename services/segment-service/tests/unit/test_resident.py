import pytest
from segment_service.domain.events import ResidentFollowed, ResidentUnfollowed
from segment_service.domain.model import (
    InvalidLineUserId,
    Resident,
    ResidentStatus,
    blocked_before_first_follow,
)

USER = "U" + "0123456789abcdef" * 2


def test_first_follow_raises_followed():
    resident = Resident.first_follow(USER, 1000)
    assert resident.status is ResidentStatus.FOLLOWING
    assert resident.events == [ResidentFollowed(resident.id, USER, 1000, refollowed=False)]


def test_block_then_refollow():
    resident = Resident.first_follow(USER, 1000)
    resident.events.clear()
    resident.unfollow(2000)
    resident.follow(3000)
    assert resident.status is ResidentStatus.FOLLOWING
    assert resident.events == [
        ResidentUnfollowed(resident.id, USER, 2000),
        ResidentFollowed(resident.id, USER, 3000, refollowed=True),
    ]


def test_an_older_event_arriving_late_changes_nothing():
    resident = Resident.first_follow(USER, 1000)
    resident.unfollow(3000)
    resident.events.clear()
    resident.follow(2000)  # happened before the block; LINE delivered it late
    assert resident.status is ResidentStatus.BLOCKED
    assert resident.events == []


def test_repeated_events_are_no_ops():
    resident = Resident.first_follow(USER, 1000)
    resident.events.clear()
    resident.follow(1500)
    assert resident.events == []


def test_unfollow_before_any_follow_is_remembered():
    resident = blocked_before_first_follow(USER, 5000)
    resident.follow(4000)
    assert resident.status is ResidentStatus.BLOCKED


@pytest.mark.parametrize("bad", ["", "U123", "u" + "0" * 32, "U" + "G" * 32, "C" + "0" * 32])
def test_line_user_ids_are_validated(bad):
    with pytest.raises(InvalidLineUserId):
        Resident.first_follow(bad, 1)
