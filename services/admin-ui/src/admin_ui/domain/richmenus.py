"""リッチメニュー: richmenu-service's JSON as plain data, the editor's forms (menu, template design, rule)
and the labels staff read. Plain Python, no I/O.

richmenu-service keeps the menus, rules and 災害時モード (``services/richmenu-service/API.md``); the console
only shows and edits them on behalf of the signed-in member. The forms read and write the API's JSON:
``from_form`` (a submitted form), ``from_menu`` / ``from_rule`` (what the API answered), ``body`` (what is
sent). Problems found here are :class:`Problem` like the service's, so the editor shows both in place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from admin_ui.domain.deliveries import TOKYO, ServiceRefused, _clock, _count, _moment

# "pending": a publication waiting for LINE's hourly limit (the service answers it; API.md does not list it).
STATUS_LABELS = {"draft": "下書き", "published": "公開中", "changed": "変更あり", "pending": "公開待ち"}
ACTION_LABELS = {
    "uri": "リンクを開く",
    "message": "メッセージを送る",
    "postback": "合図を送る",
    "datetimepicker": "日時を選ぶ",
    "richmenuswitch": "タブを切り替える",
}
PICKER_MODES = {"date": "日付", "time": "時刻", "datetime": "日付と時刻"}
RULE_KINDS = {"default": "既定", "segment": "セグメント別", "period": "期間限定"}
CHANGE_STATUS_LABELS = {"pending": "待機中", "running": "切り替え中", "done": "完了", "failed": "失敗"}
# LINE's classic rich menu sizes (its reference; richmenu-service's domain offers the same).
STANDARD_SIZES = ((2500, 1686), (2500, 843), (1200, 810), (1200, 405), (800, 540), (800, 270))
MAX_TABS = 10
MAX_AREAS = 20  # LINE's limit per rich menu
TITLE_MAX = 100
IMAGE_TYPES = ("image/png", "image/jpeg")
IMAGE_MAX_BYTES = 1_000_000  # LINE's 1 MB, read as the service reads it
DISASTER_CONFIRMATION = "災害時モード"  # the literal the API wants from the console's confirmation step
DEFAULT_COLOURS = {"background": "#FFFFFF", "button": "#E8F1FB", "text": "#1A1A1A", "accent": "#0B5CAD"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong, as the service names it: ``tab`` / ``area`` 1-based, 0 = the set / the tab itself."""

    tab: int
    area: int
    field: str
    text: str

    def __str__(self) -> str:
        return self.text


def parse_problem(body: Any) -> Problem:
    """The API's Problem object, or a plain sentence (image and rule refusals)."""
    if isinstance(body, Mapping):
        return Problem(_number(body.get("tab")), _number(body.get("area")), str(body.get("field") or "")[:100],
                       str(body.get("text") or "")[:500])
    return Problem(0, 0, "", str(body)[:500])


def _number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


class RichMenuRefused(ServiceRefused[Problem]):
    """richmenu-service refused (or did not answer); ``problems``: what is wrong with the menu."""


