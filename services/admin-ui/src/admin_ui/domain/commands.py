"""What staff ask the console for. Imperative."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from cityline_common.internal_auth import StaffClaims
from cityline_common.messagebus import Command

from admin_ui.domain.dashboard import DASHBOARD_DAYS, Dashboard
from admin_ui.domain.deliveries import (
    Asset,
    ComposeChoices,
    Delivery,
    DeliveryForm,
    DeliveryList,
    RecipientCount,
    Statistics,
    TargetForm,
)
from admin_ui.domain.friend_analysis import ANALYSIS_DAYS, FriendAnalysis
from admin_ui.domain.permissions import Grant
from admin_ui.domain.preference_items import ItemsDraft, ItemsPreview, ItemsVersion
from admin_ui.domain.results import (
    Authenticated,
    CreatedStaff,
    EnrolmentResult,
    SecondFactorResult,
    SignInResult,
    SweepResult,
    TotpEnrolment,
)
from admin_ui.domain.richmenus import (
    DesignForm,
    DisasterPage,
    Menu,
    MenuForm,
    RichMenuList,
    Rule,
    RuleForm,
    RuleList,
    Seen,
    TemplateCatalogue,
)
from admin_ui.domain.segments import BuilderChoices, SavedSegment, SegmentCount, SegmentForm, SegmentList
from admin_ui.domain.status import SystemStatus


@dataclass(frozen=True)
class ShowSystemStatus(Command[SystemStatus]):
    """システム状態: every process's readiness and the number of friends — the latter asked of
    segment-service on behalf of ``staff`` (the signed-in member); without one it is not asked."""

    staff: StaffClaims | None = None


@dataclass(frozen=True)
class ShowDashboard(Command[Dashboard]):
    """ダッシュボード: 友だち数, ブロック数 and 日別の増減 of the last ``days`` days, asked of
    segment-service on behalf of ``staff``. One cheap call: no readiness probes (システム状態 has them)."""

    staff: StaffClaims
    days: int = DASHBOARD_DAYS


# --- signing in -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn(Command[SignInResult]):
    """The password step: on success a new session (awaiting the second factor or its set-up)."""

    login_id: str
    password: str = field(repr=False)
    address: str
    user_agent: str


@dataclass(frozen=True)
class VerifySecondFactor(Command[SecondFactorResult]):
    """A TOTP code or a recovery code for a session that passed the password step; rotates it."""

    token: str = field(repr=False)
    code: str = field(repr=False)
    address: str


@dataclass(frozen=True)
class StartTotpEnrolment(Command[TotpEnrolment]):
    """二要素認証の設定: the secret to scan (the same one until confirmed)."""

    token: str = field(repr=False)


@dataclass(frozen=True)
class ConfirmTotpEnrolment(Command[EnrolmentResult]):
    """The first code from the app: the factor is on, recovery codes are issued, the session rotates."""

    token: str = field(repr=False)
    code: str = field(repr=False)
    address: str


@dataclass(frozen=True)
class Authenticate(Command[Authenticated | None]):
    """Who holds this cookie's token, if anyone: ends expired sessions, notes the last activity."""

    token: str = field(repr=False)


@dataclass(frozen=True)
class SignOut(Command[None]):
    token: str = field(repr=False)
    address: str


@dataclass(frozen=True)
class EndSession(Command[bool]):
    """ログイン中の端末: end one of one's own other sessions."""

    staff_id: uuid.UUID
    session_id: uuid.UUID
    address: str


@dataclass(frozen=True)
class ChangePassword(Command[list[str]]):
    """Answers why the change was refused (empty: changed); the other sessions end."""

    staff_id: uuid.UUID
    current_password: str = field(repr=False)
    new_password: str = field(repr=False)
    keep_session_id: uuid.UUID | None
    address: str


@dataclass(frozen=True)
class SweepExpired(Command[SweepResult]):
    """Housekeeping: end up to ``limit`` sessions past their idle or absolute timeout (each active
    one recorded in the 操作ログ, as when its owner comes back to it) and forget up to ``limit``
    sign-in throttles that no longer count. One bounded transaction; run it until a pass is not full."""

    limit: int = 100


# --- accounts (システム管理者; ``actor_id`` None: the admin-ui-users CLI) -----------------------------


@dataclass(frozen=True)
class CreateDepartment(Command[None]):
    actor_id: uuid.UUID | None
    code: str
    name: str
    address: str = "cli"


