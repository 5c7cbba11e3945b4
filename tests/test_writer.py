"""The writer process: batches written whole and in order, nothing after the first error, gone with the crawl."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from hfspider.db import Batch, DatabaseError, Listing
from hfspider.db.writer import BatchWriter, decode, encode
from hfspider.items import EdgeItem, ModelItem
from tests.conftest import ROOT

STAMP = "2025-06-01T00:00:00Z"


def model(n: int) -> ModelItem:
    card = {"license": "mit", "values": [1, 2.5, None, True, "ü"], "nested": {"a": {"b": []}}}
    tags = ["a", f"t{n}"]
    return ModelItem(id=f"org/m{n:03d}", author="org", likes=n, private=False, tags=tags, card_data=card, fetched_at=STAMP)


def edge(n: int) -> EdgeItem:
    return EdgeItem(f"org/m{n:03d}", "org/base", "finetune", "tags")


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchall()


def gone(pid: int, timeout: float = 20) -> bool:
    """True once ``pid`` has ended (a zombie no one reaped counts as ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def test_a_batch_crosses_intact() -> None:
    """Rows as the database layer takes them (the dataclasses' own fields and values), the rest as it was."""
    models, edges = [model(1), model(2)], [edge(1)]
    listing = Listing("org/base", "finetune", frozenset({"org/m001"}))
    batch = decode(encode(Batch("key", listings=[listing], next_page="https://hub/next"), models, edges))
    assert batch.models == [vars(m) for m in models] and batch.edges == [vars(e) for e in edges]
    assert list(batch.models[0]) == [f.name for f in ModelItem.__dataclass_fields__.values()]  # column order kept
    assert (batch.key, batch.listings, batch.next_page) == ("key", [listing], "https://hub/next")


def test_a_value_json_cannot_carry_crosses_intact() -> None:
    big, odd = model(1), model(2)
    big.num_parameters = 2**70  # past 64 bits: orjson refuses it
    odd.card_data = {"note": "a\ud800b"}  # a lone surrogate: not UTF-8
    batch = decode(encode(Batch("key"), [big, odd], [edge(1)]))
    assert batch.models[0]["num_parameters"] == 2**70
    assert batch.models[1]["card_data"] == {"note": "a\ud800b"}
    assert batch.edges == [vars(edge(1))]


def test_batches_are_written_whole_and_in_order(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    writer = BatchWriter(f"sqlite:///{path}")
    for n in range(3):
        writer.send(Batch("key", next_page=f"https://hub/page-{n}"), [model(n * 10 + i) for i in range(10)], [edge(n * 10)])
    written = list(writer.results(wait=True))
    writer.close()
    assert [(w.models, w.edges, w.refused, w.error) for w in written] == [(10, 1, {}, None)] * 3
    assert gone(writer.pid)  # closed: it wrote what it was sent and ended
    stored = query(path, "SELECT id, likes, private, tags, card_data, first_seen_at FROM models ORDER BY id")
    assert [row[0] for row in stored] == [f"org/m{n:03d}" for n in range(30)]
    for model_id, likes, private, tags, card, first_seen in stored:
        n = int(model_id[-3:])
        assert (likes, private, json.loads(tags), json.loads(card), first_seen) == (n, 0, ["a", f"t{n}"], model(n).card_data, STAMP)
    assert query(path, "SELECT child_id FROM edges ORDER BY 1") == [("org/m000",), ("org/m010",), ("org/m020",)]
    assert query(path, "SELECT next_url FROM walk_state") == [("https://hub/page-2",)]  # the last batch's, written last


def test_after_a_database_error_nothing_more_is_written(tmp_path: Path) -> None:
    """A batch the database fails leaves no row; the batches after it are not written either, even once the
    database works again: they would be ahead of what is missing."""
    path = tmp_path / "db.sqlite"
    writer = BatchWriter(f"sqlite:///{path}")
    writer.send(Batch("key", next_page="https://hub/page-0"), [model(0)], [edge(0)])
    assert [w.error for w in writer.results(wait=True)] == [None]
    [(ddl,)] = query(path, "SELECT sql FROM sqlite_master WHERE name = 'edges'")
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("DROP TABLE edges")
    writer.send(Batch("key", next_page="https://hub/page-1"), [model(1)], [edge(1)])
    [failed] = writer.results(wait=True)
    assert failed.error is not None and "no such table: edges" in failed.error
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(ddl)
    writer.send(Batch("key", next_page="https://hub/page-2"), [model(2)], [edge(2)])
    [after] = writer.results(wait=True)
    writer.close()
    assert after.error == failed.error
    assert query(path, "SELECT id FROM models") == [("org/m000",)]
    assert query(path, "SELECT next_url FROM walk_state") == [("https://hub/page-0",)]


def test_a_writer_that_died_is_a_database_error(tmp_path: Path) -> None:
    writer = BatchWriter(f"sqlite:///{tmp_path / 'db.sqlite'}")
    os.kill(writer.pid, signal.SIGKILL)
    with pytest.raises(DatabaseError, match=r"the database writer process stopped \(exit status -9\)"):
        writer.send(Batch("key"), [model(0)], [])
        list(writer.results(wait=True))
    writer.close()


def test_the_writer_yields_the_cpu_to_the_crawl(tmp_path: Path) -> None:
    """The writer runs below the crawl's priority: its batches can wait a moment, the crawl's requests cannot."""
    writer = BatchWriter(f"sqlite:///{tmp_path / 'db.sqlite'}")
    writer.send(Batch("key"), [model(0)], [])
    assert [w.error for w in writer.results(wait=True)] == [None]  # it is running its loop, set up
    crawl = os.getpriority(os.PRIO_PROCESS, 0)
    assert os.getpriority(os.PRIO_PROCESS, writer.pid) >= min(crawl + 5, 19)
    writer.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_the_writer_dies_with_the_crawl(tmp_path: Path) -> None:
    """A crawl killed with -9 takes its writer along at once, even in the middle of a batch: nothing is
    written behind the back of the run that resumes it."""
    crawl = """
import sys, time
from hfspider.db import Batch
from hfspider.db.writer import BatchWriter
from tests.test_writer import model
writer = BatchWriter(sys.argv[1])
writer.send(Batch("key"), [model(0)], [])
list(writer.results(wait=True))
print(writer.pid, flush=True)
sys.stdin.readline()
writer.send(Batch("key"), [model(1)], [])
print("sent", flush=True)
time.sleep(120)
"""
    path = tmp_path / "db.sqlite"
    process = subprocess.Popen(
        [sys.executable, "-c", crawl, f"sqlite:///{path}"], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdin is not None and process.stdout is not None
    pid = int(process.stdout.readline())
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # the second batch waits for this lock (up to the busy timeout, 10 s)
    try:
        process.stdin.write("go\n")
        process.stdin.flush()
        assert process.stdout.readline() == "sent\n"
        time.sleep(0.3)
        assert not gone(pid, timeout=0.1)  # waiting for the lock
        process.kill()
        process.wait(10)
        assert gone(pid, timeout=3)  # killed with the crawl, not after the batch at hand
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert query(path, "SELECT id FROM models") == [("org/m000",)]


def test_a_refused_row_fails_alone_and_the_others_keep_their_values(tmp_path: Path) -> None:
    """SQLite refuses an edge without a source (NOT NULL): the batch is written model by model, from the
    tuples the writer decoded, and only that model is refused; the others' JSON columns stay JSON."""
    path = tmp_path / "db.sqlite"
    writer = BatchWriter(f"sqlite:///{path}")
    bad = EdgeItem("org/m001", "org/base", "finetune", None)  # type: ignore[arg-type]
    writer.send(Batch("key"), [model(0), model(1), model(2)], [edge(0), bad, edge(2)])
    [written] = writer.results(wait=True)
    writer.close()
    assert list(written.refused) == ["org/m001"] and "NOT NULL" in written.refused["org/m001"]
    stored = query(path, "SELECT id, tags, card_data, first_seen_at FROM models ORDER BY id")
    assert [(i, json.loads(t), json.loads(c), f) for i, t, c, f in stored] == [
        (m.id, m.tags, m.card_data, STAMP) for m in (model(0), model(2))
    ]
    assert query(path, "SELECT child_id FROM edges ORDER BY 1") == [("org/m000",), ("org/m002",)]
    assert query(path, "SELECT model_id FROM failures") == [("org/m001",)]
