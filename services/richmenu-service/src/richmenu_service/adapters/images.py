"""Rich menu images with Pillow: drawing a template's image from design data, reading and re-encoding uploads.

Decisions:
- Labels use Noto Sans CJK (Bold, the JP face of the collection) from the OS package ``fonts-noto-cjk``; we do
  not ship a font. Missing font → :class:`FontMissing`, naming the package.
- Icons are our own drawings made with ImageDraw primitives (:data:`ICONS`), so they are under the project's
  licence and the city may reuse them freely. They are drawn 4× larger as a mask and scaled down (smooth edges).
  An unknown icon name draws no icon.
- Legibility: a label is shrunk to fit its button, never below 36 px on a 2500-wide image (scaled with the
  width: the image is shown at phone width whatever its size); if it does not fit on one line it is wrapped
  onto two; if it still does not fit, the design is refused. Text/background colour pairs must reach WCAG's
  4.5:1 contrast (icons, non-text, 3:1); otherwise the design is refused with a plain-Japanese sentence.
- Output is PNG, or JPEG when the PNG would exceed LINE's 1,000,000 bytes; the result always passes
  :func:`check_image` (else :class:`RuntimeError`: a bug, not the user's fault).
- Uploads: only JPEG and PNG are decoded, and the pixel count is checked from the header before any pixel is
  decoded (a small file can unpack into gigabytes: decompression bomb). We never touch Pillow's global
  ``MAX_IMAGE_PIXELS``; our own, stricter limit applies.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Callable
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from richmenu_service.domain.images import (
    MAX_IMAGE_BYTES,
    TEMPLATES,
    Cell,
    CellRole,
    Design,
    ImageFacts,
    InvalidDesign,
    check_design,
    check_image,
    layout,
)
from richmenu_service.domain.menus import Size

FONT_PACKAGE = "fonts-noto-cjk"
FONT_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
)
FONT_INDEX = 0  # Noto Sans CJK JP in the collection
REFERENCE_WIDTH = 2500
MIN_LABEL_PX = 36  # on a REFERENCE_WIDTH-wide image
MAX_LABEL_PX = 120  # likewise
TEXT_CONTRAST = 4.5  # WCAG 2.x 1.4.3 (AA)
ICON_CONTRAST = 3.0  # WCAG 2.x 1.4.11, non-text
MAX_UPLOAD_BYTES = 20_000_000  # refuse before decoding; LINE's own limit (1 MB) is check_image's
MAX_PIXELS = 4096 * 4096  # well above any rich menu (2500 × 1686), far below a bomb
LINE_SPACING = 1.25
WRAP_BELOW = 0.8  # a one-line label smaller than this share of the preferred size may wrap …
WRAP_GAIN = 1.25  # … if two lines make it this much larger
SPLIT_SIZE_SHARE = 0.7  # a natural line break wins over a mid-word one drawn up to 1/0.7 larger
SUPERSAMPLE = 4
_NO_BREAK_START = set("、。，．・ー〜～）」』】！？!?,.)ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮ")


class FontMissing(RuntimeError):
    def __init__(self) -> None:
        super().__init__(f"日本語フォント（Noto Sans CJK）が見つかりません。OS パッケージ {FONT_PACKAGE} を"
                         f"インストールしてください（例: apt-get install {FONT_PACKAGE}）。探した場所: "
                         + "、".join(FONT_FILES))


class ImageRejected(ValueError):
    """An uploaded image we will not use; ``problems``: Japanese sentences for staff."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


# -- fonts and colours ---------------------------------------------------------------------------------------

def font_path() -> Path:
    for candidate in FONT_FILES:
        path = Path(candidate)
        if path.is_file():
            return path
    raise FontMissing()


@cache
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size, index=FONT_INDEX)


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio of two #RRGGBB colours, 1.0 (same) … 21.0 (black on white)."""
    light, dark = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _selected_text_colour(design: Design) -> str:
    """On the selected tab (accent background), whichever of the text and page colours reads better."""
    return max((design.text_colour, design.background), key=lambda c: contrast_ratio(c, design.accent_colour))


