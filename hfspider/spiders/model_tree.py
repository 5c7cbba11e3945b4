"""``scrapy crawl model_tree -a root=ORG/NAME``: a model's whole family, down and/or up.

Two ways reach a family: listing it (a call per member) or walking the whole
Hub (a call per 1,000 models) and deriving it from the tags, as ``scrapy tree``
does. ``-a strategy=auto`` starts listing and walks instead once the family
looks more than twice as expensive to list as the walk.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from scrapy import Request, signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response

from hfspider.arguments import Extras, TreeArguments
from hfspider.hub.endpoint import EXPAND, PAGE_SIZE, SORT_CREATED, SORT_LIKES, SORT_MODIFIED, children_url, listing_url, model_url, sort_of
from hfspider.hub.lineage import SOURCE_LISTING, UNKNOWN
from hfspider.hub.paging import FIRST_PAGE, Pages, follow
from hfspider.hub.records import fetched_at
from hfspider.hub.status import NOT_THERE, why_missing
from hfspider.items import Bundle, EdgeItem, ModelItem
from hfspider.marks import Listed
from hfspider.spiders.family import FamilySteps
from hfspider.spiders.walk import WalkingSpider

LISTING, INDEX = "listing", "index"
#: What a refresh of a fresh stored index is expected to cost, in pages.
REFRESH_PAGES = 2


class ModelTreeSpider(FamilySteps, WalkingSpider):
    """Lists every model below (and, with ``direction``, above) the roots.

    Requests are deduplicated here, not by Scrapy's dupefilter: by model and
    distance, so a shorter path found later can still extend a ``max_depth``
    crawl, and across runs by the database, which unlike JOBDIR's seen-set
    also knows about requests a killed process had in flight.
    The stored tree is derived from the stored edges when the crawl closes.
    """

    indexes = True  # its walk of the whole Hub stores an index; the feeds get the families' members

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> ModelTreeSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.idle, signal=signals.spider_idle)
        return spider

    name = "model_tree"

    @classmethod
    def check_arguments(cls, kwargs: dict[str, Any]) -> None:
        """Raise ``ArgumentError`` for bad ``-a`` arguments, before a crawl is set up."""
        TreeArguments.parse(kwargs)
        Extras.parse(kwargs)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = TreeArguments.parse(kwargs)
        self.extras = Extras.parse(kwargs)
        super().__init__()
        self._best: dict[tuple[str, str], int] = {}
        self._visits: Counter[str] = Counter()
        self._stored_roots: set[str] = set()
        self._replay: list[str] = []  # stored members to replay for the feeds
        # auto lists until the family looks dearer to list than the Hub to walk; up is a call per ancestor.
        self.mode = INDEX if self.args.strategy == INDEX and self.args.direction != "up" else LISTING
        self._fed: set[str] = set()  # models this run gave the feeds
        self._counted = 0  # listings the roots' childrenModelCount announce
        self._walk_done = False
        self._told = False  # the choice was logged

    async def start(self) -> AsyncIterator[Any]:
        self.run.write_trees_for(list(self.args.roots), self.args.spec)
        walking = self._unfinished_walk()
        if walking:
            self.mode = INDEX
        self.crawler.stats.set_value("hfspider/strategy", self.mode)
        if self.args.top:
            url = listing_url(self.hub, [("sort", SORT_LIKES)], expand=(SORT_LIKES,), limit=min(self.args.top, PAGE_SIZE))
            yield self._top_request(self.args.top, url)
        for request in self._resume(self.args.roots):
            yield request
        for root in self.args.roots:
            request = self._root_request(root)
            if request:
                yield request
        if self.mode == INDEX:
            for request in self._walk(walking):
                yield request

    # -- choosing between listing and walking ------------------------------

    def _unfinished_walk(self) -> str | None:
        """The page an unfinished run of this crawl was walking the Hub at: it goes on walking."""
        if self.args.direction == "up" or not self.run.unfinished:
            return None
        return self.run.db.next_page(self.run.key)

    def _index_cost(self) -> int:
        """Calls a walk is expected to take: a refresh of a fresh stored index, else a whole walk."""
        info, refresh_since = self.run.fresh_index()
        if refresh_since is not None:
            return REFRESH_PAGES
        if info is not None:
            return math.ceil(info.models / PAGE_SIZE) + 1
        return self.settings.getint("HFSPIDER_INDEX_PAGES")

    def _listing_cost(self) -> int:
        """Listing calls the family is expected to take: at least one per member found so far, and
        one per child the roots announced (``childrenModelCount``)."""
        listings = self._visits["down"]
        pages = int(self.crawler.stats.get_value("hfspider/listing_pages", 0))
        return max(listings, self._counted) + pages

    def _maybe_switch(self) -> Iterator[Request]:
        """Under ``auto``, walk the Hub once listing looks more than twice as expensive."""
        # A crawl shared by many workers lists: a walk's chain of pages is one process's to follow.
        if self.args.strategy != "auto" or self.mode == INDEX or self.args.direction == "up" or self.run.shared:
            return
        listing, index = self._listing_cost(), self._index_cost()
        if listing <= 2 * index:
            if not self._told:
                self._told = True
                self.logger.info(
                    "strategy auto: listing the family (~%d calls so far) rather than walking the Hub (~%d); "
                    "walking instead if the listing passes %d",
                    listing,
                    index,
                    2 * index,
                )
            return
        self.logger.info(
            "strategy auto: walking the Hub instead of listing the family: listing ~%d calls or more, the walk ~%d",
            listing,
            index,
        )
        self.mode = INDEX
        listed = self.crawler.stats.get_value("hfspider/listings_read", 0)
        self.crawler.stats.set_value("hfspider/strategy", "listing+index" if listed else INDEX)
        yield from self._walk(None)

    def superseded(self, request: Request) -> bool:
        """Listings and parent calls still queued when the crawl turned to walking the Hub."""
        return self.mode == INDEX and bool(request.meta.get("hf_family"))

    # -- walking the Hub ----------------------------------------------------

    def _walk(self, resume_at: str | None) -> Iterator[Request]:
        """The first page of a walk: a refresh of a fresh stored index, a whole walk, or where an
        unfinished one stopped."""
        _info, refresh_since = self.run.fresh_index()
        if resume_at is not None:
            since = refresh_since if sort_of(resume_at) == SORT_MODIFIED else None
            began = self.run.unfinished[0].started_at
        else:
            since, began = refresh_since, self.run.started_at
        self.run.walk_index(began, full=since is None, keep_all=self.args.keep_all)
        if since is None:
            self.run.sweep_gone(began)
            self.logger.info("walking the whole Hub (about %d calls)", self._index_cost())
        else:
            self.logger.info("refreshing the stored index of the Hub: models modified since %s", since)
        first = resume_at or listing_url(self.hub, [("sort", SORT_MODIFIED if since else SORT_CREATED)])
        self.run.walk_from = first
        if resume_at is not None and self.run.queue_intact:
            return  # a clean pause: JOBDIR's queue holds the next page
        yield self.walk_page(first, since, FIRST_PAGE)

    def idle(self) -> None:
        """When the walk is over: derive the families, keep the rows asked for, feed the members."""
        if self.mode != INDEX or self._walk_done or self.run.index is None:
            return
        self._walk_done = True
        stats = self.crawler.stats
        self.run.flush()
        if stats.get_value("hfspider/failures", 0) or self.run.db_error is not None:
            return  # incomplete: the same command goes on from here
        members = self.run.walk_done()
        self._replay = sorted(members - self._fed)
        self.crawler.engine.crawl(self.replay_request())
        raise DontCloseSpider

    # -- resuming -----------------------------------------------------------

    def _resume(self, roots: Iterable[str]) -> Iterator[Request]:
        """Replay what an unfinished run of this crawl stored, and list what it had not."""
        if self.mode == INDEX:
            return  # the walk's end feeds every member
        plan = self.run.resume_family(list(roots), self.args.spec)
        if plan is None:
            return
        yield self._take_over(plan)
        for model, depth in plan.to_list:
            yield self._listing(model, depth)

    def parse_replay(self, response: Response) -> Iterator[Any]:
        ids, self._replay = self._replay, []
        self._fed.update(ids)
        yield from self.replayed(self.run.replay_members(ids))

    # -- roots -------------------------------------------------------------

    def _top_request(self, wanted: int, url: str, pages: Pages = FIRST_PAGE) -> Request:
        # Read on every run, resumed or not: it is how a resumed crawl learns its roots again.
        meta = {"hf_wanted": wanted, "hf_pages": pages}
        return Request(url, callback=self.parse_top, errback=self.failed, meta=meta, dont_filter=True)

    def _root_request(self, root: str) -> Request | None:
        if root in self._stored_roots and self.args.direction == "down":
            return None
        meta = {"hf_root": root, "handle_httpstatus_list": list(NOT_THERE)}
        url = model_url(self.hub, root, (*EXPAND, "childrenModelCount"))
        return Request(url, callback=self.parse_root, errback=self.failed, meta=meta, dont_filter=True)

    def parse_top(self, response: Response) -> Iterator[Any]:
        records = self.decode(response, list)
        if records is None:
            yield from self.retry_or_fail(response, "top listing is not a JSON list")
            return
        wanted: int = response.meta["hf_wanted"]
        ids = [r["id"] for r in records if isinstance(r, dict) and isinstance(r.get("id"), str)][:wanted]
        new = [root for root in ids if root not in self.run.roots]
        self.run.add_roots(new)
        yield from self._resume(new)
        for root in new:
            request = self._root_request(root)
            if request:
                yield request
        following = follow(self.hub, response.headers, response.meta.get("hf_pages", FIRST_PAGE), len(new), response.url)
        if wanted <= len(ids):
            return
        if following.url:
            yield self._top_request(wanted - len(ids), following.url, following.pages)
        elif following.error:
            yield self.failure(response.request, response.status, following.error)
        else:
            found = self.args.top - (wanted - len(ids))
            self.logger.warning("-a top=%d: the Hub lists only %d models; crawling those", self.args.top, found)

    def _read_model(self, response: Response) -> tuple[ModelItem | None, list[EdgeItem], list[Any]]:
        """A model call's item and edges, or, for a 200 whose body is no record, what to do instead."""
        if response.status != 200:
            return None, [], []
        record = self.decode(response, dict)
        if record is None:
            return None, [], list(self.retry_or_fail(response, "model record is not a JSON object"))
        item, edges = self.items_for(record)
        if item is not None:
            self._fed.add(item.id)
            self._count_children(record)
        return item, edges, []

    def _count_children(self, record: dict[str, Any]) -> None:
        """A root's ``childrenModelCount``, for the relations followed: listings the family will take."""
        counts = record.get("childrenModelCount")
        if isinstance(counts, dict):
            followed = [n for relation, n in counts.items() if self._follows(str(relation)) and isinstance(n, int) and n > 0]
            self._counted += 1 + sum(followed)

    def parse_root(self, response: Response) -> Iterator[Any]:
        root: str = response.meta["hf_root"]
        item, edges, instead = self._read_model(response)
        if instead:
            yield from instead
            return
        if item is None:
            self.crawler.stats.inc_value("hfspider/root_errors")
            self.logger.error("root %s: %s", root, why_missing(response.status))
            return
        if item.id != root:
            self.run.rename_root(root, item.id)
        yield Bundle([item], edges)
        yield from self.about(item)
        if self.args.direction in ("up", "both"):
            yield from self._parents(edges, 1)
        yield from self._maybe_switch()
        if self.args.direction in ("down", "both"):
            yield from self._children(item.id, 0)

    # -- listing -----------------------------------------------------------

    def _parents(self, edges: Iterable[EdgeItem], distance: int) -> Iterator[Request]:
        if self.mode == INDEX or (self.args.max_depth is not None and distance > self.args.max_depth):
            return
        for edge in edges:
            if self._follows(edge.relation) and self._first_or_shorter("up", edge.parent_id, distance):
                request = Request(
                    model_url(self.hub, edge.parent_id),
                    callback=self.parse_parent,
                    errback=self.failed,
                    meta={"hf_model": edge.parent_id, "hf_depth": distance, "hf_family": True, "handle_httpstatus_list": list(NOT_THERE)},
                    dont_filter=True,
                )
                yield self.first_visit(request, "up", edge.parent_id, self._limited(distance))

    def _children(self, model: str, depth: int) -> Iterator[Request]:
        if self.mode == INDEX or (self.args.max_depth is not None and depth >= self.args.max_depth):
            return
        if self._first_or_shorter("down", model, depth):
            yield self.first_visit(self._listing(model, depth), "down", model, self._limited(depth))

    def _limited(self, depth: int) -> int | None:
        """The depth a first visit is deduplicated by: only a depth limit makes a shorter path matter."""
        return depth if self.args.max_depth is not None else None

    def lost_work(self, roots: Iterable[str], listings: Iterable[tuple[str, int]]) -> Iterator[Request]:
        """Requests again for what a shared crawl lost with a worker that died: roots never stored,
        listings never completed (the database says which)."""
        for root in roots:
            request = self._root_request(root)
            if request:
                yield request
        for model, depth in listings:
            yield self._listing(model, depth)

    @property
    def _only(self) -> str | None:
        """The relation a listing is filtered to, when only one is followed."""
        return self.args.relations[0] if len(self.args.relations) == 1 else None

    def _listing(
        self, model: str, depth: int, url: str | None = None, pages: Pages = FIRST_PAGE, seen: frozenset[str] = frozenset()
    ) -> Request:
        return Request(
            url or children_url(self.hub, model, self._only),
            callback=self.parse_children,
            errback=self.failed,
            meta={"hf_model": model, "hf_depth": depth, "hf_pages": pages, "hf_seen": seen, "hf_family": True},
            dont_filter=True,
        )

    def parse_parent(self, response: Response) -> Iterator[Any]:
        model: str = response.meta["hf_model"]
        distance: int = response.meta["hf_depth"]
        item, edges, instead = self._read_model(response)
        if instead:
            yield from instead
            return
        if item is None:
            self.crawler.stats.inc_value("hfspider/missing_parents")
            self.logger.info("parent %s is not on the Hub (HTTP %s); its branch ends there", model, response.status)
            return
        yield Bundle([item], edges)
        yield from self.about(item)
        yield from self._parents(edges, distance + 1)
        if self.args.direction == "both":
            yield from self._children(item.id, -distance)

    def parse_children(self, response: Response) -> Iterator[Any]:
        parent: str = response.meta["hf_model"]
        depth: int = response.meta["hf_depth"]
        records = self.decode(response, list)
        if records is None:
            yield from self.retry_or_fail(response, "listing is not a JSON list")
            return
        self.crawler.stats.inc_value("hfspider/listings_read")
        shown: set[str] = set()
        bundle = Bundle()
        stamp = fetched_at()
        for record in records:
            item, edges = self.items_for(record, stamp)
            if item is None:
                continue
            if item.id.lower() == parent.lower():
                self.crawler.stats.inc_value("hfspider/self_loops")
                continue
            shown.add(item.id)
            link = [e for e in edges if e.parent_id.lower() == parent.lower()]
            if not link:
                # The Hub listed it under this parent, so the edge is real even if its tags disagree.
                link = [EdgeItem(item.id, parent, UNKNOWN, SOURCE_LISTING)]
                edges.append(link[0])
            if not self._follows(link[0].relation):
                continue
            self._fed.add(item.id)
            bundle.add(item, edges)
            yield from self.about(item)
            yield from self._children(item.id, depth + 1)
        if bundle.models:
            yield bundle  # before the listing's mark: the store writes them in one transaction, or the mark waits
        seen: frozenset[str] = response.meta["hf_seen"]
        following = follow(self.hub, response.headers, response.meta["hf_pages"], len(shown - seen), response.url)
        if following.error:
            yield self.failure(response.request, response.status, following.error)
        elif following.url:
            self.crawler.stats.inc_value("hfspider/listing_pages")
            yield self._listing(parent, depth, following.url, following.pages, seen | shown)
        else:
            yield Listed(parent, self._only, seen | shown)
        yield from self._maybe_switch()
