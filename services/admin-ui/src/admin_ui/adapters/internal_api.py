"""Calls to the other services' internal HTTP APIs (admin-ui never reads their tables).

Every call carries a short-lived token signed for the target service (its manifest name is the
audience) on behalf of the signed-in staff member whose page asks; the target decides what that
member's roles allow (``cityline_common.internal_auth``)."""

from __future__ import annotations

import abc
import logging

import requests
from cityline_common.internal_auth import InternalTokenSigner, StaffClaims

from admin_ui.domain.status import ServiceStatus, StatusTarget

log = logging.getLogger(__name__)

SEGMENT_AUDIENCE = "segment"  # segment-service's manifest name
TOKEN_TTL_SECONDS = 60  # one token per call: it only has to outlive the request


class AbstractInternalApi(abc.ABC):
    @abc.abstractmethod
    def readiness(self, targets: list[StatusTarget]) -> list[ServiceStatus]: ...

    @abc.abstractmethod
    def resident_counts(self, staff: StaffClaims) -> dict[str, int] | None:
        """Friends by status from segment-service, asked on behalf of ``staff``, or None when it does
        not answer (or refuses)."""


class HttpInternalApi(AbstractInternalApi):
    def __init__(self, segment_service_url: str, timeout: float, signer: InternalTokenSigner) -> None:
        self._segment = segment_service_url
        self._timeout = timeout
        self._signer = signer
        self._http = requests.Session()

    def _auth(self, audience: str, staff: StaffClaims) -> dict[str, str]:
        token = self._signer.for_staff(audience, staff, ttl_seconds=TOKEN_TTL_SECONDS)
        return {"Authorization": f"Bearer {token}"}

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

    def resident_counts(self, staff: StaffClaims) -> dict[str, int] | None:
        try:
            response = self._http.get(f"{self._segment}/internal/residents/stats",
                                      headers=self._auth(SEGMENT_AUDIENCE, staff), timeout=self._timeout)
            if response.status_code in (401, 403):
                log.warning("segment-service refused the internal API call",
                            extra={"status": response.status_code, "reason": _reason(response)})
                return None
            response.raise_for_status()
            counts = response.json()
        except (requests.RequestException, ValueError):
            return None
        if not isinstance(counts, dict) or not all(isinstance(v, int) for v in counts.values()):
            return None
        return {str(key): value for key, value in counts.items()}


def _reason(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("reason", ""))[:200] if isinstance(body, dict) else ""
