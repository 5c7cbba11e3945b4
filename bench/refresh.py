"""Refresh after k changed models: Hub calls and time, against a full listing of the same hub.

    python -m bench.refresh [--models 100000] [--changed 10 1000 5000] [--seed 1]

A full ``hub_index`` builds the database; then, for each k, k models get a new
``lastModified`` (and new likes) on the replica and ``hub_index`` runs again.
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.hub_index import run_index
from hfspider.replica import Hub, ReplicaServer, generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100_000)
    parser.add_argument("--changed", type=int, nargs="+", default=[10, 1000, 5000])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    records = generate(args.models, seed=args.seed)
    public = [r for r in records if not r.get("private")]
    hub = Hub(records)
    work = Path(tempfile.mkdtemp(prefix="bench-refresh-"))
    rows = []
    try:
        with ReplicaServer(hub) as server:
            full_wall, _rss, full_stats = run_index(server.url, work / "out")
            full_calls = len(server.requests)
            rows.append(("full", len(public), full_calls, float(full_stats["elapsed_time_seconds"]), full_wall))
            start = 0
            for k in args.changed:
                stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
                for record in public[start : start + k]:
                    hub.upsert({**record, "likes": int(record.get("likes") or 0) + 1, "lastModified": stamp})
                start += k
                server.reset_log()
                wall, _rss, stats = run_index(server.url, work / "out")
                rows.append((f"k={k}", k, len(server.requests), float(stats["elapsed_time_seconds"]), wall))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    header = ("run", "models", "calls", "ceil(k/1k)+1", "crawl s", "wall s", "calls/full", "time/full")
    print("".join(f"{h:>13}" for h in header))
    _, _, full_calls, full_time, _ = rows[0]
    for name, k, calls, elapsed, wall in rows:
        expected = "" if name == "full" else str(math.ceil(k / 1000) + 1)
        cells = (name, k, calls, expected, f"{elapsed:.1f}", f"{wall:.1f}", f"{calls / full_calls:.4f}", f"{elapsed / full_time:.3f}")
        print("".join(f"{c:>13}" for c in cells))


if __name__ == "__main__":
    main()
