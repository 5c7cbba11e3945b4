"""The Hub replica against the contract in hub-api.md.

Seen through huggingface_hub (the reference client) where it can express the
request, through raw urllib where headers and refusals matter. Expected values
come from the input records, never from the replica's own answers.
"""

from __future__ import annotations

import collections
import http.client
import json
import random
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import BadRequestError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

from hfspider.replica import Hub, ReplicaServer, generate

REPO = Path(__file__).resolve().parents[1]
SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-hub-sample.jsonl"
needs_sample = pytest.mark.skipif(not SAMPLE.is_file(), reason="real Hub sample not available")

RELATIONS = {"finetune", "adapter", "quantized", "merge"}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$")
NEXT = re.compile(r'^<([^>]+)>; rel="next"$')
TOKEN = "hf_replica_test_token"


# --- helpers ---------------------------------------------------------------


def fetch(url: str, auth: str | None = None) -> tuple[int, Message, Any]:
    """GET a URL: status, headers and decoded JSON body, errors included."""
    headers = {"Authorization": auth} if auth else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as resp:
            return resp.status, resp.headers, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, err.headers, json.loads(err.read())


def next_url(headers: Message) -> str | None:
    link = headers.get("Link")
    if link is None:
        return None
    match = NEXT.match(link)
    assert match, link
    return match.group(1)


def walk(url: str) -> list[dict]:
    """Follow Link headers to the end; every item served."""
    items: list[dict] = []
    next_page: str | None = url
    while next_page:
        status, headers, body = fetch(next_page)
        assert status == 200, body
        items += body
        next_page = next_url(headers)
    return items


def parents(rec: dict) -> list[tuple[str, str]]:
    """(relation, parent id) pairs read from the lineage tags."""
    pairs = []
    for tag in rec.get("tags") or []:
        parts = tag.split(":", 2)
        if len(parts) == 3 and parts[0] == "base_model" and parts[1] in RELATIONS:
            pairs.append((parts[1], parts[2]))
    return pairs


def public(records: list[dict]) -> list[dict]:
    return [rec for rec in records if not rec.get("private")]


def api(server: ReplicaServer, token: str | bool = False) -> HfApi:
    return HfApi(endpoint=server.url, token=token)


def rate_limit(headers: Message) -> tuple[int, int]:
    match = re.fullmatch(r'"api";r=(\d+);t=(\d+)', headers["RateLimit"])
    assert match, headers["RateLimit"]
    return int(match.group(1)), int(match.group(2))


# --- fixtures ----------------------------------------------------------------


@pytest.fixture(scope="module")
def real_records() -> list[dict]:
    if not SAMPLE.is_file():
        pytest.skip("real Hub sample not available")
    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def real_server(real_records: list[dict]) -> Iterator[ReplicaServer]:
    with ReplicaServer(Hub(real_records), default_limit=100) as server:
        yield server


@pytest.fixture(scope="module")
def synth_records() -> list[dict]:
    return generate(300, seed=3)


@pytest.fixture(scope="module")
def synth_server(synth_records: list[dict]) -> Iterator[ReplicaServer]:
    with ReplicaServer(Hub(synth_records), default_limit=37) as server:
        yield server


QUIRKY = [
    {"id": "gpt2", "downloads": 5, "tags": ["transformers", "region:us"]},
    {"id": "Org/Name", "downloads": 3, "sha": "a" * 40, "tags": ["region:us"]},
    {"id": "org/secret", "private": True, "tags": ["region:us"]},
    {"id": "org/gated-auto", "gated": "auto", "tags": ["region:us"]},
    {"id": "org/gated-manual", "gated": "manual", "tags": ["region:us"]},
    {"id": "org/banned", "disabled": True, "tags": ["region:us"]},
    {"id": "org/base", "tags": ["base_model:org/base", "base_model:finetune:org/base"]},  # self-loop
    {"id": "org/kid", "tags": ["base_model:org/base", "base_model:finetune:org/base"]},
    {"id": "org/hidden-kid", "private": True, "tags": ["base_model:org/base", "base_model:adapter:org/base"]},
    {
        "id": "org/merged",
        "tags": [f"base_model:{kind}{p}" for p in ("org/base", "Org/Name", "org/secret", "gone/model") for kind in ("", "merge:")],
    },
    {"id": "org/mixed", "tags": ["base_model:finetune:org/base", "base_model:adapter:Org/Name"]},  # the Hub shows one relation
]


@pytest.fixture
def quirky_server() -> Iterator[ReplicaServer]:
    with ReplicaServer(Hub(dict(rec) for rec in QUIRKY)) as server:
        yield server


# --- synthetic generator ---------------------------------------------------------


def test_generate_is_deterministic_per_seed() -> None:
    first = generate(500, seed=1)
    assert first == generate(500, seed=1)
    assert first != generate(500, seed=2)
    assert len(first) == 500
    assert len({rec["id"] for rec in first}) == 500


