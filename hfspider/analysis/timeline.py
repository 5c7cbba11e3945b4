"""When models were created, month by month."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hfspider.analysis.corpus import RELATIONS, Corpus


def created_at_by_month(corpus: Corpus) -> dict[str, Any]:
    """Models created per month (``YYYY-MM``), and the same per relation of their incoming edges
    (a model with two parents of one relation counts once for it)."""
    month = [created[:7] if created else None for created in corpus.created]
    by_relation: dict[str, Counter[str]] = {relation: Counter() for relation in RELATIONS}
    for child, relation in {(c, r) for c, _p, r in corpus.edges}:
        if month[child]:
            by_relation[relation][month[child]] += 1  # type: ignore[index]
    overall = Counter(m for m in month if m)
    return {
        "all": dict(sorted(overall.items())),
        "undated": sum(1 for m in month if not m),
        "by_relation": {relation: dict(sorted(counts.items())) for relation, counts in by_relation.items()},
    }
