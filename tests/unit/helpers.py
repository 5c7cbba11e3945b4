"""Helpers the unit tests share: a stand-in engine and reading the database independently of the code under test."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterable, Iterable
from contextlib import closing
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler


class FakeEngine:
    """Stands in for Scrapy's engine: records the close a database failure asks for."""

    def __init__(self, spider: Any) -> None:
        self.spider = spider
        self.closed: list[str] = []

    def close_spider_async(self, reason: str) -> None:
        self.closed.append(reason)


def db_file(crawler: Crawler) -> Path:
    return Path(crawler.settings["HFSPIDER_OUTPUT"]) / "hfspider.sqlite"


def rows(crawler: Crawler, query: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
    """Read the database with the stdlib, independently of the code under test."""
    with closing(sqlite3.connect(db_file(crawler))) as conn:
        return conn.execute(query, tuple(params)).fetchall()


def outputs(result: Iterable[Any] | AsyncIterable[Any]) -> list[Any]:
    """Everything a callback yields, whether it is a generator or an async generator."""
    if isinstance(result, AsyncIterable):

        async def collect() -> list[Any]:
            return [output async for output in result]

        return asyncio.run(collect())
    return list(result)
