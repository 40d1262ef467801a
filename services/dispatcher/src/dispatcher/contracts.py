"""What dispatcher tells itself and the city. A send job names positions of a frozen recipient list,
never a resident: the sender opens LINE user ids per job, just before sending."""

from __future__ import annotations

import uuid

from cityline_common.amqp.topology import CITY_COMMANDS, CITY_EVENTS
from cityline_common.contracts import Contract, ContractInfo


class SendJobQueued(Contract):
    """One multicast of at most 500 recipients, positions ``first``..``last`` of the send's list."""

    contract = ContractInfo("dispatcher.SendJobQueued", 1, CITY_COMMANDS, "dispatcher.send-job")

    send_id: uuid.UUID
    delivery_id: uuid.UUID
    number: int
    first: int
    last: int
    retry_key: uuid.UUID


class DeliveryStatusChanged(Contract):
    """A delivery moved in its lifecycle (承認, 配信開始, 配信完了 …): statistics and the console follow."""

    contract = ContractInfo("dispatcher.DeliveryStatusChanged", 1, CITY_EVENTS, "dispatcher.delivery.status-changed")

    delivery_id: uuid.UUID
    department: str
    category: str
    status: str
    action: str
    actor: str
    occurred_at_ms: int