def check_contrast(design: Design) -> list[str]:
    """Colour pairs too close to read, in Japanese (the colours must already be #RRGGBB)."""
    problems: list[str] = []

    def pair(what: str, text: str, background: str, minimum: float, advice: str) -> None:
        ratio = contrast_ratio(text, background)
        if ratio < minimum:
            problems.append(f"{what}: 色（{text}）と背景の色（{background}）の差が小さく、読みにくくなります"
                            f"（コントラスト比 {math.floor(ratio * 10) / 10}、{minimum}以上が必要）。{advice}")

    text_advice = "文字を濃く、または背景を薄く（またはその逆に）してください。"
    icon_advice = "強調の色を濃く、またはボタンの色を薄くしてください。"
    backgrounds = {design.button_colour: "ボタン"}
    for number, button in enumerate(design.buttons, start=1):
        if button.background is not None:
            backgrounds.setdefault(button.background, f"{number}番目のボタン")
    for background, where in backgrounds.items():
        pair(f"{where}の文字", design.text_colour, background, TEXT_CONTRAST, text_advice)
    for number, button in enumerate(design.buttons, start=1):
        if button.icon in ICONS:
            background = button.background or design.button_colour
            pair(f"{number}番目のボタンのアイコン", design.accent_colour, background, ICON_CONTRAST, icon_advice)
    template = TEMPLATES.get(design.template_id)
    if template is not None and template.tab_header:
        pair("選択中のタブの文字", _selected_text_colour(design), design.accent_colour, TEXT_CONTRAST,
             "強調の色を濃く（または薄く）して、文字の色との差を大きくしてください。")
    return problems


# -- labels --------------------------------------------------------------------------------------------------

def _line_splits(label: str) -> list[list[str]]:
    """The label on one line, then its two-line splits, best balanced first (never starting a line with 、ー…)."""
    text = label.strip()
    font = _font(font_path(), 100)
    candidates: list[tuple[float, list[str]]] = []
    for i in range(1, len(text)):
        first, second = text[:i].rstrip(), text[i:].lstrip()
        if not first or not second or second[0] in _NO_BREAK_START:
            continue
        natural = text[i - 1] in " 　・/／" or text[i] in " 　"
        widest = max(font.getlength(first), font.getlength(second))
        candidates.append((widest * (0.7 if natural else 1.0), [first, second]))
    return [[text]] + [lines for _, lines in sorted(candidates, key=lambda c: c[0])]


def fit_label(label: str, width: int, height: int, preferred: int, minimum: int) -> tuple[list[str], int] | None:
    """Lines and font size (px) for ``label`` in a ``width`` × ``height`` box: one line at the largest size ≤
    ``preferred`` that fits, else two lines; ``None`` if even two lines need a size below ``minimum``."""
    path = font_path()
    one_line: tuple[list[str], int] | None = None
    wrapped: list[tuple[list[str], int]] = []  # best split first
    for lines in _line_splits(label)[:12]:
        reference = max(_font(path, 100).getlength(line) for line in lines)
        size = min(preferred, int(width * 100 / max(reference, 1)), int(height / (len(lines) * LINE_SPACING)))
        while size >= minimum and max(_font(path, size).getlength(line) for line in lines) > width:
            size -= 1
        if size < minimum:
            continue
        if len(lines) == 1:
            one_line = (lines, size)
            if size >= preferred * WRAP_BELOW:
                return one_line  # big enough on one line: no need to wrap
        else:
            wrapped.append((lines, size))
    largest = max((size for _, size in wrapped), default=0)
    if one_line is not None and largest < one_line[1] * WRAP_GAIN:
        return one_line  # wrapping only when it makes the text clearly larger
    # The best-placed split (a natural break, balanced lines) unless another is much larger.
    return next((fit for fit in wrapped if fit[1] >= largest * SPLIT_SIZE_SHARE), None)


