"""scrapy-redis's scheduler and dupefilter, keyed by the crawl, with what a shared crawl needs besides.

scrapy-redis pops a request and forgets it, lets every worker push its own
start requests, and only deduplicates requests by URL. Here the pop also says
"this worker is busy" in the same step (so the end of the crawl is never
declared while a worker holds a request), only the worker that began the crawl
seeds it, and a first visit of a model is deduplicated by model and depth, as
model_tree does in one process. scrapy-redis's ``open()`` logs through
``Spider.log()`` and its ``enqueue_request()`` through the dupefilter's
``log()``, both deprecated in Scrapy 2.19: the methods here call neither.
"""

from __future__ import annotations

from redis import Redis
from redis.exceptions import RedisError
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.spiders import Spider
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler

from hfspider.distributed.frontier import Frontier
from hfspider.distributed.worker import SharedCrawl
from hfspider.spiders.base import VISIT

# A model is visited again only by a shorter path, and only when a depth limit makes that matter.
_VISIT = """
local best = redis.call('HGET', KEYS[1], ARGV[1])
if best and (ARGV[2] == '' or tonumber(best) <= tonumber(ARGV[2])) then return 1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] == '' and '0' or ARGV[2])
return 0
"""


class VisitFilter(RFPDupeFilter):
    """scrapy-redis's seen-set of fingerprints, plus the first visits of models (walk, model, depth)."""

    def __init__(self, server: Redis, key: str, visits: str) -> None:
        super().__init__(server, key)
        self.visits = visits
        self._visit = server.register_script(_VISIT)

    def visit_seen(self, walk: str, model: str, depth: int | None) -> bool:
        return bool(self._visit(keys=[self.visits], args=[f"{walk}\0{model}", "" if depth is None else depth]))

    def clear(self) -> None:
        self.server.delete(self.key, self.visits)


class SharedScheduler(Scheduler):
    """The frontier of a crawl shared through ``REDIS_URL``; persistent, so a pause or a death keeps it."""

    frontier: Frontier

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedScheduler:
        worker = SharedCrawl.of(crawler)
        frontier = worker.join()
        seen = VisitFilter(frontier.server, frontier.key("dupefilter"), frontier.key("visits"))
        scheduler = cls(server=frontier.server, persist=True, queue_key=frontier.key("requests"), dupefilter=seen)
        scheduler.frontier = frontier
        scheduler.stats = crawler.stats
        worker.scheduler = scheduler
        return scheduler

    def open(self, spider: Spider) -> None:
        self.spider = spider
        self.queue = PriorityQueue(server=self.server, spider=spider, key=self.queue_key, serializer=self.serializer)
        if len(self.queue):
            spider.logger.info("joining a shared crawl: %d requests queued", len(self.queue))

    def enqueue_request(self, request: Request) -> bool:
        # Only the worker that began the crawl seeds it; the others' start() gives the run its
        # roots and tree spec, and its requests are already in the frontier.
        if request.meta.pop("is_start_request", False) and not self.frontier.seeder:
            return False
        visit = request.meta.pop(VISIT, None)
        if visit is not None and self.df.visit_seen(*visit):
            return False
        if not request.dont_filter and self.df.request_seen(request):
            return False
        self.queue.push(request)
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        try:
            data = self.frontier.pop(self.queue.key)
        except RedisError:
            return None  # idle then, and the worker's idle check says what went wrong
        if data is None:
            return None
        if self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return self.queue._decode_request(data)

    def seen_keys(self) -> list[str]:
        return [self.df.key, self.df.visits]
