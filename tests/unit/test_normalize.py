"""Every field gets one type, whatever the Hub sent."""

from __future__ import annotations

from typing import Any

import pytest

from hfspider.hub.records import as_gated, as_utc, model_item
from pipelines.normalize import as_int, normalize_model


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025-11-04T08:25:31.000Z", "2025-11-04T08:25:31Z"),
        ("2025-11-04T10:25:31+02:00", "2025-11-04T08:25:31Z"),
        ("2025-11-04T08:25:31", "2025-11-04T08:25:31Z"),
        (1762244731, "2025-11-04T08:25:31Z"),
        (1762244731000, "2025-11-04T08:25:31Z"),
        ("yesterday", None),
        (None, None),
        (True, None),
    ],
)
def test_dates_become_iso_utc(raw: Any, expected: str | None) -> None:
    assert as_utc(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"), [(False, "false"), ("auto", "auto"), (" Manual", "manual"), (True, "auto"), (None, None), ("x", None)]
)
def test_gated_has_one_type(raw: Any, expected: str | None) -> None:
    assert as_gated(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"), [(5, 5), ("7", 7), (3.0, 3), (True, None), ("lots", None), (float("nan"), None), (None, None)]
)
def test_counts_are_whole_numbers_or_null(raw: Any, expected: int | None) -> None:
    assert as_int(raw) == expected


def test_wrong_types_in_every_field_do_not_raise() -> None:
    record = {
        "id": " org/m ",
        "author": 5,
        "createdAt": [],
        "lastModified": {},
        "private": "yes",
        "gated": 3,
        "disabled": None,
        "downloads": "many",
        "likes": -1,
        "trendingScore": "x",
        "library_name": [],
        "pipeline_tag": 9,
        "tags": "license:mit",
        "cardData": ["x"],
        "safetensors": "big",
        "gguf": {"total": "12"},
    }
    item = model_item(record)
    assert item is not None
    item = normalize_model(item)
    assert item.id == "org/m"
    assert item.author == "org"  # from the id when the field is unusable
    assert (item.created_at, item.private, item.downloads, item.trending_score, item.library_name) == (None, None, None, None, None)
    assert item.likes == -1
    assert item.tags == ["license:mit"]
    assert item.license == "mit"
    assert item.card_data is None
    assert item.num_parameters == 12


def test_license_prefers_tags_then_card() -> None:
    item = normalize_model(model_item({"id": "a/b", "tags": ["x"], "cardData": {"license": ["Apache-2.0"]}}))
    assert item.license == "apache-2.0"
    item = normalize_model(model_item({"id": "a/b", "tags": ["license:mit"], "cardData": {"license": "other"}}))
    assert item.license == "mit"


def test_parameters_from_safetensors_or_gguf() -> None:
    assert normalize_model(model_item({"id": "a/b", "safetensors": {"parameters": {"BF16": 9}, "total": 9}})).num_parameters == 9
    assert normalize_model(model_item({"id": "a/b", "gguf": {"total": 4, "architecture": "llama"}})).num_parameters == 4
    assert normalize_model(model_item({"id": "a/b"})).num_parameters is None


def test_real_records_normalize_cleanly(real_records: list[dict[str, Any]]) -> None:
    gated = set()
    for record in real_records:
        item = normalize_model(model_item(record))
        assert item.id == record["id"]
        assert item.created_at and item.created_at.endswith("Z") and item.created_at[:10] == record["createdAt"][:10]
        assert isinstance(item.downloads, int) and isinstance(item.likes, int)
        license_tags = [t[8:] for t in record["tags"] if t.startswith("license:")]
        if license_tags:
            assert item.license == license_tags[0]
        gated.add(item.gated)
    assert gated == {"false", "auto", "manual"}
