"""Every measure of the study, under the keys the report writes to ``analysis.json``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from hfspider.analysis.corpus import Corpus
from hfspider.analysis.drift import card_drift, language_count_drift
from hfspider.analysis.edges import children_with_children, edge_counts
from hfspider.analysis.families import Members, components, families
from hfspider.analysis.mutations import mutation_rates
from hfspider.analysis.orderings import orderings
from hfspider.analysis.timeline import created_at_by_month
from hfspider.analysis.top import top


def analyse(
    corpus: Corpus,
    members: Members,
    cards: Iterable[tuple[str, str | None]] | None,
    step: Callable[[str], None] = lambda _name: None,
) -> dict[str, Any]:
    """All measures; ``step`` hears each measure's name before it is computed (for a progress line)."""
    plan: list[tuple[str, Callable[[], Any]]] = [
        ("edge_counts", lambda: edge_counts(corpus)),
        ("children_with_children", lambda: children_with_children(corpus)),
        ("mutation_rates", lambda: mutation_rates(corpus)),
        ("orderings", lambda: orderings(corpus)),
        ("families", lambda: families(corpus, members)),
        ("components", lambda: components(corpus)),
        ("top", lambda: top(corpus)),
        ("language_count_drift", lambda: language_count_drift(corpus)),
        ("card_drift", lambda: card_drift(corpus, cards)),
        ("created_at_by_month", lambda: created_at_by_month(corpus)),
    ]
    result: dict[str, Any] = {"models": len(corpus)}
    for name, measure in plan:
        step(name)
        result[name] = measure()
    return result
