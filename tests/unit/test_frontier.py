"""The Redis side of a shared crawl's end (real Redis): one worker decides at a time, and none after it completed."""

from __future__ import annotations

import redis

from hfspider.distributed.frontier import Frontier
from tests.conftest import REDIS


def workers(prefix: str, count: int) -> list[Frontier]:
    server = redis.Redis.from_url(REDIS)
    frontiers = [Frontier(server, prefix, "crawlkey") for _ in range(count)]
    for frontier in frontiers:
        frontier.join(started="2025-06-01T00:00:00Z")
    return frontiers


def test_one_worker_decides_at_a_time(redis_prefix: str) -> None:
    first, second = workers(redis_prefix, 2)
    assert first.generation == second.generation and first.seeder and not second.seeder
    assert first.lock(60)
    assert not second.lock(60)
    first.unlock()
    assert second.lock(60)


def test_no_worker_decides_once_one_completed_the_crawl(redis_prefix: str) -> None:
    """The second worker read no outcome just before the first finished: the lock the first let go of must
    not let it complete the crawl again (two workers writing the feeds)."""
    first, second = workers(redis_prefix, 2)
    assert second.outcome() is None
    assert first.lock(60)
    first.finish({"root_errors": 0, "failures": 0}, f"{redis_prefix}:queue", [])
    first.unlock()
    assert not second.lock(60)
    assert second.outcome() == {"root_errors": 0, "failures": 0}
