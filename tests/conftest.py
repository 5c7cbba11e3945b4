"""Shared test helpers: the real-data folder, a replica per test, and running crawls."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from scrapy.crawler import Crawler
from scrapy.settings import Settings
from scrapy.utils.test import get_reactor_settings
from sqlalchemy import create_engine, select, text

from hfspider.db.schema import edges, models, tree_members

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data" / "real-hub-sample.jsonl"

needs_real_data = pytest.mark.skipif(not SHARED_DATA.exists(), reason="../shared/data is not beside the project")


@pytest.fixture(scope="session")
def real_records() -> list[dict[str, Any]]:
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not beside the project")
    return [json.loads(line) for line in SHARED_DATA.read_text(encoding="utf-8").splitlines() if line.strip()]


UNICODE_ID = "bad/unicode-card"
_LINEAGE = ["base_model:bad/root", "base_model:finetune:bad/root"]


@pytest.fixture
def hostile_records() -> list[dict[str, Any]]:
    """A family whose records carry everything the Hub should not send: wrong types, huge tag lists, NUL,
    NaN, lone surrogates, over-long free text, and ids huggingface_hub would refuse."""
    return [
        {"id": "bad/root", "tags": ["license:mit"]},
        {
            "id": "bad/types",
            "tags": [*_LINEAGE, 5, None, {"x": 1}],
            "downloads": "many",
            "likes": {"n": 1},
            "createdAt": 12,
            "lastModified": "not a date",
            "gated": ["auto"],
            "private": 0,
            "cardData": "just text",
            "safetensors": [1, 2],
            "library_name": 5,
            "pipeline_tag": {},
        },
        {"id": "bad/huge", "tags": _LINEAGE + [f"tag-{i}" for i in range(20_000)]},
        {"id": UNICODE_ID, "tags": _LINEAGE, "cardData": {"license": "MIT", "description": "日本語 😀 \u0000 end"}},
        {"id": "bad/grandchild", "tags": [f"base_model:{UNICODE_ID}", f"base_model:adapter:{UNICODE_ID}"]},
        {"id": "bad/long-author", "tags": _LINEAGE, "author": "a" * 300, "sha": "f" * 200},
        {"id": "bad/nan-card", "tags": _LINEAGE, "cardData": {"score": float("nan"), "note": "a\ud800b"}},
        {"id": "bad/ünïcödé-模型", "tags": _LINEAGE},
        {"id": "bad/under-a-bad-id", "tags": ["base_model:bad/ünïcödé-模型", "base_model:finetune:bad/ünïcödé-模型"]},
    ]


@dataclass
class CrawlResult:
    """What a ``scrapy crawl`` subprocess left behind."""

    returncode: int
    stdout: str
    stderr: str
    output: Path

    @property
    def db(self) -> Path:
        return self.output / "hfspider.sqlite"

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db) as conn:
            return conn.execute(query).fetchall()

    def feed(self, name: str) -> list[dict[str, Any]]:
        path = self.output / name
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def summary(output: Path) -> str:
    """What ``scrapy summary`` prints for the database under ``output``."""
    done = subprocess.run(
        [sys.executable, "-m", "scrapy", "summary", "-s", f"HFSPIDER_OUTPUT={output}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def crawl_command(
    output: Path,
    spider: str,
    *args: str,
    endpoint: str | None = None,
    env: dict[str, str] | None = None,
    settings: dict[str, Any] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The ``scrapy crawl`` command line and environment a user would run, writing under ``output``."""
    command = [sys.executable, "-m", "scrapy", "crawl", spider, "-s", f"HFSPIDER_OUTPUT={output}", "-s", "LOG_LEVEL=INFO"]
    for key, value in (settings or {}).items():
        command += ["-s", f"{key}={value}"]
    for arg in args:
        command += ["-a", arg]
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE"))}
    environment["HF_HOME"] = str(output.parent / "hf-home")  # no stray token from the machine
    if endpoint:
        environment["HF_ENDPOINT"] = endpoint
    environment.update(env or {})
    return command, environment


def crawl(output: Path, spider: str, *args: str, timeout: float = 300, **kwargs: Any) -> CrawlResult:
    """Run ``scrapy crawl`` the way a user does, in a subprocess, and wait for it."""
    command, environment = crawl_command(output, spider, *args, **kwargs)
    done = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=timeout, check=False)
    return CrawlResult(done.returncode, done.stdout, done.stderr, output)


