"""Rich menu images, the pure parts: LINE's image limits and layout templates (テンプレート) with their
design data (デザインデータ).

Plain Python, no I/O. Decoding an upload and drawing a template with Pillow are adapters' work; they hand
this module what they learnt (:class:`ImageFacts`) or take what it computes (:func:`layout`).

Decisions:
- An image must be JPEG or PNG, at most 1 MB, and exactly the tab's size (REF#upload-rich-menu-image; a
  different size would put the buttons in the wrong places). "1 MB" is read as 1,000,000 bytes, the stricter
  reading (LINE does not say 1 MiB).
- Templates cut the image into cells whose edges are ``i × length // n``: integer edges, no gaps, no overlap,
  the last cell ending exactly at the image's edge whatever the size. A tabbed template has a header row
  (one cell per tab, the tab switches) above the grid; the header is 1/5 of the height.
- Design data is what the city keeps and exports (仕様: デザインデータ一式, free reuse): template, size,
  labels, icon names, colours, as JSON with a ``format`` version. Icons are named, not embedded: the icon set
  (freely licensed) ships with the adapters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from richmenu_service.domain.menus import COMPACT, LARGE, Bounds, Size

MAX_IMAGE_BYTES = 1_000_000
DESIGN_FORMAT = 1
LABEL_MAX = 12  # two lines of six full-width characters stay legible on a 3-column phone menu
COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")
ICON_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
HEADER_SHARE = 5  # the tab header is 1/HEADER_SHARE of the height


class ImageFormat(StrEnum):
    JPEG = "jpeg"
    PNG = "png"


@dataclass(frozen=True)
class ImageFacts:
    """What an adapter found in an uploaded or generated file (``format`` as decoded, e.g. "png", "gif")."""

    format: str
    width: int
    height: int
    byte_count: int


def check_image(facts: ImageFacts, size: Size) -> list[str]:
    """Every reason LINE would refuse ``facts`` as the image of a tab of ``size``, in Japanese."""
    problems = []
    if facts.format.lower() not in {f.value for f in ImageFormat} | {"jpg"}:
        problems.append(f"画像の形式は JPEG か PNG にしてください（この画像は {facts.format.upper()}）。")
    if facts.byte_count > MAX_IMAGE_BYTES:
        kilobytes = -(-facts.byte_count // 1000)  # rounded up: 1,000,001 bytes must not read as 1,000KB
        problems.append(f"画像のファイルサイズは1MB（1,000KB）以内にしてください（現在 {kilobytes:,}KB）。")
    if (facts.width, facts.height) != (size.width, size.height):
        problems.append(f"画像の大きさがメニューと違います（画像 {facts.width}×{facts.height}、メニュー {size}）。")
    return problems


# -- layout templates ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LayoutTemplate:
    template_id: str
    title: str  # for the console
    columns: int
    rows: int
    tab_header: bool
    suggested_size: Size

    @property
    def buttons(self) -> int:
        return self.columns * self.rows


TEMPLATES: dict[str, LayoutTemplate] = {t.template_id: t for t in (
    LayoutTemplate("grid-3x2", "ボタン6個（3列×2段）", 3, 2, False, LARGE),
    LayoutTemplate("grid-2x2", "ボタン4個（2列×2段）", 2, 2, False, LARGE),
    LayoutTemplate("grid-3x1", "ボタン3個（3列・小）", 3, 1, False, COMPACT),
    LayoutTemplate("grid-2x1", "ボタン2個（2列・小）", 2, 1, False, COMPACT),
    LayoutTemplate("tabs-3x2", "タブ見出し＋ボタン6個", 3, 2, True, LARGE),
    LayoutTemplate("tabs-3x1", "タブ見出し＋ボタン3個", 3, 1, True, LARGE),
)}


class CellRole(StrEnum):
    TAB = "tab"  # a tab in the header: switches to that tab
    BUTTON = "button"


@dataclass(frozen=True)
class Cell:
    role: CellRole
    index: int  # 0-based among cells of the same role, left to right, top to bottom
    bounds: Bounds


def _edges(start: int, length: int, parts: int) -> list[int]:
    return [start + i * length // parts for i in range(parts + 1)]


def _grid(role: CellRole, region: Bounds, columns: int, rows: int) -> list[Cell]:
    xs, ys = _edges(region.x, region.width, columns), _edges(region.y, region.height, rows)
    return [Cell(role, r * columns + c, Bounds(xs[c], ys[r], xs[c + 1] - xs[c], ys[r + 1] - ys[r]))
            for r in range(rows) for c in range(columns)]


def layout(template: LayoutTemplate, size: Size, tabs: int = 1) -> list[Cell]:
    """The cells of ``template`` on an image of ``size``: they tile the image exactly. ``tabs``: how many tabs the
    header shows (tabbed templates only)."""
    if tabs < 1 or size.width < max(template.columns, tabs) or size.height < template.rows + HEADER_SHARE:
        raise ValueError("the image is too small for the template")
    if not template.tab_header:
        return _grid(CellRole.BUTTON, Bounds(0, 0, size.width, size.height), template.columns, template.rows)
    header = size.height // HEADER_SHARE
    return (_grid(CellRole.TAB, Bounds(0, 0, size.width, header), tabs, 1)
            + _grid(CellRole.BUTTON, Bounds(0, header, size.width, size.height - header),
                    template.columns, template.rows))


# -- design data (デザインデータ) --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ButtonDesign:
    label: str  # 「ごみの出し方」
    icon: str | None = None  # a name from the icon set, e.g. "trash"
    background: str | None = None  # #RRGGBB; None: the design's button colour


@dataclass(frozen=True)
class Design:
    """Everything needed to draw a tab's image again from a template."""

    template_id: str
    size: Size
    buttons: tuple[ButtonDesign, ...]
    tab_labels: tuple[str, ...] = ()  # header, tabbed templates only
    current_tab: int = 0  # which header tab is drawn as selected
    background: str = "#FFFFFF"
    button_colour: str = "#E8F1FB"
    text_colour: str = "#1A1A1A"
    accent_colour: str = "#0B5CAD"  # the selected tab and icons


