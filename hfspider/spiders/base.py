"""What every hfspider spider shares: the Hub's address, its run, decoding answers, retries and failures."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
import scrapy
from scrapy import Request
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.http import Response
from twisted.python.failure import Failure

from hfspider.arguments import Extras
from hfspider.db import now
from hfspider.extensions.crawlrun import CrawlRun
from hfspider.hub.endpoint import endpoint, is_repo_id
from hfspider.hub.pages import card_url, spaces_url
from hfspider.hub.paging import FIRST_PAGE, follow
from hfspider.hub.records import edge_items, model_item
from hfspider.hub.status import NOT_THERE
from hfspider.items import CardItem, EdgeItem, LinksItem, ModelItem
from hfspider.marks import Failed
from hfspider.middlewares.superseded import Superseded
from hfspider.secrets import mask_card

#: Meta key of a request that visits a model for the first time: (walk, model, depth, or None when
#: no depth limit makes a shorter path matter). A scheduler shared by many workers deduplicates by it.
VISIT = "hf_visit"


class HubSpider(scrapy.Spider):
    """Base for spiders that read ``/api/models``; subclasses set ``args`` to their parsed arguments (a dataclass)."""

    args: Any = None
    extras: Extras = Extras()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._about: set[str] = set()  # models whose card and Spaces are asked for

    @property
    def hub(self) -> str:
        """The Hub base URL, read once per crawl."""
        if not hasattr(self, "_hub"):
            self._hub = endpoint(self.settings.get("HF_ENDPOINT"))
        return self._hub

    @property
    def run(self) -> CrawlRun:
        """This crawl's run: its key, resume plan and bookkeeping."""
        return CrawlRun.of(self.crawler)

    def decode(self, response: Response, expected: type) -> Any:
        """The JSON body, or None when it is not JSON of the expected type."""
        try:
            data = orjson.loads(response.body)  # a page of 1,000 models in half the standard library's time
        except orjson.JSONDecodeError:
            try:  # what orjson refuses and JSON allows or Python reads: NaN, integers past 64 bits, lone surrogates
                data = json.loads(response.body)
            except (ValueError, UnicodeDecodeError):
                return None
        return data if isinstance(data, expected) else None

    def retry_or_fail(self, response: Response, reason: str) -> Iterator[Request | Failed]:
        """A 200 with an unusable body is a fault like a 503: retried, then recorded."""
        self.crawler.stats.inc_value("hfspider/bad_body")
        retry = get_retry_request(response.request, spider=self, reason=reason)
        yield retry if retry is not None else self.pass_again_or_fail(response.request, response.status, reason)

    def failure(self, request: Request, status: int | None, error: str) -> Failed:
        """Give up on a request: written to ``failures`` with the rest of its batch, retried by the next run."""
        self.crawler.stats.inc_value("hfspider/failures")
        self.logger.error("gave up on %s after retries: %s", request.url, error)
        return Failed(request.url, request.meta.get("hf_model") or request.meta.get("hf_root"), status, error)

    def pass_again_or_fail(self, request: Request, status: int | None, error: str) -> Request | Failed:
        """A request whose retries ran out goes round again later in the run, after the others, before
        it is given up on: a Hub that was down for a minute costs nothing. A 4xx other than 408 and
        429 is an answer, not a fault, and final at once."""
        done = int(request.meta.get("hf_pass", 0))
        answered = status is not None and 400 <= status < 500 and status not in (408, 429)
        if answered or done >= self.settings.getint("HFSPIDER_RETRY_PASSES"):
            return self.failure(request, status, error)
        self.crawler.stats.inc_value("hfspider/retry_passes")
        delay = self.settings.getfloat("HFSPIDER_RETRY_PASS_DELAY") * (done + 1)
        self.logger.info("%s still failed after retries (%s); asking again in %.0f s, after the rest", request.url, error, delay)
        # Only our own keys: Scrapy's (retry_times, download_latency, ...) belong to the last try.
        meta = {k: v for k, v in request.meta.items() if k.startswith("hf_") or k == "handle_httpstatus_list"}
        meta |= {"hf_pass": done + 1, "hf_not_before": time.time() + delay}
        return request.replace(meta=meta, priority=request.priority - 1000, dont_filter=True)

    def failed(self, failure: Failure) -> Iterator[Request | Failed]:
        """Errback: a request that still fails after RetryMiddleware goes round again, then is written down, not lost."""
        request: Request = failure.request  # type: ignore[attr-defined]
        if failure.check(Superseded):
            return
        response = getattr(failure.value, "response", None)
        status = response.status if response is not None else None
        yield self.pass_again_or_fail(request, status, f"{type(failure.value).__name__}: {failure.getErrorMessage()}")

    def first_visit(self, request: Request, walk: str, model: str, depth: int | None) -> Request:
        """Mark ``request`` as the first visit of ``model`` on this walk (see ``VISIT``)."""
        request.meta[VISIT] = (walk, model, depth)
        return request

    def replay_request(self) -> Request:
        """A local ``data:`` request whose callback replays stored items.

        Items yielded straight from ``start()`` keep Scrapy 2.19 from closing
        on Ctrl-C while they are processed; from a callback they do not.
        """
        return Request("data:,replay", callback=self.parse_replay, dont_filter=True, priority=1000)

    def parse_replay(self, response: Response) -> Iterator[Any]:
        raise NotImplementedError

    def replayed(self, items: Iterable[Any]) -> Iterator[Any]:
        """Stored items replayed for the feeds, and the cards and Spaces that the unfinished run had not stored for them."""
        ids: list[str] = []
        for item in items:
            if isinstance(item, ModelItem):
                ids.append(item.id)
            yield item
        if not (self.extras.cards or self.extras.spaces) or not ids:
            return
        done = set(ids)
        if self.extras.cards:
            done &= self.run.db.with_rows("cards", ids)
        if self.extras.spaces:
            done &= self.run.db.with_rows("links", ids, "space")
        self._about |= done
        for model in ids:
            yield from self.about(ModelItem(model))

    def items_for(self, record: Any, stamp: str | None = None) -> tuple[ModelItem | None, list[EdgeItem]]:
        """A record's model item and parent edges; (None, []) for a record without an id.
        ``stamp`` is its ``fetched_at``, shared by the records of one answer."""
        item = model_item(record, stamp) if isinstance(record, dict) else None
        if item is None or not is_repo_id(item.id.strip()):
            self.crawler.stats.inc_value("hfspider/bad_record")
            return None, []
        return item, edge_items(record)

    # -- cards=1, spaces=1 ----------------------------------------------------------

    def about(self, item: ModelItem) -> Iterator[Request]:
        """The card and Spaces requests ``cards=1`` and ``spaces=1`` ask for, once per model and run."""
        if not (self.extras.cards or self.extras.spaces) or item.id in self._about:
            return
        self._about.add(item.id)
        if self.extras.cards:
            meta = {"hf_model": item.id, "handle_httpstatus_list": list(NOT_THERE)}
            yield Request(card_url(self.hub, item.id), callback=self.parse_card, errback=self.failed, meta=meta, dont_filter=True)
        if self.extras.spaces:
            yield self._spaces(item.id, spaces_url(self.hub, item.id))

    def _spaces(self, model: str, url: str, pages: Any = FIRST_PAGE, found: tuple[str, ...] = ()) -> Request:
        meta = {"hf_model": model, "hf_pages": pages, "hf_found": found}
        return Request(url, callback=self.parse_spaces, errback=self.failed, meta=meta, dont_filter=True)

    def parse_card(self, response: Response) -> Iterator[Any]:
        """A card's text, secrets masked before it goes anywhere; 404 (no card) and 401/403 (gated,
        private) are answers, stored as a row without text."""
        model: str = response.meta["hf_model"]
        self.crawler.stats.inc_value(f"hfspider/cards/{response.status}")
        if response.status in NOT_THERE:
            yield CardItem(model, None, None, response.status, now())
            return
        text = mask_card(response.body.decode("utf-8", "replace"))
        yield CardItem(model, text, len(text), response.status, now())

    def parse_spaces(self, response: Response) -> Iterator[Any]:
        """A page of ``/api/spaces?models=ID``; the whole list, once its last page is read, replaces the stored one."""
        records = self.decode(response, list)
        if records is None:
            yield from self.retry_or_fail(response, "Spaces listing is not a JSON list")
            return
        model: str = response.meta["hf_model"]
        found: tuple[str, ...] = response.meta["hf_found"]
        ids = [r["id"] for r in records if isinstance(r, dict) and isinstance(r.get("id"), str) and is_repo_id(r["id"])]
        new = tuple(dict.fromkeys(i for i in ids if i not in found))
        following = follow(self.hub, response.headers, response.meta["hf_pages"], len(new), response.url, path="/api/spaces")
        if following.error:
            yield self.failure(response.request, response.status, following.error)
        elif following.url:
            yield self._spaces(model, following.url, following.pages, found + new)
        else:
            yield LinksItem(model, {"space": list(found + new)}, complete=("space",))