class RichMenuFormError(ValueError):
    """What is wrong with a form before anything is sent (as problems, to be shown in place)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(" ".join(p.text for p in problems))
        self.problems = problems


# --- the API's JSON as data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MenuSummary:
    id: str
    title: str
    department: str
    version: int
    tab_count: int
    status: str
    published_at: datetime | None
    updated_at: datetime | None
    updated_by: str
    used_by: tuple[str, ...]
    thumbnail_tab: int | None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


def _summary_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    tabs = body.get("tabs")
    thumbnail = body.get("thumbnailTab")
    return {
        "id": str(body["id"]), "title": str(body.get("title") or ""), "department": str(body["department"]),
        "version": int(body["version"]), "tab_count": len(tabs) if isinstance(tabs, list) else _count(tabs) or 0,
        "status": str(body.get("status") or "draft"), "published_at": _moment(body.get("publishedAt")),
        "updated_at": _moment(body.get("updatedAt")), "updated_by": str(body.get("updatedBy") or ""),
        "used_by": tuple(str(rule) for rule in body.get("usedBy") or ()),
        "thumbnail_tab": thumbnail if isinstance(thumbnail, int) and thumbnail >= 1 else None,
    }


def parse_summary(body: Any) -> MenuSummary:
    return MenuSummary(**_summary_fields(body))


@dataclass(frozen=True)
class Area:
    x: int
    y: int
    width: int
    height: int
    action: Mapping[str, Any]

    @property
    def action_label(self) -> str:
        return ACTION_LABELS.get(str(self.action.get("type")), str(self.action.get("type") or ""))


@dataclass(frozen=True)
class TabImage:
    sha256: str
    format: str
    bytes: int
    source: str


@dataclass(frozen=True)
class Tab:
    alias_id: str
    name: str
    chat_bar_text: str
    width: int
    height: int
    selected: bool
    areas: tuple[Area, ...]
    image: TabImage | None
    design: Mapping[str, Any] | None

    @property
    def size_key(self) -> str:
        return f"{self.width}x{self.height}"


def parse_tab(body: Any) -> Tab:
    size, image = body["size"], body.get("image")
    return Tab(
        alias_id=str(body.get("aliasId") or ""), name=str(body.get("name") or ""),
        chat_bar_text=str(body.get("chatBarText") or ""), width=int(size["width"]), height=int(size["height"]),
        selected=bool(body.get("selected")),
        areas=tuple(Area(int(a["bounds"]["x"]), int(a["bounds"]["y"]), int(a["bounds"]["width"]),
                         int(a["bounds"]["height"]), dict(a.get("action") or {})) for a in body.get("areas") or ()),
        image=None if not image else TabImage(str(image.get("sha256") or ""), str(image.get("format") or ""),
                                              _count(image.get("bytes")) or 0, str(image.get("source") or "")),
        design=body.get("design") if isinstance(body.get("design"), Mapping) else None,
    )


@dataclass(frozen=True)
class Publication:
    version: int
    published_at: datetime | None
    published_by: str
    tabs: tuple[tuple[str, str], ...]  # (aliasId, richMenuId)


@dataclass(frozen=True)
class Menu(MenuSummary):
    tabs: tuple[Tab, ...] = ()
    problems: tuple[Problem, ...] = ()
    warnings: tuple[str, ...] = ()
    publication: Publication | None = None

    def tab_problems(self, tab: int, area: int = 0) -> list[Problem]:
        return [p for p in self.problems if p.tab == tab and p.area == area]


def parse_menu(body: Any) -> Menu:
    """richmenu-service's Menu; raises (KeyError, TypeError, ValueError) on anything malformed."""
    published = body.get("publication")
    return Menu(
        **_summary_fields(body), tabs=tuple(parse_tab(tab) for tab in body.get("tabs") or ()),
        problems=tuple(parse_problem(p) for p in body.get("problems") or ()),
        warnings=tuple(str(w) for w in body.get("warnings") or ()),
        publication=None if not published else Publication(
            int(published["version"]), _moment(published.get("publishedAt")), str(published.get("publishedBy") or ""),
            tuple((str(t["aliasId"]), str(t["richMenuId"])) for t in published.get("tabs") or ())),
    )


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str
    kind_label: str
    menu_id: str
    menu_title: str
    department: str
    segment_id: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    priority: int
    enabled: bool
    in_force: bool
    created_at: datetime | None
    created_by: str


def parse_rule(body: Any) -> Rule:
    kind = str(body["kind"])
    return Rule(
        id=str(body["id"]), kind=kind, kind_label=str(body.get("kindLabel") or RULE_KINDS.get(kind, kind)),
        menu_id=str(body["menuId"]), menu_title=str(body.get("menuTitle") or ""),
        department=str(body.get("department") or ""),
        segment_id=None if body.get("segmentId") is None else str(body["segmentId"]),
        starts_at=_moment(body.get("startsAt")), ends_at=_moment(body.get("endsAt")),
        priority=int(body.get("priority") or 0), enabled=bool(body.get("enabled", True)),
        in_force=bool(body.get("inForce")), created_at=_moment(body.get("createdAt")),
        created_by=str(body.get("createdBy") or ""),
    )