def _draw_label(draw: ImageDraw.ImageDraw, lines: list[str], size: int, *, centre_x: float, top: float,
                colour: str) -> None:
    font = _font(font_path(), size)
    step = size * LINE_SPACING
    for number, line in enumerate(lines):
        draw.text((centre_x, top + step * (number + 0.5)), line, font=font, fill=colour, anchor="mm")


# -- icons (our own drawings: free reuse under the project's licence) -----------------------------------------

Box = tuple[float, float, float, float]


class _Pen:
    """Draws on an ``L`` mask in unit coordinates (0…1 across the icon's square)."""

    def __init__(self, draw: ImageDraw.ImageDraw, side: int) -> None:
        self.draw, self.side = draw, side

    def box(self, x0: float, y0: float, x1: float, y1: float) -> tuple[int, int, int, int]:
        s = self.side
        return round(x0 * s), round(y0 * s), round(x1 * s), round(y1 * s)

    def points(self, *xy: tuple[float, float]) -> list[tuple[int, int]]:
        return [(round(x * self.side), round(y * self.side)) for x, y in xy]

    def ellipse(self, *box: float, on: bool = True) -> None:
        self.draw.ellipse(self.box(*box), fill=255 if on else 0)

    def rect(self, *box: float, on: bool = True, radius: float = 0.0) -> None:
        self.draw.rounded_rectangle(self.box(*box), radius=round(radius * self.side), fill=255 if on else 0)

    def outline(self, *box: float, width: float, radius: float = 0.0) -> None:
        self.draw.rounded_rectangle(self.box(*box), radius=round(radius * self.side), outline=255,
                                    width=round(width * self.side))

    def polygon(self, *xy: tuple[float, float], on: bool = True) -> None:
        self.draw.polygon(self.points(*xy), fill=255 if on else 0)

    def line(self, *xy: tuple[float, float], width: float, on: bool = True) -> None:
        self.draw.line(self.points(*xy), fill=255 if on else 0, width=round(width * self.side))


def _bell(p: _Pen) -> None:
    p.ellipse(0.45, 0.06, 0.55, 0.16)
    p.ellipse(0.24, 0.12, 0.76, 0.62)
    p.rect(0.24, 0.37, 0.76, 0.68)
    p.polygon((0.24, 0.6), (0.76, 0.6), (0.88, 0.76), (0.12, 0.76))
    p.ellipse(0.41, 0.74, 0.59, 0.92)


def _calendar(p: _Pen) -> None:
    p.outline(0.1, 0.18, 0.9, 0.9, width=0.07, radius=0.08)
    p.rect(0.1, 0.18, 0.9, 0.38, radius=0.08)
    p.rect(0.1, 0.3, 0.9, 0.38)
    for x in (0.3, 0.62):
        p.rect(x, 0.08, x + 0.08, 0.28, radius=0.04)
    for row, y in enumerate((0.47, 0.66)):
        for x in (0.22, 0.44, 0.66):
            if (row, x) != (1, 0.66):
                p.rect(x, y, x + 0.12, y + 0.12, radius=0.02)


def _trash(p: _Pen) -> None:
    p.outline(0.38, 0.06, 0.62, 0.2, width=0.06, radius=0.04)
    p.rect(0.14, 0.16, 0.86, 0.26, radius=0.03)
    p.polygon((0.22, 0.32), (0.78, 0.32), (0.72, 0.92), (0.28, 0.92))
    for x in (0.38, 0.5, 0.62):
        p.line((x, 0.42), (x, 0.82), width=0.05, on=False)


def _child(p: _Pen) -> None:
    p.ellipse(0.36, 0.06, 0.64, 0.34)
    p.polygon((0.4, 0.38), (0.6, 0.38), (0.78, 0.72), (0.22, 0.72))
    p.line((0.38, 0.44), (0.14, 0.58), width=0.08)
    p.line((0.62, 0.44), (0.86, 0.58), width=0.08)
    p.rect(0.34, 0.7, 0.45, 0.94, radius=0.04)
    p.rect(0.55, 0.7, 0.66, 0.94, radius=0.04)


