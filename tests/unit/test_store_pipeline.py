"""StorePipeline on a temporary SQLite: batched writes, marks recorded and dropped, edges replaced, a database failure stops writing."""

from __future__ import annotations

import json
import pickle
import sqlite3
from collections.abc import Callable, Iterable
from contextlib import closing, suppress
from dataclasses import astuple
from typing import Any

import pytest
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.http import TextResponse
from scrapy.utils.request import request_from_dict

from hfspider.extensions.crawlrun import CrawlRun
from hfspider.hub.lineage import SOURCE_CARD, SOURCE_LISTING, SOURCE_TAGS
from hfspider.hub.paging import Pages
from hfspider.items import Bundle, EdgeItem, ModelItem, StoredEdgeItem, StoredModelItem
from hfspider.marks import Failed, Listed, PageDone
from hfspider.spiders.hub_index import HubIndexSpider
from hfspider.spiders.model_tree import ModelTreeSpider
from pipelines.store import StorePipeline
from tests.unit.helpers import FakeEngine, db_file, outputs, rows

MakeCrawler = Callable[..., Crawler]
Edge = tuple[str, str, str, str]  # child, parent, relation, source
PARENT = "org/base"
HUB = "https://huggingface.co"


def execute(crawler: Crawler, query: str, params: Iterable[tuple[Any, ...]] = ((),)) -> None:
    """Write with the stdlib, as another process would."""
    with closing(sqlite3.connect(db_file(crawler))) as conn, conn:
        conn.executemany(query, list(params))


def stored_models(crawler: Crawler) -> set[str]:
    return {m for (m,) in rows(crawler, "SELECT id FROM models")}


def stored_edges(crawler: Crawler) -> set[Edge]:
    return set(rows(crawler, "SELECT child_id, parent_id, relation, source FROM edges"))  # type: ignore[arg-type]


def model(model_id: str, **fields: Any) -> ModelItem:
    return ModelItem(id=model_id, fetched_at="2025-06-01T00:00:00Z", **fields)


def edge(child: str, parent: str = PARENT, relation: str = "finetune", source: str = SOURCE_TAGS) -> EdgeItem:
    return EdgeItem(child, parent, relation, source)


@pytest.fixture
def make_store(hub_crawler: MakeCrawler) -> Callable[..., tuple[StorePipeline, Crawler]]:
    """A store on a fresh crawl of ``org/base``, built from the crawler as Scrapy builds it; no timer (it needs a reactor)."""

    def make(batch_size: int = 1000) -> tuple[StorePipeline, Crawler]:
        crawler = hub_crawler(ModelTreeSpider, {"HFSPIDER_BATCH_SIZE": batch_size}, root=PARENT)
        return StorePipeline.from_crawler(crawler), crawler

    return make


def feed(store: StorePipeline, items: Iterable[Any]) -> list[Any]:
    """Pass items through the store as the scraper does; what comes out is what the feeds receive."""
    out = []
    for item in items:
        with suppress(DropItem):
            out.append(store.process_item(item))
    return out