@dataclass(frozen=True)
class Rules:
    rules: tuple[Rule, ...]
    line_default: tuple[str, str] | None  # (menuId, title): what a resident in no segment sees on LINE now
    next_change: datetime | None


def parse_rules(body: Any) -> Rules:
    default = body.get("lineDefault")
    return Rules(tuple(parse_rule(r) for r in body["rules"]),
                 None if not default else (str(default["menuId"]), str(default.get("title") or "")),
                 _moment(body.get("nextChange")))


@dataclass(frozen=True)
class Seen:
    """プレビュー: the menu a resident would see, and why."""

    menu_id: str | None
    menu_title: str
    rule: Rule | None
    reason: str


def parse_seen(body: Any) -> Seen:
    rule = body.get("rule")
    return Seen(None if body.get("menuId") is None else str(body["menuId"]), str(body.get("menuTitle") or ""),
                None if not rule else parse_rule(rule), str(body.get("reason") or ""))


@dataclass(frozen=True)
class Change:
    """一括切り替え: one mass change of residents' menus (carried out by richmenu-service's worker)."""

    id: str
    reason: str
    reason_label: str
    status: str
    residents: int | None
    linked: int | None
    unlinked: int | None
    method: str
    started_at: datetime | None
    finished_at: datetime | None
    error: str

    @property
    def status_label(self) -> str:
        return CHANGE_STATUS_LABELS.get(self.status, self.status)

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    @property
    def percent(self) -> int:
        if self.finished:
            return 100
        done = (self.linked or 0) + (self.unlinked or 0)
        return 0 if not self.residents else min(99, done * 100 // self.residents)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "statusLabel": self.status_label, "percent": self.percent,
                "finished": self.finished, "residents": self.residents, "linked": self.linked,
                "unlinked": self.unlinked, "error": self.error}


def parse_change(body: Any) -> Change | None:
    if not body:
        return None
    return Change(
        id=str(body["id"]), reason=str(body.get("reason") or ""),
        reason_label=str(body.get("reasonLabel") or body.get("reason") or ""), status=str(body["status"]),
        residents=_count(body.get("residents")), linked=_count(body.get("linked")),
        unlinked=_count(body.get("unlinked")), method=str(body.get("method") or ""),
        started_at=_moment(body.get("startedAt")), finished_at=_moment(body.get("finishedAt")),
        error=str(body.get("error") or "")[:500],
    )


@dataclass(frozen=True)
class Disaster:
    on: bool
    menu_id: str | None
    menu_title: str
    switched_at: datetime | None
    switched_by: str
    change: Change | None


def parse_disaster(body: Any) -> Disaster:
    return Disaster(bool(body["on"]), None if body.get("menuId") is None else str(body["menuId"]),
                    str(body.get("menuTitle") or ""), _moment(body.get("switchedAt")),
                    str(body.get("switchedBy") or ""), parse_change(body.get("change")))


@dataclass(frozen=True)
class Cell:
    role: str  # "tab" | "button"
    index: int
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class LayoutTemplate:
    id: str
    title: str
    columns: int
    rows: int
    tab_header: bool
    width: int
    height: int
    cells: tuple[Cell, ...]

    @property
    def buttons(self) -> int:
        return sum(1 for cell in self.cells if cell.role == "button") or self.columns * self.rows


@dataclass(frozen=True)
class TemplateCatalogue:
    templates: tuple[LayoutTemplate, ...]
    icons: tuple[str, ...]
    sizes: tuple[tuple[int, int], ...]

    def get(self, template_id: str) -> LayoutTemplate | None:
        return next((t for t in self.templates if t.id == template_id), None)


