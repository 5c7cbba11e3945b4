"""``REDIS_URL`` set: the scheduler, the quota gate, the run's end and the feeds become those of a shared crawl.

A Scrapy add-on, so that the switch is the one setting whoever starts the
crawl (``scrapy crawl`` or a script of one's own); without ``REDIS_URL``
nothing changes.
"""

from __future__ import annotations

from scrapy.settings import BaseSettings

from hfspider.middlewares.ratelimit import RateLimitMiddleware


class SharedCrawlAddon:
    def update_settings(self, settings: BaseSettings) -> None:
        if not settings.get("REDIS_URL"):
            return
        # Imported only for a shared crawl: redis and scrapy-redis cost every other crawl a tenth of a second.
        from hfspider.distributed.quota import SharedRateLimitMiddleware
        from hfspider.distributed.worker import SharedCrawl

        settings.set("SCHEDULER", "hfspider.distributed.scheduler.SharedScheduler", priority="addon")
        settings.replace_in_component_priority_dict("DOWNLOADER_MIDDLEWARES", RateLimitMiddleware, SharedRateLimitMiddleware)
        settings.set_in_component_priority_dict("EXTENSIONS", SharedCrawl, 10)
        # After the store: the feeds of a shared crawl are written from the database when it completes.
        pipelines = settings.getdict("ITEM_PIPELINES")
        pipelines["pipelines.shared.SharedCrawlPipeline"] = 900
        settings.set("ITEM_PIPELINES", pipelines, priority=settings.getpriority("ITEM_PIPELINES") or 0)
