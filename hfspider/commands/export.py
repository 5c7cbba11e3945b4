"""``scrapy export FORMAT``: the stored map as GraphML, GEXF, Parquet or CSV, streamed from the database."""

from __future__ import annotations

import argparse
from pathlib import Path

from scrapy.exceptions import UsageError

from hfspider.commands.report import open_stored
from hfspider.db import DatabaseError
from hfspider.hubcommand import HubCommand
from hfspider.staging import replaceable, staged, staged_file

FORMATS = ("graphml", "gexf", "parquet", "csv")
EVERY = 100_000  # rows between two progress lines


class Command(HubCommand):
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "FORMAT [-o PATH]"

    def short_desc(self) -> str:
        return "Export the database as graphml or gexf (one file), parquet or csv (one file per table)"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "-o", "--output", default=None, help="file (graphml, gexf) or folder (parquet, csv); default under OUTPUT/export"
        )

    def main(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        if len(args) != 1 or args[0].lower() not in FORMATS:
            given = f"unknown format {args[0]!r}" if len(args) == 1 else "name one format"
            raise UsageError(f"{given}; use one of {', '.join(FORMATS)}: scrapy export graphml", print_help=False)
        kind = args[0].lower()
        # Imported here: Scrapy imports every command, and pyarrow takes a while to load.
        from hfspider.export.gexf import write_gexf
        from hfspider.export.graphml import write_graphml
        from hfspider.export.tables import write_csv, write_parquet
        from hfspider.report.progress import Progress

        db = open_stored(self.settings)
        export = Path(self.settings.get("HFSPIDER_OUTPUT")) / "export"
        single = kind in ("graphml", "gexf")
        target = Path(opts.output) if opts.output else export / (f"hfspider.{kind}" if single else kind)
        if single and target.is_dir():
            raise UsageError(f"{target} is a folder; give a file name with -o", print_help=False)
        if not single and target.exists() and not target.is_dir():
            raise UsageError(f"{target} is a file; give a folder with -o", print_help=False)
        if not single and not replaceable(target, lambda f: all(p.suffix == f".{kind}" for p in f.iterdir())):
            raise UsageError(f"{target} holds files that are not a {kind} export; give a new or empty folder with -o", print_help=False)
        progress = Progress(f"export {kind}")
        shown_at = [EVERY]

        def counted(rows: int) -> None:
            if rows >= shown_at[0]:
                progress(f"{rows} rows written")
                shown_at[0] = rows + EVERY

        try:
            if single:
                with staged_file(target) as work:
                    (write_graphml if kind == "graphml" else write_gexf)(db, work, counted)
            else:
                with staged(target) as work:
                    (write_parquet if kind == "parquet" else write_csv)(db, work, counted)
        except DatabaseError as error:
            raise UsageError(str(error), print_help=False) from None
        except OSError as error:
            raise UsageError(f"cannot write {target}: {error.strerror or error}", print_help=False) from None
        progress("done")
        progress.done()
        print(f"export: {target}")