def parse_catalogue(body: Any) -> TemplateCatalogue:
    return TemplateCatalogue(
        templates=tuple(LayoutTemplate(
            str(t["id"]), str(t.get("title") or t["id"]), int(t["columns"]), int(t["rows"]), bool(t.get("tabHeader")),
            int(t["size"]["width"]), int(t["size"]["height"]),
            tuple(Cell(str(c["role"]), int(c["index"]), int(c["bounds"]["x"]), int(c["bounds"]["y"]),
                       int(c["bounds"]["width"]), int(c["bounds"]["height"])) for c in t.get("cells") or ()))
            for t in body["templates"]),
        icons=tuple(str(icon) for icon in body.get("icons") or ()),
        sizes=tuple((int(s["width"]), int(s["height"])) for s in body.get("sizes") or ()) or STANDARD_SIZES,
    )


# --- the forms --------------------------------------------------------------------------------------------


def _text(form: Any, key: str, limit: int = 300) -> str:
    return str(form.get(key, "") or "").replace("\r\n", "\n").strip()[:limit]


def _int(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 6 else None


def parse_size(value: str) -> tuple[int, int] | None:
    width, _sep, height = value.partition("x")
    w, h = _int(width), _int(height)
    return None if w is None or h is None else (w, h)


@dataclass(frozen=True)
class ActionForm:
    """One tap's action as form fields (the fields of every type are kept; ``to_json`` takes the type's)."""

    type: str = ""
    uri: str = ""
    text: str = ""
    data: str = ""
    display_text: str = ""
    mode: str = "date"
    initial: str = ""
    min: str = ""
    max: str = ""
    target: str = ""  # richmenuswitch: the alias of a tab of the same menu
    label: str = ""

    FIELDS = ("type", "uri", "text", "data", "display_text", "mode", "initial", "min", "max", "target", "label")

    @classmethod
    def from_form(cls, form: Any, prefix: str) -> ActionForm:
        return cls(**{name: _text(form, f"{prefix}_{name}", 1000) for name in cls.FIELDS})

    @classmethod
    def from_json(cls, action: Mapping[str, Any]) -> ActionForm:
        kind = str(action.get("type") or "")
        return cls(type=kind, uri=str(action.get("uri") or ""), text=str(action.get("text") or ""),
                   data="" if kind == "richmenuswitch" else str(action.get("data") or ""),
                   display_text=str(action.get("displayText") or ""), mode=str(action.get("mode") or "date"),
                   initial=str(action.get("initial") or ""), min=str(action.get("min") or ""),
                   max=str(action.get("max") or ""), target=str(action.get("richMenuAliasId") or ""),
                   label=str(action.get("label") or ""))

    def to_json(self) -> dict[str, Any] | None:
        """LINE's action JSON (the service checks the values); None when no type is chosen."""
        body: dict[str, Any]
        if self.type == "uri":
            body = {"type": "uri", "uri": self.uri}
        elif self.type == "message":
            body = {"type": "message", "text": self.text}
        elif self.type == "postback":
            body = {"type": "postback", "data": self.data}
            if self.display_text:
                body["displayText"] = self.display_text
        elif self.type == "datetimepicker":
            body = {"type": "datetimepicker", "data": self.data, "mode": self.mode if self.mode in PICKER_MODES
                    else "date"}
            body.update({key: value for key, value in (("initial", self.initial), ("min", self.min),
                                                       ("max", self.max)) if value})
        elif self.type == "richmenuswitch":
            # LINE wants data with a switch; staff need not invent one: the target names it.
            body = {"type": "richmenuswitch", "richMenuAliasId": self.target,
                    "data": f"richmenu-switch={self.target}"}
        else:
            return None
        if self.label:
            body["label"] = self.label
        return body


@dataclass(frozen=True)
class AreaForm:
    x: str = ""
    y: str = ""
    width: str = ""
    height: str = ""
    action: ActionForm = field(default_factory=ActionForm)
    remove: bool = False

    @property
    def blank(self) -> bool:
        return not any((self.x, self.y, self.width, self.height, self.action.type))

    @classmethod
    def from_area(cls, area: Area) -> AreaForm:
        return cls(str(area.x), str(area.y), str(area.width), str(area.height), ActionForm.from_json(area.action))

    def to_json(self, tab: int, number: int, problems: list[Problem]) -> dict[str, Any] | None:
        bounds = {key: _int(value) for key, value in
                  (("x", self.x), ("y", self.y), ("width", self.width), ("height", self.height))}
        if any(value is None for value in bounds.values()):
            problems.append(Problem(tab, number, "bounds", f"{tab}つ目のタブの{number}番目のボタン: "
                                    "位置（x, y）と大きさ（幅, 高さ）を 0 以上の整数で入力してください。"))
            return None
        action = self.action.to_json()
        if action is None:
            problems.append(Problem(tab, number, "action", f"{tab}つ目のタブの{number}番目のボタン: "
                                    "押したときの動作を選んでください。"))
            return None
        return {"bounds": bounds, "action": action}


@dataclass(frozen=True)
class TabForm:
    alias_id: str = ""
    name: str = ""
    chat_bar_text: str = "メニュー"
    size: str = "2500x1686"
    selected: bool = False
    areas: tuple[AreaForm, ...] = ()
    new_area: AreaForm = field(default_factory=AreaForm)  # 新しいボタン: drawn with the mouse or typed

    @classmethod
    def from_tab(cls, tab: Tab) -> TabForm:
        return cls(tab.alias_id, tab.name, tab.chat_bar_text, tab.size_key, tab.selected,
                   tuple(AreaForm.from_area(area) for area in tab.areas))

    def to_json(self, number: int, problems: list[Problem]) -> dict[str, Any]:
        size = parse_size(self.size) or (2500, 1686)
        areas = []
        for index, area in enumerate(a for a in self.areas if not a.remove):
            areas.append(area.to_json(number, index + 1, problems))
        if not self.new_area.blank:
            areas.append(self.new_area.to_json(number, len(areas) + 1, problems))
        return {"aliasId": self.alias_id, "name": self.name, "chatBarText": self.chat_bar_text,
                "size": {"width": size[0], "height": size[1]}, "selected": self.selected,
                "areas": [area for area in areas if area is not None]}


@dataclass(frozen=True)
class MenuForm:
    """メニューの編集: the set's title and tabs. ``version``: the version opened (None: a new menu)."""

    title: str = ""
    department: str = ""
    tabs: tuple[TabForm, ...] = ()
    version: int | None = None

    @classmethod
    def from_form(cls, form: Any) -> MenuForm:
        tabs = []
        for t in range(1, min(_int(_text(form, "tabs", 3)) or 0, MAX_TABS) + 1):
            prefix = f"t{t}"
            areas = tuple(
                AreaForm(_text(form, f"{prefix}_a{a}_x", 6), _text(form, f"{prefix}_a{a}_y", 6),
                         _text(form, f"{prefix}_a{a}_w", 6), _text(form, f"{prefix}_a{a}_h", 6),
                         ActionForm.from_form(form, f"{prefix}_a{a}"), bool(form.get(f"{prefix}_a{a}_remove")))
                for a in range(1, min(_int(_text(form, f"{prefix}_areas", 3)) or 0, MAX_AREAS) + 1))
            new = AreaForm(_text(form, f"{prefix}_new_x", 6), _text(form, f"{prefix}_new_y", 6),
                           _text(form, f"{prefix}_new_w", 6), _text(form, f"{prefix}_new_h", 6),
                           ActionForm.from_form(form, f"{prefix}_new"))
            tabs.append(TabForm(_text(form, f"{prefix}_alias", 32), _text(form, f"{prefix}_name", 300),
                                _text(form, f"{prefix}_chat", 14), _text(form, f"{prefix}_size", 12) or "2500x1686",
                                bool(form.get(f"{prefix}_selected")), areas, new))
        version = _text(form, "version", 12)
        return cls(_text(form, "title", TITLE_MAX), _text(form, "department", 64), tuple(tabs), _int(version))

    @classmethod
    def from_menu(cls, menu: Menu) -> MenuForm:
        return cls(menu.title, menu.department, tuple(TabForm.from_tab(tab) for tab in menu.tabs), menu.version)

    def tabs_json(self) -> list[dict[str, Any]]:
        problems: list[Problem] = []
        tabs = [tab.to_json(number, problems) for number, tab in enumerate(self.tabs, start=1)]
        if not self.title:
            problems.insert(0, Problem(0, 0, "title", "メニューの名前を入力してください。"))
        if not self.tabs:
            problems.append(Problem(0, 0, "tabs", "タブを1つ以上作ってください。"))
        if problems:
            raise RichMenuFormError(problems)
        return tabs

    def create_body(self) -> dict[str, Any]:
        return {"title": self.title, "department": self.department, "tabs": self.tabs_json()}

    def update_body(self) -> dict[str, Any]:
        if self.version is None:
            raise RichMenuFormError([Problem(0, 0, "version",
                                             "編集を始めた版がわかりません。画面を開き直してください。")])
        return {"title": self.title, "tabs": self.tabs_json(), "version": self.version}

    # The editor's buttons: each changes the form, then the whole form is saved.

    def with_new_tab(self, alias_id: str) -> MenuForm:
        if len(self.tabs) >= MAX_TABS:
            raise RichMenuFormError([Problem(0, 0, "tabs", f"タブは{MAX_TABS}個までです。")])
        size = self.tabs[-1].size if self.tabs else "2500x1686"
        tab = TabForm(alias_id, f"タブ{len(self.tabs) + 1}", "メニュー", size)
        return replace(self, tabs=(*self.tabs, tab))

    def without_tab(self, number: int) -> MenuForm:
        if not 1 <= number <= len(self.tabs) or len(self.tabs) == 1:
            raise RichMenuFormError([Problem(number, 0, "tabs", "最後の1つのタブは削除できません。")])
        return replace(self, tabs=tuple(t for i, t in enumerate(self.tabs, start=1) if i != number))

    def with_tab_moved(self, number: int, step: int) -> MenuForm:
        other = number + step
        if not (1 <= number <= len(self.tabs) and 1 <= other <= len(self.tabs)):
            return self
        tabs = list(self.tabs)
        tabs[number - 1], tabs[other - 1] = tabs[other - 1], tabs[number - 1]
        return replace(self, tabs=tuple(tabs))


def new_alias(seed: str, number: int) -> str:
    """A default alias for a new tab: LINE's aliases are unique per channel, so it carries the menu's id."""
    stem = "".join(ch for ch in seed.lower() if ch.isascii() and ch.isalnum())[:12] or "menu"
    return f"m{stem}-{number}"


@dataclass(frozen=True)
class DesignForm:
    """テンプレートから作成: a template, its labels, icons and colours, and one action per button."""

    template_id: str = "grid-3x2"
    labels: tuple[str, ...] = ()
    icons: tuple[str, ...] = ()
    backgrounds: tuple[str, ...] = ()
    actions: tuple[ActionForm, ...] = ()
    tab_labels: tuple[str, ...] = ()
    current_tab: int = 0
    colours: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_COLOURS))

    SLOTS = 6  # the largest template has six buttons

    @classmethod
    def from_form(cls, form: Any) -> DesignForm:
        slots = range(1, cls.SLOTS + 1)
        tab_count = min(_int(_text(form, "tab_count", 3)) or 0, MAX_TABS)
        return cls(
            template_id=_text(form, "template", 64) or "grid-3x2",
            labels=tuple(_text(form, f"b{n}_label", 40) for n in slots),
            icons=tuple(_text(form, f"b{n}_icon", 64) for n in slots),
            backgrounds=tuple(_text(form, f"b{n}_background", 7) for n in slots),
            actions=tuple(ActionForm.from_form(form, f"b{n}a") for n in slots),
            tab_labels=tuple(_text(form, f"tl{n}", 40) for n in range(1, tab_count + 1)),
            current_tab=max(0, (_int(_text(form, "current_tab", 3)) or 1) - 1),
            colours={key: (_text(form, f"colour_{key}", 7) or default).upper()
                     for key, default in DEFAULT_COLOURS.items()},
        )

    @classmethod
    def from_design(cls, design: Mapping[str, Any] | None, actions: Sequence[Mapping[str, Any]] = (),
                    tab_labels: Sequence[str] = (), current_tab: int = 0) -> DesignForm:
        if not design:
            return cls(tab_labels=tuple(tab_labels), current_tab=current_tab,
                       actions=tuple(ActionForm.from_json(a) for a in actions))
        buttons = [b for b in design.get("buttons") or () if isinstance(b, Mapping)]
        given = design.get("colours")
        colours: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
        return cls(
            template_id=str(design.get("templateId") or "grid-3x2"),
            labels=tuple(str(b.get("label") or "") for b in buttons),
            icons=tuple(str(b.get("icon") or "") for b in buttons),
            backgrounds=tuple(str(b.get("background") or "") for b in buttons),
            actions=tuple(ActionForm.from_json(a) for a in actions),
            tab_labels=tuple(str(t) for t in design.get("tabLabels") or tab_labels),
            current_tab=int(design.get("currentTab") or current_tab),
            colours={key: str(colours.get(key) or default) for key, default in DEFAULT_COLOURS.items()},
        )

    def slot(self, index: int) -> tuple[str, str, str, ActionForm]:
        """The n-th button's (label, icon, background, action), 0-based; blanks past what the form holds."""
        def at(values: Sequence[Any], default: Any) -> Any:
            return values[index] if index < len(values) else default

        return at(self.labels, ""), at(self.icons, ""), at(self.backgrounds, ""), at(self.actions, ActionForm())

    def design(self, template: LayoutTemplate, placeholder: bool = False) -> dict[str, Any]:
        """The design data for ``template``; ``placeholder``: blank labels read ボタン1, ボタン2, … (the preview
        of a template not filled in yet)."""
        buttons = []
        for index in range(template.buttons):
            label, icon, background, _action = self.slot(index)
            button: dict[str, Any] = {"label": label or (f"ボタン{index + 1}" if placeholder else "")}
            if icon:
                button["icon"] = icon
            if background:
                button["background"] = background.upper()
            buttons.append(button)
        design: dict[str, Any] = {"format": 1, "templateId": template.id,
                                  "size": {"width": template.width, "height": template.height},
                                  "buttons": buttons, "colours": dict(self.colours)}
        if template.tab_header:
            labels = [label or (f"タブ{n}" if placeholder else "") for n, label in
                      enumerate(self.tab_labels or ("",), start=1)]
            design["tabLabels"] = labels
            design["currentTab"] = min(self.current_tab, len(labels) - 1)
        return design

    def preview_query(self, template: LayoutTemplate) -> dict[str, str]:
        """The fields the preview's address carries (:meth:`from_form` reads them back; actions do not show)."""
        query = {"template": template.id, "current_tab": str(self.current_tab + 1),
                 "tab_count": str(len(self.tab_labels))}
        query.update({f"colour_{key}": value for key, value in self.colours.items()})
        query.update({f"tl{n}": label for n, label in enumerate(self.tab_labels, start=1)})
        for index in range(template.buttons):
            label, icon, background, _action = self.slot(index)
            query.update({f"b{index + 1}_label": label, f"b{index + 1}_icon": icon,
                          f"b{index + 1}_background": background})
        return {key: value for key, value in query.items() if value}

    def actions_json(self, template: LayoutTemplate) -> list[dict[str, Any]]:
        actions, problems = [], []
        for index in range(template.buttons):
            action = self.slot(index)[3].to_json()
            if action is None:
                problems.append(Problem(0, index + 1, "action",
                                        f"{index + 1}番目のボタン: 押したときの動作を選んでください。"))
            else:
                actions.append(action)
        if problems:
            raise RichMenuFormError(problems)
        return actions


