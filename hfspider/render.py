"""Rendering model pages in Chromium through scrapy-playwright (``HFSPIDER_RENDER``).

The Hub may build a section in the browser, leaving only an empty hydration
target in the HTML; such a page is fetched again through a headless Chromium
(``auto``), or every page is (``always``). Playwright cannot download its own
browser here, so the system's Chromium is used.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy.settings import Settings

from hfspider.hub.pages import CLIENT_SECTIONS

RENDER_MODES = ("never", "auto", "always")
#: Chromium as Debian, Ubuntu and Google package it.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
HANDLER = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
#: Resources a page needs no browser to fetch for what the crawler reads.
BLOCKED = frozenset({"image", "font", "media"})
#: True once no section the crawler reads is an empty hydration target any more.
HYDRATED = "() => !document.querySelector({})".format(
    repr(", ".join(f'[data-target="{target}"]:empty:not([data-props])' for target in CLIENT_SECTIONS))
)


def chromium(settings: Settings) -> str | None:
    """The browser to launch: ``PLAYWRIGHT_LAUNCH_OPTIONS["executable_path"]``, else one on the PATH."""
    given = (settings.getdict("PLAYWRIGHT_LAUNCH_OPTIONS") or {}).get("executable_path")
    if given:
        return str(given) if Path(given).is_file() else None
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def render_problem(settings: Settings) -> str | None:
    """What is wrong with ``HFSPIDER_RENDER``, in one line, or None."""
    mode = settings.get("HFSPIDER_RENDER")
    if mode not in RENDER_MODES:
        return f"-s HFSPIDER_RENDER={mode}: choose never, auto or always"
    if mode != "never" and chromium(settings) is None:
        return (
            f"-s HFSPIDER_RENDER={mode}: no Chromium found (PATH: {', '.join(CHROMIUM_NAMES)}; or PLAYWRIGHT_LAUNCH_OPTIONS "
            "executable_path); install it (apt-get install chromium) or use HFSPIDER_RENDER=never"
        )
    return None


def configure(settings: Settings) -> None:
    """Route downloads through scrapy-playwright's handler when pages may be rendered; its other
    requests still go through Scrapy's own HTTP client."""
    if settings.get("HFSPIDER_RENDER") not in ("auto", "always"):
        return
    settings.set("DOWNLOAD_HANDLERS", {"http": HANDLER, "https": HANDLER}, priority="spider")
    browser = chromium(settings)
    options = dict(settings.getdict("PLAYWRIGHT_LAUNCH_OPTIONS") or {})
    if browser and "executable_path" not in options:
        settings.set("PLAYWRIGHT_LAUNCH_OPTIONS", {**options, "executable_path": browser}, priority="spider")


def rendered(meta: dict[str, Any], timeout: float) -> dict[str, Any]:
    """A page request's meta for a fetch through the browser, waiting until the sections are built."""
    from scrapy_playwright.page import PageMethod  # only where rendering is on

    wait = PageMethod("wait_for_function", HYDRATED, timeout=timeout * 1000)
    return {**meta, "playwright": True, "playwright_page_methods": [wait]}


def blocked(request: Any) -> bool:
    """``PLAYWRIGHT_ABORT_REQUEST``: images, fonts and media are never fetched."""
    return request.resource_type in BLOCKED


async def hub_headers(*, browser_type_name: str, playwright_request: Any, scrapy_request_data: dict[str, Any]) -> dict[str, str]:
    """``PLAYWRIGHT_PROCESS_REQUEST_HEADERS``: Scrapy's headers (and with them the token) only on the
    page's own navigation; anything else the page loads keeps the browser's headers, with Scrapy's
    User-Agent and no Authorization."""
    headers = scrapy_request_data["headers"].to_unicode_dict()
    own = urlsplit(playwright_request.url).netloc == urlsplit(scrapy_request_data["url"]).netloc
    if playwright_request.is_navigation_request() and own:
        return dict(headers)
    browser = {k: v for k, v in (await playwright_request.all_headers()).items() if k.lower() != "authorization"}
    if headers.get("User-Agent"):
        browser["user-agent"] = headers["User-Agent"]
    return browser
