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
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response

from hfspider.hub.endpoint import endpoint, hub_host
from hfspider.hub.ratelimit import Budget, parse, retry_after

logger = logging.getLogger(__name__)

#: Seconds added after a window resets, for clocks that disagree a little.
MARGIN = 0.25


class RateLimitMiddleware:
    """A pacing gate in front of the Hub: requests wait their turn, 429s are retried after the reset."""

    def __init__(self, crawler: Crawler, host: str) -> None:
        self.stats = crawler.stats
        self.host = host
        self.interval = 0.0
        self.next_at = 0.0
        self.budget = Budget()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RateLimitMiddleware:
        return cls(crawler, hub_host(endpoint(crawler.settings.get("HF_ENDPOINT"))))

    def _ours(self, request: Request) -> bool:
        return urlsplit(request.url).netloc.lower() == self.host

    async def process_request(self, request: Request, spider: Any = None) -> None:
        if not self._ours(request):
            return
        now = time.monotonic()
        at = max(now, self.next_at)
        self.next_at = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)

    def _pace(self, budget: Budget) -> None:
        """Spread what is left of the window over the calls left in it."""
        if budget.remaining is None or budget.reset is None:
            return
        self.budget = budget
        self.stats.set_value("hfspider/quota_remaining", budget.remaining)
        self.stats.set_value("hfspider/quota_reset", budget.reset)
        if budget.remaining <= 0:
            self.next_at = max(self.next_at, time.monotonic() + budget.reset + MARGIN)
            self.interval = 0.0
        else:
            self.interval = budget.reset / budget.remaining

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Request | Response:
        if not self._ours(request):
            return response
        budget = parse(_header(response, b"RateLimit"), _header(response, b"RateLimit-Policy"))
        self._pace(budget)
        if response.status != 429:
            return response
        wait = retry_after(_header(response, b"Retry-After"))
        if wait is None:
            wait = budget.reset if budget.reset is not None else 1.0
        self.next_at = max(self.next_at, time.monotonic() + wait + MARGIN)
        self.stats.inc_value("hfspider/rate_limited")
        logger.info("Hub quota used up (429): waiting %.1f s, then retrying %s", wait, request.url)
        # The same request again, bypassing the dupefilter; a 429 is not a failure and not a retry.
        return request.replace(dont_filter=True)


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
