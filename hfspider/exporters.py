"""A JSON Lines exporter for hfspider's own dataclass items, without per-field adapter calls.

Scrapy's exporter goes through ItemAdapter and a serializer for every field of
every item; for millions of flat dataclasses that was a fifth of a Hub
listing's CPU time. Other items, or a feed with ``fields``, take Scrapy's path.
"""

from __future__ import annotations

from typing import Any

from scrapy.exporters import JsonLinesItemExporter

from hfspider.items import EdgeItem, ModelItem


class JsonLinesExporter(JsonLinesItemExporter):
    def export_item(self, item: Any) -> None:
        if self.fields_to_export is None and isinstance(item, (ModelItem, EdgeItem)):
            self.file.write((self.encoder.encode(vars(item)) + "\n").encode(self.encoding or "utf-8"))
        else:
            super().export_item(item)
