"""How many edges of each relation, and how often a derived model is derived from in turn."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hfspider.analysis.corpus import ADAPTER, FINETUNE, MERGE, QUANTIZED, RELATIONS, Corpus


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def edge_counts(corpus: Corpus) -> dict[str, Any]:
    """Edges in total (``all``), per relation, and each relation's ``share`` of all."""
    counts = Counter(corpus.relation)
    total = len(corpus.relation)
    return {
        "all": total,
        **{relation: counts[relation] for relation in RELATIONS},
        "share": {relation: _share(counts[relation], total) for relation in RELATIONS},
    }


def has_children_without_merges(corpus: Corpus) -> set[int]:
    """Models that are a parent in the no-merge graph."""
    return {parent for parent, relation in zip(corpus.parent, corpus.relation, strict=True) if relation != MERGE}


def children_with_children(corpus: Corpus) -> dict[str, Any]:
    """Per relation: its edges, those whose child is itself a parent (no-merge graph), and the share.

    Edges are counted, not distinct children, as the study does.
    """
    parents = has_children_without_merges(corpus)
    result: dict[str, Any] = {}
    for relation in (FINETUNE, QUANTIZED, ADAPTER):
        edges = [child for child, rel in zip(corpus.child, corpus.relation, strict=True) if rel == relation]
        onward = sum(1 for child in edges if child in parents)
        result[relation] = {"edges": len(edges), "child_has_children": onward, "share": _share(onward, len(edges))}
    return result
