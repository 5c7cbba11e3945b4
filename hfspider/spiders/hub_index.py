"""``scrapy crawl hub_index``: every model on the Hub (or a slice of it) in about N / 1000 calls.

Every model's tags name its parents, so listing the whole Hub yields every edge
of every family; after that any family is a query (``scrapy tree``). A later
run refreshes: it walks the newest-modified models first and stops at the
previous complete run's start.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

from scrapy import Request
from scrapy.http import Response

from hfspider.arguments import IndexArguments, full_flag
from hfspider.hub.endpoint import listing_url, next_link
from hfspider.items import PageItem
from hfspider.jobdir import CrashSafeJobDir
from hfspider.spiders.base import HubSpider
from pipelines import state
from pipelines.normalize import as_utc
from pipelines.store import database_url


class HubIndexSpider(HubSpider):
    """One sequential walk over ``/api/models``, 1,000 models a page, following ``Link`` to the end.

    A full walk sorts by ``createdAt``, which never changes, so models keep
    their place while the Hub grows (new ones land before the cursor and are
    picked up by the next refresh). A refresh sorts by ``lastModified``.
    """

    name = "hub_index"
    # One page leads to the next: referer, URL length and depth bookkeeping buy nothing here,
    # and each costs a pass over every item of a page.
    custom_settings = {
        "SPIDER_MIDDLEWARES": {
            "scrapy.spidermiddlewares.referer.RefererMiddleware": None,
            "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
            "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
        }
    }

    @classmethod
    def check_arguments(cls, kwargs: dict[str, Any]) -> None:
        IndexArguments.parse(kwargs)
        full_flag(kwargs)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = IndexArguments.parse(kwargs)
        self.full = full_flag(kwargs)
        super().__init__()
        self._replay_since = ""  # set when resuming: models fetched since then are replayed

    async def start(self) -> AsyncIterator[Any]:
        walk = state.load_walk(database_url(self.settings), self.crawl_key, self.full)
        if walk.replay_since:
            self.logger.info("resuming an unfinished walk from %s", walk.next_url or "its first page")
            self._replay_since = walk.replay_since
            yield self.replay_request()
            jobdir = self.crawler.get_extension(CrashSafeJobDir)
            if jobdir and jobdir.queue_intact and walk.outcome == "shutdown" and not walk.failed:
                return  # a clean pause: JOBDIR's queue holds the next page
        if walk.since:
            self.logger.info("refreshing: models modified since %s", walk.since)
        self.crawler.stats.set_value("hfspider/refresh_since", walk.since or "")
        sort = "lastModified" if walk.since else "createdAt"
        first = walk.next_url or listing_url(self.hub, [*self.args.params(), ("sort", sort)])
        yield self._page(first, walk.since, ())

    def parse_replay(self, response: Response) -> Iterator[Any]:
        yield from state.replay_since(database_url(self.settings), self._replay_since)

    def _page(self, url: str, since: str | None, pages: tuple[str, ...]) -> Request:
        return Request(url, callback=self.parse_page, errback=self.failed, meta={"hf_since": since, "hf_pages": pages}, dont_filter=True)

    def parse_page(self, response: Response) -> Iterator[Any]:
        records = self.decode(response, list)
        if records is None:
            yield from self.retry_or_fail(response, "listing is not a JSON list")
            return
        since: str | None = response.meta["hf_since"]
        following = next_link(response.headers)
        fresh = [r for r in records if not since or (as_utc(r.get("lastModified") if isinstance(r, dict) else None) or "") >= since]
        if len(fresh) < len(records):
            following = None  # the rest is older than the last complete run
        if following:
            page = hashlib.sha1(following.encode()).hexdigest()[:12]
            pages: tuple[str, ...] = response.meta["hf_pages"]
            if page in pages:
                yield self.failure(response.request, response.status, "listing loops back to an earlier page")
                following = None
            else:
                # Asked for first, so the next page downloads while this one's items go through the pipelines.
                yield self._page(following, since, (*pages[-49:], page))
        for record in fresh:
            item, edges = self.items_for(record)
            if item is not None:
                yield item
                yield from edges
        if following:
            yield PageItem(following)  # after the page's items: a resumed walk starts here
