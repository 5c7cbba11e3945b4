"""A listing page goes through normalize, dedupe, store and the feeds as one item: what comes out must be
exactly what the Hub's records say, row for row and line for line.

The expectation is read from the replica's own listing (the records as the Hub answers them, fetched
here with urllib), with the contract's rules written out here (``../shared/hub-api.md``), not with
hfspider's record, normalize or lineage code.
"""

from __future__ import annotations

import json
import math
import re
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hfspider.hub.endpoint import listing_url
from hfspider.replica import Hub, ReplicaServer, generate
from tests.conftest import crawl, summary

#: A models feed line's keys, in order: the ``models`` table's columns a crawl fills.
MODEL_FIELDS = [
    "id",
    "author",
    "sha",
    "created_at",
    "last_modified",
    "private",
    "gated",
    "disabled",
    "downloads",
    "downloads_all_time",
    "likes",
    "trending_score",
    "library_name",
    "pipeline_tag",
    "license",
    "num_parameters",
    "tags",
    "card_data",
]
EDGE_FIELDS = ["child_id", "parent_id", "relation", "source"]
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
RELATION_TAG = re.compile(r"^base_model:(adapter|finetune|merge|quantized):(.+)$")


def second(hub_time: str) -> str:
    """The Hub's ``2025-01-26T12:05:50.000Z`` as stored: to the second."""
    return hub_time[:19] + "Z"


def expected_model(record: dict[str, Any]) -> dict[str, Any]:
    """A record as the contract says it is stored: times to the second, ``gated`` as text, the license
    from its ``license:`` tag (else the card), the parameter count from safetensors (else GGUF)."""
    tags = list(dict.fromkeys(record.get("tags") or []))
    card = record.get("cardData")
    license_tag = next((t.split(":", 1)[1] for t in tags if t.startswith("license:")), None)
    gated = record.get("gated")
    return {
        "id": record["id"],
        "author": record.get("author") or (record["id"].split("/")[0] if "/" in record["id"] else None),
        "sha": record.get("sha"),
        "created_at": second(record["createdAt"]),
        "last_modified": second(record["lastModified"]),
        "private": record.get("private"),
        "gated": {False: "false", True: "auto"}.get(gated, gated) if gated is not None else None,
        "disabled": record.get("disabled"),
        "downloads": record.get("downloads"),
        "downloads_all_time": record.get("downloadsAllTime"),
        "likes": record.get("likes"),
        "trending_score": float(record["trendingScore"]) if record.get("trendingScore") is not None else None,
        "library_name": record.get("library_name"),
        "pipeline_tag": record.get("pipeline_tag"),
        "license": (license_tag or (card or {}).get("license") or "").lower() or None,
        "num_parameters": (record.get("safetensors") or {}).get("total") or (record.get("gguf") or {}).get("total"),
        "tags": tags,
        "card_data": card,
    }


