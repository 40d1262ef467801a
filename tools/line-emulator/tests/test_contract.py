"""Contract tests: line-bot-sdk's own clients against the emulator; every answer is checked
against the response schema in LINE's OpenAPI files."""

import json
import struct
import uuid
import zlib

import pytest
from cityline_common.line_client import line_clients
from cityline_common.settings import LineSettings
from linebot.v3.audience import AddAudienceToAudienceGroupRequest, Audience, CreateAudienceGroupRequest
from linebot.v3.messaging import (
    ApiException,
    AudienceRecipient,
    BroadcastRequest,
    CreateRichMenuAliasRequest,
    MulticastRequest,
    NarrowcastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
    RichMenuArea,
    RichMenuBatchLinkOperation,
    RichMenuBatchRequest,
    RichMenuBounds,
    RichMenuBulkLinkRequest,
    RichMenuBulkUnlinkRequest,
    RichMenuRequest,
    RichMenuSize,
    RichMenuSwitchAction,
    TextMessage,
    UpdateRichMenuAliasRequest,
    ValidateMessageRequest,
)
from pydantic import SecretStr

from testsupport import TEST_KEYS
from testsupport.emulator import running_emulator


@pytest.fixture(scope="module")
def emulated():
    with running_emulator(residents=50) as (url, emulator):
        settings = LineSettings(line_channel_secret=SecretStr(TEST_KEYS["LINE_CHANNEL_SECRET"]),
                                line_channel_access_token=SecretStr(TEST_KEYS["LINE_CHANNEL_ACCESS_TOKEN"]),
                                line_api_base_url=url, line_api_data_base_url=url)
        clients = line_clients(settings)
        with emulator.world.lock:
            friends = list(emulator.world.residents.values())[:30]
            for resident in friends:
                resident.friend = True
        yield clients, emulator, [r.user_id for r in friends]
        clients.close()


def checked(emulator, operation_id, response):
    """The raw body matches LINE's response schema for this operation and status."""
    validator = emulator.spec.response_validator(operation_id, str(response.status_code))
    assert response.headers["x-line-request-id"]
    if validator is not None:
        body = json.loads(response.raw_data or b"{}")
        errors = [e.message for e in validator.iter_errors(body)]
        assert errors == [], (operation_id, errors)
    return response.data


def png(width, height):
    raw = b"".join(b"\x00" + b"\xff\xff\xff" * width for _ in range(height))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


TEXT = [TextMessage(text="伊丹市からのお知らせです")]


def test_sending(emulated):
    clients, emulator, friends = emulated
    api = clients.messaging
    checked(emulator, "pushMessage", api.push_message_with_http_info(
        PushMessageRequest(to=friends[0], messages=TEXT), x_line_retry_key=str(uuid.uuid4())))
    checked(emulator, "multicast", api.multicast_with_http_info(
        MulticastRequest(to=friends[:10], messages=TEXT), x_line_retry_key=str(uuid.uuid4())))
    checked(emulator, "broadcast", api.broadcast_with_http_info(BroadcastRequest(messages=TEXT)))
    for operation_id, method in (("validatePush", api.validate_push_with_http_info),
                                 ("validateMulticast", api.validate_multicast_with_http_info),
                                 ("validateReply", api.validate_reply_with_http_info),
                                 ("validateBroadcast", api.validate_broadcast_with_http_info),
                                 ("validateNarrowcast", api.validate_narrowcast_with_http_info)):
        checked(emulator, operation_id, method(ValidateMessageRequest(messages=TEXT)))
    assert len(emulator.world.messages_for(friends[0])) == 3  # push, multicast, broadcast


def test_reply_token_is_single_use(emulated):
    clients, emulator, friends = emulated
    token = emulator.world.issue_reply_token(friends[1])
    checked(emulator, "replyMessage", clients.messaging.reply_message_with_http_info(
        ReplyMessageRequest(reply_token=token, messages=TEXT)))
    with pytest.raises(ApiException) as error:
        clients.messaging.reply_message(ReplyMessageRequest(reply_token=token, messages=TEXT))
    assert error.value.status == 400


