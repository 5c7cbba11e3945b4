"""The Hub's website as data: model pages, web listings and their URLs (see hub-pages.md).

The pages are a hydrating app whose CSS classes change often, so nothing here
reads a class: only link targets, the hydration props and the label words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from lxml import etree
from parsel import Selector

from hfspider.hub.endpoint import is_repo_id

#: Models a web listing shows per page, and how many pages it shows at most.
LISTING_PAGE_SIZE = 30
LISTING_PAGE_CAP = 100
#: Sections the crawler reads that the Hub may leave to the browser: their hydration targets.
CLIENT_SECTIONS = ("ModelTree", "SpacesList")

#: Panel labels: a children row per relation, and an ancestor row's relation to the row above.
CHILD_LABELS = {"Adapters": "adapter", "Finetunes": "finetune", "Merges": "merge", "Quantizations": "quantized"}
HOP_LABELS = {"Finetuned": "finetune", "Adapter": "adapter", "Quantized": "quantized", "Merge": "merge"}
#: Sidebar sections besides the Model tree: heading pattern -> (link kind, href prefix).
SECTIONS = {
    "space": (re.compile(r"^Spaces? using \S+"), "/spaces/"),
    "dataset": (re.compile(r"^Datasets? used to train \S+"), "/datasets/"),
    "paper": (re.compile(r"^Papers? for \S+"), "/papers/"),
    "collection": (re.compile(r"^Collections? including \S+"), "/collections/"),
}
_TREE_HEADING = re.compile(r"^Model tree for \S+")
_LISTING_HREF = "/models?other=base_model:"
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_NUMBER = re.compile(r"^\(?([\d,]+)\)?(?:\s+models?)?$")


def page_url(base: str, model_id: str) -> str:
    """A model's page."""
    return f"{base}/{quote(model_id, safe='/')}"


def web_listing_url(base: str, parent: str | None, relation: str | None, page: int = 0) -> str:
    """``/models?other=base_model:R:P&p=N``; without a relation, every child; without a parent, every model by likes."""
    params: list[tuple[str, Any]] = []
    if parent is not None:
        params.append(("other", f"base_model:{relation}:{parent}" if relation else f"base_model:{parent}"))
    else:
        params.append(("sort", "likes"))
    params.append(("p", page))
    return f"{base}/models?{urlencode(params, quote_via=quote, safe='/:')}"


def card_url(base: str, model_id: str) -> str:
    """A model's README, through ``resolve`` (the ``resolvers`` bucket)."""
    return f"{base}/{quote(model_id, safe='/')}/resolve/main/README.md"


def spaces_url(base: str, model_id: str) -> str:
    """The Spaces that use a model, from the API, 1,000 a page."""
    return f"{base}/api/spaces?{urlencode([('models', model_id), ('limit', 1000)], quote_via=quote, safe='/')}"


def model_of(href: str) -> str | None:
    """The model id a link points at (``/ORG/NAME``, absolute or with a query), or None."""
    parts = urlsplit(href)
    path = parts.path.strip("/")
    if not path or path.split("/", 1)[0] in ("models", "spaces", "datasets", "papers", "collections", "docs"):
        return None
    return path if is_repo_id(path) else None


@dataclass
class ModelPage:
    """What a model page shows: the record, the Model tree panel and the sidebar's links."""

    record: dict[str, Any] | None = None
    #: Ancestors root first as (id, relation to the row above; None for the base model), the model not included.
    ancestors: list[tuple[str, str | None]] = field(default_factory=list)
    #: The model's own row: (relation, parent, how many children that parent has with that relation).
    own: tuple[str, str, int] | None = None
    #: Children per relation, as the panel counts them; a relation the panel does not show is absent.
    children: dict[str, int] = field(default_factory=dict)
    has_tree: bool = False
    spaces_count: int | None = None
    links: dict[str, list[str]] = field(default_factory=dict)  # kind -> ids, in page order
    #: Hydration targets left empty for the browser: sections this HTML does not show.
    unseen: tuple[str, ...] = ()