@dataclass(frozen=True)
class RuleForm:
    """表示ルール: the kind, the menu, a segment (セグメント別), a period entered in Japan time (期間限定)."""

    kind: str = "default"
    menu_id: str = ""
    segment_id: str = ""
    starts_on: str = ""
    starts_time: str = "00:00"
    ends_on: str = ""
    ends_time: str = "00:00"
    priority: str = "0"

    @classmethod
    def from_form(cls, form: Any) -> RuleForm:
        return cls(*(_text(form, key, 64) for key in ("kind", "menu_id", "segment_id", "starts_on", "starts_time",
                                                      "ends_on", "ends_time", "priority")))

    @classmethod
    def from_rule(cls, rule: Rule) -> RuleForm:
        def day(moment: datetime | None) -> str:
            return "" if moment is None else moment.astimezone(TOKYO).date().isoformat()

        def clock(moment: datetime | None) -> str:
            return "00:00" if moment is None else moment.astimezone(TOKYO).strftime("%H:%M")

        return cls(rule.kind, rule.menu_id, rule.segment_id or "", day(rule.starts_at), clock(rule.starts_at),
                   day(rule.ends_at), clock(rule.ends_at), str(rule.priority))

    @staticmethod
    def _instant(day: str, at: str, what: str, problems: list[str]) -> str | None:
        try:
            on = date.fromisoformat(day)
        except ValueError:
            problems.append(f"{what}の日付を入力してください。")
            return None
        clock = _clock(at or "00:00")
        if clock is None:
            problems.append(f"{what}の時刻を「9:00」のように入力してください。")
            return None
        return datetime.combine(on, clock, TOKYO).isoformat()

    def body(self) -> dict[str, Any]:
        """The API's rule JSON; raises :class:`RichMenuFormError` (sentences for the whole form)."""
        problems: list[str] = []
        if self.kind not in RULE_KINDS:
            problems.append("ルールの種類を選んでください。")
        if not self.menu_id:
            problems.append("表示するメニューを選んでください。")
        body: dict[str, Any] = {"kind": self.kind, "menuId": self.menu_id}
        priority = self.priority.strip().lstrip("-")
        if not priority or not priority.isascii() or not priority.isdigit() or len(priority) > 4:
            problems.append("優先度は整数で入力してください。")
        else:
            body["priority"] = int(self.priority.strip())
        if self.kind == "segment":
            if not self.segment_id:
                problems.append("セグメントを選んでください。")
            body["segmentId"] = self.segment_id
        if self.kind == "period":
            body["startsAt"] = self._instant(self.starts_on, self.starts_time, "開始", problems)
            body["endsAt"] = self._instant(self.ends_on, self.ends_time, "終了", problems)
            if self.segment_id:
                body["segmentId"] = self.segment_id
        if problems:
            raise RichMenuFormError([Problem(0, 0, "", text) for text in problems])
        return body


