"""Shapes of families: each crawled root's depth and width, and the no-merge graph's components."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from hfspider.analysis.corpus import MERGE, RELATIONS, Corpus

Members = dict[str, list[tuple[str, int]]]  # root -> [(model id, depth)]


def children_of(corpus: Corpus) -> dict[int, list[tuple[int, str]]]:
    """Parent -> [(child, relation)], built once for every family."""
    below: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for child, parent, relation in corpus.edges:
        below[parent].append((child, relation))
    return below


def family(corpus: Corpus, below: dict[int, list[tuple[int, str]]], members: Sequence[tuple[str, int]]) -> dict[str, Any]:
    """Size, deepest level, widest level, leaves, depth histogram and inside edges by relation."""
    inside = {corpus.index[m] for m, _d in members if m in corpus.index}
    by_depth = Counter(depth for _m, depth in members)
    relations: Counter[str] = Counter()
    parents: set[int] = set()
    for parent in inside:
        for child, relation in below.get(parent, ()):
            if child in inside:
                relations[relation] += 1
                parents.add(parent)
    return {
        "size": len(members),
        "max_depth": max(by_depth) if by_depth else 0,
        "width": max(by_depth.values()) if by_depth else 0,
        "leaves": len(inside - parents),
        "by_depth": {str(d): n for d, n in sorted(by_depth.items())},
        "edges": {relation: relations[relation] for relation in RELATIONS},
    }


def families(corpus: Corpus, members: Members) -> dict[str, Any]:
    below = children_of(corpus) if members else {}
    return {root: family(corpus, below, rows) for root, rows in sorted(members.items())}


def _find(up: list[int], x: int) -> int:
    while up[x] != x:
        up[x] = up[up[x]]
        x = up[x]
    return x


def component_labels(corpus: Corpus) -> list[int]:
    """Each model's weakly connected component in the no-merge graph (a representative member)."""
    up = list(range(len(corpus)))
    for child, parent, relation in corpus.edges:
        if relation != MERGE:
            a, b = _find(up, child), _find(up, parent)
            if a != b:
                up[max(a, b)] = min(a, b)
    return [_find(up, x) for x in range(len(corpus))]


def component_root(corpus: Corpus, parents: dict[int, list[int]], members: list[int]) -> str:
    """Follow a parent from the smallest member id until none is left, smallest parent id first."""
    here = min(members, key=corpus.ids.__getitem__)
    path = [here]
    while parents.get(here):
        step = min(parents[here], key=corpus.ids.__getitem__)
        if step in path:  # a cycle has no top: name it by the smallest id on the cycle
            return min(corpus.ids[m] for m in path[path.index(step) :])
        path.append(step)
        here = step
    return corpus.ids[here]


def components(corpus: Corpus, top: int = 10) -> dict[str, Any]:
    """The ``top`` largest components by size, named by their root, and how many components of each size."""
    labels = component_labels(corpus)
    sizes = Counter(labels)
    largest = sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    wanted = {label for label, _n in largest}
    members: dict[int, list[int]] = defaultdict(list)
    for model, label in enumerate(labels):
        if label in wanted:
            members[label].append(model)
    parents: dict[int, list[int]] = defaultdict(list)
    for child, parent, relation in corpus.edges:
        if relation != MERGE and labels[child] in wanted:
            parents[child].append(parent)
    named = [{"root": component_root(corpus, parents, members[label]), "size": n} for label, n in largest]
    return {
        "count": len(sizes),
        "largest": sorted(named, key=lambda c: (-c["size"], c["root"])),
        "sizes": {str(size): n for size, n in sorted(Counter(sizes.values()).items())},
    }
