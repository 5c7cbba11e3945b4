"""Keep JOBDIR honest after a killed process.

Scrapy writes the disk queue's bookkeeping only on a clean stop, so after
``kill -9`` the queue in JOBDIR is unreliable and can swallow requests pushed
later. A marker file tells a clean stop from a crash; after a crash the queue is
discarded and the spider resumes from the database, which knows what is stored
and what is still to list.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

logger = logging.getLogger(__name__)

MARKER = "hfspider.running"


class CrashSafeJobDir:
    """``queue_intact`` is True only when the JOBDIR queue was left by a clean stop."""

    def __init__(self, jobdir: Path) -> None:
        self.jobdir = jobdir
        marker = jobdir / MARKER
        queue = jobdir / "requests.queue"
        crashed = marker.exists()
        if crashed and queue.exists():
            logger.warning("JOBDIR %s was left by a killed run: its queue is discarded, the database says what is left", jobdir)
            shutil.rmtree(queue)
        self.queue_intact = not crashed and (queue / "active.json").exists()
        jobdir.mkdir(parents=True, exist_ok=True)
        marker.touch()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrashSafeJobDir:
        jobdir = crawler.settings.get("JOBDIR")
        if not jobdir:
            raise NotConfigured
        extension = cls(Path(jobdir))
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_closed(self, spider: Any, reason: str) -> None:
        (self.jobdir / MARKER).unlink(missing_ok=True)
