"""model_tree's strategy: listing a family or walking the Hub, whichever costs fewer calls, same answer."""

from __future__ import annotations

import math
import signal
from pathlib import Path
from typing import Any

import pytest

from hfspider.replica import Hub, ReplicaServer, generate, regular_family
from hfspider.replica.truth import Truth
from tests.conftest import CrawlResult, crawl, needs_real_data, start_crawl, wait_for_rows, wait_for_walk_state

TAGS = "SELECT child_id, parent_id, relation FROM edges WHERE source = 'tags'"


def family(prefix: str, direct: int, branches: int, below: int) -> list[dict[str, Any]]:
    """A root with ``direct`` fine-tunes, the first ``branches`` of which have ``below`` quantizations each."""
    root = f"{prefix}/root"
    records: list[dict[str, Any]] = [{"id": root, "tags": ["license:mit"]}]
    for i in range(direct):
        child = f"{prefix}/ft-{i}"
        records.append({"id": child, "tags": [f"base_model:{root}", f"base_model:finetune:{root}"]})
        for j in range(below if i < branches else 0):
            records.append({"id": f"{child}-q{j}", "tags": [f"base_model:{child}", f"base_model:quantized:{child}"]})
    return records


def calls(server: ReplicaServer) -> dict[str, int]:
    """Hub calls by kind: family listings, walk pages, model calls."""
    counted = {"listing": 0, "walk": 0, "model": 0}
    for _method, path, _status, _auth in server.requests:
        if path.startswith("/api/models?") and "filter=base_model" in path:
            counted["listing"] += 1
        elif path.startswith("/api/models?"):
            counted["walk"] += 1
        else:
            counted["model"] += 1
    return counted


def tables(result: CrawlResult, members: set[str] | None = None) -> dict[str, Any]:
    """The family's rows as a user reads them: member models, their tag edges, tree_members."""
    tree = dict(result.rows("SELECT model_id, depth FROM tree_members"))
    ids = members if members is not None else set(tree)
    rows = {row[0]: row[1:] for row in result.rows("SELECT id, author, created_at, downloads, likes, tags, license FROM models")}
    return {
        "models": {m: rows.get(m) for m in ids},
        "edges": {e for e in result.rows(TAGS) if e[0] in ids},
        "tree": tree,
    }


def feeds(result: CrawlResult) -> tuple[list[str], set[tuple[str, str, str]]]:
    models = sorted(line["id"] for line in result.feed("models.jsonl"))
    edges = {(e["child_id"], e["parent_id"], e["relation"]) for e in result.feed("edges.jsonl")}
    return models, edges


BIG = family("big", 500, 20, 100)  # 1 + 500 + 2,000 = 2,501 models
SMALL = family("small", 29, 0, 0)  # 30 models


@pytest.fixture(scope="module")
def large_hub() -> Any:
    """100,000 models: 97,469 synthetic ones plus the two families above."""
    records = generate(100_000 - len(BIG) - len(SMALL), seed=31) + BIG + SMALL
    with ReplicaServer(Hub(records)) as server:
        yield server, records


@pytest.mark.timeout(900)  # two crawls through 100,000 models: minutes when the machine is busy
def test_a_large_family_by_auto_costs_one_walk_and_equals_listing(large_hub: Any, tmp_path: Path) -> None:
    server, records = large_hub
    truth = Truth(records)
    pages = math.ceil(len(truth.public) / 1000)
    settings = {"HFSPIDER_INDEX_PAGES": pages}
    server.requests.clear()
    auto = crawl(tmp_path / "auto", "model_tree", "root=big/root", endpoint=server.url, settings=settings)
    assert auto.returncode == 0, auto.stderr[-3000:]
    spent = calls(server)
    assert sum(spent.values()) <= pages + 10, spent
    assert spent["walk"] == pages and spent["listing"] == 0
    assert "strategy auto: walking the Hub" in auto.stderr and "strategy auto: listing" not in auto.stderr
    server.requests.clear()
    listing = crawl(tmp_path / "listing", "model_tree", "root=big/root", "strategy=listing", endpoint=server.url)
    assert listing.returncode == 0, listing.stderr[-3000:]
    assert calls(server)["listing"] >= len(BIG)
    members = set(truth.down("big/root"))
    assert tables(auto) == tables(listing)
    assert set(tables(auto)["tree"]) == members
    assert {e for e in auto.rows(TAGS) if e[0] in members} == truth.edges(members)
    # Rows for the family only; every model's edges, for the next family.
    assert {row[0] for row in auto.rows("SELECT id FROM models")} == members
    assert len(auto.rows(TAGS)) == len(truth.edges(truth.public))
    assert feeds(auto) == feeds(listing)
    assert (auto.output / "trees" / "big--root.json").read_bytes() == (listing.output / "trees" / "big--root.json").read_bytes()
    [(stats,)] = auto.rows("SELECT json_extract(stats, '$.\"hfspider/strategy\"') FROM crawl_runs")
    assert stats == "index"


