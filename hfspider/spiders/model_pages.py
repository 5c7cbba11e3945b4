"""``scrapy crawl model_pages -a root=ORG/NAME``: a model's family through the Hub's website alone.

Model page -> its Model tree panel's ``/models?other=base_model:R:ID`` links ->
listing pages, 30 models a page -> each child's page, and so on down. Each page
gives the model's record (its hydrated ``ModelHeader`` props, stored as an API
record is, edges from its tags) and what only the website shows: the panel's
counts, the Spaces, datasets, papers and collections around the model. A
relation with more children than the website lists (100 pages) is listed
through the API instead. Same database, tree members, feeds and tree files as
``model_tree``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.settings import BaseSettings
from twisted.python.failure import Failure

from hfspider.arguments import Extras, TreeArguments
from hfspider.db import now
from hfspider.hub.endpoint import children_url
from hfspider.hub.lineage import SOURCE_LISTING, UNKNOWN
from hfspider.hub.pages import (
    LISTING_PAGE_CAP,
    LISTING_PAGE_SIZE,
    ModelPage,
    over_cap,
    page_url,
    read_model_page,
    read_web_listing,
    web_listing_url,
)
from hfspider.hub.paging import FIRST_PAGE, Pages, follow
from hfspider.hub.status import NOT_THERE, why_missing
from hfspider.items import EdgeItem, LinksItem, PageFactsItem
from hfspider.marks import Failed, Listed
from hfspider.render import configure, rendered
from hfspider.spiders.base import HubSpider
from hfspider.spiders.family import FamilySteps

#: page_facts columns by relation.
COLUMNS = {"finetune": "finetunes", "adapter": "adapters", "quantized": "quantizations", "merge": "merges"}


@dataclass
class _Family:
    """A parent whose children are being listed: it is marked listed once every listing is read and
    every child shown has its page stored, so a killed crawl never loses a child."""

    depth: int
    marks: tuple[str | None, ...]  # the Listed marks it will get: one per relation, or None for all at once
    open: set[str | None] = field(default_factory=set)  # listings under way
    shown: dict[str | None, set[str]] = field(default_factory=lambda: defaultdict(set))
    waiting: set[str] = field(default_factory=set)  # children whose page is not stored yet
    failed: bool = False
    marked: bool = False


def _html(response: Response) -> str:
    """A page's text; a page served as something other than text (a proxy's answer) is read as UTF-8 too."""
    return response.text if isinstance(response, TextResponse) else response.body.decode("utf-8", "replace")


class ModelPagesSpider(FamilySteps, HubSpider):
    """Walks the website like ``model_tree`` walks the API: same arguments, same family.

    Pages are deduplicated here by model (``_pages``) and by model and distance
    (``_best``, as in ``model_tree``), so a shorter path can still extend a
    ``max_depth`` crawl; what a page's panel showed is kept, so reaching a
    model again lists its children without asking for its page again.
    """

    name = "model_pages"

    @classmethod
    def check_arguments(cls, kwargs: dict[str, Any]) -> None:
        TreeArguments.parse(kwargs, cls.name)
        Extras.parse(kwargs)

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        configure(settings)  # type: ignore[arg-type]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = TreeArguments.parse(kwargs, self.name)
        self.extras = Extras.parse(kwargs)
        super().__init__()
        self._best: dict[tuple[str, str], int] = {}
        self._visits: Counter[str] = Counter()
        self._stored_roots: set[str] = set()
        self._replay: list[str] = []
        self._pages: dict[str, str] = {}  # model -> "pending", "done" or "failed"
        self._panels: dict[str, dict[str, int] | None] = {}  # model -> its panel's children counts (None: not seen)
        self._parents_read: dict[str, set[str]] = {}  # model -> its parents (lower case), from its page
        self._families: dict[str, _Family] = {}
        self._waiters: dict[str, dict[str, str | None]] = defaultdict(dict)  # child -> {parent: relation listed under}

    @property
    def _render(self) -> str:
        return str(self.settings.get("HFSPIDER_RENDER"))

    async def start(self) -> AsyncIterator[Any]:
        self.run.write_trees_for(list(self.args.roots), self.args.spec)
        if self.args.top:
            yield self._top_request(self.args.top, 0)
        for request in self._resume(self.args.roots):
            yield request
        for root in self.args.roots:
            request = self._root_request(root)
            if request:
                yield request

    def _resume(self, roots: Iterable[str]) -> Iterator[Request]:
        """Replay what an unfinished run of this crawl stored, and read again the pages of models whose
        children it had not listed in full."""
        plan = self.run.resume_family(list(roots), self.args.spec)
        if plan is None:
            return
        yield self._take_over(plan)
        for model in plan.depth:
            self._pages.setdefault(model, "done")
        for model, depth in plan.to_list:
            self._pages[model] = "pending"
            yield self._page(model, "child", depth)

    def parse_replay(self, response: Response) -> Iterator[Any]:
        ids, self._replay = self._replay, []
        yield from self.replayed(self.run.replay_members(ids))

    # -- requests ------------------------------------------------------------------

    def _page(self, model: str, role: str, depth: int, render: bool = False) -> Request:
        meta = {"hf_model": model, "hf_role": role, "hf_depth": depth, "handle_httpstatus_list": list(NOT_THERE)}
        if render or self._render == "always":
            meta = rendered(meta, self.settings.getfloat("HFSPIDER_RENDER_TIMEOUT"))
        return Request(page_url(self.hub, model), callback=self.parse_page, errback=self.page_failed, meta=meta, dont_filter=True)

    def _root_request(self, root: str) -> Request | None:
        if root in self._stored_roots and self.args.direction == "down":
            return None
        self._pages.setdefault(root, "pending")
        return self._page(root, "root", 0)

    def _top_request(self, wanted: int, page: int) -> Request:
        meta = {"hf_wanted": wanted, "hf_page": page}
        url = web_listing_url(self.hub, None, None, page)
        return Request(url, callback=self.parse_top, errback=self.failed, meta=meta, dont_filter=True)

    def _web_listing(self, parent: str, relation: str | None, page: int = 0) -> Request:
        meta = {"hf_model": parent, "hf_relation": relation, "hf_page": page}
        if self._render == "always":
            meta = rendered(meta, self.settings.getfloat("HFSPIDER_RENDER_TIMEOUT"))
        url = web_listing_url(self.hub, parent, relation, page)
        return Request(url, callback=self.parse_listing, errback=self.listing_failed, meta=meta, dont_filter=True)

    def _api_listing(self, parent: str, relation: str | None, url: str | None = None, pages: Pages = FIRST_PAGE) -> Request:
        meta = {"hf_model": parent, "hf_relation": relation, "hf_pages": pages}
        return Request(
            url or children_url(self.hub, parent, relation),
            callback=self.parse_api_listing,
            errback=self.listing_failed,
            meta=meta,
            dont_filter=True,
        )

    # -- model pages ---------------------------------------------------------------

    def parse_page(self, response: Response) -> Iterator[Any]:
        model: str = response.meta["hf_model"]
        role: str = response.meta["hf_role"]
        depth: int = response.meta["hf_depth"]
        if response.status in NOT_THERE:
            yield from self._not_there(model, role, response.status)
            return
        page = read_model_page(_html(response))
        item, edges = self.items_for(page.record) if page.record is not None else (None, [])
        if item is None:
            yield from self._settle(model, self.retry_or_fail(response, "model page without a model record in its ModelHeader props"))
            return
        if page.unseen and self._render == "auto" and not response.meta.get("playwright"):
            self.crawler.stats.inc_value("hfspider/rendered_pages")
            yield self._page(model, role, depth, render=True)
            return
        if page.unseen:
            if not self.crawler.stats.get_value("hfspider/unseen_sections"):
                shown = ", ".join(page.unseen)
                self.logger.warning(
                    "%s: the page leaves %s to a browser; recorded as unseen in page_facts (pages like it are counted in "
                    "hfspider/unseen_sections; HFSPIDER_RENDER=auto reads them)",
                    item.id,
                    shown,
                )
            self.crawler.stats.inc_value("hfspider/unseen_sections", len(page.unseen))
        if role == "root" and item.id != model:
            self.run.rename_root(model, item.id)
        yield item
        yield from edges
        yield self._facts(item.id, page)
        yield self._links(item.id, page)
        yield from self.about(item)
        self._panels[item.id] = None if "ModelTree" in page.unseen else page.children
        if role == "root":
            if self.args.direction in ("up", "both"):
                yield from self._parents(edges, 1)
            if self.args.direction in ("down", "both"):
                self._first_or_shorter("down", item.id, 0)
        elif role == "parent":
            yield from self._parents(edges, depth + 1)
            if self.args.direction == "both":
                self._first_or_shorter("down", item.id, -depth)
        down = self._best.get(("down", item.id), self._best.get(("down", model)))
        if down is not None:
            yield from self._list_children(item.id, down)
        yield from self._page_done(model, item.id, edges)

    def _not_there(self, model: str, role: str, status: int) -> Iterator[Any]:
        if role == "root":
            self.crawler.stats.inc_value("hfspider/root_errors")
            self.logger.error("root %s: %s", model, why_missing(status))
        elif role == "parent":
            self.crawler.stats.inc_value("hfspider/missing_parents")
            self.logger.info("parent %s is not on the Hub (HTTP %s); its branch ends there", model, status)
        else:
            self.crawler.stats.inc_value("hfspider/missing_children")
            self.logger.info("%s was listed but its page answers HTTP %s; left out", model, status)
        yield from self._page_done(model, model, None)

    def _facts(self, model: str, page: ModelPage) -> PageFactsItem:
        tree_seen = "ModelTree" not in page.unseen
        counts = {column: page.children.get(relation) if tree_seen else None for relation, column in COLUMNS.items()}
        spaces = page.spaces_count if "SpacesList" not in page.unseen else None
        return PageFactsItem(model, now(), spaces=spaces, unseen=",".join(page.unseen) or None, **counts)

    @staticmethod
    def _links(model: str, page: ModelPage) -> LinksItem:
        """The page's links; its Spaces are the whole list only when it shows them all."""
        kinds = ["dataset", "paper", "collection"]
        if "SpacesList" not in page.unseen:
            kinds.append("space")
        targets = {kind: page.links.get(kind, []) for kind in kinds}
        whole = [kind for kind in kinds if kind != "space" or len(targets["space"]) >= (page.spaces_count or 0)]
        return LinksItem(model, targets, complete=tuple(whole))

    def parse_top(self, response: Response) -> Iterator[Any]:
        listing = read_web_listing(_html(response))
        wanted: int = response.meta["hf_wanted"]
        page: int = response.meta["hf_page"]
        ids = listing.ids[:wanted]
        new = [root for root in ids if root not in self.run.roots]
        self.run.add_roots(new)
        yield from self._resume(new)
        for root in new:
            request = self._root_request(root)
            if request:
                yield request
        if wanted <= len(ids):
            return
        if listing.ids and page + 1 < LISTING_PAGE_CAP:
            yield self._top_request(wanted - len(ids), page + 1)
        else:
            found = self.args.top - (wanted - len(ids))
            self.logger.warning("-a top=%d: the website lists only %d models; crawling those", self.args.top, found)

    # -- walking -----------------------------------------------------------------

    def _parents(self, edges: Iterable[EdgeItem], distance: int) -> Iterator[Request]:
        if self.args.max_depth is not None and distance > self.args.max_depth:
            return
        for edge in edges:
            if self._follows(edge.relation) and self._first_or_shorter("up", edge.parent_id, distance):
                yield self._page(edge.parent_id, "parent", distance)

    def _list_children(self, model: str, depth: int) -> Iterator[Any]:
        """List a model's children: one web listing per relation its panel shows; every followed
        relation when the panel was not seen."""
        if self.args.max_depth is not None and depth >= self.args.max_depth:
            return
        family = self._families.get(model)
        if family is not None:
            if depth < family.depth:  # a shorter path: the children are nearer too
                family.depth = depth
                for relation, children in family.shown.items():
                    for child in sorted(children):
                        yield from self._reach(child, depth + 1, model, relation)
            return
        panel = self._panels.get(model)
        followed = tuple(sorted(self.args.relations))
        if panel is None:
            listings: tuple[str | None, ...] = (None,) if self.args.all_relations else followed
            marks = listings
        else:
            listings = tuple(r for r in followed if panel.get(r))
            marks = followed
        family = self._families[model] = _Family(depth, marks, set(listings))
        for relation in listings:
            if panel and relation and panel.get(relation, 0) > LISTING_PAGE_SIZE * LISTING_PAGE_CAP:
                yield from self._through_api(model, relation, panel[relation])  # the panel says the website cannot list them all
            else:
                yield self._web_listing(model, relation)
        yield from self._complete(model)

    def _reach(self, child: str, depth: int, parent: str, relation: str | None) -> Iterator[Any]:
        """A child shown under ``parent``: wait for its page (asking for it if new), then list its own children."""
        family = self._families[parent]
        family.shown[relation].add(child)
        state = self._pages.get(child)
        if state == "failed":
            family.failed = True
        elif state == "done":
            read = self._parents_read.get(child)
            if read is not None and parent.lower() not in read:
                yield EdgeItem(child, parent, relation or UNKNOWN, SOURCE_LISTING)
        else:
            family.waiting.add(child)
            self._waiters[child][parent] = relation
        if not self._first_or_shorter("down", child, depth):
            return
        if state == "done":
            yield from self._list_children(child, depth)
        elif state is None:
            self._pages[child] = "pending"
            yield self._page(child, "child", depth)

    def _page_done(self, requested: str, model: str, edges: list[EdgeItem] | None) -> Iterator[Any]:
        """A page is stored (``edges``: its parents) or gone from the Hub (None): parents waiting for it may be complete now."""
        read = {edge.parent_id.lower() for edge in edges or ()}
        if edges is not None:
            self._parents_read[model] = read
        for name in dict.fromkeys((requested, model)):
            self._pages[name] = "done"
            for parent, relation in self._waiters.pop(name, {}).items():
                if edges is not None and parent.lower() not in read:
                    # The website listed it under this parent, so the edge is real even if its tags disagree.
                    yield EdgeItem(model, parent, relation or UNKNOWN, SOURCE_LISTING)
                self._families[parent].waiting.discard(name)
                yield from self._complete(parent)

    def _complete(self, parent: str) -> Iterator[Listed]:
        family = self._families[parent]
        if family.open or family.waiting or family.failed or family.marked:
            return
        family.marked = True
        for relation in family.marks:
            yield Listed(parent, relation, frozenset(family.shown.get(relation, ())))

    # -- listings ----------------------------------------------------------------

    def parse_listing(self, response: Response) -> Iterator[Any]:
        parent: str = response.meta["hf_model"]
        relation: str | None = response.meta["hf_relation"]
        page: int = response.meta["hf_page"]
        listing = read_web_listing(_html(response))
        if listing.total is None and not listing.ids:
            yield from self._settle_listing(parent, self.retry_or_fail(response, "listing page without models or ModelList props"))
            return
        if page == 0 and over_cap(listing):
            yield from self._through_api(parent, relation, listing.total)
            return
        family = self._families[parent]
        for child in listing.ids:
            if child.lower() == parent.lower():
                self.crawler.stats.inc_value("hfspider/self_loops")
                continue
            yield from self._reach(child, family.depth + 1, parent, relation)
        pages = listing.pages
        last_shown = page + 1 >= LISTING_PAGE_CAP
        if listing.ids and (pages is None or page + 1 < pages or (last_shown and len(listing.ids) >= listing.per_page)):
            if not last_shown:
                yield self._web_listing(parent, relation, page + 1)
            else:  # a full last page: whatever the total says, the website may hold back more
                yield from self._through_api(parent, relation, listing.total)
        elif not listing.ids and pages is not None and page < pages:
            yield from self._through_api(parent, relation, listing.total)  # the website stopped short of its own total
        else:
            family.open.discard(relation)
            yield from self._complete(parent)

    def _through_api(self, parent: str, relation: str | None, total: int | None) -> Iterator[Request]:
        self.crawler.stats.inc_value("hfspider/api_listings")
        if total is None:
            self.logger.info("the website will not list the %s children of %s; listing them through the API", relation or "", parent)
        else:
            self.logger.info(
                "%s has %s %s children, more than the website lists (%d pages); listing them through the API",
                parent,
                f"{total:,}",
                relation or "",
                LISTING_PAGE_CAP,
            )
        yield self._api_listing(parent, relation)

    def parse_api_listing(self, response: Response) -> Iterator[Any]:
        parent: str = response.meta["hf_model"]
        relation: str | None = response.meta["hf_relation"]
        records = self.decode(response, list)
        if records is None:
            yield from self._settle_listing(parent, self.retry_or_fail(response, "listing is not a JSON list"))
            return
        family = self._families[parent]
        shown = [r["id"] for r in records if isinstance(r, dict) and isinstance(r.get("id"), str) and r["id"].lower() != parent.lower()]
        new = [child for child in shown if child not in family.shown[relation]]
        for child in new:
            yield from self._reach(child, family.depth + 1, parent, relation)
        following = follow(self.hub, response.headers, response.meta["hf_pages"], len(new), response.url)
        if following.error:
            yield from self._settle_listing(parent, [self.failure(response.request, response.status, following.error)])
        elif following.url:
            yield self._api_listing(parent, relation, following.url, following.pages)
        else:
            family.open.discard(relation)
            yield from self._complete(parent)

    # -- failures ----------------------------------------------------------------

    def page_failed(self, failure: Failure) -> Iterator[Any]:
        request: Request = failure.request  # type: ignore[attr-defined]
        model: str = request.meta["hf_model"]
        if failure.check(IgnoreRequest):  # robots.txt forbids the page: an answer, not a fault
            self.crawler.stats.inc_value("hfspider/robots_forbidden")
            self.logger.warning("robots.txt forbids the page of %s; left out", model)
            yield from self._page_done(model, model, None)
            return
        yield from self._settle(model, self.failed(failure))

    def listing_failed(self, failure: Failure) -> Iterator[Any]:
        request: Request = failure.request  # type: ignore[attr-defined]
        parent: str = request.meta["hf_model"]
        if failure.check(IgnoreRequest) and request.meta.get("hf_page") is not None:  # robots.txt forbids the listing page
            yield from self._through_api(parent, request.meta["hf_relation"], None)
            return
        yield from self._settle_listing(parent, self.failed(failure))

    def _settle(self, model: str, outcome: Iterable[Any]) -> Iterator[Any]:
        """A page given up on: the parents waiting for it are not marked listed, so a rerun reads them again."""
        for out in outcome:
            if isinstance(out, Failed):
                self._pages[model] = "failed"
                for parent in self._waiters.pop(model, {}):
                    self._families[parent].failed = True
            yield out

    def _settle_listing(self, parent: str, outcome: Iterable[Any]) -> Iterator[Any]:
        for out in outcome:
            if isinstance(out, Failed) and parent in self._families:
                self._families[parent].failed = True
            yield out
