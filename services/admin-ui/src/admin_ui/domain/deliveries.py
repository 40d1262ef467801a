"""配信 (deliveries): the dispatcher's JSON as plain data, the compose form, and "what changed since the
last review". Plain Python, no I/O.

The dispatcher keeps deliveries, approvals, schedules and sends (``services/dispatcher/API.md``); the
console only shows and edits them on behalf of the signed-in member. Labels are re-stated here (the
console never imports the dispatcher's code): they must say what the dispatcher's domain says.

The compose form reads and writes the API's JSON: :meth:`DeliveryForm.from_form` (a submitted form),
:meth:`DeliveryForm.from_delivery` (an opened delivery), :meth:`DeliveryForm.body` (what is sent).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")

STATUS_LABELS = {
    "draft": "下書き",
    "awaiting_approval": "承認待ち",
    "approved": "承認済み",
    "scheduled": "予約済み",
    "sending": "配信中",
    "paused": "一時停止",
    "sent": "配信完了",
    "partly_failed": "一部失敗",
    "cancelled": "取消",
}
# The buttons of the detail page, in the order shown (``allowedActions`` decides which).
ACTION_LABELS = {
    "submit": "承認依頼",
    "approve": "承認",
    "reject": "差し戻し",
    "schedule": "予約",
    "confirm": "送信前確認",
    "start": "送信",
    "pause": "一時停止",
    "resume": "再開",
    "cancel": "取消",
}
ACTIONS = tuple(ACTION_LABELS)
HOLIDAY_LABELS = {"send": "祝日も配信", "skip": "祝日は配信しない", "next_weekday": "祝日は翌平日"}
WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_NAMES = ("月", "火", "水", "木", "金", "土", "日")
UNANSWERED_LABELS = {"auto": "おまかせ", "include": "未回答の友だちも含める", "exclude": "未回答の友だちは含めない"}
MESSAGE_KINDS = ("text", "sticker", "image", "flex", "template")
KIND_LABELS = {"text": "テキスト", "sticker": "スタンプ", "image": "画像", "flex": "Flex Message",
               "template": "テンプレートメッセージ"}
MAX_MESSAGES = 5
TEXT_MAX = 5000  # LINE counts UTF-16 code units
TITLE_MAX = 100
RAW_JSON_MAX = 60_000


P = TypeVar("P")


class ServiceRefused(Exception, Generic[P]):
    """Another service refused (or did not answer). ``reason``: its Japanese sentence for staff; ``status``: the
    HTTP status (None: no answer); ``code``: its machine code; ``problems``: what is wrong with what was sent."""

    def __init__(self, reason: str, status: int | None = None, code: str = "",
                 problems: Sequence[P] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.code = code
        self.problems = list(problems)

    @property
    def unavailable(self) -> bool:
        return self.status is None or self.status >= 500


class DeliveryRefused(ServiceRefused[str]):
    """The dispatcher refused (or did not answer); ``problems``: what is wrong with the content."""


class DeliveryFormError(ValueError):
    """What is wrong with the compose form (Japanese sentences)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


def utf16_length(text: str) -> int:
    """LINE's length of a text (🍎 counts 2)."""
    return len(text.encode("utf-16-le")) // 2


