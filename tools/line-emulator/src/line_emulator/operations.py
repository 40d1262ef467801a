"""Handlers of the emulated Messaging API, Audience and Insight operations, keyed by operationId.

Each applies the rules LINE documents beyond the JSON schema (UTF-16 text length, recipient
formats, rich menu sizes, image rules, alias rules, single-use reply tokens …) and answers with
LINE's response shapes.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import struct
import time
import uuid
from collections.abc import Callable
from typing import Any

from cityline_common.line_ids import LINE_ID, is_line_user_id

from line_emulator.app import Context, Handler, LineError, Result
from line_emulator.world import AsyncRequest, Audience, Resident, RichMenu, World, jst_date, now_iso

UNIT_NAME = re.compile(r"^[a-zA-Z0-9_]{1,30}$")

ALIAS_ID = re.compile(r"^[a-z0-9_-]{1,32}$")
MAX_TEXT_UTF16 = 5000
MAX_RICH_MENUS = 1000
MAX_ALIASES = 1000
MAX_IMAGE_BYTES = 1024 * 1024
HANDLERS: dict[str, Handler] = {}


def operation(operation_id: str) -> Callable[[Handler], Handler]:
    def register(function: Handler) -> Handler:
        HANDLERS[operation_id] = function
        return function

    return register


def invalid(message: str, prop: str) -> LineError:
    return LineError(400, "The request body has 1 error(s)", [{"message": message, "property": prop}])


def check_messages(messages: list[dict[str, Any]]) -> None:
    for index, message in enumerate(messages):
        text = message.get("text")
        if message.get("type") in {"text", "textV2"} and isinstance(text, str):
            if not text:
                raise invalid("May not be empty", f"messages[{index}].text")
            units = len(text.encode("utf-16-le")) // 2
            if units > MAX_TEXT_UTF16:
                raise invalid(f"Length must be between 0 and {MAX_TEXT_UTF16} (UTF-16 code units)",
                              f"messages[{index}].text")


def check_units(body: dict[str, Any]) -> list[str]:
    """customAggregationUnits: at most one name of 1-30 ``[a-zA-Z0-9_]`` (the OpenAPI file says so
    for multicast only; LINE's reference says it for push too)."""
    units = body.get("customAggregationUnits") or []
    if len(units) > 1:
        raise invalid("Size must be between 0 and 1", "customAggregationUnits")
    for index, unit in enumerate(units):
        if not isinstance(unit, str) or not UNIT_NAME.match(unit):
            raise invalid("must match \"^[a-zA-Z0-9_]{1,30}$\"", f"customAggregationUnits[{index}]")
    return units


def sent(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"id": str(time.time_ns() + index), "quoteToken": uuid.uuid4().hex} for index, _ in enumerate(messages)]


def today_key(world: World, endpoint: str, date: str | None) -> int:
    with world.lock:
        return world.messages_by_date.get(f"{endpoint}:{date}", 0)


def need_date(context: Context) -> str:
    date = context.query("date")
    if not date or not re.fullmatch(r"\d{8}", date):
        raise LineError(400, "date must be yyyyMMdd (UTC+9)")
    return date


# -- sending -------------------------------------------------------------------------------------
@operation("replyMessage")
def reply(context: Context) -> Result:
    check_messages(context.body["messages"])
    user_id = context.world.use_reply_token(context.body["replyToken"])
    if user_id is None:
        raise LineError(400, "Invalid reply token")
    context.world.record_send("reply", context.request_id, None, context.body["messages"], [user_id],
                              notification_disabled=bool(context.body.get("notificationDisabled")))
    messages = sent(context.body["messages"])
    return Result(body={"sentMessages": messages}, sent_messages=messages)


@operation("pushMessage")
def push(context: Context) -> Result:
    body = context.body
    if not LINE_ID.fullmatch(body["to"]):
        raise invalid("The property, 'to', in the request body is invalid", "to")
    check_messages(body["messages"])
    units = check_units(body)
    context.world.record_send("push", context.request_id, context.retry_key, body["messages"], [body["to"]],
                              notification_disabled=bool(body.get("notificationDisabled")),
                              aggregation_unit=units[0] if units else None)
    messages = sent(body["messages"])
    return Result(body={"sentMessages": messages}, sent_messages=messages)


@operation("multicast")
def multicast(context: Context) -> Result:
    body = context.body
    for index, user_id in enumerate(body["to"]):
        if not is_line_user_id(user_id):
            raise invalid(f"The property, 'to[{index}]', in the request body is invalid", f"to[{index}]")
    check_messages(body["messages"])
    units = check_units(body)
    context.world.record_send("multicast", context.request_id, context.retry_key, body["messages"], body["to"],
                              notification_disabled=bool(body.get("notificationDisabled")),
                              aggregation_unit=units[0] if units else None)
    return Result(body={})


