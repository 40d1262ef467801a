"""How the platform is doing, in the words staff read on the console. Plain Python."""

from __future__ import annotations

from dataclasses import dataclass

# Display names (画面表示名) of the services, in the order staff think of them.
SERVICE_LABELS: dict[str, str] = {
    "ingress-webhook": "LINE受信 (Webhook)",
    "segment-service": "受信設定・セグメント",
    "richmenu-service": "リッチメニュー",
    "dispatcher": "配信",
    "segment-consumer": "友だち登録・ブロックの反映",
    "outbox-relay": "サービス間の送信中継",
}


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    ready: bool
    detail: str

    @property
    def label(self) -> str:
        return SERVICE_LABELS.get(self.name, self.name)

    @property
    def state_text(self) -> str:
        return "正常" if self.ready else "停止または異常"
