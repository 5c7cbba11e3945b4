"""Every query hfspider runs, named: the only place that speaks SQL besides the schema.

Callers get plain values and dicts back, never SQLAlchemy objects, so nothing
outside ``hfspider.db`` imports SQLAlchemy.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import JSON, Connection, MetaData, Table, Text, cast, column, delete, func, insert, select, table, text, update
from sqlalchemy import inspect as inspect_db
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from hfspider.db.engine import DatabaseError, engine_for, exists, one_line, shown
from hfspider.db.schema import (
    cards,
    crawl_runs,
    crawl_state,
    edges,
    failures,
    links,
    metadata,
    models,
    now,
    page_facts,
    tree_members,
    walk_state,
)
from hfspider.hub.lineage import SOURCE_CARD, SOURCE_LISTING
from hfspider.outcome import COMPLETE

#: The stats key under which a complete walk of the whole Hub describes the index it left.
INDEX_STAT = "hfspider/index"
CHUNK = 500  # ids per IN (...) clause: well inside every database's parameter limit
_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


T = TypeVar("T")


def chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    """Slices of at most CHUNK values: for IN (...) lists and multi-row inserts."""
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


@dataclass(frozen=True)
class Rows:
    """Rows as SQLite's driver binds them: a tuple per row in ``columns``' order, JSON columns as JSON text.

    How the writer process hands a batch over (``hfspider.db.writer``): a dict per row, and SQLAlchemy's
    bind processors, cost more than SQLite's own work.
    """

    columns: tuple[str, ...]
    values: list[tuple[Any, ...]]

    def column(self, name: str) -> list[Any]:
        at = self.columns.index(name)
        return [row[at] for row in self.values]

    def dicts(self, table: Table) -> list[dict[str, Any]]:
        """The rows as dicts of values, JSON read back: for the row-by-row path of a refused batch."""
        json_columns = {name for name in self.columns if isinstance(table.c[name].type, JSON)}
        return [
            {
                name: json.loads(value) if name in json_columns and value is not None else value
                for name, value in zip(self.columns, row, strict=True)
            }
            for row in self.values
        ]


def upsert(conn: Connection, table: Table, rows: list[dict[str, Any]] | Rows) -> None:
    """Insert rows, replacing those whose primary key is already stored."""
    if not (rows.values if isinstance(rows, Rows) else rows):
        return
    stmt = _upsert_statement(conn.dialect.name, table)
    if isinstance(rows, Rows):
        sql, names, _processors = _driver_form(conn.dialect, stmt, rows.columns)
        values = rows.values
        if names != rows.columns:
            at = [rows.columns.index(name) for name in names]
            values = [tuple([row[i] for i in at]) for row in values]
        conn.exec_driver_sql(sql, values)
        return
    if conn.dialect.paramstyle != "qmark":
        conn.execute(stmt, rows)
        return
    # SQLite: the same statement, compiled once, and each row's values bound by the driver. SQLAlchemy's
    # per-row parameter handling cost more than SQLite's own work (a third of a whole-Hub listing's CPU).
    sql, names, processors = _driver_form(conn.dialect, stmt, tuple(rows[0]))
    try:
        params = [tuple([bind(row[name]) if bind else row[name] for name, bind in zip(names, processors, strict=True)]) for row in rows]
    except KeyError:  # rows of different shapes: SQLAlchemy sorts them out (or says which value is missing)
        conn.execute(stmt, rows)
        return
    conn.exec_driver_sql(sql, params)


@functools.cache
def _upsert_statement(dialect: str, table: Table) -> Any:
    keys = [c.name for c in table.primary_key.columns]
    stmt = _INSERTS[dialect](table)
    changes = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys and not c.info.get("insert_only")}
    return stmt.on_conflict_do_update(index_elements=keys, set_=changes) if changes else stmt.on_conflict_do_nothing(index_elements=keys)


@functools.lru_cache(maxsize=64)
def _driver_form(dialect: Any, stmt: Any, columns: tuple[str, ...]) -> tuple[str, tuple[str, ...], tuple[Callable[[Any], Any] | None, ...]]:
    """``stmt`` for the rows' columns as the driver's SQL, its parameters' names in order, and the
    column types' own bind processors (JSON to text, for one)."""
    compiled = stmt.compile(dialect=dialect, column_keys=list(columns))
    names = tuple(compiled.positiontup)
    table = stmt.table
    processors = tuple(table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)
    return str(compiled), names, processors