# --- what the screens show ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RichMenuRow:
    menu: MenuSummary
    department_name: str
    rules: tuple[Rule, ...]  # the 表示ルール naming it


@dataclass(frozen=True)
class RichMenuList:
    rows: tuple[RichMenuRow, ...] | None  # None: richmenu-service did not answer
    disaster: Disaster | None
    line_default: tuple[str, str] | None


@dataclass(frozen=True)
class RuleRow:
    rule: Rule
    segment_name: str | None
    department_name: str


@dataclass(frozen=True)
class RuleList:
    rules: Rules | None  # None: richmenu-service did not answer
    rows: tuple[RuleRow, ...]
    menus: tuple[MenuSummary, ...]  # every menu; rules may only name published ones (the service says so)
    segments: tuple[tuple[str, str], ...] | None  # (id, name); None: segment-service did not answer

    @property
    def segment_names(self) -> dict[str, str]:
        return dict(self.segments or ())


@dataclass(frozen=True)
class DisasterPage:
    disaster: Disaster | None  # None: richmenu-service did not answer
    menus: tuple[MenuSummary, ...]
    changes: tuple[Change, ...] | None


def describe_period(rule: Rule) -> str:
    """A period as staff read it, in Japan time: 2026-12-29 00:00 〜 2027-01-04 00:00."""
    def local(moment: datetime | None) -> str:
        return "" if moment is None else moment.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M")

    if rule.starts_at is None and rule.ends_at is None:
        return ""
    return f"{local(rule.starts_at)} 〜 {local(rule.ends_at)}"
