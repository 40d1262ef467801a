"""The naive pattern, for comparison only: line-bot-sdk's Flask example, with the handler doing the
work inline.

It does the same job as ingress-webhook — make every event durable before answering — the way the
SDK's example suggests: ``WebhookHandler`` parses every event into SDK models and calls handlers
inline; each handler writes its event to PostgreSQL in its own transaction. When
NAIVE_REPLY_HOST is set (the LINE emulator), message events are also answered inline, as the
example's echo bot does — with a push to the sender, since the benchmark's reply tokens are not
LINE-issued.
"""

from __future__ import annotations

import json
import os

from flask import Flask, abort, request
from linebot.v3 import WebhookHandler
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, PushMessageRequest, TextMessage
from linebot.v3.webhooks import Event, MessageEvent
from sqlalchemy import create_engine, text

app = Flask(__name__)
handler = WebhookHandler(os.environ["LINE_CHANNEL_SECRET"])
engine = create_engine(os.environ["DATABASE_URL"], pool_size=16, max_overflow=0)
reply_host = os.environ.get("NAIVE_REPLY_HOST")
line_api = (
    MessagingApi(ApiClient(Configuration(host=reply_host, access_token=os.environ["LINE_CHANNEL_ACCESS_TOKEN"])))
    if reply_host else None
)


def store(event: Event) -> None:
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO bench_naive.events (id, body) VALUES (:id, CAST(:body AS jsonb)) "
                 "ON CONFLICT DO NOTHING"),
            {"id": event.webhook_event_id, "body": json.dumps(event.to_dict(), default=str)},
        )


@app.route("/callback", methods=["POST"])
def callback() -> str:
    signature = request.headers["X-Line-Signature"]
    body = request.get_data(as_text=True)
    try:
        handler.handle(body, signature)
    except InvalidSignatureError:
        abort(400)
    return "OK"


@handler.add(MessageEvent)
def handle_message(event: MessageEvent) -> None:
    store(event)
    if line_api is not None and event.source is not None:
        line_api.push_message(PushMessageRequest(to=event.source.user_id,  # type: ignore[union-attr]
                                                 messages=[TextMessage(text="受け付けました")]))


@handler.default()
def handle_other(event: Event) -> None:
    store(event)
