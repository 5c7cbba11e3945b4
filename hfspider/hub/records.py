"""Hub records to items: which JSON field feeds which column, and how to read it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jmespath

from hfspider.hub.lineage import parents
from hfspider.items import EdgeItem, ModelItem

# Column -> top-level key of a model record as ``/api/models`` returns it.
_KEYS = {
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
    "tags": "tags",
    "card_data": "cardData",
}
# Columns that need a path or a fallback. Plain keys above are read with dict.get:
# JMESPath for them cost an eighth of a whole-Hub listing's CPU.
_ID = jmespath.compile("id || modelId")
_PARAMETERS = jmespath.compile("safetensors.total || gguf.total")


def model_item(record: dict[str, Any]) -> ModelItem | None:
    """The raw item for one record (the normalize pipeline cleans it), or None without an id."""
    model_id = _ID.search(record)
    if not isinstance(model_id, str) or not model_id.strip():
        return None
    values = {column: record.get(key) for column, key in _KEYS.items()}
    if values["tags"] is None:
        values["tags"] = []
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return ModelItem(id=model_id, num_parameters=_PARAMETERS.search(record), fetched_at=stamp, **values)


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