F = TypeVar("F", bound=Callable[..., Any])


def _translated(method: F) -> F:
    """SQLAlchemy's errors leave this layer as one-line ``DatabaseError``s."""
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def generator(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from method(*args, **kwargs)
            except SQLAlchemyError as error:
                raise DatabaseError(f"database error: {one_line(error)}") from None

        return generator  # type: ignore[return-value]

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except SQLAlchemyError as error:
            raise DatabaseError(f"database error: {one_line(error)}") from None

    return call  # type: ignore[return-value]


@dataclass
class Listing:
    """A parent whose children were listed in full: ``children`` is every id the listing showed."""

    parent: str
    relation: str | None  # the listing was filtered to this relation
    children: frozenset[str]


@dataclass
class Batch:
    """What one transaction writes: items, and the crawl state they complete."""

    key: str
    models: list[dict[str, Any]] | Rows = field(default_factory=list)
    edges: list[dict[str, Any]] | Rows = field(default_factory=list)
    listings: list[Listing] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    next_page: str | None = None
    # What the website and the files add: rows for page_facts and cards, link lists for links.
    page_facts: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)  # {model_id, targets: {kind: [id]}, complete: (kind,)}
    cards: list[dict[str, Any]] = field(default_factory=list)

    @property
    def side_rows(self) -> int:
        return len(self.page_facts) + len(self.links) + len(self.cards)


@dataclass(frozen=True)
class Run:
    id: int
    outcome: str
    started_at: str


@dataclass(frozen=True)
class IndexInfo:
    """A stored index of the whole Hub: when its walk began, how many models it listed, and whether
    it kept every model's row (``all``) or only the families' (``members``)."""

    started_at: str
    models: int
    rows: str


@dataclass
class Summary:
    models: int
    relations: dict[str, int]
    trees: dict[str, Counter[int]]
    licenses: dict[str, list[tuple[str | None, int]]]
    last_run: dict[str, Any] | None
    #: Rows of page_facts, links and cards.
    side: dict[str, int] = field(default_factory=dict)
    #: (model, relation, count its page shows, children stored) where the two differ.
    audit: list[tuple[str, str, int, int]] = field(default_factory=list)


