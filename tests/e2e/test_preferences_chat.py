"""A resident follows and sets 受信設定 in the chat, end to end: the LINE emulator's signed webhooks →
ingress-webhook → RabbitMQ → segment-consumer → replies on the emulator (what it recorded as sent is
what the resident saw), each tap taken from the buttons the resident was actually sent."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
import yaml
from cityline_common.amqp.topology import declare_with_url
from sqlalchemy import create_engine, text

from testsupport import ROOT, TEST_KEYS, wait_until
from testsupport.emulator import running_emulator
from testsupport.processes import RunningProcess, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(migrated_database_url, amqp_url, tmp_path_factory):
    declare_with_url(amqp_url)
    ingress_port = free_port()
    with running_emulator(f"http://127.0.0.1:{ingress_port}/callback", residents=3) as (url, emulator):
        env = {"DATABASE_URL": migrated_database_url, "AMQP_URL": amqp_url, "LOG_FORMAT": "text", **TEST_KEYS,
               "INGRESS_WEBHOOK_PORT": str(ingress_port), "LINE_API_BASE_URL": url, "LINE_API_DATA_BASE_URL": url}
        # Itami's taxonomy, made unique so it becomes the current version whatever other tests published.
        document = yaml.safe_load((ROOT / "deploy/demo/itami-taxonomy.yaml").read_text(encoding="utf-8"))
        document["categories"].append({"key": f"t{uuid.uuid4().hex[:8]}", "label": "試験用"})
        path = tmp_path_factory.mktemp("taxonomy") / "taxonomy.yaml"
        path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        published = subprocess.run(
            [str(Path(sys.executable).parent / "segment-service-taxonomy"), "publish", str(path)],
            cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=False)
        assert published.returncode == 0 and "published" in published.stdout, published.stderr
        processes = [
            RunningProcess("ingress", ["cityline-serve", "ingress-webhook"], env,
                           f"http://127.0.0.1:{ingress_port}/readyz"),
            RunningProcess("segment-consumer", ["segment-service-consumer"], env),
        ]
        try:
            for process in processes:
                process.start()
            yield url, emulator, migrated_database_url
        finally:
            for process in processes:
                process.stop()
            for process in processes:
                print(f"--- {process.name} ---\n{process.output()}")


def sent(emulator, user):
    return [entry["message"] for entry in emulator.world.messages_for(user)]


def button(message, label):
    [action] = [item["action"] for item in message["quickReply"]["items"] if item["action"]["label"] == label]
    return action


def test_a_resident_follows_and_sets_preferences_in_the_chat(stack):
    url, emulator, database_url = stack
    user = next(iter(emulator.world.residents))

    def do(path, body=None, count=None):
        response = requests.post(f"{url}/_emulator/residents/{user}/{path}", json=body, timeout=10)
        assert response.status_code == 200, response.text
        if count is not None:
            wait_until(lambda: len(sent(emulator, user)) >= count, timeout=30, message=f"answer {count}")
        return sent(emulator, user)[-1]

    greeting = do("follow", count=1)
    assert greeting["text"]  # the city's words (other tests may have changed them); the button is ours:
    categories = do("postback", {"data": button(greeting, "受信設定をする")["data"]}, count=2)
    ticked = do("postback", {"data": button(categories, "子育て")["data"]}, count=3)
    assert "✓ 子育て" in [item["action"]["label"] for item in ticked["quickReply"]["items"]]
    districts = do("postback", {"data": button(ticked, "次へ")["data"]}, count=4)
    ages = do("postback", {"data": button(districts, "稲野小学校区")["data"]}, count=5)
    languages = do("postback", {"data": button(ages, "40代")["data"]}, count=6)
    children = do("postback", {"data": button(languages, "回答しない")["data"]}, count=7)
    picker = button(children, "お子さまの生年月を追加")
    assert picker["type"] == "datetimepicker"
    more = do("postback", {"data": picker["data"], "params": {"date": "2021-06-15"}}, count=8)
    assert "2021年6月" in more["text"]
    summary = do("postback", {"data": button(more, "完了")["data"]}, count=9)
    assert summary["type"] == "flex" and "稲野小学校区" in str(summary) and "2021年6月生まれ" in str(summary)
    # A tap forged from a real button with a key the taxonomy does not have: refused, nothing answered.
    do("postback", {"data": button(categories, "子育て")["data"].replace("kosodate", "nosuch")})
    assert len(sent(emulator, user)) == 9
    assert {entry["endpoint"] for entry in emulator.world.messages_for(user)} == {"reply"}

    engine = create_engine(database_url)
    try:
        with engine.connect() as db:
            sources = db.execute(text("SELECT payload->>'source' FROM segment.outbox "
                                      "WHERE type = 'segment.PreferencesChanged.v1'")).scalars().all()
    finally:
        engine.dispose()
    # One per change (categories, district, age band, child; 回答しない for the language changed nothing),
    # the same event the LIFF page emits.
    assert len(sources) == 4 and set(sources) == {"chat"}
