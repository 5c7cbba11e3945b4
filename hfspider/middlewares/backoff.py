"""Hold a request back until the time its second pass was given, without blocking the others.

A request that still failed after RetryMiddleware's tries is asked again later
in the same run (``HFSPIDER_RETRY_PASSES``); Scrapy has no per-request delay, so
the pass carries ``hf_not_before`` (wall-clock seconds, so JOBDIR can keep it)
and waits here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler

#: How often a held request looks at the clock and at whether the crawl is stopping.
POLL = 0.25


class BackoffMiddleware:
    def __init__(
        self, crawler: Crawler, *, clock: Callable[[], float] = time.time, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ) -> None:
        self.crawler = crawler
        self.clock = clock
        self.sleep = sleep

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Any = None) -> Coroutine[Any, Any, None] | None:
        """Nothing for almost every request (no coroutine made for it); a wait for a second pass."""
        not_before = request.meta.get("hf_not_before")
        if not_before is None or self.clock() >= not_before:
            return None
        return self._wait(not_before)

    async def _wait(self, not_before: float) -> None:
        while self.crawler.crawling and self.clock() < not_before:
            await self.sleep(min(not_before - self.clock(), POLL))
