"""The inspection API under /_emulator/: drive residents and look at what LINE "did".

Not part of LINE: this is how tests, demos and benchmarks script the population and assert
"resident X received message M exactly once". See tools/line-emulator/README.md.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, jsonify, request

from line_emulator.limits import parse_limit
from line_emulator.webhooks import example_event, user_source

if TYPE_CHECKING:
    from line_emulator.app import Emulator
    from line_emulator.world import Resident

inspection = Blueprint("inspection", __name__, url_prefix="/_emulator")


def _emulator() -> Emulator:
    emulator: Emulator = current_app.extensions["line_emulator"]
    return emulator


def _bad(reason: str, status: int = 400) -> tuple[Response, int]:
    return jsonify(error=reason), status


def _resident_or_404(user_id: str) -> Resident | None:
    return _emulator().world.resident(user_id)


@inspection.get("/health")
def health() -> Response:
    return jsonify(status="ok")


@inspection.get("/stats")
def stats() -> Response:
    emulator = _emulator()
    world = emulator.world
    with world.lock:
        friends = sum(1 for r in world.residents.values() if r.friend)
        body = {
            "residents": len(world.residents), "friends": friends,
            "blocked": sum(1 for r in world.residents.values() if r.blocked),
            "sends": len(world.sends), "recipientsDelivered": world.recipients_delivered,
            "requestsByEndpoint": dict(world.requests_by_endpoint),
            "responsesByEndpointAndStatus": dict(world.statuses_by_endpoint),
            "richMenus": len(world.rich_menus), "defaultRichMenu": world.default_rich_menu,
            "aliases": len(world.aliases), "audiences": len(world.audiences),
            "webhooksSent": len(world.webhook_log), "webhooksPending": emulator.sender.pending(),
            "rateLimits": emulator.limiter.limits(), "faults": emulator.faults.describe(),
            "destination": world.destination, "contents": len(world.contents),
        }
    return jsonify(body)


@inspection.post("/reset")
def reset() -> Response:
    emulator = _emulator()
    emulator.world.reset()
    emulator.limiter.reset()
    emulator.retry_keys.reset()
    emulator.faults.injected.clear()
    return jsonify(status="reset")


@inspection.get("/residents")
def residents() -> Response | tuple[Response, int]:
    world = _emulator().world
    try:
        offset, limit = int(request.args.get("offset", 0)), min(int(request.args.get("limit", 100)), 10_000)
    except ValueError:
        return _bad("offset and limit must be integers")
    only = request.args.get("friend")
    with world.lock:
        chosen = [r for r in world.residents.values() if only is None or r.friend == (only == "true")]
        page = chosen[offset:offset + limit]
        return jsonify(total=len(chosen), residents=[
            {**r.profile(), "friend": r.friend, "blocked": r.blocked, "richMenuId": world.menu_for(r.user_id),
             "displayedRichMenuId": world.displayed_menu(r), "gender": r.gender, "age": r.age, "area": r.area}
            for r in page])


@inspection.get("/residents/<user_id>")
def resident(user_id: str) -> Response | tuple[Response, int]:
    world = _emulator().world
    found = _resident_or_404(user_id)
    if found is None:
        return _bad("no such resident", 404)
    with world.lock:
        return jsonify({**found.profile(), "friend": found.friend, "blocked": found.blocked,
                        "linkedRichMenuId": found.rich_menu_id, "richMenuId": world.menu_for(user_id),
                        "displayedRichMenuId": world.displayed_menu(found),
                        "messages": world.messages_for(user_id)})


@inspection.get("/residents/<user_id>/messages")
def resident_messages(user_id: str) -> Response | tuple[Response, int]:
    if _resident_or_404(user_id) is None:
        return _bad("no such resident", 404)
    return jsonify(messages=_emulator().world.messages_for(user_id))


def _send(events: list[dict[str, Any]]) -> Response:
    wait = request.args.get("wait", "true") != "false"
    sent = _emulator().sender.send(events, wait=wait)
    return jsonify(events=sent)


@inspection.post("/residents/<user_id>/follow")
def follow(user_id: str) -> Response | tuple[Response, int]:
    world = _emulator().world
    found = _resident_or_404(user_id)
    if found is None:
        return _bad("no such resident", 404)
    with world.lock:
        unblocked = found.blocked
        found.friend, found.blocked, found.followed_at = True, False, time.time()
    return _send([{"type": "follow", "source": user_source(user_id), "follow": {"isUnblocked": unblocked}}])


@inspection.post("/residents/<user_id>/unfollow")
def unfollow(user_id: str) -> Response | tuple[Response, int]:
    world = _emulator().world
    found = _resident_or_404(user_id)
    if found is None:
        return _bad("no such resident", 404)
    with world.lock:
        found.friend, found.blocked = False, True
    return _send([{"type": "unfollow", "source": user_source(user_id)}])


@inspection.post("/residents/<user_id>/message")
def message(user_id: str) -> Response | tuple[Response, int]:
    body = request.get_json(silent=True) or {}
    text = body.get("text")
    if not isinstance(text, str) or not text:
        return _bad("body must be {\"text\": \"…\"}")
    if _resident_or_404(user_id) is None:
        return _bad("no such resident", 404)
    message_id = str(time.time_ns())
    return _send([{"type": "message", "source": user_source(user_id),
                   "message": {"type": "text", "id": message_id, "quoteToken": "q" + message_id, "text": text}}])


@inspection.post("/residents/<user_id>/postback")
def postback(user_id: str) -> Response | tuple[Response, int]:
    """A quick-reply or rich-menu tap. With ``richMenuAliasId`` it is a richmenuswitch tap: the
    resident now sees the alias's menu (the per-user link stays as it was, as on LINE) and the
    postback carries LINE's switch params."""
    body = request.get_json(silent=True) or {}
    data = body.get("data")
    if not isinstance(data, str) or not data or len(data) > 300:
        return _bad("body must be {\"data\": \"…\" (1-300 characters), \"params\"?, \"richMenuAliasId\"?}")
    world = _emulator().world
    found = _resident_or_404(user_id)
    if found is None:
        return _bad("no such resident", 404)
    postback_content: dict[str, Any] = {"data": data}
    if isinstance(body.get("params"), dict):
        postback_content["params"] = body["params"]
    alias = body.get("richMenuAliasId")
    if isinstance(alias, str):
        with world.lock:
            target = world.aliases.get(alias)
            if target is None:
                status = "RICHMENU_ALIAS_ID_NOTFOUND"
            elif target not in world.rich_menus:
                status = "RICHMENU_NOTFOUND"
            else:
                status = "SUCCESS"
                world.show_tab(found, target)
        postback_content["params"] = {"newRichMenuAliasId": alias, "status": status}
    return _send([{"type": "postback", "source": user_source(user_id), "postback": postback_content}])


