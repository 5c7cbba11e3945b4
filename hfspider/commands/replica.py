"""``scrapy replica``: a Hugging Face Hub replica on this machine, for offline demos, benchmarks and tests.

``hfspider.replica`` is imported inside the methods: Scrapy imports every command for every command it
runs, and a crawl has no use for the replica's modules.
"""

from __future__ import annotations

import argparse

from scrapy.exceptions import UsageError

from hfspider.hubcommand import HubCommand


class Command(HubCommand):
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "[--data FILE.jsonl] [--synthetic N] [--port P] [options]"

    def short_desc(self) -> str:
        return "Serve a Hub replica (real records and/or synthetic models) on 127.0.0.1"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        from hfspider.replica.cli import add_arguments

        super().add_options(parser)
        add_arguments(parser)

    def main(self, args: list[str], opts: argparse.Namespace) -> None:
        from hfspider.replica.cli import problem, serve_forever, start

        if args:
            raise UsageError(f"unexpected argument {args[0]!r}; the replica takes options only", print_help=False)
        message = problem(opts)
        if message:
            raise UsageError(message, print_help=False)
        try:
            server, size = start(opts)
        except (OSError, ValueError) as error:
            raise UsageError(str(error), print_help=False) from None
        serve_forever(server, size)
