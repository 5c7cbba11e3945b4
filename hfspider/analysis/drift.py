"""How languages and cards change from parent to child."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hfspider.analysis.corpus import RELATIONS, Corpus

#: Card text at most this long is no card (the study's threshold).
NO_CARD = 3
AUTO_MARKS = ("automatically generated", "generated automatically")


def _means(pairs: list[tuple[float, float]]) -> dict[str, Any]:
    n = len(pairs)
    return {
        "edges": n,
        "parent": sum(p for p, _c in pairs) / n if n else None,
        "child": sum(c for _p, c in pairs) / n if n else None,
    }


def language_count_drift(corpus: Corpus) -> dict[str, Any]:
    """Mean number of languages of parent and child: all edges, edges where both have some, per relation."""
    counts = [len(held) for held in corpus.languages]
    pairs = [(counts[p], counts[c], r) for c, p, r in corpus.edges]
    return {
        "all": _means([(p, c) for p, c, _r in pairs]),
        "both_have_languages": _means([(p, c) for p, c, _r in pairs if p and c]),
        "by_relation": {rel: _means([(p, c) for p, c, r in pairs if r == rel]) for rel in RELATIONS},
    }


def card_facts(text: str | None) -> tuple[int, bool] | None:
    """(length, auto-generated) of a card's text; None when there is no card (3 characters or fewer)."""
    if text is None or len(text) <= NO_CARD:
        return None
    lowered = text.lower()
    return len(text), any(mark in lowered for mark in AUTO_MARKS)


def _card_side(edges: list[tuple[int, int, str]], cards: dict[int, tuple[int, bool]]) -> dict[str, Any]:
    both = [(cards[p][0], cards[c][0]) for c, p, _r in edges if p in cards and c in cards]
    n = len(edges)
    with_parent = [cards[p] for _c, p, _r in edges if p in cards]
    with_child = [cards[c] for c, _p, _r in edges if c in cards]

    def auto(side: list[tuple[int, bool]]) -> float | None:
        return sum(1 for _n, is_auto in side if is_auto) / len(side) if side else None

    parent_share = len(with_parent) / n if n else None
    child_share = len(with_child) / n if n else None
    parent_auto, child_auto = auto(with_parent), auto(with_child)
    return {
        "length": _means([(float(p), float(c)) for p, c in both]),
        "card_share": {
            "parent": parent_share,
            "child": child_share,
            "change": child_share - parent_share if n else None,  # type: ignore[operator]
        },
        "auto_generated_share": {
            "parent": parent_auto,
            "child": child_auto,
            "change": child_auto - parent_auto if parent_auto is not None and child_auto is not None else None,
        },
    }


def card_drift(corpus: Corpus, texts: Iterable[tuple[str, str | None]] | None) -> dict[str, Any]:
    """Card length and templating from parent to child, over all edges and per relation.

    ``texts`` is (model id, card text) per stored card, or None when no card was ever fetched.
    Auto-generated shares are over the edges whose side has a card.
    """
    if texts is None:
        return {"reason": "no cards in the database: crawl with -a cards=1 to fetch them"}
    cards: dict[int, tuple[int, bool]] = {}
    for model_id, text in texts:
        number = corpus.index.get(model_id)
        facts = card_facts(text)
        if number is not None and facts is not None:
            cards[number] = facts
    if not cards:
        return {"reason": "no card text is stored for these models"}
    edges = list(corpus.edges)
    return {
        "models_with_card": len(cards),
        "share_of_models": len(cards) / len(corpus) if len(corpus) else None,
        "all": _card_side(edges, cards),
        "by_relation": {rel: _card_side([e for e in edges if e[2] == rel], cards) for rel in RELATIONS},
    }
