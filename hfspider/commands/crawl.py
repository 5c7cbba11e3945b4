"""``scrapy crawl``, with one-line errors and an exit status that tells whether the crawl is complete.

0: finished. 1: something is missing (a root, a request that still failed, a
database or feed that could not be written); the same command again goes on.
2: a mistake in the command line or settings; nothing was crawled. 130 / 143:
paused by Ctrl-C / SIGTERM, as shells report them; the same command resumes.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Callable
from typing import Any

from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.crawler import Crawler
from scrapy.exceptions import UsageError
from scrapy.spiders import Spider

from hfspider.arguments import ArgumentError
from hfspider.config import SettingError, check_settings
from hfspider.db import DatabaseError, database_url, dispose, open_database
from hfspider.locks import Busy
from hfspider.outcome import Outcome
from hfspider.secrets import mask, mask_logs

logger = logging.getLogger(__name__)

#: Exit statuses of a paused crawl, as a shell reports a process ended by that signal.
PAUSED = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Command(ScrapyCrawl):
    """Checks spider arguments, settings and the database before the crawl starts."""

    crawler: Crawler | None = None
    signum: int | None = None

    def _create_crawler(self, spidercls: type[Spider] | str) -> Crawler:
        self.crawler = super()._create_crawler(spidercls)
        return self.crawler

    def _fail(self, message: str, status: int) -> None:
        print(f"error: {mask(message)}", file=sys.stderr)
        self.exitcode = status

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.crawler_process and self.settings is not None
        mask_logs()
        if len(args) != 1:
            raise UsageError("name one spider: scrapy crawl model_tree -a root=ORG/NAME", print_help=False)
        try:
            spidercls = self.crawler_process.spider_loader.load(args[0])
        except KeyError:
            return self._fail(f"no spider named {args[0]!r}; see 'scrapy list'", 2)
        try:
            check = getattr(spidercls, "check_arguments", None)
            if check:
                check(opts.spargs)
            check_settings(self.settings)
            open_database(database_url(self.settings))
        except (ArgumentError, SettingError, DatabaseError) as error:
            return self._fail(str(error), 2)
        self._note_signals()
        crawl: Any = self.crawler_process.crawl(self._create_crawler(args[0]), **opts.spargs)
        if isinstance(crawl, asyncio.Future):
            crawl.add_done_callback(self._started)
        else:
            crawl.addErrback(lambda failure: None if self._refused(failure.value) else failure)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed and self.exitcode == 0:
            self.exitcode = 1
        stats = self.crawler.stats if self.crawler and self.crawler.stats else None
        if stats and self.exitcode == 0:
            self._exit_for(stats.get_value("hfspider/outcome"), stats.get_value, stats.get_stats())
        # The process ends here: Python's collections at exit would walk every object the crawl leaves
        # (a quarter of a second after a Hub listing) only to find what freeing them finds anyway. The
        # connections are closed first: frozen, they would be left open, and SQLite's log unfolded.
        dispose()
        gc.freeze()

    def _note_signals(self) -> None:
        """Remember which signal paused the crawl, for the exit status (Scrapy's handler does the rest)."""
        process: Any = self.crawler_process
        shutdown = process._signal_shutdown

        def noted(signum: int, frame: Any) -> None:
            self.signum = signum
            shutdown(signum, frame)

        process._signal_shutdown = noted

    def _started(self, task: asyncio.Future[Any]) -> None:
        """Reading the task's exception keeps asyncio from printing it; one that is not ours is logged whole."""
        error = None if task.cancelled() else task.exception()
        if error is not None and not self._refused(error):
            logger.error("the crawl could not start", exc_info=error)

    def _refused(self, error: BaseException | None) -> bool:
        """One line when the crawl could not start (another crawl holds the folder, the database is
        unusable); True when the error was ours to explain, so it is not shown again as a traceback."""
        if isinstance(error, (Busy, DatabaseError, SettingError, OSError)):
            self._fail(str(error), 1 if isinstance(error, Busy) else 2)
            return True
        return False

    def _exit_for(self, outcome: str | None, value: Callable[..., Any], stats: dict[str, Any]) -> None:
        feeds = sum(v for k, v in stats.items() if k.startswith("feedexport/failed_count/"))
        if outcome == Outcome.SHUTDOWN:
            print("paused: run the same command again to resume", file=sys.stderr)
            self.exitcode = PAUSED.get(self.signum or signal.SIGINT, 130)
        elif outcome == Outcome.ROOT_ERRORS:
            self._fail(f"{value('hfspider/root_errors')} root(s) could not be crawled; see the errors above", 1)
        elif outcome == Outcome.INCOMPLETE:
            self._fail(
                f"{value('hfspider/failures')} request(s) still failed after retries (table failures); "
                "run the same command again to retry them",
                1,
            )
        elif outcome != Outcome.FINISHED:
            detail = value("hfspider/db_error") or f"{value('finish_reason')}: see the log above"
            self._fail(f"the crawl stopped early ({detail}); run the same command again to resume", 1)
        if feeds and self.exitcode in (0, 1):
            self._fail(f"{feeds} feed(s) could not be written; see the log above", 1)
