"""Greeting on follow and re-follow, and the follower import, as stories in memory (a fake LINE)."""

import pytest
from cityline_common.contracts import seal_line_user_id
from cityline_common.crypto import FieldCipher, generate_key
from cityline_common.messagebus import MessageBus
from segment_service.adapters.in_memory import InMemorySegmentData
from segment_service.adapters.line_api import AbstractLine, Pacer, Profile, ReplyResult, with_backoff
from segment_service.domain import texts
from segment_service.domain.commands import FollowResident, SetAccountText, UnfollowResident
from segment_service.domain.model import FollowOutcome, ResidentStatus
from segment_service.service_layer.follower_import import import_followers
from segment_service.service_layer.greeting import greet_after_commit
from segment_service.service_layer.handlers import handlers
from segment_service.service_layer.replies import retry_key_for

HANAKO = "U" + "a1" * 16
CIPHER = FieldCipher.from_spec(f"k1:{generate_key()}")


class FakeLine(AbstractLine):
    def __init__(self, followers=(), reply_result=ReplyResult.REPLIED, fail_on_page=None):
        self.followers = list(followers)
        self.reply_result = reply_result
        self.fail_on_page = fail_on_page
        self.replies, self.pushes, self.pages = [], [], []

    def follower_ids(self, start, limit):
        offset = int(start or 0)
        self.pages.append(offset)
        if self.fail_on_page is not None and len(self.pages) == self.fail_on_page:
            raise KeyboardInterrupt  # the process dies while LINE is being asked
        page = self.followers[offset:offset + limit]
        return page, str(offset + limit) if offset + limit < len(self.followers) else None

    def profile(self, user_id):
        return Profile("伊丹 花子", "ja")

    def reply(self, reply_token, messages):
        self.replies.append((reply_token, messages))
        return self.reply_result

    def push(self, user_id, messages, retry_key):
        self.pushes.append((user_id, messages, retry_key))


@pytest.fixture
def city():
    data = InMemorySegmentData()
    bus = MessageBus(data.uow, handlers(lambda resident_id, line_id: seal_line_user_id(CIPHER, resident_id, line_id)))
    return data, bus


def follow(data, bus, line, timestamp, *, event_id="e1", reply_token="r1", rollback=False):
    """What the consumer does with a follow event: the change, then the greeting once committed."""
    with data.uow() as uow:
        command = FollowResident(HANAKO, timestamp)
        outcome = bus.dispatch(command, uow)
        greet_after_commit(uow, line, outcome, {"webhookEventId": event_id, "replyToken": reply_token}, HANAKO)
        if rollback:
            uow.rollback()
        else:
            uow.commit()
    return outcome


def test_a_new_friend_is_greeted_once_with_the_way_into_preferences(city):
    data, bus = city
    line = FakeLine()
    assert follow(data, bus, line, 1000) is FollowOutcome.FIRST
    [(token, [message])] = line.replies
    assert token == "r1" and message["text"] == texts.DEFAULT_TEXTS[texts.GREETING]
    [item] = message["quickReply"]["items"]
    assert item["action"] == {"type": "postback", "label": "受信設定をする", "data": "action=preferences",
                              "displayText": "受信設定"}
    assert follow(data, bus, line, 1000, event_id="e2", reply_token="r2") is FollowOutcome.UNCHANGED
    assert len(line.replies) == 1 and not line.pushes  # a repeat follow greets nobody again


def test_a_returning_friend_hears_that_their_answers_were_kept(city):
    data, bus = city
    line = FakeLine()
    follow(data, bus, line, 1000)
    bus.handle(UnfollowResident(HANAKO, 2000))
    assert follow(data, bus, line, 3000, event_id="e3", reply_token="r3") is FollowOutcome.REFOLLOWED
    assert line.replies[-1][1][0]["text"] == texts.DEFAULT_TEXTS[texts.GREETING_REFOLLOW]
    assert "以前の受信設定はそのまま" in line.replies[-1][1][0]["text"]