def test_a_small_family_by_auto_is_listed(large_hub: Any, tmp_path: Path) -> None:
    server, records = large_hub
    server.requests.clear()
    settings = {"HFSPIDER_INDEX_PAGES": math.ceil(len(records) / 1000)}
    result = crawl(tmp_path / "out", "model_tree", "root=small/root", endpoint=server.url, settings=settings)
    assert result.returncode == 0, result.stderr[-3000:]
    spent = calls(server)
    assert sum(spent.values()) <= 35 and spent["walk"] == 0, spent
    assert "strategy auto: listing the family" in result.stderr
    assert set(tables(result)["tree"]) == set(Truth(records).down("small/root"))


def test_a_second_family_after_a_fresh_index_costs_a_refresh(tmp_path: Path) -> None:
    records = generate(6000, seed=32) + BIG + SMALL
    truth = Truth(records)
    output = tmp_path / "out"
    with ReplicaServer(Hub(records)) as server:
        first = crawl(output, "model_tree", "root=big/root", "strategy=index", "keep_all=1", endpoint=server.url)
        assert first.returncode == 0, first.stderr[-3000:]
        assert len(first.rows("SELECT id FROM models")) == len(truth.public)  # keep_all: every row
        server.requests.clear()
        second = crawl(output, "model_tree", "root=small/root", endpoint=server.url)
    assert second.returncode == 0, second.stderr[-3000:]
    spent = calls(server)
    assert sum(spent.values()) <= 3 and spent["listing"] == 0, spent
    tree = dict(second.rows("SELECT model_id, depth FROM tree_members WHERE root_id = 'small/root'"))
    assert tree == truth.down("small/root")
    assert sorted(line["id"] for line in second.feed("models.jsonl")) == sorted(truth.down("small/root"))


def test_a_walk_that_kept_one_family_refreshes_for_it_and_lists_another(tmp_path: Path) -> None:
    """Without keep_all only the family's rows stay: the same family again is a refresh; another
    family's rows went, so it costs a walk or a listing, whichever is cheaper (here a listing)."""
    records = generate(6000, seed=35) + BIG + family("tiny", 2, 0, 0)
    truth = Truth(records)
    output = tmp_path / "out"
    settings = {"HFSPIDER_INDEX_PAGES": math.ceil(len(truth.public) / 1000)}
    with ReplicaServer(Hub(records)) as server:
        first = crawl(output, "model_tree", "root=big/root", "strategy=index", endpoint=server.url)
        assert first.returncode == 0, first.stderr[-3000:]
        assert {row[0] for row in first.rows("SELECT id FROM models")} == set(truth.down("big/root"))
        server.requests.clear()
        again = crawl(output, "model_tree", "root=big/root", endpoint=server.url, settings=settings)
        assert again.returncode == 0, again.stderr[-3000:]
        assert sum(calls(server).values()) <= 3, calls(server)
        server.requests.clear()
        other = crawl(output, "model_tree", "root=tiny/root", endpoint=server.url, settings=settings)
    assert other.returncode == 0, other.stderr[-3000:]
    spent = calls(server)
    assert spent == {"listing": 3, "walk": 0, "model": 1}, spent
    trees = other.rows("SELECT root_id, model_id, depth FROM tree_members")
    expected = {(root, m, d) for root in ("big/root", "tiny/root") for m, d in truth.down(root).items()}
    assert set(trees) == expected
    assert {row[0] for row in other.rows("SELECT id FROM models")} == {m for _r, m, _d in expected}


def test_listing_turns_into_a_walk_when_the_family_grows(tmp_path: Path) -> None:
    """The roots announce little, the family turns out large: the crawl switches and stays exact."""
    records = generate(5000, seed=33) + regular_family("deep", 10, 3)  # 1,111-model family
    truth = Truth(records)
    pages = math.ceil(len(truth.public) / 1000)
    with ReplicaServer(Hub(records)) as server:
        result = crawl(tmp_path / "out", "model_tree", "root=deep/m", endpoint=server.url, settings={"HFSPIDER_INDEX_PAGES": pages})
    assert result.returncode == 0, result.stderr[-3000:]
    spent = calls(server)
    assert "strategy auto: walking the Hub instead of listing" in result.stderr
    assert spent["walk"] == pages
    assert 1 <= spent["listing"] <= 2 * pages + 32, spent  # what was listed before the switch, and in flight
    assert sum(spent.values()) <= spent["listing"] + pages + 5
    assert dict(result.rows("SELECT model_id, depth FROM tree_members")) == truth.down("deep/m")
    models, edges = feeds(result)
    assert models == sorted(truth.down("deep/m")) and edges == truth.edges(truth.down("deep/m"))
    [(strategy,)] = result.rows("SELECT json_extract(stats, '$.\"hfspider/strategy\"') FROM crawl_runs")
    assert strategy == "listing+index"


