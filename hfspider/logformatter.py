"""Scrapy's log lines, minus one per item: at millions of models they cost more than they tell.

Items are counted in the stats and in the progress line instead.
"""

from __future__ import annotations

from typing import Any

from scrapy.logformatter import LogFormatter


class QuietLogFormatter(LogFormatter):
    def scraped(self, item: Any, response: Any, spider: Any) -> None:
        return None

    def dropped(self, item: Any, exception: BaseException, response: Any, spider: Any = None) -> None:
        return None