def test_staff_words_replace_the_default_and_bad_texts_are_refused(city):
    data, bus = city
    bus.handle(SetAccountText(texts.GREETING, "  伊丹市です。ようこそ。\r\n受信設定をどうぞ。 ", "staff-1"))
    with pytest.raises(texts.InvalidAccountText):
        bus.handle(SetAccountText(texts.GREETING, "", "staff-1"))
    with pytest.raises(texts.InvalidAccountText):
        bus.handle(SetAccountText("farewell", "さようなら", "staff-1"))
    with pytest.raises(texts.InvalidAccountText):
        bus.handle(SetAccountText(texts.GREETING, "a\x00b", "staff-1"))
    line = FakeLine()
    follow(data, bus, line, 1000)
    assert line.replies[0][1][0]["text"] == "伊丹市です。ようこそ。\n受信設定をどうぞ。"
    assert data.texts[texts.GREETING][1] == "staff-1"


def test_a_refused_reply_falls_back_to_one_push_under_the_events_retry_key(city):
    data, bus = city
    line = FakeLine(reply_result=ReplyResult.NOT_SENT)
    follow(data, bus, line, 1000, event_id="evt-9")
    [(to, _messages, key)] = line.pushes
    assert to == HANAKO and key == retry_key_for("evt-9", texts.GREETING)
    assert retry_key_for("evt-9", texts.GREETING) == key != retry_key_for("evt-10", texts.GREETING)


def test_a_reply_without_an_answer_is_not_pushed_again_and_a_rolled_back_follow_greets_nobody(city):
    data, bus = city
    line = FakeLine(reply_result=ReplyResult.UNKNOWN)
    follow(data, bus, line, 1000)
    assert len(line.replies) == 1 and not line.pushes  # it may have arrived: never risk a second one
    other = InMemorySegmentData()
    other_bus = MessageBus(other.uow, handlers(lambda resident_id, line_id: "sealed"))
    quiet = FakeLine()
    follow(other, other_bus, quiet, 1000, rollback=True)
    assert not quiet.replies and not quiet.pushes


def test_an_import_killed_mid_way_resumes_and_registers_each_follower_once(city):
    data, _bus = city
    friends = [f"U{number:032x}" for number in range(1, 2501)]
    data.residents[friends[5]] = blocked = _blocked(friends[5])
    dying = FakeLine(friends, fail_on_page=3)
    with pytest.raises(KeyboardInterrupt):
        import_followers(data.uow, dying, page_size=1000)
    [stopped] = data.follower_imports.values()
    assert (stopped.pages_done, stopped.next_page_token, stopped.finished) == (2, "2000", False)

    line = FakeLine(friends)
    done = import_followers(data.uow, line, page_size=1000)
    assert done.run_id == stopped.run_id and done.finished and line.pages == [2000]
    assert (done.pages_done, done.ids_seen, done.residents_added) == (3, 2500, 2499)
    assert set(data.residents) == set(friends)
    assert data.residents[friends[5]] is blocked and blocked.status is ResidentStatus.BLOCKED  # untouched
    again = import_followers(data.uow, FakeLine(friends), page_size=1000)  # a new run adds nobody
    assert again.run_id != done.run_id and again.residents_added == 0 and len(data.residents) == 2500


def _blocked(line_user_id):
    from segment_service.domain.model import blocked_before_first_follow

    return blocked_before_first_follow(line_user_id, 5)


def test_backoff_waits_on_429_then_succeeds_and_gives_up_on_a_bad_request():
    from linebot.v3.messaging import ApiException
    from segment_service.adapters.line_api import GaveUp

    waits = []
    answers = [ApiException(status=429), ApiException(status=500), "ok"]

    def call():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    pacer = Pacer(1000, sleep=lambda _s: None)
    assert with_backoff(call, pacer=pacer, sleep=waits.append, base=1.0) == "ok"
    assert len(waits) == 2 and 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0
    with pytest.raises(ApiException):
        with_backoff(lambda: (_ for _ in ()).throw(ApiException(status=400)), pacer=pacer, sleep=waits.append)
    with pytest.raises(GaveUp):
        with_backoff(lambda: (_ for _ in ()).throw(ApiException(status=429)), pacer=pacer, sleep=lambda _s: None,
                     attempts=3)


def test_the_pacer_spaces_calls():
    now = [0.0]
    slept = []
    pacer = Pacer(10, clock=lambda: now[0], sleep=slept.append)
    for _ in range(3):
        pacer.wait()
    assert slept == pytest.approx([0.1, 0.2])