@operation("broadcast")
def broadcast(context: Context) -> Result:
    check_messages(context.body["messages"])
    friends = [resident.user_id for resident in context.world.friends()]
    context.world.record_send("broadcast", context.request_id, context.retry_key, context.body["messages"], friends)
    return Result(body={})


def _audience_members(world: World, recipient: dict[str, Any] | None) -> set[str] | None:
    """Resolve a narrowcast recipient object; None means everyone."""
    if recipient is None:
        return None
    kind = recipient.get("type")
    if kind == "audience":
        audience = world.audiences.get(int(recipient["audienceGroupId"]))
        if audience is None:
            raise invalid("audienceGroupId not found", "recipient.audienceGroupId")
        return set(audience.user_ids)
    if kind == "operator":
        if recipient.get("and"):
            sets = [_audience_members(world, item) for item in recipient["and"]]
            result: set[str] | None = None
            for each in sets:
                result = each if result is None else (result if each is None else result & each)
            return result
        if recipient.get("or"):
            union: set[str] = set()
            for item in recipient["or"]:
                members = _audience_members(world, item)
                if members is None:
                    return None
                union |= members
            return union
        if recipient.get("not"):
            excluded = _audience_members(world, recipient["not"]) or set(world.residents)
            return set(world.residents) - excluded
    if kind == "redelivery":
        previous = world.async_requests.get(recipient.get("requestId", ""))
        if previous is None:
            raise invalid("requestId not found", "recipient.requestId")
        return set(previous.result.get("recipients", []))
    raise invalid("unsupported recipient", "recipient")


def _demographic_match(resident: Resident, demographic: dict[str, Any] | None) -> bool:
    if not demographic:
        return True
    kind = demographic.get("type")
    if kind == "operator":
        if demographic.get("and"):
            return all(_demographic_match(resident, item) for item in demographic["and"])
        if demographic.get("or"):
            return any(_demographic_match(resident, item) for item in demographic["or"])
        if demographic.get("not"):
            return not _demographic_match(resident, demographic["not"])
        return True
    if kind == "gender":
        return resident.gender in demographic.get("oneOf", [])
    if kind == "appType":
        return resident.app_type in demographic.get("oneOf", [])
    if kind == "area":
        return resident.area in demographic.get("oneOf", [])
    if kind == "age":
        low = int(str(demographic.get("gte", "age_0")).removeprefix("age_") or 0)
        high = int(str(demographic.get("lt", "age_200")).removeprefix("age_") or 200)
        return low <= resident.age < high
    return True


@operation("narrowcast")
def narrowcast(context: Context) -> Result:
    body = context.body
    check_messages(body["messages"])
    world = context.world
    with world.lock:
        members = _audience_members(world, body.get("recipient"))
        demographic = (body.get("filter") or {}).get("demographic")
        targets = [r.user_id for r in world.friends()
                   if (members is None or r.user_id in members) and _demographic_match(r, demographic)]
        limit = (body.get("limit") or {}).get("max")
        if isinstance(limit, int):
            targets = targets[:limit]
        send = world.record_send("narrowcast", context.request_id, context.retry_key, body["messages"], targets)
        _accept_async(context, "narrowcast", {"successCount": send.recipients, "failureCount": 0,
                                              "targetCount": len(targets), "recipients": targets})
    return Result(status=202, body={})


def _accept_async(context: Context, kind: str, result: dict[str, Any]) -> None:
    """Record a request LINE completes later (narrowcast, rich menu batch); done half a second on."""
    accepted = time.time()
    context.world.async_requests[context.request_id] = AsyncRequest(
        context.request_id, kind, accepted, accepted + 0.5, result)


def _async_request(context: Context, kind: str) -> AsyncRequest:
    """The request named by ``?requestId=`` for a progress endpoint, or LINE's 404."""
    found = context.world.async_requests.get(context.query("requestId") or "")
    if found is None or found.kind != kind:
        raise LineError(404, "Not found")
    return found


@operation("getNarrowcastProgress")
def narrowcast_progress(context: Context) -> Result:
    found = _async_request(context, "narrowcast")
    body: dict[str, Any] = {"phase": "sending", "acceptedTime": now_iso(found.accepted)}
    if time.time() >= found.complete_after:
        body.update({"phase": "succeeded", "completedTime": now_iso(found.complete_after),
                     **{k: v for k, v in found.result.items() if k != "recipients"}})
    return Result(body=body)


def _validate_only(context: Context) -> Result:
    check_messages(context.body["messages"])
    return Result(body={})


for _op in ("validateReply", "validatePush", "validateMulticast", "validateNarrowcast", "validateBroadcast"):
    HANDLERS[_op] = _validate_only


# -- quota, statistics, profile, followers ---------------------------------------------------------
@operation("getMessageQuota")
def quota(context: Context) -> Result:
    return Result(body={"type": "none"})  # 地方公共団体プラン: no monthly cap


