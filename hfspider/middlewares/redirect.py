"""Redirects followed without a Referer: Hub API calls never need one.

Scrapy's RedirectMiddleware asks the Referer spider middleware how to set the
header on a redirect and warns when that middleware is switched off, as
hfspider's settings do. Overriding ``handle_referer`` is the way Scrapy
documents to say "no Referer on redirects" without the warning.
"""

from __future__ import annotations

from scrapy import Request
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.http import Response


class NoRefererRedirectMiddleware(RedirectMiddleware):
    def handle_referer(self, request: Request, response: Response) -> None:
        request.headers.pop("Referer", None)

    def _engine_started(self) -> None:
        """No Referer middleware to look up, so nothing to warn about."""
