"""``scrapy crawl model_tree -a root=ORG/NAME``: a model's whole family, down and/or up."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from scrapy import Request
from scrapy.http import Response

from hfspider.arguments import TreeArguments
from hfspider.hub.endpoint import PAGE_SIZE, children_url, listing_url, model_url, next_link
from hfspider.hub.lineage import SOURCE_LISTING, UNKNOWN
from hfspider.items import EdgeItem
from hfspider.spiders.base import HubSpider

#: Statuses the Hub uses for a model we cannot see; they are answers, not faults.
NOT_THERE = [401, 403, 404]

_ROOT_ERRORS = {
    401: "not found on the Hub, or private: check the spelling (ORG/NAME), or set HF_TOKEN to a token that can read it",
    403: "disabled on the Hub: it cannot be crawled",
    404: "not found on the Hub: check the spelling (ORG/NAME)",
}


class ModelTreeSpider(HubSpider):
    """Lists every model below (and, with ``direction``, above) the roots.

    Depth here only steers ``max_depth``: the stored tree is derived from the
    stored edges when the crawl closes, since concurrent crawling is not
    breadth-first and merges give a model several paths.
    """

    name = "model_tree"

    @classmethod
    def check_arguments(cls, kwargs: dict[str, Any]) -> None:
        """Raise ``ArgumentError`` for bad ``-a`` arguments, before a crawl is set up."""
        TreeArguments.parse(kwargs)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = TreeArguments.parse(kwargs)
        super().__init__()
        #: Roots as the Hub spells them, once their records arrive.
        self.roots: list[str] = list(self.args.roots)
        self._best: dict[tuple[str, str], int] = {}

    async def start(self) -> AsyncIterator[Request]:
        if self.args.top:
            yield self._top_request(
                self.args.top, listing_url(self.hub, [("sort", "likes")], expand=("likes",), limit=min(self.args.top, PAGE_SIZE))
            )
        for root in self.args.roots:
            yield self._root_request(root)

    # -- roots -------------------------------------------------------------

    def _top_request(self, wanted: int, url: str) -> Request:
        # Re-read on every resume: it is how a resumed crawl learns its roots again.
        return Request(url, callback=self.parse_top, meta={"hf_wanted": wanted}, dont_filter=True)

    def _root_request(self, root: str) -> Request:
        return Request(model_url(self.hub, root), callback=self.parse_root, meta={"hf_root": root, "handle_httpstatus_list": NOT_THERE})

    def parse_top(self, response: Response) -> Iterator[Request]:
        records = self.decode(response, list) or []
        wanted: int = response.meta["hf_wanted"]
        ids = [r["id"] for r in records if isinstance(r, dict) and isinstance(r.get("id"), str)][:wanted]
        for root in ids:
            if root not in self.roots:
                self.roots.append(root)
            yield self._root_request(root)
        following = next_link(response.headers)
        if following and wanted > len(ids):
            yield self._top_request(wanted - len(ids), following)

    def parse_root(self, response: Response) -> Iterator[Any]:
        root: str = response.meta["hf_root"]
        record = self.decode(response, dict) if response.status == 200 else None
        item, edges = self.items_for(record) if record is not None else (None, [])
        if item is None:
            self.crawler.stats.inc_value("hfspider/root_errors")
            reason = _ROOT_ERRORS.get(response.status, f"the Hub answered HTTP {response.status} without a usable record")
            self.logger.error("root %s: %s", root, reason)
            return
        if item.id != root:
            self.roots = [item.id if r == root else r for r in self.roots]
        yield item
        yield from edges
        if self.args.direction in ("up", "both"):
            yield from self._parents(edges, 1)
        if self.args.direction in ("down", "both"):
            yield from self._children(item.id, 0)

    # -- walking -----------------------------------------------------------

    def _follows(self, relation: str) -> bool:
        return relation in self.args.relations or (relation == UNKNOWN and self.args.all_relations)

    def _revisit(self, walk: str, model: str, depth: int) -> bool | None:
        """None: nothing to schedule; else whether it is a revisit at a shorter distance.

        Revisits matter only under ``max_depth``: a shorter path can bring more of
        the family within the limit.
        """
        key = (walk, model)
        best = self._best.get(key)
        if best is not None and (self.args.max_depth is None or depth >= best):
            return None
        self._best[key] = depth
        return best is not None

    def _parents(self, edges: Iterable[EdgeItem], distance: int) -> Iterator[Request]:
        if self.args.max_depth is not None and distance > self.args.max_depth:
            return
        for edge in edges:
            if not self._follows(edge.relation):
                continue
            revisit = self._revisit("up", edge.parent_id, distance)
            if revisit is not None:
                yield Request(
                    model_url(self.hub, edge.parent_id),
                    callback=self.parse_parent,
                    meta={"hf_model": edge.parent_id, "hf_depth": distance, "handle_httpstatus_list": NOT_THERE},
                    dont_filter=revisit,
                )

    def _children(self, model: str, depth: int) -> Iterator[Request]:
        if self.args.max_depth is not None and depth >= self.args.max_depth:
            return
        revisit = self._revisit("down", model, depth)
        if revisit is not None:
            only = self.args.relations[0] if len(self.args.relations) == 1 else None
            yield Request(
                children_url(self.hub, model, only),
                callback=self.parse_children,
                meta={"hf_model": model, "hf_depth": depth},
                dont_filter=revisit,
            )

    def parse_parent(self, response: Response) -> Iterator[Any]:
        model: str = response.meta["hf_model"]
        distance: int = response.meta["hf_depth"]
        record = self.decode(response, dict) if response.status == 200 else None
        item, edges = self.items_for(record) if record is not None else (None, [])
        if item is None:
            self.crawler.stats.inc_value("hfspider/missing_parents")
            self.logger.info("parent %s is not on the Hub (HTTP %s); its branch ends there", model, response.status)
            return
        yield item
        yield from edges
        yield from self._parents(edges, distance + 1)
        if self.args.direction == "both":
            yield from self._children(item.id, -distance)

    def parse_children(self, response: Response) -> Iterator[Any]:
        parent: str = response.meta["hf_model"]
        depth: int = response.meta["hf_depth"]
        for record in self.decode(response, list) or []:
            item, edges = self.items_for(record)
            if item is None:
                continue
            if item.id.lower() == parent.lower():
                self.crawler.stats.inc_value("hfspider/self_loops")
                continue
            link = [e for e in edges if e.parent_id.lower() == parent.lower()]
            if not link:
                # The Hub listed it under this parent, so the edge is real even if its tags disagree.
                link = [EdgeItem(item.id, parent, UNKNOWN, SOURCE_LISTING)]
                edges.append(link[0])
            if not self._follows(link[0].relation):
                continue
            yield item
            yield from edges
            yield from self._children(item.id, depth + 1)
        following = next_link(response.headers)
        if following:
            yield Request(
                following,
                callback=self.parse_children,
                meta={"hf_model": parent, "hf_depth": depth},
                dont_filter=response.request.dont_filter,
            )
