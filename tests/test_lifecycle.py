"""A run's life end to end: who may write where, what the exit status says, what a feed may hold."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hfspider.replica import Hub, ReplicaServer, generate, regular_family
from hfspider.replica.truth import Truth
from tests.conftest import ROOT, crawl, start_crawl, wait_for_rows

RECORDS = regular_family("a", 5, 3) + regular_family("b", 4, 3)
TRUTH = Truth(RECORDS)


@pytest.fixture
def server() -> Iterator[ReplicaServer]:
    with ReplicaServer(Hub(RECORDS), latency=0.3) as replica:
        yield replica


def last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


def wait_for_run(db: Path, timeout: float = 60) -> None:
    """Block until a crawl has started: its run's row is written when it opens."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(db) as conn:
                if conn.execute("SELECT COUNT(*) FROM crawl_runs").fetchone()[0]:
                    return
        except sqlite3.OperationalError:
            pass
        time.sleep(0.05)
    raise AssertionError("the crawl did not start")


def test_a_second_crawl_into_a_busy_folder_is_refused(server: ReplicaServer, tmp_path: Path) -> None:
    output = tmp_path / "out"
    server.latency = 1.5  # four levels of listings: the first crawl is still going when the second starts
    first = start_crawl(output, "model_tree", "root=a/m", endpoint=server.url)
    wait_for_run(output / "hfspider.sqlite")
    second = crawl(output, "model_tree", "root=b/m", endpoint=server.url)
    assert first.poll() is None, "the first crawl ended before the second started; the test proves nothing"
    assert second.returncode == 1
    assert "Traceback" not in second.stderr
    assert "another crawl" in last_line(second.stderr) and str(output) in last_line(second.stderr)
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr[-2000:]
    with sqlite3.connect(output / "hfspider.sqlite") as conn:
        assert {row[0] for row in conn.execute("SELECT DISTINCT root_id FROM tree_members")} == {"a/m"}
    lines = (output / "models.jsonl").read_text(encoding="utf-8").splitlines()
    assert sorted(json.loads(line)["id"] for line in lines) == sorted(TRUTH.down("a/m"))  # one family, whole, every line JSON


def test_sigterm_pauses_with_143_and_the_same_command_resumes(server: ReplicaServer, tmp_path: Path) -> None:
    output = tmp_path / "out"
    server.latency = 1.5
    process = start_crawl(output, "model_tree", "root=a/m", endpoint=server.url, settings={"HFSPIDER_FLUSH_SECONDS": 0.5})
    wait_for_rows(output / "hfspider.sqlite", 1)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr[-2000:]
    assert "paused: run the same command again to resume" in last_line(stderr)
    result = crawl(output, "model_tree", "root=a/m", endpoint=server.url)
    assert result.returncode == 0, result.stderr[-2000:]
    assert dict(result.rows("SELECT model_id, depth FROM tree_members")) == TRUTH.down("a/m")
    assert [row[0] for row in result.rows("SELECT outcome FROM crawl_runs ORDER BY id")] == ["shutdown", "finished"]
    assert "resuming" in result.stderr


