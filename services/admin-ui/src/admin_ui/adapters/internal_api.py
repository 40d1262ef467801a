"""Calls to the other services' internal HTTP APIs (admin-ui never reads their tables)."""

from __future__ import annotations

from typing import Any

import requests

from admin_ui.domain.status import ServiceStatus


class InternalApi:
    def __init__(self, urls: dict[str, str], timeout: float) -> None:
        self._urls = urls
        self._timeout = timeout
        self._http = requests.Session()

    def readiness(self) -> list[ServiceStatus]:
        statuses = []
        for name, base in self._urls.items():
            try:
                response = self._http.get(f"{base}/readyz", timeout=self._timeout)
                checks = response.json().get("checks", {})
                detail = ", ".join(f"{check}: {state}" for check, state in checks.items())
                statuses.append(ServiceStatus(name, response.status_code == 200, detail))
            except (requests.RequestException, ValueError) as exc:
                statuses.append(ServiceStatus(name, False, f"unreachable: {type(exc).__name__}"))
        return statuses

    def resident_counts(self) -> dict[str, Any] | None:
        try:
            response = self._http.get(f"{self._urls['segment-service']}/internal/residents/stats",
                                      timeout=self._timeout)
            response.raise_for_status()
            counts: dict[str, Any] = response.json()
            return counts
        except (requests.RequestException, ValueError):
            return None
