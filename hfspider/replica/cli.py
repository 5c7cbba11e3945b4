"""The replica's command line, shared by ``scrapy replica`` and ``python -m hfspider.replica``."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from .server import FAULT_KINDS, HOSTILE_LINKS, ReplicaServer
from .store import Hub, read_jsonl
from .synth import generate
from .website import Website


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The replica's options, on an existing parser (Scrapy's command parser or a plain one)."""
    parser.add_argument(
        "--data",
        action="append",
        type=Path,
        default=[],
        metavar="FILE.jsonl",
        help="API-shaped model records, one JSON object a line (repeatable; later files win)",
    )
    parser.add_argument("--synthetic", type=int, default=0, metavar="N", help="add N generated models")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated models and of the faults")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--quota", type=int, default=None, metavar="Q", help="api calls per window (default: unlimited)")
    parser.add_argument("--page-quota", type=int, default=None, metavar="Q", help="HTML pages per window (default: unlimited)")
    parser.add_argument("--resolver-quota", type=int, default=None, metavar="Q", help="file downloads per window (default: unlimited)")
    parser.add_argument(
        "--client-rendered", action="store_true", help="model pages build the Model tree and Spaces in the browser, after load"
    )
    parser.add_argument("--window", type=float, default=300, metavar="W", help="rate-limit window in seconds")
    parser.add_argument("--retry-after", action="store_true", help="send Retry-After with 429s")
    parser.add_argument("--latency", type=float, default=0.0, metavar="SECONDS", help="delay before each answer")
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        metavar="F",
        help=f"chance that a request meets a fault, split evenly over: {', '.join(FAULT_KINDS)}",
    )
    parser.add_argument("--limit-over-max", choices=("400", "clamp"), default="400", help="answer to limit > 1000")
    parser.add_argument(
        "--hostile-link",
        choices=HOSTILE_LINKS,
        default=None,
        help="listing answers steer the crawler astray: Link to a local file, to another host, or to an endless listing",
    )


def problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the options, in one line, or None."""
    if not args.data and args.synthetic <= 0:
        return "nothing to serve: give --data FILE.jsonl and/or --synthetic N"
    if not 0 <= args.fault_rate <= 1:
        return "--fault-rate must be between 0 and 1"
    for path in args.data:
        if not path.is_file():
            return f"no such file: {path}"
    return None


def start(args: argparse.Namespace) -> tuple[ReplicaServer, int]:
    """Load the records and start serving; raises OSError or ValueError with a one-line message."""
    hub = Hub([*generate(args.synthetic, args.seed), *(rec for path in args.data for rec in read_jsonl(path))])
    faults = {kind: args.fault_rate / len(FAULT_KINDS) for kind in FAULT_KINDS} if args.fault_rate else None
    server = ReplicaServer(
        hub,
        quota=args.quota,
        window=args.window,
        retry_after=args.retry_after,
        latency=args.latency,
        limit_over_max=args.limit_over_max,
        faults=faults,
        faults_seed=args.seed,
        host=args.host,
        port=args.port,
        hostile_link=args.hostile_link,
        site=Website(client_rendered=args.client_rendered),
        page_quota=args.page_quota,
        resolver_quota=args.resolver_quota,
    ).start()
    return server, len(hub)


def serve_forever(server: ReplicaServer, size: int) -> None:
    """Serve until SIGTERM or Ctrl-C, even when started in the background."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print(f"Hub replica serving {size} models at {server.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
