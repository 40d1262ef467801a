"""Everything the emulated LINE Platform remembers, in memory, behind one lock."""

from __future__ import annotations

import hashlib
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

FAMILY = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田", "松本",
          "井上"]
GIVEN = ["太郎", "花子", "翔太", "陽菜", "大輔", "美咲", "健一", "さくら", "蓮", "結衣", "悠真", "葵", "拓海", "芽依"]
LANGUAGES = ["ja"] * 17 + ["en", "zh-Hant", "ko"]
GENDERS = ["male", "female"]
AREAS = ["jp_28"] * 9 + ["jp_27"]  # 兵庫県 (Itami) mostly, some from 大阪府 next door


@dataclass
class Resident:
    user_id: str
    display_name: str
    language: str
    gender: str
    age: int
    area: str
    app_type: str
    friend: bool = False
    blocked: bool = False
    followed_at: float = 0.0
    rich_menu_id: str | None = None  # per-user link (API); the default menu applies otherwise

    def profile(self) -> dict[str, Any]:
        return {
            "userId": self.user_id, "displayName": self.display_name, "language": self.language,
            "pictureUrl": f"https://profile.line-scdn.net/emulator/{self.user_id[-8:]}",
            "statusMessage": "伊丹市在住",
        }


@dataclass
class Send:
    """One accepted send request; recipients point at it instead of copying the messages."""

    seq: int
    endpoint: str
    request_id: str
    retry_key: str | None
    messages: list[dict[str, Any]]
    at: float
    recipients: int = 0
    notification_disabled: bool = False
    aggregation_unit: str | None = None


@dataclass
class RichMenu:
    rich_menu_id: str
    body: dict[str, Any]
    image: bytes | None = None
    image_type: str | None = None


@dataclass
class Audience:
    audience_group_id: int
    description: str
    user_ids: set[str]
    created: int
    is_ifa: bool
    upload_description: str | None
    jobs: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class AsyncRequest:
    """A narrowcast or rich-menu batch: accepted now, done a moment later."""

    request_id: str
    kind: str
    accepted: float
    complete_after: float
    result: dict[str, Any]


def now_iso(at: float | None = None) -> str:
    """ISO-8601 UTC with milliseconds, as LINE writes acceptedTime/completedTime."""
    moment = time.time() if at is None else at
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int((moment % 1) * 1000):03d}Z"


class World:
    def __init__(self, residents: int = 100, seed: int = 1, destination: str | None = None) -> None:
        self.lock = threading.RLock()
        self.seed = seed
        self.population = residents
        self.destination = destination or "U" + hashlib.md5(f"bot:{seed}".encode()).hexdigest()  # noqa: S324
        self.reset()

    def reset(self) -> None:
        with self.lock:
            rng = random.Random(self.seed)
            self.residents: dict[str, Resident] = {}
            for number in range(self.population):
                user_id = "U" + hashlib.md5(f"resident:{self.seed}:{number}".encode()).hexdigest()  # noqa: S324
                self.residents[user_id] = Resident(
                    user_id=user_id,
                    display_name=rng.choice(FAMILY) + rng.choice(GIVEN),
                    language=rng.choice(LANGUAGES),
                    gender=rng.choice(GENDERS),
                    age=rng.randint(13, 90),
                    area=rng.choice(AREAS),
                    app_type=rng.choice(["ios", "android"]),
                )
            self.sends: list[Send] = []
            self.received: dict[str, list[int]] = {}
            self.reply_tokens: dict[str, tuple[str, float]] = {}
            self.rich_menus: dict[str, RichMenu] = {}
            self.default_rich_menu: str | None = None
            self.aliases: dict[str, str] = {}
            self.audiences: dict[int, Audience] = {}
            self.async_requests: dict[str, AsyncRequest] = {}
            self.access_tokens: dict[str, dict[str, Any]] = {}
            self.webhook_log: list[dict[str, Any]] = []
            self.requests_by_endpoint: Counter[str] = Counter()
            self.statuses_by_endpoint: Counter[str] = Counter()
            self.recipients_delivered = 0
            self.messages_by_date: Counter[str] = Counter()
            self._audience_seq = 1000

    # -- residents -----------------------------------------------------------------------------
    def resident(self, user_id: str) -> Resident | None:
        return self.residents.get(user_id)

    def friends(self) -> list[Resident]:
        return [resident for resident in self.residents.values() if resident.friend]

    # -- deliveries ----------------------------------------------------------------------------
    def record_send(
        self, endpoint: str, request_id: str, retry_key: str | None, messages: list[dict[str, Any]],
        user_ids: list[str], *, notification_disabled: bool = False, aggregation_unit: str | None = None,
    ) -> Send:
        """Deliver to the recipients who are friends (LINE answers 200 for others and drops them)."""
        with self.lock:
            send = Send(len(self.sends) + 1, endpoint, request_id, retry_key, messages, time.time(),
                        notification_disabled=notification_disabled, aggregation_unit=aggregation_unit)
            self.sends.append(send)
            delivered = 0
            for user_id in dict.fromkeys(user_ids):
                resident = self.residents.get(user_id)
                if resident is None or not resident.friend:
                    continue
                self.received.setdefault(user_id, []).append(send.seq)
                delivered += 1
            send.recipients = delivered
            self.recipients_delivered += delivered
            self.messages_by_date[f"{endpoint}:{time.strftime('%Y%m%d', time.gmtime(time.time() + 9 * 3600))}"] += (
                delivered * len(messages)
            )
            return send

    def messages_for(self, user_id: str) -> list[dict[str, Any]]:
        with self.lock:
            out = []
            for seq in self.received.get(user_id, []):
                send = self.sends[seq - 1]
                for message in send.messages:
                    out.append({"seq": send.seq, "endpoint": send.endpoint, "requestId": send.request_id,
                                "retryKey": send.retry_key, "at": now_iso(send.at), "message": message})
            return out

    def issue_reply_token(self, user_id: str) -> str:
        token = uuid.uuid4().hex
        with self.lock:
            self.reply_tokens[token] = (user_id, time.time())
        return token

    def use_reply_token(self, token: str) -> str | None:
        """Single use, valid one minute (LINE's documented reply-token rules)."""
        with self.lock:
            entry = self.reply_tokens.pop(token, None)
        if entry is None or time.time() - entry[1] > 60:
            return None
        return entry[0]

    # -- rich menus ----------------------------------------------------------------------------
    def menu_for(self, user_id: str) -> str | None:
        resident = self.residents.get(user_id)
        if resident is None:
            return None
        return resident.rich_menu_id or self.default_rich_menu

    def next_audience_id(self) -> int:
        with self.lock:
            self._audience_seq += 1
            return self._audience_seq
