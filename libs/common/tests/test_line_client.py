from cityline_common.line_client import line_clients
from cityline_common.settings import LineSettings
from pydantic import SecretStr


def test_every_client_points_at_the_configured_hosts():
    settings = LineSettings(
        line_channel_secret=SecretStr("s"), line_channel_access_token=SecretStr("token-1"),
        line_api_base_url="http://127.0.0.1:8090", line_api_data_base_url="http://127.0.0.1:8091",
    )
    clients = line_clients(settings)
    try:
        assert clients.messaging.api_client.configuration.host == "http://127.0.0.1:8090"
        assert clients.blob.api_client.configuration.host == "http://127.0.0.1:8091"
        assert clients.audience.api_client.configuration.host == "http://127.0.0.1:8090"
        assert clients.insight.api_client.configuration.host == "http://127.0.0.1:8090"
        for api in (clients.messaging, clients.blob, clients.audience, clients.insight):
            assert api.api_client.configuration.access_token == "token-1"
            assert api.api_client.configuration.retries == 0  # we retry ourselves, with retry keys
    finally:
        clients.close()
