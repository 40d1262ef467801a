"""The crash drill, small enough for CI: bench/dispatch/bench.py sends one delivery to 20,000 residents
while every sending process (both dispatcher-senders and the outbox relay) is SIGKILLed after 1.5 s of
work and started again (the senders paced at 8 multicasts/s, so the kills land mid-send), with 5% of
the multicasts failing (500s, timeouts, 429s and accepted-then-500).
The emulator must record every recipient exactly once. The 200,000-recipient drill is the same command
with --recipients 200000 (docs/benchmarks.md)."""

import json
import os
import subprocess
import sys

import pytest

from testsupport import ROOT

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(400)
def test_killing_every_sender_mid_send_with_faults_loses_and_repeats_nobody(migrated_database_url):
    from testsupport.vhosts import own_vhost

    with own_vhost("cityline_drill") as amqp_url:
        env = {**os.environ, "AMQP_URL": amqp_url,
               "DATABASE_URL": migrated_database_url.replace("postgresql+psycopg2://", "postgresql://")}
        run = _drill(env)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert result["sender_kills"] >= 1, result
    assert sum(result["faults_injected"].values()) > 0, result
    assert (result["duplicates"], result["lost"], result["failed"]) == (0, 0, 0), result
    assert result["sent"] == 20000 and result["status"] == "sent", result


def _drill(env):
    return subprocess.run([sys.executable, str(ROOT / "bench/dispatch/bench.py"), "--recipients", "20000",
                          "--kill-senders-every", "1.5", "--faults", "0.05", "--ingress-rate", "20",
                          "--multicast-rate", "8", "--timeout", "200"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
