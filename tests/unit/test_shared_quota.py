"""The quota gate shared through Redis: what one worker learns holds the others back (real Redis, real time)."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from hfspider.distributed.quota import TICKET, SharedRateLimitMiddleware
from tests.conftest import REDIS

HOST = "huggingface.co"
API = f"https://{HOST}/api/models"


def worker(redis_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SharedRateLimitMiddleware:
    """One worker's gate, as the add-on builds it."""
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    settings = {"HF_ENDPOINT": f"https://{HOST}", "REDIS_URL": REDIS, "HFSPIDER_REDIS_PREFIX": redis_prefix}
    crawler: Crawler = get_crawler(settings_dict=settings)
    crawler.crawling = True
    return SharedRateLimitMiddleware.from_crawler(crawler)


def send(gate: SharedRateLimitMiddleware) -> tuple[Request, float]:
    request = Request(API)
    asyncio.run(gate.process_request(request))
    return request, time.monotonic()


def answer(gate: SharedRateLimitMiddleware, request: Request, status: int = 200, **headers: str) -> Request | Response:
    return gate.process_response(request, Response(request.url, status=status, headers=headers, request=request))


def test_two_workers_keep_one_pace(redis_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """10 calls left for 1 s: one call every 0.1 s for both workers together, not for each."""
    one, other = worker(redis_prefix, tmp_path, monkeypatch), worker(redis_prefix, tmp_path, monkeypatch)
    first, _ = send(one)
    answer(one, first, RateLimit='"api";r=10;t=1')
    sent = [send(gate) for gate in (other, one, other, one)]
    gaps = [b - a for (_r, a), (_s, b) in itertools.pairwise(sent)]
    assert all(gap >= 0.08 for gap in gaps), gaps
    assert all(TICKET in request.meta for request, _t in sent)


def test_calls_in_flight_count_for_every_worker(redis_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """2 calls left: two in flight from one worker, and the other waits for the window to reset."""
    one, other = worker(redis_prefix, tmp_path, monkeypatch), worker(redis_prefix, tmp_path, monkeypatch)
    first, _ = send(one)
    answer(one, first, RateLimit='"api";r=2;t=1')
    answered = time.monotonic()
    send(one)
    send(one)
    _request, at = send(other)
    assert at - answered >= 0.9  # t=1 is rounded up by the Hub, so the reset may come up to 1 s early


def test_a_429_seen_by_one_worker_holds_the_other(redis_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one, other = worker(redis_prefix, tmp_path, monkeypatch), worker(redis_prefix, tmp_path, monkeypatch)
    first, _ = send(one)
    again = answer(one, first, status=429, **{"Retry-After": "1"})
    told = time.monotonic()
    assert isinstance(again, Request) and TICKET not in again.meta  # sent again later, with a new ticket
    _request, at = send(other)
    assert at - told >= 0.9
