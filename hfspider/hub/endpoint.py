"""Where the Hub is and who we are to it: endpoint, token, request URLs."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

#: Listing page size: the Hub's maximum; its default is undocumented, so always send it.
PAGE_SIZE = 1000

#: Sort keys of a listing walk: ``createdAt`` never changes, so a full walk stays put while the Hub
#: grows; ``lastModified`` puts the models a refresh needs first.
SORT_CREATED = "createdAt"
SORT_MODIFIED = "lastModified"
SORT_LIKES = "likes"

#: Properties requested on every listing and model call. They carry every stored
#: field, so a child found in a listing never needs a detail call of its own.
EXPAND: tuple[str, ...] = (
    "author",
    "cardData",
    "createdAt",
    "disabled",
    "downloads",
    "downloadsAllTime",
    "gated",
    "gguf",
    "lastModified",
    "library_name",
    "likes",
    "pipeline_tag",
    "private",
    "safetensors",
    "sha",
    "tags",
    "trendingScore",
)

# huggingface_hub's repo id rule (validate_repo_id): an optional owner and a name, each 1-96 ASCII
# word characters, '-' or '.', starting and ending with a word character.
_REPO_ID = re.compile(r"(?:\b[\w\-.]{1,96}\b/)?\b[\w\-.]{1,96}\b", re.ASCII)


def endpoint(setting: str) -> str:
    """The Hub base URL: ``HF_ENDPOINT`` from the environment wins over the setting, as in huggingface_hub."""
    return (os.environ.get("HF_ENDPOINT") or setting).rstrip("/")


def check_endpoint(base: str) -> str | None:
    """What is wrong with a Hub base URL, or None when it is usable."""
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"HF_ENDPOINT={base!r} is not a Hub URL; give it as https://huggingface.co (scheme and host)"
    return None


def hub_host(base: str) -> str:
    """The network location that may receive the token."""
    return urlsplit(base).netloc.lower()


def token() -> str | None:
    """The user's token, looked up the way huggingface_hub does."""
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    home = Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface")
    path = Path(os.environ.get("HF_TOKEN_PATH") or home / "token")
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return value or None


def is_repo_id(value: str) -> bool:
    """True for a syntactically valid model id (``org/name`` or a legacy bare ``name``)."""
    return bool(_REPO_ID.fullmatch(value)) and ".." not in value and "--" not in value and not value.endswith(".git")


def _query(params: Iterable[tuple[str, Any]]) -> str:
    return urlencode(list(params), quote_via=quote, safe="/:")


@functools.lru_cache(maxsize=16)
def _expand_query(expand: tuple[str, ...]) -> str:
    """``expand[]=...&...``, encoded once per expand set: every API call of a crawl carries the same."""
    return _query([("expand[]", name) for name in expand])


def model_url(base: str, model_id: str, expand: Iterable[str] = EXPAND) -> str:
    """One model's record."""
    return f"{base}/api/models/{quote(model_id, safe='/')}?{_expand_query(tuple(expand))}"


def sort_of(url: str) -> str | None:
    """The ``sort`` a listing URL asks for (the Hub's cursors keep it on every page)."""
    values = parse_qs(urlsplit(url).query).get("sort")
    return values[0] if values else None


def children_url(base: str, parent_id: str, relation: str | None = None) -> str:
    """First page of the models whose tags name ``parent_id`` as a base model."""
    tag = f"base_model:{relation}:{parent_id}" if relation else f"base_model:{parent_id}"
    return listing_url(base, [("filter", tag)])


def listing_url(
    base: str,
    params: Iterable[tuple[str, Any]] = (),
    *,
    expand: Iterable[str] = EXPAND,
    limit: int = PAGE_SIZE,
) -> str:
    """First page of ``/api/models`` with our page size and expand set."""
    expanded = _expand_query(tuple(expand))
    return f"{base}/api/models?{_query([*params, ('limit', limit)])}{'&' if expanded else ''}{expanded}"


_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")


def next_link(headers: Mapping[str, Any]) -> str | None:
    """The ``rel="next"`` target of an RFC 8288 ``Link`` header, or None on the last page."""
    value = headers.get("Link") or headers.get("link")
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not value:
        return None
    for target, attributes in _LINK.findall(str(value)):
        rels = re.findall(r'rel\s*=\s*"?([^";]+)"?', attributes)
        if any("next" in rel.split() for rel in rels):
            return target
    return None
