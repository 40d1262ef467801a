"""セグメント as stories, in memory: the builder's form becomes segment-service's expression, the
console asks on behalf of the member, checks the department again, and writes saves and deletes to the
操作ログ (and nothing when segment-service refuses)."""

import uuid
from datetime import UTC, datetime

import pytest
from admin_ui.adapters.in_memory import FastHasher, InMemoryAdminData, NoPlatform
from admin_ui.domain.commands import (
    CountSegment,
    CreateDepartment,
    CreateStaff,
    DeleteSegment,
    SaveSegment,
    ShowSegmentBuilder,
    ShowSegments,
)
from admin_ui.domain.permissions import DepartmentForbidden, Grant, Role
from admin_ui.domain.segments import SavedSegment, SegmentCount, SegmentForm, SegmentFormError, SegmentRefused
from admin_ui.entrypoints.flask_app import staff_claims
from admin_ui.service_layer.handlers import handlers
from cityline_common.messagebus import MessageBus
from werkzeug.datastructures import MultiDict

TAXONOMY = {"version": 3, "contentSha256": "x", "taxonomy": {
    "categories": [{"key": "bousai", "label": "防災・緊急情報", "always_delivered": True},
                   {"key": "kosodate", "label": "子育て"}],
    "districts": [{"key": "minami", "label": "南小学校区"}, {"key": "inano", "label": "稲野小学校区"}],
    "age_bands": [{"key": "30s", "label": "30代"}],
    "languages": [{"key": "ja", "label": "日本語"}],
}}


class FakeSegments(NoPlatform):
    """segment-service's segment API, remembered in a dict; ``refuse`` makes every change fail."""

    def __init__(self):
        self.saved: dict[str, SavedSegment] = {}
        self.asked_by: list[str] = []
        self.refuse: SegmentRefused | None = None

    def taxonomy(self, staff):
        return TAXONOMY

    def segments(self, staff):
        self.asked_by.append(staff.staff_id)
        return list(self.saved.values())

    def segment(self, staff, segment_id):
        return self.saved.get(segment_id)

    def count_segment(self, staff, expression, unanswered):
        self.asked_by.append(staff.staff_id)
        return SegmentCount(12, 5, 17 if unanswered == "include" else 12, unanswered == "include")

    def save_segment(self, staff, segment_id, name, department, expression):
        if self.refuse:
            raise self.refuse
        segment_id = segment_id or str(uuid.uuid4())
        self.saved[segment_id] = SavedSegment(segment_id, name, department, expression, staff.staff_id,
                                              datetime(2026, 11, 26, 1, 0, tzinfo=UTC))
        return segment_id

    def delete_segment(self, staff, segment_id):
        if self.refuse:
            raise self.refuse
        del self.saved[segment_id]


@pytest.fixture
def city():
    data = InMemoryAdminData()
    platform = FakeSegments()
    bus = MessageBus(data.uow, handlers(platform, [], hasher=FastHasher()))
    bus.handle(CreateDepartment(None, "bousai", "防災危機管理課"))
    bus.handle(CreateDepartment(None, "kosodate", "子育て支援課"))
    return data, bus, platform


