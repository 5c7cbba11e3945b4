"""Put ``HF_TOKEN`` on requests at download time, for the Hub's own host only.

The header is added right before the download and taken off the request again
on the way back, so a request that is retried, redirected or queued to JOBDIR
never carries the token.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response

from hfspider.hub.endpoint import endpoint, hub_host, token


class HubAuthMiddleware:
    """Bearer token for the Hub; needs to sit after Retry and Redirect (a high order number)."""

    def __init__(self, secret: str | None, host: str) -> None:
        self._header = f"Bearer {secret}".encode() if secret else None
        self._host = host

    def __repr__(self) -> str:  # never show the token, even in a debugger or a log of middlewares
        return f"{type(self).__name__}(host={self._host!r})"

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HubAuthMiddleware:
        # Without a token the crawl is anonymous; no warning, that is a normal way to run.
        return cls(token(), hub_host(endpoint(crawler.settings.get("HF_ENDPOINT"))))

    def process_request(self, request: Request, spider: Any = None) -> None:
        if self._header and urlsplit(request.url).netloc.lower() == self._host:
            request.headers[b"Authorization"] = self._header

    def _strip(self, request: Request) -> None:
        if self._header and request.headers.get(b"Authorization") == self._header:
            del request.headers[b"Authorization"]

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Response:
        self._strip(request)
        return response

    def process_exception(self, request: Request, exception: BaseException, spider: Any = None) -> None:
        self._strip(request)
