"""``scrapy report [ROOT ...]``: the study's measures, plots and family pages, from the database alone."""

from __future__ import annotations

import argparse
from pathlib import Path

from scrapy.exceptions import UsageError

from hfspider.db import Database, DatabaseError, database_url, open_database, shown
from hfspider.hubcommand import HubCommand
from hfspider.report.progress import Progress
from hfspider.staging import replaceable


def open_stored(settings: object) -> Database:
    """The database with at least one model in it, or a one-line ``UsageError``."""
    url = database_url(settings)
    if not Database.exists(url):
        raise UsageError(f"no database at {shown(url)}; crawl first (scrapy crawl hub_index or model_tree)", print_help=False)
    try:
        db = open_database(url)
        empty = db.count_models() == 0
    except DatabaseError as error:
        raise UsageError(str(error), print_help=False) from None
    if empty:
        raise UsageError(f"the database {shown(url)} holds no models; crawl first (scrapy crawl hub_index or model_tree)", print_help=False)
    return db


def unknown_roots(db: Database, roots: list[str]) -> str:
    """What to do about roots without a stored family: derive it from stored models, or crawl it."""
    stored = [root for root in roots if db.resolve_root(root)]
    if stored:
        return f"no family stored for {', '.join(stored)}; derive it from the stored edges: scrapy tree {' '.join(stored)}"
    return f"not in the database: {', '.join(roots)}; crawl it: scrapy crawl model_tree -a root={','.join(roots)}"


class Command(HubCommand):
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[ROOT ...] [-o DIR]"

    def short_desc(self) -> str:
        return "Write the study's measures, plots and family pages from the database (default folder OUTPUT/report)"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("-o", "--output", default=None, help="report folder (default: HFSPIDER_OUTPUT/report)")

    def main(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        from hfspider.report.build import build_report  # here: Scrapy imports every command, and matplotlib takes a second

        db = open_stored(self.settings)
        folder = Path(opts.output) if opts.output else Path(self.settings.get("HFSPIDER_OUTPUT")) / "report"
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"{folder} is a file, not a folder; give another -o", print_help=False)
        if not replaceable(folder, lambda f: (f / "analysis.json").is_file() and (f / "index.html").is_file()):
            raise UsageError(f"{folder} holds files that are not a report; give a new or empty folder with -o", print_help=False)
        try:
            roots: list[str] | None = None
            if args:
                found = db.family_roots(list(dict.fromkeys(args)))
                unknown = [root for root, stored in found.items() if stored is None]
                if unknown:
                    raise UsageError(unknown_roots(db, unknown), print_help=False)
                roots = list(dict.fromkeys(stored for stored in found.values() if stored))
            index = build_report(db, roots, folder, Progress("report"))
        except DatabaseError as error:
            raise UsageError(str(error), print_help=False) from None
        except OSError as error:
            raise UsageError(f"cannot write the report to {folder}: {error.strerror or error}", print_help=False) from None
        print(f"report: {index}")
