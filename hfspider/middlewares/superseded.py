"""Drop queued requests the crawl no longer needs, before they cost a call.

When ``model_tree -a strategy=auto`` switches from listing a family to walking
the Hub, the listings already in Scrapy's queue would only repeat what the walk
reads. Scrapy cannot take a request back out of its scheduler, so the spider
says which requests are superseded and they are dropped here, ahead of the
quota gate.
"""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest


class Superseded(IgnoreRequest):
    """A request whose answer another part of the crawl now provides."""


class SupersededMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SupersededMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Any = None) -> None:
        check = getattr(self.crawler.spider, "superseded", None)
        if check is not None and check(request):
            self.crawler.stats.inc_value("hfspider/superseded_requests")
            raise Superseded(f"superseded: {request.url}")
