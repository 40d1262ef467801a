"""LINE's id formats: user ``U…``, group ``C…``, room ``R…``, each 32 lower-case hex digits.
The one definition every service, the log redaction and the tests use."""

from __future__ import annotations

import re

LINE_USER_ID = re.compile(r"U[0-9a-f]{32}")
LINE_ID = re.compile(r"\b([URC])([0-9a-f]{32})\b")


def is_line_user_id(value: object) -> bool:
    return isinstance(value, str) and LINE_USER_ID.fullmatch(value) is not None
