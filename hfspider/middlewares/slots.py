"""Each Hub request goes to the download slot of the budget it spends (a spider and a downloader middleware).

The Hub counts API calls, HTML pages and file downloads separately, so each
gets a download slot of its own (``hub-api``, ``hub-pages``, ``hub-resolvers``):
each is paced apart (``RateLimitMiddleware``), and the downloader-aware
scheduler queue hands out requests of the slot with the fewest under way, so
requests waiting for the ``pages`` window never hold up API calls. robots.txt
governs the HTML pages, not the API or the files: only page requests are
checked against it.

As a spider middleware it marks requests before they are scheduled (the queue
sorts by slot); as a downloader middleware, before RobotsTxtMiddleware, it marks
those that reach the downloader without passing a spider middleware: requests
made in errbacks and redirects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response

from hfspider.hub.endpoint import endpoint, hub_host
from hfspider.hub.ratelimit import bucket_of


class BucketSlotMiddleware:
    def __init__(self, host: str) -> None:
        self.host = host

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BucketSlotMiddleware:
        return cls(hub_host(endpoint(crawler.settings.get("HF_ENDPOINT"))))

    def _mark(self, result: Any) -> Any:
        if isinstance(result, Request):
            parts = urlsplit(result.url)
            bucket = bucket_of(parts.path) if parts.netloc.lower() == self.host else None
            if bucket is not None:
                result.meta.setdefault("download_slot", f"hub-{bucket}")
                if bucket != "pages":
                    result.meta.setdefault("dont_obey_robotstxt", True)
        return result

    def process_request(self, request: Request, spider: Any = None) -> None:
        self._mark(request)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for result in start:
            yield self._mark(result)

    def process_spider_output(self, response: Response, result: Iterable[Any], spider: Any = None) -> Iterator[Any]:
        for item in result:
            yield self._mark(item)

    async def process_spider_output_async(self, response: Response, result: AsyncIterator[Any], spider: Any = None) -> AsyncIterator[Any]:
        async for item in result:
            yield self._mark(item)