def test_a_walk_killed_goes_on_where_it_stopped(tmp_path: Path) -> None:
    records = generate(20_000, seed=34) + BIG
    truth = Truth(records)
    pages = math.ceil(len(truth.public) / 1000)
    output = tmp_path / "out"
    with ReplicaServer(Hub(records), latency=0.3) as server:
        settings = {"HFSPIDER_INDEX_PAGES": pages}
        process = start_crawl(output, "model_tree", "root=big/root", endpoint=server.url, settings=settings)
        wait_for_rows(output / "hfspider.sqlite", 6000)
        wait_for_walk_state(output / "hfspider.sqlite")
        process.send_signal(signal.SIGKILL)
        process.wait()
        first = calls(server)
        server.reset_log()
        result = crawl(output, "model_tree", "root=big/root", endpoint=server.url, settings=settings)
    assert result.returncode == 0, result.stderr[-3000:]
    spent = calls(server)
    assert first["listing"] == spent["listing"] == 0  # the root announced a family dearer to list: walked at once
    # Went on from a stored page, not from the first: only the pages read ahead of the store when
    # the process died are asked again.
    walked = [path for _m, path, _s, _a in server.requests if path.startswith("/api/models?sort=")]
    assert "cursor=" in walked[0] and spent["walk"] < pages, spent
    assert dict(result.rows("SELECT model_id, depth FROM tree_members")) == truth.down("big/root")
    assert {row[0] for row in result.rows("SELECT id FROM models")} == set(truth.down("big/root"))
    models, edges = feeds(result)
    assert models == sorted(truth.down("big/root")) and edges == truth.edges(truth.down("big/root"))


@needs_real_data
def test_the_real_families_by_index_and_by_listing(real_records: list[dict[str, Any]], tmp_path: Path) -> None:
    truth = Truth(real_records)
    roots = sorted(r["id"] for r in real_records if not any(t.startswith("base_model:") for t in r.get("tags", [])))
    roots_file = tmp_path / "roots.txt"
    roots_file.write_text("\n".join(roots), encoding="utf-8")
    results = {}
    with ReplicaServer(Hub(real_records)) as server:
        for strategy in ("index", "listing"):
            arguments = (f"roots_file={roots_file}", f"strategy={strategy}")
            results[strategy] = crawl(tmp_path / strategy, "model_tree", *arguments, endpoint=server.url)
            assert results[strategy].returncode == 0, results[strategy].stderr[-3000:]
    index, listing = results["index"], results["listing"]
    assert sorted(index.rows("SELECT root_id, model_id, depth FROM tree_members")) == sorted(
        listing.rows("SELECT root_id, model_id, depth FROM tree_members")
    )
    members = {m for root in roots for m in truth.down(root)}
    assert tables(index, members) == tables(listing, members)
    assert feeds(index) == feeds(listing)


def test_a_walk_paused_with_a_jobdir_and_faults_on_the_way_ends_exact(tmp_path: Path) -> None:
    """Ctrl-C during the walk with JOBDIR, then the same command: the queue goes on; faults are retried."""
    records = generate(12_000, seed=36) + BIG
    truth = Truth(records)
    pages = math.ceil(len(truth.public) / 1000)
    output, jobdir = tmp_path / "out", tmp_path / "job"
    settings = {"HFSPIDER_INDEX_PAGES": pages, "JOBDIR": jobdir, "HFSPIDER_RETRY_PASS_DELAY": 1}
    faults = {"503": 0.1, "reset": 0.05, "garbage": 0.05}
    with ReplicaServer(Hub(records), latency=0.3, faults=faults, faults_seed=3) as server:
        process = start_crawl(output, "model_tree", "root=big/root", endpoint=server.url, settings=settings)
        wait_for_rows(output / "hfspider.sqlite", 4000)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) != 0  # paused, not finished
        result = crawl(output, "model_tree", "root=big/root", endpoint=server.url, settings=settings)
    assert result.returncode == 0, result.stderr[-3000:]
    walked = {path for _m, path, status, _a in server.requests if status == 200 and path.startswith("/api/models?sort=")}
    assert len(walked) == pages and calls(server)["listing"] == 0
    assert dict(result.rows("SELECT model_id, depth FROM tree_members")) == truth.down("big/root")
    models, edges = feeds(result)
    assert models == sorted(truth.down("big/root")) and edges == truth.edges(truth.down("big/root"))
