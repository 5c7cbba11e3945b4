"""Write items to the database in batched upserts; on close, derive trees and record the run.

The database is the source of truth: trees come from its edges, and a crawl run
twice leaves one row per model and edge.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.settings import BaseSettings
from scrapy.utils.defer import deferred_from_coro
from sqlalchemy import Connection, Engine, Table, create_engine, delete, event, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from twisted.internet import task

from hfspider.arguments import TreeArguments
from hfspider.items import EdgeItem, FailureItem, ListedItem, ModelItem, PageItem, StoredEdgeItem, StoredModelItem
from pipelines import trees
from pipelines.schema import crawl_runs, crawl_state, edges, failures, metadata, models, walk_state

logger = logging.getLogger(__name__)

_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def database_url(settings: BaseSettings) -> str:
    """``HFSPIDER_DB_URL``, else ``hfspider.sqlite`` in ``HFSPIDER_OUTPUT``."""
    return settings.get("HFSPIDER_DB_URL") or f"sqlite:///{Path(settings.get('HFSPIDER_OUTPUT', 'output')) / 'hfspider.sqlite'}"


def check_url(url: str) -> None:
    """Refuse a database the upserts cannot speak to, before anything is crawled."""
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        example = "sqlite:///out.sqlite or postgresql+psycopg://user@host/db"
        raise NotConfigured(f"HFSPIDER_DB_URL: {url!r} is not a database URL; e.g. {example}") from None
    if backend not in _INSERTS:
        raise NotConfigured(f"HFSPIDER_DB_URL: {backend} is not supported; use a sqlite:/// or postgresql:// URL")


def open_engine(url: str) -> Engine:
    """An engine with the tables in place; a SQLite file's folder is made here."""
    check_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # A database that stops answering must fail a flush quickly, not freeze the crawl for minutes.
    options: dict[str, Any] = {"connect_args": {"connect_timeout": 10}} if parsed.get_backend_name() == "postgresql" else {}
    engine = create_engine(parsed, pool_pre_ping=True, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    metadata.create_all(engine)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL: readers are never blocked by the crawl, and a killed process loses no committed batch.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA cache_size=-131072")  # 128 MB: upserts into a million-row table stay in memory
    cursor.close()


def database_exists(url: str) -> bool:
    """False only for a SQLite file that is not there yet."""
    parsed = make_url(url)
    return parsed.get_backend_name() != "sqlite" or not parsed.database or Path(parsed.database).exists()


def upsert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows, replacing those whose primary key is already stored."""
    if not rows:
        return
    keys = [c.name for c in table.primary_key.columns]
    stmt = _INSERTS[conn.dialect.name](table)
    changes = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    stmt = stmt.on_conflict_do_update(index_elements=keys, set_=changes) if changes else stmt.on_conflict_do_nothing(index_elements=keys)
    conn.execute(stmt, rows)


class StorePipeline:
    """Buffers items and writes them every ``HFSPIDER_BATCH_SIZE`` items or ``HFSPIDER_FLUSH_SECONDS``.

    A model's stored edges are replaced by the ones this crawl read, so a model
    that changed parents does not keep the old ones.
    """

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.url = database_url(settings)
        check_url(self.url)
        self.output = Path(settings.get("HFSPIDER_OUTPUT", "output"))
        self.batch_size = settings.getint("HFSPIDER_BATCH_SIZE", 1000)
        self.flush_seconds = settings.getfloat("HFSPIDER_FLUSH_SECONDS", 5.0)
        self.engine: Engine | None = None
        self.models: dict[str, dict[str, Any]] = {}
        self.edges: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.listed: set[str] = set()
        self.failures: list[dict[str, Any]] = []
        self.next_page: str | None = None
        self.broken = False
        self.started_at = now()
        self.run_id: int | None = None
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        return cls(crawler)

    def _engine(self) -> Engine:
        if self.engine is None:
            self.engine = open_engine(self.url)
        return self.engine

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if isinstance(item, (StoredModelItem, StoredEdgeItem)):
            return item  # read from this database: writing it back would only churn its edges
        if isinstance(item, ModelItem):
            self.models[item.id] = dict(ItemAdapter(item))  # shallow: tags and card_data go to JSON columns as they are
        elif isinstance(item, EdgeItem):
            self.edges[(item.child_id, item.parent_id, item.relation)] = dict(ItemAdapter(item))
        elif isinstance(item, ListedItem):
            self.listed.add(item.model_id)
        elif isinstance(item, FailureItem):
            self.failures.append({**ItemAdapter(item), "failed_at": now()})
        elif isinstance(item, PageItem):
            self.next_page = item.next_url
        else:
            return item
        if len(self.models) + len(self.edges) + len(self.listed) >= self.batch_size:
            self.flush()  # besides the timer started in open_spider
        return item

    @property
    def key(self) -> str:
        return self.crawler.spider.crawl_key

    def flush(self) -> None:
        """Write the buffer in one transaction: items, and the listings they complete, together.

        If the database refuses, the crawl stops (reason ``db_error``): what was
        not written is simply not marked done, so the same command fetches it again.
        """
        if self.broken or not (self.models or self.edges or self.listed or self.failures or self.next_page):
            return
        try:
            self._write()
        except SQLAlchemyError as error:
            self.broken = True
            self.crawler.stats.set_value("hfspider/db_error", str(error).splitlines()[0][:300])
            first_line = str(error).splitlines()[0]
            logger.error("database write failed, stopping the crawl (run the same command again to resume): %s", first_line)
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="db_error"))

    def _write(self) -> None:
        with self._engine().begin() as conn:
            if self.run_id is None:
                self.run_id = self._start_run(conn)
            upsert(conn, models, list(self.models.values()))
            ids = list(self.models)
            for start in range(0, len(ids), trees.CHUNK):
                conn.execute(delete(edges).where(edges.c.child_id.in_(ids[start : start + trees.CHUNK])))
            upsert(conn, edges, list(self.edges.values()))
            upsert(conn, crawl_state, [{"crawl_key": self.key, "model_id": m} for m in self.listed])
            if self.failures:
                conn.execute(insert(failures), [{**f, "crawl_key": self.key} for f in self.failures])
            if self.next_page:
                upsert(conn, walk_state, [{"crawl_key": self.key, "next_url": self.next_page}])
        self.crawler.stats.inc_value("hfspider/stored_models", len(self.models))
        self.crawler.stats.inc_value("hfspider/stored_edges", len(self.edges))
        self.models.clear()
        self.edges.clear()
        self.listed.clear()
        self.failures.clear()
        self.next_page = None

    def _start_run(self, conn: Connection) -> int:
        """The run's row, written with its first batch; a run killed later keeps ``running``."""
        spider = self.crawler.spider
        args = getattr(spider, "args", None)
        values = {
            "spider": spider.name,
            "crawl_key": self.key,
            "arguments": asdict(args) if is_dataclass(args) else {},
            "started_at": self.started_at,
            "outcome": "running",
        }
        return conn.execute(insert(crawl_runs).values(**values)).inserted_primary_key[0]

    def open_spider(self, spider: Any = None) -> None:
        # Also flush on a timer: during a long quota wait no item arrives to trigger it.
        self.timer = task.LoopingCall(self.flush)
        self.timer.start(self.flush_seconds, now=False)

    def close_spider(self, spider: Any = None) -> None:
        if self.timer.running:
            self.timer.stop()
        self.flush()

    def spider_closed(self, spider: Any, reason: str) -> None:
        """Derive trees after a complete crawl, then record the run."""
        if self.broken or (self.engine is None and not database_exists(self.url)):
            return
        args = getattr(spider, "args", None)
        outcome = self._outcome(reason)
        with self._engine().begin() as conn:
            if self.run_id is None:
                self.run_id = self._start_run(conn)
            # Trees only for a complete crawl: a paused or failed one would give trees that look whole.
            if outcome in ("finished", "root_errors"):
                for table in (crawl_state, failures, walk_state):
                    conn.execute(delete(table).where(table.c.crawl_key == self.key))
                if isinstance(args, TreeArguments):
                    self._write_trees(conn, spider.roots, args)
            stats = json.loads(json.dumps(self.crawler.stats.get_stats(), default=str))
            conn.execute(update(crawl_runs).where(crawl_runs.c.id == self.run_id).values(finished_at=now(), outcome=outcome, stats=stats))
        self._engine().dispose()

    def _outcome(self, reason: str) -> str:
        """Scrapy's finish reason, unless a finished crawl left roots or requests behind."""
        stats = self.crawler.stats
        if reason != "finished":
            return reason
        if stats.get_value("hfspider/failures", 0):
            return "incomplete"
        return "root_errors" if stats.get_value("hfspider/root_errors", 0) else "finished"

    def _write_trees(self, conn: Connection, roots: list[str], args: TreeArguments) -> None:
        relations = None if args.all_relations else args.relations
        for root in roots:
            tree = trees.derive(conn, root, args.direction, args.max_depth, relations)
            if tree is None:
                continue
            trees.store_members(conn, tree)
            path = trees.write_json(trees.tree_folder(self.output), tree)
            logger.info("tree %s: %d models, written to %s", tree.root, len(tree.depth), path)
