"""What segment-service tells the rest of the city (``city.events``). Residents are named by their
opaque resident id; the LINE user id, for a consumer that must reach the resident on LINE (rich
menus), travels sealed and bound to that resident id."""

from __future__ import annotations

import uuid

from cityline_common.amqp.topology import CITY_EVENTS
from cityline_common.contracts import Contract, ContractInfo


class ResidentFollowed(Contract):
    """A LINE user became a friend of the city's account, or came back after blocking it."""

    contract = ContractInfo("segment.ResidentFollowed", 1, CITY_EVENTS, "segment.resident.followed")

    resident_id: uuid.UUID
    occurred_at_ms: int
    refollowed: bool
    line_user_id_sealed: str


class ResidentUnfollowed(Contract):
    """A resident blocked the city's account (ブロック)."""

    contract = ContractInfo("segment.ResidentUnfollowed", 1, CITY_EVENTS, "segment.resident.unfollowed")

    resident_id: uuid.UUID
    occurred_at_ms: int


class TaxonomyPublished(Contract):
    """A new version of the 受信設定 taxonomy is current."""

    contract = ContractInfo("segment.TaxonomyPublished", 1, CITY_EVENTS, "segment.taxonomy.published")

    version: int
    content_sha256: str


class PreferencesChanged(Contract):
    """A resident's 受信設定 changed (chat, LIFF page, import or staff correction). Carries the new
    answers as taxonomy keys; the resident is named by resident id only."""

    contract = ContractInfo("segment.PreferencesChanged", 1, CITY_EVENTS, "segment.resident.preferences-changed")

    resident_id: uuid.UUID
    occurred_at_ms: int
    source: str  # chat | liff | import | staff
    first_answer: bool
    taxonomy_version: int
    categories: tuple[str, ...]
    district: str | None = None
    age_band: str | None = None
    language: str | None = None
    children: tuple[str, ...] = ()  # birth year-months, "2021-04"


class TaxonomyKeysRemapped(Contract):
    """Publishing a taxonomy merged or retired keys: answers moved from each old key to its new one
    (``to`` null: retired). Consumers holding keys (rich menu rules) follow the same map."""

    contract = ContractInfo("segment.TaxonomyKeysRemapped", 1, CITY_EVENTS, "segment.taxonomy.keys-remapped")

    version: int
    dimension: str
    from_key: str
    to_key: str | None = None
    residents_moved: int
