"""Hub records to items: which JSON field feeds which column, and how to read it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import jmespath

from hfspider.hub.lineage import parents
from hfspider.items import EdgeItem, ModelItem

#: Times as stored: the Hub's own ISO-8601 UTC form, to the second; sorts as text in every database.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
#: ``gated`` as the Hub sends it today; the legacy ``true`` meant automatic approval.
GATED_VALUES = ("false", "auto", "manual")

# Columns that need a path or a fallback. Plain keys are read with dict.get (model_item):
# JMESPath for them cost an eighth of a whole-Hub listing's CPU.
_ID = jmespath.compile("id || modelId")
_PARAMETERS = jmespath.compile("safetensors.total || gguf.total")


def fetched_at() -> str:
    """Now, as ``fetched_at`` is stored: one stamp serves every record of an answer."""
    return datetime.now(UTC).strftime(TIME_FORMAT)


def model_item(record: dict[str, Any], stamp: str | None = None) -> ModelItem | None:
    """The raw item for one record (the normalize pipeline cleans it), or None without an id;
    ``stamp`` is its ``fetched_at`` (now when not given)."""
    # The paths are JMESPath's; the common shapes (a string id, an integer total) are read straight
    # from the dicts first: the interpreter, once per record, cost a tenth of a whole-Hub listing's CPU.
    model_id = record.get("id")
    if not isinstance(model_id, str) or not model_id:
        model_id = _ID.search(record)
    if not isinstance(model_id, str) or not model_id.strip():
        return None
    safetensors, gguf = record.get("safetensors"), record.get("gguf")
    if safetensors is None and gguf is None:
        total = None
    elif isinstance(safetensors, dict) and type(safetensors.get("total")) is int:
        total = safetensors["total"]
    elif safetensors is None and isinstance(gguf, dict):
        total = gguf.get("total")
    else:
        total = _PARAMETERS.search(record)
    get = record.get
    # Column by column, each from the record's top-level key as /api/models names it; written out:
    # a dict of them unpacked into the call cost twice as much.
    return ModelItem(
        id=model_id,
        author=get("author"),
        sha=get("sha"),
        created_at=get("createdAt"),
        last_modified=get("lastModified"),
        private=get("private"),
        gated=get("gated"),
        disabled=get("disabled"),
        downloads=get("downloads"),
        downloads_all_time=get("downloadsAllTime"),
        likes=get("likes"),
        trending_score=get("trendingScore"),
        library_name=get("library_name"),
        pipeline_tag=get("pipeline_tag"),
        num_parameters=total,
        tags=[] if (tags := get("tags")) is None else tags,
        card_data=get("cardData"),
        fetched_at=stamp or fetched_at(),
    )


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


_HUB_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?Z")


def as_utc(value: Any) -> str | None:
    """ISO-8601 in UTC with a ``Z``, to the second: sorts as text in every database."""
    if isinstance(value, str) and (match := _HUB_TIME.fullmatch(value)):
        return match.group(1) + "Z"  # the Hub's own form, the common case, without a parse
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            moment = datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    else:
        return None
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def as_gated(value: Any) -> str | None:
    """``false``, ``auto`` or ``manual``; the legacy ``true`` meant automatic approval."""
    if value is True:
        return "auto"
    if value is False:
        return "false"
    text = value.strip().lower() if isinstance(value, str) else None
    return text if text in GATED_VALUES else None