def expected_edges(record: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Parents from ``base_model:R:P`` tags (a parent's first relation), then plain ``base_model:P`` tags
    (the card's stated relation, else unknown); only when the tags name none, the card's ``base_model``
    with the Hub's guess: quantized for GGUF, adapter for PEFT, else finetune."""
    child, tags, card = record["id"], record.get("tags") or [], record.get("cardData") or {}
    found: dict[str, tuple[str, str]] = {}
    for tag in tags:
        if match := RELATION_TAG.match(tag):
            found.setdefault(match.group(2), (match.group(1), "tags"))
    for tag in tags:
        if tag.startswith("base_model:") and not RELATION_TAG.match(tag):
            found.setdefault(tag.split(":", 1)[1], (card.get("base_model_relation") or "unknown", "tags"))
    if not found and isinstance(card.get("base_model"), str):
        peft = record.get("library_name") == "peft" or "peft" in tags
        guess = "quantized" if record.get("gguf") or "gguf" in tags else "adapter" if peft else "finetune"
        found[card["base_model"]] = (guess, "card")
    found.pop(child, None)
    return [(child, parent, relation, source) for parent, (relation, source) in found.items()]


def listing(endpoint: str) -> list[dict[str, Any]]:
    """The Hub's whole listing with hfspider's ``expand`` set, newest first, read page by page along ``Link``."""
    url: str | None = listing_url(endpoint, [("sort", "createdAt")])
    shown: list[dict[str, Any]] = []
    while url:
        with urllib.request.urlopen(url) as answer:
            shown += json.loads(answer.read())
            link = re.search(r'<([^>]*)>;\s*rel="next"', answer.headers.get("Link") or "")
        url = link.group(1) if link else None
    return shown


def test_a_20000_model_listing_is_stored_and_fed_exactly(tmp_path: Path) -> None:
    records = generate(20_000, seed=41)
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with ReplicaServer(Hub(records)) as server:
        result = crawl(tmp_path / "out", "hub_index", endpoint=server.url)
        answers = listing(server.url)
    finished = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert result.returncode == 0, result.stderr[-3000:]
    public = {r["id"]: r for r in answers}
    order = [r["id"] for r in answers]
    assert public.keys() == {r["id"] for r in records if not r.get("private")}

    # The database, row for row.
    columns = ", ".join(MODEL_FIELDS)
    stored = {}
    for row in result.rows(f"SELECT {columns}, fetched_at FROM models"):
        value = dict(zip([*MODEL_FIELDS, "fetched_at"], row, strict=True))
        value["tags"] = json.loads(value["tags"])
        value["card_data"] = None if value["card_data"] is None else json.loads(value["card_data"])  # no card: SQL NULL
        for flag in ("private", "disabled"):
            value[flag] = None if value[flag] is None else bool(value[flag])
        assert STAMP.fullmatch(value.pop("fetched_at")), value["id"]
        stored[value["id"]] = value
    assert stored.keys() == public.keys()
    [(null_text, cardless, later_first)] = result.rows(
        "SELECT SUM(card_data = 'null'), SUM(card_data IS NULL), SUM(first_seen_at IS NOT fetched_at) FROM models"
    )
    assert null_text == 0 and cardless == sum(1 for r in public.values() if not isinstance(r.get("cardData"), dict)) > 0
    assert later_first == 0, "a model stored for the first time was first seen when it was fetched"
    wrong = [i for i in public if stored[i] != expected_model(public[i])]
    assert not wrong, f"{len(wrong)} rows differ, e.g. {stored[wrong[0]]} != {expected_model(public[wrong[0]])}"
    edges = Counter(result.rows("SELECT child_id, parent_id, relation, source FROM edges"))
    expected = Counter(edge for model in order for edge in expected_edges(public[model]))
    assert edges == expected
    assert {source for _c, _p, _r, source in expected} == {"tags", "card"}, "the hub has both kinds of lineage"

    # The feeds, line for line: every model once, in the Hub's order, its keys in the table's order.
    lines = (tmp_path / "out" / "models.jsonl").read_text(encoding="utf-8").splitlines()
    fed = [json.loads(line) for line in lines]
    assert [line["id"] for line in fed] == order
    for line in fed:
        assert list(line) == [*MODEL_FIELDS, "fetched_at"]
        assert started <= line.pop("fetched_at") <= finished
        assert line == expected_model(public[line["id"]])
    edge_lines = [json.loads(line) for line in (tmp_path / "out" / "edges.jsonl").read_text(encoding="utf-8").splitlines()]
    assert all(list(line) == EDGE_FIELDS for line in edge_lines)
    assert Counter(tuple(line.values()) for line in edge_lines) == expected
    assert [line["child_id"] for line in edge_lines] == [edge[0] for model in order for edge in expected_edges(public[model])]

    # The summary's last run counts models and edges, not the pages they came in.
    text = summary(tmp_path / "out")
    calls = math.ceil(len(public) / 1000)
    assert f"{calls} requests, {len(public)} models and {sum(expected.values())} edges stored" in text, text
