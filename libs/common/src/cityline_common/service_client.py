"""Calling another service's internal API as this service: a fresh 60-second token per call, a pooled HTTP
session, and one error for "refused or did not answer" carrying the other side's reason."""

from __future__ import annotations

from typing import Any

import requests

from cityline_common.internal_auth import InternalTokenSigner

TOKEN_TTL_SECONDS = 60


class ServiceUnavailable(Exception):
    """The other service refused (``status`` its HTTP status) or did not answer (``status`` None)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class ServiceClient:
    """``call`` raises ``error`` (a :class:`ServiceUnavailable` subclass of the caller's) for any 4xx/5xx,
    with the ``reason`` of the answer's JSON, or for no answer at all."""

    def __init__(self, base_url: str, signer: InternalTokenSigner | None, audience: str, *, caller: str,
                 error: type[ServiceUnavailable] = ServiceUnavailable, timeout: float = 30.0,
                 pool_size: int = 10) -> None:
        self._base = base_url.rstrip("/")
        self._signer, self._audience, self._caller, self._error = signer, audience, caller, error
        self._timeout = timeout
        self._http = requests.Session()
        # Service to service inside the cluster: no proxy from the environment, and no per-call look-up of it
        # (requests reads the proxy variables on every request: ~2 ms of CPU each, measured in richmenu-consumer).
        self._http.trust_env = False
        adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=pool_size)
        self._http.mount("http://", adapter)
        self._http.mount("https://", adapter)

    def _headers(self) -> dict[str, str]:
        if self._signer is None:
            raise self._error(f"INTERNAL_TOKEN_SIGNING_KEY is not set: {self._caller} cannot call {self._audience}")
        return {"Authorization": f"Bearer {self._signer.as_service(self._audience, ttl_seconds=TOKEN_TTL_SECONDS)}"}

    def call(self, method: str, path: str, **options: Any) -> Any:
        """The answer's JSON."""
        try:
            response = self._http.request(method, f"{self._base}{path}", headers=self._headers(),
                                          timeout=self._timeout, **options)
        except requests.RequestException as exc:
            raise self._error(f"{self._audience} did not answer: {type(exc).__name__}") from None
        if response.status_code >= 400:
            try:
                reason = str(response.json().get("reason", ""))[:300]
            except (ValueError, AttributeError):
                reason = ""
            raise self._error(reason or f"HTTP {response.status_code}", response.status_code)
        return response.json()
