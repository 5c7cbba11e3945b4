"""Spend the Hub's quota evenly over its window, and wait out a 429 instead of failing.

Scrapy retries a 429 at once and AutoThrottle only reacts to latency, so this
gate reads the ``RateLimit`` headers of every Hub response and spaces the
next requests so the remaining calls last until the window resets. AutoThrottle
stays on and still slows down for a slow Hub.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response

from hfspider.hub.endpoint import endpoint, hub_host
from hfspider.hub.ratelimit import Budget, parse, retry_after

logger = logging.getLogger(__name__)

#: Seconds added after a window resets, for clocks that disagree a little.
MARGIN = 0.1
#: How often a waiting request looks at the pace again.
POLL = 0.05


class RateLimitMiddleware:
    """A pacing gate in front of the Hub: requests wait their turn, 429s are retried after the reset.

    ``t`` comes in whole seconds, rounded up, so one answer places the end of
    the window only within a second; the earliest end that the answers of one
    window agree on narrows it to about a round trip. The remaining calls are
    spread until then, and never more are sent than are left (minus those in
    flight), so a slightly early estimate cannot overrun the quota.
    """

    def __init__(
        self,
        crawler: Crawler,
        host: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.crawler = crawler
        self.clock = clock  # injectable, so tests can run a fake clock instead of waiting
        self.sleep = sleep
        self.stats = crawler.stats
        self.host = host
        self.interval = 0.0
        self.last_sent = 0.0
        self.remaining: int | None = None
        self.reset_at = 0.0  # the earliest end of the current window that its answers agree on
        self.in_flight = 0
        self.rate_limited = 0  # 429s in a row

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RateLimitMiddleware:
        return cls(crawler, hub_host(endpoint(crawler.settings.get("HF_ENDPOINT"))))

    def _ours(self, request: Request) -> bool:
        return urlsplit(request.url).netloc.lower() == self.host

    async def process_request(self, request: Request, spider: Any = None) -> None:
        if not self._ours(request):
            return
        # Waiters re-check every POLL seconds, so a new pace or a new window applies to them at once.
        while True:
            now = self.clock()
            if not self.crawler.crawling:
                # Stopping (Ctrl-C): don't hold shutdown for the window to reset. The Hub
                # answers 429, which costs no quota, and the request goes back to the queue.
                break
            if self.remaining is not None and self.remaining - self.in_flight <= 0:
                if now < self.reset_at + MARGIN:
                    await self.sleep(min(self.reset_at + MARGIN - now, POLL))
                    continue
                self.remaining = None  # a new window: its budget arrives with the next answer
            if now >= self.last_sent + self.interval:
                break
            await self.sleep(min(self.last_sent + self.interval - now, POLL))
        self.last_sent = self.clock()
        self.in_flight += 1

    def _pace(self, budget: Budget) -> None:
        """Spread what is left of the window over the calls left in it."""
        if budget.remaining is None or budget.reset is None:
            return
        now = self.clock()
        new_window = self.remaining is None or budget.remaining > self.remaining or now >= self.reset_at
        end = now + budget.reset
        self.reset_at = end if new_window else min(self.reset_at, end)
        self.remaining = budget.remaining
        self.interval = max(self.reset_at - now, 0.0) / max(budget.remaining, 1)
        self.stats.set_value("hfspider/quota_remaining", budget.remaining)
        self.stats.set_value("hfspider/quota_reset", budget.reset)

    def _landed(self, request: Request) -> None:
        """A request is no longer in flight."""
        self.in_flight = max(self.in_flight - 1, 0)

    def _hold(self, wait: float) -> None:
        """A 429: nothing more is sent for ``wait`` seconds."""
        self.remaining, self.reset_at = 0, self.clock() + wait - MARGIN

    def process_exception(self, request: Request, exception: BaseException, spider: Any = None) -> None:
        if self._ours(request):
            self._landed(request)

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Request | Response:
        if not self._ours(request):
            return response
        self._landed(request)
        budget = parse(_header(response, b"RateLimit"), _header(response, b"RateLimit-Policy"))
        self._pace(budget)
        if response.status != 429:
            self.rate_limited = 0
            return response
        wait = retry_after(_header(response, b"Retry-After"))
        if wait is None:
            wait = budget.reset
        self.rate_limited += 1
        if wait is None:  # no hint at all: back off, doubling up to a minute
            wait = min(2.0 ** (self.rate_limited - 1), 60.0)
        wait = max(wait, 1.0)  # as huggingface_hub does (t + 1): never hammer on "0"
        self._hold(wait)
        self.stats.inc_value("hfspider/rate_limited")
        logger.info("Hub quota used up (429): waiting %.1f s, then retrying %s", wait, request.url)
        # The same request again, bypassing the dupefilter; a 429 is not a failure and not a retry.
        return request.replace(dont_filter=True)


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