def stopped_by_a_lock(process: subprocess.Popen[str], output: Path, stored: int) -> None:
    """Once the crawl under way has stored ``stored`` models, another process takes the SQLite file's write
    lock until the crawl ends: it must end with exit 1, one error line that says so, and no feed that looks done."""
    wait_for_rows(output / "hfspider.sqlite", stored)
    holder = sqlite3.connect(output / "hfspider.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        _, stderr = process.communicate(timeout=120)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert process.returncode == 1, stderr[-2000:]
    assert "Traceback" not in stderr
    assert stderr.count("database write failed") == 1
    assert "database is locked" in last_line(stderr) and "run the same command again" in last_line(stderr)
    assert not (output / "models.jsonl").exists() and (output / "models.jsonl.partial").exists()


def test_a_locked_database_stops_the_crawl_with_one_line(server: ReplicaServer, tmp_path: Path) -> None:
    """Another process holds the SQLite file's write lock while the crawl runs: exit 1, one error, no feed that looks done."""
    output = tmp_path / "out"
    process = start_crawl(output, "model_tree", "root=a/m", endpoint=server.url, settings={"HFSPIDER_FLUSH_SECONDS": 0.5})
    stopped_by_a_lock(process, output, stored=1)
    assert not (output / "trees").exists()
    result = crawl(output, "model_tree", "root=a/m", endpoint=server.url)  # the database works again
    assert result.returncode == 0, result.stderr[-2000:]
    assert dict(result.rows("SELECT model_id, depth FROM tree_members")) == TRUTH.down("a/m")


def test_a_locked_database_stops_an_index_walk_with_one_line(tmp_path: Path) -> None:
    """The same through hub_index's writer process: the error it meets stops the crawl, and the same command
    then goes on to an exact index."""
    records = generate(12000, seed=41)
    output = tmp_path / "out"
    settings = {"HFSPIDER_BATCH_SIZE": 500, "HFSPIDER_FLUSH_SECONDS": 0.3}
    with ReplicaServer(Hub(records), latency=0.3) as replica:
        process = start_crawl(output, "hub_index", endpoint=replica.url, settings=settings)
        stopped_by_a_lock(process, output, stored=1000)
        result = crawl(output, "hub_index", endpoint=replica.url, settings=settings)
    truth = Truth(records)
    assert result.returncode == 0, result.stderr[-2000:]
    assert {row[0] for row in result.rows("SELECT id FROM models")} == truth.public


def test_an_unwritable_output_folder_is_one_line(server: ReplicaServer, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    output = blocker / "out"  # no one, root included, can make a folder inside a file
    result = crawl(
        output, "model_tree", "root=a/m", endpoint=server.url, settings={"HFSPIDER_DB_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert str(output) in last_line(result.stderr)


def test_an_answer_over_the_size_cap_is_a_failure_not_a_crash(server: ReplicaServer, tmp_path: Path) -> None:
    settings = {"DOWNLOAD_MAXSIZE": 300, "HFSPIDER_RETRY_PASSES": 0}
    result = crawl(tmp_path / "out", "model_tree", "root=a/m", endpoint=server.url, settings=settings)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert result.rows("SELECT COUNT(*) FROM failures")[0][0] >= 1
    assert result.rows("SELECT outcome FROM crawl_runs") == [("incomplete",)]


@pytest.mark.parametrize(("flag", "name"), [("-O", "mine.json"), ("-o", "mine.jsonl")])
def test_a_users_own_feed_holds_models_and_edges_only(flag: str, name: str, server: ReplicaServer, tmp_path: Path) -> None:
    output, mine = tmp_path / "out", tmp_path / name
    command = [sys.executable, "-m", "scrapy", "crawl", "model_tree", "-a", "root=b/m", "-s", f"HFSPIDER_OUTPUT={output}", flag, str(mine)]
    env = {**os.environ, "HF_ENDPOINT": server.url, "HF_HOME": str(tmp_path / "hf-home")}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    members = TRUTH.down("b/m")
    text = mine.read_text(encoding="utf-8")
    for rows in [json.loads(text) if name.endswith(".json") else [json.loads(line) for line in text.splitlines()]]:
        assert sorted(r["id"] for r in rows if "id" in r) == sorted(members)
        edges = {(r["child_id"], r["parent_id"], r["relation"]) for r in rows if "child_id" in r}
        assert edges == TRUTH.edges(m for m in members if m != "b/m")
        assert len(rows) == len(members) + len(edges)  # nothing else: no bookkeeping


def test_a_feed_split_every_n_items_gets_each_model_and_edge_once(server: ReplicaServer, tmp_path: Path) -> None:
    """A listing's models and edges travel together (``Bundle``), yet Scrapy's ``batch_item_count`` still
    starts a new file every N of them."""
    parts = tmp_path / "parts"
    feeds = {f"{parts}/part-%(batch_id)d.jsonl": {"format": "jsonlines", "batch_item_count": 7}}
    settings = {"HFSPIDER_OUTPUT": tmp_path / "out", "FEEDS": json.dumps(feeds)}
    command = [sys.executable, "-m", "scrapy", "crawl", "model_tree", "-a", "root=b/m"]
    command += [arg for name, value in settings.items() for arg in ("-s", f"{name}={value}")]
    env = {**os.environ, "HF_ENDPOINT": server.url, "HF_HOME": str(tmp_path / "hf-home")}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    files = sorted(parts.iterdir(), key=lambda path: int(path.stem.split("-")[1]))
    sizes = [len(path.read_text(encoding="utf-8").splitlines()) for path in files]
    members = TRUTH.down("b/m")
    edges = TRUTH.edges(m for m in members if m != "b/m")
    total = len(members) + len(edges)
    assert sizes == [7] * (total // 7) + ([total % 7] if total % 7 else [])
    rows = [json.loads(line) for path in files for line in path.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["id"] for r in rows if "id" in r) == sorted(members)
    assert sorted((r["child_id"], r["parent_id"], r["relation"]) for r in rows if "child_id" in r) == sorted(edges)


SCRIPT = """
import sys
from scrapy.crawler import CrawlerProcess
from scrapy.utils.project import get_project_settings
settings = get_project_settings()
settings.set("HFSPIDER_DB_URL", sys.argv[1])
settings.set("HFSPIDER_OUTPUT", sys.argv[2])
process = CrawlerProcess(settings)
process.crawl("model_tree", root="a/m")
process.start()
"""


@pytest.mark.parametrize("url", ["nope://x", "mysql://u@127.0.0.1/x"])
def test_a_script_with_a_bad_database_url_does_not_crawl(url: str, server: ReplicaServer, tmp_path: Path) -> None:
    env = {**os.environ, "HF_ENDPOINT": server.url, "HF_HOME": str(tmp_path / "hf-home")}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, url, str(tmp_path / "out")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert time.monotonic() - started < 60
    assert "HFSPIDER_DB_URL" in done.stderr
    assert not any(path.startswith("/api/") for _m, path, _s, _a in server.requests)  # not a single request to the Hub


@pytest.mark.parametrize("spider", ["model_tree", "hub_index"])
def test_a_clean_run_prints_no_warning(spider: str, tmp_path: Path) -> None:
    """Nothing is wrong, so nothing a user can do nothing about is said: not on a first run, and not on the
    next run of the same command with the same JOBDIR after it finished."""
    arguments = ["root=a/m"] if spider == "model_tree" else []
    with ReplicaServer(Hub(RECORDS)) as replica:
        for _ in range(2):
            result = crawl(tmp_path / "out", spider, *arguments, endpoint=replica.url, settings={"JOBDIR": tmp_path / "job"})
            assert result.returncode == 0, result.stderr[-2000:]
            assert [line for line in result.stderr.splitlines() if " WARNING: " in line or " ERROR: " in line] == []
            assert "'log_count/WARNING'" not in result.stderr
