"""The English catalogue: compiled (.mo) from its source (.po), and complete."""

import ast
from importlib.resources import files

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

MESSAGES = files("admin_ui").joinpath("translations/en/LC_MESSAGES")


def test_the_compiled_catalogue_matches_its_source_and_translates_everything():
    with MESSAGES.joinpath("messages.po").open("rb") as handle:
        source = read_po(handle)
    with MESSAGES.joinpath("messages.mo").open("rb") as handle:
        compiled = read_mo(handle)
    source_messages = {m.id: m.string for m in source if m.id}
    assert source_messages == {m.id: m.string for m in compiled if m.id}, "run pybabel compile (see the .po header)"
    assert all(source_messages.values()), [k for k, v in source_messages.items() if not v]
    assert source_messages["サインイン"] == "Sign in"


def test_the_catalogue_holds_exactly_the_strings_the_code_and_templates_use():
    """A string added without its translation, or a translation left behind by a removed string,
    fails here (run pybabel extract/update, see the .po header)."""
    from pathlib import Path

    from babel.messages.extract import extract_from_dir

    package = Path(str(files("admin_ui")))
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    used: set[str] = set()
    for _filename, _line, message, _comments, _context in extract_from_dir(
        package, method_map, options_map={"templates/**.html": {"extensions": "jinja2.ext.i18n"}},
    ):
        used.update([message] if isinstance(message, str) else [part for part in message if part])
    # Domain rules name their messages in plain Japanese (no I/O, no Babel there); the entrypoints
    # translate them when shown. Any string literal of the package counts as used.
    literals: set[str] = set()
    for source in package.rglob("*.py"):
        literals.update(node.value for node in ast.walk(ast.parse(source.read_text()))
                    if isinstance(node, ast.Constant) and isinstance(node.value, str))
    from admin_ui.domain.accounts import PASSWORD_MAX, password_problems

    literals.update(password_problems("x") + password_problems("x" * (PASSWORD_MAX + 1)))  # formatted ones
    with MESSAGES.joinpath("messages.po").open("rb") as handle:
        catalogue = {m.id for m in read_po(handle) if m.id}
    catalogue = {m if isinstance(m, str) else m[0] for m in catalogue}
    assert sorted(used - catalogue) == [], "strings without a translation"
    assert sorted(catalogue - used - literals) == [], "translations nothing uses"