@inspection.get("/residents/<user_id>/rich-menu-history")
def rich_menu_history(user_id: str) -> Response | tuple[Response, int]:
    """When the resident's effective menu (link, else default) changed, and why; tab switches are not changes."""
    if _resident_or_404(user_id) is None:
        return _bad("no such resident", 404)
    return jsonify(history=_emulator().world.menu_history(user_id))


@inspection.get("/rich-menus/summary")
def rich_menu_summary() -> Response | tuple[Response, int]:
    """Residents (``?friends=true``: friends only) per effective menu, and how many have a per-user link."""
    friends = request.args.get("friends", "false")
    if friends not in ("true", "false"):
        return _bad("friends: true or false")
    return jsonify(_emulator().world.menu_summary(friends_only=friends == "true"))


@inspection.post("/follow")
def follow_many() -> Response | tuple[Response, int]:
    """Make ``count`` residents (not yet friends) follow, ``perRequest`` events per webhook."""
    body = request.get_json(silent=True) or {}
    count, per_request = body.get("count", 10), body.get("perRequest", 10)
    if not isinstance(count, int) or not isinstance(per_request, int) or count < 0 or not 1 <= per_request <= 100:
        return _bad("body: {\"count\": n, \"perRequest\": 1-100}")
    emulator = _emulator()
    world = emulator.world
    with world.lock:
        chosen = [r for r in world.residents.values() if not r.friend][:count]
        for found in chosen:
            found.friend, found.blocked, found.followed_at = True, False, time.time()
    events = [{"type": "follow", "source": user_source(r.user_id), "follow": {"isUnblocked": False}} for r in chosen]
    for start in range(0, len(events), per_request):
        emulator.sender.send(events[start:start + per_request], wait=False)
    return jsonify(followed=[r.user_id for r in chosen])


