"""What hfspider's own commands share: a user's mistake is one line, not Scrapy's usage block."""

from __future__ import annotations

import argparse
import sys

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from hfspider.secrets import mask


class HubCommand(ScrapyCommand):
    """Subclasses implement ``main``; a ``UsageError`` it raises is printed as ``error: ...`` and
    exits 2, as ``scrapy crawl`` does (Scrapy would print the usage block above it)."""

    requires_project = True

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        try:
            self.main(args, opts)
        except UsageError as error:
            if error.print_help:
                raise
            print(f"error: {mask(str(error))}", file=sys.stderr)
            self.exitcode = 2

    def main(self, args: list[str], opts: argparse.Namespace) -> None:
        raise NotImplementedError
