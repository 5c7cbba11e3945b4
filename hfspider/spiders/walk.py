"""Walking ``/api/models`` page by page: how ``hub_index`` lists the Hub and ``model_tree`` indexes it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

from scrapy import Request
from scrapy.http import Response

from hfspider.hub.paging import Pages, follow, new_ids
from hfspider.hub.records import as_utc, fetched_at
from hfspider.items import Bundle
from hfspider.marks import PageDone
from hfspider.spiders.base import HubSpider

#: How long a walk's callback lets the reactor run after asking for the next page: enough for the few
#: turns of the loop that send the request, so that the answer is on its way while this page is
#: processed. One turn (0 s) is not enough (a 100k walk took 4.8 s instead of 4.2); 0.5, 1 and 3 ms
#: all are, and each ms is paid once a page.
HANDOFF_SECONDS = 0.001


class WalkingSpider(HubSpider):
    """One sequential walk, 1,000 models a page, following ``Link`` to the end.

    A page done is marked after its items, so a killed walk resumes at the
    first page whose items may not all be stored. A page's models and edges go
    through the pipelines as one ``Bundle``.
    """

    #: Whether the walk's records are an index (stored, never fed: ``Bundle.indexed``) or the crawl's own.
    indexes = False

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[str] = set()  # ids this walk has listed: a page with none new is a loop's sign

    def walk_page(self, url: str, since: str | None, pages: Pages) -> Request:
        meta = {"hf_since": since, "hf_pages": pages, "hf_url": url}
        return Request(url, callback=self.parse_page, errback=self.failed, meta=meta, dont_filter=True)

    async def parse_page(self, response: Response) -> AsyncIterator[Any]:
        for output in self._page(response):
            yield output
            if isinstance(output, Request) and output.callback == self.parse_page:
                # The engine sends the next page's request before this page's items take the CPU
                # (for tens of milliseconds): the Hub prepares the next answer meanwhile.
                await asyncio.sleep(HANDOFF_SECONDS)

    def _page(self, response: Response) -> Iterator[Any]:
        records = self.decode(response, list)
        if records is None:
            yield from self.retry_or_fail(response, "listing is not a JSON list")
            return
        self.crawler.stats.inc_value("hfspider/walk_pages")
        since: str | None = response.meta["hf_since"]
        fresh = [r for r in records if not since or (as_utc(r.get("lastModified") if isinstance(r, dict) else None) or "") >= since]
        ids = [r["id"] for r in fresh if isinstance(r, dict) and isinstance(r.get("id"), str)]
        url = None
        if len(fresh) == len(records):  # else the rest is older than the last complete run
            following = follow(self.hub, response.headers, response.meta["hf_pages"], new_ids(ids, self._seen), response.url)
            if following.error:
                yield self.failure(response.request, response.status, following.error)
            url = following.url
        if url:
            # Asked for first, so the next page downloads while this one's items go through the pipelines.
            yield self.walk_page(url, since, following.pages)
        bundle = Bundle(indexed=self.indexes)
        stamp = fetched_at()
        for record in fresh:
            item, edges = self.items_for(record, stamp)
            if item is not None:
                bundle.add(item, edges)
        if bundle.models:
            yield bundle
        if not self.indexes:
            for item in bundle.models:
                yield from self.about(item)
        if url:
            yield PageDone(response.meta["hf_url"], url)  # after the page's items: a resumed walk may start there
