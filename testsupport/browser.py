"""Browser tests with Playwright for Python driving Debian's Chromium (scripts/ensure-browser.sh).

* :func:`launch` starts ``/usr/bin/chromium`` (never ``playwright install``'s download).
* :func:`axe_violations` injects ``node_modules/axe-core/axe.min.js`` (package.json) into a page and
  runs it at WCAG 2.1 AA; :func:`describe_violations` says what is wrong and where.
* :class:`TotpCodes` hands out time-based codes an account has not used yet (the console accepts each
  code once, and one step either side of now).
* :data:`MANUAL_IMAGES`: the screenshots of docs/manual, written by the tests that visit the screens.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyotp

from testsupport import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.1 level AA is the sum of these tags (axe-core's naming).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
MANUAL = ROOT / "docs" / "manual"
MANUAL_IMAGES = MANUAL / "images"
VIEWPORT = {"width": 1280, "height": 800}


def launch(playwright: Any) -> Any:
    """Chromium in Japanese (its language pack, chromium-l10n, follows LANG), as on the staff's PCs."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run `make browser` (scripts/ensure-browser.sh)")
    env = {**os.environ, "LANG": "ja_JP.UTF-8", "LANGUAGE": "ja"}
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, env=env)


_axe_source: str | None = None


def axe_source() -> str:
    global _axe_source
    if _axe_source is None:
        if not AXE_JS.is_file():
            raise RuntimeError(f"{AXE_JS} is missing: run `make install` (npm ci installs axe-core)")
        _axe_source = AXE_JS.read_text(encoding="utf-8")
    return _axe_source


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations of WCAG 2.1 A and AA on the page as it is now.

    The script is evaluated through the DevTools protocol, so the page's CSP (script-src 'self') stays
    in force and is not loosened for the test."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    result: list[dict[str, Any]] = page.evaluate(
        """async (tags) => {
            const results = await axe.run(document, {runOnly: {type: 'tag', values: tags},
                                                     resultTypes: ['violations']});
            return results.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html, summary: n.failureSummary})),
            }));
        }""",
        AXE_TAGS,
    )
    return result


def describe_violations(url: str, violations: Iterable[dict[str, Any]]) -> str:
    lines = [f"axe-core (WCAG 2.1 AA) on {url}:"]
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']} <{violation['helpUrl']}>")
        for node in violation["nodes"]:
            summary = " ".join(str(node["summary"] or "").split())
            lines.append(f"    at {node['target']}: {node['html'][:160]}\n      {summary[:400]}")
    return "\n".join(lines)


class TotpCodes:
    """Codes an account has not used: the console refuses a time step at or before the last one it
    accepted, and accepts the current step and one either side. Each code is taken from the current
    step or the next one; when both are used up, this waits for the clock to move on."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def code(self, secret: str) -> str:
        totp = pyotp.TOTP(secret)
        while True:
            now = totp.timecode(datetime.now(UTC))
            step = max(self._last.get(secret, now - 1) + 1, now)
            if step <= now + 1:
                break
            time.sleep(1.0)
        self._last[secret] = step
        return totp.generate_otp(step)

