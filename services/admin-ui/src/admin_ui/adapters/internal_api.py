"""Calls to the other services' internal HTTP APIs (admin-ui never reads their tables)."""

from __future__ import annotations

import abc

import requests

from admin_ui.domain.status import ServiceStatus, StatusTarget


class AbstractInternalApi(abc.ABC):
    @abc.abstractmethod
    def readiness(self, targets: list[StatusTarget]) -> list[ServiceStatus]: ...

    @abc.abstractmethod
    def resident_counts(self) -> dict[str, int] | None:
        """Friends by status from segment-service, or None when it does not answer."""


class HttpInternalApi(AbstractInternalApi):
    def __init__(self, segment_service_url: str, timeout: float) -> None:
        self._segment = segment_service_url
        self._timeout = timeout
        self._http = requests.Session()

    def readiness(self, targets: list[StatusTarget]) -> list[ServiceStatus]:
        statuses = []
        for target in targets:
            try:
                response = self._http.get(f"{target.url}/readyz", timeout=self._timeout)
                checks = response.json().get("checks", {})
                detail = ", ".join(f"{check}: {state}" for check, state in checks.items())
                statuses.append(ServiceStatus(target, response.status_code == 200, detail))
            except (requests.RequestException, ValueError) as exc:
                statuses.append(ServiceStatus(target, False, f"unreachable: {type(exc).__name__}"))
        return statuses

    def resident_counts(self) -> dict[str, int] | None:
        try:
            response = self._http.get(f"{self._segment}/internal/residents/stats", timeout=self._timeout)
            response.raise_for_status()
            counts = response.json()
        except (requests.RequestException, ValueError):
            return None
        if not isinstance(counts, dict) or not all(isinstance(v, int) for v in counts.values()):
            return None
        return {str(key): value for key, value in counts.items()}
