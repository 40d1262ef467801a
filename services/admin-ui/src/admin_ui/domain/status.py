"""How the platform is doing, in the words staff read on the console. Plain Python."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StatusTarget:
    """A process the status page asks: its name, its 画面表示名, and where it answers."""

    name: str
    label: str
    url: str


@dataclass(frozen=True)
class ServiceStatus:
    target: StatusTarget
    ready: bool
    detail: str

    @property
    def name(self) -> str:
        return self.target.name

    @property
    def label(self) -> str:
        return self.target.label

    @property
    def state_text(self) -> str:
        return "正常" if self.ready else "停止または異常"


@dataclass(frozen=True)
class SystemStatus:
    services: list[ServiceStatus]
    residents: dict[str, int] | None  # None: segment-service did not answer