def start_crawl(output: Path, spider: str, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
    """Start ``scrapy crawl`` in the background, its log going to ``output/../crawl-N.log``."""
    command, environment = crawl_command(output, spider, *args, **kwargs)
    return subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def run_crawl(tmp_path: Path) -> Iterator[Any]:
    counter = iter(range(1000))

    def run(*args: str, **kwargs: Any) -> CrawlResult:
        output = kwargs.pop("output", None) or tmp_path / f"out{next(counter)}"
        return crawl(output, kwargs.pop("spider", "model_tree"), *args, **kwargs)

    yield run


@pytest.fixture
def hub_crawler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Crawler]]:
    """Crawlers built in process as ``scrapy crawl`` builds them, up to (not including) the engine.

    ``get_crawler`` builds the extensions before there is a spider, but CrawlRun
    needs the spider's arguments, so the order here is ``Crawler.crawl``'s:
    project settings, the spider with its ``-a`` arguments, then the extensions.
    No reactor is installed (``get_reactor_settings``). Every crawler writes
    under ``tmp_path/output``, so a second one finds the first one's database.
    Each crawler stands for a run of its own process, one after the other: making
    the next one ends the earlier ones' processes, which drops their locks.
    """
    from hfspider.db import database_url, dispose
    from hfspider.extensions.crawlrun import CrawlRun

    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    urls: set[str] = set()
    made: list[Crawler] = []

    def end_processes() -> None:
        """What the kernel does when a crawl's process exits, however it exits: its locks go."""
        while made:
            run = made.pop().get_extension(CrawlRun)
            if run is not None:
                run.db.unlock_crawl()
                for lock in run.locks:
                    lock.release()

    def make(spidercls: type[Any], settings: dict[str, Any] | None = None, **arguments: Any) -> Crawler:
        end_processes()
        values = Settings()
        values.setmodule("hfspider.settings", priority="project")
        values.setdict({**get_reactor_settings(), "HFSPIDER_OUTPUT": str(tmp_path / "output"), **(settings or {})}, priority="cmdline")
        crawler = Crawler(spidercls, values)
        crawler.spider = crawler._create_spider(**arguments)
        urls.add(database_url(crawler.settings))
        crawler._apply_settings()
        made.append(crawler)
        return crawler

    yield make
    end_processes()
    for url in urls:
        dispose(url)


def wait_for_rows(db: Path, minimum: int, timeout: float = 60) -> None:
    """Block until the crawl under way has stored at least ``minimum`` models."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.exists():
            try:
                with sqlite3.connect(db) as conn:
                    if conn.execute("SELECT COUNT(*) FROM models").fetchone()[0] >= minimum:
                        return
            except sqlite3.OperationalError:
                pass
        time.sleep(0.05)
    raise AssertionError(f"the crawl stored fewer than {minimum} models in {timeout} s")


def wait_for_walk_state(db: Path, timeout: float = 60) -> None:
    """Block until the walk under way has stored a page to go on from (a page and all before it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.exists():
            try:
                with sqlite3.connect(db) as conn:
                    if conn.execute("SELECT COUNT(*) FROM walk_state").fetchone()[0]:
                        return
            except sqlite3.OperationalError:
                pass
        time.sleep(0.05)
    raise AssertionError("the walk never stored a page to go on from")


# -- servers a test needs: skipped where none answers -------------------------

SERVER = os.environ.get("HFSPIDER_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _answers(url: str) -> bool:
    try:
        with create_engine(url, connect_args={"connect_timeout": 3}).connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


@pytest.fixture
def postgres_url() -> Iterator[str]:
    if not _answers(SERVER):
        pytest.skip(f"no PostgreSQL server answers at {SERVER}")
    schema = f"hfspider_{uuid.uuid4().hex[:10]}"
    admin = create_engine(SERVER)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    yield f"{SERVER}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


STAMPS = ("fetched_at", "first_seen_at")  # when each crawl read a model: differs between any two crawls


def snapshot(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the three data tables, through SQLAlchemy so JSON reads back as objects."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = {
            "models": [
                {k: v for k, v in r.items() if k not in STAMPS} for r in conn.execute(select(models).order_by(models.c.id)).mappings()
            ],
            "edges": [dict(r) for r in conn.execute(select(edges).order_by(*edges.primary_key.columns)).mappings()],
            "tree_members": [dict(r) for r in conn.execute(select(tree_members).order_by(tree_members.c.model_id)).mappings()],
        }
    engine.dispose()
    return rows


REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    server = redis.Redis.from_url(REDIS, socket_connect_timeout=3)
    try:
        server.ping()
    except redis.RedisError:
        pytest.skip(f"no Redis server answers at {REDIS}")
    prefix = f"hfspider-test-{uuid.uuid4().hex[:10]}"
    yield prefix
    keys = list(server.scan_iter(f"{prefix}:*"))
    if keys:
        server.delete(*keys)
    server.close()
