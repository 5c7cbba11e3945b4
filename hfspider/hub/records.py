"""Hub records to items: which JSON field feeds which column, and how to read it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jmespath

from hfspider.hub.lineage import parents
from hfspider.items import EdgeItem, ModelItem

# Column -> JMESPath into a model record as ``/api/models`` returns it, as one
# multi-select expression: one pass over the record instead of one per column.
_FIELDS = jmespath.compile(
    "{"
    + ", ".join(
        f"{name}: {path}"
        for name, path in {
            "id": "id || modelId",
            "author": "author",
            "sha": "sha",
            "created_at": "createdAt",
            "last_modified": "lastModified",
            "private": "private",
            "gated": "gated",
            "disabled": "disabled",
            "downloads": "downloads",
            "downloads_all_time": "downloadsAllTime",
            "likes": "likes",
            "trending_score": "trendingScore",
            "library_name": "library_name",
            "pipeline_tag": "pipeline_tag",
            "num_parameters": "safetensors.total || gguf.total",
            "tags": "tags",
            "card_data": "cardData",
        }.items()
    )
    + "}"
)


def model_item(record: dict[str, Any]) -> ModelItem | None:
    """The raw item for one record (the normalize pipeline cleans it), or None without an id."""
    values = _FIELDS.search(record)
    if not isinstance(values["id"], str) or not values["id"].strip():
        return None
    values["tags"] = values["tags"] if values["tags"] is not None else []
    return ModelItem(**values, fetched_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def edge_items(record: dict[str, Any]) -> list[EdgeItem]:
    """One edge per immediate parent of the record."""
    child = record["id"].strip()
    return [EdgeItem(child, p.id, p.relation, p.source) for p in parents(record)]


def license_of(tags: list[str], card: dict[str, Any] | None) -> str | None:
    """The license the Hub tagged, else the one the card declares."""
    for tag in tags:
        if tag.startswith("license:") and len(tag) > len("license:"):
            return tag[len("license:") :].strip().lower()
    value = (card or {}).get("license")
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), None)
    return value.strip().lower() if isinstance(value, str) and value.strip() else None
