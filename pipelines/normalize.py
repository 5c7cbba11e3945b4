"""Give every field one type, whatever the Hub sent (nulls, strings for numbers, odd dates)."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from hfspider.hub.records import license_of
from hfspider.items import ModelItem

GATED_VALUES = ("false", "auto", "manual")


def as_int(value: Any) -> int | None:
    """Whole numbers only; booleans, NaN and junk become None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if math.isfinite(number) else None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def as_text(value: Any) -> str | None:
    return value.replace("\x00", "").strip() or None if isinstance(value, str) else None


def without_nul(value: Any) -> Any:
    """JSON with every NUL character removed: PostgreSQL refuses them in text and JSONB."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    return value


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
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_gated(value: Any) -> str | None:
    """``false``, ``auto`` or ``manual``; the legacy ``true`` meant automatic approval."""
    if value is True:
        return "auto"
    if value is False:
        return "false"
    text = value.strip().lower() if isinstance(value, str) else None
    return text if text in GATED_VALUES else None


def as_tags(value: Any) -> list[str]:
    """A list of distinct, non-empty strings, in the Hub's order."""
    items = value if isinstance(value, list) else [value]
    return list(dict.fromkeys(t.replace("\x00", "").strip() for t in items if isinstance(t, str) and t.strip("\x00 ")))


def normalize_model(item: ModelItem) -> ModelItem:
    item.id = item.id.strip()
    for name in ("author", "sha", "library_name", "pipeline_tag"):
        setattr(item, name, as_text(getattr(item, name)))
    for name in ("created_at", "last_modified"):
        setattr(item, name, as_utc(getattr(item, name)))
    for name in ("private", "disabled"):
        setattr(item, name, as_bool(getattr(item, name)))
    for name in ("downloads", "downloads_all_time", "likes", "num_parameters"):
        setattr(item, name, as_int(getattr(item, name)))
    item.trending_score = as_float(item.trending_score)
    item.gated = as_gated(item.gated)
    item.tags = as_tags(item.tags)
    item.card_data = without_nul(item.card_data) if isinstance(item.card_data, dict) else None
    item.license = license_of(item.tags, item.card_data)
    if item.author is None and "/" in item.id:
        item.author = item.id.split("/", 1)[0]
    return item


class NormalizePipeline:
    """Cleans ``ModelItem`` fields in place; edges come clean from lineage parsing."""

    def process_item(self, item: Any, spider: Any = None) -> Any:
        return normalize_model(item) if isinstance(item, ModelItem) else item
