"""One family crawled into PostgreSQL gives the same rows as into SQLite."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text

from hfspider.db import Batch, Listing, open_database
from hfspider.db.schema import cards, links, page_facts
from hfspider.db.writer import BatchWriter
from hfspider.replica import Hub, ReplicaServer, generate
from hfspider.replica.truth import Truth
from hfspider.replica.website import Website
from tests.conftest import ROOT, SERVER, STAMPS, crawl, snapshot, start_crawl
from tests.test_model_pages import COLLECTIONS, FACTS_FAMILY, SPACES


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
    unreachable = {"bad/ünïcödé-模型", "bad/under-a-bad-id"}  # an id huggingface_hub refuses, and the model only it leads to
    assert {r["id"] for r in rows["models"]} == {r["id"] for r in records} - unreachable
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


CREATE_AT_ONCE = """
import sys
from hfspider.db import open_database
open_database(sys.argv[1])
print("ok")
"""


def test_first_crawls_started_at_once_on_an_empty_schema_all_start(postgres_url: str) -> None:
    """Each process creates the tables it finds missing; started together, none may trip over another."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CREATE_AT_ONCE, postgres_url], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    results = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0] * 6, [err[-500:] for _out, err in results]
    assert all(out.strip() == "ok" for out, _err in results)


def test_a_second_live_crawl_of_the_same_key_in_a_shared_database_is_refused(postgres_url: str, tmp_path: Path) -> None:
    records = generate(3000, seed=5)
    root, _family = Truth(records).biggest_family()
    with ReplicaServer(Hub(records), latency=1.0) as server:
        settings = {"HFSPIDER_DB_URL": postgres_url}
        # One request at a time at a second each: still crawling however slowly the others start.
        slow = {**settings, "CONCURRENT_REQUESTS": 1}
        first = start_crawl(tmp_path / "one", "model_tree", f"root={root}", endpoint=server.url, settings=slow)
        deadline = time.monotonic() + 60
        while not server.requests and time.monotonic() < deadline:
            time.sleep(0.05)  # the first crawl holds its lock before it sends a request
        second = crawl(tmp_path / "two", "model_tree", f"root={root}", endpoint=server.url, settings=settings)
        assert first.poll() is None, "the first crawl ended before the second started; the test proves nothing"
        other = crawl(tmp_path / "three", "model_tree", f"root={root}", "max_depth=1", endpoint=server.url, settings=settings)
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=120)
    assert second.returncode == 1 and "another live crawl with the same spider and arguments" in second.stderr.strip().splitlines()[-1]
    assert other.returncode == 0, other.stderr[-2000:]  # another crawl (other arguments) shares the database


def test_a_value_the_database_refuses_fails_only_its_model(postgres_url: str) -> None:
    """PostgreSQL refuses a lone surrogate in JSON (the normalize pipeline cleans it; this is the net below it)."""
    database = open_database(postgres_url)
    good = {"id": "org/good", "tags": [], "card_data": {"note": "fine"}}  # rows of a batch have the same columns, as items do
    bad = {"id": "org/bad", "tags": [], "card_data": {"note": "a\ud800b"}}
    listed_bad = Listing("org/base", None, frozenset({"org/good", "org/bad"}))
    listed_good = Listing("org/other", None, frozenset({"org/good"}))
    refused = database.write_batch(Batch("k", models=[good, bad], listings=[listed_bad, listed_good], next_page="https://x/next"))
    assert list(refused) == ["org/bad"] and "json" in refused["org/bad"]
    snapshot_rows = snapshot(postgres_url)
    assert [r["id"] for r in snapshot_rows["models"]] == ["org/good"]
    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT model_id FROM crawl_state")).scalars().all() == ["org/other"]  # org/base is listed again next run
        assert conn.execute(text("SELECT model_id FROM failures")).scalars().all() == ["org/bad"]
        assert conn.execute(text("SELECT COUNT(*) FROM walk_state")).scalar() == 0  # a walk resumes before the refused model
    engine.dispose()


def test_after_a_refused_model_the_writer_process_keeps_the_walk_before_it(postgres_url: str) -> None:
    """Through hub_index's writer process: the refused model fails alone, and the batches after it do not
    move the walk's resume point past it, so the same command asks for it again."""
    open_database(postgres_url)
    writer = BatchWriter(postgres_url)
    good = {"id": "org/good", "tags": [], "card_data": {"note": "fine"}}
    bad = {"id": "org/bad", "tags": [], "card_data": {"note": "a\ud800b"}}
    later = {"id": "org/later", "tags": [], "card_data": None}
    writer.send(Batch("k", next_page="https://x/page-1"), [good, bad], [])
    writer.send(Batch("k", next_page="https://x/page-2"), [later], [])
    written = list(writer.results(wait=True))
    writer.close()
    assert [(list(w.refused), w.error) for w in written] == [(["org/bad"], None), ([], None)]
    assert [r["id"] for r in snapshot(postgres_url)["models"]] == ["org/good", "org/later"]
    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM walk_state")).scalar() == 0
    engine.dispose()


def test_page_facts_links_and_cards_on_postgres_equal_sqlite(postgres_url: str, run_crawl) -> None:
    def side(url: str) -> dict[str, list[dict[str, Any]]]:
        engine = create_engine(url)
        with engine.connect() as conn:
            found = {
                table.name: [
                    {k: v for k, v in r.items() if k not in STAMPS}
                    for r in conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()
                ]
                for table in (page_facts, links, cards)
            }
        engine.dispose()
        return found

    site = Website(spaces=SPACES, collections=COLLECTIONS, cards={"fx/base": "# fx\n\nkey hf_" + "a1" * 17 + "\x00 end\n"})
    arguments = ("root=fx/base", "cards=1", "spaces=1")
    with ReplicaServer(Hub(FACTS_FAMILY), site=site) as server:
        lite = run_crawl(*arguments, spider="model_pages", endpoint=server.url)
        pg = run_crawl(*arguments, spider="model_pages", endpoint=server.url, settings={"HFSPIDER_DB_URL": postgres_url})
    assert lite.returncode == 0 and pg.returncode == 0, pg.stderr[-2000:]
    expected = side(f"sqlite:///{lite.db}")
    assert len(expected["page_facts"]) == 9 and len(expected["links"]) > 15 and len(expected["cards"]) == 9
    assert side(postgres_url) == expected
    assert {r["text"] for r in expected["cards"] if r["model_id"] == "fx/base"} == {"# fx\n\nkey hf_*** end\n"}
