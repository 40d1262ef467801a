"""LINE Login verify endpoints: what a LIFF form's backend does with the tokens it receives."""

import requests

from testsupport.emulator import running_emulator


def test_liff_tokens_verify_like_line():
    with running_emulator(residents=3) as (url, emulator):
        user = next(iter(emulator.world.residents))
        tokens = requests.post(f"{url}/_emulator/login-tokens",
                               json={"userId": user, "channelId": "2000000001", "nonce": "n-1"}, timeout=5).json()
        ok = requests.post(f"{url}/oauth2/v2.1/verify", timeout=5,
                           data={"id_token": tokens["idToken"], "client_id": "2000000001", "nonce": "n-1"})
        assert ok.status_code == 200
        assert ok.json()["sub"] == user and ok.json()["iss"] == "https://access.line.me"
        mismatches = (({"client_id": "other"}, "Audience"), ({"client_id": "2000000001", "nonce": "x"}, "Nonce"))
        for data, reason in mismatches:
            bad = requests.post(f"{url}/oauth2/v2.1/verify", data={"id_token": tokens["idToken"], **data}, timeout=5)
            assert bad.status_code == 400 and reason in bad.json()["error_description"]
        forged = tokens["idToken"][:-2] + ("AA" if not tokens["idToken"].endswith("AA") else "BB")
        assert requests.post(f"{url}/oauth2/v2.1/verify", timeout=5,
                             data={"id_token": forged, "client_id": "2000000001"}).status_code == 400
        access = requests.get(f"{url}/oauth2/v2.1/verify", params={"access_token": tokens["accessToken"]}, timeout=5)
        assert access.json()["client_id"] == "2000000001" and access.json()["expires_in"] > 0
        assert requests.get(f"{url}/oauth2/v2.1/verify", params={"access_token": "nope"}, timeout=5).status_code == 400
        profile = requests.get(f"{url}/v2/profile", headers={"Authorization": f"Bearer {tokens['accessToken']}"},
                               timeout=5)
        assert profile.json()["userId"] == user