def member(data, bus, login, *grants):
    created = bus.handle(CreateStaff(None, login, login, frozenset(grants), password="kusunoki-no-ki-2026",
                                     totp_secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"))
    found = data.staff[uuid.UUID(created.staff_id)]
    return found, staff_claims(found)


FORM = MultiDict([("name", "南の子育て"), ("department", "kosodate"), ("category", "kosodate"),
                  ("district", "minami"), ("district", "inano"), ("child_from", "3"), ("child_to", "5"),
                  ("combine", "and"), ("negate", "district"), ("unanswered", "exclude")])


def test_the_form_becomes_the_expression_and_reads_back():
    form = SegmentForm.from_form(FORM)
    assert form.expression() == {"and": [{"category": ["kosodate"]},
                                         {"not": {"district": ["minami", "inano"]}},
                                         {"child_age": {"between": [3, 5]}}]}
    again = SegmentForm.from_expression(form.name, form.department, form.expression())
    assert again.expression() == form.expression() and again.negated == {"district"}
    either = SegmentForm.from_form(MultiDict([("combine", "or"), ("language", "ja"), ("followed_days", "30")]))
    assert either.expression() == {"or": [{"language": ["ja"]}, {"followed_within_days": 30}]}


@pytest.mark.parametrize("fields", [
    [("child_from", "3")],  # from without to
    [("child_from", "6"), ("child_to", "3")],
    [("child_from", "-1"), ("child_to", "3")],
    [("followed_days", "0")],
    [("followed_days", "３０")],  # full-width digits
])
def test_numbers_that_are_not_ages_or_days_are_refused(fields):
    with pytest.raises(SegmentFormError):
        SegmentForm.from_form(MultiDict(fields))


def test_an_expression_not_made_by_the_builder_is_not_edited_here():
    with pytest.raises(SegmentFormError):
        SegmentForm.from_expression("x", "kosodate", {"and": [{"or": [{"category": ["kosodate"]}]}]})


def test_the_builder_offers_the_current_taxonomy(city):
    data, bus, _platform = city
    _author, claims = member(data, bus, "hanako", Grant(Role.AUTHOR, "kosodate"))
    choices = bus.handle(ShowSegmentBuilder(claims))
    assert [item.key for item in choices.groups["district"]] == ["minami", "inano"]
    assert choices.always_delivered == {"bousai"}


def test_the_count_is_asked_on_behalf_of_the_member(city):
    data, bus, platform = city
    author, claims = member(data, bus, "hanako", Grant(Role.AUTHOR, "kosodate"))
    counted = bus.handle(CountSegment(claims, SegmentForm.from_form(FORM)))
    assert (counted.recipients, counted.unanswered_included) == (12, False)
    assert platform.asked_by == [str(author.id)]


def test_an_author_saves_in_their_department_and_the_audit_log_says_so(city):
    data, bus, platform = city
    author, claims = member(data, bus, "hanako", Grant(Role.AUTHOR, "kosodate"))
    segment_id = bus.handle(SaveSegment(author.id, claims, SegmentForm.from_form(FORM), address="192.0.2.1"))
    assert platform.saved[segment_id].name == "南の子育て"
    entry = data.audit.events[-1]
    assert (entry.action, entry.target, entry.department) == ("segment.create", segment_id, "kosodate")

    changed = SegmentForm.from_form(MultiDict([*FORM.items(multi=True), ("language", "ja")]))
    bus.handle(SaveSegment(author.id, claims, changed, uuid.UUID(segment_id)))
    assert data.audit_actions()[-1] == "segment.update"

    listed = bus.handle(ShowSegments(claims))
    assert [(row.segment.name, row.department_name, row.updated_by) for row in listed.rows] == [
        ("南の子育て", "子育て支援課", "hanako")]
    assert listed.editable == {"kosodate"}

    bus.handle(DeleteSegment(author.id, claims, uuid.UUID(segment_id)))
    assert platform.saved == {} and data.audit_actions()[-1] == "segment.delete"


def test_viewers_and_other_departments_may_not_save_or_delete(city):
    data, bus, _platform = city
    viewer, viewer_claims = member(data, bus, "ichiro", Grant(Role.VIEWER, "kosodate"))
    bousai_author, bousai_claims = member(data, bus, "jiro", Grant(Role.AUTHOR, "bousai"))
    with pytest.raises(DepartmentForbidden):
        bus.handle(SaveSegment(viewer.id, viewer_claims, SegmentForm.from_form(FORM)))
    with pytest.raises(DepartmentForbidden):
        bus.handle(SaveSegment(bousai_author.id, bousai_claims, SegmentForm.from_form(FORM)))
    author, claims = member(data, bus, "hanako", Grant(Role.AUTHOR, "kosodate"))
    segment_id = uuid.UUID(bus.handle(SaveSegment(author.id, claims, SegmentForm.from_form(FORM))))
    moved = SegmentForm.from_form(MultiDict([("name", "x"), ("department", "bousai"), ("category", "bousai")]))
    with pytest.raises(DepartmentForbidden):  # an author of bousai cannot take over kosodate's segment
        bus.handle(SaveSegment(bousai_author.id, bousai_claims, moved, segment_id))
    with pytest.raises(DepartmentForbidden):
        bus.handle(DeleteSegment(viewer.id, viewer_claims, segment_id))
    assert bus.handle(ShowSegments(viewer_claims)).editable == frozenset()
    assert data.audit_actions().count("segment.create") == 1
    assert "segment.update" not in data.audit_actions() and "segment.delete" not in data.audit_actions()


def test_a_name_and_department_are_needed_and_a_refusal_leaves_no_audit_entry(city):
    data, bus, platform = city
    author, claims = member(data, bus, "hanako", Grant(Role.AUTHOR, "kosodate"))
    with pytest.raises(SegmentFormError):
        bus.handle(SaveSegment(author.id, claims, SegmentForm.from_form(MultiDict([("department", "kosodate")]))))
    platform.refuse = SegmentRefused("category: unknown key 'nope'", 400)
    with pytest.raises(SegmentRefused):
        bus.handle(SaveSegment(author.id, claims, SegmentForm.from_form(FORM)))
    assert not any(action.startswith("segment.") for action in data.audit_actions())