def test_generated_records_look_like_the_hub_s() -> None:
    records = generate(2000, seed=4)
    for rec in records:
        assert re.fullmatch(r"[0-9a-f]{24}", rec["_id"])
        assert ISO.match(rec["createdAt"]) and ISO.match(rec["lastModified"])
        assert rec["createdAt"] <= rec["lastModified"]
        assert rec["gated"] in (False, "auto", "manual")
        assert rec.get("pipeline_tag", "x") and rec.get("library_name", "x")  # absent, never null
        pairs = parents(rec)
        untyped = {tag.split(":", 1)[1] for tag in rec["tags"] if tag.startswith("base_model:") and tag.count(":") == 1}
        assert untyped == {parent for _, parent in pairs}
        assert len({relation for relation, _ in pairs}) <= 1
        if pairs and pairs[0][0] == "merge":
            assert 1 <= len(pairs) <= 3
        elif pairs:
            assert len(pairs) == 1
        license_tags = [tag for tag in rec["tags"] if tag.startswith("license:")]
        if license_tags:
            assert license_tags == [f"license:{rec['cardData']['license']}"]
        if "safetensors" in rec:
            assert rec["safetensors"]["total"] == sum(rec["safetensors"]["parameters"].values())
    ids = [rec["id"] for rec in records]
    assert any("." in i and "_" in i for i in ids)
    assert 0.001 < sum(rec["private"] for rec in records) / len(records) < 0.03
    assert any(rec["disabled"] for rec in records)
    assert {rec["gated"] for rec in records} == {False, "auto", "manual"}
    assert any("gguf" in rec for rec in records)
    assert any(rec.get("cardData") and isinstance(rec["cardData"].get("base_model"), str) for rec in records)
    assert any(rec.get("cardData") and isinstance(rec["cardData"].get("base_model"), list) for rec in records)


