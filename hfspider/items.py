"""The two things a crawl produces, and the only items a feed receives: models and the lineage edges between them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ModelItem:
    """One Hub model's metadata; field names follow the ``models`` table."""

    id: str
    author: str | None = None
    sha: str | None = None
    created_at: str | None = None
    last_modified: str | None = None
    private: bool | None = None
    gated: str | None = None
    disabled: bool | None = None
    downloads: int | None = None
    downloads_all_time: int | None = None
    likes: int | None = None
    trending_score: float | None = None
    library_name: str | None = None
    pipeline_tag: str | None = None
    license: str | None = None
    num_parameters: int | None = None
    tags: list[str] = field(default_factory=list)
    card_data: dict[str, Any] | None = None
    fetched_at: str | None = None


@dataclass
class EdgeItem:
    """``child_id`` was derived from ``parent_id`` as ``relation``, read from ``source``."""

    child_id: str
    parent_id: str
    relation: str
    source: str


@dataclass
class StoredModelItem(ModelItem):
    """A model read back from the database for the feeds of a resumed crawl; the store skips it."""


@dataclass
class StoredEdgeItem(EdgeItem):
    """An edge read back from the database for the feeds of a resumed crawl; the store skips it."""


@dataclass
class IndexedModelItem(ModelItem):
    """A model read by ``model_tree``'s walk of the whole Hub: stored, never fed.

    The feeds get the families' members once the walk is done, from the database.
    """


@dataclass
class IndexedEdgeItem(EdgeItem):
    """An edge read by ``model_tree``'s walk of the whole Hub: stored, never fed."""
