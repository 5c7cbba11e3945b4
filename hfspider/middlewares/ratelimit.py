"""Spend each of the Hub's quotas evenly over its window, and wait out a 429 instead of failing.

Scrapy retries a 429 at once and AutoThrottle only reacts to latency, so this
gate reads the ``RateLimit`` headers of every Hub response and spaces the
next requests so the remaining calls last until the window resets. The Hub
counts API calls, HTML pages and file downloads in three budgets, each
announced in its own answers' headers, so there is one gate per budget: a page
waiting for the ``pages`` window never holds up an API call. A slow Hub gets
fewer calls a second through the concurrency cap (``CONCURRENT_REQUESTS``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response

from hfspider.hub.endpoint import endpoint, hub_host
from hfspider.hub.ratelimit import BUCKETS, Budget, bucket_of, parse, retry_after

logger = logging.getLogger(__name__)

#: Seconds added after a window resets, for clocks that disagree a little.
MARGIN = 0.1
#: How often a waiting request looks at the pace again.
POLL = 0.05


@dataclass
class Gate:
    """The pace of one budget: the interval between requests, and what its answers said is left."""

    interval: float = 0.0
    last_sent: float = 0.0
    remaining: int | None = None
    reset_at: float = 0.0  # the earliest end of the current window that its answers agree on
    in_flight: int = 0
    rate_limited: int = 0  # 429s in a row


class RateLimitMiddleware:
    """A pacing gate per budget in front of the Hub: requests wait their turn, 429s are retried after the reset.

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
        self.gates = {bucket: Gate() for bucket in BUCKETS}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RateLimitMiddleware:
        return cls(crawler, hub_host(endpoint(crawler.settings.get("HF_ENDPOINT"))))

    def _bucket(self, request: Request) -> str | None:
        """The budget a request spends, or None when it is not for the Hub (or counts in none)."""
        parts = urlsplit(request.url)
        return bucket_of(parts.path) if parts.netloc.lower() == self.host else None

    async def process_request(self, request: Request, spider: Any = None) -> None:
        bucket = self._bucket(request)
        if bucket is None:
            return
        gate = self.gates[bucket]
        # Waiters re-check every POLL seconds, so a new pace or a new window applies to them at once.
        while True:
            now = self.clock()
            if not self.crawler.crawling:
                # Stopping (Ctrl-C): don't hold shutdown for the window to reset. The Hub
                # answers 429, which costs no quota, and the request goes back to the queue.
                break
            if gate.remaining is not None and gate.remaining - gate.in_flight <= 0:
                if now < gate.reset_at + MARGIN:
                    await self.sleep(min(gate.reset_at + MARGIN - now, POLL))
                    continue
                gate.remaining = None  # a new window: its budget arrives with the next answer
            if now >= gate.last_sent + gate.interval:
                break
            await self.sleep(min(gate.last_sent + gate.interval - now, POLL))
        gate.last_sent = self.clock()
        gate.in_flight += 1

    def _ours(self, request: Request) -> bool:
        return self._bucket(request) is not None

    def _pace(self, budget: Budget, bucket: str = "api") -> None:
        """Spread what is left of the window over the calls left in it."""
        if budget.remaining is None or budget.reset is None:
            return
        gate = self.gates[bucket]
        now = self.clock()
        new_window = gate.remaining is None or budget.remaining > gate.remaining or now >= gate.reset_at
        end = now + budget.reset
        gate.reset_at = end if new_window else min(gate.reset_at, end)
        gate.remaining = budget.remaining
        gate.interval = max(gate.reset_at - now, 0.0) / max(budget.remaining, 1)
        suffix = "" if bucket == "api" else f"/{bucket}"
        self.stats.set_value(f"hfspider/quota_remaining{suffix}", budget.remaining)
        self.stats.set_value(f"hfspider/quota_reset{suffix}", budget.reset)

    def _landed(self, request: Request, bucket: str = "api") -> None:
        """A request is no longer in flight."""
        gate = self.gates[bucket]
        gate.in_flight = max(gate.in_flight - 1, 0)

    def _hold(self, wait: float, bucket: str = "api") -> None:
        """A 429: nothing more is sent from this budget for ``wait`` seconds."""
        gate = self.gates[bucket]
        gate.remaining, gate.reset_at = 0, self.clock() + wait - MARGIN

    def process_exception(self, request: Request, exception: BaseException, spider: Any = None) -> None:
        bucket = self._bucket(request)
        if bucket is not None:
            self._landed(request, bucket)

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Request | Response:
        bucket = self._bucket(request)
        if bucket is None:
            return response
        gate = self.gates[bucket]
        self._landed(request, bucket)
        budget = parse(_header(response, b"RateLimit"), _header(response, b"RateLimit-Policy"), bucket)
        self._pace(budget, bucket)
        if response.status != 429:
            gate.rate_limited = 0
            return response
        wait = retry_after(_header(response, b"Retry-After"))
        if wait is None:
            wait = budget.reset  # a page 429 has no Retry-After: only t says when
        gate.rate_limited += 1
        if wait is None:  # no hint at all: back off, doubling up to a minute
            wait = min(2.0 ** (gate.rate_limited - 1), 60.0)
        wait = max(wait, 1.0)  # as huggingface_hub does (t + 1): never hammer on "0"
        self._hold(wait, bucket)
        self.stats.inc_value("hfspider/rate_limited")
        if bucket != "api":
            self.stats.inc_value(f"hfspider/rate_limited/{bucket}")
        logger.info("Hub %s quota used up (429): waiting %.1f s, then retrying %s", bucket, wait, request.url)
        # The same request again, bypassing the dupefilter; a 429 is not a failure and not a retry.
        return request.replace(dont_filter=True)


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
