"""A department without a designer gets a clean, legible menu image: every template drawn with Japanese labels
and our own icons passes LINE's limits; labels too long or colours too close are refused in plain Japanese;
uploads are read safely (JPEG/PNG only, no decompression bombs) and re-encoded without metadata."""

import io
import zlib
from dataclasses import replace

import pytest
from PIL import Image, ImageChops
from richmenu_service.adapters import images as adapter
from richmenu_service.adapters.images import (
    ICONS,
    FontMissing,
    ImageRejected,
    contrast_ratio,
    facts,
    icon_mask,
    reencode,
    render,
)
from richmenu_service.domain.images import (
    TEMPLATES,
    ButtonDesign,
    CellRole,
    Design,
    InvalidDesign,
    check_image,
    layout,
)
from richmenu_service.domain.menus import COMPACT, LARGE, STANDARD_SIZES, Size


def _font_installed() -> bool:
    try:
        adapter.font_path()
    except FontMissing:
        return False
    return True


needs_font = pytest.mark.skipif(
    not _font_installed(),
    reason="Noto Sans CJK is not installed: apt-get install fonts-noto-cjk (CI installs it via `make browser`)")

LABELS = [("お知らせ", "bell"), ("ごみの出し方", "trash"), ("子育て", "child"), ("健康", "heart"),
          ("防災情報", "alert"), ("施設マップ", "map")]
TAB_LABELS = ("くらし", "子育て", "防災")


def design_for(template_id: str, size: Size | None = None, **changes: object) -> Design:
    template = TEMPLATES[template_id]
    buttons = tuple(ButtonDesign(label, icon) for label, icon in LABELS[:template.buttons])
    design = Design(template_id, size or template.suggested_size, buttons,
                    tab_labels=TAB_LABELS if template.tab_header else ())
    return replace(design, **changes)  # type: ignore[arg-type]


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.convert("RGB")


def pixels(image: Image.Image) -> list[tuple[int, ...]]:
    flattened = getattr(image, "get_flattened_data", None)  # Pillow ≥ 12.1; getdata() is deprecated
    return list(flattened() if flattened is not None else image.getdata())


def ink_in(image: Image.Image, box: tuple[int, int, int, int], background: str) -> int:
    """How many pixels of ``box`` are clearly not the ``background`` colour (text or icon)."""
    region = image.crop(box)
    difference = ImageChops.difference(region, Image.new("RGB", region.size, adapter._rgb(background)))
    return sum(difference.convert("L").histogram()[40:])


# -- drawing -------------------------------------------------------------------------------------------------

@needs_font
@pytest.mark.parametrize("template_id", sorted(TEMPLATES))
def test_every_template_renders_at_its_suggested_size_and_passes_lines_limits(template_id):
    design = design_for(template_id)
    data = render(design)
    assert check_image(facts(data), design.size) == []
    image = decode(data)
    assert image.size == (design.size.width, design.size.height)
    # Every cell carries a label (ink on its button), so no button is blank.
    for cell in layout(TEMPLATES[template_id], design.size, max(len(design.tab_labels), 1)):
        b = cell.bounds
        selected = cell.role is CellRole.TAB and cell.index == design.current_tab
        background = design.accent_colour if selected else design.button_colour
        ink = ink_in(image, (b.x, b.y, b.right, b.bottom), background)
        assert ink > b.width * b.height // 200, (cell, ink)


