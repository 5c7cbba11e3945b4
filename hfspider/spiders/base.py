"""What every hfspider spider shares: the Hub's address and turning JSON into items."""

from __future__ import annotations

import json
from typing import Any

import scrapy
from scrapy.http import Response

from hfspider.hub.endpoint import endpoint
from hfspider.hub.records import edge_items, model_item
from hfspider.items import EdgeItem, ModelItem


class HubSpider(scrapy.Spider):
    """Base for spiders that read ``/api/models``."""

    @property
    def hub(self) -> str:
        """The Hub base URL, read once per crawl."""
        if not hasattr(self, "_hub"):
            self._hub = endpoint(self.settings.get("HF_ENDPOINT"))
        return self._hub

    def decode(self, response: Response, expected: type) -> Any:
        """The JSON body, or None (logged and counted) when it is not JSON of the expected type."""
        try:
            data = json.loads(response.body)
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, expected):
            self.crawler.stats.inc_value("hfspider/bad_body")
            self.logger.error("Hub answered %s with a body that is not a JSON %s: %s", response.status, expected.__name__, response.url)
            return None
        return data

    def items_for(self, record: Any) -> tuple[ModelItem | None, list[EdgeItem]]:
        """A record's model item and parent edges; (None, []) for a record without an id."""
        item = model_item(record) if isinstance(record, dict) else None
        if item is None:
            self.crawler.stats.inc_value("hfspider/bad_record")
            return None, []
        return item, edge_items(record)
