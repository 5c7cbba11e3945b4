"""The study's inputs read from model rows: licenses, languages, task, library, and the tag graph.

Models are numbered in the order they are read; attributes live in parallel
lists and edges in three lists (child, parent, relation) so that a million
models fit in a few hundred megabytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pycountry

FINETUNE, QUANTIZED, ADAPTER, MERGE, UNKNOWN = "finetune", "quantized", "adapter", "merge", "unknown"
#: A pair tagged with several relations keeps the last that matches in this order (the study's rule).
PRECEDENCE = (FINETUNE, QUANTIZED, ADAPTER, MERGE)
RELATIONS = (*PRECEDENCE, UNKNOWN)
_RANK = {relation: rank for rank, relation in enumerate(PRECEDENCE, start=1)}

#: ISO 639-1 codes and their English names (pycountry's ISO 639-3 data).
LANGUAGES: dict[str, str] = {lang.alpha_2: lang.name for lang in pycountry.languages if hasattr(lang, "alpha_2")}

Values = tuple[str, ...]
_EMPTY: Values = ()


def licenses(tags: Iterable[Any]) -> Values:
    """Every ``license:X`` tag, prefix removed, in tag order."""
    return tuple(dict.fromkeys(t[8:] for t in tags if isinstance(t, str) and t.startswith("license:") and len(t) > 8))


def languages(tags: Iterable[Any]) -> Values:
    """Every two-character tag that is an ISO 639-1 code, as its English name."""
    return tuple(dict.fromkeys(LANGUAGES[t] for t in tags if isinstance(t, str) and len(t) == 2 and t in LANGUAGES))


def tag_parents(model_id: str, tags: Iterable[Any]) -> dict[str, str]:
    """Parent id -> relation from ``base_model:P`` and ``base_model:R:P`` tags, self-references dropped.

    Several relations for one parent: the last in ``PRECEDENCE``; a parent named only by a
    plain tag is ``unknown``.
    """
    found: dict[str, str] = {}
    for tag in tags:
        if not isinstance(tag, str) or not tag.startswith("base_model:"):
            continue
        rest = tag[11:]
        relation, typed, parent = rest.partition(":")
        if typed and relation in _RANK:
            if _RANK[relation] > _RANK.get(found.get(parent, UNKNOWN), 0):
                found[parent] = relation
        elif not typed and rest:
            found.setdefault(rest, UNKNOWN)
    found.pop(model_id, None)
    return found


def _value(value: Any) -> Values:
    return (value,) if isinstance(value, str) and value else _EMPTY


@dataclass
class Corpus:
    """Models by number, their attributes, and the edges among them (absent parents dropped)."""

    ids: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    licenses: list[Values] = field(default_factory=list)
    languages: list[Values] = field(default_factory=list)
    task: list[Values] = field(default_factory=list)
    library: list[Values] = field(default_factory=list)
    created: list[str | None] = field(default_factory=list)
    downloads: list[int | None] = field(default_factory=list)
    likes: list[int | None] = field(default_factory=list)
    child: list[int] = field(default_factory=list)
    parent: list[int] = field(default_factory=list)
    relation: list[str] = field(default_factory=list)
    _pending: list[tuple[int, str, str]] = field(default_factory=list, repr=False)
    _shared: dict[Values, Values] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    def _share(self, values: Values) -> Values:
        return self._shared.setdefault(values, values) if values else _EMPTY

    def add(self, row: dict[str, Any]) -> None:
        """One model row: ``id``, ``tags``, ``pipeline_tag``, ``library_name``, ``created_at``, ``downloads``, ``likes``."""
        model_id = row["id"]
        if model_id in self.index:
            return
        tags = row.get("tags")
        tags = tags if isinstance(tags, list) else []
        number = len(self.ids)
        self.ids.append(model_id)
        self.index[model_id] = number
        self.licenses.append(self._share(licenses(tags)))
        self.languages.append(self._share(languages(tags)))
        self.task.append(self._share(_value(row.get("pipeline_tag"))))
        self.library.append(self._share(_value(row.get("library_name"))))
        self.created.append(row.get("created_at") or None)
        self.downloads.append(row.get("downloads"))
        self.likes.append(row.get("likes"))
        for parent, relation in tag_parents(model_id, tags).items():
            self._pending.append((number, parent, relation))

    def link(self) -> Corpus:
        """Resolve parents once every model is read: edges to models not in the data are dropped."""
        for number, parent, relation in self._pending:
            found = self.index.get(parent)
            if found is not None:
                self.child.append(number)
                self.parent.append(found)
                self.relation.append(relation)
        self._pending = []
        self._shared = {}
        return self

    @property
    def edges(self) -> Iterable[tuple[int, int, str]]:
        """(child, parent, relation) for every kept edge."""
        return zip(self.child, self.parent, self.relation, strict=True)


def build(rows: Iterable[dict[str, Any]]) -> Corpus:
    """A linked corpus from model rows (a model listed twice counts once)."""
    corpus = Corpus()
    for row in rows:
        corpus.add(row)
    return corpus.link()
