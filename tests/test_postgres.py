"""One family crawled into PostgreSQL gives the same rows as into SQLite."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from hfspider.db.schema import edges, models, tree_members
from hfspider.replica import Hub, ReplicaServer, generate
from hfspider.replica.truth import Truth
from tests.conftest import start_crawl

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


def snapshot(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the three data tables, through SQLAlchemy so JSON reads back as objects."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = {
            "models": [
                {k: v for k, v in r.items() if k != "fetched_at"} for r in conn.execute(select(models).order_by(models.c.id)).mappings()
            ],
            "edges": [dict(r) for r in conn.execute(select(edges).order_by(*edges.primary_key.columns)).mappings()],
            "tree_members": [dict(r) for r in conn.execute(select(tree_members).order_by(tree_members.c.model_id)).mappings()],
        }
    engine.dispose()
    return rows


def test_postgres_rows_equal_sqlite_rows(postgres_url: str, run_crawl, tmp_path: Path) -> None:
    records = generate(1500, seed=3)
    truth = Truth(records)
    root, family = truth.biggest_family()
    with ReplicaServer(Hub(records)) as server:
        lite = run_crawl(f"root={root}", endpoint=server.url)
        pg = run_crawl(f"root={root}", endpoint=server.url, settings={"HFSPIDER_DB_URL": postgres_url})
    assert lite.returncode == 0 and pg.returncode == 0, pg.stderr[-2000:]
    assert not (pg.output / "hfspider.sqlite").exists()
    expected = snapshot(f"sqlite:///{lite.db}")
    assert len(expected["tree_members"]) == len(family) > 50
    assert snapshot(postgres_url) == expected


def test_postgres_takes_what_the_hub_sends(postgres_url: str, hostile_records: list[dict[str, Any]], run_crawl) -> None:
    long_parent = "x" * 150 + "/" + "y" * 150  # not a model id: ignored, not a row PostgreSQL would refuse
    tags = ["base_model:bad/root", "base_model:finetune:bad/root", f"base_model:merge:{long_parent}"]
    records = [*hostile_records, {"id": "bad/odd-tag", "tags": tags}]
    with ReplicaServer(Hub(records)) as server:
        result = run_crawl("root=bad/root", endpoint=server.url, settings={"HFSPIDER_DB_URL": postgres_url})
    assert result.returncode == 0, result.stderr[-2000:]
    rows = snapshot(postgres_url)
    assert {r["id"] for r in rows["models"]} == {r["id"] for r in records if r["id"].isascii()}
    assert {(e["child_id"], e["parent_id"]) for e in rows["edges"]} >= {("bad/odd-tag", "bad/root")}
    assert all(e["parent_id"] != long_parent for e in rows["edges"])


def test_database_failure_mid_crawl_stops_with_one_line(postgres_url: str, tmp_path: Path) -> None:
    records = generate(3000, seed=4)
    root, _family = Truth(records).biggest_family()
    schema = postgres_url.rsplit("%3D", 1)[1]
    with ReplicaServer(Hub(records), latency=0.05) as server:
        settings = {"HFSPIDER_DB_URL": postgres_url, "HFSPIDER_BATCH_SIZE": 20, "CONCURRENT_REQUESTS": 2}
        process = start_crawl(tmp_path / "out", "model_tree", f"root={root}", endpoint=server.url, settings=settings)
        engine = create_engine(SERVER)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if conn.execute(text(f"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '{schema}'")).scalar():
                    break
            time.sleep(0.1)
        time.sleep(1)
        with engine.begin() as conn:  # the database loses its tables under the crawl
            conn.execute(text(f"DROP TABLE {schema}.edges CASCADE"))
        engine.dispose()
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert "database error" in last and 'relation "edges" does not exist' in last and "run the same command again" in last