class Database:
    """One database, reached through the process's single engine for its URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = engine_for(url)
        self._lock: Connection | None = None

    @property
    def folder(self) -> Path | None:
        """The folder of a SQLite file, else None."""
        parsed = make_url(self.url)
        return Path(parsed.database).parent if parsed.get_backend_name() == "sqlite" and parsed.database else None

    @_translated
    def lock_crawl(self, key: str, shared: bool = False) -> bool:
        """Hold PostgreSQL's session lock on a crawl key until ``unlock_crawl`` or the end of the process.

        False when another live session holds it (``shared``: the workers of one shared crawl hold it
        together, and a single-process crawl of the same key is refused while they do, and the other
        way round). A SQLite file is locked through its folder instead.
        """
        if self.engine.dialect.name != "postgresql" or self._lock is not None:
            return True
        conn = self.engine.connect()
        function = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
        if conn.execute(text(f"SELECT {function}(:key)"), {"key": int(key[:15], 16)}).scalar():
            conn.commit()
            self._lock = conn  # kept open: the lock lives as long as this session
            return True
        conn.close()
        return False

    def unlock_crawl(self) -> None:
        if self._lock is not None:
            self._lock.close()  # ending the session releases its advisory locks
            self._lock = None

    @staticmethod
    def exists(url: str) -> bool:
        return exists(url)

    @property
    def shown(self) -> str:
        return shown(self.url)

    def _read(self) -> Connection:
        return self.engine.connect()

    # -- the crawl's writes -------------------------------------------------

    @_translated
    def write_batch(self, batch: Batch) -> dict[str, str]:
        """Write a batch in one transaction; returns the models the database refused, with why.

        A model's edges are replaced by those read now, and a parent listed in full loses the stored
        children its listing no longer shows. If the database refuses a value (not a lost connection),
        each model is written on its own and the ones it refuses are left out, with the listings
        that showed them and the walk's page, so that the same command asks for them again.
        """
        try:
            with self.engine.begin() as conn:
                self._write_items(conn, batch.models, batch.edges)
                self._write_side(conn, batch)
                self._write_state(conn, batch)
            return {}
        except (OperationalError, InterfaceError):
            raise
        except SQLAlchemyError:
            pass
        rejected: dict[str, str] = {}
        by_child: dict[str, list[dict[str, Any]]] = {}
        for edge in batch.edges.dicts(edges) if isinstance(batch.edges, Rows) else batch.edges:
            by_child.setdefault(edge["child_id"], []).append(edge)
        for row in batch.models.dicts(models) if isinstance(batch.models, Rows) else batch.models:
            try:
                with self.engine.begin() as conn:
                    self._write_items(conn, [row], by_child.pop(row["id"], []))
            except (OperationalError, InterfaceError):
                raise
            except SQLAlchemyError as error:
                rejected[row["id"]] = one_line(getattr(error, "orig", None) or error)
        with self.engine.begin() as conn:
            upsert(conn, edges, [edge for group in by_child.values() for edge in group])  # edges whose model came earlier
            kept = Batch(batch.key, listings=[listing for listing in batch.listings if not listing.children & rejected.keys()])
            kept.next_page = None if rejected else batch.next_page
            kept.failures = batch.failures + [
                {"url": "", "model_id": model, "status": None, "error": f"the database refused it: {why}", "failed_at": now()}
                for model, why in rejected.items()
            ]
            self._write_side(conn, batch)
            self._write_state(conn, kept)
        return rejected

    @staticmethod
    def _write_items(conn: Connection, rows: list[dict[str, Any]] | Rows, links: list[dict[str, Any]] | Rows) -> None:
        """Models, with the edges their own record states replaced by those read now. An edge only a
        parent's listing showed stays until that parent's complete listing no longer shows the child.
        ``Rows`` come with ``first_seen_at`` (their ``fetched_at``); dicts get it here."""
        if isinstance(rows, Rows):
            ids = rows.column("id")
        else:
            for row in rows:  # the batch's own copies: set in place, not copied again
                row["first_seen_at"] = row.get("fetched_at")
            ids = [row["id"] for row in rows]
        upsert(conn, models, rows)
        for chunk in chunks(ids):
            conn.execute(delete(edges).where(edges.c.child_id.in_(chunk), edges.c.source != SOURCE_LISTING))
        upsert(conn, edges, links)

    @staticmethod
    def _write_side(conn: Connection, batch: Batch) -> None:
        """Page facts and cards replace a model's row; a complete link list replaces the model's links of its kind."""
        upsert(conn, page_facts, list({row["model_id"]: row for row in batch.page_facts}.values()))
        upsert(conn, cards, list({row["model_id"]: row for row in batch.cards}.values()))
        for found in batch.links:
            if found["complete"]:
                conn.execute(delete(links).where(links.c.model_id == found["model_id"], links.c.kind.in_(found["complete"])))
        rows = {(f["model_id"], kind, t): None for f in batch.links for kind, targets in f["targets"].items() for t in targets}
        for chunk in chunks([{"model_id": m, "kind": k, "target": t} for m, k, t in rows]):
            upsert(conn, links, list(chunk))

    def _write_state(self, conn: Connection, batch: Batch) -> None:
        self._drop_unlisted(conn, batch.listings)
        marked = {listing.parent: None for listing in batch.listings}
        upsert(conn, crawl_state, [{"crawl_key": batch.key, "model_id": parent} for parent in marked])
        if batch.failures:
            conn.execute(insert(failures), [{**f, "crawl_key": batch.key} for f in batch.failures])
        if batch.next_page:
            upsert(conn, walk_state, [{"crawl_key": batch.key, "next_url": batch.next_page}])

    @staticmethod
    def _drop_unlisted(conn: Connection, listings: list[Listing]) -> None:
        """A child that left a parent listed in full keeps no edge to it (edges from its own card stay:
        the Hub does not list those). One query for the whole batch's parents."""
        by_parent: dict[str, list[Listing]] = {}
        for listing in listings:
            by_parent.setdefault(listing.parent, []).append(listing)
        stale: list[tuple[str, str, str]] = []
        for chunk in chunks(sorted(by_parent)):
            query = select(edges.c.child_id, edges.c.parent_id, edges.c.relation).where(
                edges.c.parent_id.in_(chunk), edges.c.source != SOURCE_CARD
            )
            for child, parent, relation in conn.execute(query):
                if any(child not in listing.children and listing.relation in (None, relation) for listing in by_parent[parent]):
                    stale.append((child, parent, relation))
        for child, parent, relation in stale:
            conn.execute(delete(edges).where(edges.c.child_id == child, edges.c.parent_id == parent, edges.c.relation == relation))

    @_translated
    def start_run(self, spider: str, key: str, arguments: dict[str, Any], started_at: str) -> int:
        with self.engine.begin() as conn:
            values = {"spider": spider, "crawl_key": key, "arguments": arguments, "started_at": started_at, "outcome": "running"}
            return int(conn.execute(insert(crawl_runs).values(**values)).inserted_primary_key[0])

    @_translated
    def finish_run(self, run_id: int, key: str, outcome: str, finished_at: str, stats: dict[str, Any], clear: bool = True) -> None:
        """Record how the run ended; a complete crawl's resume state is cleared with it (unless ``clear`` is
        False: a worker of a shared crawl that another worker completed)."""
        with self.engine.begin() as conn:
            if clear and outcome in COMPLETE:
                for table in (crawl_state, failures, walk_state):
                    conn.execute(delete(table).where(table.c.crawl_key == key))
            conn.execute(update(crawl_runs).where(crawl_runs.c.id == run_id).values(finished_at=finished_at, outcome=outcome, stats=stats))

    @_translated
    def store_members(self, root: str, depth: dict[str, int]) -> None:
        """Replace the root's rows in ``tree_members``."""
        rows = [{"root_id": root, "model_id": m, "depth": d} for m, d in depth.items()]
        with self.engine.begin() as conn:
            conn.execute(delete(tree_members).where(tree_members.c.root_id == root))
            for chunk in chunks(rows):
                conn.execute(insert(tree_members), list(chunk))

    # -- what a crawl resumes from ------------------------------------------

    @_translated
    def last_index(self) -> IndexInfo | None:
        """The newest complete walk of the whole Hub stored here (a full walk or a refresh), if any."""
        query = select(crawl_runs.c.stats).where(crawl_runs.c.outcome.in_(sorted(COMPLETE))).order_by(crawl_runs.c.id.desc())
        with self._read() as conn:
            for (stats,) in conn.execute(query):
                info = (stats or {}).get(INDEX_STAT) if isinstance(stats, dict) else None
                if isinstance(info, dict) and {"started_at", "models", "rows"} <= info.keys():
                    return IndexInfo(str(info["started_at"]), int(info["models"]), str(info["rows"]))
        return None

    @_translated
    def count_models(self, since: str | None = None) -> int:
        """Models on the Hub as far as this database knows; with ``since``, those stored or updated
        since then (what a walk that began then has listed)."""
        query = select(func.count()).select_from(models).where(models.c.deleted_at.is_(None))
        if since is not None:
            query = query.where(models.c.fetched_at >= since)
        with self._read() as conn:
            return int(conn.execute(query).scalar() or 0)

    @_translated
    def prune(self, since: str) -> int:
        """Remove the rows first stored since then of models in no stored tree; their edges stay."""
        members = select(tree_members.c.model_id)
        with self.engine.begin() as conn:
            result = conn.execute(delete(models).where(models.c.first_seen_at >= since, models.c.id.not_in(members)))
            return int(result.rowcount or 0)

    @_translated
    def runs(self, key: str) -> list[Run]:
        """Every run of the crawl with this key, oldest first."""
        query = select(crawl_runs.c.id, crawl_runs.c.outcome, crawl_runs.c.started_at)
        with self._read() as conn:
            rows = conn.execute(query.where(crawl_runs.c.crawl_key == key).order_by(crawl_runs.c.id)).all()
        return [Run(*row) for row in rows]

    @_translated
    def listed(self, key: str) -> set[str]:
        with self._read() as conn:
            return set(conn.execute(select(crawl_state.c.model_id).where(crawl_state.c.crawl_key == key)).scalars())

    @_translated
    def failed_models(self, key: str, since: str = "") -> set[str]:
        """Models a request failed for, recorded at or after ``since``."""
        query = select(failures.c.model_id).where(
            failures.c.crawl_key == key, failures.c.model_id.is_not(None), failures.c.failed_at >= since
        )
        with self._read() as conn:
            return set(conn.execute(query).scalars())

    @_translated
    def has_failures(self, key: str, since: str = "") -> bool:
        """Whether a request failed at or after ``since``."""
        query = select(failures.c.id).where(failures.c.crawl_key == key, failures.c.failed_at >= since).limit(1)
        with self._read() as conn:
            return conn.execute(query).first() is not None

    @_translated
    def next_page(self, key: str) -> str | None:
        with self._read() as conn:
            return conn.execute(select(walk_state.c.next_url).where(walk_state.c.crawl_key == key)).scalar()

    @_translated
    def members(self, ids: Sequence[str]) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
        """Stored models and their edges, chunk by chunk."""
        with self._read() as conn:
            for chunk in chunks(ids):
                found = [dict(r) for r in conn.execute(select(models).where(models.c.id.in_(chunk))).mappings()]
                yield found, self._edges_of(conn, [row["id"] for row in found])

    @_translated
    def fetched_since(self, since: str) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
        """Models (and their edges) stored since ``since``, streamed."""
        with self._read() as conn:
            rows = conn.execution_options(yield_per=CHUNK).execute(select(models).where(models.c.fetched_at >= since))
            for batch in rows.mappings().partitions():
                found = [dict(r) for r in batch]
                with self._read() as other:
                    yield found, self._edges_of(other, [row["id"] for row in found])

    @staticmethod
    def _edges_of(conn: Connection, ids: list[str]) -> list[dict[str, Any]]:
        return [dict(r) for chunk in chunks(ids) for r in conn.execute(select(edges).where(edges.c.child_id.in_(chunk))).mappings()]

    @_translated
    def with_rows(self, table: str, ids: Sequence[str], kind: str | None = None) -> set[str]:
        """Those of ``ids`` that have a row in ``cards``, or links of ``kind``: what a resumed crawl need not fetch again."""
        source = {"cards": cards, "links": links}[table]
        found: set[str] = set()
        with self._read() as conn:
            for chunk in chunks(ids):
                query = select(source.c.model_id).where(source.c.model_id.in_(chunk)).distinct()
                if kind is not None:
                    query = query.where(links.c.kind == kind)
                found.update(conn.execute(query).scalars())
        return found

    # -- trees --------------------------------------------------------------

    @_translated
    def resolve_root(self, root: str) -> str | None:
        """The stored id for a root as typed; the Hub's ids are case-insensitive."""
        with self._read() as conn:
            found = conn.execute(select(models.c.id).where(models.c.id == root)).scalar()
            return found or conn.execute(select(models.c.id).where(func.lower(models.c.id) == root.lower()).limit(1)).scalar()

    @_translated
    def stored(self, ids: Sequence[str]) -> set[str]:
        """Those of ``ids`` stored and still on the Hub."""
        found: set[str] = set()
        with self._read() as conn:
            for chunk in chunks(ids):
                query = select(models.c.id).where(models.c.id.in_(chunk), models.c.deleted_at.is_(None))
                found.update(conn.execute(query).scalars())
        return found

    @_translated
    def mark_gone(self, since: str) -> int:
        """After a complete walk of the whole Hub that began at ``since``: models it did not list are gone."""
        with self.engine.begin() as conn:
            stale = models.c.fetched_at < since
            result = conn.execute(update(models).where(stale, models.c.deleted_at.is_(None)).values(deleted_at=now()))
            return int(result.rowcount or 0)

    @_translated
    def links(self, ids: Sequence[str], walk: str, relations: Iterable[str] | None) -> list[tuple[str, str, str]]:
        """Edges leaving ``ids`` towards their children (``down``) or parents (``up``), as (from, to, relation).

        The Hub finds children by their tags only; an edge read from a child's card is followed
        upward, never down, so a tree is the same from a crawl and from an index. Edges to a model
        the Hub no longer lists are left out: a walk does not go on through it.
        """
        here, there = (edges.c.parent_id, edges.c.child_id) if walk == "down" else (edges.c.child_id, edges.c.parent_id)
        found: list[tuple[str, str, str]] = []
        with self._read() as conn:
            for chunk in chunks(ids):
                gone = select(models.c.id).where(models.c.deleted_at.is_not(None))
                query = select(here, there, edges.c.relation).where(here.in_(chunk), there.not_in(gone))
                if walk == "down":
                    query = query.where(edges.c.source != SOURCE_CARD)
                if relations is not None:
                    query = query.where(edges.c.relation.in_(list(relations)))
                found += [(o, t, r) for o, t, r in conn.execute(query.order_by(here, there))]
            if walk == "up":  # a card may name its parent in another case than the Hub spells it
                spelled = self._as_stored(conn, {target for _o, target, _r in found})
                found = [(o, spelled.get(t, t), r) for o, t, r in found]
        return found

    @staticmethod
    def _as_stored(conn: Connection, ids: set[str]) -> dict[str, str]:
        """For ids not stored as written, the stored id that differs only in case."""
        exact: set[str] = set()
        for chunk in chunks(sorted(ids)):
            exact.update(conn.execute(select(models.c.id).where(models.c.id.in_(chunk))).scalars())
        lowered = {i.lower(): i for i in ids - exact}
        spelled: dict[str, str] = {}
        for chunk in chunks(sorted(lowered)):
            for stored in conn.execute(select(models.c.id).where(func.lower(models.c.id).in_(chunk))).scalars():
                spelled[lowered[stored.lower()]] = stored
        return spelled

    # -- reports ------------------------------------------------------------

    @_translated
    def summary(self) -> Summary:
        with self._read() as conn:
            n_models = conn.execute(select(func.count()).select_from(models)).scalar() or 0
            relations = {r: n for r, n in conn.execute(select(edges.c.relation, func.count()).group_by(edges.c.relation)).all()}
            rows = conn.execute(
                select(tree_members.c.root_id, tree_members.c.depth, func.count()).group_by(tree_members.c.root_id, tree_members.c.depth)
            ).all()
            trees: dict[str, Counter[int]] = {}
            for root, depth, count in rows:
                trees.setdefault(root, Counter())[depth] = count
            licenses = {}
            for root in trees:
                licenses[root] = [
                    (lic, n)
                    for lic, n in conn.execute(
                        select(models.c.license, func.count())
                        .join(tree_members, tree_members.c.model_id == models.c.id)
                        .where(tree_members.c.root_id == root)
                        .group_by(models.c.license)
                        .order_by(func.count().desc(), models.c.license)
                        .limit(3)
                    ).all()
                ]
            last = conn.execute(select(crawl_runs).order_by(crawl_runs.c.id.desc()).limit(1)).mappings().first()
            side = {table.name: conn.execute(select(func.count()).select_from(table)).scalar() or 0 for table in (page_facts, links, cards)}
            audit = self._audit(conn)
        return Summary(n_models, relations, trees, licenses, dict(last) if last else None, side, audit)

    #: page_facts columns by the relation they count.
    _PANEL = {"finetune": "finetunes", "adapter": "adapters", "quantized": "quantizations", "merge": "merges"}

    def _audit(self, conn: Connection) -> list[tuple[str, str, int, int]]:
        """Models whose page's Model tree counts differ from the children stored for them (a relation
        the panel does not show counts 0; a panel the page left to a browser is not compared)."""
        shown = conn.execute(select(page_facts).where(func.coalesce(page_facts.c.unseen, "").not_like("%ModelTree%"))).mappings().all()
        stored: dict[tuple[str, str], int] = {}
        for chunk in chunks([row["model_id"] for row in shown]):
            query = (
                select(edges.c.parent_id, edges.c.relation, func.count())
                .where(edges.c.parent_id.in_(chunk), edges.c.source != SOURCE_CARD, edges.c.child_id != edges.c.parent_id)
                .group_by(edges.c.parent_id, edges.c.relation)
            )
            stored.update({(parent, relation): n for parent, relation, n in conn.execute(query)})
        return [
            (row["model_id"], relation, row[column] or 0, stored.get((row["model_id"], relation), 0))
            for row in shown
            for relation, column in self._PANEL.items()
            if (row[column] or 0) != stored.get((row["model_id"], relation), 0)
        ]

    # -- analysis and export: streamed, so a million models never sit in memory as rows --

    @_translated
    def family_roots(self, roots: Sequence[str]) -> dict[str, str | None]:
        """Each root as typed -> the root stored in ``tree_members`` (any case), or None."""
        found: dict[str, str | None] = {}
        with self._read() as conn:
            for root in roots:
                query = select(tree_members.c.root_id).limit(1)
                exact = conn.execute(query.where(tree_members.c.root_id == root)).scalar()
                found[root] = exact or conn.execute(query.where(func.lower(tree_members.c.root_id) == root.lower())).scalar()
        return found

    @_translated
    def family_members(self, roots: Sequence[str] | None) -> dict[str, list[tuple[str, int]]]:
        """root -> [(model, depth)] from ``tree_members``, for these roots or all of them."""
        query = select(tree_members.c.root_id, tree_members.c.model_id, tree_members.c.depth)
        if roots is not None:
            query = query.where(tree_members.c.root_id.in_(list(roots)))
        found: dict[str, list[tuple[str, int]]] = {}
        with self._read() as conn:
            for root, model, depth in conn.execution_options(yield_per=10 * CHUNK).execute(query.order_by(tree_members.c.root_id)):
                found.setdefault(root, []).append((model, depth))
        return found

    @_translated
    def analysis_models(self, roots: Sequence[str] | None) -> Iterator[tuple[Any, ...]]:
        """(id, tags as JSON text, pipeline_tag, library_name, created_at, downloads, likes) per model the
        Hub still lists, for every stored model or the members of these roots' families. Tuples and raw
        JSON text: a million rows come through here."""
        query = select(
            models.c.id,
            cast(models.c.tags, Text),
            models.c.pipeline_tag,
            models.c.library_name,
            models.c.created_at,
            models.c.downloads,
            models.c.likes,
        ).where(models.c.deleted_at.is_(None))
        if roots is not None:
            query = query.where(models.c.id.in_(select(tree_members.c.model_id).where(tree_members.c.root_id.in_(list(roots)))))
        with self._read() as conn:
            for batch in conn.execution_options(yield_per=10 * CHUNK).execute(query).partitions():
                yield from (tuple(row) for row in batch)

    def _has_cards(self) -> bool:
        """Whether cards were ever fetched (``-a cards=1``): the table holds rows (every database has it)."""
        if not inspect_db(self.engine).has_table("cards"):
            return False
        with self._read() as conn:
            return conn.execute(select(cards.c.model_id).limit(1)).first() is not None

    @_translated
    def card_texts(self) -> Iterator[tuple[str, str | None]] | None:
        """(model id, card text) per stored card; None when cards were never fetched (no table)."""
        return self._card_rows() if self._has_cards() else None

    @_translated
    def _card_rows(self) -> Iterator[tuple[str, str | None]]:
        cards = table("cards", column("model_id"), column("text"))
        with self._read() as conn:
            for batch in conn.execution_options(yield_per=10 * CHUNK).execute(select(cards.c.model_id, cards.c.text)).partitions():
                yield from ((model, text_) for model, text_ in batch)

    @_translated
    def export_tables(self) -> list[str]:
        """The tables an export writes: the map itself, and cards when they were fetched."""
        return ["models", "edges", "tree_members", *(["cards"] if self._has_cards() else [])]

    @_translated
    def table_columns(self, name: str) -> list[tuple[str, str]]:
        """(column, kind) of an exported table; kind is ``text``, ``integer``, ``real``, ``boolean`` or ``json`` (JSON text)."""
        found = metadata.tables[name] if name != "cards" else self._reflected("cards")
        kinds: list[tuple[str, str]] = []
        for col in found.columns:
            if isinstance(col.type, JSON):
                kind = "json"
            else:
                try:
                    python = col.type.python_type
                except NotImplementedError:
                    python = str
                kind = {bool: "boolean", int: "integer", float: "real"}.get(python, "text")
            kinds.append((col.name, kind))
        return kinds

    @_translated
    def table_rows(self, name: str) -> Iterator[list[tuple[Any, ...]]]:
        """A table's rows in key order, a batch at a time, as tuples in ``table_columns`` order;
        JSON columns come as their JSON text, neither decoded nor encoded again."""
        found = metadata.tables[name] if name != "cards" else self._reflected("cards")
        order = list(found.primary_key.columns) or list(found.columns)[:1]
        columns = [cast(c, Text) if isinstance(c.type, JSON) else c for c in found.columns]
        with self._read() as conn:
            result = conn.execution_options(yield_per=10 * CHUNK).execute(select(*columns).order_by(*order))
            for batch in result.partitions():
                yield [tuple(row) for row in batch]

    @_translated
    def graph_nodes(self) -> Iterator[list[tuple[Any, ...]]]:
        """(id, license, pipeline_tag, library_name, downloads, likes, created_at) per model, a batch at a time."""
        names = ("id", "license", "pipeline_tag", "library_name", "downloads", "likes", "created_at")
        with self._read() as conn:
            result = conn.execution_options(yield_per=10 * CHUNK).execute(select(*(models.c[n] for n in names)).order_by(models.c.id))
            for batch in result.partitions():
                yield [tuple(row) for row in batch]

    def _reflected(self, name: str) -> Table:
        return Table(name, MetaData(), autoload_with=self.engine)

    @_translated
    def graph_edges(self) -> Iterator[list[tuple[str, str, str, str]]]:
        """(child, parent, relation, source) for edges whose parent is stored, grouped by pair, a batch at a time."""
        query = (
            select(edges.c.child_id, edges.c.parent_id, edges.c.relation, edges.c.source)
            .where(edges.c.parent_id.in_(select(models.c.id)), edges.c.child_id != edges.c.parent_id)
            .order_by(edges.c.child_id, edges.c.parent_id, edges.c.relation)
        )
        with self._read() as conn:
            for batch in conn.execution_options(yield_per=10 * CHUNK).execute(query).partitions():
                yield [tuple(row) for row in batch]  # type: ignore[misc]


def open_database(url: str) -> Database:
    """The database at ``url``, with its tables; ``DatabaseError`` with one line if it cannot be used."""
    database = Database(url)
    try:
        with database.engine.connect():
            pass
    except SQLAlchemyError as error:
        raise DatabaseError(f"cannot open the database {shown(url)}: {one_line(error)}") from None
    return database
