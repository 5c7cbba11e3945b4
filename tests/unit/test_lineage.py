"""Reading parents from tags and cards, on hand-made quirks and on the real records."""

from __future__ import annotations

import re
from typing import Any

import pytest

from hfspider.hub.lineage import SOURCE_CARD, SOURCE_TAGS, UNKNOWN, parents, parse_ref


def pairs(record: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(p.id, p.relation, p.source) for p in parents(record)}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-8B"),
        ("  meta-llama/Llama-3.1-8B \n", "meta-llama/Llama-3.1-8B"),
        ("https://huggingface.co/meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-8B"),
        ("https://huggingface.co/meta-llama/Llama-3.1-8B/tree/main", "meta-llama/Llama-3.1-8B"),
        ("huggingface.co/org/some_model.v2/", "org/some_model.v2"),
        ("gpt2", "gpt2"),
        ("", None),
        ("not a model id", None),
        ("../../etc/passwd", None),
        (None, None),
        (42, None),
        (["a/b"], None),
    ],
)
def test_parse_ref_cleans_card_values(raw: Any, expected: str | None) -> None:
    assert parse_ref(raw) == expected


def test_tags_give_one_edge_per_parent_with_its_relation() -> None:
    record = {
        "id": "me/merge",
        "tags": ["base_model:a/x", "base_model:merge:a/x", "base_model:b/y", "base_model:merge:b/y", "license:mit"],
        "cardData": {"base_model": "c/z"},
    }
    assert pairs(record) == {("a/x", "merge", SOURCE_TAGS), ("b/y", "merge", SOURCE_TAGS)}


def test_card_is_read_only_when_tags_name_no_parent() -> None:
    record = {"id": "me/m", "tags": ["transformers"], "cardData": {"base_model": [" https://huggingface.co/a/x ", "b/y", "b/y"]}}
    assert pairs(record) == {("a/x", "merge", SOURCE_CARD), ("b/y", "merge", SOURCE_CARD)}
    record["cardData"]["base_model_relation"] = "Finetune"
    assert pairs(record) == {("a/x", "finetune", SOURCE_CARD), ("b/y", "finetune", SOURCE_CARD)}


@pytest.mark.parametrize(
    ("extra", "relation"),
    [({}, "finetune"), ({"gguf": {"total": 5}}, "quantized"), ({"library_name": "peft"}, "adapter"), ({"tags": ["gguf"]}, "quantized")],
)
def test_card_relation_guess_follows_repo_contents(extra: dict[str, Any], relation: str) -> None:
    record = {"id": "me/m", "cardData": {"base_model": "a/x"}, **extra}
    assert pairs(record) == {("a/x", relation, SOURCE_CARD)}


def test_self_references_are_dropped() -> None:
    assert parents({"id": "me/m", "tags": ["base_model:me/m", "base_model:finetune:me/m"]}) == []
    assert parents({"id": "me/m", "cardData": {"base_model": ["ME/M", "a/x"]}}) == [
        parents({"id": "q", "cardData": {"base_model": "a/x"}})[0]
    ]


def test_plain_tag_without_relation_is_kept_as_unknown() -> None:
    assert pairs({"id": "me/m", "tags": ["base_model:a/x"]}) == {("a/x", UNKNOWN, SOURCE_TAGS)}
    assert pairs({"id": "me/m", "tags": ["base_model:a/x"], "cardData": {"base_model_relation": "adapter"}}) == {
        ("a/x", "adapter", SOURCE_TAGS)
    }


@pytest.mark.parametrize(
    "record",
    [
        {},
        {"id": None},
        {"id": "x/y", "tags": "base_model:a/b"},
        {"id": "x/y", "tags": [None, 3, "base_model:"]},
        {"id": "x/y", "cardData": "text"},
    ],
)
def test_malformed_records_give_no_parents(record: dict[str, Any]) -> None:
    assert parents(record) == []


_TYPED = re.compile(r"^base_model:(adapter|finetune|merge|quantized):(.+)$")


def test_real_records_parents_match_their_typed_tags(real_records: list[dict[str, Any]]) -> None:
    checked = 0
    for record in real_records:
        expected = {(m.group(2), m.group(1)) for tag in record["tags"] if (m := _TYPED.match(tag)) and m.group(2) != record["id"]}
        got = {(p.id, p.relation) for p in parents(record) if p.source == SOURCE_TAGS}
        assert got == expected, record["id"]
        checked += bool(expected)
    assert checked > 300  # nearly every record in the sample is someone's child