@operation("getMessageQuotaConsumption")
def consumption(context: Context) -> Result:
    month = jst_date(time.time())[:6]
    with context.world.lock:
        total = sum(count for key, count in context.world.messages_by_date.items()
                    if not key.startswith("reply:") and key.rpartition(":")[2].startswith(month))
    return Result(body={"totalUsage": total})


def _sent_count(endpoint: str) -> Handler:
    def handler(context: Context) -> Result:
        return Result(body={"status": "ready", "success": today_key(context.world, endpoint, need_date(context))})

    return handler


for _op, _endpoint in (("getNumberOfSentReplyMessages", "reply"), ("getNumberOfSentPushMessages", "push"),
                       ("getNumberOfSentMulticastMessages", "multicast"),
                       ("getNumberOfSentBroadcastMessages", "broadcast")):
    HANDLERS[_op] = _sent_count(_endpoint)


def _units_this_month(world: World) -> list[str]:
    with world.lock:
        return list(world.units_by_month.get(jst_date(time.time())[:6], {}))


@operation("getAggregationUnitUsage")
def aggregation_usage(context: Context) -> Result:
    return Result(body={"numOfCustomAggregationUnits": len(_units_this_month(context.world))})


@operation("getAggregationUnitNameList")
def aggregation_names(context: Context) -> Result:
    """This month's unit names in order of first use, ``limit`` (≤ 100) at a time; ``next`` is the
    opaque continuation token (here the offset, base-36)."""
    try:
        limit = int(context.query("limit") or 100)
        start = int(context.query("start") or "0", 36)
    except ValueError:
        raise LineError(400, "limit must be an integer and start a token returned as next") from None
    if not 1 <= limit <= 100 or start < 0:
        raise LineError(400, "limit must be between 1 and 100")
    units = _units_this_month(context.world)
    body: dict[str, Any] = {"customAggregationUnits": units[start:start + limit]}
    if start + limit < len(units):
        body["next"] = _base36(start + limit)
    return Result(body=body)


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


@operation("getProfile")
def profile(context: Context) -> Result:
    resident = context.world.resident(context.params["userId"])
    if resident is None or not resident.friend:
        raise LineError(404, "Not found")
    return Result(body=resident.profile())


@operation("getFollowers")
def followers(context: Context) -> Result:
    try:
        limit = int(context.query("limit", "300") or 300)
    except ValueError:
        raise LineError(400, "limit must be an integer") from None
    if not 1 <= limit <= 1000:
        raise LineError(400, "limit must be between 1 and 1000")
    ids = sorted(resident.user_id for resident in context.world.friends())
    start = int(context.query("start", "0") or 0) if (context.query("start") or "").isdigit() else 0
    page = ids[start:start + limit]
    body: dict[str, Any] = {"userIds": page}
    if start + limit < len(ids):
        body["next"] = str(start + limit)
    return Result(body=body)


@operation("getBotInfo")
def bot_info(context: Context) -> Result:
    return Result(body={"userId": context.world.destination, "basicId": "@itami_city", "displayName": "伊丹市",
                        "chatMode": "bot", "markAsReadMode": "auto"})


@operation("showLoadingAnimation")
def loading(context: Context) -> Result:
    return Result(status=202, body={})


# -- rich menus ----------------------------------------------------------------------------------
def check_rich_menu(body: dict[str, Any]) -> None:
    size = body.get("size") or {}
    width, height = size.get("width"), size.get("height")
    if not isinstance(width, int) or not 800 <= width <= 2500:
        raise invalid("width must be between 800 and 2500", "size.width")
    if not isinstance(height, int) or height < 250 or width / height < 1.45:
        raise invalid("height must be at least 250 and width/height at least 1.45", "size.height")
    for key, limit in (("name", 300), ("chatBarText", 14)):
        value = body.get(key)
        if not isinstance(value, str) or not value or len(value) > limit:
            raise invalid(f"must be 1 to {limit} characters", key)
    areas = body.get("areas")
    if not isinstance(areas, list) or len(areas) > 20:
        raise invalid("at most 20 areas", "areas")
    for index, area in enumerate(areas):
        bounds = area.get("bounds") or {}
        x, y, w, h = (bounds.get(k, -1) for k in ("x", "y", "width", "height"))
        if min(x, y) < 0 or w <= 0 or h <= 0 or x + w > width or y + h > height:
            raise invalid("area must lie inside the rich menu", f"areas[{index}].bounds")


def menu(world: World, rich_menu_id: str) -> RichMenu:
    found = world.rich_menus.get(rich_menu_id)
    if found is None:
        raise LineError(404, "Not found")
    return found