@needs_font
def test_the_label_is_drawn_where_it_should_be_and_the_icon_above_it():
    design = design_for("grid-3x2")
    image = decode(render(design))
    cell = layout(TEMPLATES["grid-3x2"], design.size)[0]
    b = cell.bounds
    upper = ink_in(image, (b.x, b.y, b.right, b.y + b.height // 2), design.button_colour)
    lower = ink_in(image, (b.x, b.y + b.height // 2, b.right, b.bottom), design.button_colour)
    assert upper > 0 and lower > 0
    # The icon is drawn in the accent colour, the label in the text colour.
    accent, text = adapter._rgb(design.accent_colour), adapter._rgb(design.text_colour)
    colours = set(pixels(image.crop((b.x, b.y, b.right, b.bottom))))
    assert accent in colours and text in colours


@needs_font
@pytest.mark.parametrize("size", STANDARD_SIZES, ids=str)
def test_standard_sizes_render_too(size):
    template_id = "grid-3x2" if size.height * 2 > size.width else "grid-3x1"
    data = render(design_for(template_id, size))
    assert check_image(facts(data), size) == []


@needs_font
def test_selected_tab_is_highlighted():
    design = design_for("tabs-3x1", current_tab=2)
    image = decode(render(design))
    cells = [c for c in layout(TEMPLATES["tabs-3x1"], design.size, 3) if c.role is CellRole.TAB]
    accent = adapter._rgb(design.accent_colour)

    def accent_share(cell):
        b = cell.bounds
        found = pixels(image.crop((b.x, b.y, b.right, b.bottom)))
        return sum(p == accent for p in found) / len(found)

    assert accent_share(cells[2]) > 0.5
    assert accent_share(cells[0]) < 0.05 and accent_share(cells[1]) < 0.05


@needs_font
def test_a_long_label_wraps_onto_two_lines_and_stays_legible():
    lines, size = adapter.fit_label("ごみの出し方・分け方", 700, 300, 120, 36)
    assert lines == ["ごみの出し方・", "分け方"]  # at the natural break, not mid-word
    assert lines[1][0] not in "ー、。"
    assert size >= 36
    data = render(design_for("grid-3x1", buttons=(ButtonDesign("ごみの出し方・分け方", "trash"),
                                                  ButtonDesign("ゴミカレンダー", "calendar"),
                                                  ButtonDesign("お問い合わせ", "phone"))))
    assert check_image(facts(data), COMPACT) == []


@needs_font
def test_a_label_that_cannot_fit_legibly_is_refused_in_japanese(monkeypatch):
    # With the domain's 12-character limit every standard layout fits two legible lines, so raise the legible
    # minimum to make the button too narrow: the label is refused, never drawn in tiny print.
    monkeypatch.setattr(adapter, "MIN_LABEL_PX", 150)
    buttons = (ButtonDesign("住民票の写しの交付請求書", "info"), *(ButtonDesign(x) for x in "二三四五六"))
    with pytest.raises(InvalidDesign) as refused:
        render(design_for("grid-3x2", buttons=buttons))
    assert "1番目のボタン" in str(refused.value) and "長すぎ" in str(refused.value)
    assert "2番目" not in str(refused.value)
    assert adapter.fit_label("住民票の写しの交付請求書", 100, 60, 60, 24) is None


@needs_font
def test_unknown_icon_draws_no_icon_but_the_label():
    design = design_for("grid-2x1", buttons=(ButtonDesign("お知らせ", "no-such-icon"), ButtonDesign("健康")))
    image = decode(render(design))
    accent = adapter._rgb(design.accent_colour)
    assert accent not in set(pixels(image))
    assert icon_mask("no-such-icon", 100) is None


def test_every_icon_draws_something_inside_its_square():
    for name in ICONS:
        mask = icon_mask(name, 120)
        assert mask is not None and mask.size == (120, 120)
        ink = sum(1 for v in pixels(mask) if v > 128)
        assert 120 * 120 // 20 < ink < 120 * 120 * 0.9, name


# -- contrast ------------------------------------------------------------------------------------------------

def test_contrast_ratio_matches_wcag():
    assert contrast_ratio("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)
    assert contrast_ratio("#123456", "#123456") == pytest.approx(1.0)


@pytest.mark.parametrize("changes, where", [
    ({"text_colour": "#999999"}, "ボタンの文字"),
    ({"button_colour": "#333333"}, "ボタンの文字"),
    ({"accent_colour": "#DDE8F5"}, "アイコン"),
])
def test_low_contrast_colours_are_refused_in_plain_japanese(changes, where):
    with pytest.raises(InvalidDesign) as refused:
        render(design_for("grid-3x2", **changes))
    message = str(refused.value)
    assert where in message and "コントラスト比" in message and "読みにくく" in message


def test_a_buttons_own_low_contrast_colour_is_refused():
    buttons = (ButtonDesign("お知らせ", background="#404040"), *(ButtonDesign(x) for x in "二三四五六"))
    with pytest.raises(InvalidDesign, match="1番目のボタンの文字"):
        render(design_for("grid-3x2", buttons=buttons))


def test_the_selected_tab_needs_contrast_too():
    with pytest.raises(InvalidDesign, match="選択中のタブ"):
        render(design_for("tabs-3x1", accent_colour="#8A8A8A", button_colour="#FFFFFF", text_colour="#444444",
                          background="#FFFFFF"))


def test_invalid_design_data_is_refused_before_drawing():
    with pytest.raises(InvalidDesign, match="ボタンは6個"):
        render(design_for("grid-3x2", buttons=(ButtonDesign("一つだけ"),)))


def test_missing_font_names_the_package(monkeypatch):
    monkeypatch.setattr(adapter, "FONT_FILES", ("/nonexistent/NotoSansCJK-Bold.ttc",))
    with pytest.raises(FontMissing, match="fonts-noto-cjk"):
        render(design_for("grid-2x1"))


# -- uploads -------------------------------------------------------------------------------------------------

def encoded(image: Image.Image, kind: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def test_facts_reads_png_and_jpeg():
    png = encoded(Image.new("RGB", (2500, 843), "white"), "PNG")
    assert facts(png) == adapter.ImageFacts("png", 2500, 843, len(png))
    jpeg = encoded(Image.new("RGB", (1200, 810), "white"), "JPEG")
    found = facts(jpeg)
    assert (found.format, found.width, found.height) == ("jpeg", 1200, 810)
    assert check_image(found, Size(1200, 810)) == []


def test_facts_refuses_a_gif():
    gif = encoded(Image.new("RGB", (2500, 843), "white"), "GIF")
    with pytest.raises(ImageRejected, match="JPEG か PNG"):
        facts(gif)


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40], ids=repr)
def test_facts_refuses_garbage(data):
    with pytest.raises(ImageRejected):
        facts(data)


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG claiming ``width`` × ``height``: a decompression bomb's header, its few data bytes broken."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (len(body).to_bytes(4, "big") + kind + body
                + zlib.crc32(kind + body).to_bytes(4, "big"))

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])  # 1-bit grey
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


def test_facts_refuses_a_decompression_bomb_without_decoding_it():
    bomb = _png_header_only(100_000, 100_000)  # 10 gigapixels in a few dozen bytes
    assert len(bomb) < 200
    with pytest.raises(ImageRejected, match="大きすぎ"):
        facts(bomb)


def test_facts_refuses_a_real_compressed_bomb():
    bomb = encoded(Image.new("1", (6000, 6000), 0), "PNG", optimize=True)  # 36 Mpx in a few kB
    assert len(bomb) < 100_000
    with pytest.raises(ImageRejected, match="大きすぎ"):
        facts(bomb)


def test_reencode_strips_exif_and_keeps_the_size():
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"  # Make
    exif[0x0131] = "Secret Software"  # Software
    original = encoded(Image.new("RGB", (2500, 843), (200, 220, 240)), "JPEG", exif=exif.tobytes())
    assert Image.open(io.BytesIO(original)).getexif()
    out = reencode(original, COMPACT)
    image = Image.open(io.BytesIO(out))
    assert image.format == "JPEG" and image.size == (2500, 843)
    assert not image.getexif() and b"Secret Software" not in out and "exif" not in image.info
    assert check_image(facts(out), COMPACT) == []


def test_reencode_drops_png_text_and_flattens_transparency():
    from PIL import PngImagePlugin
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "someone@example.jp")
    original = encoded(Image.new("RGBA", (2500, 1686), (0, 0, 0, 0)), "PNG", pnginfo=info)
    out = reencode(original, LARGE)
    image = Image.open(io.BytesIO(out))
    assert image.format == "PNG" and image.mode == "RGB" and b"someone@example.jp" not in out
    assert image.getpixel((10, 10)) == (255, 255, 255)


def test_reencode_refuses_the_wrong_size():
    with pytest.raises(ImageRejected, match="大きさがメニューと違います"):
        reencode(encoded(Image.new("RGB", (1200, 810), "white"), "PNG"), LARGE)


def test_reencode_keeps_a_noisy_photo_under_one_megabyte():
    noisy = Image.merge("RGB", [Image.effect_noise((2500, 1686), sigma) for sigma in (20, 30, 40)])
    out = reencode(encoded(noisy, "PNG"), LARGE)
    assert check_image(facts(out), LARGE) == []
    assert facts(out).format == "jpeg"  # the PNG was far above 1 MB
