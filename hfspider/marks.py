"""Crawl bookkeeping that travels the item pipeline behind the items it completes.

A mark is yielded after the items it vouches for, so the store writes both in
one transaction: a listing is never marked done before its children are
stored. The store pipeline records each mark and drops it, so no feed ever
receives one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Listed:
    """Every child of ``parent`` has been passed on; ``children`` is every id its listing showed."""

    parent: str
    relation: str | None  # the listing was filtered to this relation
    children: frozenset[str]


@dataclass
class Failed:
    """A request that still failed after its retries; the next run of the same crawl retries it."""

    url: str
    model_id: str | None
    status: int | None
    error: str


@dataclass
class PageDone:
    """Every model of the walk's page at ``url`` has been passed on; ``next_url`` is the page after it.

    Pages are processed concurrently, so a walk resumes after the last page reached from its first
    by a chain of pages all done, never after a page that merely finished first.
    """

    url: str
    next_url: str


Mark = Listed | Failed | PageDone