def test_narrowcast_to_an_uploaded_audience_and_its_progress(emulated):
    clients, emulator, friends = emulated
    created = checked(emulator, "createAudienceGroup", clients.audience.create_audience_group_with_http_info(
        CreateAudienceGroupRequest(description="鴻池小学校区", audiences=[Audience(id=u) for u in friends[:5]])))
    checked(emulator, "addAudienceToAudienceGroup", clients.audience.add_audience_to_audience_group_with_http_info(
        AddAudienceToAudienceGroupRequest(audience_group_id=created.audience_group_id,
                                          audiences=[Audience(id=friends[5])])))
    data = checked(emulator, "getAudienceData", clients.audience.get_audience_data_with_http_info(
        created.audience_group_id))
    assert data.audience_group.audience_count == 6
    checked(emulator, "getAudienceGroups", clients.audience.get_audience_groups_with_http_info(page=1))
    response = clients.messaging.narrowcast_with_http_info(NarrowcastRequest(
        messages=TEXT, recipient=AudienceRecipient(audience_group_id=created.audience_group_id)),
        x_line_retry_key=str(uuid.uuid4()))
    assert response.status_code == 202
    request_id = response.headers["x-line-request-id"]
    import time
    time.sleep(0.6)
    progress = checked(emulator, "getNarrowcastProgress",
                       clients.messaging.get_narrowcast_progress_with_http_info(request_id))
    assert progress.phase == "succeeded" and progress.success_count == 6
    checked(emulator, "deleteAudienceGroup", clients.audience.delete_audience_group_with_http_info(
        created.audience_group_id))


def test_profile_followers_quota_and_statistics(emulated):
    clients, emulator, friends = emulated
    api = clients.messaging
    assert checked(emulator, "getProfile", api.get_profile_with_http_info(friends[0])).user_id == friends[0]
    with pytest.raises(ApiException) as error:
        api.get_profile("U" + "0" * 32)
    assert error.value.status == 404
    first = checked(emulator, "getFollowers", api.get_followers_with_http_info(limit=20))
    second = checked(emulator, "getFollowers", api.get_followers_with_http_info(start=first.next, limit=20))
    assert len(first.user_ids) == 20 and len(second.user_ids) == 10 and second.next is None
    assert set(first.user_ids + second.user_ids) == set(friends)
    checked(emulator, "getMessageQuota", api.get_message_quota_with_http_info())
    checked(emulator, "getMessageQuotaConsumption", api.get_message_quota_consumption_with_http_info())
    checked(emulator, "getNumberOfSentMulticastMessages",
            api.get_number_of_sent_multicast_messages_with_http_info("20261124"))
    checked(emulator, "getBotInfo", api.get_bot_info_with_http_info())
    checked(emulator, "getNumberOfFollowers", clients.insight.get_number_of_followers_with_http_info("20261124"))
    checked(emulator, "getNumberOfMessageDeliveries",
            clients.insight.get_number_of_message_deliveries_with_http_info("20261124"))
    checked(emulator, "getStatisticsPerUnit", clients.insight.get_statistics_per_unit_with_http_info(
        "bousai_202611", "20261101", "20261130"))
    with emulator.world.lock:
        request_id = emulator.world.sends[-1].request_id
    checked(emulator, "getMessageEvent", clients.insight.get_message_event_with_http_info(request_id))


def rich_menu(name, alias_target=None):
    action = RichMenuSwitchAction(rich_menu_alias_id=alias_target or "tab-a", data="tab=a", label="タブ")
    return RichMenuRequest(size=RichMenuSize(width=2500, height=1686), selected=True, name=name,
                           chat_bar_text="メニュー", areas=[RichMenuArea(
                               bounds=RichMenuBounds(x=0, y=0, width=1250, height=843), action=action)])


