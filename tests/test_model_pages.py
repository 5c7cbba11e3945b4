"""``model_pages`` against the replica's website: the same family as ``model_tree``, and what only pages show.

Expected values come from the records and the replica's inputs (spaces, collections,
panel counts), counted here, never from the crawler's own answers.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hfspider.replica import Hub, ReplicaServer, regular_family
from hfspider.replica.truth import Truth
from hfspider.replica.website import Website
from tests.conftest import ROOT, CrawlResult, crawl, crawl_command, needs_real_data, start_crawl, summary, wait_for_rows
from tests.test_model_tree import REAL_FAMILIES

#: Every column of models but when it was read.
MODEL_COLUMNS = (
    "id, author, sha, created_at, last_modified, private, gated, disabled, downloads, downloads_all_time, likes, "
    "trending_score, library_name, pipeline_tag, license, num_parameters, tags, card_data, deleted_at"
)


def snapshot(result: CrawlResult) -> dict[str, Any]:
    """What a crawl stored and wrote, fetch times aside."""
    assert result.returncode == 0, result.stderr[-3000:]
    trees = {path.name: path.read_text(encoding="utf-8") for path in sorted((result.output / "trees").glob("*.json"))}
    return {
        "models": set(result.rows(f"SELECT {MODEL_COLUMNS} FROM models")),
        "edges": set(result.rows("SELECT child_id, parent_id, relation, source FROM edges")),
        "members": set(result.rows("SELECT root_id, model_id, depth FROM tree_members")),
        "feed models": Counter(line["id"] for line in result.feed("models.jsonl")),
        "feed edges": Counter((e["child_id"], e["parent_id"], e["relation"]) for e in result.feed("edges.jsonl")),
        "trees": trees,
    }


def assert_same_family(pages: CrawlResult, api: CrawlResult) -> None:
    ours, theirs = snapshot(pages), snapshot(api)
    for key in ours:
        assert ours[key] == theirs[key], key
    assert max(ours["feed models"].values()) == 1


@needs_real_data
def test_eight_real_families_are_the_same_through_the_website(real_records, run_crawl) -> None:
    roots = "root=" + ",".join(REAL_FAMILIES)
    with ReplicaServer(Hub(real_records)) as server:
        pages = run_crawl(roots, spider="model_pages", endpoint=server.url)
        page_requests = [path for _m, path, _s, _a in server.requests]
        api = run_crawl(roots, endpoint=server.url)
    assert_same_family(pages, api)
    truth = Truth(real_records)
    for root in REAL_FAMILIES:
        assert dict(pages.rows(f"SELECT model_id, depth FROM tree_members WHERE root_id = '{root}'")) == truth.down(root)
    assert not [path for path in page_requests if path.startswith("/api/")]  # the website alone
    members = {m for r in REAL_FAMILIES for m in truth.down(r)}
    assert len(page_requests) <= 1.15 * len(members)


def wide_family() -> list[dict[str, Any]]:
    """A base model with more finetunes than the website's 100 pages of 30 show, plus smaller relations and levels."""
    records: list[dict[str, Any]] = [{"id": "wide/base", "tags": [], "likes": 10}]
    records += [
        {"id": f"wide/ft-{i:04d}", "tags": ["base_model:wide/base", "base_model:finetune:wide/base"], "likes": i % 7} for i in range(3005)
    ]
    records += [{"id": f"wide/lora-{i:02d}", "tags": ["base_model:wide/base", "base_model:adapter:wide/base"]} for i in range(40)]
    records += [{"id": f"wide/q-{i:02d}", "tags": ["base_model:wide/ft-0001", "base_model:quantized:wide/ft-0001"]} for i in range(35)]
    merge = ["base_model:wide/ft-0002", "base_model:merge:wide/ft-0002", "base_model:wide/ft-0003", "base_model:merge:wide/ft-0003"]
    return [*records, {"id": "wide/merge", "tags": merge}]


def test_a_parent_over_the_page_cap_is_listed_through_the_api(run_crawl, tmp_path: Path) -> None:
    records = wide_family()
    truth = Truth(records)
    assert sum(1 for _c, r in truth.children["wide/base"] if r == "finetune") > 100 * 30
    hub = Hub(records)
    with ReplicaServer(hub) as server, ReplicaServer(hub) as other:
        # Both crawls at once, each on a replica of its own: 3,000 pages take a while.
        command, environment = crawl_command(tmp_path / "api", "model_tree", "root=wide/base", endpoint=other.url)
        model_tree = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        pages = run_crawl("root=wide/base", spider="model_pages", endpoint=server.url)
        api_calls = [path for _m, path, _s, _a in server.requests if path.startswith("/api/")]
        _out, err = model_tree.communicate(timeout=300)
    api = CrawlResult(model_tree.returncode, "", err, tmp_path / "api")
    assert_same_family(pages, api)
    assert dict(pages.rows("SELECT model_id, depth FROM tree_members")) == truth.down("wide/base")
    # Only the over-cap relation went to the API: 3,005 finetunes at 1,000 a page.
    assert len(api_calls) == 4 and all(parse_qs(urlsplit(path).query)["filter"] == ["base_model:finetune:wide/base"] for path in api_calls)
    assert "'hfspider/api_listings': 1," in pages.stderr
    assert "wide/base has 3,005 finetune children, more than the website lists" in pages.stderr


