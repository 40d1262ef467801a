"""The group-commit batcher on its own: requests that wait together are taken together, each gets
its own result, and a failing batch fails only its own requests."""

import threading
import time

import pytest
from ingress_webhook.adapters.batcher import GroupCommit


def wait_until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


class Recorder:
    """A batch function that records its batches; the first batch waits until let go."""

    def __init__(self, fail_on=None):
        self.batches: list[list[str]] = []
        self.gate = threading.Event()
        self.fail_on = fail_on

    def __call__(self, batch):
        self.batches.append(list(batch))
        if len(self.batches) == 1:
            self.gate.wait(5)
        if self.fail_on in batch:
            raise RuntimeError("database on fire")
        return [f"taken {item}" for item in batch]


def run_all(batcher, items):
    results: dict[str, object] = {}

    def one(item):
        try:
            results[item] = batcher.take(item)
        except RuntimeError as exc:
            results[item] = exc

    threads = [threading.Thread(target=one, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    return results, threads


def test_requests_arriving_while_a_batch_is_taken_form_the_next_batch():
    recorder = Recorder()
    batcher = GroupCommit(recorder)
    first, first_threads = run_all(batcher, ["a"])
    wait_until(lambda: recorder.batches == [["a"]])  # "a" is being taken, the gate holds it
    rest, threads = run_all(batcher, ["b", "c", "d", "e"])
    wait_until(lambda: batcher.waiting == 4)
    recorder.gate.set()
    for thread in first_threads + threads:
        thread.join(5)
    assert [sorted(batch) for batch in recorder.batches] == [["a"], ["b", "c", "d", "e"]]
    assert {**first, **rest} == {item: f"taken {item}" for item in "abcde"}
    batcher.close()


def test_a_batch_stops_at_its_weight_limit():
    recorder = Recorder()
    batcher = GroupCommit(recorder, weight=len, max_weight=4)
    _, first_threads = run_all(batcher, ["x"])
    wait_until(lambda: len(recorder.batches) == 1)
    _, threads = run_all(batcher, ["aa", "bb", "ccc"])
    wait_until(lambda: batcher.waiting == 3)
    recorder.gate.set()
    for thread in first_threads + threads:
        thread.join(5)
    assert [sorted(batch) for batch in recorder.batches[1:]] in (
        [["aa", "bb"], ["ccc"]], [["aa", "ccc"], ["bb"]], [["bb", "ccc"], ["aa"]],
        [["aa"], ["bb", "ccc"]], [["bb"], ["aa", "ccc"]], [["ccc"], ["aa", "bb"]])
    batcher.close()


def test_a_failing_batch_fails_its_own_requests_and_the_next_batch_is_taken():
    recorder = Recorder(fail_on="bad")
    recorder.gate.set()
    batcher = GroupCommit(recorder)
    with pytest.raises(RuntimeError, match="on fire"):
        batcher.take("bad")
    assert batcher.take("good") == "taken good"
    batcher.close()


def test_max_wait_holds_a_batch_open_for_company():
    recorder = Recorder()
    recorder.gate.set()
    batcher = GroupCommit(recorder, max_wait=2.0, max_weight=2)
    results, threads = run_all(batcher, ["a"])
    time.sleep(0.05)
    more, more_threads = run_all(batcher, ["b"])
    for thread in threads + more_threads:
        thread.join(5)
    # Two requests fill the batch (max_weight), so it goes before max_wait is over.
    assert [sorted(batch) for batch in recorder.batches] == [["a", "b"]]
    assert {**results, **more} == {"a": "taken a", "b": "taken b"}
    batcher.close()
