"""One crawl run from start to end: its key, its row in ``crawl_runs``, what it resumes, how it ended.

Spiders turn responses into requests and items; everything about the run
around them lives here: the crawl key that finds an unfinished crawl again,
the resume plan spiders ask for (``CrawlRun.of(crawler)``), whether a JOBDIR
queue may be trusted, the trees written when the crawl completes (through the
same function as ``scrapy tree``) and the outcome recorded at the end.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro

from hfspider.config import check_settings
from hfspider.db import INDEX_STAT, TIME_FORMAT, Database, DatabaseError, IndexInfo, Run, database_url, now, open_database
from hfspider.hub.endpoint import SORT_MODIFIED, sort_of
from hfspider.items import StoredEdgeItem, StoredModelItem
from hfspider.locks import Busy, FolderLock
from hfspider.outcome import COMPLETE, Outcome
from hfspider.secrets import mask_logs
from hfspider.trees import TreeSpec, derive, write_trees

logger = logging.getLogger(__name__)

#: In JOBDIR: which run left the queue there, and whether it closed cleanly.
JOBDIR_MARK = "hfspider-run.json"
#: A refresh walks back to this long before the last complete run started, for clocks that disagree.
REFRESH_MARGIN = timedelta(minutes=10)


def crawl_key(spider: str, arguments: dict[str, Any]) -> str:
    """Same spider and arguments, same key, whatever the order the roots or tags were given in."""
    canonical = {k: sorted(v) if isinstance(v, (list, tuple)) else v for k, v in arguments.items()}
    text = json.dumps({"spider": spider, "arguments": canonical}, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _before(started_at: str) -> str:
    """Where a refresh stops: a little before the walk it refreshes began, for clocks that disagree."""
    return (datetime.strptime(started_at, TIME_FORMAT).replace(tzinfo=UTC) - REFRESH_MARGIN).strftime(TIME_FORMAT)


def _age(started_at: str) -> float:
    return (datetime.now(UTC) - datetime.strptime(started_at, TIME_FORMAT).replace(tzinfo=UTC)).total_seconds()


@dataclass
class FamilyPlan:
    """An unfinished family crawl: what is stored (for the feeds) and what is left to list."""

    outcome: str
    roots: dict[str, str] = field(default_factory=dict)  # as typed -> as stored
    depth: dict[str, int] = field(default_factory=dict)  # every stored member, at its shortest distance
    to_list: list[tuple[str, int]] = field(default_factory=list)  # (model, depth), nearest first


@dataclass
class WalkPlan:
    """Where a listing walk starts: a page to go on from, records to replay, a refresh mark."""

    next_url: str | None = None
    replay_since: str | None = None  # replay models fetched since then: the unfinished crawl's own
    since: str | None = None  # a refresh stops at models modified before this
    queue_holds_next: bool = False  # a clean pause left the next page in JOBDIR's queue


@dataclass
class IndexWalk:
    """A walk of the whole Hub by this run: when it began, whether it lists everything (or refreshes),
    which rows it leaves, and how many models the index holds when that is not the rows' count."""

    started_at: str
    full: bool
    keep_all: bool
    rows: str
    models: int | None = None


_MODEL_FIELDS = tuple(f.name for f in fields(StoredModelItem))


def _replayed(found: list[dict[str, Any]], links: list[dict[str, Any]]) -> Iterator[StoredModelItem | StoredEdgeItem]:
    """Stored rows as the items a feed receives: the item's fields only, not the database's bookkeeping."""
    yield from (StoredModelItem(**{name: row[name] for name in _MODEL_FIELDS}) for row in found)
    yield from (StoredEdgeItem(**row) for row in links)


