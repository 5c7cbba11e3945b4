"""One rate-limit budget for every worker behind one token (or one address): the gate, kept in Redis.

Each worker reading the Hub's ``RateLimit`` headers on its own would spend
the calls left once per worker. Here the gate of middlewares/ratelimit.py keeps
its window estimate, its pace and the calls in flight in one Redis hash shared
by every worker (of every crawl) that calls the same Hub with the same token,
and updates them in one atomic step per call and per answer. Calls in flight
are tickets that expire after ``DOWNLOAD_TIMEOUT``, so a worker that dies
holding some does not shrink the budget for long.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler

from hfspider.distributed.worker import redis_server
from hfspider.hub.endpoint import endpoint, hub_host, token
from hfspider.hub.ratelimit import Budget
from hfspider.middlewares.ratelimit import MARGIN, POLL, RateLimitMiddleware

#: Meta key of a request's place in the shared budget while it is in flight.
TICKET = "hf_quota_ticket"

_NOW = "local t = redis.call('TIME') local now = t[1] + t[2] / 1000000\n"

# Returns "0" when the call may go now (and counts it in flight), else the seconds to wait.
_TAKE = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local s = redis.call('HMGET', KEYS[1], 'remaining', 'reset_at', 'interval', 'last_sent')
local remaining, reset_at = tonumber(s[1]), tonumber(s[2]) or 0
local interval, last = tonumber(s[3]) or 0, tonumber(s[4]) or 0
local margin = tonumber(ARGV[3])
if remaining and remaining - redis.call('ZCARD', KEYS[2]) <= 0 then
  if now < reset_at + margin then return tostring(reset_at + margin - now) end
  redis.call('HDEL', KEYS[1], 'remaining')
end
if now < last + interval then return tostring(last + interval - now) end
redis.call('HSET', KEYS[1], 'last_sent', now)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
redis.call('EXPIRE', KEYS[1], 86400)
redis.call('EXPIRE', KEYS[2], 86400)
return '0'
"""
)

# The same reading of an answer as RateLimitMiddleware._pace, on the shared state.
_PACE = (
    _NOW
    + """
local r, reset = tonumber(ARGV[1]), tonumber(ARGV[2])
local s = redis.call('HMGET', KEYS[1], 'remaining', 'reset_at')
local current, reset_at = tonumber(s[1]), tonumber(s[2]) or 0
local ends = now + reset
if current ~= nil and r <= current and now < reset_at then ends = math.min(reset_at, ends) end
redis.call('HSET', KEYS[1], 'remaining', r, 'reset_at', ends, 'interval', math.max(ends - now, 0) / math.max(r, 1))
"""
)

_HOLD = _NOW + "redis.call('HSET', KEYS[1], 'remaining', 0, 'reset_at', now + tonumber(ARGV[1]) - tonumber(ARGV[2]))\n"


class SharedRateLimitMiddleware(RateLimitMiddleware):
    """RateLimitMiddleware whose state is shared in Redis; in its place when ``REDIS_URL`` is set."""

    def __init__(self, crawler: Crawler, host: str, server: Any, key: str) -> None:
        super().__init__(crawler, host)
        self.key = key
        self.ticket_seconds = crawler.settings.getfloat("DOWNLOAD_TIMEOUT") + 10
        self._take = server.register_script(_TAKE)
        self._pace_script = server.register_script(_PACE)
        self._hold_script = server.register_script(_HOLD)
        self._release = server.register_script("return redis.call('ZREM', KEYS[2], ARGV[1])")
        self._turn: asyncio.Lock | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedRateLimitMiddleware:
        host = hub_host(endpoint(crawler.settings.get("HF_ENDPOINT")))
        secret = token()
        # Keyed by who pays: the token's digest (never the token), or everyone without one.
        who = hashlib.sha256(secret.encode()).hexdigest()[:16] if secret else "anonymous"
        key = f"{crawler.settings.get('HFSPIDER_REDIS_PREFIX')}:quota:{host}:{who}"
        return cls(crawler, host, redis_server(crawler.settings), key)

    def _keys(self, bucket: str) -> list[str]:
        """The shared state of one budget (the API's under the plain key) and its calls in flight."""
        key = self.key if bucket == "api" else f"{self.key}:{bucket}"
        return [key, f"{key}:in-flight"]

    async def process_request(self, request: Request, spider: Any = None) -> None:
        bucket = self._bucket(request)
        if bucket is None:
            return
        keys = self._keys(bucket)
        # One request of this worker at a time asks Redis; the others wait their turn here, so a
        # worker makes a few calls to Redis per second while it waits, not one per waiting request.
        self._turn = self._turn or asyncio.Lock()
        ticket = uuid.uuid4().hex
        async with self._turn:
            while self.crawler.crawling:  # stopping: don't hold shutdown (see RateLimitMiddleware)
                wait = float(self._take(keys=keys, args=[ticket, self.ticket_seconds, MARGIN]))
                if wait <= 0:
                    request.meta[TICKET] = ticket
                    return
                await self.sleep(min(wait, POLL))

    def _landed(self, request: Request, bucket: str = "api") -> None:
        ticket = request.meta.pop(TICKET, None)
        if ticket is not None:
            self._release(keys=self._keys(bucket), args=[ticket])

    def _pace(self, budget: Budget, bucket: str = "api") -> None:
        if budget.remaining is None or budget.reset is None:
            return
        self._pace_script(keys=self._keys(bucket), args=[budget.remaining, budget.reset])
        suffix = "" if bucket == "api" else f"/{bucket}"
        self.stats.set_value(f"hfspider/quota_remaining{suffix}", budget.remaining)
        self.stats.set_value(f"hfspider/quota_reset{suffix}", budget.reset)

    def _hold(self, wait: float, bucket: str = "api") -> None:
        self._hold_script(keys=self._keys(bucket), args=[wait, MARGIN])
