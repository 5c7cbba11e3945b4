"""One worker of a shared crawl: its heartbeat, what it does when idle, and completing the crawl.

scrapy-redis keeps an idle worker waiting forever (or closes it after a fixed
idle time, whatever the others still do) and knows nothing of requests a dead
worker had in flight. Here a worker with nothing to do checks, one at a time
with the others, whether the crawl is complete: no request queued and every
live worker drained. The database then says what is still missing (a worker
that died took its requests with it; whatever it had not stored is not marked
listed), and that goes back to the frontier. When nothing is missing, that
worker writes the feeds from the database, marks the run finished and writes
the trees; the others see the outcome and exit with it.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.http import Response
from scrapy.utils.defer import deferred_from_coro
from scrapy_redis.connection import get_redis_from_settings
from twisted.internet import task

from hfspider.config import SettingError
from hfspider.db import DatabaseError, now
from hfspider.distributed.frontier import DRAINED, Frontier
from hfspider.extensions.crawlrun import CrawlRun
from hfspider.hub.status import NOT_THERE
from hfspider.trees import TreeSpec, derive

logger = logging.getLogger(__name__)

#: Seconds between heartbeats, and between looks at the queue when idle.
POLL = 0.25
#: Longest time one worker may hold the right to decide that the crawl is complete.
DECIDE_SECONDS = 120.0


def redis_server(settings: Any) -> Any:
    """scrapy-redis's client for ``REDIS_URL``; a one-line ``SettingError`` when no server answers."""
    try:
        server = get_redis_from_settings(settings)
        server.ping()
    except (RedisError, ValueError) as error:
        raise SettingError(f"-s REDIS_URL={settings.get('REDIS_URL')}: no Redis server answers there ({error})") from None
    return server


