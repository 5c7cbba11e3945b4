"""``scrapy crawl hub_index``: every model on the Hub (or a slice of it) in about N / 1000 calls.

Every model's tags name its parents, so listing the whole Hub yields every edge
of every family; after that any family is a query (``scrapy tree``). A later
run refreshes: it walks the newest-modified models first and stops at the
previous complete run's start.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from scrapy.http import Response

from hfspider.arguments import Extras, IndexArguments, full_flag
from hfspider.hub.endpoint import SORT_CREATED, SORT_MODIFIED, listing_url
from hfspider.hub.paging import FIRST_PAGE
from hfspider.spiders.walk import WalkingSpider


class HubIndexSpider(WalkingSpider):
    """One sequential walk over ``/api/models``, 1,000 models a page, following ``Link`` to the end.

    A full walk sorts by ``createdAt``, which never changes, so models keep
    their place while the Hub grows (new ones land before the cursor and are
    picked up by the next refresh). A refresh sorts by ``lastModified``.
    """

    name = "hub_index"
    custom_settings = {
        # A model's upsert touches random pages of the id indexes, and a transaction writes each page
        # once: the more rows a transaction, the fewer pages written per row (at 1M models, 30,000 a
        # transaction took a tenth less time than 10,000). The time bounds it instead: a batch goes to
        # the writer every HFSPIDER_FLUSH_SECONDS (a quarter second), so with the writer's own time an
        # answer is committed within about a second (kills at full speed lost 0.3-1.0 s of the walk;
        # with a batch every half second 0.4-1.5 s, at the same speed).
        "HFSPIDER_BATCH_SIZE": 50000,
        # The upserts' CPU is as much as the rest of the walk's: a second process does them meanwhile.
        "HFSPIDER_WRITER_PROCESS": True,
        # One page leads to the next: referer, URL length and depth bookkeeping buy nothing here,
        # and each costs a pass over every item of a page.
        "SPIDER_MIDDLEWARES": {
            "scrapy.spidermiddlewares.referer.RefererMiddleware": None,
            "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
            "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
            "hfspider.middlewares.slots.BucketSlotMiddleware": 900,  # replaced, not merged: named again
        },
    }

    @classmethod
    def check_arguments(cls, kwargs: dict[str, Any]) -> None:
        IndexArguments.parse(kwargs)
        full_flag(kwargs)
        Extras.parse(kwargs)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = IndexArguments.parse(kwargs)
        self.full = full_flag(kwargs)
        self.extras = Extras.parse(kwargs)
        super().__init__()
        self._replay_since = ""  # set when resuming: models fetched since then are replayed

    async def start(self) -> AsyncIterator[Any]:
        plan = self.run.walk_plan(self.full)
        if not self.args.params():
            self.run.walk_index(plan.replay_since or self.run.started_at, full=not plan.since, keep_all=True, rows="all")
            if not plan.since:
                self.run.sweep_gone(plan.replay_since or self.run.started_at)
        if plan.replay_since:
            self.logger.info("resuming an unfinished walk from %s", plan.next_url or "its first page")
            self._replay_since = plan.replay_since
            yield self.replay_request()
            if plan.queue_holds_next:
                self.run.walk_from = plan.next_url
                return  # a clean pause: JOBDIR's queue holds the next page
        if plan.since:
            self.logger.info("refreshing: models modified since %s", plan.since)
        self.crawler.stats.set_value("hfspider/refresh_since", plan.since or "")
        sort = SORT_MODIFIED if plan.since else SORT_CREATED
        first = plan.next_url or listing_url(self.hub, [*self.args.params(), ("sort", sort)])
        self.run.walk_from = first
        yield self.walk_page(first, plan.since, FIRST_PAGE)

    def parse_replay(self, response: Response) -> Iterator[Any]:
        yield from self.replayed(self.run.replay_since(self._replay_since))
