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
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import create_engine, text

from hfspider.replica import Hub, ReplicaServer, regular_family
from hfspider.replica.truth import Truth
from tests.conftest import REDIS, ROOT, CrawlResult, crawl_command, snapshot, start_crawl

FAMILY = regular_family("fam", 39, 2)  # 1 + 39 + 1,521 = 1,561 models
FAMILY_TRUTH = Truth(FAMILY)
FAMILY_ROOT = "fam/m"
SMALL = regular_family("small", 9, 3)  # 1 + 9 + 81 + 729 = 820 models, one level deeper
SMALL_TRUTH = Truth(SMALL)
SMALL_ROOT = "small/m"
# What a kill costs is what the worker held in flight and unwritten: a fixed amount, so a family
# large enough for two kills to fit in a tenth of it.
DEEP = regular_family("deep", 12, 3)  # 1 + 12 + 144 + 1,728 = 1,885 models
DEEP_TRUTH = Truth(DEEP)
DEEP_ROOT = "deep/m"


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

    def until_finished(self, db_url: str, timeout: float = 120) -> float:
        """When (time.monotonic) the crawl's run was marked finished."""
        engine = create_engine(db_url)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    if conn.execute(text("SELECT COUNT(*) FROM crawl_runs WHERE outcome = 'finished'")).scalar():
                        return time.monotonic()
                time.sleep(0.05)
        finally:
            engine.dispose()
        raise AssertionError(f"no run marked finished in {timeout} s:\n{self.logs()}")

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


def test_three_workers_crawl_one_family_as_one_process_does(postgres_url: str, redis_prefix: str, tmp_path: Path) -> None:
    """The single-process crawl runs beside the workers, against a replica of its own."""
    with ReplicaServer(Hub(FAMILY), latency=0.02) as server, ReplicaServer(Hub(FAMILY), latency=0.02) as own:
        single = start_crawl(tmp_path / "alone", "model_tree", f"root={FAMILY_ROOT}", endpoint=own.url)
        workers = Workers(tmp_path, server, postgres_url, redis_prefix, f"root={FAMILY_ROOT}")
        workers.start(3)
        codes = workers.wait()
        _out, err = single.communicate(timeout=120)
        calls = hub_calls(server)
    alone = CrawlResult(single.returncode, "", err, tmp_path / "alone")
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


@pytest.mark.serial  # what a kill costs is what its worker held unwritten: alone, not beside other tests' crawls
def test_workers_killed_mid_crawl_lose_nothing(postgres_url: str, redis_prefix: str, tmp_path: Path) -> None:
    """kill -9 one worker early (and start another), then a second one later (not replaced): exact, at little cost."""
    family = DEEP_TRUTH.down(DEEP_ROOT)
    with ReplicaServer(Hub(DEEP), latency=0.05) as server:
        workers = Workers(tmp_path, server, postgres_url, redis_prefix, f"root={DEEP_ROOT}")
        first, second, _third = workers.start(3)
        wait_for_stored(postgres_url, 200)
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        workers.start(1)
        wait_for_stored(postgres_url, 1000)
        second.send_signal(signal.SIGKILL)
        second.wait(30)
        codes = workers.wait()
        calls = hub_calls(server)
    assert codes == [-signal.SIGKILL, -signal.SIGKILL, 0, 0], workers.logs()
    assert members(postgres_url) == family
    assert_exact_feeds(workers, family)
    undisturbed = len(family) + 1  # one listing per model and the root's record
    assert len(calls) <= 1.1 * undisturbed, f"{len(calls)} Hub calls; an undisturbed crawl makes {undisturbed}"


def test_all_workers_killed_then_one_restarted_completes_exactly(postgres_url: str, redis_prefix: str, tmp_path: Path) -> None:
    family = SMALL_TRUTH.down(SMALL_ROOT)
    with ReplicaServer(Hub(SMALL), latency=0.05) as server:
        workers = Workers(tmp_path, server, postgres_url, redis_prefix, f"root={SMALL_ROOT}")
        started = workers.start(3)
        wait_for_stored(postgres_url, 250)
        for process in started:
            process.send_signal(signal.SIGKILL)
        for process in started:
            process.wait(30)
        before = stored(postgres_url)
        workers.start(1)
        codes = workers.wait()
    assert before < len(family), "the crawl ended before the kill; the test proves nothing"
    assert codes == [-signal.SIGKILL] * 3 + [0], workers.logs()
    assert members(postgres_url) == family
    assert_exact_feeds(workers, family)


QUOTA_FAMILY = regular_family("q", 6, 3)  # 1 + 6 + 36 + 216 = 259 models


@pytest.mark.serial
def test_three_workers_share_one_quota(postgres_url: str, redis_prefix: str, tmp_path: Path) -> None:
    """60 calls per 5 s for all three together: almost no 429, close to the floor (calls / quota x window)
    from the first call to the run marked finished."""
    quota, window = 60, 5.0
    with ReplicaServer(Hub(QUOTA_FAMILY), quota=quota, window=window, latency=0.02) as server:
        workers = Workers(tmp_path, server, postgres_url, redis_prefix, "root=q/m")
        workers.start(3)
        deadline = time.monotonic() + 60
        while not server.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        began = time.monotonic()
        took = workers.until_finished(postgres_url) - began
        codes = workers.wait()
        calls = hub_calls(server)
    assert codes == [0, 0, 0], workers.logs()
    assert members(postgres_url) == Truth(QUOTA_FAMILY).down("q/m")
    rejected = sum(1 for entry in calls if entry[2] == 429)
    floor = (len(calls) - rejected) / quota * window
    assert rejected <= 0.01 * len(calls), f"{rejected} 429s in {len(calls)} calls"
    assert took <= 1.2 * floor, f"{took:.1f} s for a floor of {floor:.1f} s"


def test_a_shared_crawl_refuses_sqlite_with_one_line(run_crawl) -> None:
    result = run_crawl("root=org/model", settings={"REDIS_URL": REDIS})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "HFSPIDER_DB_URL=postgresql" in result.stderr.strip().splitlines()[-1]
    assert not result.output.exists() or not any(result.output.iterdir())


def test_a_shared_crawl_without_redis_stops_with_one_line(postgres_url: str, run_crawl) -> None:
    with ReplicaServer(Hub(QUOTA_FAMILY)) as server:
        result = run_crawl("root=q/m", endpoint=server.url, settings={"REDIS_URL": "redis://127.0.0.1:9", "HFSPIDER_DB_URL": postgres_url})
        assert not server.requests
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "no Redis server answers" in result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(("argument", "said"), [("top=2", "top="), ("strategy=index", "strategy=index")])
def test_what_a_shared_crawl_cannot_do_is_refused_with_one_line(
    argument: str, said: str, postgres_url: str, redis_prefix: str, run_crawl
) -> None:
    with ReplicaServer(Hub(QUOTA_FAMILY)) as server:
        settings = {"REDIS_URL": REDIS, "HFSPIDER_DB_URL": postgres_url, "HFSPIDER_REDIS_PREFIX": redis_prefix}
        result = run_crawl("root=q/m", argument, endpoint=server.url, settings=settings)
        assert not server.requests
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: -s REDIS_URL") and said in last
