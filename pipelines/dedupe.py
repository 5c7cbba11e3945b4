"""Drop what this run has already passed on: a model listed under several parents or pages."""

from __future__ import annotations

from typing import Any

from scrapy.exceptions import DropItem

from hfspider.items import EdgeItem, IndexedEdgeItem, IndexedModelItem, ModelItem


class DedupePipeline:
    """Keeps the first ``ModelItem`` per id and the first ``EdgeItem`` per (child, parent, relation).

    Keys are held in memory: a few dozen bytes per model, well under 100 MB for the whole Hub.
    """

    def __init__(self) -> None:
        self.models: set[str] = set()
        self.edges: set[tuple[str, str, str]] = set()

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if isinstance(item, (IndexedModelItem, IndexedEdgeItem)):
            return item  # stored, never fed: the member fed later from the database is no duplicate
        if isinstance(item, ModelItem):
            key: Any = item.id
            seen: set[Any] = self.models
        elif isinstance(item, EdgeItem):
            key = (item.child_id, item.parent_id, item.relation)
            seen = self.edges
        else:
            return item
        if key in seen:
            raise DropItem(f"duplicate {type(item).__name__} {key}", log_level="DEBUG")
        seen.add(key)
        return item
