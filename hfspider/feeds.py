"""Feed URI parameters: lets ``FEEDS`` paths follow ``HFSPIDER_OUTPUT``."""

from __future__ import annotations

from typing import Any


def uri_params(params: dict[str, Any], spider: Any) -> dict[str, Any]:
    """Adds ``%(output)s`` to the placeholders a feed URI may use."""
    return {**params, "output": spider.settings.get("HFSPIDER_OUTPUT", "output")}
