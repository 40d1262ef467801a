"""Send jobs as stories: cutting the frozen list (every resident once, ≤ 500 a job, the same keys after a
crash), what each LINE answer means, backing off, and a delivery that stops itself when errors pile up."""

import uuid
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from dispatcher.domain.jobs import (
    MULTICAST_MAX,
    ErrorBudget,
    OutcomeKind,
    RetryPolicy,
    SendJob,
    StepKind,
    classify,
    cut_jobs,
    next_step,
)
from hypothesis import given, settings
from hypothesis import strategies as st

DELIVERY = uuid.UUID("0b7e7a52-3f7c-4c35-9b0b-6b8f8f6f1a01")
NOW = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)


@settings(deadline=None)
@given(recipients=st.integers(min_value=0, max_value=12_000), size=st.integers(min_value=1, max_value=MULTICAST_MAX),
       delivery=st.uuids())
def test_jobs_cover_every_position_once_and_keys_are_stable(recipients, size, delivery):
    jobs = cut_jobs(delivery, recipients, size)
    # Contiguous slices from 1 to N, each starting right after the one before: every position exactly once.
    ends = [(0, 0), *((job.first, job.last) for job in jobs)]
    assert all(first == previous_last + 1 for (_, previous_last), (first, _) in pairwise(ends))
    assert (jobs[-1].last if jobs else 0) == recipients
    assert sum(job.size for job in jobs) == recipients
    assert all(1 <= job.size <= size <= MULTICAST_MAX for job in jobs)
    assert [job.number for job in jobs] == list(range(1, len(jobs) + 1))
    # A re-cut after a crash gives the very same jobs and keys; keys never repeat within a delivery.
    assert [j.retry_key for j in cut_jobs(delivery, recipients, size)] == [j.retry_key for j in jobs]
    assert len({job.retry_key for job in jobs}) == len(jobs)


def test_twelve_hundred_residents_make_three_jobs():
    jobs = cut_jobs(DELIVERY, 1200)
    assert [(j.number, j.first, j.last, j.size) for j in jobs] == [(1, 1, 500, 500), (2, 501, 1000, 500),
                                                                    (3, 1001, 1200, 200)]
    assert jobs[0].retry_key.version == 5
    assert cut_jobs(DELIVERY, 0) == []


def test_a_retry_key_names_its_slice_not_just_its_number():
    same_number_other_slice = SendJob(DELIVERY, 1, 1, 499)
    assert same_number_other_slice.retry_key != cut_jobs(DELIVERY, 1200)[0].retry_key
    assert SendJob(uuid.uuid4(), 1, 1, 500).retry_key != cut_jobs(DELIVERY, 1200)[0].retry_key


def test_the_multicast_cap_cannot_be_exceeded():
    with pytest.raises(ValueError):
        cut_jobs(DELIVERY, 10, size=501)


@pytest.mark.parametrize(("status", "kind"), [
    (200, OutcomeKind.ACCEPTED),
    (409, OutcomeKind.ALREADY_ACCEPTED),
    (500, OutcomeKind.RETRYABLE),
    (503, OutcomeKind.RETRYABLE),
    (None, OutcomeKind.RETRYABLE),
    (429, OutcomeKind.RATE_LIMITED),
    (400, OutcomeKind.FAILED),
    (403, OutcomeKind.FAILED),
])
def test_what_lines_answers_mean(status, kind):
    assert classify(status).kind is kind


def test_a_409_on_our_retry_key_counts_as_sent():
    step = next_step(classify(409), attempt=2, first_tried_at=NOW, now=NOW, jitter=0.5)
    assert step.kind is StepKind.DONE


def test_a_400_fails_the_job_with_lines_message():
    step = next_step(classify(400, "The request body has 1 error(s)"), attempt=1, first_tried_at=NOW, now=NOW,
                     jitter=0.5)
    assert step.kind is StepKind.FAIL
    assert step.reason == "LINEが送信を受け付けませんでした（400）: The request body has 1 error(s)"


def test_server_errors_back_off_exponentially_with_capped_jitter():
    policy = RetryPolicy(base=timedelta(seconds=1), cap=timedelta(seconds=60), max_attempts=20)
    delays = [next_step(classify(500), attempt=n, first_tried_at=NOW, now=NOW, jitter=0.999, policy=policy).delay
              for n in range(1, 10)]
    assert [round(d.total_seconds()) for d in delays] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    low = next_step(classify(None), attempt=3, first_tried_at=NOW, now=NOW, jitter=0.0, policy=policy)
    assert low.kind is StepKind.RETRY and low.delay == timedelta(seconds=0.5)  # never zero


def test_a_429_honours_retry_after_when_given():
    step = next_step(classify(429, retry_after=30), attempt=1, first_tried_at=NOW, now=NOW, jitter=0.5)
    assert step.kind is StepKind.RETRY and step.delay == timedelta(seconds=30)


def test_retries_give_up_after_the_last_attempt():
    step = next_step(classify(500), attempt=10, first_tried_at=NOW, now=NOW, jitter=0.5)
    assert step.kind is StepKind.FAIL and "10回" in step.reason


def test_retries_stop_before_line_forgets_the_retry_key():
    late = NOW + timedelta(hours=22, minutes=59, seconds=59)
    step = next_step(classify(500), attempt=2, first_tried_at=NOW, now=late, jitter=0.5)
    assert step.kind is StepKind.FAIL and "二重送信" in step.reason


def test_too_many_errors_pause_the_delivery_with_a_plain_reason():
    budget = ErrorBudget(window=10, max_failure_ratio=0.3, minimum=5)
    ok, broken, slow = classify(200), classify(500), classify(429)
    assert budget.verdict([broken] * 4) is None  # too early to judge
    assert budget.verdict([ok] * 7 + [broken] * 3) is None  # 30%: not above
    reason = budget.verdict([ok] * 6 + [broken] * 4)
    assert reason is not None and reason.startswith("直近10回の送信のうち4回でエラー")
    assert budget.verdict([broken] * 4 + [ok] * 10) is None  # only the last 10 count
    assert budget.verdict([slow] * 10) is None  # 429 is pacing, not breakage
