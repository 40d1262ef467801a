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