@inspection.post("/events")
def raw_events() -> Response | tuple[Response, int]:
    """Send any events in one webhook request: ``{"events": [...]}`` (LINE's defaults are filled in)
    or ``{"examples": ["follow", "beacon", …], "userId": "U…"}`` for representative events."""
    body = request.get_json(silent=True) or {}
    events = body.get("events")
    if events is None and isinstance(body.get("examples"), list):
        user_id = body.get("userId") or next(iter(_emulator().world.residents))
        try:
            events = [example_event(kind, user_id) for kind in body["examples"]]
        except KeyError as exc:
            return _bad(str(exc))
    if not isinstance(events, list) or not all(isinstance(e, dict) and "type" in e for e in events):
        return _bad("body: {\"events\": [{\"type\": …}, …]} or {\"examples\": [types]}")
    return _send(events)


@inspection.get("/webhooks")
def webhooks() -> Response:
    world = _emulator().world
    with world.lock:
        return jsonify(webhooks=world.webhook_log[-int(request.args.get("last", 200)):])


@inspection.get("/deliveries")
def deliveries() -> Response | tuple[Response, int]:
    """Accepted sends after ``since`` (a sequence number), oldest first, up to ``limit``."""
    world = _emulator().world
    try:
        since, limit = int(request.args.get("since", 0)), min(int(request.args.get("limit", 1000)), 10_000)
    except ValueError:
        return _bad("since and limit must be integers")
    with world.lock:
        chosen = world.sends[since:since + limit]
        return jsonify(deliveries=[{"seq": s.seq, "endpoint": s.endpoint, "requestId": s.request_id,
                                    "retryKey": s.retry_key, "recipients": s.recipients, "messages": s.messages,
                                    "at": s.at} for s in chosen], last=since + len(chosen))


@inspection.get("/received")
def received() -> Response:
    """One summary per distinct content (the same messages), optionally only those containing a
    message whose ``text`` is ``?text=``."""
    world = _emulator().world
    text = request.args.get("text")
    with world.lock:
        chosen = [c for c in world.contents.values()
                  if text is None or any(m.get("text") == text for m in c.messages)]
        return jsonify(contents=[c.summary() for c in chosen])


@inspection.get("/received/<content_key>")
def received_content(content_key: str) -> Response | tuple[Response, int]:
    """A content's summary, its messages, and up to ``?duplicates=N`` (default 100) users who got it twice or more."""
    world = _emulator().world
    try:
        limit = min(int(request.args.get("duplicates", 100)), 10_000)
    except ValueError:
        return _bad("duplicates must be an integer")
    with world.lock:
        content = world.contents.get(content_key)
        if content is None:
            return _bad("nothing was sent with this content key", 404)
        body = {**content.summary(), "messageObjects": content.messages}
    body["duplicateUserIds"] = world.duplicate_user_ids(content_key, limit)
    return jsonify(body)