class CrawlRun:
    """The run's owner; a spider finds it with ``CrawlRun.of(self.crawler)``."""

    def __init__(self, crawler: Crawler, database: Database) -> None:
        spider = crawler.spider
        assert spider is not None
        self.crawler = crawler
        self.db = database
        self.output = crawler.settings.get("HFSPIDER_OUTPUT")
        self.spider_name: str = spider.name
        args = getattr(spider, "args", None)
        self.arguments: dict[str, Any] = asdict(args) if is_dataclass(args) and not isinstance(args, type) else {}
        self.key = crawl_key(self.spider_name, self.arguments)
        jobdir = crawler.settings.get("JOBDIR")
        self.jobdir = Path(jobdir) if jobdir else None
        # A worker of a crawl shared through REDIS_URL completes it only when it is the one to notice its
        # end (hfspider.distributed); until then its close writes no trees and leaves the resume state.
        self.shared = bool(crawler.settings.get("REDIS_URL"))
        self.completes = not self.shared
        # One writer per output folder, and per crawl in a shared database; a killed holder's locks are gone with it.
        # The workers of a shared crawl hold the crawl's lock together; only the one completing it writes to the folder.
        self.locks: list[FolderLock] = []
        try:
            if not self.shared:
                self.locks.append(FolderLock(Path(self.output)).acquire())
            if database.folder is not None and database.folder.resolve() != Path(self.output).resolve():
                self.locks.append(FolderLock(database.folder).acquire())
            if not database.lock_crawl(self.key, shared=self.shared):
                raise Busy(f"another live crawl with the same spider and arguments is writing to {database.shown}; wait for it to end")
            self.history: list[Run] = database.runs(self.key)
            self.queue_intact = self._check_jobdir() if self.jobdir else False
        except BaseException:
            self._unlock()
            raise
        self.run_id: int | None = None
        self.roots: list[str] = []  # whose trees are written when the crawl completes
        self.tree_spec: TreeSpec | None = None
        self.sweep_since: str | None = None
        self.walk_from: str | None = None  # the first page of this run's walk
        self.index: IndexWalk | None = None  # this run's walk of the whole Hub, if it walks it
        self._fresh: tuple[IndexInfo | None, str | None] | None = None
        self.flushers: list[Callable[[], None]] = []  # write what is buffered, before the run reads the database
        self.started_at = now()
        self.db_error: str | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlRun:
        # Errors, not NotConfigured: a crawl that cannot store must not run at all, whoever starts it.
        mask_logs()
        check_settings(crawler.settings)
        run = cls(crawler, open_database(database_url(crawler.settings)))
        crawler.signals.connect(run.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(run.spider_closed, signal=signals.spider_closed)
        return run

    @staticmethod
    def of(crawler: Crawler) -> CrawlRun:
        run = crawler.get_extension(CrawlRun)
        if run is None:
            raise RuntimeError("hfspider's spiders need the CrawlRun extension; keep it in EXTENSIONS")
        return run

    # -- JOBDIR -------------------------------------------------------------

    def _check_jobdir(self) -> bool:
        """Whether JOBDIR's queue was left by a clean pause of exactly the run this one resumes.

        Scrapy writes the queue's bookkeeping only on a clean stop, and a queue
        from another crawl, another run or a killed process would swallow or
        invent requests. Any doubt discards it: the database says what is left.
        """
        assert self.jobdir is not None
        queue = self.jobdir / "requests.queue"
        try:
            mark = json.loads((self.jobdir / JOBDIR_MARK).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            mark = {}
        last = self.history[-1] if self.history else None
        intact = (
            isinstance(mark, dict)
            and mark.get("closed") is True
            and mark.get("crawl_key") == self.key
            and last is not None
            and mark.get("run_id") == last.id
            and last.outcome == Outcome.SHUTDOWN
            and (queue / "active.json").exists()
        )
        if queue.exists() and not intact:
            # After a finished crawl the queue is only its empty leftovers: nothing worth a warning.
            say = logger.info if last is not None and last.outcome in COMPLETE else logger.warning
            say("JOBDIR %s: its queue is not from a clean pause of this crawl; discarded, the database says what's left", queue)
            shutil.rmtree(queue)
        return intact

    def _mark_jobdir(self, closed: bool) -> None:
        if self.jobdir is not None:
            self.jobdir.mkdir(parents=True, exist_ok=True)
            mark = {"crawl_key": self.key, "run_id": self.run_id, "closed": closed}
            (self.jobdir / JOBDIR_MARK).write_text(json.dumps(mark), encoding="utf-8")

    # -- resume plans -------------------------------------------------------

    @property
    def unfinished(self) -> list[Run]:
        """The runs since the last complete one: the crawl this run continues, if any."""
        tail: list[Run] = []
        for run in reversed(self.history):
            if run.outcome in COMPLETE:
                break
            tail.insert(0, run)
        return tail

    def family_plan(self, roots: list[str], spec: TreeSpec) -> FamilyPlan | None:
        """What an unfinished crawl of these roots stored and what it still has to list, or None to start afresh."""
        unfinished = self.unfinished
        if not unfinished:
            return None
        plan = FamilyPlan(unfinished[-1].outcome)
        for root in roots:
            tree = derive(self.db, root, spec)
            if tree is None:
                continue
            plan.roots[root] = tree.root
            for model, depth in tree.depth.items():
                plan.depth[model] = min(depth, plan.depth.get(model, depth))
        if spec.direction == "up":
            return plan
        listed = self.db.listed(self.key)
        # After a clean pause JOBDIR's queue holds the pending listings, but not those that failed in
        # the paused run (earlier runs' failures were asked again by it, so they are queued or listed).
        failed = self.db.failed_models(self.key, since=unfinished[-1].started_at) if self.queue_intact else set()
        for model, depth in sorted(plan.depth.items(), key=lambda kv: (kv[1], kv[0])):
            missing = model not in listed and (not self.queue_intact or model in failed)
            if missing and (spec.max_depth is None or depth < spec.max_depth):
                plan.to_list.append((model, depth))
        return plan

    def resume_family(self, roots: list[str], spec: TreeSpec) -> FamilyPlan | None:
        """``family_plan``, said in the log and the stats, with the roots renamed as stored."""
        plan = self.family_plan(roots, spec)
        if plan is None:
            return None
        logger.info("resuming: %d models stored, %d to list (last run: %s)", len(plan.depth), len(plan.to_list), plan.outcome)
        self.crawler.stats.inc_value("hfspider/resumed_models", len(plan.depth))
        self.crawler.stats.inc_value("hfspider/resumed_listings", len(plan.to_list))
        for typed, stored in plan.roots.items():
            self.rename_root(typed, stored)
        return plan

    def walk_plan(self, full: bool) -> WalkPlan:
        """Where a listing walk starts: afresh, as a refresh after a complete run, or where an unfinished one stopped."""
        plan = WalkPlan()
        ends = [i for i, run in enumerate(self.history) if run.outcome in COMPLETE]
        refresh_mark = None
        if ends:
            # From the first run of the last complete walk: a walk resumed after a kill began then.
            began = self.history[ends[-2] + 1 if len(ends) > 1 else 0].started_at
            refresh_mark = _before(began)
        plan.since = None if full else refresh_mark
        unfinished = self.unfinished
        if unfinished:
            plan.replay_since = unfinished[0].started_at
            plan.next_url = self.db.next_page(self.key)
            if plan.next_url is not None:
                # An unfinished walk goes on in the order it began in, whatever this run's flags say: a
                # refresh's cut-off on a walk by creation date would end it early, and a walk by
                # modification date cannot tell which models are gone.
                plan.since = refresh_mark if sort_of(plan.next_url) == SORT_MODIFIED else None
            # A page that failed in the paused run ended its walk there: nothing is queued after it.
            plan.queue_holds_next = self.queue_intact and not self.db.has_failures(self.key, since=unfinished[-1].started_at)
        return plan

    def fresh_index(self) -> tuple[IndexInfo | None, str | None]:
        """The stored index of the whole Hub, and where a refresh of it would stop; no refresh when
        it is older than ``HFSPIDER_INDEX_MAX_AGE``, or when it kept only some families' rows and
        the families asked for now, as its edges have them, have members without a row."""
        if self._fresh is None:
            info, since = self.db.last_index(), None
            young = info is not None and _age(info.started_at) <= self.crawler.settings.getfloat("HFSPIDER_INDEX_MAX_AGE")
            if info is not None and young and (info.rows == "all" or self._rows_for_families()):
                since = _before(info.started_at)
            self._fresh = (info, since)
        return self._fresh

    def _rows_for_families(self) -> bool:
        if not self.roots or self.tree_spec is None:
            return False
        for root in self.roots:
            tree = derive(self.db, root, self.tree_spec)
            if tree is None or self.db.stored(list(tree.depth)) != set(tree.depth):
                return False
        return True

    def walk_index(self, started_at: str, full: bool, keep_all: bool, rows: str | None = None) -> None:
        """This run walks the whole Hub (``full``) or refreshes the stored index, a walk that began at
        ``started_at``. Complete, it leaves an index with every model's row (``all``) or only the
        families' (``members``): a full walk keeps all with ``keep_all``, a refresh what it refreshed,
        unless ``rows`` says (``hub_index`` keeps every row, always)."""
        info, _since = self.fresh_index()
        if rows is None:
            rows = ("all" if keep_all else "members") if full or info is None else info.rows
        carried = None if full or info is None or rows == "all" else info.models
        self.index = IndexWalk(started_at, full, keep_all, rows, carried)

    def walk_done(self) -> set[str]:
        """After a walk of the whole Hub: the families' trees, written, and their members. Unless
        every row is kept, the rows the walk added for models outside every stored tree are removed
        again (their edges stay: they make the next family's estimate exact)."""
        walk = self.index
        assert walk is not None and self.tree_spec is not None
        if walk.full:
            walk.models = self.db.count_models(since=walk.started_at)
        trees, _missing = write_trees(self.db, self.output, self.roots, self.tree_spec)
        if walk.rows == "members" and not walk.keep_all:
            pruned = self.db.prune(walk.started_at)
            self.crawler.stats.set_value("hfspider/pruned_models", pruned)
            kept = sum(len(tree.depth) for tree in trees)
            logger.info("kept the rows of the families' %d models; %d others the walk listed are left out", kept, pruned)
        return {model for tree in trees for model in tree.depth}

    def flush(self) -> None:
        """Write everything buffered, so that what the database says is what the crawl has read."""
        for flush in self.flushers:
            flush()

    def replay_members(self, ids: list[str]) -> Iterator[StoredModelItem | StoredEdgeItem]:
        """Stored models and their edges, so a resumed crawl's feeds come out whole."""
        for found, links in self.db.members(ids):
            yield from _replayed(found, links)

    def replay_since(self, since: str) -> Iterator[StoredModelItem | StoredEdgeItem]:
        """Models (and their edges) an unfinished walk stored."""
        for found, links in self.db.fetched_since(since):
            yield from _replayed(found, links)

    # -- what the spider tells the run --------------------------------------

    def write_trees_for(self, roots: list[str], spec: TreeSpec) -> None:
        """Derive these roots' families when the crawl completes."""
        self.roots = list(roots)
        self.tree_spec = spec

    def sweep_gone(self, since: str) -> None:
        """This run lists the whole Hub from a walk that began at ``since``: if it completes, models
        stored before then that it did not list are gone from the Hub."""
        self.sweep_since = since

    def add_roots(self, roots: list[str]) -> None:
        self.roots += [root for root in roots if root not in self.roots]

    def rename_root(self, typed: str, stored: str) -> None:
        """The Hub spells a root differently than it was typed: its tree goes by the Hub's spelling."""
        self.roots = [stored if root == typed else root for root in self.roots]

    def database_failed(self, error: DatabaseError) -> None:
        """A write failed: stop the crawl; what was not written is not marked done, so a rerun fetches it."""
        if self.db_error is not None:
            return
        self.db_error = str(error)
        self.crawler.stats.set_value("hfspider/db_error", self.db_error)
        logger.error("database write failed, stopping the crawl (run the same command again to resume): %s", self.db_error)
        deferred_from_coro(self.crawler.engine.close_spider_async(reason="db_error"))

    # -- lifecycle ----------------------------------------------------------

    def spider_opened(self, spider: Any) -> None:
        self.started_at = now()
        self.run_id = self.db.start_run(self.spider_name, self.key, self.arguments, self.started_at)
        self._mark_jobdir(closed=False)

    def outcome(self, reason: str) -> Outcome:
        """Scrapy's finish reason, unless a finished crawl left roots or requests behind."""
        value = self.crawler.stats.get_value
        if self.db_error is not None:
            return Outcome.STOPPED
        if reason == "shutdown":
            return Outcome.SHUTDOWN
        if reason != "finished":
            return Outcome.STOPPED
        if value("hfspider/failures", 0):
            return Outcome.INCOMPLETE
        return Outcome.ROOT_ERRORS if value("hfspider/root_errors", 0) else Outcome.FINISHED

    def spider_closed(self, spider: Any, reason: str) -> None:
        """Trees for a complete crawl (a paused or failed one would give trees that look whole), then the run's row."""
        outcome = self.outcome(reason)
        stats = self.crawler.stats
        try:
            if outcome.complete and self.completes and self.sweep_since is not None:
                gone = self.db.mark_gone(self.sweep_since)
                stats.set_value("hfspider/gone", gone)
                logger.info("%d stored models are no longer on the Hub (models.deleted_at)", gone)
            if outcome.complete and self.completes and self.tree_spec is not None:
                trees, _missing = write_trees(self.db, self.output, self.roots, self.tree_spec)
                for tree in trees:
                    logger.info("tree %s: %d models", tree.root, len(tree.depth))
            if outcome.complete and self.index is not None:
                walk = self.index
                listed = walk.models if walk.models is not None else self.db.count_models()
                stats.set_value(INDEX_STAT, {"started_at": walk.started_at, "models": listed, "rows": walk.rows})
            stats.set_value("hfspider/outcome", outcome.value)
            if self.run_id is not None:
                snapshot = json.loads(json.dumps(stats.get_stats(), default=str))
                self.db.finish_run(self.run_id, self.key, outcome.value, now(), snapshot, clear=self.completes)
        except (DatabaseError, OSError) as error:
            self.db_error = str(error)  # feeds stay .partial: the crawl did not end as a whole
            stats.set_value("hfspider/outcome", Outcome.STOPPED.value)
            stats.set_value("hfspider/db_error", self.db_error)
            logger.error("could not record the end of the crawl: %s", error)
        if outcome == Outcome.SHUTDOWN:
            self._mark_jobdir(closed=True)
        self._unlock()

    def _unlock(self) -> None:
        self.db.unlock_crawl()
        for lock in self.locks:
            lock.release()
