"""``python -m hfspider.replica``: the same as ``scrapy replica``, without a Scrapy project around it."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from .cli import add_arguments, problem, serve_forever, start


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line on stderr and exit 2 (argparse would add the whole usage)."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m hfspider.replica", description="Serve a Hugging Face Hub replica on this machine.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    message = problem(args)
    if message:
        parser.error(message)
    try:
        server, size = start(args)
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    serve_forever(server, size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