@dataclass(frozen=True)
class CreateStaff(Command[CreatedStaff]):
    """A new account; without ``password`` a temporary one is made, to be changed at first sign-in.
    ``totp_secret``: only for demo seeding and the CLI's first administrator."""

    actor_id: uuid.UUID | None
    login_id: str
    display_name: str
    grants: frozenset[Grant]
    password: str | None = field(default=None, repr=False)
    totp_secret: str | None = field(default=None, repr=False)
    address: str = "cli"


@dataclass(frozen=True)
class ChangeGrants(Command[None]):
    actor_id: uuid.UUID | None
    staff_id: uuid.UUID
    grants: frozenset[Grant]
    address: str = "cli"


@dataclass(frozen=True)
class SetStaffDisabled(Command[None]):
    actor_id: uuid.UUID | None
    staff_id: uuid.UUID
    disabled: bool
    address: str = "cli"


@dataclass(frozen=True)
class ResetPassword(Command[str]):
    """Answers the temporary password (shown once); ends the member's sessions."""

    actor_id: uuid.UUID | None
    staff_id: uuid.UUID
    address: str = "cli"
    password: str | None = field(default=None, repr=False)  # the CLI may set one


@dataclass(frozen=True)
class ResetTwoFactor(Command[None]):
    """Removes the second factor and recovery codes; the member sets one up at next sign-in."""

    actor_id: uuid.UUID | None
    staff_id: uuid.UUID
    address: str = "cli"


# --- セグメント (segment-service keeps them; the console asks on behalf of the member) ----------------


@dataclass(frozen=True)
class ShowSegments(Command[SegmentList]):
    """セグメント一覧: the saved segments of the member's departments, with who changed each last."""

    staff: StaffClaims


@dataclass(frozen=True)
class ShowSegmentBuilder(Command[BuilderChoices | None]):
    """The builder's choices from the current taxonomy; None when there is none (or no answer)."""

    staff: StaffClaims


@dataclass(frozen=True)
class OpenSegment(Command[SavedSegment | None]):
    staff: StaffClaims
    segment_id: uuid.UUID


@dataclass(frozen=True)
class CountSegment(Command[SegmentCount]):
    """人数を確認: raises :class:`~admin_ui.domain.segments.SegmentRefused`."""

    staff: StaffClaims
    form: SegmentForm


@dataclass(frozen=True)
class SaveSegment(Command[str]):
    """Create (``segment_id`` None) or change a segment; 作成者 (or システム管理者) in its department.
    Written to the 操作ログ. Raises SegmentFormError, SegmentRefused or DepartmentForbidden."""

    actor_id: uuid.UUID
    staff: StaffClaims
    form: SegmentForm
    segment_id: uuid.UUID | None = None
    address: str | None = None


@dataclass(frozen=True)
class DeleteSegment(Command[None]):
    actor_id: uuid.UUID
    staff: StaffClaims
    segment_id: uuid.UUID
    address: str | None = None


# --- 受信設定の項目, 友だち分析, あいさつメッセージ (segment-service keeps them) ----------------------


@dataclass(frozen=True)
class PreferenceItemsPage:
    draft: ItemsDraft | None  # None: no taxonomy published yet, or segment-service did not answer
    versions: tuple[ItemsVersion, ...] | None
    chosen: FriendAnalysis | None  # how many friends chose each item


@dataclass(frozen=True)
class ShowPreferenceItems(Command[PreferenceItemsPage]):
    """受信設定の項目: the current items, how many chose each, and every version with its changes."""

    staff: StaffClaims


@dataclass(frozen=True)
class PreviewPreferenceItems(Command[ItemsPreview]):
    """What publishing ``draft`` would move. Raises SegmentRefused."""

    staff: StaffClaims
    draft: ItemsDraft


@dataclass(frozen=True)
class PublishPreferenceItems(Command[int]):
    """Publish ``draft`` (システム管理者); refused when another version was published since the draft
    was made (``draft.version`` is no longer current). Written to the 操作ログ; the new version."""

    actor_id: uuid.UUID
    staff: StaffClaims
    draft: ItemsDraft
    address: str | None = None


@dataclass(frozen=True)
class ShowFriendAnalysis(Command[FriendAnalysis | None]):
    """友だち分析; None when segment-service does not answer."""

    staff: StaffClaims
    days: int = ANALYSIS_DAYS


@dataclass(frozen=True)
class AccountText:
    key: str
    text: str
    default: bool
    updated_by: str | None


@dataclass(frozen=True)
class ShowAccountTexts(Command[tuple[AccountText, ...] | None]):
    staff: StaffClaims


