"""The English catalogue: compiled (.mo) from its source (.po), and complete."""

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
