"""Distributed crawl: one family crawled by 1, 2 and 4 workers sharing Redis and PostgreSQL, with and without a quota.

``python -m bench.distributed [--workers 1 2 4] [--quota 100] [--window 10]``

Needs Redis (``--redis``, default redis://127.0.0.1:6379/0) and PostgreSQL
(``--postgres``, default postgresql+psycopg://postgres@127.0.0.1:5432/test);
each run gets a schema and a key prefix of its own, dropped afterwards. Every
worker is a ``scrapy crawl model_tree`` process started at the same time with
the same command. Without a quota the family is the biggest of a synthetic
hub (as bench.family_crawl); with one, a family of a few hundred models (as
bench.quota_crawl), and the floor is quota-counted calls / quota x window.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

from bench.family_crawl import ROOT, table
from bench.family_crawl import pick_family as pick_biggest
from bench.quota_crawl import pick_family as pick_quota_family
from hfspider.replica import Hub, ReplicaServer, generate
from hfspider.replica.truth import Truth


@dataclass
class Result:
    workers: int
    wall: float  # first worker started -> last worker exited
    crawl: float  # first Hub call -> the run marked finished
    calls: int
    rejected: int
    exact: bool
    codes: list[int]


def run(args: argparse.Namespace, records: list[dict], root: str, family: dict[str, int], workers: int, quota: int | None) -> Result:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    prefix = f"hfspider-bench-{uuid.uuid4().hex[:8]}"
    admin_url = args.postgres.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    db_url = f"{args.postgres}?options=-csearch_path%3D{schema}"
    server = ReplicaServer(Hub(records), quota=quota, window=args.window, latency=args.latency)
    try:
        with server, tempfile.TemporaryDirectory(prefix="bench-distributed-") as tmp:
            environment = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE"))}
            environment |= {"HF_ENDPOINT": server.url, "HF_HOME": str(Path(tmp) / "hf-home")}
            command = [sys.executable, "-m", "scrapy", "crawl", "model_tree", "-a", f"root={root}"]
            for name, value in {
                "HFSPIDER_OUTPUT": Path(tmp) / "out",
                "HFSPIDER_DB_URL": db_url,
                "REDIS_URL": args.redis,
                "HFSPIDER_REDIS_PREFIX": prefix,
                "LOG_LEVEL": "WARNING",
            }.items():
                command += ["-s", f"{name}={value}"]
            started = time.monotonic()
            processes = [
                subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for _ in range(workers)
            ]
            first_call = finished = None
            with psycopg.connect(admin_url, autocommit=True) as conn:
                while any(p.poll() is None for p in processes):
                    if first_call is None and server.requests:
                        first_call = time.monotonic()
                    if finished is None:
                        query = f"SELECT COUNT(*) FROM {schema}.crawl_runs WHERE outcome = 'finished'"
                        try:
                            done = conn.execute(query).fetchone()[0]
                        except psycopg.errors.UndefinedTable:
                            done = 0
                        finished = time.monotonic() if done else None
                    time.sleep(0.02)
                wall = time.monotonic() - started
                found = {row[0] for row in conn.execute(f"SELECT model_id FROM {schema}.tree_members")}
            log = [entry for entry in server.requests if entry[2] != 0]
        return Result(
            workers=workers,
            wall=wall,
            crawl=(finished or time.monotonic()) - (first_call or started),
            calls=len(log),
            rejected=sum(1 for entry in log if entry[2] == 429),
            exact=found == set(family),
            codes=[p.returncode for p in processes],
        )
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
        client = redis.Redis.from_url(args.redis)
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4], help="worker counts to run (default 1 2 4)")
    parser.add_argument("--models", type=int, default=20_000, help="synthetic hub size for the run without quota (default 20000)")
    parser.add_argument("--quota-models", type=int, default=50_000, help="synthetic hub size for the quota runs (default 50000)")
    parser.add_argument("--quota", type=int, default=100, help="calls allowed per window (default 100)")
    parser.add_argument("--window", type=float, default=10, help="window length in seconds (default 10)")
    parser.add_argument("--latency", type=float, default=0.04, help="replica answer delay in seconds (default 0.04)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args(argv)

    free = generate(args.models, args.seed)
    free_root, free_family = pick_biggest(Truth(free), 0, 3000)
    quota_records = generate(args.quota_models, args.seed)
    quota_root, quota_family = pick_quota_family(Truth(quota_records), 200, 400)
    print(
        f"no quota: {len(free_family):,} models under {free_root} ({args.models:,}-model hub); "
        f"quota {args.quota} per {args.window:g} s: {len(quota_family):,} models under {quota_root}; latency {args.latency * 1000:g} ms"
    )
    rows, problems = [], []
    for label, records, root, family, quota in (
        ("none", free, free_root, free_family, None),
        (f"{args.quota}/{args.window:g}s", quota_records, quota_root, quota_family, args.quota),
    ):
        for workers in args.workers:
            result = run(args, records, root, family, workers, quota)
            floor = (result.calls - result.rejected) / args.quota * args.window if quota else None
            rows.append(
                [
                    label,
                    str(workers),
                    f"{result.wall:.1f}",
                    f"{result.crawl:.1f}",
                    f"{result.calls:,}",
                    f"{result.calls / len(family):.3f}",
                    f"{result.rejected} ({result.rejected / max(result.calls, 1):.1%})",
                    f"{floor:.1f}" if floor else "-",
                    f"{result.crawl / floor:.2f}" if floor else "-",
                ]
            )
            if not result.exact or any(result.codes):
                problems.append(f"quota {label}, {workers} workers: exit {result.codes}, family exact: {result.exact}")
    header = ["quota", "workers", "wall s", "crawl s", "calls", "calls/model", "429s", "floor s", "crawl/floor"]
    print(table(header, rows))
    print("wall s: first worker started -> last worker exited; crawl s: first Hub call -> run marked finished")
    if problems:
        print("NOT EXACT:\n  " + "\n  ".join(problems))
        return 1
    print("every run: exit 0 for every worker, the family exact (as hfspider/replica/truth.py computes it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
