"""hub_index: every public model and every tag edge in ceil(N / 1000) calls; refresh; offline trees."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hfspider.replica import Hub, ReplicaServer, generate
from hfspider.replica.truth import Truth
from tests.conftest import ROOT, CrawlResult, crawl, needs_real_data, start_crawl, wait_for_rows, wait_for_walk_state


def stored(result: CrawlResult) -> tuple[set[str], set[tuple[str, str, str]]]:
    models = {row[0] for row in result.rows("SELECT id FROM models")}
    edges = {tuple(row) for row in result.rows("SELECT child_id, parent_id, relation FROM edges WHERE source = 'tags'")}
    return models, edges


def assert_index(result: CrawlResult, records: list[dict[str, Any]]) -> None:
    truth = Truth(records)
    models, edges = stored(result)
    assert result.returncode == 0, result.stderr[-3000:]
    assert models == truth.public
    assert edges == truth.edges(truth.public)
    feed = Counter(line["id"] for line in result.feed("models.jsonl"))
    assert set(feed) == truth.public and set(feed.values()) == {1}


def writers(output: Path) -> set[int]:
    """Live database writer processes of the crawl writing under ``output`` (a zombie's environment reads empty)."""
    found = set()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(v.startswith(b"HFSPIDER_WRITER_URL=") and str(output).encode() in v for v in environ):
            found.add(int(proc.name))
    return found


def listing_calls(server: ReplicaServer) -> int:
    return sum(1 for _m, path, _s, _a in server.requests if path.startswith("/api/models?"))


def test_index_of_a_synthetic_hub(tmp_path: Path) -> None:
    records = generate(7000, seed=21)
    with ReplicaServer(Hub(records)) as server:
        result = crawl(tmp_path / "out", "hub_index", endpoint=server.url)
    # Both processes closed their connections: the database is one file, whole, that can be copied alone
    # (looked at before this test opens it).
    assert sorted(p.name for p in result.output.iterdir()) == [".hfspider.lock", "edges.jsonl", "hfspider.sqlite", "models.jsonl"]
    assert_index(result, records)
    assert listing_calls(server) == math.ceil(len(Truth(records).public) / 1000)


@needs_real_data
def test_index_of_the_real_sample(real_records, tmp_path: Path) -> None:
    with ReplicaServer(Hub(real_records)) as server:
        result = crawl(tmp_path / "out", "hub_index", endpoint=server.url)
    assert_index(result, real_records)
    assert len(server.requests) == 1


def test_narrowing_arguments_map_onto_the_api(tmp_path: Path) -> None:
    records = generate(3000, seed=22)
    author = Counter(r["id"].split("/")[0] for r in records if not r.get("private")).most_common(1)[0][0]
    with ReplicaServer(Hub(records)) as server:
        result = crawl(tmp_path / "out", "hub_index", f"author={author}", endpoint=server.url)
    expected = {r["id"] for r in records if not r.get("private") and r["id"].split("/")[0] == author}
    assert stored(result)[0] == expected
    assert all(f"author={author}" in path for _m, path, _s, _a in server.requests)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_refresh_fetches_only_what_changed(tmp_path: Path) -> None:
    records = generate(5000, seed=23)
    hub = Hub(records)
    output = tmp_path / "out"
    with ReplicaServer(hub) as server:
        first = crawl(output, "hub_index", endpoint=server.url)
        assert first.returncode == 0
        public = [r for r in records if not r.get("private")]
        changed, reparented, added = public[10], public[20], public[30]
        hub.upsert({**changed, "likes": 987_654, "lastModified": now()})
        hub.upsert({**reparented, "tags": [f"base_model:{added['id']}", f"base_model:adapter:{added['id']}"], "lastModified": now()})
        new = [
            {
                "id": f"fresh/model-{i}",
                "tags": [f"base_model:{changed['id']}", f"base_model:merge:{changed['id']}"],
                "createdAt": now(),
                "lastModified": now(),
            }
            for i in range(3)
        ]
        for record in new:
            hub.upsert(record)
        server.reset_log()
        refreshed = crawl(output, "hub_index", endpoint=server.url)
        refresh_calls = len(server.requests)
        fresh = crawl(tmp_path / "fresh", "hub_index", endpoint=server.url)
    assert refreshed.returncode == 0 and fresh.returncode == 0
    assert refresh_calls == 1  # ceil(k / 1000) pages for k changed models
    assert refreshed.rows(f"SELECT likes FROM models WHERE id = '{changed['id']}'") == [(987_654,)]
    assert refreshed.rows(f"SELECT parent_id, relation FROM edges WHERE child_id = '{reparented['id']}'") == [(added["id"], "adapter")]
    columns = "id, author, created_at, last_modified, downloads, likes, license, gated, num_parameters, tags, card_data"
    assert refreshed.rows(f"SELECT {columns} FROM models ORDER BY id") == fresh.rows(f"SELECT {columns} FROM models ORDER BY id")
    query = "SELECT child_id, parent_id, relation, source FROM edges ORDER BY 1, 2, 3"
    assert refreshed.rows(query) == fresh.rows(query)
    assert json.loads(refreshed.rows("SELECT stats FROM crawl_runs ORDER BY id DESC LIMIT 1")[0][0])["hfspider/refresh_since"]


def test_offline_tree_equals_a_model_tree_crawl(tmp_path: Path) -> None:
    records = generate(6000, seed=24)
    truth = Truth(records)
    _root, family = truth.biggest_family()
    middle = sorted(m for m, d in family.items() if d == 1 and truth.children.get(m))[0]
    with ReplicaServer(Hub(records)) as server:
        index = crawl(tmp_path / "index", "hub_index", endpoint=server.url)
        crawled = crawl(tmp_path / "crawl", "model_tree", f"root={middle}", "direction=both", endpoint=server.url)
    assert index.returncode == 0 and crawled.returncode == 0
    requests_before = len(server.requests)
    done = subprocess.run(
        [sys.executable, "-m", "scrapy", "tree", middle, "--direction", "both", "-s", f"HFSPIDER_OUTPUT={index.output}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(server.requests) == requests_before
    query = f"SELECT model_id, depth FROM tree_members WHERE root_id = '{middle}' ORDER BY 1"
    assert index.rows(query) == crawled.rows(query)
    assert set(family) <= {row[0] for row in index.rows(query)}  # a parent's family includes its siblings' descendants
    name = f"{middle.replace('/', '--')}.json"
    assert json.loads((index.output / "trees" / name).read_text()) == json.loads((crawled.output / "trees" / name).read_text())


def test_tree_command_errors(tmp_path: Path) -> None:
    def tree(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "scrapy", "tree", *args, "-s", f"HFSPIDER_OUTPUT={tmp_path}"]
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)

    missing = tree("a/b")
    assert missing.returncode == 2 and "no database" in missing.stderr
    assert "not a model id" in tree("../x").stderr


def test_bad_index_argument(tmp_path: Path) -> None:
    result = crawl(tmp_path / "out", "hub_index", "sort=likes")
    assert result.returncode == 2 and "unknown argument -a sort" in result.stderr.strip().splitlines()[-1]


def test_index_killed_then_resumed(tmp_path: Path) -> None:
    records = generate(9000, seed=25)
    output = tmp_path / "out"
    settings = {"HFSPIDER_BATCH_SIZE": 200, "JOBDIR": tmp_path / "job"}
    with ReplicaServer(Hub(records), latency=0.2) as server:
        for stored_models in (2500, 5500):
            process = start_crawl(output, "hub_index", endpoint=server.url, settings=settings)
            wait_for_rows(output / "hfspider.sqlite", stored_models)
            wait_for_walk_state(output / "hfspider.sqlite")  # a page and all before it are stored: there is a place to go on from
            assert writers(output), "hub_index writes from a process of its own"
            process.send_signal(signal.SIGKILL)
            process.wait(30)
            deadline = time.monotonic() + 20
            while writers(output) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not writers(output), "the writer dies with the crawl: nothing writes behind the resumed run's back"
        server.reset_log()
        result = crawl(output, "hub_index", endpoint=server.url, settings=settings)
    assert_index(result, records)
    # Went on from a stored page, not from the first. Pages are processed concurrently, so the resume
    # point is the last page whose predecessors were all stored when the process died: a few pages back.
    assert "cursor=" in server.requests[0][1]
    assert listing_calls(server) < math.ceil(len(Truth(records).public) / 1000)


def test_walk_is_stable_while_the_hub_grows_and_changes(tmp_path: Path) -> None:
    records = generate(6000, seed=26)
    hub = Hub(records)
    public = sorted((r for r in records if not r.get("private")), key=lambda r: r["createdAt"])
    with ReplicaServer(hub, latency=0.5) as server:
        process = start_crawl(tmp_path / "out", "hub_index", endpoint=server.url)
        while not any(path.startswith("/api/models?") for _m, path, _s, _a in server.requests):
            time.sleep(0.05)
        # While the walk is under way: new models arrive, and old ones not yet listed are edited.
        for i in range(1500):
            hub.upsert({"id": f"new/model-{i}", "tags": [], "createdAt": now(), "lastModified": now()})
        for record in public[:300]:
            hub.upsert({**record, "likes": 1, "lastModified": now()})
        assert process.wait(120) == 0
    result = CrawlResult(0, "", "", tmp_path / "out")
    models = Counter(line["id"] for line in result.feed("models.jsonl"))
    assert {r["id"] for r in public} <= set(models)  # no model that was there when the walk began is missed
    assert set(models.values()) == {1}


def test_a_full_walk_marks_models_the_hub_no_longer_lists(tmp_path: Path) -> None:
    records = generate(3000, seed=27)
    truth = Truth(records)
    # A model with a parent and children of its own: deleting it must also cut its branch from the parent's tree.
    gone = next(m for m in sorted(truth.public) if truth.parents.get(m) and truth.children.get(m))
    parent = sorted(p for p, _r in truth.parents[gone])[0]
    hub = Hub(records)
    output = tmp_path / "out"
    with ReplicaServer(hub) as server:
        first = crawl(output, "hub_index", endpoint=server.url)
        assert first.returncode == 0, first.stderr[-2000:]
        hub.remove(gone)
        refresh = crawl(output, "hub_index", endpoint=server.url)  # a refresh cannot tell
        assert refresh.rows(f"SELECT deleted_at FROM models WHERE id = '{gone}'") == [(None,)]
        full = crawl(output, "hub_index", "full=1", endpoint=server.url)
    assert full.returncode == 0, full.stderr[-2000:]
    assert {row[0] for row in full.rows("SELECT id FROM models WHERE deleted_at IS NOT NULL")} == {gone}
    done = subprocess.run(
        [sys.executable, "-m", "scrapy", "tree", parent, "-s", f"HFSPIDER_OUTPUT={output}"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    remaining = Truth([r for r in records if r["id"] != gone])
    members = dict(full.rows(f"SELECT model_id, depth FROM tree_members WHERE root_id = '{parent}'"))
    assert members == remaining.down(parent) and gone not in members
