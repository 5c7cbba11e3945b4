"""Model pages: one family crawled through the API and through the website, and what rendering costs.

``python -m bench.model_pages [--models 50000] [--seed 0] [--latency 0.04]``

The biggest family of 200 to 400 models of a seeded synthetic hub is crawled
with ``model_tree`` (API) and ``model_pages`` (website) from a replica with
``--latency`` per answer; requests are counted by the replica per budget. Then
``model_pages`` runs on the same family with ``HFSPIDER_RENDER=always`` (every
page through headless Chromium) and, on a client-rendered copy of the website,
with ``auto``; the render overhead per page is the extra crawl time (Scrapy's
``elapsed_time_seconds``) over the pages rendered.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bench.family_crawl import add_setting_option, compare, run_hfspider, table
from bench.quota_crawl import pick_family
from hfspider.replica import Hub, ReplicaServer, generate
from hfspider.replica.server import bucket_of
from hfspider.replica.truth import Truth
from hfspider.replica.website import Website


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=50_000, help="synthetic hub size (default 50000)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic hub seed (default 0)")
    parser.add_argument("--latency", type=float, default=0.04, help="replica answer delay in seconds (default 0.04)")
    add_setting_option(parser)
    args = parser.parse_args(argv)
    records = generate(args.models, args.seed)
    root, family = pick_family(Truth(records), 200, 400)
    print(
        f"hub: {len(records):,} synthetic models (seed {args.seed}), latency {args.latency * 1000:g} ms; root {root}: {len(family)} models"
    )
    hub = Hub(records)
    runs = [
        ("model_tree", "model_tree", {}, False),
        ("model_pages", "model_pages", {}, False),
        ("model_pages always", "model_pages", {"HFSPIDER_RENDER": "always"}, False),
        ("model_pages auto, client-rendered", "model_pages", {"HFSPIDER_RENDER": "auto"}, True),
    ]
    rows, problems, elapsed, rendered = [], [], {}, {}
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as tmp:
        for name, spider, settings, client in runs:
            with ReplicaServer(hub, latency=args.latency, site=Website(client_rendered=client)) as server:
                run = run_hfspider(server, root, Path(tmp) / name.replace(" ", "-"), {**settings, **dict(args.set)}, spider)
                by_bucket = Counter(bucket_of(path) for _m, path, _s, _a in server.requests)
            if run.returncode != 0 or (problem := compare(name, run.found, set(family))):
                problems.append(problem if run.returncode == 0 else f"{name}: exit {run.returncode}: {run.stderr[-500:]}")
            elapsed[name] = float(run.stats.get("elapsed_time_seconds", run.wall))
            rendered[name] = int(run.stats.get("playwright/page_count", 0))
            rows.append(
                (
                    name,
                    f"{run.wall:.1f}",
                    f"{elapsed[name]:.1f}",
                    str(by_bucket["pages"]),
                    str(by_bucket["api"]),
                    f"{by_bucket['pages'] / len(family):.3f}",
                    f"{by_bucket['api'] / len(family):.3f}",
                    str(rendered[name]),
                )
            )
    print(table(("crawl", "wall s", "crawl s", "pages", "api calls", "pages/model", "calls/model", "rendered"), rows))
    for name in ("model_pages always", "model_pages auto, client-rendered"):
        if rendered[name]:
            extra = (elapsed[name] - elapsed["model_pages"]) / rendered[name]
            print(f"{name}: {extra * 1000:.0f} ms more crawl time per rendered page than model_pages without a browser")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
