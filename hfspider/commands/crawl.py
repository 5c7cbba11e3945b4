"""``scrapy crawl``, with one-line errors and an exit status that tells whether every root was crawled."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.spiders import Spider
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from hfspider.arguments import ArgumentError
from hfspider.hub.endpoint import check_endpoint, endpoint
from pipelines.store import check_url, database_exists, database_url, open_engine


def _can_open(url: str) -> None:
    """Connect once before crawling, so an unreachable database is one line, not a stalled crawl."""
    try:
        if database_exists(url):
            engine = open_engine(url)
            try:
                engine.connect().close()
            finally:
                engine.dispose()
        else:
            Path(make_url(url).database or ".").parent.mkdir(parents=True, exist_ok=True)
    except (OSError, SQLAlchemyError) as error:
        shown = make_url(url).render_as_string(hide_password=True)
        raise NotConfigured(f"cannot open the database {shown}: {str(error).splitlines()[0]}") from None


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
                problem = check_endpoint(endpoint(self.settings.get("HF_ENDPOINT")))
                if problem:
                    return self._fail(problem, 2)
                url = database_url(self.settings)
                check_url(url)
                _can_open(url)
            except (ArgumentError, NotConfigured) as error:
                return self._fail(str(error), 2)
        super().run(args, opts)
        stats = self.crawler.stats if self.crawler and self.crawler.stats else None
        if not stats:
            return
        reason = stats.get_value("finish_reason")
        if reason not in ("finished", "shutdown"):
            detail = stats.get_value("hfspider/db_error") or "see the log above"
            return self._fail(f"the crawl stopped early ({reason}: {detail}); run the same command again to resume", 1)
        if stats.get_value("hfspider/root_errors", 0):
            self._fail(f"{stats.get_value('hfspider/root_errors')} root(s) could not be crawled; see the errors above", 1)
        if stats.get_value("hfspider/failures", 0):
            self._fail(
                f"{stats.get_value('hfspider/failures')} request(s) still failed after retries (table failures); "
                "run the same command again to retry them",
                1,
            )
