"""The in-memory adapters keep the SQL adapters' semantics that handler stories rely on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from dispatcher.adapters.in_memory import FakeLine, FakeRecipients, InMemoryDispatcherData
from dispatcher.adapters.repository import Send
from dispatcher.domain.jobs import OutcomeKind, cut_jobs
from dispatcher.domain.lifecycle import Actor, Delivery, Status

NOW = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)
HANAKO = Actor("hanako", frozenset({("author", "kosodate")}))


def a_draft() -> Delivery:
    return Delivery.draft(uuid.uuid4(), HANAKO, NOW, department="kosodate", title="お知らせ", category_key="k",
                          messages=({"type": "text", "text": "こんにちは"},))


def test_what_is_not_committed_is_gone_and_what_is_committed_is_seen_by_the_next_unit_of_work():
    data = InMemoryDispatcherData(clock=lambda: NOW)
    kept, dropped = a_draft(), a_draft()
    with data.uow() as uow:
        uow.deliveries.add(kept)
        uow.commit()
    with data.uow() as uow:
        uow.deliveries.add(dropped)
    with data.uow() as uow:
        assert uow.deliveries.get(kept.id) is not None
        assert uow.deliveries.get(dropped.id) is None
        stored = uow.deliveries.get(kept.id)
        assert stored is not None
        stored.delivery.title = "not saved"
    with data.uow() as uow:
        again = uow.deliveries.get(kept.id)
        assert again is not None and again.delivery.title == "お知らせ"


def test_history_lines_are_appended_once_each():
    data = InMemoryDispatcherData(clock=lambda: NOW)
    delivery = a_draft()
    with data.uow() as uow:
        uow.deliveries.add(delivery)
        uow.commit()
    with data.uow() as uow:
        stored = uow.deliveries.get(delivery.id)
        assert stored is not None
        stored.delivery.submit(HANAKO, NOW)
        uow.deliveries.save(stored.delivery)
        uow.deliveries.save(stored.delivery)  # saved twice: still one line
        uow.commit()
    with data.uow() as uow:
        stored = uow.deliveries.get(delivery.id)
        assert stored is not None
        assert [t.to_status for t in stored.delivery.history] == [Status.AWAITING_APPROVAL]
        assert stored.delivery.events == []


def test_a_settle_counts_on_its_send_and_stalled_looks_at_the_last_settled_job():
    data = InMemoryDispatcherData(clock=lambda: NOW)
    send_id, delivery_id = uuid.uuid4(), uuid.uuid4()
    jobs = cut_jobs(send_id, 1_200)
    with data.uow() as uow:
        uow.sends.add(Send(send_id, delivery_id, 1, "sending", 1_200, 3, 0, 0, 0, [], NOW, None), jobs)
        job = uow.sends.job(send_id, 2)
        assert job is not None
        after = uow.sends.settle(job, "failed", request_id=None, error="refused", attempts=1,
                                 at=NOW + timedelta(minutes=5))
        assert (after.jobs_settled, after.sent, after.failed) == (1, 0, 500)
        assert [j.number for j in uow.sends.pending(send_id)] == [1, 3]
        assert uow.sends.errors(send_id) == [("refused", 500)]
        assert uow.sends.stalled(NOW + timedelta(minutes=5)) == []
        assert [s.id for s in uow.sends.stalled(NOW + timedelta(minutes=6))] == [send_id]
        uow.sends.set_status(send_id, "paused")
        assert uow.sends.stalled(NOW + timedelta(minutes=6)) == []


def test_fake_recipients_freeze_once_and_open_positions():
    recipients = FakeRecipients(["U1", "U2", "U3"])
    list_id = uuid.uuid4()
    assert recipients.freeze(list_id, {}) == 3
    recipients.members.append("U4")
    assert recipients.freeze(list_id, {}) == 3  # frozen: the same list again
    assert recipients.line_user_ids(list_id, 2, 3) == ["U2", "U3"]


@pytest.mark.parametrize(("answers", "kinds"), [
    ((), [OutcomeKind.ACCEPTED, OutcomeKind.ALREADY_ACCEPTED]),
    ((500, None, 200), [OutcomeKind.RETRYABLE, OutcomeKind.RETRYABLE, OutcomeKind.ACCEPTED]),
    (((400, "bad"), 429), [OutcomeKind.FAILED, OutcomeKind.RATE_LIMITED]),
])
def test_fake_line_answers_as_scripted_and_409_for_a_key_already_accepted(answers, kinds):
    line = FakeLine(answers)
    key = uuid.uuid4()
    got = [line.multicast(["U1"], [], key, None).outcome.kind for _ in kinds]
    assert got == kinds
    assert len(line.multicasts[key]) == len(kinds)
