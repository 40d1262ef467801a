"""A department without a designer: LINE's image limits, templates that tile the image exactly, and design
data (デザインデータ) the city can export and read back."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from richmenu_service.domain.images import (
    MAX_IMAGE_BYTES,
    TEMPLATES,
    ButtonDesign,
    CellRole,
    Design,
    ImageFacts,
    InvalidDesign,
    check_design,
    check_image,
    design_from_dict,
    design_to_dict,
    layout,
)
from richmenu_service.domain.menus import (
    COMPACT,
    LARGE,
    MIN_ASPECT_PERCENT,
    Area,
    MessageAction,
    Size,
    Tab,
    validate_tab,
)

WRONG_SIZE = "画像の大きさがメニューと違います（画像 {}、メニュー 2500×1686）。"
TOO_BIG = "画像のファイルサイズは1MB（1,000KB）以内にしてください（現在 {}KB）。"


@pytest.mark.parametrize(("facts", "expected"), [
    (ImageFacts("png", 2500, 1686, MAX_IMAGE_BYTES), []),
    (ImageFacts("jpeg", 2500, 1686, 1), []),
    (ImageFacts("JPG", 2500, 1686, 1), []),
    (ImageFacts("gif", 2500, 1686, 1), ["画像の形式は JPEG か PNG にしてください（この画像は GIF）。"]),
    (ImageFacts("png", 2500, 1686, MAX_IMAGE_BYTES + 1), [TOO_BIG.format("1,001")]),
    (ImageFacts("png", 2500, 843, 1), [WRONG_SIZE.format("2500×843")]),
    (ImageFacts("webp", 1200, 810, 2_400_000), ["画像の形式は JPEG か PNG にしてください（この画像は WEBP）。",
                                                TOO_BIG.format("2,400"),
                                                WRONG_SIZE.format("1200×810")]),
])
def test_image_limits(facts, expected):
    assert check_image(facts, LARGE) == expected


def test_six_buttons_on_the_large_menu():
    cells = layout(TEMPLATES["grid-3x2"], LARGE)
    assert [(c.bounds.x, c.bounds.y, c.bounds.width, c.bounds.height) for c in cells] == [
        (0, 0, 833, 843), (833, 0, 833, 843), (1666, 0, 834, 843),
        (0, 843, 833, 843), (833, 843, 833, 843), (1666, 843, 834, 843)]


def test_a_tabbed_header_has_one_cell_per_tab_above_the_buttons():
    cells = layout(TEMPLATES["tabs-3x2"], LARGE, tabs=2)
    tabs = [c for c in cells if c.role is CellRole.TAB]
    assert [(c.index, c.bounds.x, c.bounds.width, c.bounds.height) for c in tabs] == [(0, 0, 1250, 337),
                                                                                     (1, 1250, 1250, 337)]
    assert [c.index for c in cells if c.role is CellRole.BUTTON] == list(range(6))


sizes = st.builds(Size, st.integers(800, 2500), st.integers(250, 1724)).filter(
    lambda s: 100 * s.width >= MIN_ASPECT_PERCENT * s.height)


@settings(deadline=None, max_examples=300)
@given(template=st.sampled_from(sorted(TEMPLATES)), size=sizes, tabs=st.integers(1, 5))
def test_templates_tile_the_image_exactly(template, size, tabs):
    cells = layout(TEMPLATES[template], size, tabs)
    assert sum(c.bounds.width * c.bounds.height for c in cells) == size.width * size.height
    for i, cell in enumerate(cells):
        assert cell.bounds.x >= 0 and cell.bounds.y >= 0 and cell.bounds.width >= 1 and cell.bounds.height >= 1
        assert cell.bounds.right <= size.width and cell.bounds.bottom <= size.height
        assert not any(cell.bounds.overlaps(other.bounds) for other in cells[i + 1:])
    # Inside, no overlap and the areas add up: the cells cover the image. And LINE takes them as they are.
    areas = tuple(Area(c.bounds, MessageAction("a")) for c in cells)
    assert validate_tab(Tab("t", "t", "メニュー", size, areas)) == []


def test_a_template_cannot_be_laid_on_a_tiny_image():
    with pytest.raises(ValueError, match="too small"):
        layout(TEMPLATES["grid-3x2"], Size(2, 2))


def kosodate_design(**changes):
    values = dict(template_id="tabs-3x1", size=LARGE,
                  buttons=(ButtonDesign("健診の予約", "calendar"), ButtonDesign("保育所", "child", "#FCE4EC"),
                           ButtonDesign("手当・助成", "yen")),
                  tab_labels=("くらし", "子育て"), current_tab=1)
    values.update(changes)
    return Design(**values)


def test_design_data_round_trips_through_json():
    design = kosodate_design()
    assert check_design(design) == []
    exported = json.loads(json.dumps(design_to_dict(design), ensure_ascii=False))
    assert exported["templateId"] == "tabs-3x1" and exported["format"] == 1
    assert exported["buttons"][1] == {"label": "保育所", "icon": "child", "background": "#FCE4EC"}
    assert design_from_dict(exported) == design


@pytest.mark.parametrize(("changes", "expected"), [
    (dict(template_id="grid-9x9"), ["テンプレート「grid-9x9」はありません。"]),
    (dict(buttons=(ButtonDesign("a"),)), ["このテンプレートのボタンは3個です（現在1個）。"]),
    (dict(buttons=(ButtonDesign(" "), ButtonDesign("あ" * 13), ButtonDesign("あ" * 12, "Bad Icon", "red"))),
     ["1番目のボタン: 文字を入力してください。", "2番目のボタン: 文字は12文字以内にしてください（現在13文字）。",
      "3番目のボタン: アイコン「Bad Icon」はありません。",
      "3番目のボタン: 色「red」は #RRGGBB の形で指定してください。"]),
    (dict(tab_labels=()), ["タブ見出しの文字を1つ以上入力してください。", "選択中のタブの指定が正しくありません。"]),
    (dict(current_tab=2), ["選択中のタブの指定が正しくありません。"]),
    (dict(template_id="grid-3x1", size=COMPACT), ["このテンプレートにはタブ見出しがありません。"]),
    (dict(background="#FFF"), ["背景の色「#FFF」は #RRGGBB の形で指定してください。"]),
])
def test_design_problems(changes, expected):
    assert check_design(kosodate_design(**changes)) == expected


def test_broken_design_data_is_refused_with_reasons():
    with pytest.raises(InvalidDesign) as caught:
        design_from_dict({"format": 2})
    assert caught.value.problems == ["デザインデータの形式が正しくありません（format 1 が必要です）。"]
    with pytest.raises(InvalidDesign) as caught:
        design_from_dict({"format": 1, "templateId": "grid-3x2"})
    assert caught.value.problems == ["デザインデータに足りない項目か、形の違う項目があります。"]
    data = design_to_dict(kosodate_design())
    data["buttons"] = data["buttons"][:2]
    with pytest.raises(InvalidDesign) as caught:
        design_from_dict(data)
    assert caught.value.problems == ["このテンプレートのボタンは3個です（現在2個）。"]
