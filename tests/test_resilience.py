"""Rate limits, faults, pauses and kills: the crawl still ends exact, with every model once."""

from __future__ import annotations

import json
import random
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from hfspider.replica import Hub, ReplicaServer, generate
from hfspider.replica.truth import Truth
from tests.conftest import CrawlResult, crawl, start_crawl, wait_for_rows

RELATIONS = ("finetune", "adapter", "quantized", "merge")


def family(size: int, seed: int) -> list[dict[str, Any]]:
    """A family of ``size`` models below ``fam{seed}/m-0000``, fan-out skewed towards early models, some merges."""
    rng = random.Random(seed)
    records = [{"id": f"fam{seed}/m-0000", "tags": ["license:mit"], "likes": 5}]
    for i in range(1, size):
        parents = {f"fam{seed}/m-{int(i * rng.random() ** 3):04d}" for _ in range(1 + (rng.random() < 0.05))}
        relation = "merge" if len(parents) > 1 else rng.choice(RELATIONS[:3])
        tags = [t for p in sorted(parents) for t in (f"base_model:{p}", f"base_model:{relation}:{p}")]
        records.append({"id": f"fam{seed}/m-{i:04d}", "tags": tags, "downloads": i, "createdAt": "2025-01-01T00:00:00.000Z"})
    return records


RECORDS = family(160, 1) + family(500, 2) + generate(2000, seed=11)
TRUTH = Truth(RECORDS)
SMALL = ("fam1/m-0000", TRUTH.down("fam1/m-0000"))
LARGE = ("fam2/m-0000", TRUTH.down("fam2/m-0000"))


@pytest.fixture
def server() -> Iterator[ReplicaServer]:
    with ReplicaServer(Hub(RECORDS)) as replica:
        yield replica


def assert_complete(result: CrawlResult, root: str, members: dict[str, int]) -> None:
    assert result.returncode == 0, result.stderr[-3000:]
    assert dict(result.rows(f"SELECT model_id, depth FROM tree_members WHERE root_id = '{root}'")) == members
    assert TRUTH.edges(members) <= {tuple(r) for r in result.rows("SELECT child_id, parent_id, relation FROM edges")}
    models = Counter(line["id"] for line in result.feed("models.jsonl"))
    assert set(models) == set(members) and set(models.values()) == {1}
    edges = Counter((e["child_id"], e["parent_id"], e["relation"]) for e in result.feed("edges.jsonl"))
    assert set(edges.values()) == {1}
    assert not list(result.output.glob("*.partial"))
    assert result.rows("SELECT COUNT(*) FROM crawl_state") == [(0,)]


@pytest.mark.serial
@pytest.mark.parametrize("retry_after", [False, True])
def test_quota_paced_crawl_is_near_the_floor(server: ReplicaServer, tmp_path: Path, retry_after: bool) -> None:
    root, family = SMALL
    server.quota, server.window, server.retry_after = 25, 2, retry_after
    started = time.monotonic()
    result = crawl(tmp_path / "out", "model_tree", f"root={root}", endpoint=server.url, settings={"LOGSTATS_INTERVAL": 2})
    wall = time.monotonic() - started
    assert_complete(result, root, family)
    progress = [line for line in result.stderr.splitlines() if "progress:" in line and "left, resets in" in line]
    assert len(progress) >= 4  # a line every 2 s, with the budget in it
    statuses = Counter(status for _m, _p, status, _a in server.requests)
    calls = sum(statuses.values())
    floor = calls / 25 * 2
    assert statuses[429] <= 0.02 * calls, statuses
    elapsed = result.rows("SELECT stats FROM crawl_runs")[0][0]
    crawl_time = float(json.loads(elapsed)["elapsed_time_seconds"])
    assert crawl_time <= 1.3 * floor, (crawl_time, floor)
    assert wall <= 1.3 * floor + 10  # plus Scrapy's start-up, generously


def test_injected_faults_change_nothing(server: ReplicaServer, tmp_path: Path) -> None:
    root, family = LARGE
    kinds = ("500", "502", "503", "504", "reset", "truncate", "slow", "garbage")
    server.faults = dict.fromkeys(kinds, 0.10 / len(kinds))
    result = crawl(tmp_path / "out", "model_tree", f"root={root}", endpoint=server.url, settings={"RETRY_TIMES": 8})
    assert_complete(result, root, family)
    statuses = Counter(status for _m, _p, status, _a in server.requests)
    assert statuses[500] + statuses[502] + statuses[503] + statuses[504] + statuses[0] > 10  # faults really happened
    assert sum(statuses.values()) > len(family) * 1.08  # and were retried
    assert result.rows("SELECT COUNT(*) FROM failures") == [(0,)]


