"""docs/manual (管理者操作マニュアル): every image a chapter shows is one the browser tests take (so a
changed screen changes its picture), every image taken is shown somewhere, every chapter is listed
in the index and every link between chapters leads somewhere. Reads files only: no browser."""

from __future__ import annotations

import re
from pathlib import Path

from testsupport.browser import MANUAL, MANUAL_IMAGES

TESTS = Path(__file__).parent
IMAGE = re.compile(r"!\[[^\]]+\]\((images/[^)]+\.png)\)")
LINK = re.compile(r"(?<!!)\[[^\]]+\]\(([^):]*?)(?:#([^)]*))?\)")
HEADING = re.compile(r"^#+ (.+)$", re.MULTILINE)
# A screenshot is named where a test looks at a page: screens.look(page, "01-signin"), shots=(…).
SHOT = re.compile(r'"(\d\d-[a-z0-9-]+)"')


def chapters():
    return sorted(path for path in MANUAL.glob("*.md") if path.name != "README.md")


def shots_taken_by_tests():
    return {name for path in TESTS.glob("test_*.py") for name in SHOT.findall(path.read_text(encoding="utf-8"))}


def test_every_image_of_the_manual_is_taken_by_a_browser_test():
    shown = {match for chapter in chapters() for match in IMAGE.findall(chapter.read_text(encoding="utf-8"))}
    assert shown, "the chapters show screenshots"
    taken = {f"images/{name}.png" for name in shots_taken_by_tests()}
    assert shown <= taken, f"images no test takes: {sorted(shown - taken)}"
    assert taken <= shown, f"screenshots no chapter shows: {sorted(taken - shown)}"
    for image in shown:
        assert (MANUAL / image).is_file(), f"{image} missing: run the browser tests (pytest tests/browser)"


def anchor(heading):
    """The id GitHub gives a heading: lower case, punctuation (full-width too) dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_index_lists_every_chapter_and_every_link_leads_somewhere():
    index = (MANUAL / "README.md").read_text(encoding="utf-8")
    for chapter in chapters():
        assert f"({chapter.name})" in index, f"{chapter.name} is not listed in docs/manual/README.md"
    for page in [MANUAL / "README.md", *chapters()]:
        for target, fragment in LINK.findall(page.read_text(encoding="utf-8")):
            file = (page.parent / target).resolve() if target else page
            assert file.is_file(), f"{page.name} links to a missing {target}"
            if fragment:
                anchors = {anchor(h) for h in HEADING.findall(file.read_text(encoding="utf-8"))}
                assert fragment in anchors, f"{page.name}: no heading #{fragment} in {file.name}"
    assert MANUAL_IMAGES.is_dir()
