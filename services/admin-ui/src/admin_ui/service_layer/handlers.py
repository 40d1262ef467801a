"""Use cases of the staff console. Each runs inside the bus's unit of work; none commits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from cityline_common.messagebus import Handlers

from admin_ui.adapters.internal_api import AbstractInternalApi
from admin_ui.domain import commands as c
from admin_ui.domain.commands import ShowDashboard, ShowSystemStatus
from admin_ui.domain.dashboard import Dashboard
from admin_ui.domain.security import PasswordHasher
from admin_ui.domain.sessions import SessionPolicy
from admin_ui.domain.status import StatusTarget, SystemStatus
from admin_ui.service_layer import accounts, deliveries, preference_items, richmenus, segments
from admin_ui.service_layer.accounts import AccessConfig
from admin_ui.service_layer.unit_of_work import AbstractAdminUnitOfWork


def show_system_status(
    internal: AbstractInternalApi, targets: list[StatusTarget]
) -> Callable[[ShowSystemStatus, AbstractAdminUnitOfWork], SystemStatus]:
    def handler(command: ShowSystemStatus, uow: AbstractAdminUnitOfWork) -> SystemStatus:
        residents = internal.resident_counts(command.staff) if command.staff is not None else None
        return SystemStatus(services=internal.readiness(targets), residents=residents)

    return handler


def show_dashboard(internal: AbstractInternalApi) -> Callable[[ShowDashboard, AbstractAdminUnitOfWork], Dashboard]:
    def handler(command: ShowDashboard, uow: AbstractAdminUnitOfWork) -> Dashboard:
        return Dashboard(friends=internal.friend_figures(command.staff, command.days))

    return handler


def utc_now() -> datetime:
    return datetime.now(UTC)


def handlers(
    internal: AbstractInternalApi,
    targets: list[StatusTarget],
    hasher: PasswordHasher | None = None,
    clock: Callable[[], datetime] = utc_now,
    sessions: SessionPolicy | None = None,
) -> Handlers[AbstractAdminUnitOfWork]:
    if hasher is None:
        from admin_ui.adapters.passwords import Argon2PasswordHasher

        hasher = Argon2PasswordHasher()
    config = AccessConfig(hasher, clock, sessions or SessionPolicy())
    return (
        Handlers[AbstractAdminUnitOfWork]()
        .command(ShowSystemStatus, show_system_status(internal, targets))
        .command(ShowDashboard, show_dashboard(internal))
        .command(c.SignIn, accounts.sign_in(config))
        .command(c.VerifySecondFactor, accounts.verify_second_factor(config))
        .command(c.StartTotpEnrolment, accounts.start_totp_enrolment(config))
        .command(c.ConfirmTotpEnrolment, accounts.confirm_totp_enrolment(config))
        .command(c.Authenticate, accounts.authenticate(config))
        .command(c.SignOut, accounts.sign_out(config))
        .command(c.EndSession, accounts.end_session(config))
        .command(c.ChangePassword, accounts.change_password(config))
        .command(c.CreateDepartment, accounts.create_department(config))
        .command(c.CreateStaff, accounts.create_staff(config))
        .command(c.ChangeGrants, accounts.change_grants(config))
        .command(c.SetStaffDisabled, accounts.set_staff_disabled(config))
        .command(c.ResetPassword, accounts.reset_password(config))
        .command(c.ResetTwoFactor, accounts.reset_two_factor(config))
        .command(c.SweepExpired, accounts.sweep_expired(config))
        .command(c.ShowSegments, segments.show_segments(internal))
        .command(c.ShowSegmentBuilder, segments.show_builder(internal))
        .command(c.OpenSegment, segments.open_segment(internal))
        .command(c.CountSegment, segments.count_segment(internal))
        .command(c.SaveSegment, segments.save_segment(internal))
        .command(c.DeleteSegment, segments.delete_segment(internal))
        .command(c.ShowPreferenceItems, preference_items.show_items(internal))
        .command(c.PreviewPreferenceItems, preference_items.preview_items(internal))
        .command(c.PublishPreferenceItems, preference_items.publish_items(internal))
        .command(c.ShowFriendAnalysis, preference_items.show_analysis(internal))
        .command(c.ShowAccountTexts, preference_items.show_texts(internal))
        .command(c.SetAccountText, preference_items.set_text(internal))
        .command(c.ShowDeliveries, deliveries.show_deliveries(internal))
        .command(c.ShowApprovals, deliveries.show_approvals(internal))
        .command(c.OpenDelivery, deliveries.open_delivery(internal))
        .command(c.ShowComposeChoices, deliveries.show_compose_choices(internal))
        .command(c.SaveDelivery, deliveries.save_delivery(internal))
        .command(c.ActOnDelivery, deliveries.act_on_delivery(internal))
        .command(c.CountDelivery, deliveries.count_delivery(internal))
        .command(c.CountTarget, deliveries.count_target(internal))
        .command(c.SendTestDelivery, deliveries.send_test(internal))
        .command(c.ShowDeliveryStatistics, deliveries.show_statistics(internal))
        .command(c.UploadDeliveryImage, deliveries.upload_image(internal))
        .command(c.SaveDeliveryTemplate, deliveries.save_template(internal))
        .command(c.ShowDeliveryImage, deliveries.show_image(internal))
        .command(c.ShowRichMenus, richmenus.show_menus(internal))
        .command(c.OpenRichMenu, richmenus.open_menu(internal))
        .command(c.SaveRichMenu, richmenus.save_menu(internal))
        .command(c.DeleteRichMenu, richmenus.delete_menu(internal))
        .command(c.UploadRichMenuImage, richmenus.upload_image(internal))
        .command(c.SaveRichMenuDesign, richmenus.save_design(internal))
        .command(c.PublishRichMenu, richmenus.publish_menu(internal))
        .command(c.ShowRichMenuImage, richmenus.show_image(internal))
        .command(c.ExportRichMenu, richmenus.export_menu(internal))
        .command(c.ShowRichMenuTemplates, richmenus.show_templates(internal))
        .command(c.PreviewRichMenuTemplate, richmenus.preview_template(internal))
        .command(c.ShowRichMenuRules, richmenus.show_rules(internal))
        .command(c.SaveRichMenuRule, richmenus.save_rule(internal))
        .command(c.DeleteRichMenuRule, richmenus.delete_rule(internal))
        .command(c.PreviewResidentMenu, richmenus.preview_resident(internal))
        .command(c.ShowDisaster, richmenus.show_disaster(internal))
        .command(c.SwitchDisaster, richmenus.switch_disaster(internal))
    )