def _heart(p: _Pen) -> None:
    p.ellipse(0.08, 0.14, 0.52, 0.58)
    p.ellipse(0.48, 0.14, 0.92, 0.58)
    p.polygon((0.1, 0.46), (0.3, 0.3), (0.5, 0.36), (0.7, 0.3), (0.9, 0.46), (0.5, 0.9))


def _house(p: _Pen) -> None:
    p.polygon((0.5, 0.08), (0.95, 0.5), (0.05, 0.5))
    p.rect(0.18, 0.44, 0.82, 0.92)
    p.rect(0.42, 0.62, 0.58, 0.92, on=False)


def _info(p: _Pen) -> None:
    p.ellipse(0.06, 0.06, 0.94, 0.94)
    p.ellipse(0.43, 0.2, 0.57, 0.34, on=False)
    p.rect(0.44, 0.4, 0.56, 0.78, on=False, radius=0.02)


def _gear(p: _Pen) -> None:
    for step in range(8):
        angle = step * math.pi / 4
        cos, sin = math.cos(angle), math.sin(angle)
        corners = [(r, w) for r, w in ((0.2, -0.09), (0.46, -0.07), (0.46, 0.07), (0.2, 0.09))]
        p.polygon(*[(0.5 + r * cos - w * sin, 0.5 + r * sin + w * cos) for r, w in corners])
    p.ellipse(0.18, 0.18, 0.82, 0.82)
    p.ellipse(0.37, 0.37, 0.63, 0.63, on=False)


def _map(p: _Pen) -> None:
    p.ellipse(0.22, 0.06, 0.78, 0.62)
    p.polygon((0.25, 0.45), (0.75, 0.45), (0.5, 0.94))
    p.ellipse(0.39, 0.23, 0.61, 0.45, on=False)


def _phone(p: _Pen) -> None:
    p.outline(0.26, 0.06, 0.74, 0.94, width=0.07, radius=0.1)
    p.rect(0.42, 0.13, 0.58, 0.17, radius=0.02)
    p.ellipse(0.45, 0.78, 0.55, 0.88)


def _alert(p: _Pen) -> None:
    p.polygon((0.5, 0.06), (0.96, 0.9), (0.04, 0.9))
    p.rect(0.45, 0.32, 0.55, 0.66, on=False, radius=0.03)
    p.ellipse(0.445, 0.71, 0.555, 0.82, on=False)


ICONS: dict[str, Callable[[_Pen], None]] = {
    "bell": _bell,  # お知らせ
    "calendar": _calendar,  # 予定・予約
    "trash": _trash,  # ごみ
    "child": _child,  # 子育て
    "heart": _heart,  # 健康
    "house": _house,  # 住まい・ホーム
    "info": _info,  # 案内
    "gear": _gear,  # 設定
    "map": _map,  # 地図・施設
    "phone": _phone,  # 電話・問い合わせ
    "alert": _alert,  # 防災
}


def icon_mask(name: str, side: int) -> Image.Image | None:
    """The icon as an ``L`` mask of ``side`` × ``side`` (255 = ink), or ``None`` for an unknown name."""
    drawing = ICONS.get(name)
    if drawing is None or side < 1:
        return None
    large = Image.new("L", (side * SUPERSAMPLE, side * SUPERSAMPLE), 0)
    drawing(_Pen(ImageDraw.Draw(large), side * SUPERSAMPLE))
    return large.resize((side, side), Image.Resampling.LANCZOS)


# -- drawing a design ----------------------------------------------------------------------------------------

