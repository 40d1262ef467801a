"""line-bot-sdk v3 clients whose base URLs come from configuration.

The SDK sends every call to ``Configuration.host`` when it is set, so the api and api-data hosts
need one ``ApiClient`` each. With the emulator both URLs point at it; with LINE they are
https://api.line.me and https://api-data.line.me. Nothing else changes between the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from linebot.v3.audience import ApiClient as AudienceApiClient
from linebot.v3.audience import Configuration as AudienceConfiguration
from linebot.v3.audience import ManageAudience
from linebot.v3.insight import ApiClient as InsightApiClient
from linebot.v3.insight import Configuration as InsightConfiguration
from linebot.v3.insight import Insight
from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, MessagingApiBlob

from cityline_common.settings import LineSettings


@dataclass
class LineClients:
    messaging: MessagingApi
    blob: MessagingApiBlob
    audience: ManageAudience
    insight: Insight

    def close(self) -> None:
        for api in (self.messaging, self.blob, self.audience, self.insight):
            api.api_client.close()


ConfigT = TypeVar("ConfigT", Configuration, AudienceConfiguration, InsightConfiguration)


def line_clients(settings: LineSettings, *, pool_size: int = 10, retries: int = 0) -> LineClients:
    """Build the SDK clients. ``retries`` is 0 because our callers retry with X-Line-Retry-Key."""
    token = settings.line_channel_access_token.get_secret_value()

    def configured(cls: type[ConfigT], host: str) -> ConfigT:
        config = cls(host=host, access_token=token)
        config.retries = retries
        config.connection_pool_maxsize = pool_size
        return config

    return LineClients(
        messaging=MessagingApi(ApiClient(configured(Configuration, settings.line_api_base_url))),
        blob=MessagingApiBlob(ApiClient(configured(Configuration, settings.line_api_data_base_url))),
        audience=ManageAudience(AudienceApiClient(configured(AudienceConfiguration, settings.line_api_base_url))),
        insight=Insight(InsightApiClient(configured(InsightConfiguration, settings.line_api_base_url))),
    )
