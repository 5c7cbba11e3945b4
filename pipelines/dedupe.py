"""Drop what this run has already passed on: a model listed under several parents or pages."""

from __future__ import annotations

from typing import Any

from scrapy.exceptions import DropItem

from hfspider.items import Bundle, EdgeItem, ModelItem


class DedupePipeline:
    """Keeps the first ``ModelItem`` per id and the first ``EdgeItem`` per (child, parent, relation),
    alone or in a ``Bundle``.

    Keys are held in memory: a few dozen bytes per model, well under 100 MB for the whole Hub.
    """

    def __init__(self) -> None:
        self.models: set[str] = set()
        self.edges: set[tuple[str, str, str]] = set()

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if isinstance(item, Bundle):
            if item.indexed:
                return item  # stored, never fed: the member fed later from the database is no duplicate
            item.models = [model for model in item.models if self._first(self.models, model.id)]
            item.edges = [edge for edge in item.edges if self._first(self.edges, (edge.child_id, edge.parent_id, edge.relation))]
            if not (item.models or item.edges):
                raise DropItem("a page of duplicates", log_level="DEBUG")
            return item
        if isinstance(item, ModelItem):
            key: Any = item.id
            seen: set[Any] = self.models
        elif isinstance(item, EdgeItem):
            key = (item.child_id, item.parent_id, item.relation)
            seen = self.edges
        else:
            return item
        if not self._first(seen, key):
            raise DropItem(f"duplicate {type(item).__name__} {key}", log_level="DEBUG")
        return item

    @staticmethod
    def _first(seen: set[Any], key: Any) -> bool:
        """True the first time ``key`` is seen."""
        if key in seen:
            return False
        seen.add(key)
        return True
