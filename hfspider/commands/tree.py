"""``scrapy tree ROOT``: a root's family from the stored edges, without a single request."""

from __future__ import annotations

import argparse

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError
from sqlalchemy.engine import make_url

from hfspider.arguments import ArgumentError, TreeArguments
from pipelines import trees
from pipelines.store import database_exists, database_url, open_engine


class Command(ScrapyCommand):
    requires_project = True
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

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
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
        if not database_exists(url):
            raise UsageError(f"no database at {make_url(url).render_as_string(hide_password=True)}; crawl first", print_help=False)
        output = self.settings.get("HFSPIDER_OUTPUT", "output")
        engine = open_engine(url)
        missing = []
        with engine.begin() as conn:
            for root in spec.roots:
                tree = trees.derive(conn, root, spec.direction, spec.max_depth, None if spec.all_relations else spec.relations)
                if tree is None:
                    missing.append(root)
                    continue
                trees.store_members(conn, tree)
                path = trees.write_json(trees.tree_folder(output), tree)
                print(f"{tree.root}: {len(tree.depth)} models -> {path}")
        engine.dispose()
        if missing:
            raise UsageError(f"not in the database: {', '.join(missing)}; crawl them first", print_help=False)
