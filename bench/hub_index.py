"""Whole-Hub listing at scale: models per second end to end, Hub calls and peak memory.

    python -m bench.hub_index [--sizes 100000 300000 1000000] [--seed 1]

Each size gets its own synthetic hub on the replica; ``scrapy crawl hub_index``
runs in a fresh process (listing -> items -> pipelines -> SQLite + JSONL), and
its peak RSS is read from the kernel when it exits.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hfspider.replica import Hub, ReplicaServer, generate

ROOT = Path(__file__).resolve().parents[1]


def run_index(endpoint: str, output: Path, *extra: str) -> tuple[float, int, dict[str, object]]:
    """Wall seconds, peak RSS (kB) of the crawl process, and the run's stats."""
    command = [sys.executable, "-m", "scrapy", "crawl", "hub_index", "-s", f"HFSPIDER_OUTPUT={output}", "-s", "LOG_LEVEL=WARNING", *extra]
    # A child of its own, so RUSAGE_CHILDREN of that child is this crawl's alone.
    probe = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    env = {**os.environ, "HF_ENDPOINT": endpoint}
    env.pop("HF_TOKEN", None)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", probe, *command], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    wall = time.monotonic() - started
    with sqlite3.connect(output / "hfspider.sqlite") as conn:
        stats = json.loads(conn.execute("SELECT stats FROM crawl_runs ORDER BY id DESC LIMIT 1").fetchone()[0])
    return wall, int(done.stdout.strip().splitlines()[-1]), stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        records = generate(size, seed=args.seed)
        public = sum(1 for r in records if not r.get("private"))
        hub = Hub(records)
        del records
        work = Path(tempfile.mkdtemp(prefix="bench-index-"))
        try:
            with ReplicaServer(hub) as server:
                wall, rss, stats = run_index(server.url, work / "out")
                calls = len(server.requests)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        stored = int(stats.get("hfspider/stored_models", 0))
        elapsed = float(stats["elapsed_time_seconds"])
        rows.append((size, public, stored, calls, math.ceil(public / 1000), elapsed, wall, stored / elapsed, rss / 1024))
        del hub
    print(f"{'hub':>9} {'public':>9} {'stored':>9} {'calls':>6} {'ceil/1k':>7} {'crawl s':>8} {'wall s':>7} {'models/s':>9} {'peak MB':>8}")
    for size, public, stored, calls, floor, elapsed, wall, rate, mb in rows:
        print(f"{size:>9} {public:>9} {stored:>9} {calls:>6} {floor:>7} {elapsed:>8.1f} {wall:>7.1f} {rate:>9.0f} {mb:>8.0f}")
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        size, seconds, memory = last[0] / first[0], last[5] / first[5], last[8] / first[8]
        print(f"growth {first[0]} -> {last[0]} models: x{size:.1f} size, x{seconds:.1f} time, x{memory:.2f} peak RSS")


if __name__ == "__main__":
    main()
