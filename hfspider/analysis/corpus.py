"""The study's inputs read from model rows: licenses, languages, task, library, and the tag graph.

Models are numbered in the order they are read; attributes live in parallel
lists and edges in three lists (child, parent, relation) so that a million
models fit in a few hundred megabytes.
"""

from __future__ import annotations

import json
import re
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


#: In a JSON list of tags, the tags the measures read. Quotes inside a tag are escaped in JSON, so a
#: text without a backslash splits exactly on quotes; this skips decoding every other tag.
_WANTED = re.compile(r'"(license:[^"]*|base_model:[^"]*|[a-z]{2})"')


def wanted_tags(tags: Any) -> Iterable[Any]:
    """The tags ``read_tags`` needs from a list, or from its JSON text (a million models are read)."""
    if isinstance(tags, str):
        if "\\" not in tags:
            return _WANTED.findall(tags)
        tags = json.loads(tags)
    return tags if isinstance(tags, list) else ()


def read_tags(model_id: str, tags: Iterable[Any]) -> tuple[Values, Values, dict[str, str]]:
    """Licenses (``license:X``), languages (two-character ISO 639-1 tags, by English name) and
    parents (id -> relation) from a model's tags, in one pass: a million models are read here.

    Parents come from ``base_model:P`` and ``base_model:R:P``; several relations for one parent
    keep the last in ``PRECEDENCE``, a parent named only by a plain tag is ``unknown``, and a
    model naming itself is no edge.
    """
    found_licenses: list[str] = []
    found_languages: list[str] = []
    parents: dict[str, str] = {}
    for tag in tags:
        if not isinstance(tag, str):
            continue
        if len(tag) == 2:
            name = LANGUAGES.get(tag)
            if name is not None:
                found_languages.append(name)
        elif tag.startswith("license:"):
            if len(tag) > 8:
                found_licenses.append(tag[8:])
        elif tag.startswith("base_model:"):
            rest = tag[11:]
            relation, typed, parent = rest.partition(":")
            if typed and relation in _RANK:
                if _RANK[relation] > _RANK.get(parents.get(parent, UNKNOWN), 0):
                    parents[parent] = relation
            elif not typed and rest:
                parents.setdefault(rest, UNKNOWN)
    parents.pop(model_id, None)
    return _unique(found_licenses), _unique(found_languages), parents


def _unique(values: list[str]) -> Values:
    if not values:
        return _EMPTY
    return (values[0],) if len(values) == 1 else tuple(dict.fromkeys(values))


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

    def add(self, row: tuple[Any, ...]) -> None:
        """One model: (id, tags as a list or JSON text, pipeline_tag, library_name, created_at, downloads, likes)."""
        model_id, tags, task, library, created, downloads, likes = row
        if model_id in self.index:
            return
        found_licenses, found_languages, parents = read_tags(model_id, wanted_tags(tags))
        number = len(self.ids)
        self.ids.append(model_id)
        self.index[model_id] = number
        self.licenses.append(self._share(found_licenses))
        self.languages.append(self._share(found_languages))
        self.task.append(self._share(_value(task)))
        self.library.append(self._share(_value(library)))
        self.created.append(created or None)
        self.downloads.append(downloads)
        self.likes.append(likes)
        for parent, relation in parents.items():
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


def build(rows: Iterable[tuple[Any, ...]]) -> Corpus:
    """A linked corpus from model rows (a model listed twice counts once)."""
    corpus = Corpus()
    for row in rows:
        corpus.add(row)
    return corpus.link()