SPACES = [{"id": f"sp-{i % 3}/space-{i:02d}", "likes": (i * 7) % 11, "models": ["fx/base"]} for i in range(15)]
FACTS_FAMILY = [
    {"id": "fx/base", "tags": ["dataset:fx/corpus", "dataset:legacy-corpus", "arxiv:2401.01234", "arxiv:2501.00001", "license:mit"]},
    *({"id": f"fx/ft-{i}", "tags": ["base_model:fx/base", "base_model:finetune:fx/base"]} for i in range(3)),
    *({"id": f"fx/lora-{i}", "tags": ["base_model:fx/base", "base_model:adapter:fx/base"]} for i in range(2)),
    {"id": "fx/q", "tags": ["base_model:fx/ft-0", "base_model:quantized:fx/ft-0"]},
    {"id": "fx/gguf", "tags": ["base_model:fx/base", "base_model:quantized:fx/base"]},
    {"id": "other/base", "tags": []},
    {"id": "fx/merged", "tags": ["base_model:fx/base", "base_model:merge:fx/base", "base_model:other/base", "base_model:merge:other/base"]},
    {"id": "fx/hidden", "private": True, "tags": ["base_model:fx/base", "base_model:finetune:fx/base"]},
]
COLLECTIONS = {"fx/base": ["someone/favourites-65a1b2c3d4e5f6a7b8c9d0e1", "org/models-65a1b2c3d4e5f6a7b8c9d0e2"], "fx/ft-0": ["x/one-65a1"]}


def test_panel_counts_spaces_datasets_papers_and_collections_are_read_exactly(run_crawl) -> None:
    site = Website(spaces=SPACES, collections=COLLECTIONS, panel_counts={("fx/base", "adapter"): 5})
    with ReplicaServer(Hub(FACTS_FAMILY), site=site) as server:
        result = run_crawl("root=fx/base", spider="model_pages", endpoint=server.url)
    assert result.returncode == 0, result.stderr[-3000:]
    truth = Truth(FACTS_FAMILY)
    count = Counter(relation for _child, relation in truth.children["fx/base"])
    facts = {
        row[0]: row[1:]
        for row in result.rows("SELECT model_id, finetunes, adapters, quantizations, merges, spaces, unseen FROM page_facts")
    }
    assert facts["fx/base"] == (count["finetune"], 5, count["quantized"], count["merge"], len(SPACES), None)
    assert count["adapter"] == 2  # what the page says (5) is not what the Hub lists
    assert facts["fx/ft-0"] == (None, None, 1, None, None, None)
    assert facts["fx/lora-1"] == (None,) * 6
    assert set(facts) == set(truth.down("fx/base"))

    def links(model: str, kind: str) -> list[str]:
        return sorted(t for (t,) in result.rows(f"SELECT target FROM links WHERE model_id = '{model}' AND kind = '{kind}'"))

    first_twelve = [s["id"] for s in sorted(SPACES, key=lambda s: (-s["likes"], s["id"]))][:12]
    assert links("fx/base", "space") == sorted(first_twelve)
    assert links("fx/base", "dataset") == ["fx/corpus", "legacy-corpus"]
    assert links("fx/base", "paper") == ["2401.01234", "2501.00001"]
    assert links("fx/base", "collection") == sorted(COLLECTIONS["fx/base"])
    assert links("fx/ft-0", "collection") == COLLECTIONS["fx/ft-0"]
    assert result.rows("SELECT COUNT(*) FROM links WHERE model_id NOT IN ('fx/base', 'fx/ft-0')") == [(0,)]
    text = summary(result.output)
    assert "panel counts that differ from the children stored: 1\n  fx/base adapter: the page shows 5, 2 stored\n" in text


def test_a_renamed_root_is_followed_and_a_missing_one_reported(run_crawl) -> None:
    records = [
        {"id": "new-org/model", "tags": []},
        {"id": "kid/a", "tags": ["base_model:new-org/model", "base_model:adapter:new-org/model"]},
    ]
    site = Website(renames={"old-org/model": "new-org/model"})
    with ReplicaServer(Hub(records), site=site) as server:
        result = run_crawl("root=old-org/model,nobody/nothing", spider="model_pages", endpoint=server.url)
    assert result.returncode == 1
    assert "root nobody/nothing: not found on the Hub" in result.stderr
    assert set(result.rows("SELECT root_id, model_id, depth FROM tree_members")) == {
        ("new-org/model", "new-org/model", 0),
        ("new-org/model", "kid/a", 1),
    }
    assert (result.output / "trees" / "new-org--model.json").exists()