def render(design: Design) -> bytes:
    """The image of ``design`` (PNG, or JPEG if the PNG would pass 1 MB). Raises :class:`InvalidDesign` for
    design data that is wrong, too low in contrast or with a label that cannot fit legibly, and
    :class:`FontMissing` without the OS font."""
    problems = check_design(design)
    if problems:
        raise InvalidDesign(problems)
    problems = check_contrast(design)
    if problems:
        raise InvalidDesign(problems)
    font_path()  # fail early and clearly without the font
    template = TEMPLATES[design.template_id]
    size = design.size
    scale = size.width / REFERENCE_WIDTH
    minimum = max(math.ceil(MIN_LABEL_PX * scale), 10)
    image = Image.new("RGB", (size.width, size.height), _rgb(design.background))
    draw = ImageDraw.Draw(image)
    cells = layout(template, size, max(len(design.tab_labels), 1))
    for cell in cells:
        if cell.role is CellRole.TAB:
            problems.extend(_draw_tab(draw, design, cell, minimum))
        else:
            problems.extend(_draw_button(image, draw, design, cell, minimum=minimum, scale=scale))
    if problems:
        raise InvalidDesign(problems)
    data = _encode(image)
    trouble = check_image(facts(data), size)
    if trouble:
        raise RuntimeError(f"generated image fails LINE's limits: {trouble}")
    return data


def _inset(cell: Cell, gap: int) -> tuple[int, int, int, int]:
    b = cell.bounds
    return b.x + gap, b.y + gap, b.right - 1 - gap, b.bottom - 1 - gap


