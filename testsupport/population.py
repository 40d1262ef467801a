"""A city's worth of residents for benchmarks: the LINE emulator's friends (its documented user ids) written
straight into segment-service's tables, LINE user ids sealed as the follower import would."""

from __future__ import annotations

import hashlib
import io
import os
import time
import uuid

from cityline_common.crypto import BlindIndex, FieldCipher
from sqlalchemy import create_engine, text

SEED = 1  # the emulator's --seed


def emulator_ids(count: int) -> list[str]:
    """The emulator's residents' user ids (its documented derivation from the seed)."""
    return ["U" + hashlib.md5(f"resident:{SEED}:{n}".encode()).hexdigest() for n in range(count)]


def seed_residents(database_url: str, count: int) -> float:
    """``count`` following residents with the emulator's first ``count`` user ids (each with an unanswered
    ``resident_answers`` row); returns the seconds it took. Needs FIELD_ENCRYPTION_KEYS and BLIND_INDEX_KEY."""
    from segment_service.adapters.orm import LINE_USER_ID

    started = time.perf_counter()
    cipher = FieldCipher.from_spec(os.environ["FIELD_ENCRYPTION_KEYS"])
    index = BlindIndex(os.environ["BLIND_INDEX_KEY"])
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE segment.residents DISABLE TRIGGER residents_facts"))
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        ids = emulator_ids(count)
        for first in range(0, count, 100_000):
            buffer = io.StringIO()
            for line_id in ids[first:first + 100_000]:
                resident_id = uuid.uuid4()
                buffer.write(f"{resident_id}\t{cipher.encrypt_for_row(line_id, LINE_USER_ID.context, resident_id)}\t"
                             f"{index.compute('line_user_id', line_id)}\tfollowing\t0\timport\n")
            buffer.seek(0)
            cursor.copy_expert("COPY segment.residents (id, line_user_id_ct, line_user_id_bidx, status, "
                               "status_changed_at_ms, origin) FROM STDIN", buffer)
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE segment.residents ENABLE TRIGGER residents_facts"))
        connection.execute(text("INSERT INTO segment.resident_answers (resident_id, following) "
                                "SELECT id, true FROM segment.residents"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE segment.resident_answers"))
    engine.dispose()
    return round(time.perf_counter() - started, 1)
