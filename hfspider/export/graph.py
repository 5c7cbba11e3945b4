"""The stored map as a graph, streamed: nodes with their attributes, one edge per parent → child pair."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from hfspider.analysis.corpus import PRECEDENCE
from hfspider.db import Database

#: Node attributes, in the order ``Database.graph_nodes`` gives them after the id: (name, type).
NODE_ATTRIBUTES = (
    ("relation", "string"),
    ("license", "string"),
    ("task", "string"),
    ("library", "string"),
    ("downloads", "long"),
    ("likes", "long"),
    ("created", "string"),
)
EDGE_ATTRIBUTES = (("relation", "string"), ("source", "string"))
_RANK = {relation: rank for rank, relation in enumerate(PRECEDENCE, start=1)}
#: Characters XML 1.0 cannot hold at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")

Report = Callable[[int], None]


def xml_text(value: Any) -> str:
    """A value as XML-safe text (escape it as well)."""
    return _NOT_XML.sub("\ufffd", str(value))


def nodes(db: Database, counted: Report) -> Iterator[tuple[str, dict[str, Any]]]:
    """(model id, attributes without nulls) for every stored model.

    A node's ``relation`` is that of its edges to its parents; it takes one pass over the edges
    first, holding one value per model with a parent (a third of them on the Hub).
    """
    relation: dict[str, str] = {}
    for _parent, child, attrs in edges(db):
        if _RANK.get(attrs["relation"], 0) >= _RANK.get(relation.get(child, ""), 0):
            relation[child] = attrs["relation"]
    names = [name for name, _t in NODE_ATTRIBUTES[1:]]
    done = 0
    for batch in db.graph_nodes():
        for model, *values in batch:
            attrs = {name: value for name, value in zip(names, values, strict=True) if value is not None}
            if model in relation:
                attrs = {"relation": relation[model], **attrs}
            yield model, attrs
        done += len(batch)
        counted(done)


def edges(db: Database) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(parent, child, {relation, source}) once per pair whose parent is stored; several relations
    for one pair keep the last in the study's order (merge > adapter > quantized > finetune > unknown)."""
    pair: tuple[str, str] | None = None
    kept: tuple[str, str] = ("", "")
    for batch in db.graph_edges():
        for child, parent, relation, source in batch:
            if (child, parent) != pair:
                if pair is not None:
                    yield pair[1], pair[0], {"relation": kept[0], "source": kept[1]}
                pair, kept = (child, parent), (relation, source)
            elif _RANK.get(relation, 0) > _RANK.get(kept[0], 0):
                kept = (relation, source)
    if pair is not None:
        yield pair[1], pair[0], {"relation": kept[0], "source": kept[1]}