@dataclass(frozen=True)
class SetAccountText(Command[None]):
    """Change one of the city's texts to residents (the greetings). Written to the 操作ログ."""

    actor_id: uuid.UUID
    staff: StaffClaims
    key: str
    text: str
    address: str | None = None


# --- 配信 (the dispatcher keeps them; the console asks on behalf of the member) ------------------------


@dataclass(frozen=True)
class ShowDeliveries(Command[DeliveryList]):
    """配信一覧 (``status`` filters), with how many await the member's approval."""

    staff: StaffClaims
    status: str | None = None


@dataclass(frozen=True)
class ShowApprovals(Command[DeliveryList]):
    """承認: the deliveries in 承認待ち the member may approve (not their own)."""

    staff: StaffClaims


@dataclass(frozen=True)
class OpenDelivery(Command[Delivery]):
    """Raises DeliveryRefused (404: unknown or another department's) or DepartmentForbidden."""

    staff: StaffClaims
    delivery_id: uuid.UUID


@dataclass(frozen=True)
class ShowComposeChoices(Command[ComposeChoices]):
    """What the compose page offers: categories, saved segments, the department's templates and test phones."""

    staff: StaffClaims
    department: str | None = None


@dataclass(frozen=True)
class SaveDelivery(Command[str]):
    """Create (``delivery_id`` None: a 下書き) or change a delivery (``form.version``: the version opened);
    作成者 (or システム管理者) in its department. Written to the 操作ログ once the dispatcher accepted.
    Raises DeliveryFormError, DeliveryRefused or DepartmentForbidden."""

    actor_id: uuid.UUID
    staff: StaffClaims
    form: DeliveryForm
    delivery_id: uuid.UUID | None = None
    address: str | None = None


@dataclass(frozen=True)
class ActOnDelivery(Command[Delivery]):
    """submit / approve / reject / schedule / confirm / start / pause / resume / cancel. Written to the
    操作ログ once the dispatcher accepted; raises DeliveryFormError, DeliveryRefused or DepartmentForbidden."""

    actor_id: uuid.UUID
    staff: StaffClaims
    delivery_id: uuid.UUID
    action: str
    version: int
    comment: str = ""
    send_at: str | None = None  # schedule: an ISO moment (default: the rule's next occurrence)
    address: str | None = None


@dataclass(frozen=True)
class CountDelivery(Command[RecipientCount]):
    """Who would receive a saved delivery now (raises DeliveryRefused)."""

    staff: StaffClaims
    delivery_id: uuid.UUID


@dataclass(frozen=True)
class CountTarget(Command[RecipientCount]):
    """Who a target names, before the delivery is saved (asked of segment-service; raises SegmentRefused)."""

    staff: StaffClaims
    target: TargetForm


@dataclass(frozen=True)
class SendTestDelivery(Command[int]):
    """テスト配信 to the chosen test phones; written to the 操作ログ."""

    actor_id: uuid.UUID
    staff: StaffClaims
    delivery_id: uuid.UUID
    recipient_ids: tuple[str, ...]
    address: str | None = None


@dataclass(frozen=True)
class ShowDeliveryStatistics(Command[Statistics]):
    staff: StaffClaims
    delivery_id: uuid.UUID


@dataclass(frozen=True)
class UploadDeliveryImage(Command[Asset]):
    """An image for a message (JPEG or PNG); the dispatcher re-encodes it. Written to the 操作ログ."""

    actor_id: uuid.UUID
    staff: StaffClaims
    department: str
    content: bytes = field(repr=False)
    content_type: str
    address: str | None = None


@dataclass(frozen=True)
class SaveDeliveryTemplate(Command[str]):
    """テンプレートとして保存: the form's messages under a name, in its department. Written to the 操作ログ."""

    actor_id: uuid.UUID
    staff: StaffClaims
    department: str
    name: str
    messages: tuple[Any, ...]
    address: str | None = None


@dataclass(frozen=True)
class ShowDeliveryImage(Command[tuple[bytes, str]]):
    """An uploaded image's preview (bytes, content type), for the console's own image route."""

    staff: StaffClaims
    asset_id: uuid.UUID


# --- リッチメニュー (richmenu-service keeps them; the console asks on behalf of the member) -------------------
# Reading is for every staff member (a resident sees every department's menus); each change is checked here
# for the member's role in the menu's department and written to the 操作ログ once the service accepted.


@dataclass(frozen=True)
class ShowRichMenus(Command[RichMenuList]):
    """リッチメニュー一覧, the 表示ルール naming each menu, and 災害時モード."""

    staff: StaffClaims