def test_relations_and_max_depth_as_model_tree(run_crawl) -> None:
    with ReplicaServer(Hub(FACTS_FAMILY)) as server:
        args = ("root=fx/base", "relations=finetune,quantized", "max_depth=1")
        pages = run_crawl(*args, spider="model_pages", endpoint=server.url)
        api = run_crawl(*args, endpoint=server.url)
    assert_same_family(pages, api)


def test_a_killed_crawl_resumes_with_nothing_lost_and_no_duplicate_feed_lines(tmp_path: Path) -> None:
    records = regular_family("rz", 4, 3)  # 85 models, four levels
    truth = Truth(records)
    output = tmp_path / "out"
    arguments = ("root=rz/m", "cards=1")
    with ReplicaServer(Hub(records), latency=0.3) as server:
        process = start_crawl(output, "model_pages", *arguments, endpoint=server.url, settings={"HFSPIDER_FLUSH_SECONDS": 0.2})
        wait_for_rows(output / "hfspider.sqlite", 10)
        process.kill()
        process.communicate(timeout=60)
        stored = {row[0] for row in CrawlResult(0, "", "", output).rows("SELECT id FROM models")}
        assert 10 <= len(stored) < len(truth.down("rz/m"))  # killed halfway
        server.latency = 0.0
        result = crawl(output, "model_pages", *arguments, endpoint=server.url)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming:" in result.stderr
    assert [row[0] for row in result.rows("SELECT outcome FROM crawl_runs ORDER BY id")] == ["running", "finished"]
    expected = truth.down("rz/m")
    assert dict(result.rows("SELECT model_id, depth FROM tree_members")) == expected
    models = Counter(line["id"] for line in result.feed("models.jsonl"))
    edges = Counter((e["child_id"], e["parent_id"]) for e in result.feed("edges.jsonl"))
    assert set(models) == set(expected) and max(models.values()) == 1
    assert set(edges) == {(child, parent) for child, parent, _r in truth.edges(expected)} and max(edges.values()) == 1
    assert {row[0] for row in result.rows("SELECT model_id FROM cards WHERE status = 404")} == set(expected)  # none has a card
    assert result.rows("SELECT COUNT(*) FROM page_facts") == [(len(expected),)]


def test_robots_txt_is_obeyed_for_pages_only(run_crawl) -> None:
    records = [
        {"id": "rb/base", "tags": []},
        {"id": "rb/open", "tags": ["base_model:rb/base", "base_model:finetune:rb/base"]},
        {"id": "rb/blocked", "tags": ["base_model:rb/base", "base_model:finetune:rb/base"]},
        {"id": "rb/under", "tags": ["base_model:rb/open", "base_model:adapter:rb/open"]},
    ]
    robots = "User-agent: *\nDisallow: /api/\nDisallow: /rb/blocked\nDisallow: /models?other=base_model:adapter:\n"
    with ReplicaServer(Hub(records), site=Website(robots=robots)) as server:
        result = run_crawl("root=rb/base", "spaces=1", spider="model_pages", endpoint=server.url)
        paths = [path for _m, path, _s, _a in server.requests]
    assert result.returncode == 0, result.stderr[-3000:]
    assert "/rb/blocked" not in paths and not [p for p in paths if p.startswith("/models?other=base_model:adapter:")]
    # The API is not governed by robots.txt: the Spaces calls, and the adapter listing the website refused.
    assert len([p for p in paths if p.startswith("/api/spaces")]) == 3 and len([p for p in paths if p.startswith("/api/models?")]) == 1
    assert dict(result.rows("SELECT model_id, depth FROM tree_members")) == {"rb/base": 0, "rb/open": 1, "rb/under": 2}
    assert "robots.txt forbids the page of rb/blocked; left out" in result.stderr


def test_top_n_are_the_most_liked_on_the_website(run_crawl) -> None:
    records = [{"id": f"top/base-{likes}", "tags": [], "likes": likes} for likes in (5, 9, 7, 1)]
    records += [
        {"id": f"top/kid-{i}", "tags": [f"base_model:top/base-{b}", f"base_model:finetune:top/base-{b}"]} for i, b in enumerate((9, 7, 5))
    ]
    with ReplicaServer(Hub(records)) as server:
        result = run_crawl("top=2", spider="model_pages", endpoint=server.url)
    assert result.returncode == 0, result.stderr[-3000:]
    assert set(result.rows("SELECT root_id, model_id, depth FROM tree_members")) == {
        ("top/base-9", "top/base-9", 0),
        ("top/base-9", "top/kid-0", 1),
        ("top/base-7", "top/base-7", 0),
        ("top/base-7", "top/kid-1", 1),
    }
