"""``scrapy tree ROOT``: a root's family from the stored edges, without a single request."""

from __future__ import annotations

import argparse

from scrapy.exceptions import UsageError

from hfspider.arguments import ArgumentError, TreeArguments
from hfspider.db import Database, DatabaseError, database_url, open_database, shown
from hfspider.hubcommand import HubCommand
from hfspider.trees import tree_folder, tree_path, write_trees


class Command(HubCommand):
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[options] ROOT [ROOT ...]"

    def short_desc(self) -> str:
        return "Derive tree_members and trees/ROOT.json for stored roots, offline"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument("--direction", default="down", help="down (default), up or both")
        parser.add_argument("--max-depth", default=None, help="stop N generations from the root")
        parser.add_argument("--relations", default=None, help="comma-separated relations to follow (default: all)")

    def main(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        if not args:
            raise UsageError("name at least one root: scrapy tree ORG/NAME", print_help=False)
        try:
            spec = TreeArguments.parse(
                {"root": ",".join(args), "direction": opts.direction, "max_depth": opts.max_depth, "relations": opts.relations}
            )
        except ArgumentError as error:
            raise UsageError(str(error).replace("-a max_depth", "--max-depth").replace("-a ", "--"), print_help=False) from None
        url = database_url(self.settings)
        if not Database.exists(url):
            raise UsageError(f"no database at {shown(url)}; crawl first", print_help=False)
        output = self.settings.get("HFSPIDER_OUTPUT")
        try:
            trees, missing = write_trees(open_database(url), output, spec.roots, spec.spec)
        except (DatabaseError, OSError) as error:
            raise UsageError(str(error), print_help=False) from None
        for tree in trees:
            print(f"{tree.root}: {len(tree.depth)} models -> {tree_path(tree_folder(output), tree.root)}")
        if missing:
            raise UsageError(f"not in the database: {', '.join(missing)}; crawl them first", print_help=False)
