"""Following a listing from page to page, and refusing where the Hub's ``Link`` would lead astray.

The ``Link: rel="next"`` header is followed only to the Hub's own scheme, host
and listing path: a hostile or broken answer cannot point the crawler at a
local file or another host. A listing that loops back to a page it showed, or
shows nothing new for ``STALE_PAGES`` pages in a row, is a loop, not a listing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from hfspider.hub.endpoint import next_link

#: Pages in a row that bring no model not seen before on the same listing.
STALE_PAGES = 3
#: Page fingerprints remembered per listing (a listing of the whole Hub has thousands of pages).
REMEMBERED = 50


@dataclass(frozen=True)
class Pages:
    """A listing's walk so far: fingerprints of recent page URLs, and pages in a row with nothing new."""

    seen: tuple[str, ...] = ()
    stale: int = 0


FIRST_PAGE = Pages()


@dataclass(frozen=True)
class Next:
    """Where a listing goes on: ``url`` (None at the end, or on ``error``) and the walk's new state."""

    url: str | None
    pages: Pages
    error: str | None = None


def same_listing(base: str, url: str, path: str = "/api/models") -> bool:
    """True when ``url`` is a page of the Hub's own listing at ``base`` and ``path`` (``/api/models``, ``/api/spaces``)."""
    hub, target = urlsplit(base), urlsplit(url)
    return (
        target.scheme.lower() == hub.scheme.lower()
        and target.netloc.lower() == hub.netloc.lower()
        and target.path.rstrip("/") == f"{hub.path.rstrip('/')}{path}"
    )


def _fingerprint(url: str) -> str:
    return hashlib.sha1(url.encode()).hexdigest()[:12]


def follow(
    base: str, headers: Mapping[str, Any], pages: Pages, new_models: int, current: str | None = None, path: str = "/api/models"
) -> Next:
    """The next page of a listing, given this page's headers and how many of its models were new.

    ``current`` is this page's URL: a relative ``Link`` is resolved against it (RFC 8288), and a
    link back to it is a loop even on the listing's first page.
    """
    target = next_link(headers)
    if not target:
        return Next(None, pages)
    if current is not None:
        target = urljoin(current, target)
        if _fingerprint(current) not in pages.seen:
            pages = Pages((*pages.seen[-(REMEMBERED - 1) :], _fingerprint(current)), pages.stale)
    if not same_listing(base, target, path):
        return Next(None, pages, f"the listing's next page leaves the Hub's listing ({target[:200]}); not followed")
    stale = 0 if new_models else pages.stale + 1
    if stale >= STALE_PAGES:
        return Next(None, pages, f"the listing showed nothing new for {stale} pages in a row; treated as a loop")
    page = _fingerprint(target)
    if page in pages.seen:
        return Next(None, pages, "listing loops back to an earlier page")
    return Next(target, Pages((*pages.seen[-(REMEMBERED - 1) :], page), stale))


def new_ids(ids: Iterable[str], seen: set[str]) -> int:
    """How many of ``ids`` are not in ``seen``; adds them to it."""
    before = len(seen)
    seen.update(ids)
    return len(seen) - before
