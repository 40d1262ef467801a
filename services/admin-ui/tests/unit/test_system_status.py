"""システム状態 as a story, in memory: the console asks every process it knows of."""

from admin_ui.adapters.internal_api import AbstractInternalApi
from admin_ui.bootstrap import status_targets
from admin_ui.domain.commands import ShowSystemStatus
from admin_ui.domain.status import ServiceStatus, StatusTarget
from admin_ui.service_layer.handlers import handlers
from cityline_common.internal_auth import RoleGrant, StaffClaims
from cityline_common.messagebus import MessageBus
from cityline_common.unit_of_work import InMemoryUnitOfWork


class Platform(AbstractInternalApi):
    """Processes that answer or not, and a segment-service that knows how many friends there are."""

    def __init__(self, down: set[str], residents: dict[str, int] | None) -> None:
        self.down = down
        self.residents = residents
        self.asked_for: list[StaffClaims] = []

    def readiness(self, targets: list[StatusTarget]) -> list[ServiceStatus]:
        return [ServiceStatus(target, target.name not in self.down, "") for target in targets]

    def resident_counts(self, staff: StaffClaims) -> dict[str, int] | None:
        self.asked_for.append(staff)
        return self.residents

    def friend_figures(self, staff: StaffClaims, days: int) -> None:
        raise AssertionError("システム状態 does not ask for the dashboard's figures")


class AdminUnitOfWork(InMemoryUnitOfWork):
    pass


VIEWER = StaffClaims("staff-1", (RoleGrant("総務課", "viewer"),))


def test_staff_see_every_process_of_every_service_in_japanese_with_the_friends_count():
    targets = status_targets()
    platform = Platform({"dispatcher"}, {"following": 3, "blocked": 1})
    bus = MessageBus(AdminUnitOfWork, handlers(platform, targets))
    status = bus.handle(ShowSystemStatus(staff=VIEWER))

    shown = {service.name: (service.label, service.state_text) for service in status.services}
    assert shown["segment-consumer"] == ("友だち登録・あいさつ・受信設定チャット", "正常")
    assert shown["dispatcher"] == ("配信", "停止または異常")
    assert {"ingress-webhook", "segment-service", "richmenu-service", "admin-ui", "outbox-relay"} <= set(shown)
    assert "ingress-housekeeping" not in shown  # a CronJob has nothing to ask
    assert status.residents == {"following": 3, "blocked": 1}
    assert platform.asked_for == [VIEWER]  # segment-service is asked on behalf of the signed-in member


def test_without_a_signed_in_member_the_count_is_not_asked_for():
    platform = Platform(set(), {"following": 3, "blocked": 1})
    status = MessageBus(AdminUnitOfWork, handlers(platform, status_targets())).handle(ShowSystemStatus())
    assert status.residents is None
    assert platform.asked_for == []
    assert status.services  # readiness needs no one's rights


def test_a_silent_segment_service_leaves_the_count_empty_rather_than_wrong():
    bus = MessageBus(AdminUnitOfWork, handlers(Platform(set(), None), status_targets()))
    assert bus.handle(ShowSystemStatus(staff=VIEWER)).residents is None
