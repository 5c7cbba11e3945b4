"""Feeds that follow ``HFSPIDER_OUTPUT`` and are never left half-written."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import IO, Any

from scrapy.extensions import feedexport
from scrapy.extensions.feedexport import FileFeedStorage

from hfspider.extensions.crawlrun import CrawlRun
from hfspider.items import Bundle

logger = logging.getLogger(__name__)


def uri_params(params: dict[str, Any], spider: Any) -> dict[str, Any]:
    """Adds ``%(output)s`` to the placeholders a feed URI may use."""
    return {**params, "output": spider.settings.get("HFSPIDER_OUTPUT")}


class AtomicFileFeedStorage(FileFeedStorage):
    """Writes ``PATH.partial`` and renames it to ``PATH`` when the feed closes.

    Scrapy's file storage writes in place, so a killed crawl leaves a feed that
    looks finished; here it leaves only the ``.partial`` file, and the last
    complete feed stays where it was. A crawl whose database failed keeps its
    feed as ``.partial`` too: it would list models the database does not hold.
    """

    def open(self, spider: Any) -> IO[bytes]:
        self.crawler = spider.crawler
        path = Path(self.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        if self.write_mode == "ab" and path.exists():
            shutil.copyfile(path, partial)
        return partial.open(self.write_mode)

    def store(self, file: IO[bytes]) -> None:
        file.close()
        run = self.crawler.get_extension(CrawlRun)
        if run is not None and run.db_error is not None:
            logger.warning("%s left as %s: the database failed, so it would list models the database does not hold", self.path, file.name)
            return
        os.replace(file.name, self.path)


class FeedExporter(feedexport.FeedExporter):
    """Scrapy's feed exports, with a ``Bundle`` exported as the models and edges it holds.

    Scrapy's exporter takes each scraped object for one item; every feed, in any
    format and with any ``item_classes``, should still get one line per model and edge.
    A bundle's items go to each feed at once (one call, where the exporter has
    ``export_items``): Scrapy's per-item loop over the feeds cost as much as
    writing the lines.
    """

    def item_scraped(self, item: Any, spider: Any) -> None:
        if not isinstance(item, Bundle):
            super().item_scraped(item, spider)
        elif any(self.feeds[slot.uri_template]["batch_item_count"] for slot in self.slots):
            for one in item:  # a new file every N items: Scrapy counts them one by one
                super().item_scraped(one, spider)
        else:
            for slot in self.slots:
                accepted = [one for one in item if slot.filter.accepts(one)]
                if not accepted:
                    continue
                slot.start_exporting()
                assert slot.exporter is not None
                export = getattr(slot.exporter, "export_items", None)
                if export is not None:
                    export(accepted)
                else:
                    for one in accepted:
                        slot.exporter.export_item(one)
                slot.itemcount += len(accepted)