@dataclass(frozen=True)
class OpenRichMenu(Command[Menu]):
    """Raises RichMenuRefused (404: unknown)."""

    staff: StaffClaims
    menu_id: uuid.UUID


@dataclass(frozen=True)
class SaveRichMenu(Command[Menu]):
    """Create (``menu_id`` None) or change a menu (``form.version``: the version opened); 作成者 (or システム管理者)
    in its department. Raises RichMenuFormError, RichMenuRefused or DepartmentForbidden."""

    actor_id: uuid.UUID
    staff: StaffClaims
    form: MenuForm
    menu_id: uuid.UUID | None = None
    address: str | None = None


@dataclass(frozen=True)
class DeleteRichMenu(Command[None]):
    actor_id: uuid.UUID
    staff: StaffClaims
    menu_id: uuid.UUID
    address: str | None = None


@dataclass(frozen=True)
class UploadRichMenuImage(Command[Menu]):
    """A tab's image (PNG or JPEG, exactly the tab's size, ≤ 1 MB); the service re-encodes it."""

    actor_id: uuid.UUID
    staff: StaffClaims
    menu_id: uuid.UUID
    tab: int
    content: bytes = field(repr=False)
    content_type: str
    address: str | None = None


@dataclass(frozen=True)
class SaveRichMenuDesign(Command[Menu]):
    """テンプレートから作成: the tab's image drawn from the design, its buttons the template's cells."""

    actor_id: uuid.UUID
    staff: StaffClaims
    menu_id: uuid.UUID
    tab: int
    form: DesignForm
    address: str | None = None


@dataclass(frozen=True)
class PublishRichMenu(Command[Menu | None]):
    """公開 (承認者 or システム管理者 in the menu's department); None: queued past LINE's hourly limit."""

    actor_id: uuid.UUID
    staff: StaffClaims
    menu_id: uuid.UUID
    version: int
    address: str | None = None


@dataclass(frozen=True)
class ShowRichMenuImage(Command[tuple[bytes, str]]):
    staff: StaffClaims
    menu_id: uuid.UUID
    tab: int


@dataclass(frozen=True)
class ExportRichMenu(Command[bytes]):
    """デザインデータ一式 (zip); the export is written to the 操作ログ (the city's data leaving the system)."""

    actor_id: uuid.UUID
    staff: StaffClaims
    menu_id: uuid.UUID
    address: str | None = None


@dataclass(frozen=True)
class ShowRichMenuTemplates(Command[TemplateCatalogue]):
    staff: StaffClaims


@dataclass(frozen=True)
class PreviewRichMenuTemplate(Command[bytes]):
    """The PNG a design would draw (nothing stored). Raises RichMenuRefused (400: its problems)."""

    staff: StaffClaims
    form: DesignForm
    placeholder: bool = True


@dataclass(frozen=True)
class ShowRichMenuRules(Command[RuleList]):
    """表示ルール, with the menus to choose from and the saved segments' names."""

    staff: StaffClaims


@dataclass(frozen=True)
class SaveRichMenuRule(Command[Rule]):
    """Create (``rule_id`` None) or change a 表示ルール; 承認者 (or システム管理者) in its menu's department."""

    actor_id: uuid.UUID
    staff: StaffClaims
    form: RuleForm
    rule_id: uuid.UUID | None = None
    address: str | None = None


@dataclass(frozen=True)
class DeleteRichMenuRule(Command[None]):
    actor_id: uuid.UUID
    staff: StaffClaims
    rule_id: uuid.UUID
    address: str | None = None


@dataclass(frozen=True)
class PreviewResidentMenu(Command[Seen]):
    """プレビュー: the menu a resident in ``segment_ids`` (or the real resident ``resident_id``) sees ``at``."""

    staff: StaffClaims
    at: str | None = None
    segment_ids: tuple[str, ...] = ()
    resident_id: str | None = None


@dataclass(frozen=True)
class ShowDisaster(Command[DisasterPage]):
    """災害時モード: its state, the menus to choose from and the latest mass changes."""

    staff: StaffClaims


@dataclass(frozen=True)
class SwitchDisaster(Command[bool]):
    """災害時モード on / off (承認者 in any department, or システム管理者), after the confirmation step. Written to
    the 操作ログ when it changed something; a repeat changes nothing and answers False."""

    actor_id: uuid.UUID
    staff: StaffClaims
    on: bool
    menu_id: str | None = None
    confirmed: bool = False
    address: str | None = None
