"""Quota crawl: how close hfspider comes to the rate-limit floor, and how many 429s it draws.

``python -m bench.quota_crawl [--quota 100] [--window 10] [--retry-after]``

A family of a few hundred models is crawled from a synthetic Hub replica that
allows ``--quota`` calls per fixed ``--window`` of seconds. The floor is the
time the quota-counted calls need at exactly the allowed pace:
calls / quota x window.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.family_crawl import add_setting_option, compare, largest_fitting, run_hfspider, table
from hfspider.replica import Hub, ReplicaServer, generate
from hfspider.replica.truth import Truth


def pick_family(truth: Truth, min_size: int, max_size: int) -> tuple[str, dict[str, int]]:
    """The largest family of ``min_size`` to ``max_size`` models (any public model with children as its root)."""
    candidates = sorted(m for m in truth.public if m in truth.children)
    chosen = largest_fitting(truth, candidates, min_size, max_size)
    if chosen is None:
        raise SystemExit(f"no family of {min_size} to {max_size} models in this hub: try another --models or --seed")
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    """Build the hub, crawl one family under the quota, print calls, 429s, wall time against the floor."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quota", type=int, default=100, help="calls allowed per window (default 100)")
    parser.add_argument("--window", type=float, default=10, help="window length in seconds (default 10)")
    parser.add_argument("--retry-after", action="store_true", help="the replica adds Retry-After to its 429s")
    parser.add_argument("--models", type=int, default=50_000, help="synthetic hub size (default 50000)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic hub seed (default 0)")
    parser.add_argument("--min-family", type=int, default=200, help="smallest family to crawl (default 200)")
    parser.add_argument("--max-family", type=int, default=400, help="largest family to crawl (default 400)")
    parser.add_argument("--latency", type=float, default=0.04, help="replica answer delay in seconds (default 0.04)")
    add_setting_option(parser)
    args = parser.parse_args(argv)

    records = generate(args.models, args.seed)
    truth = Truth(records)
    root, family = pick_family(truth, args.min_family, args.max_family)
    print(
        f"hub: {len(records):,} synthetic models (seed {args.seed}), latency {args.latency * 1000:g} ms; "
        f"root {root}: {len(family):,} models; quota {args.quota} per {args.window:g} s, "
        f"Retry-After {'on' if args.retry_after else 'off'}"
    )

    hub = Hub(records)
    server = ReplicaServer(hub, quota=args.quota, window=args.window, retry_after=args.retry_after, latency=args.latency)
    # Started right before the crawl: the replica's windows are counted from its start.
    with server, tempfile.TemporaryDirectory(prefix="bench-quota-") as tmp:
        spider = run_hfspider(server, root, Path(tmp) / "output", settings=dict(args.set))
        log = list(server.requests)

    calls = len(log)
    rejected = sum(1 for entry in log if entry[2] == 429)
    quota_calls = calls - rejected  # 429s do not count against the quota
    floor = quota_calls / args.quota * args.window
    rows = [
        [
            f"{calls:,}",
            f"{rejected} ({rejected / max(calls, 1):.1%})",
            f"{spider.wall:.1f}",
            f"{spider.elapsed:.1f}",
            f"{floor:.1f}",
            f"{spider.wall / floor:.2f}" if floor else "-",
            f"{spider.elapsed / floor:.2f}" if floor else "-",
        ]
    ]
    header = ["calls", "429s (% calls)", "wall s", "crawl s", "floor s", "wall/floor", "crawl/floor"]
    print(table(header, rows))
    print(
        f"wall s: the scrapy process; crawl s: its elapsed_time_seconds (crawl_runs.stats); "
        f"floor: {quota_calls:,} quota-counted calls / {args.quota} x {args.window:g} s; "
        f"hfspider counted {spider.stats.get('hfspider/rate_limited', 0)} 429s itself"
    )

    problems = [p for p in (compare("hfspider", spider.found, set(family)),) if p]
    if spider.returncode != 0 or spider.outcome != "finished":
        problems.append(f"hfspider exited {spider.returncode}, outcome {spider.outcome}: {spider.stderr.strip()[-500:]}")
    if problems:
        print("NOT EXACT:\n  " + "\n  ".join(problems))
        return 1
    print(f"family: exact ({len(family):,} models, as hfspider/replica/truth.py computes it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
