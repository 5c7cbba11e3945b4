"""How often a fine-tune changes its parent's license, languages or task."""

from __future__ import annotations

from typing import Any

from hfspider.analysis.corpus import FINETUNE, Corpus, Values


def mutation(parent: Values, child: Values) -> float:
    """|(P | C) - (P & C)| / |P | C|: 0 when equal, a fraction when multi-valued lists overlap."""
    p, c = set(parent), set(child)
    union = p | c
    return len(union - (p & c)) / len(union)


def mutation_rate(corpus: Corpus, values: list[Values]) -> dict[str, Any]:
    """Over fine-tune edges where both sides have a value: mutations, traffic, rate, edges changed."""
    mutations = 0.0
    traffic = changed = 0
    for child, parent, relation in corpus.edges:
        if relation != FINETUNE or not values[parent] or not values[child]:
            continue
        traffic += 1
        amount = mutation(values[parent], values[child])
        mutations += amount
        changed += amount > 0
    return {"mutations": mutations, "traffic": traffic, "rate": mutations / traffic if traffic else None, "edges_changed": changed}


def mutation_rates(corpus: Corpus) -> dict[str, Any]:
    return {
        "license": mutation_rate(corpus, corpus.licenses),
        "language": mutation_rate(corpus, corpus.languages),
        "pipeline_tag": mutation_rate(corpus, corpus.task),
    }
