"""The study's measures on small graphs whose answers are worked out by hand below."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest

from hfspider.analysis.corpus import Corpus, build
from hfspider.analysis.drift import card_drift, language_count_drift
from hfspider.analysis.edges import children_with_children, edge_counts
from hfspider.analysis.families import components, families
from hfspider.analysis.mutations import mutation_rates
from hfspider.analysis.orderings import best_order, net, ordering, transitions
from hfspider.analysis.timeline import created_at_by_month
from hfspider.analysis.top import top


def model(model_id: str, *tags: str, task: str | None = None, library: str | None = None, created: str | None = None) -> tuple[Any, ...]:
    """A row as the database gives it: id, tags (JSON text), pipeline_tag, library_name, created_at, downloads, likes."""
    return (model_id, json.dumps(tags), task, library, created, None, None)


def edges_of(corpus: Corpus) -> set[tuple[str, str, str]]:
    return {(corpus.ids[c], corpus.ids[p], r) for c, p, r in corpus.edges}


def test_relations_follow_the_study_precedence_and_absent_parents_are_dropped() -> None:
    corpus = build(
        [
            model("a/root", "license:mit"),
            model("a/ft", "base_model:a/root", "base_model:finetune:a/root"),
            model("a/both", "base_model:finetune:a/root", "base_model:adapter:a/root"),  # adapter beats finetune
            model("a/plain", "base_model:a/root"),  # no relation named: unknown
            model("a/mq", "base_model:merge:a/ft", "base_model:quantized:a/ft"),  # merge beats quantized, in any tag order
            model("a/orphan", "base_model:finetune:gone/model"),  # parent not in the data
            model("a/self", "base_model:finetune:a/self"),
        ]
    )
    assert edges_of(corpus) == {
        ("a/ft", "a/root", "finetune"),
        ("a/both", "a/root", "adapter"),
        ("a/plain", "a/root", "unknown"),
        ("a/mq", "a/ft", "merge"),
    }
    counts = edge_counts(corpus)
    assert counts["all"] == 4
    assert [counts[r] for r in ("finetune", "quantized", "adapter", "merge", "unknown")] == [1, 0, 1, 1, 1]
    assert counts["share"]["finetune"] == 0.25 and counts["share"]["quantized"] == 0.0


def test_children_with_children_counts_edges_in_the_no_merge_graph() -> None:
    corpus = build(
        [
            model("r/root"),
            model("r/c1", "base_model:finetune:r/root"),
            model("r/g1", "base_model:adapter:r/c1"),
            model("r/c2", "base_model:finetune:r/root"),
            model("r/g2", "base_model:merge:r/c2"),  # a merge child does not count
            model("r/c3", "base_model:quantized:r/root"),
            model("r/g3", "base_model:finetune:r/c3"),
            model("r/c4", "base_model:adapter:r/root"),
            model("r/c5", "base_model:finetune:r/root", "base_model:finetune:r/c4"),  # two finetune edges to one child
            model("r/g5", "base_model:finetune:r/c5"),
        ]
    )
    found = children_with_children(corpus)
    # finetune edges: root→c1 (c1 has g1), root→c2 (merge child only), c3→g3, root→c5, c4→c5 (c5 has g5), c5→g5
    assert found["finetune"] == {"edges": 6, "child_has_children": 3, "share": 0.5}
    assert found["quantized"] == {"edges": 1, "child_has_children": 1, "share": 1.0}  # root→c3, c3 has g3
    assert found["adapter"] == {"edges": 2, "child_has_children": 1, "share": 0.5}  # c1→g1 no, root→c4 yes


def test_mutation_rates_give_fractions_for_overlapping_lists() -> None:
    corpus = build(
        [
            model("m/p", "license:mit", "license:apache-2.0", "en", "fr", task="text-generation"),
            model("m/half", "base_model:finetune:m/p", "license:mit", "en", "de", task="text-generation"),
            model("m/swap", "base_model:finetune:m/p", "license:gpl-3.0", task="text-classification"),
            model("m/same", "base_model:finetune:m/p", "license:mit", "license:apache-2.0", "fr", "en"),
            model("m/none", "base_model:finetune:m/p"),  # empty lists: skipped
            model("m/adapter", "base_model:adapter:m/p", "license:gpl-3.0", "de", task="other"),  # not a fine-tune
        ]
    )
    rates = mutation_rates(corpus)
    # license: half {mit,apache}->{mit}: 1/2; swap ->{gpl}: union of 3, nothing shared, 3/3; same: 0
    assert rates["license"] == {"mutations": 1.5, "traffic": 3, "rate": 0.5, "edges_changed": 2}
    # language: half {en,fr}->{en,de}: 2/3; same: 0; swap and none have no language
    assert rates["language"]["traffic"] == 2 and rates["language"]["mutations"] == pytest.approx(2 / 3)
    assert rates["language"]["edges_changed"] == 1
    # task: half equal, swap changed; same and none have no task
    assert rates["pipeline_tag"] == {"mutations": 1.0, "traffic": 2, "rate": 0.5, "edges_changed": 1}


def test_transitions_count_both_directions_of_a_change() -> None:
    corpus = build(
        [
            model("t/x", "license:x"),
            model("t/y", "base_model:finetune:t/x", "license:y"),  # swap {x}→{y}: 2 on x→y
            model("t/ab", "license:a", "license:b"),
            model("t/ac", "base_model:finetune:t/ab", "license:a", "license:c"),  # c added: a→c, b→c; b removed: b→a, b→c
            model("t/empty", "base_model:finetune:t/x"),  # against an empty side: nothing
            model("t/ad", "base_model:adapter:t/x", "license:z"),  # not a fine-tune
        ]
    )
    assert transitions(corpus, corpus.licenses) == {("x", "y"): 2, ("a", "c"): 1, ("b", "c"): 2, ("b", "a"): 1}
    assert net({("a", "b"): 5, ("b", "a"): 2, ("c", "d"): 1, ("d", "c"): 1}) == {("a", "b"): 3}


def forward(order: list[str], weights: dict[tuple[str, str], int]) -> int:
    position = {v: i for i, v in enumerate(order)}
    return sum(w for (a, b), w in weights.items() if position[a] < position[b])


def test_best_order_matches_every_permutation() -> None:
    rng = random.Random(5)
    for n in range(2, 8):
        values = [f"v{i}" for i in range(n)]
        weights = {}
        for a, b in itertools.combinations(values, 2):
            w = rng.randint(-9, 9)
            if w:
                weights[(a, b) if w > 0 else (b, a)] = abs(w)
        best = max(forward(list(p), weights) for p in itertools.permutations(values))
        order = best_order(values, weights)
        assert sorted(order) == values and forward(order, weights) == best


def test_tied_orders_are_each_optimal() -> None:
    cycle = {("a", "b"): 1, ("b", "c"): 1, ("c", "a"): 1}  # any order keeps two of three
    assert best_order(["a", "b", "c"], cycle) in (["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"])
    both_before_b = {("a", "b"): 1, ("c", "b"): 1}
    assert best_order(["a", "b", "c"], both_before_b) in (["a", "c", "b"], ["c", "a", "b"])
    with pytest.raises(ValueError):
        best_order([f"v{i}" for i in range(21)], {})


def test_ordering_reports_consistent_oriented_and_explained() -> None:
    rows = [model("o/base", "license:apache-2.0"), model("o/mit", "license:mit"), model("o/other", "license:other")]
    rows += [model(f"o/ft{i}", "base_model:finetune:o/base", "license:mit") for i in range(3)]  # apache→mit 2 each: 6
    rows += [model("o/back", "base_model:finetune:o/mit", "license:apache-2.0")]  # mit→apache 2
    rows += [model(f"o/gpl{i}", "base_model:finetune:o/mit", "license:gpl-3.0") for i in range(2)]  # mit→gpl 4
    rows += [model("o/gb", "base_model:finetune:o/gpl0", "license:apache-2.0")]  # gpl→apache 2
    rows += [model("o/oth", "base_model:finetune:o/base", "license:other")]  # apache→other: 'other' is left out
    corpus = build(rows)
    found = ordering(corpus, corpus.licenses, 20)
    # net: apache→mit 4, mit→gpl 4, gpl→apache 2 (a cycle): the best order drops the weight-2 edge
    assert found["order"] == ["apache-2.0", "mit", "gpl-3.0"]
    assert (found["consistent"], found["oriented"]) == (2, 3)
    # raw counts among the values: forward 6 + 4, backward 2 + 2
    assert found["explained"] == pytest.approx(10 / 14)
    assert ordering(corpus, corpus.licenses, 1)["order"] == ["mit"]  # the most frequent value alone


def test_families_and_components() -> None:
    corpus = build(
        [
            model("f/root"),
            model("f/c1", "base_model:finetune:f/root"),
            model("f/c2", "base_model:quantized:f/root"),
            model("f/g1", "base_model:adapter:f/c1"),
            model("f/m", "base_model:merge:f/c2", "base_model:merge:z/other"),  # merges split no-merge components
            model("z/other"),
            model("z/kid", "base_model:finetune:z/other"),
            model("y/cyc1", "base_model:finetune:y/cyc2"),
            model("y/cyc2", "base_model:finetune:y/cyc1"),
        ]
    )
    members = {"f/root": [("f/root", 0), ("f/c1", 1), ("f/c2", 1), ("f/g1", 2), ("f/m", 2)]}
    fam = families(corpus, members)["f/root"]
    assert (fam["size"], fam["max_depth"], fam["width"], fam["leaves"]) == (5, 2, 2, 2)  # leaves: g1 and m
    assert fam["by_depth"] == {"0": 1, "1": 2, "2": 2}
    assert fam["edges"] == {"finetune": 1, "quantized": 1, "adapter": 1, "merge": 1, "unknown": 0}
    comp = components(corpus)
    assert comp["largest"] == [
        {"root": "f/root", "size": 4},
        {"root": "y/cyc1", "size": 2},  # a cycle has no top: its smallest id
        {"root": "z/other", "size": 2},
        {"root": "f/m", "size": 1},
    ]
    assert comp["count"] == 4 and comp["sizes"] == {"1": 1, "2": 2, "4": 1}


def test_top_counts_every_license_of_a_model() -> None:
    corpus = build(
        [
            model("t/a", "license:mit", "license:apache-2.0", "en", task="text-generation", library="transformers"),
            model("t/b", "license:mit", "base_model:finetune:t/a", "en", "fr"),
            model("t/c", "base_model:adapter:t/a", task="text-generation"),
            model("t/d"),
        ]
    )
    found = top(corpus)
    assert found["licenses"] == [{"value": "mit", "models": 2, "percent": 50.0}, {"value": "apache-2.0", "models": 1, "percent": 25.0}]
    assert found["tasks"] == [{"value": "text-generation", "models": 2, "percent": 100.0}]
    assert found["languages"] == [{"value": "English", "models": 2, "percent": 100.0}, {"value": "French", "models": 1, "percent": 50.0}]
    assert found["libraries"] == [{"value": "transformers", "models": 1, "percent": 100.0}]
    assert found["parents"] == [{"value": "t/a", "children": 2}]


def test_language_drift() -> None:
    corpus = build(
        [
            model("l/p", "en", "fr", "de", "zho"),  # three-letter codes are not languages
            model("l/one", "base_model:finetune:l/p", "en"),
            model("l/none", "base_model:adapter:l/p"),
        ]
    )
    drift = language_count_drift(corpus)
    assert drift["all"] == {"edges": 2, "parent": 3.0, "child": 0.5}
    assert drift["both_have_languages"] == {"edges": 1, "parent": 3.0, "child": 1.0}
    assert drift["by_relation"]["adapter"] == {"edges": 1, "parent": 3.0, "child": 0.0}


def test_card_drift() -> None:
    corpus = build([model("c/p"), model("c/ft", "base_model:finetune:c/p"), model("c/q", "base_model:quantized:c/p"), model("c/x")])
    assert "reason" in card_drift(corpus, None)
    assert "reason" in card_drift(corpus, [("c/p", "abc")])  # three characters are no card
    auto = "This model card was Automatically Generated."
    drift = card_drift(corpus, [("c/p", "p" * 100), ("c/ft", auto), ("c/q", None), ("gone/model", "x" * 50)])
    assert drift["models_with_card"] == 2 and drift["share_of_models"] == 0.5
    assert drift["all"]["length"] == {"edges": 1, "parent": 100.0, "child": float(len(auto))}
    assert drift["all"]["card_share"] == {"parent": 1.0, "child": 0.5, "change": -0.5}
    assert drift["all"]["auto_generated_share"] == {"parent": 0.0, "child": 1.0, "change": 1.0}
    assert drift["by_relation"]["quantized"]["length"]["edges"] == 0


def test_created_at_by_month() -> None:
    corpus = build(
        [
            model("d/p", created="2024-01-05T00:00:00Z"),
            model("d/a", "base_model:finetune:d/p", created="2024-01-30T00:00:00Z"),
            model("d/m", "base_model:merge:d/p", "base_model:merge:d/a", created="2024-03-01T00:00:00Z"),
            model("d/u"),
        ]
    )
    found = created_at_by_month(corpus)
    assert found["all"] == {"2024-01": 2, "2024-03": 1} and found["undated"] == 1
    assert found["by_relation"]["finetune"] == {"2024-01": 1}
    assert found["by_relation"]["merge"] == {"2024-03": 1}  # two merge parents, one model
