"""``scrapy summary``: what the database holds, in a few lines."""

from __future__ import annotations

import argparse

from scrapy.exceptions import UsageError

from hfspider.db import Database, DatabaseError, database_url, open_database, shown
from hfspider.hubcommand import HubCommand

#: Audit lines printed; the rest are counted.
AUDIT_LINES = 50


class Command(HubCommand):
    default_settings = {"LOG_ENABLED": False}

    def short_desc(self) -> str:
        return "Summarize the models, edges, trees and runs in the database"

    def main(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        url = database_url(self.settings)
        if not Database.exists(url):
            raise UsageError(f"no database at {shown(url)}; run a crawl first", print_help=False)
        try:
            summary = open_database(url).summary()
        except DatabaseError as error:
            raise UsageError(str(error), print_help=False) from None
        mix = ", ".join(f"{r} {n}" for r, n in sorted(summary.relations.items()))
        print(f"{shown(url)}: {summary.models} models, {sum(summary.relations.values())} edges ({mix or 'none'})")
        for root, by_depth in sorted(summary.trees.items(), key=lambda kv: (-kv[1].total(), kv[0])):
            depths = " ".join(f"{d}:{n}" for d, n in sorted(by_depth.items()))
            top = ", ".join(f"{lic or 'none'} {n}" for lic, n in summary.licenses[root])
            print(f"  tree {root}: {by_depth.total()} models, by depth {depths}; licenses {top}")
        if summary.side.get("page_facts") or summary.side.get("links") or summary.side.get("cards"):
            side = ", ".join(f"{n} {table}" for table, n in summary.side.items())
            print(f"from the website and the files: {side}")
        if summary.audit:
            print(f"panel counts that differ from the children stored: {len(summary.audit)}")
            for model, relation, on_page, stored in summary.audit[:AUDIT_LINES]:
                print(f"  {model} {relation}: the page shows {on_page}, {stored} stored")
            if len(summary.audit) > AUDIT_LINES:
                print(f"  ... and {len(summary.audit) - AUDIT_LINES} more")
        last = summary.last_run
        if last:
            stats = last["stats"] or {}
            print(
                f"last run: {last['spider']} {last['outcome']} at {last['finished_at']}, "
                f"{stats.get('downloader/request_count', 0)} requests, {stats.get('hfspider/stored_models', 0)} models and "
                f"{stats.get('hfspider/stored_edges', 0)} edges stored"
            )
