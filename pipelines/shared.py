"""In a crawl shared by many workers (``REDIS_URL``), items stop after the store.

Each worker sees only part of the family; the worker that completes the crawl
writes the feeds from the database, every model once, so there is one feed,
not one part per worker.
"""

from __future__ import annotations

from typing import Any

from scrapy.exceptions import DropItem

from hfspider.items import Bundle, EdgeItem, ModelItem


class SharedCrawlPipeline:
    def process_item(self, item: Any, spider: Any = None) -> Any:
        if isinstance(item, (ModelItem, EdgeItem, Bundle)):
            raise DropItem("stored; a shared crawl's feeds are written from the database when it completes", log_level="DEBUG")
        return item
