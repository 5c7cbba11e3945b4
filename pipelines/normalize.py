"""Give every field one type, whatever the Hub sent (nulls, strings for numbers, odd dates)."""

from __future__ import annotations

import math
from typing import Any

from hfspider.hub.records import as_gated, as_utc, license_of
from hfspider.items import Bundle, CardItem, ModelItem


def as_int(value: Any) -> int | None:
    """Whole numbers only; booleans, NaN and junk become None."""
    if type(value) is int or value is None:
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return int(value)
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


def storable(text: str) -> str:
    """Text every database takes: no NUL (PostgreSQL refuses it), no lone surrogate (not UTF-8)."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def as_text(value: Any) -> str | None:
    return storable(value).strip() or None if isinstance(value, str) else None


def clean_json(value: Any) -> Any:
    """JSON every database takes: storable strings, and no NaN or infinity (not JSON; PostgreSQL refuses them)."""
    kind = type(value)  # exact types first, the common ones first: this runs on every card of the Hub
    if kind is str:
        return storable(value)
    if kind is dict:
        return {storable(k) if type(k) is str else clean_json(k): clean_json(v) for k, v in value.items()}
    if kind is list:
        return [clean_json(v) for v in value]
    if kind is int or kind is bool or value is None:
        return value
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    if isinstance(value, dict):
        return {clean_json(k): clean_json(v) for k, v in value.items()}
    return value


def as_tags(value: Any) -> list[str]:
    """A list of distinct, non-empty strings, in the Hub's order."""
    items = value if isinstance(value, list) else [value]
    try:
        text = "".join(items)  # fails on anything but strings
    except TypeError:
        text = None
    if text is not None and text.isascii() and "\x00" not in text:
        tags = dict.fromkeys(map(str.strip, items))  # the Hub's own tags: nothing to clean, done in C
        tags.pop("", None)
        return list(tags)
    return list(dict.fromkeys(storable(t).strip() for t in items if isinstance(t, str) and t.strip("\x00 ")))


def normalize_model(item: ModelItem) -> ModelItem:
    # Field by field, without getattr/setattr loops: this runs once per model of the whole Hub.
    item.id = item.id.strip()
    item.author = as_text(item.author)
    item.sha = as_text(item.sha)
    item.library_name = as_text(item.library_name)
    item.pipeline_tag = as_text(item.pipeline_tag)
    item.created_at = as_utc(item.created_at)
    item.last_modified = as_utc(item.last_modified)
    item.private = as_bool(item.private)
    item.disabled = as_bool(item.disabled)
    item.downloads = as_int(item.downloads)
    item.downloads_all_time = as_int(item.downloads_all_time)
    item.likes = as_int(item.likes)
    item.num_parameters = as_int(item.num_parameters)
    item.trending_score = as_float(item.trending_score)
    item.gated = as_gated(item.gated)
    item.tags = as_tags(item.tags)
    item.card_data = clean_json(item.card_data) if isinstance(item.card_data, dict) else None
    item.license = license_of(item.tags, item.card_data)
    if item.author is None and "/" in item.id:
        item.author = item.id.split("/", 1)[0]
    return item


class NormalizePipeline:
    """Cleans ``ModelItem`` fields (alone or in a ``Bundle``) and card text in place; edges come clean from lineage parsing."""

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if isinstance(item, Bundle):
            for model in item.models:
                normalize_model(model)
        elif isinstance(item, CardItem) and item.text is not None:
            item.text = storable(item.text)  # a card is free text: no NUL or lone surrogate reaches the database
        elif isinstance(item, ModelItem):
            normalize_model(item)
        return item
