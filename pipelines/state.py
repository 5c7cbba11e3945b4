"""Where an unfinished crawl stands, read back from the database so a new run can finish it.

Scrapy's JOBDIR keeps the queue across a clean pause, but a killed process
loses the requests that were in flight. The database knows better: every
model stored, and every model whose children were fully listed
(``crawl_state``). A resumed run replays the stored family (so feeds are whole)
and lists only what is still missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from hfspider.items import StoredEdgeItem, StoredModelItem
from pipelines import trees
from pipelines.schema import crawl_runs, crawl_state, edges, failures, models, walk_state
from pipelines.store import database_exists, open_engine

#: Outcomes after which the same command starts a fresh crawl rather than resuming.
COMPLETE = ("finished", "root_errors")


@dataclass
class Resume:
    """An unfinished crawl: how its last run ended, the family stored so far, and what is listed."""

    outcome: str
    roots: dict[str, str] = field(default_factory=dict)  # as typed -> as stored
    depth: dict[str, int] = field(default_factory=dict)
    listed: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)  # models a request failed for


def last_outcome(conn: Connection, key: str) -> str | None:
    query = select(crawl_runs.c.outcome).where(crawl_runs.c.crawl_key == key).order_by(crawl_runs.c.id.desc()).limit(1)
    return conn.execute(query).scalar()


def _rows(conn: Connection, table: Any, column: Any, ids: list[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for start in range(0, len(ids), trees.CHUNK):
        found += [dict(r) for r in conn.execute(select(table).where(column.in_(ids[start : start + trees.CHUNK]))).mappings()]
    return found


def load(url: str, key: str, roots: list[str], direction: str, max_depth: int | None, relations: tuple[str, ...] | None) -> Resume | None:
    """The unfinished crawl with this key, or None when the command should start afresh."""
    if not database_exists(url):
        return None
    engine = open_engine(url)
    try:
        with engine.connect() as conn:
            outcome = last_outcome(conn, key)
            if outcome is None or outcome in COMPLETE:
                return None
            resume = Resume(outcome)
            for root in roots:
                tree = trees.derive(conn, root, direction, max_depth, relations)
                if tree is None:
                    continue
                resume.roots[root] = tree.root
                for model, depth in tree.depth.items():
                    resume.depth[model] = min(depth, resume.depth.get(model, depth))
            resume.listed = set(conn.execute(select(crawl_state.c.model_id).where(crawl_state.c.crawl_key == key)).scalars())
            resume.failed = _failed(conn, key)
            return resume
    finally:
        engine.dispose()


def _failed(conn: Connection, key: str) -> set[str]:
    query = select(failures.c.model_id).where(failures.c.crawl_key == key, failures.c.model_id.is_not(None))
    return set(conn.execute(query).scalars())


def replay_members(url: str, ids: list[str]) -> Iterator[StoredModelItem | StoredEdgeItem]:
    """Stored models and their edges, read back in chunks, so a resumed crawl's feeds come out whole."""
    engine = open_engine(url)
    try:
        with engine.connect() as conn:
            for start in range(0, len(ids), trees.CHUNK):
                chunk = ids[start : start + trees.CHUNK]
                yield from (StoredModelItem(**row) for row in _rows(conn, models, models.c.id, chunk))
                yield from (StoredEdgeItem(**row) for row in _rows(conn, edges, edges.c.child_id, chunk))
    finally:
        engine.dispose()


@dataclass
class Walk:
    """Where a listing walk starts: a page to go on from, records to replay, a refresh mark."""

    next_url: str | None = None
    replay_since: str | None = None  # replay models fetched since then: the unfinished crawl's own
    since: str | None = None  # the last complete run's start: a refresh stops at older models
    outcome: str | None = None  # how the last run ended
    failed: bool = False  # a page request of the unfinished walk failed


def load_walk(url: str, key: str, full: bool, margin: timedelta = timedelta(minutes=10)) -> Walk:
    """The state of the walk with this key: fresh, refreshing after a complete run, or unfinished."""
    walk = Walk()
    if not database_exists(url):
        return walk
    engine = open_engine(url)
    try:
        with engine.connect() as conn:
            runs = conn.execute(
                select(crawl_runs.c.started_at, crawl_runs.c.outcome).where(crawl_runs.c.crawl_key == key).order_by(crawl_runs.c.id)
            ).all()
            complete = [started for started, outcome in runs if outcome in COMPLETE]
            if complete and not full:
                mark = datetime.strptime(complete[-1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) - margin
                walk.since = mark.strftime("%Y-%m-%dT%H:%M:%SZ")
            unfinished = [started for started, outcome in runs[len(runs) - _tail(runs) :]]
            if unfinished:
                walk.outcome = runs[-1][1]
                walk.replay_since = unfinished[0]
                walk.next_url = conn.execute(select(walk_state.c.next_url).where(walk_state.c.crawl_key == key)).scalar()
                walk.failed = bool(conn.execute(select(failures.c.id).where(failures.c.crawl_key == key).limit(1)).first())
    finally:
        engine.dispose()
    return walk


def _tail(runs: list[Any]) -> int:
    """How many runs at the end have not completed: the unfinished crawl, paused or killed."""
    count = 0
    for _started, outcome in reversed(runs):
        if outcome in COMPLETE:
            break
        count += 1
    return count


def replay_since(url: str, since: str) -> Iterator[StoredModelItem | StoredEdgeItem]:
    """Models (and their edges) an unfinished walk stored, streamed, so feeds come out whole."""
    engine = open_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execution_options(yield_per=trees.CHUNK).execute(select(models).where(models.c.fetched_at >= since))
            for batch in rows.mappings().partitions():
                ids = [row["id"] for row in batch]
                yield from (StoredModelItem(**row) for row in batch)
                yield from (StoredEdgeItem(**row) for row in _rows(conn, edges, edges.c.child_id, ids))
    finally:
        engine.dispose()