@operation("createRichMenu")
def create_rich_menu(context: Context) -> Result:
    check_rich_menu(context.body)
    with context.world.lock:
        if len(context.world.rich_menus) >= MAX_RICH_MENUS:
            raise LineError(400, "The maximum number of rich menus has been reached")
        rich_menu_id = "richmenu-" + uuid.uuid4().hex
        context.world.rich_menus[rich_menu_id] = RichMenu(rich_menu_id, context.body)
    return Result(body={"richMenuId": rich_menu_id})


@operation("validateRichMenuObject")
def validate_rich_menu(context: Context) -> Result:
    check_rich_menu(context.body)
    return Result(body={})


def image_size(data: bytes, content_type: str) -> tuple[int, int]:
    if content_type == "image/png" and data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if content_type == "image/jpeg" and data[:2] == b"\xff\xd8":
        index = 2
        while index + 9 < len(data):
            if data[index] != 0xFF:
                break
            marker = data[index + 1]
            length = struct.unpack(">H", data[index + 2:index + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", data[index + 5:index + 9])
                return width, height
            index += 2 + length
    raise LineError(400, "The image could not be read as " + content_type)


@operation("setRichMenuImage")
def set_rich_menu_image(context: Context) -> Result:
    from flask import request

    content_type = (request.content_type or "").split(";")[0].strip()
    if content_type not in {"image/jpeg", "image/png"}:
        raise LineError(415, "Unsupported Media Type: use image/jpeg or image/png")
    data = request.get_data()
    if len(data) > MAX_IMAGE_BYTES:
        raise LineError(400, "The image must be 1 MB or smaller")
    width, height = image_size(data, content_type)
    if not 800 <= width <= 2500 or height < 250 or width / height < 1.45:
        raise LineError(400, "The image must be 800-2500 px wide, at least 250 px high, with width/height >= 1.45")
    with context.world.lock:
        found = menu(context.world, context.params["richMenuId"])
        if found.image is not None:
            raise LineError(400, "An image has already been uploaded to the rich menu")
        found.image, found.image_type = data, content_type
    return Result(body={})


@operation("getRichMenuImage")
def get_rich_menu_image(context: Context) -> Result:
    found = menu(context.world, context.params["richMenuId"])
    if found.image is None:
        raise LineError(404, "Not found")
    return Result(raw=found.image, content_type=found.image_type or "image/png")


def menu_response(found: RichMenu) -> dict[str, Any]:
    return {"richMenuId": found.rich_menu_id, **found.body}


@operation("getRichMenu")
def get_rich_menu(context: Context) -> Result:
    return Result(body=menu_response(menu(context.world, context.params["richMenuId"])))


@operation("deleteRichMenu")
def delete_rich_menu(context: Context) -> Result:
    world, rich_menu_id = context.world, context.params["richMenuId"]
    with world.lock:
        menu(world, rich_menu_id)
        del world.rich_menus[rich_menu_id]
        if world.default_rich_menu == rich_menu_id:
            world.default_rich_menu = None
            world.default_epoch += 1
        for resident in world.residents.values():
            if resident.rich_menu_id == rich_menu_id:
                world.set_link(resident, None)
        world.log_menu("delete-menu", None, rich_menu_id)  # the replay unlinks it and drops it as default
    return Result(body={})


@operation("getRichMenuList")
def list_rich_menus(context: Context) -> Result:
    with context.world.lock:
        return Result(body={"richmenus": [menu_response(m) for m in context.world.rich_menus.values()]})


@operation("setDefaultRichMenu")
def set_default(context: Context) -> Result:
    with context.world.lock:
        found = menu(context.world, context.params["richMenuId"])
        if found.image is None:
            raise LineError(400, "An image has not been uploaded to the rich menu")
        context.world.set_default(found.rich_menu_id)
    return Result(body={})


@operation("getDefaultRichMenuId")
def get_default(context: Context) -> Result:
    if context.world.default_rich_menu is None:
        raise LineError(404, "no default rich menu")
    return Result(body={"richMenuId": context.world.default_rich_menu})


@operation("cancelDefaultRichMenu")
def cancel_default(context: Context) -> Result:
    context.world.set_default(None)
    return Result(body={})


def _linkable(world: World, rich_menu_id: str) -> RichMenu:
    found = menu(world, rich_menu_id)
    if found.image is None:
        raise LineError(400, "An image has not been uploaded to the rich menu")
    return found


@operation("linkRichMenuIdToUser")
def link_user(context: Context) -> Result:
    world = context.world
    with world.lock:
        _linkable(world, context.params["richMenuId"])
        resident = world.resident(context.params["userId"])
        if resident is not None and resident.friend:  # others: 200 and nothing happens, as on LINE
            world.set_link(resident, context.params["richMenuId"])
            world.log_menu("link", frozenset((resident.user_id,)), context.params["richMenuId"])
    return Result(body={})


@operation("unlinkRichMenuIdFromUser")
def unlink_user(context: Context) -> Result:
    world = context.world
    with world.lock:
        resident = world.resident(context.params["userId"])
        if resident is not None:
            world.set_link(resident, None)
            world.log_menu("unlink", frozenset((resident.user_id,)), None)
    return Result(body={})


@operation("getRichMenuIdOfUser")
def user_menu(context: Context) -> Result:
    resident = context.world.resident(context.params["userId"])
    if resident is None or resident.rich_menu_id is None:
        raise LineError(404, "the user has no rich menu linked")
    return Result(body={"richMenuId": resident.rich_menu_id})


def _check_user_ids(user_ids: list[str]) -> None:
    for index, user_id in enumerate(user_ids):
        if not is_line_user_id(user_id):
            raise invalid("invalid user ID", f"userIds[{index}]")


@operation("linkRichMenuIdToUsers")
def bulk_link(context: Context) -> Result:
    _check_user_ids(context.body["userIds"])
    world = context.world
    with world.lock:
        _linkable(world, context.body["richMenuId"])
        linked = []
        for user_id in context.body["userIds"]:
            resident = world.resident(user_id)
            if resident is not None and resident.friend:
                world.set_link(resident, context.body["richMenuId"])
                linked.append(resident.user_id)  # the resident's own string: the log shares it
        world.log_menu("link", frozenset(linked), context.body["richMenuId"])
    return Result(status=202, body={})


@operation("unlinkRichMenuIdFromUsers")
def bulk_unlink(context: Context) -> Result:
    _check_user_ids(context.body["userIds"])
    world = context.world
    with world.lock:
        unlinked = []
        for user_id in context.body["userIds"]:
            resident = world.resident(user_id)
            if resident is not None:
                world.set_link(resident, None)
                unlinked.append(resident.user_id)
        world.log_menu("unlink", frozenset(unlinked), None)
    return Result(status=202, body={})


def _check_batch(world: World, body: dict[str, Any]) -> None:
    operations = body["operations"]
    kinds = {op.get("type") for op in operations}
    if "unlinkAll" in kinds and len(operations) > 1:
        raise invalid("unlinkAll cannot be combined with other operations", "operations")
    seen: set[str] = set()
    for index, op in enumerate(operations):
        source = op.get("from")
        if source is not None:
            if source in seen:
                raise invalid("the same 'from' rich menu may appear only once", f"operations[{index}].from")
            seen.add(source)
            menu(world, source)
        if op.get("to") is not None:
            _linkable(world, op["to"])


@operation("validateRichMenuBatchRequest")
def validate_batch(context: Context) -> Result:
    _check_batch(context.world, context.body)
    return Result(body={})


@operation("richMenuBatch")
def batch(context: Context) -> Result:
    world = context.world
    with world.lock:
        _check_batch(world, context.body)
        # LINE applies the operations independently: each user moves by the menu linked before the batch.
        moves: dict[str, str | None] | None = {
            op["from"]: op.get("to") if op["type"] == "link" else None for op in context.body["operations"]
            if op["type"] != "unlinkAll"}
        if any(op["type"] == "unlinkAll" for op in context.body["operations"]):
            moves = None
        for resident in world.residents.values():
            if resident.rich_menu_id is not None and (moves is None or resident.rich_menu_id in moves):
                world.set_link(resident, None if moves is None else moves[resident.rich_menu_id])
        world.log_menu("batch", None, None, moves)
        _accept_async(context, "richmenu-batch", {})
    return Result(status=202, body={})


@operation("getRichMenuBatchProgress")
def batch_progress(context: Context) -> Result:
    found = _async_request(context, "richmenu-batch")
    done = time.time() >= found.complete_after
    body = {"phase": "succeeded" if done else "ongoing", "acceptedTime": now_iso(found.accepted)}
    if done:
        body["completedTime"] = now_iso(found.complete_after)
    return Result(body=body)


@operation("createRichMenuAlias")
def create_alias(context: Context) -> Result:
    alias, rich_menu_id = context.body["richMenuAliasId"], context.body["richMenuId"]
    if not ALIAS_ID.match(alias):
        raise invalid("richMenuAliasId: 1-32 of a-z 0-9 _ -", "richMenuAliasId")
    with context.world.lock:
        _linkable(context.world, rich_menu_id)
        if alias in context.world.aliases:
            raise LineError(400, "conflict richmenu alias id")
        if len(context.world.aliases) >= MAX_ALIASES:
            raise LineError(400, "The maximum number of rich menu aliases has been reached")
        context.world.aliases[alias] = rich_menu_id
    return Result(body={})


@operation("updateRichMenuAlias")
def update_alias(context: Context) -> Result:
    with context.world.lock:
        if context.params["richMenuAliasId"] not in context.world.aliases:
            raise LineError(400, "richmenu alias id not found")
        _linkable(context.world, context.body["richMenuId"])
        context.world.aliases[context.params["richMenuAliasId"]] = context.body["richMenuId"]
    return Result(body={})


@operation("deleteRichMenuAlias")
def delete_alias(context: Context) -> Result:
    with context.world.lock:
        if context.world.aliases.pop(context.params["richMenuAliasId"], None) is None:
            raise LineError(400, "richmenu alias id not found")
    return Result(body={})


@operation("getRichMenuAlias")
def get_alias(context: Context) -> Result:
    rich_menu_id = context.world.aliases.get(context.params["richMenuAliasId"])
    if rich_menu_id is None:
        raise LineError(404, "Not found")
    return Result(body={"richMenuAliasId": context.params["richMenuAliasId"], "richMenuId": rich_menu_id})


@operation("getRichMenuAliasList")
def list_aliases(context: Context) -> Result:
    with context.world.lock:
        return Result(body={"aliases": [{"richMenuAliasId": a, "richMenuId": m}
                                        for a, m in context.world.aliases.items()]})


# -- audiences -----------------------------------------------------------------------------------
def _audience_json(audience: Audience) -> dict[str, Any]:
    return {
        "audienceGroupId": audience.audience_group_id, "type": "UPLOAD", "description": audience.description,
        "status": "READY" if audience.user_ids else "IN_PROGRESS", "audienceCount": len(audience.user_ids),
        "created": audience.created, "isIfaAudience": audience.is_ifa, "permission": "READ_WRITE",
        "createRoute": "MESSAGING_API",
    }


def _audience_ids(body: dict[str, Any]) -> set[str]:
    ids = [item.get("id", "") for item in body.get("audiences") or []]
    if len(ids) > 10_000:
        raise invalid("at most 10,000 audiences per request", "audiences")
    for index, user_id in enumerate(ids):
        if not is_line_user_id(user_id):
            raise LineError(400, "UPLOAD_AUDIENCE_GROUP_INVALID_AUDIENCE_ID_FORMAT",
                            [{"message": "invalid audience id", "property": f"audiences[{index}].id"}])
    return set(ids)


@operation("createAudienceGroup")
def create_audience(context: Context) -> Result:
    body = context.body
    description = body.get("description", "")
    if not description or len(description) > 120:
        raise invalid("description must be 1 to 120 characters", "description")
    ids = _audience_ids(body)
    world = context.world
    with world.lock:
        if len(world.audiences) >= 1000:
            raise LineError(400, "AUDIENCE_GROUP_COUNT_MAX_OVER")
        audience_id = world.next_audience_id()
        created = int(time.time())
        audience = Audience(audience_id, description, ids, created, bool(body.get("isIfaAudience")),
                            body.get("uploadDescription"))
        audience.jobs.append({"audienceGroupJobId": audience_id * 10, "audienceGroupId": audience_id,
                              "description": body.get("uploadDescription") or "", "type": "DIFF_ADD",
                              "jobStatus": "FINISHED", "audienceCount": len(ids), "created": created})
        world.audiences[audience_id] = audience
    return Result(status=202, body={
        "audienceGroupId": audience_id, "createRoute": "MESSAGING_API", "type": "UPLOAD", "description": description,
        "created": created, "permission": "READ_WRITE", "expireTimestamp": created + 180 * 86400,
        "isIfaAudience": audience.is_ifa,
    })


@operation("addAudienceToAudienceGroup")
def add_audience(context: Context) -> Result:
    ids = _audience_ids(context.body)
    with context.world.lock:
        audience = context.world.audiences.get(int(context.body.get("audienceGroupId", 0)))
        if audience is None:
            raise LineError(400, "AUDIENCE_GROUP_NOT_FOUND")
        audience.user_ids |= ids  # IDs can be added, never removed (LINE's rule)
        audience.jobs.append({"audienceGroupJobId": audience.audience_group_id * 10 + len(audience.jobs),
                              "audienceGroupId": audience.audience_group_id, "type": "DIFF_ADD",
                              "description": context.body.get("uploadDescription") or "",
                              "jobStatus": "FINISHED", "audienceCount": len(ids), "created": int(time.time())})
    return Result(status=202, body={})


def _audience(context: Context) -> Audience:
    try:
        audience = context.world.audiences.get(int(context.params["audienceGroupId"]))
    except ValueError:
        audience = None
    if audience is None:
        raise LineError(404, "AUDIENCE_GROUP_NOT_FOUND")
    return audience


@operation("getAudienceData")
def get_audience(context: Context) -> Result:
    audience = _audience(context)
    return Result(body={"audienceGroup": _audience_json(audience), "jobs": audience.jobs})


@operation("deleteAudienceGroup")
def delete_audience(context: Context) -> Result:
    audience = _audience(context)
    with context.world.lock:
        del context.world.audiences[audience.audience_group_id]
    return Result(status=202, body={})


@operation("updateAudienceGroupDescription")
def rename_audience(context: Context) -> Result:
    audience = _audience(context)
    audience.description = context.body["description"]
    return Result(body={})


@operation("getAudienceGroups")
def list_audiences(context: Context) -> Result:
    try:
        page, size = int(context.query("page", "1") or 1), int(context.query("size", "20") or 20)
    except ValueError:
        raise LineError(400, "page and size must be integers") from None
    if page < 1 or not 1 <= size <= 40:
        raise LineError(400, "page >= 1 and 1 <= size <= 40")
    with context.world.lock:
        groups = sorted(context.world.audiences.values(), key=lambda a: a.audience_group_id)
        chunk = groups[(page - 1) * size: page * size]
        return Result(body={"audienceGroups": [_audience_json(a) for a in chunk],
                            "hasNextPage": page * size < len(groups), "totalCount": len(groups),
                            "readWriteAudienceGroupTotalCount": len(groups), "page": page, "size": size})


# -- insight -------------------------------------------------------------------------------------
@operation("getNumberOfFollowers")
def insight_followers(context: Context) -> Result:
    need_date(context)
    with context.world.lock:
        friends = sum(1 for r in context.world.residents.values() if r.friend)
        blocks = sum(1 for r in context.world.residents.values() if r.blocked)
    return Result(body={"status": "ready", "followers": friends + blocks, "targetedReaches": friends, "blocks": blocks})


@operation("getNumberOfMessageDeliveries")
def insight_deliveries(context: Context) -> Result:
    date = need_date(context)
    world = context.world
    return Result(body={
        "status": "ready", "broadcast": 0, "targeting": 0, "autoResponse": 0, "welcomeResponse": 0, "chat": 0,
        "apiBroadcast": today_key(world, "broadcast", date), "apiPush": today_key(world, "push", date),
        "apiMulticast": today_key(world, "multicast", date), "apiNarrowcast": today_key(world, "narrowcast", date),
        "apiReply": today_key(world, "reply", date),
    })


PRIVACY_FLOOR = 20  # LINE: aggregated values below 20 are null, never 0


def _floor(value: int | None) -> int | None:
    return value if value is not None and value >= PRIVACY_FLOOR else None


def _fraction(*parts: str, low: float, high: float) -> float:
    """A deterministic rate in [low, high) derived from ``parts`` (same input, same figure)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return low + (high - low) * int.from_bytes(digest[:4], "big") / 2**32


def _urls(node: Any, found: dict[str, None]) -> dict[str, None]:
    """URLs a resident can open in a message: ``uri``/``linkUri`` actions and http(s) links in text."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"uri", "linkUri"} and isinstance(value, str) and value.startswith(("http://", "https://")):
                found.setdefault(value)
            elif key == "text" and isinstance(value, str):
                for url in re.findall(r"https?://[^\s]+", value):
                    found.setdefault(url)
            else:
                _urls(value, found)
    elif isinstance(node, list):
        for item in node:
            _urls(item, found)
    return found


def unit_statistics(unit: str, sends: list[Any]) -> dict[str, Any]:
    """Plausible, deterministic interaction figures from what was delivered under ``unit``.

    Per content (the same messages), with D = residents it was delivered to: bubble 1 is opened
    by D × r (r in [0.55, 0.75) from SHA-256 of unit + content), bubble n by that × 0.85^(n-1);
    each URL is opened by D × r × c users (c in [0.05, 0.20) per URL), 1.3 times each on average;
    video/audio bubbles are played by 40 % of those who saw them, to the end by 15 %. Figures of
    every content add up; each value under 20 is null (LINE's privacy floor).
    """
    by_content: dict[str, tuple[list[dict[str, Any]], int]] = {}
    for send in sends:
        messages, delivered = by_content.get(send.content_key, (send.messages, 0))
        by_content[send.content_key] = (messages, delivered + send.recipients)
    bubbles: dict[int, dict[str, int]] = {}
    clicks: dict[str, dict[str, int]] = {}
    unique_impression = unique_click = unique_played = unique_played_all = 0
    media_seen = False
    for key, (messages, delivered) in by_content.items():
        opened = int(delivered * _fraction(unit, key, low=0.55, high=0.75))
        unique_impression += opened
        clicked_any = played_any = played_all = 0
        for seq, message in enumerate(messages, start=1):
            seen = int(opened * 0.85 ** (seq - 1))
            bubble = bubbles.setdefault(seq, {"impression": 0, "uniqueImpression": 0, "mediaPlayed": 0,
                                              "uniqueMediaPlayed": 0, "mediaPlayed100Percent": 0,
                                              "uniqueMediaPlayed100Percent": 0})
            bubble["impression"] += int(seen * 1.2)
            bubble["uniqueImpression"] += seen
            if message.get("type") in {"video", "audio"}:
                media_seen = True
                played, whole = int(seen * 0.4), int(seen * 0.15)
                bubble["mediaPlayed"] += int(played * 1.1)
                bubble["uniqueMediaPlayed"] += played
                bubble["mediaPlayed100Percent"] += whole
                bubble["uniqueMediaPlayed100Percent"] += whole
                played_any, played_all = max(played_any, played), max(played_all, whole)
        for url in _urls(messages, {}):
            users = int(opened * _fraction(unit, key, url, low=0.05, high=0.20))
            entry = clicks.setdefault(url, {"click": 0, "uniqueClick": 0})
            entry["click"] += int(users * 1.3)
            entry["uniqueClick"] += users
            clicked_any = max(clicked_any, users)
        unique_click += clicked_any
        unique_played += played_any
        unique_played_all += played_all

    def media(value: int) -> int | None:
        return _floor(value) if media_seen else None

    return {
        "overview": {"uniqueImpression": _floor(unique_impression), "uniqueClick": _floor(unique_click),
                     "uniqueMediaPlayed": media(unique_played),
                     "uniqueMediaPlayed100Percent": media(unique_played_all)},
        "messages": [{"seq": seq, "impression": _floor(b["impression"]),
                      "uniqueImpression": _floor(b["uniqueImpression"]),
                      "mediaPlayed": media(b["mediaPlayed"]), "mediaPlayed25Percent": media(b["mediaPlayed"]),
                      "mediaPlayed50Percent": media(b["mediaPlayed"] // 2),
                      "mediaPlayed75Percent": media(b["mediaPlayed"] // 3),
                      "mediaPlayed100Percent": media(b["mediaPlayed100Percent"]),
                      "uniqueMediaPlayed": media(b["uniqueMediaPlayed"]),
                      "uniqueMediaPlayed25Percent": media(b["uniqueMediaPlayed"]),
                      "uniqueMediaPlayed50Percent": media(b["uniqueMediaPlayed"] // 2),
                      "uniqueMediaPlayed75Percent": media(b["uniqueMediaPlayed"] // 3),
                      "uniqueMediaPlayed100Percent": media(b["uniqueMediaPlayed100Percent"])}
                     for seq, b in sorted(bubbles.items())],
        "clicks": [{"seq": seq, "url": url, "click": _floor(c["click"]), "uniqueClick": _floor(c["uniqueClick"]),
                    "uniqueClickOfRequest": _floor(c["uniqueClick"])}
                   for seq, (url, c) in enumerate(clicks.items(), start=1)],
    }


def _yyyymmdd(context: Context, name: str) -> datetime.date:
    text = context.query(name) or ""
    try:
        if not re.fullmatch(r"\d{8}", text):
            raise ValueError(text)
        return datetime.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise LineError(400, f"{name} must be yyyyMMdd (UTC+9)") from None


@operation("getMessageEvent")
def insight_message_event(context: Context) -> Result:
    request_id = context.query("requestId") or ""
    with context.world.lock:
        send = next((s for s in context.world.sends if s.request_id == request_id), None)
    if send is None:
        raise LineError(404, "Not found")
    # Privacy threshold: interaction figures under 20 people are null; ``delivered`` is not
    # nullable in the OpenAPI file, so it is left out under 20. Figures as for statistics per unit.
    figures = unit_statistics(request_id, [send])
    overview: dict[str, Any] = {"requestId": request_id, "timestamp": int(send.at), **figures["overview"]}
    if send.recipients >= PRIVACY_FLOOR:
        overview["delivered"] = send.recipients
    return Result(body={
        "overview": overview,
        "messages": [{k: v for k, v in m.items() if k != "uniqueImpression"} for m in figures["messages"]],
        "clicks": figures["clicks"],
    })


@operation("getStatisticsPerUnit")
def insight_per_unit(context: Context) -> Result:
    """Per-unit statistics of push/multicast sent with ``customAggregationUnits`` between ``from``
    and ``to`` (UTC+9 days, ``to`` at most 30 days after ``from``). Figures are available at once
    (LINE updates them for 14 days after sending)."""
    unit = context.query("customAggregationUnit") or ""
    if not UNIT_NAME.match(unit):
        raise LineError(400, "customAggregationUnit must be 1-30 of [a-zA-Z0-9_]")
    start, end = _yyyymmdd(context, "from"), _yyyymmdd(context, "to")
    if end < start or (end - start).days > 30:
        raise LineError(400, "to must be on or after from, at most 30 days later")
    low, high = start.strftime("%Y%m%d"), end.strftime("%Y%m%d")
    with context.world.lock:
        sends = [s for s in context.world.sends if s.aggregation_unit == unit and low <= jst_date(s.at) <= high]
    return Result(body=unit_statistics(unit, sends))
