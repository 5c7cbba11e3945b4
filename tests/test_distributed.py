"""One crawl, many workers: a shared frontier in Redis, one PostgreSQL, one quota, workers killed.

Real Redis (127.0.0.1:6379) and PostgreSQL (127.0.0.1:5432); skipped when no server answers.
Every worker is a ``scrapy crawl`` process, as a user starts it; the family is checked against
the replica's records (hfspider.replica.truth), never against the code under test.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
from sqlalchemy import create_engine, text

from hfspider.replica import Hub, ReplicaServer, regular_family
from hfspider.replica.truth import Truth
from tests.conftest import ROOT, crawl, crawl_command
from tests.test_postgres import postgres_url, snapshot  # noqa: F401  (a fixture, and its reader)

REDIS = "redis://127.0.0.1:6379/0"

FAMILY = regular_family("fam", 12, 3)  # 1 + 12 + 144 + 1,728 = 1,885 models
FAMILY_TRUTH = Truth(FAMILY)
FAMILY_ROOT = "fam/m"


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    server = redis.Redis.from_url(REDIS, socket_connect_timeout=3)
    try:
        server.ping()
    except redis.RedisError:
        pytest.skip(f"no Redis server answers at {REDIS}")
    prefix = f"hfspider-test-{uuid.uuid4().hex[:10]}"
    yield prefix
    keys = list(server.scan_iter(f"{prefix}:*"))
    if keys:
        server.delete(*keys)
    server.close()


class Workers:
    """``scrapy crawl`` worker processes of one shared crawl, each logging to its own file."""

    def __init__(self, tmp_path: Path, server: ReplicaServer, db_url: str, prefix: str, *args: str, **settings: Any) -> None:
        self.tmp_path = tmp_path
        self.output = tmp_path / "out"  # one folder for all: the feeds must come out once
        self.endpoint = server.url
        self.args = args
        self.settings = {
            "REDIS_URL": REDIS,
            "HFSPIDER_DB_URL": db_url,
            "HFSPIDER_REDIS_PREFIX": prefix,
            "HFSPIDER_WORKER_TIMEOUT": 3,
            **settings,
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, count: int = 1) -> list[subprocess.Popen[bytes]]:
        started = []
        for _ in range(count):
            command, environment = crawl_command(self.output, "model_tree", *self.args, endpoint=self.endpoint, settings=self.settings)
            log = (self.tmp_path / f"worker-{len(self.processes)}.log").open("wb")
            process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=log)
            self.processes.append(process)
            started.append(process)
        return started

    def wait(self, timeout: float = 120) -> list[int | None]:
        deadline = time.monotonic() + timeout
        for process in self.processes:
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return [p.returncode for p in self.processes]

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace")[-3000:] for path in sorted(self.tmp_path.glob("worker-*.log")))

    def feed(self, name: str) -> list[dict[str, Any]]:
        path = self.output / name
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def stored(db_url: str) -> int:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT COUNT(*) FROM models")).scalar() or 0)
    except Exception:
        return 0
    finally:
        engine.dispose()


def wait_for_stored(db_url: str, minimum: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while stored(db_url) < minimum:
        if time.monotonic() > deadline:
            raise AssertionError(f"fewer than {minimum} models stored in {timeout} s")
        time.sleep(0.1)


def hub_calls(server: ReplicaServer) -> list[tuple[str, str, int, str | None]]:
    return [entry for entry in server.requests if entry[1].startswith("/api/") and entry[2] != 0]


def members(db_url: str) -> dict[str, int]:
    return {row["model_id"]: row["depth"] for row in snapshot(db_url)["tree_members"]}


def assert_exact_feeds(workers: Workers, family: dict[str, int]) -> None:
    models = [line["id"] for line in workers.feed("models.jsonl")]
    assert Counter(models).most_common(1)[0][1] == 1, "a model appears twice in models.jsonl"
    assert set(models) == set(family)
    edges = [(e["child_id"], e["parent_id"], e["relation"]) for e in workers.feed("edges.jsonl")]
    assert len(edges) == len(set(edges)) == len(family) - 1
    assert not list(workers.output.glob("*.partial"))


def test_three_workers_crawl_one_family_as_one_process_does(postgres_url: str, redis_prefix: str, run_crawl, tmp_path: Path) -> None:  # noqa: F811
    with ReplicaServer(Hub(FAMILY), latency=0.02) as server:
        alone = run_crawl(f"root={FAMILY_ROOT}", endpoint=server.url)
        server.reset_log()
        workers = Workers(tmp_path, server, postgres_url, redis_prefix, f"root={FAMILY_ROOT}")
        workers.start(3)
        codes = workers.wait()
        calls = hub_calls(server)
    assert alone.returncode == 0, alone.stderr[-2000:]
    assert codes == [0, 0, 0], workers.logs()
    family = FAMILY_TRUTH.down(FAMILY_ROOT)
    assert len(family) >= 1500
    assert members(postgres_url) == family == dict(alone.rows("SELECT model_id, depth FROM tree_members"))
    expected = snapshot(f"sqlite:///{alone.db}")
    assert snapshot(postgres_url)["edges"] == expected["edges"]
    listings = Counter(parse_qs(urlsplit(path).query)["filter"][0] for _m, path, _s, _a in calls if "filter=" in path)
    assert set(listings) == {f"base_model:{model}" for model in family} and max(listings.values()) == 1, "a model listed twice, or never"
    assert len(calls) <= 1.05 * len(family), f"{len(calls)} Hub calls for {len(family)} models"
    assert_exact_feeds(workers, family)
    assert workers.feed("models.jsonl")[0].keys() == alone.feed("models.jsonl")[0].keys()
    assert {e["child_id"] for e in workers.feed("edges.jsonl")} == {e["child_id"] for e in alone.feed("edges.jsonl")}
    took_part = [log for log in tmp_path.glob("worker-*.log") if "began the shared crawl" in log.read_text() or "joined" in log.read_text()]
    assert len(took_part) == 3
