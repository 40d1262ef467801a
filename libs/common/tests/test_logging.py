import io
import json
import logging

from cityline_common.logging import JsonFormatter, redact

USER = "U" + "4af4980629" * 3 + "ab"


def test_line_ids_never_reach_the_log_in_clear():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    logger = logging.getLogger("redaction-test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.info("followed by %s", USER, extra={"payload": {"to": [USER], "groupId": "C" + "0" * 32}})
    line = stream.getvalue()
    assert USER not in line
    assert "C" + "0" * 32 not in line
    entry = json.loads(line)
    assert entry["message"].startswith("followed by U#")
    assert entry["payload"]["to"][0] == entry["message"].removeprefix("followed by ")  # same id, same tag
    assert entry["service"] == "test"


def test_redact_leaves_other_text_alone():
    assert redact("delivery 42 sent to 500 residents") == "delivery 42 sent to 500 residents"
    assert redact({"n": 3}) == {"n": 3}


def test_tags_are_keyed_so_nobody_holding_an_id_can_recompute_its_tag():
    import hashlib

    from cityline_common.logging import set_tag_key

    try:
        set_tag_key(b"k" * 32)
        tagged = redact(USER)
        assert tagged == redact(USER)  # stable under one key: an SRE can follow one resident
        assert hashlib.sha256(USER.encode()).hexdigest()[:12] not in tagged  # not a bare hash
        set_tag_key(b"other key" * 4)
        assert redact(USER) != tagged
    finally:
        set_tag_key(None)
