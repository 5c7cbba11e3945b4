"""What a crawl produces: models and the lineage edges between them (the only items a feed receives),
and what the website and the files add beside them (page facts, links, cards), stored in tables of their own."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass
class ModelItem:
    """One Hub model's metadata; field names follow the ``models`` table."""

    id: str
    author: str | None = None
    sha: str | None = None
    created_at: str | None = None
    last_modified: str | None = None
    private: bool | None = None
    gated: str | None = None
    disabled: bool | None = None
    downloads: int | None = None
    downloads_all_time: int | None = None
    likes: int | None = None
    trending_score: float | None = None
    library_name: str | None = None
    pipeline_tag: str | None = None
    license: str | None = None
    num_parameters: int | None = None
    tags: list[str] = field(default_factory=list)
    card_data: dict[str, Any] | None = None
    fetched_at: str | None = None


@dataclass
class EdgeItem:
    """``child_id`` was derived from ``parent_id`` as ``relation``, read from ``source``."""

    child_id: str
    parent_id: str
    relation: str
    source: str


@dataclass
class StoredModelItem(ModelItem):
    """A model read back from the database for the feeds of a resumed crawl; the store skips it."""


@dataclass
class StoredEdgeItem(EdgeItem):
    """An edge read back from the database for the feeds of a resumed crawl; the store skips it."""


@dataclass
class Bundle:
    """The models and edges of one answer (a listing page, or a model with its parents), as one item.

    Scrapy's item machinery (a task, signals, each pipeline and feed slot, once
    per item) costs more than a model's whole processing; a page of 1,000
    models goes through it once. Each pipeline handles the models and edges
    inside on their own, and ``hfspider.feeds.FeedExporter`` gives each feed
    one line per model or edge, as if they had come one by one.
    """

    models: list[ModelItem] = field(default_factory=list)
    edges: list[EdgeItem] = field(default_factory=list)
    #: An index walk's records (``model_tree``'s walk of the whole Hub): stored, never fed; the feeds
    #: get the families' members from the database once the walk is done.
    indexed: bool = False

    def add(self, item: ModelItem, edges: list[EdgeItem]) -> None:
        self.models.append(item)
        self.edges.extend(edges)

    def __iter__(self) -> Iterator[ModelItem | EdgeItem]:
        yield from self.models
        yield from self.edges


@dataclass
class PageFactsItem:
    """The counts a model page shows: children per relation in its Model tree panel (None where it
    shows none) and the Spaces count; ``unseen`` names the sections the page left to a browser."""

    table: ClassVar[str] = "page_facts"
    model_id: str
    fetched_at: str
    finetunes: int | None = None
    adapters: int | None = None
    quantizations: int | None = None
    merges: int | None = None
    spaces: int | None = None
    unseen: str | None = None


@dataclass
class LinksItem:
    """A model's links by kind (``space``, ``dataset``, ``paper``, ``collection``), as the Hub writes their
    ids. The kinds named in ``complete`` replace the stored ones; others (a page's first Spaces) add to them."""

    table: ClassVar[str] = "links"
    model_id: str
    targets: dict[str, list[str]]
    complete: tuple[str, ...]


@dataclass
class CardItem:
    """A model's README, secrets masked; ``text`` is None when the Hub has none (404) or refuses it
    (401/403: gated or private), and ``status`` says which."""

    table: ClassVar[str] = "cards"
    model_id: str
    text: str | None
    length: int | None
    status: int
    fetched_at: str