class SharedCrawl:
    """The extension that makes this process one worker of the crawl shared through ``REDIS_URL``."""

    def __init__(self, crawler: Crawler, server: Any) -> None:
        self.crawler = crawler
        self.server = server
        self.settings = crawler.settings
        self.timeout = crawler.settings.getfloat("HFSPIDER_WORKER_TIMEOUT")
        self.frontier: Frontier | None = None
        self.scheduler: Any = None  # the SharedScheduler, once the engine has built it
        self.beating: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedCrawl:
        if not crawler.settings.get("REDIS_URL"):
            raise NotConfigured
        spider = crawler.spider
        if spider is not None and not hasattr(spider, "lost_work"):
            raise SettingError(f"-s REDIS_URL: the {spider.name} spider cannot share a crawl; run it without REDIS_URL")
        args = getattr(spider, "args", None)
        if getattr(args, "strategy", None) == "index":
            raise SettingError("-s REDIS_URL: a shared crawl lists its family; strategy=index walks the Hub in one process")
        if getattr(args, "top", None) or getattr(args, "direction", "down") != "down":
            raise SettingError(
                "-s REDIS_URL: a shared crawl goes down from roots given by root= or roots_file=; "
                "top= and direction=up|both run in one process"
            )
        extension = cls(crawler, redis_server(crawler.settings))
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(extension.response_received, signal=signals.response_received)
        return extension

    @staticmethod
    def of(crawler: Crawler) -> SharedCrawl:
        worker = crawler.get_extension(SharedCrawl)
        if worker is None:
            raise RuntimeError("a shared crawl needs the SharedCrawl extension (REDIS_URL set)")
        return worker

    @property
    def run(self) -> CrawlRun:
        return CrawlRun.of(self.crawler)

    def join(self) -> Frontier:
        """Join the crawl under way for this crawl key, or begin it (the scheduler asks, when the engine opens)."""
        if self.frontier is None:
            self.frontier = Frontier(self.server, self.settings.get("HFSPIDER_REDIS_PREFIX"), self.run.key)
            self.frontier.join(started=now())
            role = "began" if self.frontier.seeder else "joined"
            logger.info("worker %s %s the shared crawl %s", self.frontier.worker, role, self.frontier.base)
        return self.frontier

    # -- signals ------------------------------------------------------------

    def spider_opened(self, spider: Any) -> None:
        # scrapy-redis leaves an idle worker looking at the queue only on the engine's 5 s heartbeat;
        # a shorter one lets it take up new work, and see the crawl end, within a fraction of a second.
        self.crawler.engine._SLOT_HEARTBEAT_INTERVAL = POLL  # type: ignore[union-attr]
        self.beating = task.LoopingCall(self.beat)
        self.beating.start(POLL, now=False)

    def beat(self) -> None:
        try:
            self.join().beat()
        except RedisError as error:
            logger.warning("shared crawl: heartbeat failed (%s); retrying", error)

    def response_received(self, response: Response, request: Any, spider: Any) -> None:
        """A root the Hub does not show is an answer: no worker asks for it again."""
        root = request.meta.get("hf_root")
        if root and response.status in NOT_THERE:
            self.join().root_error(root)

    def spider_idle(self, spider: Any) -> None:
        try:
            outcome = self._idle(spider)
        except DatabaseError as error:
            self.run.database_failed(error)
            raise DontCloseSpider from None
        except RedisError as error:
            # What this worker had not stored is found again by the others; it stops, saying why.
            logger.error("shared crawl: Redis failed (%s); this worker stops (run the same command again to rejoin)", error)
            self.crawler.stats.set_value("hfspider/db_error", f"Redis failed: {error}")
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="redis_error"))
            raise DontCloseSpider from None
        if outcome is None:
            raise DontCloseSpider
        stats = self.crawler.stats
        for name in ("root_errors", "failures"):
            if outcome.get(name):  # the crawl's, whichever worker met them
                stats.set_value(f"hfspider/{name}", max(outcome[name], stats.get_value(f"hfspider/{name}", 0)))

    def _idle(self, spider: Any) -> dict[str, Any] | None:
        """The crawl's outcome once it is complete (this worker may be the one to complete it), else None."""
        frontier = self.join()
        if frontier.state != DRAINED:
            self.run.flush()  # what the others (and the check below) read from the database is all there
            frontier.drained()
        return frontier.outcome() or self._complete(spider)

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self.beating is not None and self.beating.running:
            self.beating.stop()
        if self.frontier is not None:
            try:
                self.frontier.leave()
            except RedisError as error:
                logger.warning("shared crawl: could not say goodbye (%s); the others notice in %.0f s", error, self.timeout)

    # -- the end ------------------------------------------------------------

    def _complete(self, spider: Any) -> dict[str, Any] | None:
        """Decide, one worker at a time, whether the crawl is complete; if it is, complete it."""
        frontier, scheduler = self.join(), self.scheduler
        if not frontier.lock(DECIDE_SECONDS):
            return None
        try:
            snapshot = frontier.snapshot(scheduler.queue.key)
            dead = snapshot.dead(self.timeout)
            if snapshot.queued or any(state != DRAINED for worker, state in snapshot.states.items() if worker not in dead):
                return None
            for worker in sorted(dead):
                logger.warning("worker %s silent for %.0f s: what it had not stored goes back to the frontier", worker, self.timeout)
                frontier.forget(worker)
            roots, listings, members, failed = self._missing(frontier)
            if roots or listings:
                logger.info("shared crawl: %d roots and %d listings were left unfinished; asking for them again", len(roots), len(listings))
                for request in spider.lost_work(roots, listings):
                    self.crawler.engine.crawl(request)
                return None
            outcome = {"root_errors": len(frontier.root_errors()), "failures": failed}
            self._write_feeds(spider, members)
            self.run.completes = True
            frontier.finish(outcome, scheduler.queue.key, scheduler.seen_keys())
            logger.info("shared crawl complete: %d models; feeds and trees written by this worker", len(members))
            return outcome
        finally:
            frontier.unlock()

    def _missing(self, frontier: Frontier) -> tuple[list[str], list[tuple[str, int]], dict[str, int], int]:
        """What the database does not hold yet: roots never stored, members never listed in full."""
        run = self.run
        spec = run.tree_spec or TreeSpec()
        since = frontier.started()
        failed = run.db.failed_models(run.key, since=since)
        skip = failed | frontier.root_errors()
        roots: list[str] = []
        members: dict[str, int] = {}
        for root in run.roots:
            tree = derive(run.db, root, spec)
            if tree is None:
                if root not in skip:
                    roots.append(root)
                continue
            for model, depth in tree.depth.items():
                members[model] = min(depth, members.get(model, depth))
        listed = run.db.listed(run.key)
        listings = [
            (model, depth)
            for model, depth in sorted(members.items(), key=lambda kv: (kv[1], kv[0]))
            if model not in listed and model not in failed and (spec.max_depth is None or depth < spec.max_depth)
        ]
        failures = len(failed) or int(run.db.has_failures(run.key, since=since))
        return roots, listings, members, failures

    def _write_feeds(self, spider: Any, members: dict[str, int]) -> None:
        """Every stored member once, from the database, to this worker's feeds (the others wrote none)."""
        send = self.crawler.signals.send_catch_log
        for item in self.run.replay_members(sorted(members)):
            send(signals.item_scraped, item=item, response=None, spider=spider)