# --- the API's JSON as data ---------------------------------------------------------------------------


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _count(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("not a count")
    return value


@dataclass(frozen=True)
class SendError:
    reason: str
    recipients: int


@dataclass(frozen=True)
class Progress:
    run: int
    status: str
    recipients: int
    sent: int
    failed: int
    pending: int
    rate_per_second: float | None
    started_at: datetime | None
    expected_end_at: datetime | None
    finished_at: datetime | None
    errors: tuple[SendError, ...]

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def percent(self) -> int:
        return 100 if self.recipients == 0 else min(100, (self.sent + self.failed) * 100 // self.recipients)

    def as_json(self) -> dict[str, Any]:
        return {"run": self.run, "status": self.status, "statusLabel": self.status_label,
                "recipients": self.recipients, "sent": self.sent, "failed": self.failed, "pending": self.pending,
                "percent": self.percent, "finished": self.finished_at is not None,
                "errors": [{"reason": e.reason, "recipients": e.recipients} for e in self.errors]}


def parse_progress(body: Any) -> Progress | None:
    if body is None:
        return None
    rate = body.get("ratePerSecond")
    return Progress(
        run=int(body.get("run") or 1), status=str(body["status"]),
        recipients=_count(body["recipients"]) or 0, sent=_count(body["sent"]) or 0,
        failed=_count(body["failed"]) or 0, pending=_count(body.get("pending")) or 0,
        rate_per_second=float(rate) if isinstance(rate, int | float) and not isinstance(rate, bool) else None,
        started_at=_moment(body.get("startedAt")), expected_end_at=_moment(body.get("expectedEndAt")),
        finished_at=_moment(body.get("finishedAt")),
        errors=tuple(SendError(str(e["reason"]), _count(e.get("recipients")) or 0) for e in body.get("errors") or []),
    )


@dataclass(frozen=True)
class HistoryEntry:
    from_status: str | None
    to_status: str | None
    action: str
    action_label: str
    actor_id: str
    at: datetime | None
    comment: str

    @property
    def to_label(self) -> str:
        return STATUS_LABELS.get(self.to_status or "", self.to_status or "")


@dataclass(frozen=True)
class Summary:
    id: str
    department: str
    title: str
    category: str
    status: str
    status_label: str
    version: int
    author_id: str
    send_at: datetime | None
    schedule: Any
    schedule_text: str
    updated_at: datetime | None
    recipients: int | None
    sent: int | None
    failed: int | None


def _summary_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    status = str(body["status"])
    return {
        "id": str(body["id"]), "department": str(body["department"]), "title": str(body.get("title") or ""),
        "category": str(body.get("category") or ""), "status": status,
        "status_label": str(body.get("statusLabel") or STATUS_LABELS.get(status, status)),
        "version": int(body["version"]), "author_id": str(body.get("authorId") or ""),
        "send_at": _moment(body.get("sendAt")), "schedule": body.get("schedule"),
        "schedule_text": str(body.get("scheduleText") or ""), "updated_at": _moment(body.get("updatedAt")),
        "recipients": _count(body.get("recipients")), "sent": _count(body.get("sent")),
        "failed": _count(body.get("failed")),
    }


def parse_summary(body: Any) -> Summary:
    return Summary(**_summary_fields(body))


@dataclass(frozen=True)
class Reviewed:
    """The delivery as last approved or rejected."""

    version: int
    title: str
    category: str
    messages: tuple[Any, ...]
    target: Any
    schedule: Any


@dataclass(frozen=True)
class Delivery(Summary):
    messages: tuple[Any, ...] = ()
    target: Any = None
    target_text: tuple[str, ...] | None = None
    last_editor_id: str = ""
    pause_reason: str = ""
    problems: tuple[str, ...] = ()
    approvals: tuple[Mapping[str, Any], ...] = ()
    confirmations: tuple[Mapping[str, Any], ...] = ()
    history: tuple[HistoryEntry, ...] = ()
    allowed_actions: frozenset[str] = frozenset()
    reviewed: Reviewed | None = None
    progress: Progress | None = None
    runs: tuple[Progress, ...] = ()

    def may(self, action: str) -> bool:
        return action in self.allowed_actions

    def confirmed_by(self, staff_id: str) -> bool:
        return any(str(c.get("staffId")) == staff_id and c.get("version") == self.version for c in self.confirmations)

    @property
    def current_confirmations(self) -> int:
        return sum(1 for c in self.confirmations if c.get("version") == self.version)


def parse_delivery(body: Any) -> Delivery:
    """The dispatcher's Delivery; raises (KeyError, TypeError, ValueError) on anything malformed."""
    reviewed = body.get("reviewed")
    text = body.get("targetText")
    return Delivery(
        **_summary_fields(body),
        messages=tuple(body.get("messages") or ()), target=body.get("target"),
        target_text=None if text is None else tuple(str(line) for line in text),
        last_editor_id=str(body.get("lastEditorId") or ""), pause_reason=str(body.get("pauseReason") or ""),
        problems=tuple(str(p) for p in body.get("problems") or ()),
        approvals=tuple(body.get("approvals") or ()), confirmations=tuple(body.get("confirmations") or ()),
        history=tuple(HistoryEntry(
            from_status=entry.get("from"), to_status=entry.get("to"), action=str(entry.get("action") or ""),
            action_label=str(entry.get("actionLabel") or entry.get("action") or ""),
            actor_id=str(entry.get("actorId") or ""), at=_moment(entry.get("at")),
            comment=str(entry.get("comment") or "")) for entry in body.get("history") or ()),
        allowed_actions=frozenset(str(a) for a in body.get("allowedActions") or ()),
        reviewed=None if reviewed is None else Reviewed(
            int(reviewed["version"]), str(reviewed.get("title") or ""), str(reviewed.get("category") or ""),
            tuple(reviewed.get("messages") or ()), reviewed.get("target"), reviewed.get("schedule")),
        progress=parse_progress(body.get("progress")),
        runs=tuple(p for p in (parse_progress(run) for run in body.get("runs") or ()) if p is not None),
    )


@dataclass(frozen=True)
class RecipientCount:
    recipients: int
    matching: int | None = None
    unanswered: int | None = None
    unanswered_included: bool = False


@dataclass(frozen=True)
class MessageFigures:
    impression: int | None
    unique_impression: int | None
    click: int | None


@dataclass(frozen=True)
class Statistics:
    """``None`` figures: fewer than 20 people (LINE's privacy floor) — shown as too few, never as 0."""

    available: bool
    reason: str
    overview: Mapping[str, int | None] | None
    messages: tuple[MessageFigures, ...]


def parse_statistics(body: Any) -> Statistics:
    overview = body.get("overview")
    return Statistics(
        available=bool(body.get("available")), reason=str(body.get("reason") or ""),
        overview=None if overview is None else {str(k): _count(v) for k, v in overview.items()},
        messages=tuple(MessageFigures(_count(m.get("impression")), _count(m.get("uniqueImpression")),
                                      _count(m.get("click"))) for m in body.get("messages") or ()),
    )


@dataclass(frozen=True)
class TestRecipient:
    __test__ = False  # not a pytest class

    id: str
    label: str
    department: str


@dataclass(frozen=True)
class DeliveryTemplate:
    id: str
    department: str
    name: str
    messages: tuple[Any, ...]


@dataclass(frozen=True)
class Asset:
    id: str
    content_type: str
    width: int | None = None
    height: int | None = None


# --- the compose form ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageForm:
    """One message slot: ``kind`` "" is an unused slot."""

    kind: str = ""
    text: str = ""
    package_id: str = ""
    sticker_id: str = ""
    asset_id: str = ""
    raw: str = ""  # flex / template: the LINE message object as JSON

    @property
    def length(self) -> int:
        return utf16_length(self.text)

    def to_json(self, number: int, problems: list[str]) -> dict[str, Any] | None:  # noqa: PLR0911 - one per kind
        where = f"{number}件目（{KIND_LABELS.get(self.kind, self.kind)}）"
        if self.kind == "text":
            if not self.text.strip():
                problems.append(f"{where}: 本文を入力してください。")
            elif self.length > TEXT_MAX:
                problems.append(f"{where}: 本文は{TEXT_MAX}文字以内で入力してください（現在{self.length}文字）。")
            return {"type": "text", "text": self.text}
        if self.kind == "sticker":
            if not (_digits(self.package_id) and _digits(self.sticker_id)):
                problems.append(f"{where}: パッケージIDとスタンプIDを数字で入力してください。")
            return {"type": "sticker", "packageId": self.package_id, "stickerId": self.sticker_id}
        if self.kind == "image":
            if not self.asset_id:
                problems.append(f"{where}: 画像ファイルを選んでください。")
            return {"type": "image", "assetId": self.asset_id}
        if self.kind in ("flex", "template"):
            try:
                value = json.loads(self.raw)
            except ValueError as exc:
                problems.append(f"{where}: JSONとして読めません（{exc.args[0] if exc.args else ''}）。")
                return None
            if not isinstance(value, dict) or value.get("type") != self.kind:
                problems.append(f"{where}: \"type\": \"{self.kind}\" のメッセージオブジェクトを入力してください。")
                return None
            if not str(value.get("altText") or "").strip():
                problems.append(f"{where}: 代替テキスト（altText）を入力してください。")
            return value
        problems.append(f"{number}件目: 対応していない種類のメッセージです（{self.kind}）。")
        return None

    @classmethod
    def from_json(cls, message: Any) -> MessageForm:
        if not isinstance(message, Mapping):
            return cls("flex", raw=json.dumps(message, ensure_ascii=False))
        kind = message.get("type")
        if kind == "text" and set(message) <= {"type", "text"}:
            return cls("text", text=str(message.get("text", "")))
        if kind == "sticker":
            return cls("sticker", package_id=str(message.get("packageId", "")),
                       sticker_id=str(message.get("stickerId", "")))
        if kind == "image" and message.get("assetId"):
            return cls("image", asset_id=str(message["assetId"]))
        raw = json.dumps(message, ensure_ascii=False, indent=2)
        return cls("template" if kind == "template" else "flex", raw=raw)


def _digits(value: str) -> bool:
    return bool(value) and value.isascii() and value.isdigit() and len(value) <= 20


@dataclass(frozen=True)
class RuleForm:
    """予約・定期: ``kind`` "none" (send on approval by pressing 送信), "once", "weekly", "monthly"."""

    kind: str = "none"
    on: str = ""  # once: the date (YYYY-MM-DD, Japan time)
    at: str = ""  # the time (HH:MM, Japan time)
    weekdays: tuple[str, ...] = ()
    monthly: str = "day"  # "day" (毎月n日) or "nth" (第n weekday)
    day: str = ""
    weeks: tuple[str, ...] = ()  # "1".."5", "last"
    weekday: str = "mon"
    holidays: str = "send"
    until: str = ""

    def to_json(self, problems: list[str]) -> dict[str, Any] | None:  # noqa: PLR0911, PLR0912 - one per rule kind
        if self.kind == "none":
            return None
        clock = _clock(self.at)
        if clock is None:
            problems.append("時刻を「7:30」のように入力してください。")
        if self.kind == "once":
            try:
                day = date.fromisoformat(self.on)
            except ValueError:
                problems.append("配信日を入力してください。")
                return None
            if clock is None:
                return None
            return {"kind": "once", "at": datetime.combine(day, clock, TOKYO).isoformat()}
        rule: dict[str, Any]
        hhmm = clock.strftime("%H:%M") if clock else self.at
        if self.kind == "weekly":
            days = [d for d in WEEKDAY_KEYS if d in self.weekdays]
            if not days:
                problems.append("配信する曜日を選んでください。")
            rule = {"kind": "weekly", "weekdays": days, "time": hhmm}
        elif self.kind == "monthly":
            rule = {"kind": "monthly", "time": hhmm}
            if self.monthly == "day":
                if not (_digits(self.day) and 1 <= int(self.day) <= 31):
                    problems.append("日にちは 1〜31 の数字で入力してください。")
                    return None
                rule["day"] = int(self.day)
            else:
                weeks: list[int | str] = [int(w) for w in ("1", "2", "3", "4", "5") if w in self.weeks]
                if "last" in self.weeks:
                    weeks.append("last")
                if not weeks:
                    problems.append("第何週かを選んでください。")
                rule["weeks"] = weeks
                rule["weekday"] = self.weekday if self.weekday in WEEKDAY_KEYS else "mon"
        else:
            problems.append("配信のタイミングを選んでください。")
            return None
        rule["holidays"] = self.holidays if self.holidays in HOLIDAY_LABELS else "send"
        if self.until:
            try:
                rule["until"] = date.fromisoformat(self.until).isoformat()
            except ValueError:
                problems.append("終了日を正しく入力してください。")
        return rule

    @classmethod
    def from_json(cls, rule: Any) -> RuleForm:  # noqa: PLR0911 - one return per rule kind
        if not isinstance(rule, Mapping):
            return cls()
        kind = rule.get("kind")
        holidays = str(rule.get("holidays") or "send")
        until = str(rule.get("until") or "")
        if kind == "once":
            moment = _moment(rule.get("at"))
            if moment is None:
                return cls("once")
            local = moment.astimezone(TOKYO)
            return cls("once", on=local.date().isoformat(), at=local.strftime("%H:%M"))
        if kind == "weekly":
            return cls("weekly", at=str(rule.get("time") or ""), weekdays=tuple(rule.get("weekdays") or ()),
                       holidays=holidays, until=until)
        if kind == "monthly":
            if rule.get("day") is not None:
                return cls("monthly", at=str(rule.get("time") or ""), monthly="day", day=str(rule["day"]),
                           holidays=holidays, until=until)
            return cls("monthly", at=str(rule.get("time") or ""), monthly="nth",
                       weeks=tuple(str(w) for w in rule.get("weeks") or ()),
                       weekday=str(rule.get("weekday") or "mon"), holidays=holidays, until=until)
        return cls()


def _clock(value: str) -> time | None:
    hours, _sep, minutes = value.strip().partition(":")
    if not (_digits(hours) and _digits(minutes) and len(minutes) == 2):
        return None
    if not (0 <= int(hours) <= 23 and 0 <= int(minutes) <= 59):
        return None
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class TargetForm:
    """誰に: "everyone", a saved "segment", or an ad-hoc "expression" (segment-service's JSON)."""

    kind: str = "everyone"
    segment_id: str = ""
    unanswered: str = "auto"
    expression: str = ""

    def to_json(self, problems: list[str]) -> dict[str, Any]:
        unanswered = self.unanswered if self.unanswered in UNANSWERED_LABELS else "auto"
        if self.kind == "segment":
            if not self.segment_id:
                problems.append("配信先のセグメントを選んでください。")
            return {"kind": "segment", "segmentId": self.segment_id, "unanswered": unanswered}
        if self.kind == "expression":
            try:
                expression = json.loads(self.expression)
            except ValueError:
                problems.append("配信先の条件（JSON）が読めません。")
                expression = None
            return {"kind": "expression", "expression": expression, "unanswered": unanswered}
        return {"kind": "everyone"}

    @classmethod
    def from_json(cls, target: Any) -> TargetForm:
        if not isinstance(target, Mapping):
            return cls()
        unanswered = str(target.get("unanswered") or "auto")
        if target.get("kind") == "segment":
            return cls("segment", segment_id=str(target.get("segmentId") or ""), unanswered=unanswered)
        if target.get("kind") == "expression":
            return cls("expression", unanswered=unanswered,
                       expression=json.dumps(target.get("expression"), ensure_ascii=False))
        return cls()


@dataclass(frozen=True)
class DeliveryForm:
    title: str = ""
    department: str = ""
    category: str = ""
    messages: tuple[MessageForm, ...] = (MessageForm("text"),)
    target: TargetForm = field(default_factory=TargetForm)
    schedule: RuleForm = field(default_factory=RuleForm)
    version: int | None = None

    @property
    def slots(self) -> tuple[MessageForm, ...]:
        """Every slot the editor shows: the messages, then unused ones up to five."""
        used = tuple(m for m in self.messages if m.kind)
        return used + tuple(MessageForm() for _ in range(MAX_MESSAGES - len(used)))

    @classmethod
    def from_form(cls, form: Any) -> DeliveryForm:
        """From a submitted form (``get`` / ``getlist``); nothing is refused here (see :meth:`body`)."""

        def submitted(name: str, limit: int = 200) -> str:
            return str(form.get(name, "")).replace("\r\n", "\n")[:limit]

        messages = []
        for slot in range(1, MAX_MESSAGES + 1):
            kind = submitted(f"m{slot}_type", 20)
            if kind not in MESSAGE_KINDS:
                continue
            messages.append(MessageForm(
                kind, text=submitted(f"m{slot}_text", TEXT_MAX * 2),
                package_id=submitted(f"m{slot}_package", 20).strip(),
                sticker_id=submitted(f"m{slot}_sticker", 20).strip(), asset_id=submitted(f"m{slot}_asset", 64).strip(),
                raw=submitted(f"m{slot}_json", RAW_JSON_MAX)))
        version = submitted("version", 12)
        return cls(
            title=submitted("title", TITLE_MAX).strip(), department=submitted("department", 64),
            category=submitted("category", 64), messages=tuple(messages),
            target=TargetForm(submitted("target", 20), segment_id=submitted("segment_id", 64),
                              unanswered=submitted("unanswered", 20),
                              expression=submitted("expression", RAW_JSON_MAX)),
            schedule=RuleForm(
                submitted("rule", 20) or "none", on=submitted("rule_on", 10), at=submitted("rule_at", 5),
                weekdays=tuple(str(v)[:3] for v in form.getlist("rule_weekdays"))[:7],
                monthly=submitted("rule_monthly", 5), day=submitted("rule_day", 2),
                weeks=tuple(str(v)[:4] for v in form.getlist("rule_weeks"))[:6],
                weekday=submitted("rule_weekday", 3), holidays=submitted("rule_holidays", 20) or "send",
                until=submitted("rule_until", 10)),
            version=int(version) if version.isascii() and version.isdigit() else None,
        )

    def with_messages(self, messages: Sequence[Any]) -> DeliveryForm:
        """The form with a template's messages."""
        return replace(self, messages=tuple(MessageForm.from_json(m) for m in messages[:MAX_MESSAGES]))

    def message_json(self, problems: list[str]) -> list[Any]:
        used = [m for m in self.messages if m.kind]
        if not used:
            problems.append("メッセージを1件以上入力してください。")
        if len(used) > MAX_MESSAGES:
            problems.append(f"メッセージは{MAX_MESSAGES}件までです。")
        found = [m.to_json(number, problems) for number, m in enumerate(used[:MAX_MESSAGES], start=1)]
        return [m for m in found if m is not None]

    def body(self) -> dict[str, Any]:
        """The API's create / edit body (without ``version``); raises :class:`DeliveryFormError`."""
        problems: list[str] = []
        if not self.title:
            problems.append("件名（管理用）を入力してください。")
        if not self.department:
            problems.append("課を選んでください。")
        if not self.category:
            problems.append("情報の種類を選んでください。")
        messages = self.message_json(problems)
        target = self.target.to_json(problems)
        schedule = self.schedule.to_json(problems)
        if problems:
            raise DeliveryFormError(problems)
        return {"department": self.department, "title": self.title, "category": self.category,
                "messages": messages, "target": target, "schedule": schedule}

    def preview(self) -> list[Any]:
        """The messages as far as they can be read (the preview shows them even with problems)."""
        return self.message_json([])

    @classmethod
    def from_delivery(cls, delivery: Delivery) -> DeliveryForm:
        return cls(title=delivery.title, department=delivery.department, category=delivery.category,
                   messages=tuple(MessageForm.from_json(m) for m in delivery.messages),
                   target=TargetForm.from_json(delivery.target), schedule=RuleForm.from_json(delivery.schedule),
                   version=delivery.version)


# --- words --------------------------------------------------------------------------------------------


def describe_rule(rule: Any) -> str:
    """The rule in Japanese, as the dispatcher words it (``毎週 月・木 7:30（祝日は翌平日）``)."""
    if not isinstance(rule, Mapping):
        return "なし（承認後に「送信」を押して配信）"
    notes: list[str] = []
    kind = rule.get("kind")
    if kind == "once":
        moment = _moment(rule.get("at"))
        if moment is None:
            return "1回"
        local = moment.astimezone(TOKYO)
        return f"{local.year}年{local.month}月{local.day}日（{WEEKDAY_NAMES[local.weekday()]}）{local.hour}:{local:%M}"
    clock = str(rule.get("time") or "")
    clock = clock[1:] if clock.startswith("0") and len(clock) == 5 else clock
    if kind == "weekly":
        days = "・".join(WEEKDAY_NAMES[WEEKDAY_KEYS.index(d)] for d in rule.get("weekdays") or () if d in WEEKDAY_KEYS)
        text = f"毎週 {days} {clock}"
    elif rule.get("day") is not None:
        text = f"毎月 {rule['day']}日 {clock}"
        if int(rule["day"]) > 28:
            notes.append("ない月は月末")
    else:
        weeks = "・".join("最終" if w == "last" else f"第{w}" for w in rule.get("weeks") or ())
        weekday = str(rule.get("weekday") or "mon")
        name = WEEKDAY_NAMES[WEEKDAY_KEYS.index(weekday)] if weekday in WEEKDAY_KEYS else weekday
        text = f"毎月 {weeks}{name}曜 {clock}"
    holidays = str(rule.get("holidays") or "send")
    if holidays != "send":
        notes.append(HOLIDAY_LABELS.get(holidays, holidays))
    if notes:
        text += f"（{'・'.join(notes)}）"
    if rule.get("until"):
        until = date.fromisoformat(str(rule["until"]))
        text += f"、{until.year}年{until.month}月{until.day}日まで"
    return text


def describe_message(message: Any) -> str:
    """One message in words (what changed lines quote)."""
    if not isinstance(message, Mapping):
        return "（形式が正しくないメッセージ）"
    kind = message.get("type")
    if kind == "text":
        text = str(message.get("text", ""))
        return f"テキスト「{text[:40]}{'…' if len(text) > 40 else ''}」"
    if kind == "sticker":
        return f"スタンプ（{message.get('packageId')}/{message.get('stickerId')}）"
    if kind == "image":
        return "画像"
    return f"{KIND_LABELS.get(str(kind), str(kind))}「{str(message.get('altText', ''))[:40]}」"


def describe_target(target: Any, segment_names: Mapping[str, str] | None = None) -> str:
    if not isinstance(target, Mapping) or target.get("kind") == "everyone":
        return "友だち全員"
    unanswered = UNANSWERED_LABELS.get(str(target.get("unanswered") or "auto"), "")
    if target.get("kind") == "segment":
        segment_id = str(target.get("segmentId"))
        name = (segment_names or {}).get(segment_id, segment_id)
        return f"セグメント「{name}」（{unanswered}）"
    return f"条件を指定（{unanswered}）"


def changes(delivery: Delivery, category_labels: Mapping[str, str] | None = None,
            segment_names: Mapping[str, str] | None = None) -> list[str] | None:
    """What changed since the delivery was last approved or rejected, one Japanese line each; None when it
    was never reviewed (everything is new to the approver)."""
    before = delivery.reviewed
    if before is None:
        return None
    labels = category_labels or {}
    lines = []
    if before.title != delivery.title:
        lines.append(f"件名: 「{before.title}」→「{delivery.title}」")
    if before.category != delivery.category:
        lines.append(f"情報の種類: {labels.get(before.category, before.category)} → "
                     f"{labels.get(delivery.category, delivery.category)}")
    for number in range(1, max(len(before.messages), len(delivery.messages)) + 1):
        old = before.messages[number - 1] if number <= len(before.messages) else None
        new = delivery.messages[number - 1] if number <= len(delivery.messages) else None
        if old == new:
            continue
        if old is None:
            lines.append(f"メッセージ{number}件目を追加: {describe_message(new)}")
        elif new is None:
            lines.append(f"メッセージ{number}件目を削除: {describe_message(old)}")
        else:
            lines.append(f"メッセージ{number}件目を変更: {describe_message(old)} → {describe_message(new)}")
    if before.target != delivery.target:
        lines.append(f"配信先: {describe_target(before.target, segment_names)} → "
                     f"{describe_target(delivery.target, segment_names)}")
    if before.schedule != delivery.schedule:
        lines.append(f"配信日時: {describe_rule(before.schedule)} → {describe_rule(delivery.schedule)}")
    return lines


@dataclass(frozen=True)
class DeliveryRow:
    delivery: Summary
    department_name: str
    category_label: str


@dataclass(frozen=True)
class DeliveryList:
    rows: tuple[DeliveryRow, ...] | None  # None: the dispatcher did not answer
    awaiting_me: int | None  # 承認待ち the member may approve


def group_digits(value: int) -> str:
    return f"{value:,}"


@dataclass(frozen=True)
class ComposeChoices:
    """What the compose page offers; None where the owning service did not answer."""

    categories: tuple[tuple[str, str], ...] | None  # (key, label) from the taxonomy
    segments: tuple[tuple[str, str, str], ...] | None  # (id, name, department)
    templates: tuple[DeliveryTemplate, ...] | None
    test_recipients: tuple[TestRecipient, ...] | None

    @property
    def category_labels(self) -> dict[str, str]:
        return dict(self.categories or ())

    @property
    def segment_names(self) -> dict[str, str]:
        return {segment_id: name for segment_id, name, _department in self.segments or ()}