def _draw_tab(draw: ImageDraw.ImageDraw, design: Design, cell: Cell, minimum: int) -> list[str]:
    b = cell.bounds
    gap = max(2, min(b.width, b.height) // 30)
    selected = cell.index == design.current_tab
    fill = design.accent_colour if selected else design.button_colour
    text = _selected_text_colour(design) if selected else design.text_colour
    x0, y0, x1, y1 = _inset(cell, gap)
    draw.rounded_rectangle((x0, y0, x1, y1), radius=max(4, (y1 - y0) // 5), fill=fill)
    if selected:  # a bar under the selected tab: not colour alone
        bar = max(3, b.height // 14)
        draw.rectangle((x0 + (x1 - x0) // 5, y1 - bar - gap, x1 - (x1 - x0) // 5, y1 - gap),
                       fill=_selected_text_colour(design))
    label = design.tab_labels[cell.index]
    pad = max(gap * 2, b.height // 10)
    width, height = x1 - x0 - 2 * pad, y1 - y0 - 2 * pad
    fitted = fit_label(label, width, height, min(int(height * 0.6), MAX_LABEL_PX), minimum)
    if fitted is None:
        return [f"{cell.index + 1}番目のタブ見出し「{label}」が長すぎて、読める大きさで収まりません。"
                "短くしてください。"]
    lines, font_size = fitted
    top = (y0 + y1) / 2 - len(lines) * font_size * LINE_SPACING / 2
    _draw_label(draw, lines, font_size, centre_x=(x0 + x1) / 2, top=top, colour=text)
    return []


def _draw_button(image: Image.Image, draw: ImageDraw.ImageDraw, design: Design, cell: Cell, *, minimum: int,
                 scale: float) -> list[str]:
    button = design.buttons[cell.index]
    b = cell.bounds
    gap = max(2, min(b.width, b.height) // 40)
    x0, y0, x1, y1 = _inset(cell, gap)
    fill = button.background or design.button_colour
    draw.rounded_rectangle((x0, y0, x1, y1), radius=max(6, min(x1 - x0, y1 - y0) // 12), fill=fill)
    pad = max(gap * 2, min(x1 - x0, y1 - y0) // 12)
    inner_w, inner_h = x1 - x0 - 2 * pad, y1 - y0 - 2 * pad
    has_icon = button.icon in ICONS
    label_h = int(inner_h * (0.42 if has_icon else 1.0))
    preferred = min(int(MAX_LABEL_PX * scale * (1.0 if has_icon else 1.2)), int(label_h / LINE_SPACING))
    fitted = fit_label(button.label, inner_w, label_h, max(preferred, minimum), minimum)
    if fitted is None:
        return [f"{cell.index + 1}番目のボタン: 文字「{button.label}」が長すぎて、読める大きさ（{minimum}ピクセル以上）"
                "では2行に収まりません。短くしてください。"]
    lines, font_size = fitted
    block = len(lines) * font_size * LINE_SPACING
    if has_icon and button.icon is not None:
        spacing = font_size * 0.4
        side = int(min(inner_w * 0.6, inner_h - block - spacing, inner_h * 0.5))
        mask = icon_mask(button.icon, side)
        top = (y0 + y1) / 2 - (side + spacing + block) / 2
        if mask is not None:
            image.paste(_rgb(design.accent_colour), (round((x0 + x1) / 2 - side / 2), round(top)), mask)
        _draw_label(draw, lines, font_size, centre_x=(x0 + x1) / 2, top=top + side + spacing,
                    colour=design.text_colour)
    else:
        _draw_label(draw, lines, font_size, centre_x=(x0 + x1) / 2, top=(y0 + y1) / 2 - block / 2,
                    colour=design.text_colour)
    return []


def _encode(image: Image.Image, preferred: str = "PNG") -> bytes:
    if preferred == "PNG":
        out = io.BytesIO()
        image.save(out, "PNG", optimize=True)
        if out.tell() <= MAX_IMAGE_BYTES:
            return out.getvalue()
    rgb = image.convert("RGB")
    for quality in (92, 85, 75, 65, 50, 35, 20):
        out = io.BytesIO()
        rgb.save(out, "JPEG", quality=quality, optimize=True)
        if out.tell() <= MAX_IMAGE_BYTES:
            break
    return out.getvalue()


# -- uploads -------------------------------------------------------------------------------------------------

def _open(data: bytes) -> Image.Image:
    """Decodes a JPEG or PNG after checking its size from the header; :class:`ImageRejected` otherwise."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageRejected([f"ファイルが大きすぎます（{MAX_UPLOAD_BYTES // 1_000_000}MB まで）。"])
    too_big = ImageRejected([f"画像の大きさ（縦横のピクセル数）が大きすぎます（{MAX_PIXELS:,}ピクセルまで）。"])
    try:
        with warnings.catch_warnings():  # Pillow warns between its limit and twice it; ours is stricter anyway
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=["PNG", "JPEG"])
    except UnidentifiedImageError:
        raise ImageRejected(["画像の形式は JPEG か PNG にしてください（読み取れない形式です）。"]) from None
    except Image.DecompressionBombError:
        raise too_big from None
    if image.width * image.height > MAX_PIXELS:
        raise too_big
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ImageRejected(["画像が壊れているか、読み取れません。"]) from None
    return image


def facts(data: bytes) -> ImageFacts:
    """What :func:`check_image` needs to know about an uploaded file; raises :class:`ImageRejected` for
    anything but a readable JPEG or PNG of sane dimensions."""
    image = _open(data)
    return ImageFacts(format=(image.format or "").lower(), width=image.width, height=image.height,
                      byte_count=len(data))


def reencode(data: bytes, size: Size) -> bytes:
    """An uploaded designed image, decoded and written again (EXIF, text chunks and other metadata dropped,
    EXIF orientation applied, transparency flattened onto white), JPEG stays JPEG and PNG stays PNG (PNG
    turns JPEG if it would pass 1 MB). Raises :class:`ImageRejected` if LINE would refuse the result."""
    image = _open(data)
    kind = image.format or "PNG"
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        flat = Image.new("RGB", image.size, (255, 255, 255))
        flat.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        image = flat
    else:
        image = image.convert("RGB")
    out = _encode(image, "PNG" if kind == "PNG" else "JPEG")
    problems = check_image(facts(out), size)
    if problems:
        raise ImageRejected(problems)
    return out
