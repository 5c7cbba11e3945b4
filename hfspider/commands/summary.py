"""``scrapy summary``: what the database holds, in a few lines."""

from __future__ import annotations

import argparse
from collections import Counter

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from pipelines.schema import crawl_runs, edges, models, tree_members
from pipelines.store import database_exists, database_url, open_engine


class Command(ScrapyCommand):
    requires_project = True
    default_settings = {"LOG_ENABLED": False}

    def short_desc(self) -> str:
        return "Summarize the models, edges, trees and runs in the database"

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        url = database_url(self.settings)
        shown = make_url(url).render_as_string(hide_password=True)
        if not database_exists(url):
            raise UsageError(f"no database at {shown}; run a crawl first", print_help=False)
        engine = open_engine(url)
        with engine.connect() as conn:
            n_models = conn.execute(select(func.count()).select_from(models)).scalar()
            relations = dict(conn.execute(select(edges.c.relation, func.count()).group_by(edges.c.relation)).all())
            mix = ", ".join(f"{r} {n}" for r, n in sorted(relations.items()))
            print(f"{shown}: {n_models} models, {sum(relations.values())} edges ({mix or 'none'})")
            rows = conn.execute(
                select(tree_members.c.root_id, tree_members.c.depth, func.count())
                .group_by(tree_members.c.root_id, tree_members.c.depth)
                .order_by(tree_members.c.root_id, tree_members.c.depth)
            ).all()
            trees: dict[str, Counter[int]] = {}
            for root, depth, count in rows:
                trees.setdefault(root, Counter())[depth] = count
            for root, by_depth in sorted(trees.items(), key=lambda kv: -kv[1].total()):
                licenses = conn.execute(
                    select(models.c.license, func.count())
                    .join(tree_members, tree_members.c.model_id == models.c.id)
                    .where(tree_members.c.root_id == root)
                    .group_by(models.c.license)
                    .order_by(func.count().desc())
                    .limit(3)
                ).all()
                depths = " ".join(f"{d}:{n}" for d, n in sorted(by_depth.items()))
                top = ", ".join(f"{lic or 'none'} {n}" for lic, n in licenses)
                print(f"  tree {root}: {by_depth.total()} models, by depth {depths}; licenses {top}")
            last = conn.execute(select(crawl_runs).order_by(crawl_runs.c.id.desc()).limit(1)).mappings().first()
            if last:
                stats = last["stats"] or {}
                print(
                    f"last run: {last['spider']} {last['outcome']} at {last['finished_at']}, "
                    f"{stats.get('downloader/request_count', 0)} requests, {stats.get('item_scraped_count', 0)} items"
                )
        engine.dispose()
