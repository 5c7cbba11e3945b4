"""Where the database is and how to reach it: URL, one engine per process, tables in place."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.schema import CreateIndex

from hfspider.db.schema import metadata

#: Backends whose upsert dialect the store speaks.
BACKENDS = ("sqlite", "postgresql")
#: Any fixed number: the PostgreSQL advisory lock that serialises creating the tables.
_SCHEMA_LOCK = 0x68667370


class DatabaseError(Exception):
    """The database cannot be used; the message is one line saying what to do."""


def database_url(settings: Any) -> str:
    """``HFSPIDER_DB_URL``, else ``hfspider.sqlite`` in ``HFSPIDER_OUTPUT``."""
    return settings.get("HFSPIDER_DB_URL") or f"sqlite:///{Path(settings.get('HFSPIDER_OUTPUT')) / 'hfspider.sqlite'}"


def shown(url: str) -> str:
    """The URL as it may appear in a message: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def check_url(url: str) -> None:
    """Refuse a URL the store cannot write to, before anything is crawled."""
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        example = "sqlite:///out.sqlite or postgresql+psycopg://user@host/db"
        raise DatabaseError(f"HFSPIDER_DB_URL: {url!r} is not a database URL; e.g. {example}") from None
    if backend not in BACKENDS:
        raise DatabaseError(f"HFSPIDER_DB_URL: {backend} is not supported; use a sqlite:/// or postgresql:// URL")


def exists(url: str) -> bool:
    """False only for a SQLite file that is not there yet (opening it would create it)."""
    parsed = make_url(url)
    return parsed.get_backend_name() != "sqlite" or not parsed.database or Path(parsed.database).exists()


def one_line(error: BaseException) -> str:
    """The first line of a database error: the driver's message without SQL or parameters."""
    return (str(error).splitlines() or [type(error).__name__])[0][:300]


_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def engine_for(url: str) -> Engine:
    """The process's engine for ``url``, created (with its tables) on first use."""
    with _lock:
        if url not in _engines:
            _engines[url] = _create(url)
        return _engines[url]


def dispose(url: str | None = None) -> None:
    """Close the pooled connections of ``url``'s engine (of every engine without one); the next use opens
    new ones. SQLite folds its write-ahead log into the file when the last connection closes."""
    with _lock:
        engines = [_engines.pop(url, None)] if url is not None else [_engines.pop(u) for u in list(_engines)]
    for engine in engines:
        if engine is not None:
            engine.dispose()


def _create(url: str) -> Engine:
    check_url(url)
    parsed = make_url(url)
    try:
        if parsed.get_backend_name() == "sqlite" and parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # A database that stops answering must fail a write quickly, not freeze the crawl for minutes.
        options: dict[str, Any] = {"connect_args": {"connect_timeout": 10}} if parsed.get_backend_name() == "postgresql" else {}
        if parsed.get_backend_name() == "sqlite":
            options["json_serializer"] = compact_json
        engine = create_engine(parsed, pool_pre_ping=True, **options)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        _create_tables(engine)
    except (OSError, SQLAlchemyError) as error:
        raise DatabaseError(f"cannot open the database {shown(url)}: {one_line(error)}") from None
    return engine


def compact_json(value: Any) -> str:
    """JSON text for SQLite's JSON columns, compact, by orjson: a tenth of the standard library's time, once
    per model's tags and card. What orjson refuses (integers past 64 bits, lone surrogates) the standard
    library writes."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def _create_tables(engine: Engine) -> None:
    """``create_all``, safe when several crawls start at once on an empty database, plus the columns
    added since a database was made (``create_all`` adds tables, never columns)."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
            metadata.create_all(conn)
            _add_new_columns(conn)
        return
    try:
        metadata.create_all(engine)
    except OperationalError as error:  # another process created a table between the check and the CREATE
        if "already exists" not in str(error):
            raise
        metadata.create_all(engine)
    with engine.begin() as conn:
        _add_new_columns(conn)


def _add_new_columns(conn: Connection) -> None:
    for table in metadata.sorted_tables:
        present = {column["name"] for column in inspect(conn).get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                kind = column.type.compile(dialect=conn.dialect)
                conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))
        for index in table.indexes:
            conn.execute(CreateIndex(index, if_not_exists=True))


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL: readers are never blocked by the crawl, and a killed process loses no committed batch.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")  # another process's write: wait for it, briefly
    cursor.execute("PRAGMA cache_size=-131072")  # 128 MB: upserts into a million-row table stay in memory
    # Fold the log into the file every 30,000 pages (120 MB), not SQLite's 1,000: a page upserts touch
    # again and again is copied once per fold, and at a million models the folds took a tenth of the writing.
    cursor.execute("PRAGMA wal_autocheckpoint=30000")
    cursor.close()