def test_rich_menus_images_defaults_links_aliases_and_batches(emulated):
    clients, emulator, friends = emulated
    api, blob = clients.messaging, clients.blob
    checked(emulator, "validateRichMenuObject", api.validate_rich_menu_object_with_http_info(rich_menu("検証")))
    menu_a = checked(emulator, "createRichMenu", api.create_rich_menu_with_http_info(rich_menu("A"))).rich_menu_id
    menu_b = checked(emulator, "createRichMenu", api.create_rich_menu_with_http_info(rich_menu("B"))).rich_menu_id
    with pytest.raises(ApiException) as error:
        api.set_default_rich_menu(menu_a)  # no image yet
    assert error.value.status == 400
    image = png(2500, 1686)
    for menu_id in (menu_a, menu_b):
        blob.set_rich_menu_image(menu_id, body=bytearray(image), _headers={"Content-Type": "image/png"})
    with pytest.raises(ApiException) as error:
        blob.set_rich_menu_image(menu_a, body=bytearray(image), _headers={"Content-Type": "image/png"})
    assert error.value.status == 400  # an image cannot be replaced
    assert bytes(blob.get_rich_menu_image(menu_a)) == image
    assert checked(emulator, "getRichMenu", api.get_rich_menu_with_http_info(menu_a)).name == "A"
    checked(emulator, "getRichMenuList", api.get_rich_menu_list_with_http_info())
    checked(emulator, "setDefaultRichMenu", api.set_default_rich_menu_with_http_info(menu_a))
    default = checked(emulator, "getDefaultRichMenuId", api.get_default_rich_menu_id_with_http_info())
    assert default.rich_menu_id == menu_a
    checked(emulator, "linkRichMenuIdToUser", api.link_rich_menu_id_to_user_with_http_info(friends[0], menu_b))
    assert checked(emulator, "getRichMenuIdOfUser",
                   api.get_rich_menu_id_of_user_with_http_info(friends[0])).rich_menu_id == menu_b
    checked(emulator, "unlinkRichMenuIdFromUser", api.unlink_rich_menu_id_from_user_with_http_info(friends[0]))
    assert emulator.world.menu_for(friends[0]) == menu_a  # back to the default
    assert api.link_rich_menu_id_to_users_with_http_info(
        RichMenuBulkLinkRequest(rich_menu_id=menu_b, user_ids=friends[:5])).status_code == 202
    assert {emulator.world.menu_for(u) for u in friends[:5]} == {menu_b}
    assert api.unlink_rich_menu_id_from_users_with_http_info(
        RichMenuBulkUnlinkRequest(user_ids=friends[:2])).status_code == 202
    checked(emulator, "createRichMenuAlias", api.create_rich_menu_alias_with_http_info(
        CreateRichMenuAliasRequest(rich_menu_alias_id="tab-a", rich_menu_id=menu_a)))
    checked(emulator, "updateRichMenuAlias", api.update_rich_menu_alias_with_http_info(
        "tab-a", UpdateRichMenuAliasRequest(rich_menu_id=menu_b)))
    assert checked(emulator, "getRichMenuAlias", api.get_rich_menu_alias_with_http_info("tab-a")).rich_menu_id == menu_b
    checked(emulator, "getRichMenuAliasList", api.get_rich_menu_alias_list_with_http_info())
    batch = RichMenuBatchRequest(operations=[RichMenuBatchLinkOperation(var_from=menu_b, to=menu_a)])
    checked(emulator, "validateRichMenuBatchRequest", api.validate_rich_menu_batch_request_with_http_info(batch))
    response = api.rich_menu_batch_with_http_info(batch)
    assert response.status_code == 202
    assert {emulator.world.menu_for(u) for u in friends[2:5]} == {menu_a}
    import time
    time.sleep(0.6)
    progress = checked(emulator, "getRichMenuBatchProgress", api.get_rich_menu_batch_progress_with_http_info(
        response.headers["x-line-request-id"]))
    assert progress.phase.value == "succeeded"
    checked(emulator, "deleteRichMenuAlias", api.delete_rich_menu_alias_with_http_info("tab-a"))
    checked(emulator, "cancelDefaultRichMenu", api.cancel_default_rich_menu_with_http_info())
    checked(emulator, "deleteRichMenu", api.delete_rich_menu_with_http_info(menu_b))
    with pytest.raises(ApiException) as error:
        api.get_rich_menu(menu_b)
    assert error.value.status == 404


@pytest.mark.parametrize(
    ("size", "reason"),
    [((799, 540), "width"), ((2500, 1800), "height"), ((2500, 249), "height")],
)
def test_rich_menu_size_rules(emulated, size, reason):
    clients, _, _ = emulated
    request = rich_menu("x")
    request.size = RichMenuSize(width=size[0], height=size[1])
    with pytest.raises(ApiException) as error:
        clients.messaging.create_rich_menu(request)
    assert error.value.status == 400 and reason in error.value.body


def test_rich_menu_image_rules(emulated):
    clients, _, _ = emulated
    menu_id = clients.messaging.create_rich_menu(rich_menu("img")).rich_menu_id
    with pytest.raises(ApiException) as error:
        clients.blob.set_rich_menu_image(menu_id, body=bytearray(b"GIF89a"), _headers={"Content-Type": "image/gif"})
    assert error.value.status == 415
    with pytest.raises(ApiException) as error:
        clients.blob.set_rich_menu_image(menu_id, body=bytearray(png(600, 400)), _headers={"Content-Type": "image/png"})
    assert error.value.status == 400
