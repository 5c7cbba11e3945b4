"""One compact progress line every ``LOGSTATS_INTERVAL`` seconds, in place of Scrapy's LogStats line."""

from __future__ import annotations

import logging
import time
from typing import Any

from scrapy.extensions.logstats import LogStats

logger = logging.getLogger(__name__)


class Progress(LogStats):
    """Scrapy's periodic stats, plus what a long Hub crawl needs: stored models, queue, quota, faults."""

    def spider_opened(self, spider: Any) -> None:
        self.stored_before = 0
        self.logged_at = time.monotonic()
        super().spider_opened(spider)

    def log(self, spider: Any) -> None:
        value = self.stats.get_value
        stored = value("hfspider/stored_models", 0)
        now = time.monotonic()
        rate = (stored - self.stored_before) / max(now - self.logged_at, 1e-9)
        self.stored_before, self.logged_at = stored, now
        queued = value("scheduler/enqueued", 0) - value("scheduler/dequeued", 0)
        quota = value("hfspider/quota_remaining")
        budget = f"quota {quota} left, resets in {value('hfspider/quota_reset', 0):.0f} s" if quota is not None else "quota unknown"
        logger.info(
            "progress: %d models stored (%.1f/s), %d requests, %d queued, %s, %d 429s, %d retries, %d failures",
            stored,
            rate,
            value("downloader/request_count", 0),
            queued,
            budget,
            value("hfspider/rate_limited", 0),
            value("retry/count", 0),
            value("hfspider/failures", 0),
            extra={"spider": spider},
        )
