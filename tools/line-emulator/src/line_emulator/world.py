"""Everything the emulated LINE Platform remembers, in memory, behind one lock."""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

FAMILY = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田", "松本",
          "井上"]
GIVEN = ["太郎", "花子", "翔太", "陽菜", "大輔", "美咲", "健一", "さくら", "蓮", "結衣", "悠真", "葵", "拓海", "芽依"]
LANGUAGES = ["ja"] * 17 + ["en", "zh-Hant", "ko"]
GENDERS = ["male", "female"]
AREAS = ["jp_28"] * 9 + ["jp_27"]  # 兵庫県 (Itami) mostly, some from 大阪府 next door


@dataclass(slots=True)
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
    index: int = 0  # position in the population (row of the per-content delivery counters)
    # A richmenuswitch tap changes only what the resident sees, never the link: the tab shown, and the
    # effective menu (and default epoch) it was switched from; once those change, the effective menu shows.
    shown_rich_menu_id: str | None = None
    shown_over: str | None = None
    shown_epoch: int = 0

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
    content_key: str = ""


AGGREGATION_UNITS_PER_MONTH = 1000  # LINE: the 1,001st distinct unit name of a month is not assigned


def content_key(messages: list[dict[str, Any]]) -> str:
    """Identifies what was sent, whatever the request: 16 hex digits of SHA-1 over canonical JSON."""
    canonical = json.dumps(messages, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha1(canonical.encode()).hexdigest()[:16]  # noqa: S324


def jst_date(at: float) -> str:
    """yyyyMMdd in UTC+9, as LINE's statistics count days."""
    return time.strftime("%Y%m%d", time.gmtime(at + 9 * 3600))


@dataclass
class Content:
    """Everything sent with the same messages: one byte per resident counts how often each got it
    (saturating at 255), so "everyone exactly once" is two ``bytearray.count`` calls even at 1M."""

    key: str
    messages: list[dict[str, Any]]
    counts: bytearray
    sends: int = 0
    deliveries: int = 0
    retry_keys: set[str] = field(default_factory=set)

    def summary(self) -> dict[str, Any]:
        zero, once = self.counts.count(0), self.counts.count(1)
        recipients = len(self.counts) - zero
        first_text = next((m.get("text") for m in self.messages if isinstance(m.get("text"), str)), None)
        return {"contentKey": self.key, "preview": (first_text or self.messages[0].get("type", ""))[:60],
                "messages": len(self.messages), "sends": self.sends, "deliveries": self.deliveries,
                "recipients": recipients, "duplicates": recipients - once,
                "maxPerRecipient": max(self.counts) if self.counts else 0, "retryKeys": len(self.retry_keys)}


@dataclass
class RichMenu:
    rich_menu_id: str
    body: dict[str, Any]
    image: bytes | None = None
    image_type: str | None = None


MENU_CAUSES = {"link": "link", "unlink": "unlink", "default": "default", "cancel-default": "default",
               "batch": "batch", "delete-menu": "delete"}


@dataclass(frozen=True, slots=True)
class MenuOperation:
    """One rich menu operation as it was applied, so a resident's history is a replay of the log for
    that user rather than a write per resident (a default change reaches a million at once)."""

    at: float
    kind: str  # link | unlink | default | cancel-default | batch | delete-menu
    user_ids: frozenset[str] | None  # link/unlink: the users it applied to; None: not per user
    rich_menu_id: str | None  # link, default, delete-menu: the menu
    moves: dict[str, str | None] | None = None  # batch: from → to (None: unlink); None: unlinkAll


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


_LINKED = attrgetter("rich_menu_id")
_DUPLICATE_MAP = bytes([0, 0] + [1] * 254)  # count → 1 when the resident got it more than once


class World:
    def __init__(self, residents: int = 100, seed: int = 1, destination: str | None = None,
                 friends: int = 0) -> None:
        self.lock = threading.RLock()
        self.seed = seed
        self.population = residents
        self.initial_friends = friends  # the first N residents are friends from the start (no webhooks)
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
                    index=number,
                    friend=number < self.initial_friends,
                )
            self.sends: list[Send] = []
            self.contents: dict[str, Content] = {}
            self.sends_by_retry_key: dict[str, list[int]] = {}
            self.retry_key_conflicts: Counter[str] = Counter()
            self.units_by_month: dict[str, dict[str, None]] = {}  # yyyyMM (UTC+9) → unit names, in order
            self.aggregation_unit_limit = AGGREGATION_UNITS_PER_MONTH
            self.received: dict[str, list[int]] = {}
            self.reply_tokens: dict[str, tuple[str, float]] = {}
            self.rich_menus: dict[str, RichMenu] = {}
            self.default_rich_menu: str | None = None
            self.default_epoch = 0  # bumped on every change of the default: resets tabs shown over it
            self.menu_log: list[MenuOperation] = []
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
    def assign_unit(self, unit: str | None, at: float) -> str | None:
        """The unit a send is counted under: None once 1,000 other names were used this month."""
        if not unit:
            return None
        month = self.units_by_month.setdefault(jst_date(at)[:6], {})
        if unit not in month:
            if len(month) >= self.aggregation_unit_limit:
                return None  # LINE sends the message and silently leaves the unit out
            month[unit] = None
        return unit

    def record_send(
        self, endpoint: str, request_id: str, retry_key: str | None, messages: list[dict[str, Any]],
        user_ids: list[str], *, notification_disabled: bool = False, aggregation_unit: str | None = None,
    ) -> Send:
        """Deliver to the recipients who are friends (LINE answers 200 for others and drops them)."""
        key = content_key(messages)
        with self.lock:
            at = time.time()
            send = Send(len(self.sends) + 1, endpoint, request_id, retry_key, messages, at,
                        notification_disabled=notification_disabled,
                        aggregation_unit=self.assign_unit(aggregation_unit, at), content_key=key)
            self.sends.append(send)
            content = self.contents.get(key)
            if content is None:
                content = self.contents[key] = Content(key, messages, bytearray(len(self.residents)))
            counts = content.counts
            delivered = 0
            residents, received = self.residents, self.received
            for user_id in dict.fromkeys(user_ids):
                resident = residents.get(user_id)
                if resident is None or not resident.friend:
                    continue
                received.setdefault(user_id, []).append(send.seq)
                if counts[resident.index] < 255:
                    counts[resident.index] += 1
                delivered += 1
            send.recipients = delivered
            content.sends += 1
            content.deliveries += delivered
            if retry_key is not None:
                content.retry_keys.add(retry_key)
                self.sends_by_retry_key.setdefault(retry_key, []).append(send.seq)
            self.recipients_delivered += delivered
            self.messages_by_date[f"{endpoint}:{jst_date(at)}"] += delivered * len(messages)
            return send

    def received_counts(self, user_ids: list[str], key: str | None = None) -> dict[str, int]:
        """How often each user received ``key`` (a content key), or any send when None."""
        with self.lock:
            if key is None:
                return {user_id: len(self.received.get(user_id, ())) for user_id in user_ids}
            content = self.contents.get(key)
            out = {}
            for user_id in user_ids:
                resident = self.residents.get(user_id)
                out[user_id] = content.counts[resident.index] if content is not None and resident else 0
            return out

    def duplicate_user_ids(self, key: str, limit: int) -> list[str]:
        """Up to ``limit`` users who received ``key`` more than once, in population order."""
        with self.lock:
            content = self.contents.get(key)
            if content is None or limit <= 0:
                return []
            marks = content.counts.translate(_DUPLICATE_MAP)
            ids = list(self.residents)
            found: list[str] = []
            position = marks.find(1)
            while position >= 0 and len(found) < limit:
                found.append(ids[position])
                position = marks.find(1, position + 1)
            return found

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

    def displayed_menu(self, resident: Resident) -> str | None:
        """What the resident sees: the tab they switched to while the menu it was switched from is
        still in effect, otherwise the effective menu (link, else default)."""
        effective = resident.rich_menu_id or self.default_rich_menu
        shown = resident.shown_rich_menu_id
        if shown is None or shown not in self.rich_menus or resident.shown_over != effective:
            return effective
        if resident.rich_menu_id is None and resident.shown_epoch != self.default_epoch:
            return effective  # on the default, and the default changed since (even back to the same menu)
        return shown

    def show_tab(self, resident: Resident, rich_menu_id: str) -> None:
        resident.shown_rich_menu_id = rich_menu_id
        resident.shown_over = resident.rich_menu_id or self.default_rich_menu
        resident.shown_epoch = self.default_epoch

    def set_link(self, resident: Resident, rich_menu_id: str | None) -> bool:
        """Change a per-user link (the caller holds the lock and logs it); a changed link resets the tab shown."""
        if resident.rich_menu_id == rich_menu_id:
            return False
        resident.rich_menu_id = rich_menu_id
        resident.shown_rich_menu_id = resident.shown_over = None
        return True

    def set_default(self, rich_menu_id: str | None) -> None:
        with self.lock:
            if self.default_rich_menu == rich_menu_id:
                return
            self.default_rich_menu = rich_menu_id
            self.default_epoch += 1
            self.log_menu("default" if rich_menu_id is not None else "cancel-default", None, rich_menu_id)

    def log_menu(self, kind: str, user_ids: frozenset[str] | None, rich_menu_id: str | None,
                 moves: dict[str, str | None] | None = None) -> None:
        with self.lock:
            self.menu_log.append(MenuOperation(time.time(), kind, user_ids, rich_menu_id, moves))

    def menu_history(self, user_id: str) -> list[dict[str, Any]]:
        """The moments this user's effective menu changed, replaying the log from "no menu"."""
        linked: str | None = None
        default: str | None = None
        effective: str | None = None
        out: list[dict[str, Any]] = []
        with self.lock:
            log = list(self.menu_log)
        for op in log:
            if op.kind == "link" and op.user_ids is not None and user_id in op.user_ids:
                linked = op.rich_menu_id
            elif op.kind == "unlink" and op.user_ids is not None and user_id in op.user_ids:
                linked = None
            elif op.kind in ("default", "cancel-default"):
                default = op.rich_menu_id
            elif op.kind == "batch":
                if op.moves is None:
                    linked = None
                elif linked is not None and linked in op.moves:
                    linked = op.moves[linked]
            elif op.kind == "delete-menu":
                linked = None if linked == op.rich_menu_id else linked
                default = None if default == op.rich_menu_id else default
            now = linked or default
            if now != effective:
                out.append({"at": op.at, "richMenuId": now, "cause": MENU_CAUSES[op.kind]})
                effective = now
        return out

    def menu_summary(self, friends_only: bool = False) -> dict[str, Any]:
        """Residents per effective menu ("none": no menu) and how many have a per-user link: one pass
        over the residents, counted in C by ``Counter``."""
        with self.lock:
            values = self.residents.values()
            links = Counter(r.rich_menu_id for r in values if r.friend) if friends_only \
                else Counter(map(_LINKED, values))
            default = self.default_rich_menu
        unlinked = links.pop(None, 0)
        effective: dict[str, int] = {key: count for key, count in links.items() if key is not None}
        if unlinked:
            fallback = default or "none"
            effective[fallback] = effective.get(fallback, 0) + unlinked
        return {"effective": effective, "linked": sum(effective.values()) - unlinked,
                "residents": sum(effective.values()), "defaultRichMenuId": default}

    def next_audience_id(self) -> int:
        with self.lock:
            self._audience_seq += 1
            return self._audience_seq
