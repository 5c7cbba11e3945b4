"""HFSPIDER_RENDER: checked in one line, scrapy-playwright switched on only when pages may be rendered,
and the token sent by the browser to the page's own navigation only."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from scrapy.http.headers import Headers
from scrapy.settings import Settings

from hfspider.render import HANDLER, blocked, configure, hub_headers, render_problem


def settings(**values: Any) -> Settings:
    made = Settings()
    made.setmodule("hfspider.settings", priority="project")
    made.setdict(values, priority="cmdline")
    return made


def test_modes_and_a_missing_browser_are_one_line(tmp_path: Path) -> None:
    assert render_problem(settings()) is None
    assert render_problem(settings(HFSPIDER_RENDER="sometimes")) == "-s HFSPIDER_RENDER=sometimes: choose never, auto or always"
    missing = settings(HFSPIDER_RENDER="always", PLAYWRIGHT_LAUNCH_OPTIONS={"executable_path": str(tmp_path / "none")})
    assert render_problem(missing).startswith("-s HFSPIDER_RENDER=always: no Chromium found")


def test_the_browser_handler_is_installed_only_when_pages_may_be_rendered(tmp_path: Path) -> None:
    never = settings()
    configure(never)
    assert HANDLER not in str(never.getdict("DOWNLOAD_HANDLERS"))
    browser = tmp_path / "chromium"
    browser.write_text("")
    auto = settings(HFSPIDER_RENDER="auto", PLAYWRIGHT_LAUNCH_OPTIONS={"executable_path": str(browser), "headless": True})
    configure(auto)
    assert auto.getdict("DOWNLOAD_HANDLERS") == {"http": HANDLER, "https": HANDLER}
    assert auto.getdict("PLAYWRIGHT_LAUNCH_OPTIONS")["executable_path"] == str(browser)


class FakeRequest:
    def __init__(self, url: str, navigation: bool, resource_type: str = "document") -> None:
        self.url = url
        self.navigation = navigation
        self.resource_type = resource_type

    def is_navigation_request(self) -> bool:
        return self.navigation

    async def all_headers(self) -> dict[str, str]:
        return {"user-agent": "Chromium", "accept": "*/*", "authorization": "Bearer from-the-browser"}


def test_the_token_goes_to_the_page_s_own_navigation_only() -> None:
    scrapy = {"url": "https://huggingface.co/org/model", "headers": Headers({"Authorization": "Bearer hf_x", "User-Agent": "hfspider"})}

    def headers(url: str, navigation: bool) -> dict[str, str]:
        return asyncio.run(
            hub_headers(browser_type_name="chromium", playwright_request=FakeRequest(url, navigation), scrapy_request_data=scrapy)
        )

    assert headers("https://huggingface.co/org/model", True)["Authorization"] == "Bearer hf_x"
    for url, navigation in (
        ("https://cdn.example/app.js", False),
        ("https://ads.example/frame", True),
        ("https://huggingface.co/x.js", False),
    ):
        sent = headers(url, navigation)
        assert "authorization" not in {k.lower() for k in sent} and sent["user-agent"] == "hfspider"


def test_images_fonts_and_media_are_blocked() -> None:
    assert [blocked(FakeRequest("u", False, kind)) for kind in ("image", "font", "media", "script", "document")] == [True] * 3 + [False] * 2
