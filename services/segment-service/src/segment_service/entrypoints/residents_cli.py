"""``segment-service-residents``: take over the live account's friends.

``import-followers`` registers every current friend from LINE's follower ids (resumable: run it
again after a crash or Ctrl-C and it goes on from its last page; ``--profiles`` then fetches their
profiles). ``fetch-profiles`` fetches the display name (stored sealed) and language of following
residents who lack them. Progress goes to stderr; both stay well inside LINE's rate limits
(``--max-rate`` requests per second, shared with nothing else in this process) and back off on 429.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import TextIO

from cityline_common.web import bootstrap_from_environment
from linebot.v3.messaging import ApiException

from segment_service.adapters.follower_imports import ImportProgress
from segment_service.adapters.line_api import GaveUp, SdkLine
from segment_service.adapters.profiles import SqlProfileStore
from segment_service.bootstrap import SegmentService, bootstrap
from segment_service.config import Settings
from segment_service.service_layer.follower_import import (
    MAX_PAGE_SIZE,
    ProfileProgress,
    fetch_profiles,
    import_followers,
)

PROCESS = "segment-service-residents"
DEFAULT_MAX_RATE = 100.0  # requests/s: a twentieth of the channel's 2,000/s for these endpoints


def _rate(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1000:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 1000 requests per second")
    return value


def _page_size(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_PAGE_SIZE}")
    return value


def _waiting(out: TextIO) -> Callable[[float, str], None]:
    def on_wait(delay: float, reason: str) -> None:
        print(f"  LINE answered {reason}; waiting {delay:.1f} s", file=out, flush=True)

    return on_wait


def run_import(service: SegmentService, line: SdkLine, args: argparse.Namespace, out: TextIO) -> ImportProgress:
    started = time.monotonic()
    here = [0]  # ids this process fetched (a resumed run counts from where it resumed)

    def report(progress: ImportProgress, page_ids: int) -> None:
        here[0] += page_ids
        rate = here[0] / max(time.monotonic() - started, 1e-6)
        print(f"import {progress.run_id}: page {progress.pages_done}, {progress.ids_seen:,} ids, "
              f"{progress.residents_added:,} added, {rate:,.0f} ids/s"
              + (" — done" if progress.finished else ""), file=out, flush=True)

    return import_followers(service.bus.uow_factory, line, page_size=args.page_size, run_id=args.run, report=report)


def run_profiles(service: SegmentService, line: SdkLine, out: TextIO) -> ProfileProgress:
    started = time.monotonic()

    def report(progress: ProfileProgress) -> None:
        rate = progress.checked / max(time.monotonic() - started, 1e-6)
        print(f"profiles: {progress.checked:,} checked, {progress.stored:,} stored, {progress.missing:,} without "
              f"a profile, {rate:,.0f}/s", file=out, flush=True)

    return fetch_profiles(SqlProfileStore(service.engine, service.cipher), line, report=report)


def main(argv: list[str] | None = None, out: TextIO = sys.stderr) -> None:
    parser = argparse.ArgumentParser(prog=PROCESS, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", required=True)
    importing = sub.add_parser("import-followers", help="register every current friend (resumable)")
    importing.add_argument("--page-size", type=_page_size, default=MAX_PAGE_SIZE, help="ids per page (LINE: ≤ 1000)")
    importing.add_argument("--run", help="resume this run id (default: the latest unfinished run, else a new one)")
    importing.add_argument("--profiles", action="store_true", help="then fetch the profiles residents lack")
    profiles = sub.add_parser("fetch-profiles", help="fetch display names and languages residents lack")
    for each in (importing, profiles):
        each.add_argument("--max-rate", type=_rate, default=DEFAULT_MAX_RATE, help="LINE requests per second")
    args = parser.parse_args(argv)
    service = bootstrap_from_environment(PROCESS, Settings, bootstrap)
    line = SdkLine(service.settings, max_rate=args.max_rate, on_wait=_waiting(out))
    try:
        if args.action == "import-followers":
            done = run_import(service, line, args, out)
            print(f"import {done.run_id} finished: {done.ids_seen:,} ids, {done.residents_added:,} residents added",
                  file=out)
        if args.action == "fetch-profiles" or args.profiles:
            fetched = run_profiles(service, line, out)
            print(f"profiles finished: {fetched.stored:,} stored, {fetched.missing:,} without a profile", file=out)
    except GaveUp as exc:
        sys.exit(f"{PROCESS}: stopped: {exc}; run it again to resume")
    except ApiException as exc:  # 401 (token), 403 (the follower-id API needs a verified account) …
        sys.exit(f"{PROCESS}: LINE refused the request: HTTP {exc.status} {str(exc.body or '')[:200]}")
    except KeyboardInterrupt:
        sys.exit(f"{PROCESS}: interrupted; run it again to resume")
    finally:
        line.close()
        service.engine.dispose()
