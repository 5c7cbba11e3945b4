"""The back-off gate holds a second-pass request until its time, and lets everything else through at once."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from scrapy import Request

from hfspider.middlewares.backoff import BackoffMiddleware


class FakeTime:
    """A wall clock that moves only when someone sleeps on it."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        assert seconds > 0, "a zero sleep would spin"
        self.slept.append(seconds)
        self.now += seconds


def through(middleware: BackoffMiddleware, request: Request) -> None:
    """Send a request through the gate as Scrapy does: a coroutine is awaited, None goes on at once."""
    waiting = middleware.process_request(request)
    if waiting is not None:
        asyncio.run(waiting)


def gate(fake: FakeTime, crawling: bool = True) -> BackoffMiddleware:
    crawler: Any = SimpleNamespace(crawling=crawling)
    return BackoffMiddleware(crawler, clock=fake.clock, sleep=fake.sleep)


def test_a_request_without_a_time_goes_at_once() -> None:
    fake = FakeTime()
    through(gate(fake), Request("https://huggingface.co/api/models?limit=1"))
    assert fake.slept == []


def test_a_second_pass_waits_until_its_time() -> None:
    fake = FakeTime()
    start = fake.now
    request = Request("https://huggingface.co/api/models?limit=1", meta={"hf_not_before": start + 12.5})
    through(gate(fake), request)
    assert fake.now >= start + 12.5 and fake.now - (start + 12.5) < 0.5  # not a moment longer than a poll
    assert sum(fake.slept) == fake.now - start


def test_a_time_already_past_goes_at_once() -> None:
    fake = FakeTime()
    through(gate(fake), Request("https://huggingface.co/x", meta={"hf_not_before": fake.now - 5}))
    assert fake.slept == []


def test_a_stopping_crawl_does_not_wait() -> None:
    """Ctrl-C must not sit out a back-off: the request goes back to the queue (or JOBDIR) as it is."""
    fake = FakeTime()
    through(gate(fake, crawling=False), Request("https://huggingface.co/x", meta={"hf_not_before": fake.now + 60}))
    assert fake.slept == []
