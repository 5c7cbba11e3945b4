"""End-to-end family crawls against the replica, checked against ground truth from the records."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hfspider.replica import Hub, ReplicaServer, generate
from hfspider.replica.truth import Truth
from tests.conftest import CrawlResult, needs_real_data

# The eight families of ../shared/data/README.md, by depth (an independent count).
REAL_FAMILIES = {
    "deepseek-ai/DeepSeek-V3": {0: 1, 1: 133, 2: 7},
    "stabilityai/stable-diffusion-3-medium": {0: 1, 1: 78, 2: 3},
    "deepseek-ai/Janus-Pro-7B": {0: 1, 1: 34, 2: 2},
    "hexgrad/Kokoro-82M": {0: 1, 1: 31},
    "THUDM/CogVideoX-5b": {0: 1, 1: 25},
    "LGAI-EXAONE/EXAONE-Deep-32B": {0: 1, 1: 15},
    "WarriorMama777/OrangeMixs": {0: 1, 1: 10},
    "bigscience/bloom": {0: 1, 1: 6},
}


def members(result: CrawlResult, root: str) -> dict[str, int]:
    return dict(result.rows(f"SELECT model_id, depth FROM tree_members WHERE root_id = '{root}'"))


def stored_edges(result: CrawlResult) -> set[tuple[str, str, str]]:
    return {tuple(row) for row in result.rows("SELECT child_id, parent_id, relation FROM edges")}


def assert_exact(result: CrawlResult, truth: Truth, root: str, expected: dict[str, int]) -> None:
    assert result.returncode == 0, result.stderr[-3000:]
    assert members(result, root) == expected
    stored = {row[0] for row in result.rows("SELECT id FROM models")}
    assert set(expected) <= stored
    assert truth.edges(expected) <= stored_edges(result)
    missing_meta = result.rows("SELECT id FROM models WHERE created_at IS NULL OR tags IS NULL OR fetched_at IS NULL")
    assert missing_meta == []
    feed = Counter(line["id"] for line in result.feed("models.jsonl"))
    assert set(expected) <= set(feed) and max(feed.values()) == 1


@pytest.fixture(scope="module")
def synthetic() -> list[dict[str, Any]]:
    return generate(6000, seed=7)


@pytest.fixture(scope="module")
def synthetic_server(synthetic: list[dict[str, Any]]) -> Iterator[ReplicaServer]:
    with ReplicaServer(Hub(synthetic)) as server:
        yield server


def test_biggest_synthetic_family_is_exact_at_about_one_call_per_model(synthetic, synthetic_server, run_crawl) -> None:
    truth = Truth(synthetic)
    root, expected = truth.biggest_family()
    widest = max(len(truth.children[m]) for m in expected)
    assert widest >= 2500  # the crawl must page through a parent with three pages of children
    synthetic_server.reset_log()
    result = run_crawl(f"root={root}", endpoint=synthetic_server.url)
    assert_exact(result, truth, root, expected)
    calls = len(synthetic_server.requests)
    assert calls / len(expected) <= 1.05, (calls, len(expected))
    tree = json.loads((result.output / "trees" / f"{root.replace('/', '--')}.json").read_text())
    assert tree["size"] == len(expected)
    assert tree["by_depth"] == {str(d): n for d, n in sorted(Counter(expected.values()).items())}


def test_second_run_leaves_one_copy_of_every_row(synthetic, synthetic_server, run_crawl, tmp_path: Path) -> None:
    truth = Truth(synthetic)
    parent = max(sorted(truth.children), key=lambda m: (len(truth.children[m]) < 300, len(truth.children[m])))
    output = tmp_path / "same"
    first = run_crawl(f"root={parent}", endpoint=synthetic_server.url, output=output)
    counts = [first.rows(f"SELECT COUNT(*) FROM {t}")[0][0] for t in ("models", "edges", "tree_members")]
    second = run_crawl(f"root={parent}", endpoint=synthetic_server.url, output=output)
    assert second.returncode == 0
    assert [second.rows(f"SELECT COUNT(*) FROM {t}")[0][0] for t in ("models", "edges", "tree_members")] == counts
    assert counts[0] == len(truth.down(parent))
    assert [row[0] for row in second.rows("SELECT outcome FROM crawl_runs ORDER BY id")] == ["finished", "finished"]


QUIRKS = [
    {"id": "base/root", "tags": ["license:apache-2.0"], "createdAt": "2024-01-01T00:00:00.000Z"},
    # a merge of two family members
    {"id": "kid/a", "tags": ["base_model:base/root", "base_model:finetune:base/root"]},
    {"id": "kid/b.v2_x", "tags": ["base_model:base/root", "base_model:adapter:base/root"]},
    {"id": "kid/merged", "tags": ["base_model:kid/a", "base_model:merge:kid/a", "base_model:kid/b.v2_x", "base_model:merge:kid/b.v2_x"]},
    # a 2-cycle below the root, and a self-loop
    {"id": "loop/x", "tags": ["base_model:kid/a", "base_model:finetune:kid/a", "base_model:loop/y", "base_model:finetune:loop/y"]},
    {"id": "loop/y", "tags": ["base_model:loop/x", "base_model:quantized:loop/x"]},
    {"id": "self/s", "tags": ["base_model:self/s", "base_model:finetune:self/s", "base_model:kid/a", "base_model:quantized:kid/a"]},
    # a child whose other parent is missing from the Hub, one whose lineage is only in its card
    {
        "id": "kid/orphanish",
        "tags": ["base_model:gone/parent", "base_model:merge:gone/parent", "base_model:kid/a", "base_model:merge:kid/a"],
    },
    {"id": "card/only", "tags": [], "cardData": {"base_model": " https://huggingface.co/base/root "}},
    # private and gated children
    {"id": "priv/p", "private": True, "tags": ["base_model:base/root", "base_model:finetune:base/root"]},
    {"id": "gate/g", "gated": "manual", "tags": ["base_model:kid/merged", "base_model:finetune:kid/merged"]},
]


@pytest.fixture(scope="module")
def quirks_server() -> Iterator[ReplicaServer]:
    with ReplicaServer(Hub(QUIRKS)) as server:
        yield server


def test_quirky_family_terminates_exact(quirks_server, run_crawl) -> None:
    truth = Truth(QUIRKS)
    expected = truth.down("base/root")
    assert expected == {
        "base/root": 0,
        "kid/a": 1,
        "kid/b.v2_x": 1,
        "kid/merged": 2,
        "loop/x": 2,
        "loop/y": 3,
        "self/s": 2,
        "kid/orphanish": 2,
        "gate/g": 3,
    }
    quirks_server.reset_log()
    result = run_crawl("root=base/root", endpoint=quirks_server.url)
    assert_exact(result, truth, "base/root", expected)
    listings = [path for _m, path, _s, _a in quirks_server.requests if path.startswith("/api/models?")]
    assert len(listings) == len(set(listings)) == len(expected)  # every model's children listed once
    assert ("kid/orphanish", "gone/parent", "merge") in stored_edges(result)
    assert result.rows("SELECT gated FROM models WHERE id = 'gate/g'") == [("manual",)]


def test_up_and_both_directions(quirks_server, run_crawl) -> None:
    truth = Truth(QUIRKS)
    up = run_crawl("root=gate/g", "direction=up", endpoint=quirks_server.url)
    assert up.returncode == 0, up.stderr[-2000:]
    assert members(up, "gate/g") == truth.up("gate/g") == {"gate/g": 0, "kid/merged": -1, "kid/a": -2, "kid/b.v2_x": -2, "base/root": -3}
    both = run_crawl("root=loop/y", "direction=both", endpoint=quirks_server.url)
    assert both.returncode == 0
    ancestors = truth.up("loop/y")
    assert "base/root" in ancestors
    generation: dict[str, int] = {}
    for top, offset in ancestors.items():
        for model, depth in truth.down(top).items():
            generation[model] = min(generation.get(model, depth + offset), depth + offset)
    assert members(both, "loop/y") == generation


def test_max_depth_and_relations(quirks_server, run_crawl) -> None:
    truth = Truth(QUIRKS)
    shallow = run_crawl("root=base/root", "max_depth=1", endpoint=quirks_server.url)
    assert members(shallow, "base/root") == truth.down("base/root", max_depth=1)
    finetunes = run_crawl("root=base/root", "relations=finetune", endpoint=quirks_server.url)
    assert members(finetunes, "base/root") == truth.down("base/root", relations={"finetune"})
    two = run_crawl("root=base/root", "relations=finetune,merge", endpoint=quirks_server.url)
    assert members(two, "base/root") == truth.down("base/root", relations={"finetune", "merge"})


@needs_real_data
def test_eight_real_families_exact(real_records, run_crawl) -> None:
    truth = Truth(real_records)
    with ReplicaServer(Hub(real_records)) as server:
        result = run_crawl("root=" + ",".join(REAL_FAMILIES), endpoint=server.url)
    for root, by_depth in REAL_FAMILIES.items():
        expected = truth.down(root)
        assert dict(Counter(expected.values())) == by_depth
        assert_exact(result, truth, root, expected)


@needs_real_data
def test_top_n_crawls_the_most_liked(real_records, run_crawl) -> None:
    liked = sorted((r for r in real_records if not r.get("private")), key=lambda r: -r["likes"])[:2]
    truth = Truth(real_records)
    with ReplicaServer(Hub(real_records)) as server:
        result = run_crawl("top=2", endpoint=server.url)
    assert result.returncode == 0
    for record in liked:
        assert members(result, record["id"]) == truth.down(record["id"])