def test_generated_lineage_has_the_hub_s_statistics_and_quirks() -> None:
    records = generate(20000, seed=0)
    by_id = {rec["id"]: rec for rec in records}
    edges = [(rec["id"], relation, parent) for rec in records for relation, parent in parents(rec)]
    assert 0.27 < len({child for child, _, _ in edges}) / len(records) < 0.33

    mix = collections.Counter(relation for _, relation, _ in edges)
    for relation, share in {"adapter": 0.42, "finetune": 0.33, "quantized": 0.18, "merge": 0.07}.items():
        assert abs(mix[relation] / len(edges) - share) < 0.03, mix

    fan_out = collections.Counter(parent for _, _, parent in edges)
    assert max(fan_out.values()) >= 2500
    assert sorted(fan_out.values())[len(fan_out) // 2] <= 3  # most parents have few children

    relation_of = {child: relation for child, relation, _ in edges}
    with_children = collections.Counter(relation_of[p] for p in fan_out if p in relation_of)
    finetunes = sum(1 for r in relation_of.values() if r == "finetune")
    assert 0.04 < with_children["finetune"] / finetunes < 0.15
    assert with_children["finetune"] > with_children["quantized"] > 0

    parent_map = collections.defaultdict(set)
    for child, _, parent in edges:
        parent_map[child].add(parent)

    def depth(model: str) -> int:
        """Generations of existing ancestors above a model, cycles cut."""
        seen, frontier, level = {model}, {model}, 0
        while True:
            frontier = {p for m in frontier for p in parent_map.get(m, ()) if p in by_id and p not in seen}
            if not frontier:
                return level
            seen |= frontier
            level += 1

    assert max(depth(m) for m in parent_map) >= 3
    assert any(child == parent for child, _, parent in edges)  # self-loop
    assert any(child in parent_map[parent] for child, _, parent in edges if child != parent)  # 2-cycle
    assert any(parent not in by_id for _, _, parent in edges)  # parent missing from the hub
    assert any(by_id[parent]["private"] for _, _, parent in edges if parent in by_id)
    cards = [rec["cardData"].get("base_model") for rec in records if rec.get("cardData")]
    strings = [value for value in cards if isinstance(value, str)]
    assert any(value.startswith("https://huggingface.co/") for value in strings)
    assert any(value != value.strip() for value in strings)
    assert any("/" not in value for value in strings)
    lowered = {model_id.lower() for model_id in by_id}
    assert any(value.lower() in lowered and value not in by_id for value in strings)  # wrong case
    assert any(rec.get("cardData", {}).get("base_model") and not parents(rec) for rec in records)


# --- listing -----------------------------------------------------------------------


@needs_sample
def test_listing_walks_every_public_model_exactly_once(real_server: ReplicaServer, real_records: list[dict]) -> None:
    real_server.reset_log()
    ids = [model.id for model in api(real_server).list_models()]
    assert sorted(ids) == sorted(rec["id"] for rec in public(real_records))
    pages = real_server.requests
    assert len(pages) == -(-len(ids) // 100)  # default page size set to 100 for this server
    assert all("cursor=" in path for _, path, _, _ in pages[1:])
    assert all(status == 200 and auth is None for _, _, status, auth in pages)


@needs_sample
@pytest.mark.parametrize(
    ("kwargs", "keep"),
    [
        ({"filter": "base_model:deepseek-ai/DeepSeek-V3"}, lambda r: "base_model:deepseek-ai/DeepSeek-V3" in r["tags"]),
        (
            {"filter": ["base_model:finetune:deepseek-ai/DeepSeek-V3", "license:mit"]},
            lambda r: {"base_model:finetune:deepseek-ai/DeepSeek-V3", "license:mit"} <= set(r["tags"]),
        ),
        ({"search": "JANUS"}, lambda r: "janus" in r["id"].lower()),
        ({"author": "deepseek-ai"}, lambda r: r["id"].startswith("deepseek-ai/")),
        ({"pipeline_tag": "text-generation"}, lambda r: r.get("pipeline_tag") == "text-generation"),
    ],
)
def test_listing_filters_select_what_the_tags_say(real_server: ReplicaServer, real_records: list[dict], kwargs: dict, keep: Any) -> None:
    expected = {rec["id"] for rec in public(real_records) if keep(rec)}
    assert expected  # the case means something on this data
    assert {model.id for model in api(real_server).list_models(**kwargs)} == expected


@needs_sample
def test_library_filter(real_server: ReplicaServer, real_records: list[dict]) -> None:
    expected = {rec["id"] for rec in real_records if rec.get("library_name") == "diffusers"}
    items = walk(f"{real_server.url}/api/models?library=diffusers")
    assert expected and {item["id"] for item in items} == expected


@pytest.mark.parametrize("sort", ["downloads", "likes", "lastModified", "createdAt", "trendingScore"])
def test_sorted_listing_is_descending_and_complete(synth_server: ReplicaServer, synth_records: list[dict], sort: str) -> None:
    by_id = {rec["id"]: rec for rec in synth_records}
    synth_server.reset_log()
    ids = [model.id for model in api(synth_server).list_models(sort=sort)]
    values = [by_id[i][sort] for i in ids]
    assert values == sorted(values, reverse=True)
    assert sorted(ids) == sorted(rec["id"] for rec in public(synth_records))
    assert len(synth_server.requests) == -(-len(ids) // 37)


def test_created_at_may_ascend(synth_server: ReplicaServer, synth_records: list[dict]) -> None:
    items = walk(f"{synth_server.url}/api/models?sort=createdAt&direction=1&limit=50")
    created = [item["createdAt"] for item in items]
    assert created == sorted(created)
    assert len(items) == len(public(synth_records))


@needs_sample
def test_default_item_has_the_hub_s_keys_in_order(real_server: ReplicaServer, real_records: list[dict]) -> None:
    by_id = {rec["id"]: rec for rec in real_records}
    items = walk(f"{real_server.url}/api/models?limit=1000")
    for item in items:
        rec = by_id[item["id"]]
        expected = ["_id", "id", "likes", "trendingScore", "private", "downloads", "tags"]
        expected += [key for key in ("pipeline_tag", "library_name") if rec.get(key) is not None]
        assert list(item) == [*expected, "createdAt", "modelId"]
        assert (item["_id"], item["downloads"], item["tags"], item["modelId"]) == (rec["_id"], rec["downloads"], rec["tags"], rec["id"])
        assert item["trendingScore"] == 0  # absent from the sample, filled in
    assert any("pipeline_tag" not in item for item in items)


@needs_sample
def test_full_card_data_config_and_expand_shape_the_items(real_server: ReplicaServer, real_records: list[dict]) -> None:
    by_id = {rec["id"]: rec for rec in real_records}
    _, _, full = fetch(f"{real_server.url}/api/models?full=true&cardData=true&config=true&limit=1000")
    for item in full:
        rec = by_id[item["id"]]
        assert {"author", "sha", "lastModified", "gated", "disabled", "siblings"} <= set(item)
        assert item["gated"] == rec["gated"] and item["lastModified"] == rec["lastModified"]
        assert item["cardData"] == rec["cardData"]
        assert item.get("config") == rec.get("config")
    _, _, expanded = fetch(f"{real_server.url}/api/models?expand=downloads&expand[]=cardData&limit=1000")
    assert all(list(item) == ["_id", "id", "downloads", "cardData"] for item in expanded)
    models = list(api(real_server).list_models(expand=["likes", "gated"]))
    assert all(m.likes == by_id[m.id]["likes"] and m.gated == by_id[m.id]["gated"] and m.downloads is None for m in models)


@pytest.mark.parametrize(
    "query",
    [
        "expand=nope",
        "expand=baseModels",
        "expand=childrenModelCount",
        "expand=downloads&full=true",
        "expand[]=downloads&cardData=true",
        "sort=bogus",
        "sort=downloads&direction=1",
        "direction=2",
        "limit=1001",
        "limit=0",
        "limit=ten",
        "cursor=garbage",
    ],
)
def test_listing_refuses_bad_parameters(synth_server: ReplicaServer, query: str) -> None:
    status, headers, body = fetch(f"{synth_server.url}/api/models?{query}")
    assert status == 400
    assert isinstance(body["error"], str) and headers["X-Error-Message"] == body["error"]
    assert headers["RateLimit"]


def test_forged_or_foreign_cursors_are_refused(synth_server: ReplicaServer) -> None:
    _, headers, _ = fetch(f"{synth_server.url}/api/models?sort=likes&limit=5")
    cursor = dict(parse_qsl(urlsplit(next_url(headers)).query))["cursor"]
    forged = ("A" if cursor[0] != "A" else "B") + cursor[1:]
    assert fetch(f"{synth_server.url}/api/models?sort=likes&limit=5&cursor={forged}")[0] == 400
    assert fetch(f"{synth_server.url}/api/models?sort=downloads&limit=5&cursor={cursor}")[0] == 400
    assert fetch(f"{synth_server.url}/api/models?sort=likes&limit=5&cursor={cursor}")[0] == 200


def test_bad_cursor_can_read_as_an_empty_page(synth_records: list[dict]) -> None:
    with ReplicaServer(Hub(synth_records), bad_cursor="empty") as server:
        status, headers, body = fetch(f"{server.url}/api/models?cursor=garbage")
    assert (status, body, headers.get("Link")) == (200, [], None)


def test_limit_over_the_maximum_can_be_clamped() -> None:
    records = generate(1200, seed=9)
    with ReplicaServer(Hub(records), limit_over_max="clamp") as server:
        status, headers, body = fetch(f"{server.url}/api/models?limit=5000")
        assert status == 200 and len(body) == 1000 and next_url(headers)
    with ReplicaServer(Hub(records)) as server, pytest.raises(BadRequestError):
        list(api(server).list_models(limit=5000))


def test_link_repeats_every_parameter_and_ends(synth_server: ReplicaServer, synth_records: list[dict]) -> None:
    params = [("filter", "region:us"), ("filter", "license:apache-2.0"), ("sort", "likes"), ("limit", "7"), ("expand", "likes")]
    expected = [rec["id"] for rec in public(synth_records) if {"region:us", "license:apache-2.0"} <= set(rec["tags"])]
    url: str | None = f"{synth_server.url}/api/models?{urlencode(params)}"
    seen: list[str] = []
    while url:
        status, headers, body = fetch(url)
        assert status == 200
        seen += [item["id"] for item in body]
        url = next_url(headers)
        if url:
            assert url.startswith(f"{synth_server.url}/api/models?")
            pairs = parse_qsl(urlsplit(url).query)
            assert [pair for pair in pairs if pair[0] != "cursor"] == params
            assert [name for name, _ in pairs].count("cursor") == 1
        else:
            assert len(body) <= 7
    assert sorted(seen) == sorted(expected) and len(expected) > 14


@pytest.mark.parametrize("case", ["default order", "sort=downloads", "filter=region:us&sort=likes", "family"])
def test_walk_stays_exact_while_the_hub_changes(case: str) -> None:
    """Models added, edited or removed between pages never make the walk skip or repeat the others."""
    records = generate(2000, seed=11)
    rng = random.Random(5)
    hub = Hub(records)
    if case == "family":  # a small family: the replica sorts its index list rather than walk the hub
        top = collections.Counter(p for rec in public(records) for _, p in parents(rec)).most_common(1)[0][0]
        tag, query, limit = f"base_model:{top}", f"filter=base_model:{top}&sort=downloads", 10
    else:
        tag, query, limit = "region:us", case.replace("default order", ""), 150
    expected = {rec["id"] for rec in public(records) if "filter" not in query or tag in rec["tags"]}
    assert len(expected) > 3 * limit
    changed: set[str] = set()
    seen: collections.Counter[str] = collections.Counter()
    with ReplicaServer(hub) as server:
        url: str | None = f"{server.url}/api/models?{query}&limit={limit}"
        while url:
            _, headers, body = fetch(url)
            seen.update(item["id"] for item in body)
            url = next_url(headers)
            unseen = sorted(expected - set(seen) - changed)
            for _ in range(2):
                hub.upsert(
                    {
                        "id": f"new/model-{rng.randrange(10**9)}",
                        "downloads": rng.randrange(10**6),
                        "likes": rng.randrange(1000),
                        "tags": ["region:us", tag],
                    }
                )
            for model_id in rng.sample(unseen, min(2, len(unseen))):
                edited = dict(hub.get(model_id), downloads=rng.randrange(10**6), likes=rng.randrange(1000))
                hub.upsert(edited)
                changed.add(model_id)
            for model_id in rng.sample(unseen, min(1, len(unseen))):
                if model_id not in changed:
                    hub.remove(model_id)
                    changed.add(model_id)
    assert all(seen[model_id] == 1 for model_id in expected - changed)
    assert all(count == 1 for model_id, count in seen.items() if model_id.startswith("new/"))


def test_giant_family_pages_through_huggingface_hub() -> None:
    records = generate(5000, seed=0)
    fan_out = collections.Counter(p for rec in public(records) for _, p in parents(rec))
    top, children = fan_out.most_common(1)[0]
    assert children >= 2500
    finetunes = {rec["id"] for rec in public(records) if ("finetune", top) in parents(rec)}
    with ReplicaServer(Hub(records), default_limit=1000) as server:
        family = [model.id for model in api(server).list_models(filter=f"base_model:{top}")]
        assert len(server.requests) == 3 and all("cursor=" in path for _, path, _, _ in server.requests[1:])
        assert sorted(family) == sorted(rec["id"] for rec in public(records) if any(p == top for _, p in parents(rec)))
        assert {model.id for model in api(server).list_models(filter=f"base_model:finetune:{top}")} == finetunes
        info = api(server).model_info(top, expand=["childrenModelCount"])
    counts = collections.Counter(r for rec in public(records) for r, p in parents(rec) if p == top and rec["id"] != top)
    assert info.children_model_count == dict(counts)


# --- one model ---------------------------------------------------------------------------


@needs_sample
def test_model_info_returns_the_record(real_server: ReplicaServer, real_records: list[dict]) -> None:
    for rec in [r for r in real_records if "sha" in r][:20]:
        info = api(real_server).model_info(rec["id"])
        assert (info.id, info.sha, info.downloads, info.likes) == (rec["id"], rec["sha"], rec["downloads"], rec["likes"])
        assert info.tags == rec["tags"]
        assert (info.library_name, info.pipeline_tag) == (rec.get("library_name"), rec.get("pipeline_tag"))
        assert [s.rfilename for s in info.siblings] == [s["rfilename"] for s in rec["siblings"]]
    _, _, body = fetch(f"{real_server.url}/api/models/deepseek-ai/DeepSeek-V3")
    assert list(body)[:6] == ["_id", "id", "modelId", "author", "sha", "lastModified"]


@needs_sample
def test_model_info_expands_lineage(real_server: ReplicaServer, real_records: list[dict]) -> None:
    by_id = {rec["id"]: rec for rec in real_records}
    root = "deepseek-ai/DeepSeek-V3"
    counts = collections.Counter(r for rec in real_records for r, p in parents(rec) if p == root and rec["id"] != root)
    info = api(real_server).model_info(root, expand=["childrenModelCount", "downloads"])
    assert info.children_model_count == dict(counts) and info.downloads == by_id[root]["downloads"]
    assert info.likes is None
    child = next(rec for rec in real_records if parents(rec) and all(p in by_id for _, p in parents(rec)))
    _, _, body = fetch(f"{real_server.url}/api/models/{child['id']}?expand=baseModels")
    relation = parents(child)[0][0]
    assert body["baseModels"] == {
        "relation": relation,
        "models": [{"_id": by_id[p]["_id"], "id": p} for r, p in parents(child) if r == relation],
    }
    _, _, body = fetch(f"{real_server.url}/api/models/{root}?expand[]=baseModels&expand[]=usedStorage")
    assert body == {"_id": by_id[root]["_id"], "id": root, "usedStorage": by_id[root]["usedStorage"]}
    assert fetch(f"{real_server.url}/api/models/{root}?expand=bogus")[0] == 400


def test_model_routes_take_legacy_ids_any_case_and_revisions(quirky_server: ReplicaServer) -> None:
    hub_api = api(quirky_server)
    assert hub_api.model_info("gpt2").id == "gpt2"
    assert hub_api.model_info("org/name").id == "Org/Name"
    assert hub_api.model_info("Org/Name", revision="main").sha == "a" * 40
    assert hub_api.model_info("Org/Name", revision="a" * 40).id == "Org/Name"
    assert hub_api.model_info("gpt2", revision="main").id == "gpt2"
    with pytest.raises(RevisionNotFoundError):
        hub_api.model_info("Org/Name", revision="v9")
    assert hub_api.model_info("gpt2").created_at.year == 2022  # filled in: the Hub's oldest date


def test_lineage_expansions_skip_self_loops_and_hidden_models(quirky_server: ReplicaServer) -> None:
    hub_api = api(quirky_server)
    assert hub_api.model_info("org/base", expand=["childrenModelCount"]).children_model_count == {"finetune": 2, "merge": 1}
    _, _, body = fetch(f"{quirky_server.url}/api/models/org/merged?expand=baseModels")
    assert body["baseModels"]["relation"] == "merge"
    assert [model["id"] for model in body["baseModels"]["models"]] == ["org/base", "Org/Name"]  # private and missing left out
    _, _, body = fetch(f"{quirky_server.url}/api/models/org/kid?expand=baseModels&expand=childrenModelCount")
    assert body["baseModels"]["models"][0]["id"] == "org/base" and body["childrenModelCount"] == {}
    _, _, body = fetch(f"{quirky_server.url}/api/models/org/mixed?expand=baseModels")
    assert body["baseModels"]["relation"] == "finetune"
    assert [model["id"] for model in body["baseModels"]["models"]] == ["org/base"]


def test_errors_are_the_hub_s(quirky_server: ReplicaServer) -> None:
    anonymous, logged_in = api(quirky_server), api(quirky_server, TOKEN)
    for repo in ("nobody/nothing", "org/secret"):
        with pytest.raises(HfHubHTTPError) as caught:
            anonymous.model_info(repo)
        response = caught.value.response
        assert response.status_code == 401
        assert response.headers["X-Error-Message"] == "Invalid username or password."
        assert "X-Error-Code" not in response.headers
        assert response.json() == {"error": "Invalid username or password."}
        with pytest.raises(RepositoryNotFoundError) as caught:
            logged_in.model_info(repo)
        assert caught.value.response.status_code == 404
        assert caught.value.response.headers["X-Error-Code"] == "RepoNotFound"
        assert caught.value.response.headers["X-Error-Message"]
    assert anonymous.model_info("org/gated-auto").gated == "auto"
    assert anonymous.model_info("org/gated-manual").gated == "manual"
    with pytest.raises(HfHubHTTPError) as caught:
        logged_in.model_info("org/banned")
    assert caught.value.response.status_code == 403
    assert caught.value.response.headers["X-Error-Message"] == "Access to this resource is disabled."
    listed = {model.id for model in anonymous.list_models()}
    assert listed == {rec["id"] for rec in QUIRKY if not rec.get("private")}  # disabled models are listed
    for path in ("/api/nothing", "/api/models/a/b/c", "/"):
        assert fetch(quirky_server.url + path)[0] == 404
    status, headers, _ = fetch(f"{quirky_server.url}/api/models", auth="Bearer not-a-token")
    assert status == 401 and headers["X-Error-Message"] == "Invalid credentials in Authorization header"


def test_requests_are_logged_with_their_authorization(quirky_server: ReplicaServer) -> None:
    quirky_server.reset_log()
    api(quirky_server, TOKEN).model_info("gpt2")
    fetch(f"{quirky_server.url}/api/models/none/such?x=1")
    assert quirky_server.requests == [
        ("GET", "/api/models/gpt2", 200, f"Bearer {TOKEN}"),
        ("GET", "/api/models/none/such?x=1", 401, None),
    ]


# --- rate limit, latency, faults -----------------------------------------------------------


def test_every_answer_carries_rate_limit_headers_and_the_quota_is_enforced(synth_records: list[dict]) -> None:
    with ReplicaServer(Hub(synth_records)) as server:
        _, headers, _ = fetch(f"{server.url}/api/nothing")
        assert headers["RateLimit-Policy"] == f'"fixed window";"api";q={10**9};w=300'
        server.quota, server.window = 3, 2
        _, reset = rate_limit(fetch(f"{server.url}/api/models?limit=1")[1])
        time.sleep(reset)  # start from a fresh window
        seen = []
        for path in ("/api/models?limit=1", "/api/models/none/such", "/api/models?limit=1&sort=bogus"):
            status, headers, _ = fetch(server.url + path)
            seen.append((status, rate_limit(headers)[0]))
            assert headers["RateLimit-Policy"] == '"fixed window";"api";q=3;w=2'
        assert seen == [(200, 2), (401, 1), (400, 0)]
        status, headers, body = fetch(f"{server.url}/api/models?limit=1")
        assert (status, rate_limit(headers)[0], "Retry-After" in headers) == (429, 0, False)
        assert body["error"]
        server.retry_after = True
        status, headers, _ = fetch(f"{server.url}/api/models?limit=1")
        remaining, reset = rate_limit(headers)
        assert (status, remaining, headers["Retry-After"]) == (429, 0, str(reset))
        assert 1 <= reset <= 2
        time.sleep(reset)
        status, headers, _ = fetch(f"{server.url}/api/models?limit=1")
        assert (status, rate_limit(headers)[0]) == (200, 2)


def test_latency_delays_each_request_in_parallel(synth_records: list[dict]) -> None:
    with ReplicaServer(Hub(synth_records), latency=0.4) as server:
        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            statuses = list(pool.map(lambda _: fetch(f"{server.url}/api/models?limit=1")[0], range(4)))
        elapsed = time.monotonic() - started
    assert statuses == [200] * 4
    assert 0.4 <= elapsed < 1.2


@pytest.mark.parametrize("code", ["500", "502", "503"])
def test_error_faults_answer_json(synth_records: list[dict], code: str) -> None:
    with ReplicaServer(Hub(synth_records), faults={code: 1.0}) as server:
        status, headers, body = fetch(f"{server.url}/api/models")
    assert status == int(code) and body["error"] and headers["RateLimit"]


def test_garbage_fault_is_a_200_that_is_not_json(synth_records: list[dict]) -> None:
    with ReplicaServer(Hub(synth_records), faults={"garbage": 1.0}) as server, urllib.request.urlopen(f"{server.url}/api/models") as answer:
        status, body = answer.status, answer.read()
    assert status == 200
    with pytest.raises(ValueError):
        json.loads(body)


def test_reset_and_truncate_faults_break_the_connection(synth_records: list[dict]) -> None:
    with ReplicaServer(Hub(synth_records), faults={"reset": 1.0}) as server:
        with pytest.raises((ConnectionError, http.client.HTTPException, urllib.error.URLError)):
            fetch(f"{server.url}/api/models")
        assert server.requests[-1][2] == 0
        server.faults = {"truncate": 1.0}
        host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
        connection = http.client.HTTPConnection(host, port, timeout=10)
        connection.request("GET", "/api/models?limit=50")
        response = connection.getresponse()
        assert response.status == 200
        with pytest.raises(http.client.IncompleteRead):
            response.read()
        connection.close()


def test_slow_fault_and_fault_draws_are_seeded(synth_records: list[dict]) -> None:
    hub = Hub(synth_records)
    with ReplicaServer(hub, faults={"slow": 1.0}, slow_seconds=0.3) as server:
        started = time.monotonic()
        assert fetch(f"{server.url}/api/models?limit=1")[0] == 200
        assert time.monotonic() - started >= 0.3
    runs = []
    for _ in range(2):
        with ReplicaServer(hub, faults={"500": 0.3, "503": 0.2}, faults_seed=7) as server:
            runs.append([fetch(f"{server.url}/api/models?limit=1")[0] for _ in range(30)])
    assert runs[0] == runs[1]
    assert {200, 500, 503} == set(runs[0])
    with pytest.raises(ValueError):
        ReplicaServer(hub, faults={"teapot": 0.1})


# --- hostile Link headers ------------------------------------------------------------------------


def family_query(records: list[dict], limit: int) -> tuple[list[tuple[str, str]], set[str]]:
    """A listing of the children of the biggest parent, and its members as the records say."""
    top = collections.Counter(p for rec in public(records) for _, p in parents(rec)).most_common(1)[0][0]
    expected = {rec["id"] for rec in public(records) if any(p == top for _, p in parents(rec))}
    return [("filter", f"base_model:{top}"), ("sort", "downloads"), ("limit", str(limit))], expected


def test_hostile_link_file_points_every_listing_page_at_a_local_file(synth_records: list[dict]) -> None:
    params, expected = family_query(synth_records, 5)
    assert len(expected) > 5
    with ReplicaServer(Hub(synth_records), hostile_link="file") as server:
        status, headers, body = fetch(f"{server.url}/api/models?{urlencode(params)}")
        assert status == 200 and len(body) == 5 and {item["id"] for item in body} <= expected
        assert next_url(headers) == "file:///etc/hostname"
        whole = [*params[:-1], ("limit", "1000")]  # the whole family on one, last, page: still steered
        status, headers, body = fetch(f"{server.url}/api/models?{urlencode(whole)}")
        assert status == 200 and sorted(item["id"] for item in body) == sorted(expected)
        assert next_url(headers) == "file:///etc/hostname"
        assert fetch(f"{server.url}/api/models/{body[0]['id']}")[1].get("Link") is None  # listings only
        server.hostile_link = None  # settable between runs; None is the Hub's behaviour
        assert fetch(f"{server.url}/api/models?{urlencode(whole)}")[1].get("Link") is None
        assert next_url(fetch(f"{server.url}/api/models?{urlencode(params)}")[1]).startswith(f"{server.url}/api/models?")


def test_hostile_link_other_host_points_at_the_same_listing_on_localhost(synth_records: list[dict]) -> None:
    params, expected = family_query(synth_records, 4)
    with ReplicaServer(Hub(synth_records), hostile_link="other-host") as server:
        own = urlsplit(server.url)
        assert own.hostname == "127.0.0.1"
        url, seen, pages = f"{server.url}/api/models?{urlencode(params)}", collections.Counter(), 0
        while True:
            status, headers, body = fetch(url)
            assert status == 200
            seen.update(item["id"] for item in body)
            pages += 1
            link = urlsplit(next_url(headers))
            assert (link.scheme, link.hostname, link.port, link.path) == ("http", "localhost", own.port, "/api/models")
            asked = parse_qsl(urlsplit(url).query)
            if parse_qsl(link.query) == asked:  # the last page points at itself on the other host
                break
            assert [pair for pair in parse_qsl(link.query) if pair[0] != "cursor"] == params
            url = f"{server.url}{link.path}?{link.query}"  # the real next page, fetched on the real host
        assert set(seen) == expected and set(seen.values()) == {1}
        assert pages == -(-len(expected) // 4)


def test_hostile_link_endless_repeats_the_first_page_with_new_cursors(synth_records: list[dict]) -> None:
    params, expected = family_query(synth_records, 5)
    with ReplicaServer(Hub(synth_records), hostile_link="endless") as server:
        status, headers, first = fetch(f"{server.url}/api/models?{urlencode(params)}")
        assert status == 200 and len(first) == 5 and {item["id"] for item in first} <= expected
        cursors = []
        url = next_url(headers)
        for _ in range(12):
            assert url.startswith(f"{server.url}/api/models?")
            pairs = parse_qsl(urlsplit(url).query)
            assert [pair for pair in pairs if pair[0] != "cursor"] == params
            cursors.append(dict(pairs)["cursor"])
            status, headers, body = fetch(url)
            assert status == 200 and body == first
            url = next_url(headers)
        assert len(set(cursors)) == len(cursors)
        whole = [*params[:-1], ("limit", "1000")]  # a listing that fits one page never ends either
        status, headers, body = fetch(f"{server.url}/api/models?{urlencode(whole)}")
        assert sorted(item["id"] for item in body) == sorted(expected)
        assert fetch(next_url(headers))[2] == body


def test_hostile_link_modes_are_checked(synth_records: list[dict]) -> None:
    hub = Hub(synth_records)
    with pytest.raises(ValueError, match="hostile_link"):
        ReplicaServer(hub, hostile_link="ftp")
    server = ReplicaServer(hub)
    assert server.hostile_link is None
    for mode in ("file", "other-host", "endless", None):
        server.hostile_link = mode
        assert server.hostile_link == mode
    with pytest.raises(ValueError, match="hostile_link"):
        server.hostile_link = "elsewhere"


# --- the store -------------------------------------------------------------------------------


def test_hub_upsert_remove_and_get(tmp_path: Path) -> None:
    hub = Hub([{"id": "a/one", "downloads": 1, "tags": ["x"]}, {"id": "a/two", "downloads": 2, "tags": ["x"]}])
    assert len(hub) == 2 and hub.get("A/ONE")["id"] == "a/one" and hub.get("a/three") is None
    with ReplicaServer(hub) as server:
        hub.upsert({"id": "a/one", "downloads": 3, "tags": ["x"]})
        hub.upsert({"id": "a/secret", "private": True, "tags": ["x"]})
        assert [m.id for m in api(server).list_models(sort="downloads")] == ["a/one", "a/two"]
        with pytest.raises(ValueError):
            hub.upsert(hub.get("a/one"))
        hub.remove("a/two")
        assert [m.id for m in api(server).list_models(filter="x")] == ["a/one"]
    assert len(hub) == 2 and hub.get("a/two") is None
    with pytest.raises(KeyError):
        hub.remove("a/two")

    first, second = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    first.write_text('{"id": "a/one", "likes": 1}\n\n{"id": "a/two"}\n')
    second.write_text('{"id": "a/one", "likes": 5}\n')
    loaded = Hub.from_jsonl([first, second])
    assert len(loaded) == 2 and loaded.get("a/one")["likes"] == 5
    second.write_text('{"id": "a/one"}\nnot json\n')
    with pytest.raises(ValueError, match=r"two\.jsonl:2"):
        Hub.from_jsonl(second)


# --- command line ------------------------------------------------------------------------------


def test_cli_serves_hostile_links() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "hfspider.replica", "--synthetic", "50", "--port", "0", "--hostile-link", "file"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        match = re.fullmatch(r"Hub replica serving 50 models at (http://127\.0\.0\.1:\d+)\n", process.stdout.readline())
        assert match
        status, headers, body = fetch(f"{match.group(1)}/api/models?limit=1000")
        assert status == 200 and len(body) == len(public(generate(50, seed=0)))
        assert next_url(headers) == "file:///etc/hostname"
    finally:
        process.kill()
        process.wait()
        process.stdout.close()


def test_cli_serves_until_interrupted() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "scrapy", "replica", "--synthetic", "50", "--port", "0", "--quota", "99"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        match = re.fullmatch(r"Hub replica serving 50 models at (http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        status, headers, body = fetch(f"{match.group(1)}/api/models?limit=5")
        assert status == 200 and len(body) == 5 and "q=99;" in headers["RateLimit-Policy"]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert "Traceback" not in process.stderr.read()
    finally:
        process.kill()
        process.wait()
        process.stdout.close()
        process.stderr.close()


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--synthetic", "many"],
        ["--data", "/nonexistent/records.jsonl"],
        ["--synthetic", "10", "--port", "70000"],
        ["--nope"],
        ["--synthetic", "10", "--hostile-link", "ftp"],
    ],
)
def test_cli_rejects_bad_arguments_in_one_line(args: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "hfspider.replica", *args], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and "error" in done.stderr
    # The Scrapy command shows its usage, then the same error as its last line.
    done = subprocess.run([sys.executable, "-m", "scrapy", "replica", *args], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "error" in (done.stdout + done.stderr).strip().splitlines()[-1]


def test_a_regular_family_has_fanout_children_a_level() -> None:
    from hfspider.replica import regular_family

    records = regular_family("r", 3, 2)
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) == 1 + 3 + 9
    for record in records[1:]:
        parent = record["id"].rsplit("-", 1)[0]
        assert record["tags"] == [f"base_model:{parent}", f"base_model:finetune:{parent}"]
