"""``line-emulator``: run the LINE Platform stand-in (one process, many threads: rate limits and
retry keys are the channel's, so all requests must share one memory)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from line_emulator.app import Emulator, Faults, create_app
from line_emulator.limits import RateLimiter, RetryKeys, parse_limit
from line_emulator.operations import HANDLERS
from line_emulator.spec import find_openapi_dir, load_spec
from line_emulator.webhooks import WebhookSender
from line_emulator.world import World


@dataclass
class Options:
    channel_secret: str
    access_token: str
    webhook_url: str | None = None
    residents: int = 100
    friends: int = 0
    seed: int = 1
    redelivery: bool = False
    rate_limits: list[str] = field(default_factory=list)
    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    timeout_rate: float = 0.0
    accept_then_fail_rate: float = 0.0
    accept_then_fail_mode: str = "error"
    retry_key_ttl: float = 24 * 3600
    openapi_dir: str | None = None
    redelivery_delay: float = 1.0


def build_emulator(options: Options) -> Emulator:
    spec = load_spec(find_openapi_dir(options.openapi_dir))
    world = World(residents=options.residents, seed=options.seed, friends=options.friends)
    overrides = {}
    for text in options.rate_limits:
        group, count, per = parse_limit(text)
        overrides[group] = (count, per)
    return Emulator(
        spec=spec,
        world=world,
        channel_secret=options.channel_secret,
        access_token=options.access_token,
        limiter=RateLimiter(overrides),
        retry_keys=RetryKeys(options.retry_key_ttl),
        sender=WebhookSender(world, options.channel_secret, options.webhook_url, redelivery=options.redelivery,
                             retry_delay=options.redelivery_delay),
        faults=Faults(error_rate=options.error_rate, rate_limit_rate=options.rate_limit_rate,
                      timeout_rate=options.timeout_rate, accept_then_fail_rate=options.accept_then_fail_rate,
                      accept_then_fail_mode=options.accept_then_fail_mode),
        handlers=dict(HANDLERS),
    )


def build_app(options: Options) -> Flask:
    return create_app(build_emulator(options))


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, Options]:
    parser = argparse.ArgumentParser(prog="line-emulator", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("LINE_EMULATOR_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("LINE_EMULATOR_PORT", "8090")))
    parser.add_argument("--webhook-url", default=os.environ.get("LINE_EMULATOR_WEBHOOK_URL"),
                        help="where residents' webhooks go (the bot's /callback)")
    parser.add_argument("--residents", type=int, default=int(os.environ.get("LINE_EMULATOR_RESIDENTS", "100")))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--friends", type=int, default=int(os.environ.get("LINE_EMULATOR_FRIENDS", "0")),
                        help="the first N residents are friends from the start, without follow webhooks")
    parser.add_argument("--redelivery", action="store_true", help="resend webhooks answered with non-2xx")
    parser.add_argument("--redelivery-delay", type=float, default=1.0, help="seconds × attempt between resends")
    parser.add_argument("--rate-limit", action="append", default=[], metavar="GROUP=N/s|m|h",
                        help="override a rate limit, e.g. multicast=5/s (repeatable)")
    parser.add_argument("--fault-error-rate", type=float, default=0.0, help="fraction of API calls answered 500")
    parser.add_argument("--fault-rate-limit-rate", type=float, default=0.0, help="fraction answered 429")
    parser.add_argument("--fault-timeout-rate", type=float, default=0.0, help="fraction that hang, then 504")
    parser.add_argument("--fault-accept-then-fail-rate", type=float, default=0.0,
                        help="fraction of accepted (delivered) requests answered with a failure anyway")
    parser.add_argument("--fault-accept-then-fail-mode", choices=Faults.MODES, default="error",
                        help="error: 500; timeout: hang, then 504; drop: close the connection unanswered")
    parser.add_argument("--retry-key-ttl", type=float, default=24 * 3600, help="seconds a retry key is remembered")
    parser.add_argument("--openapi-dir", default=None, help="folder of LINE's OpenAPI yml files")
    parser.add_argument("--threads", type=int, default=32)
    args = parser.parse_args(argv)
    secret = os.environ.get("LINE_CHANNEL_SECRET")
    token = os.environ.get("LINE_CHANNEL_ACCESS_TOKEN")
    if not secret or not token:
        parser.error("LINE_CHANNEL_SECRET and LINE_CHANNEL_ACCESS_TOKEN must be set")
    options = Options(
        channel_secret=secret, access_token=token, webhook_url=args.webhook_url, residents=args.residents,
        friends=args.friends,
        seed=args.seed, redelivery=args.redelivery, rate_limits=args.rate_limit, error_rate=args.fault_error_rate,
        rate_limit_rate=args.fault_rate_limit_rate, timeout_rate=args.fault_timeout_rate,
        accept_then_fail_rate=args.fault_accept_then_fail_rate, accept_then_fail_mode=args.fault_accept_then_fail_mode,
        retry_key_ttl=args.retry_key_ttl, openapi_dir=args.openapi_dir, redelivery_delay=args.redelivery_delay,
    )
    for text in options.rate_limits:
        try:
            parse_limit(text)
        except ValueError as exc:
            parser.error(str(exc))
    return args, options


def main(argv: list[str] | None = None) -> None:
    from gunicorn.app.base import BaseApplication

    args, options = parse_args(argv)
    try:
        find_openapi_dir(options.openapi_dir)
    except FileNotFoundError as exc:
        sys.exit(str(exc))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s line-emulator %(levelname)s %(message)s")

    class Server(BaseApplication):  # type: ignore[misc]  # gunicorn is untyped: subclassing Any
        def load_config(self) -> None:
            settings: dict[str, Any] = {
                "bind": f"{args.host}:{args.port}", "workers": 1, "worker_class": "gthread",
                "threads": args.threads, "accesslog": None, "graceful_timeout": 5, "keepalive": 30,
                "proc_name": "line-emulator", "backlog": 2048,
                # gunicorn ≥ 23's control socket has one fixed path per user: emulators run side
                # by side (tests, benchmarks, other people's runs) would fight over it
                "control_socket_disable": True,
            }
            for key, value in settings.items():
                if key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self) -> Flask:
            # Built in the worker: the webhook sender's thread must not cross the fork.
            return build_app(options)

    Server().run()
