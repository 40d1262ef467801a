"""The record of per-user links on PostgreSQL: small changes one statement each, mass changes through COPY; LINE
user ids sealed to their row (never in clear in the table), opened again only by this service."""

from __future__ import annotations

import uuid

import pytest
from cityline_common.crypto import FieldCipher
from cityline_common.db import make_engine
from richmenu_service.service_layer.unit_of_work import SqlRichmenuUnitOfWork
from sqlalchemy import text

from testsupport import TEST_KEYS

pytestmark = pytest.mark.integration


def line_id(n: int) -> str:
    return f"U{n:032x}"


@pytest.mark.parametrize("residents", [3, 1200])  # one statement each / COPY
def test_links_are_recorded_relinked_and_cleared_with_line_user_ids_sealed(migrated_database_url, residents):
    engine = make_engine(migrated_database_url)
    cipher = FieldCipher.from_spec(TEST_KEYS["FIELD_ENCRYPTION_KEYS"])
    ids = [uuid.uuid4() for _ in range(residents)]
    menu = uuid.uuid4()
    try:
        with SqlRichmenuUnitOfWork(engine, cipher) as uow:
            uow.links.set([(r, line_id(n), "richmenu-a", menu) for n, r in enumerate(ids)])
            uow.commit()
        with SqlRichmenuUnitOfWork(engine, cipher) as uow:
            linked = {link.resident_id: link for link in uow.links.linked()}
            assert set(ids) <= linked.keys()
            assert uow.links.line_user_id(linked[ids[-1]]) == line_id(residents - 1)
            uow.links.relink(ids[: residents // 2 + 1], "richmenu-b", None)
            uow.commit()
        with SqlRichmenuUnitOfWork(engine, cipher) as uow:
            assert uow.links.count_linked(["richmenu-b"]) == residents // 2 + 1
            assert uow.links.get(ids[0]).rich_menu_id == "richmenu-b"  # type: ignore[union-attr]
            assert uow.links.get(ids[-1]).rich_menu_id == "richmenu-a"  # type: ignore[union-attr]
            uow.links.set([(ids[0], line_id(0), None, None)])
            uow.commit()
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT line_user_id_ct FROM richmenu.resident_links")).scalars().all()
        assert stored and not any("U0000" in token for token in stored)
        with SqlRichmenuUnitOfWork(engine, cipher) as uow:
            assert uow.links.get(ids[0]).rich_menu_id is None  # type: ignore[union-attr]
            uow.links.unlink_everyone()
            uow.commit()
            assert uow.links.count_linked() == 0
            assert {link.resident_id for link in uow.links.known()} >= set(ids)  # kept, sealed, for next time
    finally:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM richmenu.resident_links"))
        engine.dispose()