# -- batching ----------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 4, 7])
def test_models_are_written_every_batch_size_items_and_at_close(
    make_store: Callable[..., tuple[StorePipeline, Crawler]], batch_size: int
) -> None:
    """Nothing is written before a batch is full; a full batch is written at once; the rest at close."""
    store, crawler = make_store(batch_size)
    ids = [f"org/m{n:02d}" for n in range(10)]
    for n, model_id in enumerate(ids, 1):
        item = model(model_id)
        assert store.process_item(item) is item  # the feeds get the model itself
        written = (n // batch_size) * batch_size
        assert stored_models(crawler) == set(ids[:written]), f"after {n} items"
    store.close_spider()
    assert stored_models(crawler) == set(ids)
    assert crawler.stats.get_value("hfspider/stored_models") == len(ids)


def test_models_and_edges_count_together_towards_a_batch(make_store: Callable[..., tuple[StorePipeline, Crawler]]) -> None:
    store, crawler = make_store(3)
    feed(store, [model("org/a"), edge("org/a")])
    assert stored_models(crawler) == set()
    assert stored_edges(crawler) == set()
    feed(store, [model("org/b")])
    assert stored_models(crawler) == {"org/a", "org/b"}
    assert stored_edges(crawler) == {("org/a", PARENT, "finetune", SOURCE_TAGS)}
    feed(store, [edge("org/b", relation="adapter")])
    assert len(stored_edges(crawler)) == 1
    store.close_spider()
    assert stored_edges(crawler) == {("org/a", PARENT, "finetune", SOURCE_TAGS), ("org/b", PARENT, "adapter", SOURCE_TAGS)}
    assert crawler.stats.get_value("hfspider/stored_edges") == 2


def test_model_columns_are_stored_as_given(make_store: Callable[..., tuple[StorePipeline, Crawler]]) -> None:
    """Tags and card data go to JSON columns; numbers and flags keep their values."""
    store, crawler = make_store()
    card = {"license": "mit", "base_model": [PARENT]}
    item = model("org/a", author="org", likes=7, downloads=12, private=False, gated="manual", tags=["t1", "license:mit"], card_data=card)
    feed(store, [item])
    store.close_spider()
    [(author, likes, downloads, private, gated, tags, card_data, fetched)] = rows(
        crawler, "SELECT author, likes, downloads, private, gated, tags, card_data, fetched_at FROM models"
    )
    assert (author, likes, downloads, private, gated, fetched) == ("org", 7, 12, 0, "manual", item.fetched_at)
    assert json.loads(tags) == ["t1", "license:mit"]
    assert json.loads(card_data) == card


def test_a_model_seen_twice_in_a_batch_is_written_once(make_store: Callable[..., tuple[StorePipeline, Crawler]]) -> None:
    """The last version wins, and it counts once."""
    store, crawler = make_store()
    feed(store, [model("org/a", likes=1), model("org/a", likes=2)])
    store.close_spider()
    assert rows(crawler, "SELECT id, likes FROM models") == [("org/a", 2)]
    assert crawler.stats.get_value("hfspider/stored_models") == 1


# -- marks ----------------------------------------------------------------------------


def test_marks_are_dropped_but_written_with_the_batch(make_store: Callable[..., tuple[StorePipeline, Crawler]]) -> None:
    """No feed ever sees a mark, and each is written in the same transaction as the items before it."""
    store, crawler = make_store()
    run = CrawlRun.of(crawler)
    failed = Failed("https://huggingface.co/api/models?filter=base_model%3Aorg%2Fx", "org/x", 503, "HTTP 503")
    run.walk_from = page_url(0)
    marks = [Listed(PARENT, None, frozenset({"org/a"})), failed, PageDone(page_url(0), page_url(1))]
    for mark in marks:
        with pytest.raises(DropItem):
            store.process_item(mark)
    assert rows(crawler, "SELECT COUNT(*) FROM crawl_state") == [(0,)], "marks wait for their batch"
    store.close_spider()
    assert rows(crawler, "SELECT crawl_key, model_id FROM crawl_state") == [(run.key, PARENT)]
    [(key, url, model_id, status, error, failed_at)] = rows(
        crawler, "SELECT crawl_key, url, model_id, status, error, failed_at FROM failures"
    )
    assert (key, url, model_id, status, error) == (run.key, failed.url, failed.model_id, failed.status, failed.error)
    assert failed_at
    assert rows(crawler, "SELECT crawl_key, next_url FROM walk_state") == [(run.key, page_url(1))]


def page_url(n: int) -> str:
    return f"https://huggingface.co/api/models?sort=createdAt&cursor=c{n}"


def next_page(n: int) -> str:
    return page_url(n + 1)


def done(n: int) -> PageDone:
    """The mark of page ``n`` of a walk that began at page 0."""
    return PageDone(page_url(n), next_page(n))


def test_walk_state_keeps_the_latest_page(make_store: Callable[..., tuple[StorePipeline, Crawler]]) -> None:
    """Pages done in order move the resume point forward; it is written with the batch that completes them."""
    store, crawler = make_store(2)
    CrawlRun.of(crawler).walk_from = page_url(0)
    feed(store, [done(0), model("org/a"), model("org/b")])
    assert rows(crawler, "SELECT next_url FROM walk_state") == [(next_page(0),)]
    feed(store, [model("org/c"), done(1)])
    store.close_spider()
    assert rows(crawler, "SELECT next_url FROM walk_state") == [(next_page(1),)]


@pytest.mark.parametrize("order", [(1, 0, 2), (2, 1, 0), (0, 2, 3, 1), (3, 1, 2)])
def test_walk_resumes_after_the_last_page_with_no_gap_before_it(
    make_store: Callable[..., tuple[StorePipeline, Crawler]], order: tuple[int, ...]
) -> None:
    """Pages finish out of order: resuming after a page whose predecessor is not done would skip that predecessor."""
    store, crawler = make_store()
    CrawlRun.of(crawler).walk_from = page_url(0)
    finished: set[int] = set()
    for page in order:
        feed(store, [done(page)])
        store.flush()
        finished.add(page)
        walked = next(n for n in range(len(order) + 1) if n not in finished)  # pages 0 .. walked-1 are all done
        expected = [(next_page(walked - 1),)] if walked else []
        assert rows(crawler, "SELECT next_url FROM walk_state") == expected, f"after pages {sorted(finished)}"


def test_a_listing_counts_towards_the_batch(make_store: Callable[..., tuple[StorePipeline, Crawler]]) -> None:
    """A crawl of parents without children must still write its listings as it goes."""
    store, crawler = make_store(2)
    feed(store, [Listed("org/p1", None, frozenset())])
    assert rows(crawler, "SELECT COUNT(*) FROM crawl_state") == [(0,)]
    feed(store, [Listed("org/p2", None, frozenset())])
    assert {m for (m,) in rows(crawler, "SELECT model_id FROM crawl_state")} == {"org/p1", "org/p2"}


def test_stored_items_pass_through_unwritten(make_store: Callable[..., tuple[StorePipeline, Crawler]]) -> None:
    """Items replayed from the database go to the feeds as they are; writing them back would churn their edges."""
    store, crawler = make_store(1)
    replayed = [StoredModelItem(id="org/old", likes=3), StoredEdgeItem("org/old", PARENT, "adapter", SOURCE_TAGS)]
    out = feed(store, replayed)
    assert len(out) == len(replayed)
    assert all(passed is item for passed, item in zip(out, replayed, strict=True))
    store.close_spider()
    assert stored_models(crawler) == set()
    assert stored_edges(crawler) == set()


def test_unknown_items_pass_through(make_store: Callable[..., tuple[StorePipeline, Crawler]]) -> None:
    store, crawler = make_store(1)
    other = {"id": "org/a"}
    assert store.process_item(other) is other
    store.close_spider()
    assert stored_models(crawler) == set()


# -- edges -------------------------------------------------------------------------------


def test_a_rewritten_model_replaces_its_edges(make_store: Callable[..., tuple[StorePipeline, Crawler]]) -> None:
    """A model's edges are those read with it now: a parent its tags dropped loses the edge; other models keep theirs."""
    store, crawler = make_store()
    feed(store, [model("org/a"), edge("org/a", "org/p1"), edge("org/a", "org/p2", "adapter"), model("org/b"), edge("org/b", "org/p1")])
    store.flush()
    assert len(stored_edges(crawler)) == 3
    feed(store, [model("org/a"), edge("org/a", "org/p3", "merge")])
    store.close_spider()
    assert stored_edges(crawler) == {("org/a", "org/p3", "merge", SOURCE_TAGS), ("org/b", "org/p1", "finetune", SOURCE_TAGS)}


def test_an_edge_without_its_model_in_the_batch_is_added(make_store: Callable[..., tuple[StorePipeline, Crawler]]) -> None:
    """A child listed under a second parent comes back as an edge only (dedupe drops the model): its other edges stay."""
    store, crawler = make_store()
    feed(store, [model("org/a"), edge("org/a", "org/p1")])
    store.flush()
    feed(store, [edge("org/a", "org/p2", "unknown", SOURCE_LISTING)])
    store.close_spider()
    assert stored_edges(crawler) == {("org/a", "org/p1", "finetune", SOURCE_TAGS), ("org/a", "org/p2", "unknown", SOURCE_LISTING)}


STORED: set[Edge] = {
    ("org/x", PARENT, "finetune", SOURCE_TAGS),  # still listed
    ("org/y", PARENT, "finetune", SOURCE_TAGS),  # left the parent
    ("org/v", PARENT, "finetune", SOURCE_LISTING),  # left the parent
    ("org/z", PARENT, "finetune", SOURCE_CARD),  # named by its card only: the Hub never lists it
    ("org/w", PARENT, "adapter", SOURCE_TAGS),  # another relation than the listing's filter
    ("org/y", "org/other", "finetune", SOURCE_TAGS),  # another parent
}


@pytest.mark.parametrize(
    ("relation", "dropped"),
    [
        ("finetune", {("org/y", PARENT, "finetune", SOURCE_TAGS), ("org/v", PARENT, "finetune", SOURCE_LISTING)}),
        (
            None,
            {
                ("org/y", PARENT, "finetune", SOURCE_TAGS),
                ("org/v", PARENT, "finetune", SOURCE_LISTING),
                ("org/w", PARENT, "adapter", SOURCE_TAGS),
            },
        ),
    ],
)
def test_a_full_listing_drops_children_that_left(
    make_store: Callable[..., tuple[StorePipeline, Crawler]], relation: str | None, dropped: set[Edge]
) -> None:
    """Stored child->parent edges whose child the listing no longer shows go, except card edges and other relations."""
    store, crawler = make_store()
    execute(crawler, "INSERT INTO edges (child_id, parent_id, relation, source) VALUES (?, ?, ?, ?)", sorted(STORED))
    feed(store, [Listed(PARENT, relation, frozenset({"org/x", "org/new"}))])
    store.close_spider()
    assert stored_edges(crawler) == STORED - dropped


def test_children_written_with_their_listing_are_kept(make_store: Callable[..., tuple[StorePipeline, Crawler]]) -> None:
    """A listing's own children, in the same batch, are what it shows: none of them is dropped."""
    store, crawler = make_store()
    execute(
        crawler,
        "INSERT INTO edges (child_id, parent_id, relation, source) VALUES (?, ?, ?, ?)",
        [("org/gone", PARENT, "adapter", SOURCE_TAGS)],
    )
    listing = [model("org/a"), edge("org/a"), model("org/b"), edge("org/b", relation="unknown", source=SOURCE_LISTING)]
    feed(store, [*listing, Listed(PARENT, None, frozenset({"org/a", "org/b"}))])
    store.close_spider()
    assert stored_edges(crawler) == {("org/a", PARENT, "finetune", SOURCE_TAGS), ("org/b", PARENT, "unknown", SOURCE_LISTING)}


# -- a database that fails ---------------------------------------------------------------


def test_a_database_error_stops_writing_and_marks_nothing_done(make_store: Callable[..., tuple[StorePipeline, Crawler]]) -> None:
    """The batch is not half-written, its listing is not marked done, the crawl is asked to stop, and nothing
    more is written even once the database works again: a rerun fetches what was lost."""
    store, crawler = make_store(3)
    crawler.engine = FakeEngine(crawler.spider)  # type: ignore[assignment]
    [(ddl,)] = rows(crawler, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'crawl_state'")
    execute(crawler, "DROP TABLE crawl_state")

    out = feed(store, [model("org/a"), edge("org/a"), Listed(PARENT, None, frozenset({"org/a"}))])  # the third item fills the batch
    assert [type(item) for item in out] == [ModelItem, EdgeItem], "items still reach the feeds; the mark does not"
    error = crawler.stats.get_value("hfspider/db_error")
    assert error and "crawl_state" in error
    assert CrawlRun.of(crawler).db_error == error
    assert crawler.engine.closed == ["db_error"]  # type: ignore[attr-defined]
    assert stored_models(crawler) == set()
    assert stored_edges(crawler) == set()

    execute(crawler, ddl)  # the database works again
    feed(
        store,
        [model("org/b"), edge("org/b"), model("org/c"), Listed("org/b", None, frozenset()), done(0)],
    )
    feed(store, [Failed("https://h/x", "org/x", 500, "HTTP 500")])
    store.close_spider()
    assert stored_models(crawler) == set()
    assert stored_edges(crawler) == set()
    for table in ("crawl_state", "failures", "walk_state"):
        assert rows(crawler, f"SELECT COUNT(*) FROM {table}") == [(0,)], table
    assert crawler.stats.get_value("hfspider/stored_models") is None
    assert crawler.engine.closed == ["db_error"]  # type: ignore[attr-defined]


# -- a walk resumed from JOBDIR's queue ---------------------------------------------------------


def test_walk_resumed_from_the_jobdir_queue_still_moves_its_resume_point(hub_crawler: MakeCrawler) -> None:
    """Run 1 paused cleanly with page 3 of the walk in JOBDIR's queue; run 2 takes it from there. If run 2 is then
    killed, run 3 resumes from walk_state: it must be where run 2 got to, not where run 1 stopped."""
    paused = hub_crawler(HubIndexSpider)
    walk = f"{HUB}/api/models?sort=createdAt&limit=1000"
    queued = paused.spider.walk_page(f"{walk}&cursor=c3", None, Pages((), 0))  # type: ignore[union-attr]
    pickled = pickle.dumps(queued.to_dict(spider=paused.spider))

    crawler = hub_crawler(HubIndexSpider)  # run 2, same crawl
    CrawlRun.of(crawler).walk_from = f"{walk}&cursor=c3"  # as start() sets it from walk_state when JOBDIR's queue holds the page
    store = StorePipeline.from_crawler(crawler)
    request = request_from_dict(pickle.loads(pickled), spider=crawler.spider)
    records = [{"id": "org/m1", "lastModified": "2025-06-01T00:00:00.000Z"}, {"id": "org/m2", "lastModified": "2025-06-01T00:00:00.000Z"}]
    headers = {"Link": f'<{walk}&cursor=c4>; rel="next"', "Content-Type": "application/json"}
    answer = TextResponse(request.url, body=json.dumps(records).encode(), headers=headers, request=request, encoding="utf-8")
    out = feed(store, outputs(request.callback(answer)))
    assert [type(o) for o in out] == [Request, Bundle]
    assert [type(m) for m in out[1]] == [ModelItem, ModelItem]
    store.close_spider()
    assert stored_models(crawler) == {"org/m1", "org/m2"}
    assert rows(crawler, "SELECT next_url FROM walk_state") == [(f"{walk}&cursor=c4",)]


def test_an_edge_only_a_listing_showed_outlives_a_rewrite_of_its_child(make_store: Callable[..., tuple[StorePipeline, Crawler]]) -> None:
    """A resumed crawl reads the child again from another parent's listing; the edge the first parent's
    listing showed must stay until that parent's own complete listing no longer shows the child."""
    store, crawler = make_store()
    other = "org/other"
    shown_only = edge("org/a", other, "unknown", SOURCE_LISTING)
    feed(store, [model("org/a"), edge("org/a"), shown_only])
    store.flush()
    feed(store, [model("org/a"), edge("org/a")])  # read again, from PARENT's listing, in a later run
    store.flush()
    assert stored_edges(crawler) == {astuple(edge("org/a")), astuple(shown_only)}
    feed(store, [Listed(other, None, frozenset())])  # the other parent's complete listing no longer shows it
    store.flush()
    assert stored_edges(crawler) == {astuple(edge("org/a"))}
