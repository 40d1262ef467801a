"""cityline-keys works from manifest declarations alone: a toy service's encrypted column (integer
ids, no blind index) is reported and rotated against the real PostgreSQL, naming no service."""

import io
import uuid

import pytest
from cityline_common.crypto import BlindIndex, FieldCipher, generate_key
from cityline_common.keys import key_uses, rotate_column, statuses, targets
from cityline_common.manifest import EncryptedColumn, ServiceManifest, schema_tables
from sqlalchemy import Column, Integer, String, Table, Text, create_engine, select, text

K1, K2, INDEX = generate_key(), generate_key(), generate_key()
CONTEXT = "toy.notes.body"


def toy_manifest(schema: str, *columns: EncryptedColumn) -> ServiceManifest:
    metadata, plumbing = schema_tables(schema)
    Table("notes", metadata, Column("note_id", Integer, primary_key=True), Column("body_ct", Text, nullable=False),
          Column("body_bidx", String(100)))
    return ServiceManifest(name=schema, schema=schema, metadata=metadata, plumbing=plumbing,
                           migrations="toy:migrations", encrypted_columns=columns)


def test_declarations_are_checked_against_the_tables():
    assert toy_manifest("toy_ok", EncryptedColumn("notes", "body_ct", CONTEXT, id_column="note_id")).encrypted_columns
    with pytest.raises(ValueError, match="no table 'memos'"):
        toy_manifest("toy_a", EncryptedColumn("memos", "body_ct", CONTEXT))
    with pytest.raises(ValueError, match="no column 'id'"):
        toy_manifest("toy_b", EncryptedColumn("notes", "body_ct", CONTEXT))  # the id column defaults to "id"
    with pytest.raises(ValueError, match="needs both its column and its purpose"):
        EncryptedColumn("notes", "body_ct", CONTEXT, blind_index_column="body_bidx")


@pytest.mark.integration
def test_a_toy_column_is_reported_and_rotated_including_tokens_sealed_before_row_binding(migrated_database_url):
    schema = f"toykeys_{uuid.uuid4().hex[:8]}"
    manifest = toy_manifest(schema, EncryptedColumn("notes", "body_ct", CONTEXT, id_column="note_id"))
    notes = manifest.metadata.tables[f"{schema}.notes"]
    engine = create_engine(migrated_database_url)
    old, new = FieldCipher.from_spec(f"k1:{K1}"), FieldCipher.from_spec(f"k2:{K2},k1:{K1}")
    index = BlindIndex(INDEX)
    try:
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            manifest.metadata.create_all(connection)
            connection.execute(notes.insert(), [
                *({"note_id": n, "body_ct": old.encrypt(f"note {n}", CONTEXT)} for n in range(1, 6)),  # legacy
                *({"note_id": n, "body_ct": old.encrypt_for_row(f"note {n}", CONTEXT, n)} for n in range(6, 11)),
            ])
        [target] = targets({schema: manifest})

        [before] = statuses(engine, new, index, [target])
        assert (before.rows, before.pre_binding, before.need_rotation) == (10, 5, 10)
        assert before.field_keys == {"k1": 10} and before.index_keys == {}
        assert {use.key_id: use.removable for use in key_uses([before], new, index)
                if use.ring == "FIELD_ENCRYPTION_KEYS"} == {"k2": False, "k1": False}

        out = io.StringIO()
        report = rotate_column(engine, target, new, index, batch=3, out=out)
        assert (report.rotated, report.remaining, report.failed) == (10, 0, {})
        assert "10 rotated" in out.getvalue()
        [after] = statuses(engine, new, index, [target])
        assert (after.pre_binding, after.need_rotation, after.field_keys) == (0, 0, {"k2": 10})
        assert [use.key_id for use in key_uses([after], new, index) if use.removable] == ["k1"]
        only_new = FieldCipher.from_spec(f"k2:{K2}")
        with engine.connect() as connection:
            for note_id, token in connection.execute(select(notes.c.note_id, notes.c.body_ct)):
                assert only_new.decrypt_for_row(token, CONTEXT, note_id) == f"note {note_id}"
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
