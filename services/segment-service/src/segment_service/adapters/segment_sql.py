"""Segments in PostgreSQL: the expression compiled to SQLAlchemy Core over ``resident_answers``.

Every condition reads one narrow row per resident (codes, a category bitmask, an int[] of birth
months, following/followed_at), so a count is one scan of one table (parallel when large) with no
join, and no condition yields NULL (a missing answer is FALSE, so ``not`` means what it says).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, cast, false, literal, not_, or_, true
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.types import Integer

from segment_service.adapters.orm import resident_answers
from segment_service.domain.codes import TaxonomyCodes
from segment_service.domain.preferences import month_index_of
from segment_service.domain.segments import (
    And,
    Answered,
    ChildAge,
    Expression,
    FollowedWithin,
    InKeys,
    Not,
    Or,
)

T = resident_answers.c
SINGLE = {"districts": T.district, "age_bands": T.age_band, "languages": T.language}


def compile_expression(expression: Expression, codes: TaxonomyCodes, *, at: datetime,  # noqa: PLR0911
                       today: date) -> ColumnElement[bool]:
    match expression:
        case And(parts):
            return and_(*(compile_expression(p, codes, at=at, today=today) for p in parts))
        case Or(parts):
            return or_(*(compile_expression(p, codes, at=at, today=today) for p in parts))
        case Not(part):
            return not_(compile_expression(part, codes, at=at, today=today))
        case InKeys("categories", keys):
            return T.categories.op("&")(literal(codes.category_mask(keys))) != 0
        case InKeys(dimension, keys):
            column = SINGLE[dimension]
            wanted = sorted(codes.code(dimension, key) for key in keys)
            return and_(column.is_not(None), column.in_(wanted))
        case ChildAge(low, high):
            now = month_index_of(today)
            months = list(range(now - high * 12 - 11, now - low * 12 + 1))
            return T.child_birth_months.op("&&")(cast(array(months), ARRAY(Integer)))
        case FollowedWithin(days):
            return and_(T.followed_at.is_not(None), T.followed_at >= at - timedelta(days=days))
        case Answered(value):
            return T.answered_at.is_not(None) if value else T.answered_at.is_(None)
    return false()  # pragma: no cover - the match is exhaustive


def membership(expression: Expression, codes: TaxonomyCodes, *, at: datetime, today: date,
               with_unanswered: bool) -> ColumnElement[bool]:
    """Who a delivery reaches: followers the expression holds for (and, if asked, those who never answered)."""
    condition = compile_expression(expression, codes, at=at, today=today)
    unanswered = T.answered_at.is_(None) if with_unanswered else false()
    return and_(T.following.is_(true()), or_(condition, unanswered))