@inspection.post("/received/counts")
def received_counts() -> Response | tuple[Response, int]:
    """``{"userIds": [...], "contentKey"?}`` → how often each received that content (or any send)."""
    body = request.get_json(silent=True) or {}
    user_ids, key = body.get("userIds"), body.get("contentKey")
    if not isinstance(user_ids, list) or not all(isinstance(u, str) for u in user_ids) or len(user_ids) > 100_000:
        return _bad("body: {\"userIds\": [≤ 100,000 ids], \"contentKey\"?: \"…\"}")
    if key is not None and not isinstance(key, str):
        return _bad("contentKey must be a string")
    return jsonify(contentKey=key, counts=_emulator().world.received_counts(user_ids, key))


@inspection.get("/retry-keys/<key>")
def retry_key(key: str) -> Response:
    """What one X-Line-Retry-Key did: the accepted request, the sends made with it (one, unless
    its 24 h ran out), recipients delivered, and how many requests were turned away with 409."""
    emulator = _emulator()
    world = emulator.world
    accepted = emulator.retry_keys.get(key)
    with world.lock:
        seqs = list(world.sends_by_retry_key.get(key, []))
        sends = [world.sends[seq - 1] for seq in seqs]
        conflicts = world.retry_key_conflicts.get(key, 0)
    return jsonify(retryKey=key, accepted=accepted is not None,
                   acceptedRequestId=accepted.request_id if accepted else None,
                   sends=[{"seq": s.seq, "endpoint": s.endpoint, "requestId": s.request_id,
                           "recipients": s.recipients, "contentKey": s.content_key} for s in sends],
                   recipients=sum(s.recipients for s in sends), conflicts=conflicts)


@inspection.route("/faults", methods=["GET", "POST"])
def faults() -> Response | tuple[Response, int]:
    emulator = _emulator()
    if request.method == "POST":
        body = request.get_json(silent=True) or {}
        try:
            rates = {key: float(body.get(key, 0.0)) for key in ("errorRate", "rateLimitRate", "timeoutRate")}
        except (TypeError, ValueError):
            return _bad("rates must be numbers")
        if any(not 0 <= value <= 1 for value in rates.values()) or sum(rates.values()) > 1:
            return _bad("each rate is between 0 and 1, and together at most 1")
        emulator.faults.error_rate = rates["errorRate"]
        emulator.faults.rate_limit_rate = rates["rateLimitRate"]
        emulator.faults.timeout_rate = rates["timeoutRate"]
        emulator.faults.timeout_seconds = float(body.get("timeoutSeconds", emulator.faults.timeout_seconds))
        emulator.faults.operations = set(body.get("operations") or [])
        try:
            after = float(body.get("acceptThenFailRate", 0.0))
        except (TypeError, ValueError):
            return _bad("acceptThenFailRate must be a number")
        mode = body.get("acceptThenFailMode", "error")
        if not 0 <= after <= 1 or mode not in emulator.faults.MODES:
            return _bad("acceptThenFailRate is between 0 and 1; acceptThenFailMode is error, timeout or drop")
        emulator.faults.accept_then_fail_rate, emulator.faults.accept_then_fail_mode = after, mode
    return jsonify(emulator.faults.describe())


@inspection.route("/rate-limits", methods=["GET", "POST"])
def rate_limits() -> Response | tuple[Response, int]:
    """POST {"multicast": "5/s", "richMenuBatch": "3/h"} changes limits (buckets start full)."""
    emulator = _emulator()
    if request.method == "POST":
        body = request.get_json(silent=True) or {}
        try:
            parsed = [parse_limit(f"{group}={value}") for group, value in body.items()]
        except ValueError as exc:
            return _bad(str(exc))
        for group, count, per in parsed:
            emulator.limiter.set_limit(group, count, per)
    return jsonify(emulator.limiter.limits())


@inspection.route("/retry-key-ttl", methods=["POST"])
def retry_key_ttl() -> Response | tuple[Response, int]:
    body = request.get_json(silent=True) or {}
    seconds = body.get("seconds")
    if not isinstance(seconds, int | float) or seconds <= 0:
        return _bad("body: {\"seconds\": n}")
    _emulator().retry_keys.ttl = float(seconds)
    return jsonify(seconds=seconds)
