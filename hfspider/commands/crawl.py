"""``scrapy crawl``, with one-line errors and an exit status that tells whether the crawl is complete."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.crawler import Crawler
from scrapy.spiders import Spider

from hfspider.arguments import ArgumentError
from hfspider.db import DatabaseError, database_url, open_database
from hfspider.hub.endpoint import check_endpoint, endpoint
from hfspider.outcome import Outcome


class Command(ScrapyCrawl):
    """Checks spider arguments, the endpoint and the database before the crawl starts.

    Scrapy's own command prints a traceback for a bad argument and exits 0
    when a root is missing; users get one line and a non-zero status instead.
    """

    crawler: Crawler | None = None

    def _create_crawler(self, spidercls: type[Spider] | str) -> Crawler:
        self.crawler = super()._create_crawler(spidercls)
        return self.crawler

    def _fail(self, message: str, status: int) -> None:
        print(f"error: {message}", file=sys.stderr)
        self.exitcode = status

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.crawler_process and self.settings is not None
        if len(args) == 1:
            try:
                spidercls = self.crawler_process.spider_loader.load(args[0])
            except KeyError:
                return self._fail(f"no spider named {args[0]!r}; see 'scrapy list'", 2)
            try:
                check = getattr(spidercls, "check_arguments", None)
                if check:
                    check(opts.spargs)
                problem = check_endpoint(endpoint(self.settings.get("HF_ENDPOINT")))
                if problem:
                    return self._fail(problem, 2)
                open_database(database_url(self.settings))
            except (ArgumentError, DatabaseError) as error:
                return self._fail(str(error), 2)
        super().run(args, opts)
        stats = self.crawler.stats if self.crawler and self.crawler.stats else None
        if stats:
            self._exit_for(stats.get_value("hfspider/outcome"), stats.get_value)

    def _exit_for(self, outcome: str | None, value: Callable[..., Any]) -> None:
        if outcome in (Outcome.FINISHED, Outcome.SHUTDOWN):
            return
        if outcome == Outcome.ROOT_ERRORS:
            return self._fail(f"{value('hfspider/root_errors')} root(s) could not be crawled; see the errors above", 1)
        if outcome == Outcome.INCOMPLETE:
            return self._fail(
                f"{value('hfspider/failures')} request(s) still failed after retries (table failures); "
                "run the same command again to retry them",
                1,
            )
        detail = value("hfspider/db_error") or f"{value('finish_reason')}: see the log above"
        self._fail(f"the crawl stopped early ({detail}); run the same command again to resume", 1)
