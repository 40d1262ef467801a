"""Source rules behind IPA's classes that are countered by never writing the dangerous thing at all
(docs/security.md): SQL only through SQLAlchemy with bound parameters, no shell, no mail, no file
named by a request, no markup marked safe. Read from the code of every deployed package (services/
and libs/, not tests, tools or benches), so a new module is checked the day it is added.

``make lint`` (ruff's flake8-bandit rules, ``S``) checks much the same on every file; these tests
state the project's own rules, with their few reasoned exceptions, where a reader finds them."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from testsupport import ROOT

DEPLOYED = sorted(p for top in ("services", "libs") for p in (ROOT / top).glob("*/src/**/*.py")
                  if "migrations/versions" not in p.as_posix())
TEMPLATES = sorted((ROOT / "services").glob("*/src/*/templates/*.html"))


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def calls(tree: ast.AST) -> Iterator[ast.Call]:
    return (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def name_of(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def built_string(node: ast.AST) -> bool:
    """An f-string, ``%`` or ``+`` on strings, or ``.format``: text made from values."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return True
    return isinstance(node, ast.Call) and name_of(node) == "format"


def test_there_is_code_to_check():
    assert len(DEPLOYED) > 50 and len(TEMPLATES) > 10
    assert any(p.name == "flask_app.py" for p in DEPLOYED)


# --- 1. SQL injection: statements are SQLAlchemy constructs or constant text with bound parameters ---------

# Identifiers from the operator's own configuration (a database name, a manifest's schema), quoted;
# never from a request. Migrations (excluded above) insert only constants of their own.
SQL_FROM_CONFIGURATION = {("libs/common/src/cityline_common/migrations.py", "text")}


def test_sql_text_is_never_built_from_values():
    found = []
    for path in DEPLOYED:
        for call in calls(ast.parse(path.read_text(encoding="utf-8"))):
            if (name_of(call) in {"text", "execute", "exec_driver_sql"} and call.args and built_string(call.args[0])
                    and (relative(path), name_of(call)) not in SQL_FROM_CONFIGURATION):
                found.append(f"{relative(path)}:{call.lineno}")
    assert found == [], "SQL built from strings; use SQLAlchemy constructs or text() with :parameters"


# --- 2. OS command injection: no shell, no subprocess in anything deployed ---------------------------------

# cityline-serve replaces itself with gunicorn: os.execv with an argv of its own making (no shell, no
# input from a request).
PROCESS_STARTS = {("libs/common/src/cityline_common/serve.py", "execv")}


def test_deployed_code_starts_no_shell_and_no_command():
    found = []
    for path in DEPLOYED:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                found += [f"{relative(path)}:{node.lineno} imports {n}" for n in names
                          if n.split(".")[0] in {"subprocess", "pty", "commands", "pexpect"}]
        for call in calls(tree):
            if (name_of(call) in {"system", "popen", "spawnl", "spawnv", "execv", "execvp", "execl", "startfile"}
                    and (relative(path), name_of(call)) not in PROCESS_STARTS):
                found.append(f"{relative(path)}:{call.lineno} {name_of(call)}()")
            if any(k.arg == "shell" for k in call.keywords):
                found.append(f"{relative(path)}:{call.lineno} shell=")
    assert found == []


# --- 3. Path traversal: no file is named by a request ---------------------------------------------------

# Operators' command lines name files (the taxonomy CLI reads the YAML its operator gives it).
FILES_FROM_OPERATORS = {"services/segment-service/src/segment_service/entrypoints/taxonomy_cli.py"}


def test_web_code_opens_no_file_named_by_a_request():
    found = []
    for path in DEPLOYED:
        if relative(path) in FILES_FROM_OPERATORS:
            continue
        for call in calls(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(call.func, ast.Name) and call.func.id == "open":
                found.append(f"{relative(path)}:{call.lineno} open()")
            if name_of(call) in {"send_file", "send_from_directory", "safe_join"}:
                found.append(f"{relative(path)}:{call.lineno} {name_of(call)}()")
    assert found == [], "files are read from the package (importlib.resources) or served by Flask's static view"


# --- 5. XSS: every template autoescapes, nothing is marked safe ------------------------------------------

# segno's own SVG of an otpauth URI the service generated (no user text in it): flask_app.qr_svg.
MARKUP_ALLOWED = {"services/admin-ui/src/admin_ui/entrypoints/flask_app.py"}


def test_no_template_marks_text_safe_or_turns_autoescaping_off():
    for path in TEMPLATES:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\|\s*safe\b", text), relative(path)
        assert "autoescape" not in text, relative(path)
        # CSP: scripts only from files of our own (src=), never inline; no inline styles.
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), relative(path)
        assert "style=" not in text and "<style" not in text, relative(path)
        assert not re.search(r"\bon[a-z]+\s*=", text), relative(path)  # no inline event handlers


def test_no_code_marks_strings_safe_or_renders_templates_from_strings():
    found = []
    for path in DEPLOYED:
        for call in calls(ast.parse(path.read_text(encoding="utf-8"))):
            if name_of(call) in {"render_template_string", "Template", "from_string"}:
                found.append(f"{relative(path)}:{call.lineno} {name_of(call)}()")
            if name_of(call) == "Markup" and relative(path) not in MARKUP_ALLOWED:
                found.append(f"{relative(path)}:{call.lineno} Markup()")
            if any(k.arg == "autoescape" for k in call.keywords):
                found.append(f"{relative(path)}:{call.lineno} autoescape=")
    assert found == []


# --- 8. Mail header injection: the platform sends no mail ---------------------------------------------------


def test_the_platform_sends_no_mail():
    found = []
    for path in DEPLOYED:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                found += [f"{relative(path)}:{node.lineno} {n}" for n in names
                          if n.split(".")[0] in {"smtplib", "email", "flask_mail", "sendgrid"}]
    assert found == [], "sending mail? then headers from fixed values only, and a test for CR/LF (IPA 1.8)"


# --- 10. Buffer overflow: no code of ours touches memory directly ---------------------------------------------


def test_no_code_of_ours_touches_memory_directly():
    native = [relative(p) for top in ("services", "libs", "tools")
              for pattern in ("*.c", "*.h", "*.cc", "*.cpp", "*.pyx")
              for p in (ROOT / top).rglob(pattern) if ".egg-info" not in p.as_posix()]
    assert native == []
    found = []
    for path in DEPLOYED:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                found += [f"{relative(path)}:{node.lineno} {n}" for n in names
                          if n.split(".")[0] in {"ctypes", "cffi", "mmap"}]
    assert found == []  # C lives only in pinned, maintained libraries (psycopg2, cryptography, argon2-cffi …)
