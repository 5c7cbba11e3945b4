"""The Hub's three budgets, its quota headers (IETF ratelimit-headers draft 9) and ``Retry-After``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from time import time

#: The Hub's budgets: API calls, HTML pages, file downloads (``/resolve/``, ``/raw/``, ``/api/resolve-cache/``).
BUCKETS = ("api", "pages", "resolvers")

_NAME = re.compile(r'"([^"]*)"')
_PARAM = re.compile(r'([\w-]+)\s*=\s*"?([^;,"]*)"?')


@dataclass(frozen=True)
class Budget:
    """What the Hub says is left: ``remaining`` calls for ``reset`` seconds, out of ``quota`` per ``window``."""

    remaining: int | None = None
    reset: float | None = None
    quota: int | None = None
    window: float | None = None


def _items(value: str) -> list[tuple[set[str], dict[str, str]]]:
    """``"api";r=1;t=2, "pages";r=3`` -> [({"api"}, {"r": "1", "t": "2"}), ({"pages"}, {"r": "3"})].

    Names are the quoted strings of an item, so the Hub's policy form
    ``"fixed window";"api";q=500;w=300`` names both the kind and the bucket.
    """
    return [
        (set(_NAME.findall(part)), {k.lower(): v.strip() for k, v in _PARAM.findall(_NAME.sub("", part))})
        for part in value.split(",")
        if part.strip()
    ]


def _pick(items: list[tuple[set[str], dict[str, str]]], bucket: str) -> dict[str, str]:
    for names, params in items:
        if bucket in names:
            return params
    return items[0][1] if items else {}


def _number(params: dict[str, str], key: str) -> float | None:
    try:
        return float(params[key])
    except (KeyError, ValueError):
        return None


def parse(ratelimit: str | None, policy: str | None, bucket: str = "api") -> Budget:
    """The budget of one bucket; fields the headers do not give are None."""
    now = _pick(_items(ratelimit or ""), bucket)
    rule = _pick(_items(policy or ""), bucket)
    remaining, quota = _number(now, "r"), _number(rule, "q")
    return Budget(
        remaining=int(remaining) if remaining is not None else None,
        reset=_number(now, "t"),
        quota=int(quota) if quota is not None else None,
        window=_number(rule, "w"),
    )


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time())
    except (TypeError, ValueError, IndexError):
        return None


def bucket_of(path: str) -> str | None:
    """The budget a request path on the Hub spends; None for ``/robots.txt``, which counts in none."""
    path = path.split("?", 1)[0]
    if path == "/robots.txt":
        return None
    if path.startswith("/api/resolve-cache/") or "/resolve/" in path or "/raw/" in path:
        return "resolvers"
    return "api" if path == "/api" or path.startswith("/api/") else "pages"
