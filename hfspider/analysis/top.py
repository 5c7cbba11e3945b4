"""The most frequent licenses, tasks, languages and libraries, and the parents with most children."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hfspider.analysis.corpus import Corpus, Values

TOP = 10


def _ranked(counts: Counter[str], whole: int, n: int) -> list[dict[str, Any]]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [{"value": value, "models": count, "percent": 100 * count / whole if whole else None} for value, count in ranked]


def most_frequent(values: list[Values], *, of_all: bool, n: int = TOP) -> list[dict[str, Any]]:
    """Values by models holding them; percent of all models (``of_all``) or of models with any value."""
    counts: Counter[str] = Counter(v for held in values for v in held)
    whole = len(values) if of_all else sum(1 for held in values if held)
    return _ranked(counts, whole, n)


def top(corpus: Corpus, n: int = TOP) -> dict[str, Any]:
    children = Counter(corpus.parent)
    parents = [{"value": corpus.ids[p], "children": k} for p, k in sorted(children.items(), key=lambda kv: (-kv[1], corpus.ids[kv[0]]))[:n]]
    return {
        "licenses": most_frequent(corpus.licenses, of_all=True, n=n),
        "tasks": most_frequent(corpus.task, of_all=False, n=n),
        "languages": most_frequent(corpus.languages, of_all=False, n=n),
        "libraries": most_frequent(corpus.library, of_all=False, n=n),
        "parents": parents,
    }
