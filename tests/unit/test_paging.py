"""Following a listing's ``Link`` header: only to the Hub's own listing, never in a loop."""

from __future__ import annotations

import pytest
from scrapy.http import Headers

from hfspider.hub.paging import FIRST_PAGE, REMEMBERED, STALE_PAGES, Pages, follow, new_ids

HUB = "https://huggingface.co"
LISTING = f"{HUB}/api/models"


def link(target: str, rel: str = "next") -> Headers:
    """Response headers as Scrapy hands them to a callback: values are bytes."""
    return Headers({"Link": f'<{target}>; rel="{rel}"'})


def page(n: int) -> str:
    return f"{LISTING}?filter=base_model%3Aorg%2Fbase&limit=1000&cursor=c{n}"


@pytest.mark.parametrize(
    "target",
    [
        "file:///etc/passwd",  # a local file
        "http://huggingface.co/api/models?cursor=x",  # the Hub's host, another scheme
        "http://evil/api/models",  # another host, the same path
        "https://evil.example/api/models?cursor=x",
        "https://huggingface.co.evil.example/api/models?cursor=x",  # the Hub's name as a prefix of another host
        "https://huggingface.co@evil.example/api/models?cursor=x",  # the Hub's name as user info
        "https://huggingface.co/api/datasets?cursor=x",  # the same host, another listing
        "https://huggingface.co/api/models/org/model",  # the same host, a model route, not the listing
        "https://huggingface.co/api/models/../../settings/tokens",
        "https://huggingface.co/",
    ],
)
def test_link_off_the_listing_is_refused(target: str) -> None:
    """A hostile or broken answer must not point the crawler at a file or another site: an error, no URL."""
    following = follow(HUB, link(target), FIRST_PAGE, new_models=5)
    assert following.url is None
    assert following.error and "not followed" in following.error
    assert following.pages == FIRST_PAGE


@pytest.mark.parametrize(
    "target",
    [
        page(1),
        f"{LISTING}/?cursor=abc",  # a trailing slash is the same listing
        "HTTPS://HuggingFace.CO/api/models?cursor=abc",  # scheme and host compare case-insensitively
    ],
)
def test_next_page_of_the_same_listing_is_followed(target: str) -> None:
    """The Hub's own next page is followed, remembered, and nothing is stale while pages bring new models."""
    following = follow(HUB, link(target), FIRST_PAGE, new_models=3)
    assert following.error is None
    assert following.url == target
    assert following.pages.stale == 0
    assert len(following.pages.seen) == 1


def test_hub_under_a_path_prefix() -> None:
    """A mirror at ``https://host/prefix`` lists at ``/prefix/api/models``; the root ``/api/models`` is another site's."""
    base = "https://mirror.example/hf"
    assert follow(base, link(f"{base}/api/models?cursor=a"), FIRST_PAGE, 1).url == f"{base}/api/models?cursor=a"
    refused = follow(base, link("https://mirror.example/api/models?cursor=a"), FIRST_PAGE, 1)
    assert refused.url is None and refused.error


def test_last_page_ends_without_error() -> None:
    """No ``Link``, or one without ``rel=next``, is the end of the listing, not a fault."""
    for headers in (Headers(), link(page(9), rel="prev")):
        following = follow(HUB, headers, Pages(("abc",), 1), new_models=0)
        assert following.url is None
        assert following.error is None
        assert following.pages == Pages(("abc",), 1)


def test_link_back_to_a_page_already_followed_is_refused() -> None:
    """page1 -> page2 -> page1 again: a loop, even while the pages still bring new models."""
    first = follow(HUB, link(page(1)), FIRST_PAGE, new_models=10)
    second = follow(HUB, link(page(2)), first.pages, new_models=10)
    assert (first.url, second.url) == (page(1), page(2))
    back = follow(HUB, link(page(1)), second.pages, new_models=10)
    assert back.url is None
    assert back.error and "loops back" in back.error


def test_pages_with_nothing_new_stop_at_stale_pages() -> None:
    """Distinct URLs that keep showing known models are a loop too: the ``STALE_PAGES``-th such page ends it."""
    pages = FIRST_PAGE
    for n in range(1, STALE_PAGES):
        following = follow(HUB, link(page(n)), pages, new_models=0)
        assert following.url == page(n), f"stale page {n} of {STALE_PAGES} must still be followed"
        assert following.pages.stale == n
        pages = following.pages
    stopped = follow(HUB, link(page(STALE_PAGES)), pages, new_models=0)
    assert stopped.url is None
    assert stopped.error and str(STALE_PAGES) in stopped.error


def test_a_page_with_something_new_resets_the_stale_count() -> None:
    """Only pages in a row count: one new model makes the walk fresh again."""
    pages = FIRST_PAGE
    for n in range(1, STALE_PAGES):
        pages = follow(HUB, link(page(n)), pages, new_models=0).pages
    fresh = follow(HUB, link(page(STALE_PAGES)), pages, new_models=1)
    assert fresh.url == page(STALE_PAGES)
    assert fresh.pages.stale == 0
    again = follow(HUB, link(page(STALE_PAGES + 1)), fresh.pages, new_models=0)
    assert again.url == page(STALE_PAGES + 1)


def test_remembered_pages_are_bounded() -> None:
    """A whole-Hub walk has thousands of pages; only the last ``REMEMBERED`` fingerprints are kept."""
    pages = FIRST_PAGE
    for n in range(REMEMBERED + 10):
        following = follow(HUB, link(page(n)), pages, new_models=1)
        assert following.url == page(n)
        pages = following.pages
    assert len(pages.seen) == REMEMBERED
    # The most recent pages are the ones remembered.
    assert follow(HUB, link(page(REMEMBERED + 9)), pages, new_models=1).error


def test_new_ids_counts_and_remembers() -> None:
    """The count is of ids not seen before on the walk, duplicates within a page counted once."""
    seen: set[str] = {"a/1"}
    assert new_ids(["a/1", "a/2", "a/2", "a/3"], seen) == 2
    assert seen == {"a/1", "a/2", "a/3"}
    assert new_ids(["a/3", "a/1"], seen) == 0
    assert new_ids([], seen) == 0
    assert seen == {"a/1", "a/2", "a/3"}


def test_a_relative_link_is_resolved_against_the_page() -> None:
    """RFC 8288 allows a relative target; it names a page of the same listing."""
    current = f"{HUB}/api/models?filter=base_model%3Aorg%2Fa&cursor=p1"
    following = follow(HUB, {"Link": '</api/models?filter=base_model%3Aorg%2Fa&cursor=p2>; rel="next"'}, FIRST_PAGE, 3, current)
    assert following.error is None
    assert following.url == f"{HUB}/api/models?filter=base_model%3Aorg%2Fa&cursor=p2"


def test_a_link_back_to_the_first_page_is_a_loop_at_once() -> None:
    first = f"{HUB}/api/models?filter=base_model%3Aorg%2Fa"
    following = follow(HUB, {"Link": f'<{first}>; rel="next"'}, FIRST_PAGE, 3, first)
    assert following.url is None and following.error == "listing loops back to an earlier page"