@dataclass
class WebListing:
    """One page of a web listing."""

    ids: list[str]
    total: int | None
    per_page: int
    page: int

    @property
    def pages(self) -> int | None:
        """How many pages the listing has, were there no cap."""
        return None if self.total is None else -(-self.total // max(self.per_page, 1))


def _props(selector: Selector, target: str) -> Any:
    raw = selector.xpath(f'//*[@data-target="{target}"]/@data-props').get()
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _tokens(heading: Any) -> Iterator[tuple[str, str, str]]:
    """What follows a heading, in document order, up to the next heading: ("text", words, "") and
    ("link", its text, href) tokens."""
    state = "before"  # before the heading, inside it, after it
    inside_link = 0
    for event, element in etree.iterwalk(heading.getroottree(), events=("start", "end")):
        if not isinstance(element.tag, str):
            continue
        if state == "before":
            if element is heading and event == "start":
                state = "inside"
            continue
        if state == "inside":
            if element is heading and event == "end":
                state = "after"
                if element.tail and element.tail.strip():
                    yield "text", element.tail.strip(), ""
            continue
        if event == "start":
            if element.tag in _HEADINGS and not inside_link:
                return
            if element.tag == "a":
                if not inside_link:
                    yield "link", " ".join("".join(element.itertext()).split()), element.get("href") or ""
                inside_link += 1
            elif not inside_link and element.text and element.text.strip():
                yield "text", element.text.strip(), ""
        else:
            if element.tag == "a":
                inside_link -= 1
            if not inside_link and element.tail and element.tail.strip():
                yield "text", element.tail.strip(), ""


def _headings(selector: Selector) -> Iterator[tuple[str, Any]]:
    for heading in selector.xpath("//h1|//h2|//h3|//h4|//h5|//h6"):
        yield " ".join(heading.xpath("normalize-space(string(.))").get("").split()), heading.root


def _count(text: str) -> int | None:
    match = _NUMBER.match(text.strip())
    return int(match.group(1).replace(",", "")) if match else None


def _listing_link(href: str) -> tuple[str | None, str] | None:
    """(relation or None, parent) of an exact ``/models?other=base_model:...`` link."""
    if not href.startswith(_LISTING_HREF):
        return None
    other = parse_qs(urlsplit(href).query).get("other", [""])[0]
    rest = other[len("base_model:") :]
    relation, _, parent = rest.partition(":")
    if parent and relation in CHILD_LABELS.values():
        return relation, parent
    return (None, rest) if rest and is_repo_id(rest) else None


def _read_tree(page: ModelPage, heading: Any) -> None:
    page.has_tree = True
    label: str | None = None
    for kind, text, href in _tokens(heading):
        if kind == "text":
            if text in ("Base model", *HOP_LABELS, *CHILD_LABELS):
                label = text
            continue
        listing = _listing_link(href)
        if label == "Base model" and listing is None and (model := model_of(href)):
            page.ancestors.append((model, None))
        elif label in HOP_LABELS and listing is None and (model := model_of(href)):
            page.ancestors.append((model, HOP_LABELS[label]))
        elif label in HOP_LABELS and listing is not None and listing[0] and (n := _count(text)) is not None:
            page.own = (listing[0], listing[1], n)
        elif label in CHILD_LABELS and listing is not None and listing[0] == CHILD_LABELS[label] and (n := _count(text)) is not None:
            page.children[listing[0]] = n
        else:
            continue
        label = None


def _read_section(page: ModelPage, kind: str, prefix: str, heading: Any, title: str) -> None:
    targets = page.links.setdefault(kind, [])
    first = True
    for token, text, href in _tokens(heading):
        if kind == "space" and first and token == "text" and page.spaces_count is None:
            page.spaces_count = _count(text)
        first = False
        path = urlsplit(href).path if token == "link" else ""
        if path.startswith(prefix):
            target = path[len(prefix) :].strip("/")
            if target and target not in targets:
                targets.append(target)
    if kind == "space" and page.spaces_count is None:
        page.spaces_count = _count(title.rsplit(" ", 1)[-1]) if title.split()[-1].replace(",", "").isdigit() else None


def read_model_page(html: str) -> ModelPage:
    """Everything the crawler reads from a model page; ``record`` is None when the page has no ModelHeader props."""
    selector = Selector(text=html)
    props = _props(selector, "ModelHeader")
    page = ModelPage(record=props.get("model") if isinstance(props, dict) and isinstance(props.get("model"), dict) else None)
    for title, heading in _headings(selector):
        if _TREE_HEADING.match(title):
            _read_tree(page, heading)
            continue
        for kind, (pattern, prefix) in SECTIONS.items():
            if pattern.match(title):
                _read_section(page, kind, prefix, heading, title)
    empty = selector.xpath("//div[@data-target][not(@data-props)][not(*)][normalize-space(.)='']/@data-target").getall()
    page.unseen = tuple(target for target in CLIENT_SECTIONS if target in empty)
    return page


def read_web_listing(html: str) -> WebListing:
    """The model ids of a listing page (props first, then the cards' links), and its totals."""
    selector = Selector(text=html)
    props = _props(selector, "ModelList")
    values = props.get("initialValues") if isinstance(props, dict) else None
    values = values if isinstance(values, dict) else {}
    ids: list[str] = []
    for model in values.get("models") or ():
        if isinstance(model, dict) and isinstance(model.get("id"), str) and is_repo_id(model["id"]):
            ids.append(model["id"])
    for href in selector.xpath("//article//a/@href").getall():
        model = model_of(href)
        if model and model not in ids:
            ids.append(model)

    def number(key: str, default: int | None) -> int | None:
        value = values.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else default

    per_page = number("numItemsPerPage", LISTING_PAGE_SIZE) or LISTING_PAGE_SIZE
    return WebListing(ids, number("numTotalItems", None), per_page, number("pageIndex", 0) or 0)


def over_cap(listing: WebListing) -> bool:
    """True when the listing has more models than the website shows (100 pages)."""
    pages = listing.pages
    return pages is not None and pages > LISTING_PAGE_CAP