SLOW = {"CONCURRENT_REQUESTS": 4, "HFSPIDER_BATCH_SIZE": 20, "HFSPIDER_FLUSH_SECONDS": 0.2}


@pytest.mark.parametrize("jobdir", [True, False])
def test_killed_three_times_then_resumed(server: ReplicaServer, tmp_path: Path, jobdir: bool) -> None:
    root, family = LARGE
    server.latency = 0.03
    output = tmp_path / "out"
    settings: dict[str, Any] = {**SLOW, **({"JOBDIR": tmp_path / "job"} if jobdir else {})}
    for stored in (len(family) // 5, len(family) // 2, 4 * len(family) // 5):
        process = start_crawl(output, "model_tree", f"root={root}", endpoint=server.url, settings=settings)
        wait_for_rows(output / "hfspider.sqlite", stored)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    before = len(server.requests)
    result = crawl(output, "model_tree", f"root={root}", endpoint=server.url, settings=settings)
    assert_complete(result, root, family)
    assert [row[0] for row in result.rows("SELECT outcome FROM crawl_runs ORDER BY id")] == ["running"] * 3 + ["finished"]
    assert len(server.requests) - before < len(family)  # the last run did not start over


def test_paused_with_ctrl_c_then_resumed(server: ReplicaServer, tmp_path: Path) -> None:
    root, family = LARGE
    server.latency = 0.03
    output = tmp_path / "out"
    settings = {**SLOW, "JOBDIR": tmp_path / "job"}
    process = start_crawl(output, "model_tree", f"root={root}", endpoint=server.url, settings=settings)
    wait_for_rows(output / "hfspider.sqlite", len(family) // 3)
    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 130  # paused, as a shell reports Ctrl-C
    assert not (output / "trees").exists()  # a paused crawl writes no tree that looks finished
    result = crawl(output, "model_tree", f"root={root}", endpoint=server.url, settings=settings)
    assert_complete(result, root, family)
    assert [row[0] for row in result.rows("SELECT outcome FROM crawl_runs ORDER BY id")] == ["shutdown", "finished"]
    listings = Counter(path for _m, path, status, _a in server.requests if path.startswith("/api/models?") and "cursor" not in path)
    assert max(listings.values()) == 1  # no listing was fetched twice across the pause


TOKEN = "hf_ZyxwvutsrqponmlkjihgfedcbaABCDEF"


def test_token_is_sent_and_never_written(server: ReplicaServer, tmp_path: Path) -> None:
    root, family = LARGE
    server.latency = 0.03
    output, job, log = tmp_path / "out", tmp_path / "job", tmp_path / "crawl.log"
    settings = {**SLOW, "JOBDIR": job, "LOG_LEVEL": "DEBUG", "LOG_FILE": log}
    env = {"HF_TOKEN": TOKEN}
    process = start_crawl(output, "model_tree", f"root={root}", endpoint=server.url, settings=settings, env=env)
    wait_for_rows(output / "hfspider.sqlite", len(family) // 3)
    process.send_signal(signal.SIGINT)
    _, paused_stderr = process.communicate(timeout=60)
    result = crawl(output, "model_tree", f"root={root}", endpoint=server.url, settings=settings, env=env)
    assert_complete(result, root, family)
    assert {auth for _m, _p, _s, auth in server.requests} == {f"Bearer {TOKEN}"}
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert log in written and any(p.parent == job for p in written)
    leaks = [p for p in written if TOKEN.encode() in p.read_bytes()]
    assert leaks == []
    assert TOKEN not in paused_stderr + result.stderr + result.stdout


#: No retries and no second pass: every fault is a failure at once.
GIVE_UP_AT_ONCE = {"RETRY_TIMES": 0, "HFSPIDER_RETRY_PASSES": 0}


def listed_parents(requests: list[tuple[str, str, int, str | None]], status: int | None = None) -> Counter[str]:
    """Parents whose children listing (``filter=base_model:[RELATION:]PARENT``) was asked for, optionally
    only those answered with ``status``."""
    found: Counter[str] = Counter()
    for _method, path, answered, _auth in requests:
        tags = parse_qs(urlsplit(path).query).get("filter", [])
        if path.startswith("/api/models?") and tags and (status is None or answered == status):
            found[tags[0].split(":")[-1]] += 1
    return found


def test_requests_that_keep_failing_are_recorded_and_retried_next_run(server: ReplicaServer, tmp_path: Path) -> None:
    root, family = LARGE
    output = tmp_path / "out"
    server.faults = {"503": 0.2}  # a status the log shows, so the test knows which answers the crawl had
    first = crawl(output, "model_tree", f"root={root}", endpoint=server.url, settings=GIVE_UP_AT_ONCE)
    assert first.returncode == 1 and "run the same command again" in first.stderr.strip().splitlines()[-1]
    recorded = first.rows("SELECT url, model_id, status, error FROM failures")
    assert len(recorded) >= 10 and {status for _u, _m, status, _e in recorded} == {503}
    assert not (output / "trees").exists()
    answered = set(listed_parents(server.requests, status=200))
    server.faults = None
    before = len(server.requests)
    second = crawl(output, "model_tree", f"root={root}", endpoint=server.url, settings=GIVE_UP_AT_ONCE)
    assert_complete(second, root, family)
    assert second.rows("SELECT COUNT(*) FROM failures") == [(0,)]
    assert [row[0] for row in second.rows("SELECT outcome FROM crawl_runs ORDER BY id")] == ["incomplete", "finished"]
    # Only what was missing: no listing the first run had answered is asked for again, none twice.
    again = listed_parents(server.requests[before:])
    assert again and not (again.keys() & answered) and max(again.values()) == 1


def test_failed_listings_are_retried_with_jobdir_too(server: ReplicaServer, tmp_path: Path) -> None:
    root, family = LARGE
    output = tmp_path / "out"
    settings = {**GIVE_UP_AT_ONCE, "JOBDIR": tmp_path / "job"}
    server.faults = {"503": 0.15}
    first = crawl(output, "model_tree", f"root={root}", endpoint=server.url, settings=settings)
    assert first.returncode == 1 and first.rows("SELECT COUNT(*) FROM failures")[0][0] > 5
    server.faults = None
    second = crawl(output, "model_tree", f"root={root}", endpoint=server.url, settings=settings)
    assert_complete(second, root, family)


def test_a_resume_stopped_during_its_replay_loses_nothing(server: ReplicaServer, tmp_path: Path) -> None:
    root, family = LARGE
    server.latency = 0.03
    output = tmp_path / "out"
    process = start_crawl(output, "model_tree", f"root={root}", endpoint=server.url, settings=SLOW)
    wait_for_rows(output / "hfspider.sqlite", len(family) // 2)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    edges_before = crawl_rows(output, "SELECT COUNT(*) FROM edges")
    # Stop the next run a few items into replaying the stored family.
    stopped = crawl(output, "model_tree", f"root={root}", endpoint=server.url, settings={**SLOW, "CLOSESPIDER_ITEMCOUNT": 50})
    assert "closespider_itemcount" in stopped.stderr
    assert crawl_rows(output, "SELECT COUNT(*) FROM edges") >= edges_before  # the replay deleted no stored edge
    # Ctrl-C while replaying: the crawl still stops promptly.
    process = start_crawl(output, "model_tree", f"root={root}", endpoint=server.url, settings=SLOW)
    wait_for_log(process, "resuming")
    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 130  # paused, as a shell reports Ctrl-C
    result = crawl(output, "model_tree", f"root={root}", endpoint=server.url, settings=SLOW)
    assert_complete(result, root, family)


def crawl_rows(output: Path, query: str) -> int:
    return CrawlResult(0, "", "", output).rows(query)[0][0]


def wait_for_log(process: Any, words: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if words in line:
            return
    raise AssertionError(f"no log line with {words!r}")


def test_ctrl_c_does_not_wait_for_the_quota_window(server: ReplicaServer, tmp_path: Path) -> None:
    root, _family = LARGE
    server.quota, server.window = 30, 120
    process = start_crawl(tmp_path / "out", "model_tree", f"root={root}", endpoint=server.url, settings={"JOBDIR": tmp_path / "job"})
    deadline = time.monotonic() + 60
    while sum(1 for _m, _p, status, _a in server.requests if status == 200) < 30 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1)  # the crawl now waits for a window that resets in about two minutes
    stopped_at = time.monotonic()
    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 130  # paused, as a shell reports Ctrl-C
    assert time.monotonic() - stopped_at < 20
