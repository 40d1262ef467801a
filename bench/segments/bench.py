"""Benchmark: segment counts and recipient resolution over a city's worth of residents.

    .venv/bin/python bench/segments/bench.py [--residents 1000000] [--repeat 15]

Makes a database of its own (dropped afterwards), migrates segment-service's schema, publishes the
demo city's taxonomy (deploy/demo/itami-taxonomy.yaml) and builds N residents with a realistic mix:
93 % following; 70 % answered 受信設定 (each category chosen by 15-55 %, 防災 always, a 小学校区 by
90 %, an age band by 80 %, a language — mostly Japanese — by 60 %, one to three children by 30 %);
friendship begun over the last three years. LINE user ids are sealed for their rows exactly as the
service stores them (so resolution opens real tokens); residents are loaded with COPY and their
answers with one INSERT … SELECT over random().

Measures, through segment-service's own message bus (parsing, validation, SQL):

* ``count_p95_ms``: the count preview of segments of 1 to 6 conditions, each run ``--repeat`` times;
* ``resolve_500k_seconds``: freezing the recipient list of the segment whose size is nearest
  500,000 (scaled to N/2 for smaller N) and streaming every page of 5,000 members, as the
  dispatcher pages the list: positions and opaque resident ids, no LINE user id opened;
* ``open_line_ids_500k_seconds``: reading the same list again with every LINE user id opened
  (``with_line_user_id``, pages of 500 = one multicast each), as the dispatcher does per send
  batch. Not part of ``resolve_500k_seconds``: the dispatcher spreads it over the sending, which
  LINE's 200 multicasts/s limit makes ≥ 5 s for 500,000 members anyway.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from cityline_common.crypto import BlindIndex, FieldCipher  # noqa: E402
from cityline_common.manifest import registered_services  # noqa: E402
from cityline_common.migrations import ensure_database, upgrade  # noqa: E402
from cityline_common.settings import load_settings  # noqa: E402
from segment_service.adapters.orm import LINE_USER_ID  # noqa: E402
from segment_service.bootstrap import bootstrap  # noqa: E402
from segment_service.config import Settings  # noqa: E402
from segment_service.domain.commands import FreezeRecipients, PublishTaxonomy  # noqa: E402
from segment_service.service_layer import segments  # noqa: E402

from testsupport import TEST_KEYS  # noqa: E402

TAXONOMY = ROOT / "deploy" / "demo" / "itami-taxonomy.yaml"
PAGE = 5000
SEND_BATCH = 500  # LINE multicast: at most 500 recipients a request

# Segments of 1 to 6 conditions, as staff build them.
SEGMENTS: list[dict[str, Any]] = [
    {"category": ["kosodate"]},
    {"and": [{"category": ["kosodate"]}, {"district": ["minami", "inano"]}]},
    {"and": [{"category": ["kosodate"]}, {"district": ["minami", "inano"]}, {"child_age": {"between": [3, 5]}}]},
    {"and": [{"category": ["kenkou", "fukushi"]}, {"age_band": ["60s", "over70"]}, {"language": ["ja"]},
             {"not": {"district": ["itami"]}}]},
    {"or": [{"and": [{"category": ["event"]}, {"followed_within_days": 30}]},
            {"and": [{"category": ["bunka"]}, {"age_band": ["20s", "30s"]}]}, {"language": ["en", "vi"]}]},
    {"and": [{"category": ["gomi"]}, {"district": ["kozu", "arioka", "sasahara"]}, {"age_band": ["30s", "40s"]},
             {"language": ["ja", "en"]}, {"child_age": {"between": [0, 2]}}, {"answered": True}]},
    {"category": ["bousai"]},
    {"district": ["minami"]},
]
RESOLVE_CANDIDATES: list[dict[str, Any]] = [
    {"or": [{"category": ["kenkou"]}, {"category": ["event"]}]},
    {"or": [{"category": ["kenkou"]}, {"category": ["gomi"]}]},
    {"or": [{"category": ["event"]}, {"category": ["bunka"]}, {"category": ["gomi"]}]},
    {"category": ["bousai"]},
    {"not": {"district": ["itami", "inano", "setsuyo", "minami", "kozu", "arioka"]}},
    {"category": ["event"]},
]


def build(service: Any, engine: Any, residents: int) -> dict[str, float]:
    cipher: FieldCipher = service.cipher
    index = BlindIndex(os.environ["BLIND_INDEX_KEY"])
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE segment.residents DISABLE TRIGGER residents_facts"))
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        batch = 100_000
        for first in range(0, residents, batch):
            buffer = io.StringIO()
            for n in range(first, min(first + batch, residents)):
                resident_id = uuid.uuid4()
                line_id = "U" + f"{n:032x}"
                status = "blocked" if n % 100 < 7 else "following"
                buffer.write(f"{resident_id}\t{cipher.encrypt_for_row(line_id, LINE_USER_ID.context, resident_id)}\t"
                             f"{index.compute('line_user_id', line_id)}\t{status}\t0\timport\n")
            buffer.seek(0)
            cursor.copy_expert("COPY segment.residents (id, line_user_id_ct, line_user_id_bidx, status, "
                               "status_changed_at_ms, origin) FROM STDIN", buffer)
        raw.commit()
    finally:
        raw.close()
    loaded = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE segment.residents ENABLE TRIGGER residents_facts"))
        codes = {(d, k): c for d, k, c in
                 connection.execute(text("SELECT dimension, key, code FROM segment.taxonomy_codes"))}
        cats = [(c, p) for (d, k), c in codes.items() if d == "categories" and k != "bousai"
                for p in [0.15 + 0.05 * (c % 9)]]
        bousai = 1 << codes[("categories", "bousai")]
        category_sql = " | ".join(f"(CASE WHEN random() < {p:.2f} THEN {1 << c} ELSE 0 END)" for c, p in cats)
        districts = sorted(c for (d, _k), c in codes.items() if d == "districts")
        bands = sorted(c for (d, _k), c in codes.items() if d == "age_bands")
        languages = sorted(c for (d, _k), c in codes.items() if d == "languages")
        ja = codes[("languages", "ja")]
        now_month = datetime.now(UTC).year * 12 + datetime.now(UTC).month - 1
        connection.execute(text(f"""
            INSERT INTO segment.resident_answers (resident_id, following, followed_at, categories, district,
                age_band, language, child_birth_months, answered_at, taxonomy_version, updated_at)
            SELECT id, status = 'following', now() - random() * interval '1095 days',
                   CASE WHEN a THEN ({bousai} | {category_sql})::bigint ELSE 0 END,
                   CASE WHEN a AND random() < 0.9 THEN {districts[0]} + floor(random() * {len(districts)})::int END,
                   CASE WHEN a AND random() < 0.8 THEN {bands[0]} + floor(random() * {len(bands)})::int END,
                   CASE WHEN a AND random() < 0.6 THEN
                        CASE WHEN random() < 0.9 THEN {ja}
                             ELSE {languages[0]} + floor(random() * {len(languages)})::int END
                   END,
                   CASE WHEN a AND random() < 0.3 THEN
                        ARRAY(SELECT {now_month} - floor(random() * 216)::int
                              FROM generate_series(1, 1 + floor(random() * 3)::int) WHERE id IS NOT NULL)
                        ELSE '{{}}'::int[] END,
                   CASE WHEN a THEN now() END, CASE WHEN a THEN 1 END, now()
            FROM (SELECT id, status, random() < 0.7 AS a FROM segment.residents) AS r
        """))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE segment.resident_answers"))
        connection.execute(text("VACUUM ANALYZE segment.residents"))
    done = time.perf_counter()
    return {"residents_copy_seconds": round(loaded - started, 1), "answers_seconds": round(done - loaded, 1)}


def count_times(service: Any, repeat: int) -> dict[str, Any]:
    timings: list[float] = []
    per_segment = []
    for expression in SEGMENTS:
        service.bus.query(segments.count(expression, "auto", service.timezone))  # warm
        mine = []
        for _ in range(repeat):
            started = time.perf_counter()
            counted = service.bus.query(segments.count(expression, "auto", service.timezone))
            mine.append((time.perf_counter() - started) * 1000)
        timings.extend(mine)
        per_segment.append({"expression": expression, "recipients": counted.recipients,
                            "median_ms": round(statistics.median(mine), 1)})
    timings.sort()
    return {"count_p95_ms": round(timings[int(len(timings) * 0.95) - 1], 1),
            "count_median_ms": round(statistics.median(timings), 1), "counts": per_segment}


def resolve(service: Any, residents: int) -> dict[str, Any]:
    target = min(500_000, residents // 2)
    sized = [(abs(service.bus.query(segments.count(e, "exclude", service.timezone)).recipients - target), e)
             for e in RESOLVE_CANDIDATES]
    expression = min(sized, key=lambda pair: pair[0])[1]
    delivery = f"bench-{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    frozen = service.bus.handle(FreezeRecipients(delivery, expression, None, "exclude"))
    froze = time.perf_counter()
    after: int | None = 0
    streamed = 0
    while after is not None:
        page = service.bus.query(segments.recipients_page(delivery, after, PAGE))
        streamed += len(page.members)
        after = page.next_after
    done = time.perf_counter()
    assert streamed == frozen.members
    after, opened = 0, 0
    while after is not None:
        batch = service.bus.query(segments.recipients_page(delivery, after, SEND_BATCH, with_line_user_id=True))
        opened += sum(1 for m in batch.members if m.line_user_id)
        after = batch.next_after
    assert opened == frozen.members
    return {"resolve_seconds": round(done - started, 2), "resolve_members": frozen.members,
            "resolve_freeze_seconds": round(froze - started, 2), "resolve_stream_seconds": round(done - froze, 2),
            "open_line_ids_seconds": round(time.perf_counter() - done, 2), "open_line_ids_batch": SEND_BATCH,
            "resolve_expression": expression}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15, help="runs of each count")
    parser.add_argument("--keep-database", action="store_true", help="do not drop the database (to explore plans)")
    args = parser.parse_args()

    base_db = os.environ.get("DATABASE_URL", "postgresql://cityline:cityline@127.0.0.1:5432/cityline")
    database_url = make_url(base_db.replace("postgresql://", "postgresql+psycopg2://", 1)).set(
        database=f"cityline_bench_segments_{uuid.uuid4().hex[:8]}").render_as_string(hide_password=False)
    os.environ.update({**TEST_KEYS, "DATABASE_URL": database_url, "LOG_FORMAT": "json"})
    result: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds"),
                              "machine": {"cpus": os.cpu_count(), "loadavg_at_start": os.getloadavg()[0]},
                              "residents": args.residents}
    ensure_database(database_url)
    service = None
    try:
        upgrade(registered_services()["segment"], database_url)
        service = bootstrap(load_settings(Settings))
        service.bus.handle(PublishTaxonomy(yaml.safe_load(TAXONOMY.read_text(encoding="utf-8"))))
        result["build"] = build(service, service.engine, args.residents)
        result.update(count_times(service, args.repeat))
        resolved = resolve(service, args.residents)
        result["resolve_500k_seconds"] = resolved.pop("resolve_seconds")
        result["open_line_ids_500k_seconds"] = resolved.pop("open_line_ids_seconds")
        result.update(resolved)
        result["machine"]["loadavg_at_end"] = os.getloadavg()[0]
    finally:
        if service is not None:
            service.engine.dispose()
        if args.keep_database:
            result["database"] = make_url(database_url).database
        else:
            admin_engine = create_engine(make_url(database_url).set(database="postgres"),
                                         isolation_level="AUTOCOMMIT")
            with admin_engine.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(database_url).database}" WITH (FORCE)'))
            admin_engine.dispose()
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
