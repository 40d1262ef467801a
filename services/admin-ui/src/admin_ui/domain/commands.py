"""What staff ask the console for. Imperative."""

from __future__ import annotations

from dataclasses import dataclass

from cityline_common.messagebus import Command

from admin_ui.domain.status import SystemStatus


@dataclass(frozen=True)
class ShowSystemStatus(Command[SystemStatus]):
    """システム状態: every process's readiness and the number of friends."""
