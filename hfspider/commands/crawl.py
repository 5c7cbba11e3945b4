"""``scrapy crawl``, with one-line errors and an exit status that tells whether every root was crawled."""

from __future__ import annotations

import argparse
import sys

from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.spiders import Spider

from hfspider.arguments import ArgumentError
from pipelines.store import check_url, database_url


class Command(ScrapyCrawl):
    """Checks spider arguments and the database URL before the crawl starts.

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
                check_url(database_url(self.settings))
            except (ArgumentError, NotConfigured) as error:
                return self._fail(str(error), 2)
        super().run(args, opts)
        stats = self.crawler.stats if self.crawler and self.crawler.stats else None
        if not stats:
            return
        if stats.get_value("hfspider/root_errors", 0):
            self._fail(f"{stats.get_value('hfspider/root_errors')} root(s) could not be crawled; see the errors above", 1)
        if stats.get_value("hfspider/failures", 0):
            self._fail(
                f"{stats.get_value('hfspider/failures')} request(s) still failed after retries (table failures); "
                "run the same command again to retry them",
                1,
            )