class InvalidDesign(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


def check_design(design: Design) -> list[str]:
    """Every problem of the design data, in Japanese."""
    template = TEMPLATES.get(design.template_id)
    if template is None:
        return [f"テンプレート「{design.template_id}」はありません。"]
    problems = []
    if len(design.buttons) != template.buttons:
        problems.append(f"このテンプレートのボタンは{template.buttons}個です（現在{len(design.buttons)}個）。")
    for number, button in enumerate(design.buttons, start=1):
        problems.extend(f"{number}番目のボタン: {text}" for text in _check_button(button))
    if template.tab_header:
        if not design.tab_labels:
            problems.append("タブ見出しの文字を1つ以上入力してください。")
        if any(not label.strip() or len(label) > LABEL_MAX for label in design.tab_labels):
            problems.append(f"タブ見出しの文字は1〜{LABEL_MAX}文字にしてください。")
        if not 0 <= design.current_tab < max(len(design.tab_labels), 1):
            problems.append("選択中のタブの指定が正しくありません。")
    elif design.tab_labels:
        problems.append("このテンプレートにはタブ見出しがありません。")
    for what, colour in (("背景", design.background), ("ボタン", design.button_colour),
                         ("文字", design.text_colour), ("強調", design.accent_colour)):
        if not COLOUR.fullmatch(colour):
            problems.append(f"{what}の色「{colour}」は #RRGGBB の形で指定してください。")
    try:
        layout(template, design.size, max(len(design.tab_labels), 1))
    except ValueError:
        problems.append(f"画像（{design.size}）が小さすぎてこのテンプレートを使えません。")
    return problems


def _check_button(button: ButtonDesign) -> list[str]:
    problems = []
    if not button.label.strip():
        problems.append("文字を入力してください。")
    elif len(button.label) > LABEL_MAX:
        problems.append(f"文字は{LABEL_MAX}文字以内にしてください（現在{len(button.label)}文字）。")
    if button.icon is not None and not ICON_NAME.fullmatch(button.icon):
        problems.append(f"アイコン「{button.icon}」はありません。")
    if button.background is not None and not COLOUR.fullmatch(button.background):
        problems.append(f"色「{button.background}」は #RRGGBB の形で指定してください。")
    return problems


def design_to_dict(design: Design) -> dict[str, Any]:
    """JSON-ready; :func:`design_from_dict` reads it back (the exported デザインデータ)."""
    return {
        "format": DESIGN_FORMAT,
        "templateId": design.template_id,
        "size": {"width": design.size.width, "height": design.size.height},
        "buttons": [{key: value for key, value in
                     (("label", b.label), ("icon", b.icon), ("background", b.background)) if value is not None}
                    for b in design.buttons],
        "tabLabels": list(design.tab_labels),
        "currentTab": design.current_tab,
        "colours": {"background": design.background, "button": design.button_colour, "text": design.text_colour,
                    "accent": design.accent_colour},
    }


def design_from_dict(data: Any) -> Design:
    """Reads stored or imported design data; raises :class:`InvalidDesign` naming every problem."""
    if not isinstance(data, Mapping) or data.get("format") != DESIGN_FORMAT:
        raise InvalidDesign([f"デザインデータの形式が正しくありません（format {DESIGN_FORMAT} が必要です）。"])
    try:
        size, colours = data["size"], data.get("colours", {})
        design = Design(
            template_id=str(data["templateId"]),
            size=Size(int(size["width"]), int(size["height"])),
            buttons=tuple(ButtonDesign(str(b["label"]), b.get("icon"), b.get("background")) for b in data["buttons"]),
            tab_labels=tuple(str(label) for label in data.get("tabLabels", [])),
            current_tab=int(data.get("currentTab", 0)),
            background=str(colours.get("background", Design.background)),
            button_colour=str(colours.get("button", Design.button_colour)),
            text_colour=str(colours.get("text", Design.text_colour)),
            accent_colour=str(colours.get("accent", Design.accent_colour)),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise InvalidDesign(["デザインデータに足りない項目か、形の違う項目があります。"]) from None
    problems = check_design(design)
    if problems:
        raise InvalidDesign(problems)
    return design
