"""Write items to the database in batched upserts, each batch with the crawl marks it completes.

The database is the source of truth: trees come from its edges, and a crawl run
twice leaves one row per model and edge.
"""

from __future__ import annotations

import logging
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from twisted.internet import task

from hfspider.db import Batch, DatabaseError, Listing, now
from hfspider.db.writer import BatchWriter
from hfspider.extensions.crawlrun import CrawlRun
from hfspider.items import (
    Bundle,
    CardItem,
    EdgeItem,
    LinksItem,
    ModelItem,
    PageFactsItem,
    StoredEdgeItem,
    StoredModelItem,
)
from hfspider.marks import Failed, Listed, PageDone

logger = logging.getLogger(__name__)


class StorePipeline:
    """Buffers items and marks and writes them every ``HFSPIDER_BATCH_SIZE`` items or ``HFSPIDER_FLUSH_SECONDS``,
    itself or (``HFSPIDER_WRITER_PROCESS``) through a writer process.

    Marks and an index walk's records are dropped here once buffered, so feeds receive the
    crawl's models and edges only.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.run = CrawlRun.of(crawler)
        self.batch_size = crawler.settings.getint("HFSPIDER_BATCH_SIZE")
        self.flush_seconds = crawler.settings.getfloat("HFSPIDER_FLUSH_SECONDS")
        self.broken = False
        self.batch = Batch(self.run.key)
        # The items themselves, by key (the last one read wins): they are not changed after this pipeline.
        self.models: dict[str, ModelItem] = {}
        self.edges: dict[tuple[str, str, str], EdgeItem] = {}
        self.timer: task.LoopingCall | None = None
        self.pages_done: dict[str, str] = {}  # page URL -> next page URL, for pages done out of order
        self.walked_to: str | None = None  # every page before this one is passed on
        self.walk_frozen = False
        self.writer = BatchWriter(self.run.db.url) if crawler.settings.getbool("HFSPIDER_WRITER_PROCESS") else None
        self.run.flushers.append(self.flush)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if isinstance(item, (StoredModelItem, StoredEdgeItem)):
            return item  # read from this database: writing it back would only churn its edges
        if isinstance(item, Bundle):
            for model in item.models:
                self.models[model.id] = model
            for edge in item.edges:
                self.edges[(edge.child_id, edge.parent_id, edge.relation)] = edge
        elif isinstance(item, ModelItem):
            self.models[item.id] = item
        elif isinstance(item, EdgeItem):
            self.edges[(item.child_id, item.parent_id, item.relation)] = item
        elif isinstance(item, Listed):
            self.batch.listings.append(Listing(item.parent, item.relation, item.children))
        elif isinstance(item, Failed):
            self.batch.failures.append({**ItemAdapter(item), "failed_at": now()})
        elif isinstance(item, PageDone):
            self._page_done(item)
        elif isinstance(item, (PageFactsItem, LinksItem, CardItem)):
            getattr(self.batch, item.table).append(dict(ItemAdapter(item)))  # their own tables; feeds ignore them
        else:
            return item
        if len(self.models) + len(self.edges) + len(self.batch.listings) + self.batch.side_rows >= self.batch_size:
            self.flush(wait=False)  # besides the timer started in open_spider
        if isinstance(item, (Listed, Failed, PageDone)):
            raise DropItem("crawl bookkeeping, stored", log_level="DEBUG")
        if isinstance(item, Bundle) and item.indexed:
            raise DropItem("an index walk's record, stored; the feeds get the families' members", log_level="DEBUG")
        return item

    def _page_done(self, mark: PageDone) -> None:
        """Advance the walk's resume point along the chain of pages done, from where this run began."""
        self.pages_done[mark.url] = mark.next_url
        if self.walked_to is None:
            self.walked_to = self.run.walk_from
        while self.walked_to in self.pages_done and not self.walk_frozen:
            self.walked_to = self.pages_done.pop(self.walked_to)
            self.batch.next_page = self.walked_to

    def flush(self, wait: bool = True) -> None:
        """Write the buffer in one transaction: items, and the listings they complete, together.

        With a writer process the batch is handed over, and ``wait`` waits until everything handed
        over is written (what ``CrawlRun.flush`` asks before the run reads the database). If the
        database refuses, the crawl stops at this first error: what was not written is not marked
        done, so the same command fetches it again.
        """
        batch = self.batch
        if self.broken:
            return
        if self.models or self.edges or batch.listings or batch.failures or batch.next_page or batch.side_rows:
            models, edges = list(self.models.values()), list(self.edges.values())
            try:
                if self.writer is not None:
                    self.writer.send(batch, models, edges)
                else:
                    batch.models, batch.edges = [dict(vars(m)) for m in models], [dict(vars(e)) for e in edges]
                    self._written(len(models), len(edges), self.run.db.write_batch(batch))
            except DatabaseError as error:
                self._failed(error)
                return
            self.models.clear()
            self.edges.clear()
            self.batch = Batch(self.run.key)
        if self.writer is not None:
            try:
                for written in self.writer.results(wait):
                    if written.error is not None:
                        raise DatabaseError(written.error)
                    self._written(written.models, written.edges, written.refused)
            except DatabaseError as error:
                self._failed(error)

    def _written(self, models: int, edges: int, refused: dict[str, str]) -> None:
        stats = self.crawler.stats
        for model, why in refused.items():
            stats.inc_value("hfspider/failures")
            logger.error("the database refused model %s, recorded in failures: %s", model, why)
        if refused:
            self.walk_frozen = True  # a walk resumes before the refused models, so the same command asks again
        stats.inc_value("hfspider/stored_models", models - len(refused))
        stats.inc_value("hfspider/stored_edges", edges)

    def _failed(self, error: DatabaseError) -> None:
        self.broken = True
        self.run.database_failed(error)

    def open_spider(self, spider: Any = None) -> None:
        # Also flush on a timer: during a long quota wait no item arrives to trigger it.
        self.timer = task.LoopingCall(self.flush, False)
        self.timer.start(self.flush_seconds, now=False)

    def close_spider(self, spider: Any = None) -> None:
        if self.timer is not None and self.timer.running:
            self.timer.stop()
        self.flush()
        if self.writer is not None:
            self.writer.close()
