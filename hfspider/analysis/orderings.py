"""The study's "evolutionary order": the order of values that fine-tunes move along.

The optimum is exact: a dynamic programme over subsets (Held-Karp style), vectorised
with numpy over all subsets of one size at a time, so 20 values take about a second.
No linear-ordering library is kept up for Python, hence this one.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from hfspider.analysis.corpus import FINETUNE, Corpus, Values

#: Values left out of an ordering: they name no value.
NOT_VALUES = frozenset({"", "other", "unknown"})
#: How many of the most frequent values each ordering covers, as in the study.
SIZES = {"license": 20, "language": 20, "task": 10, "library": 10}
MAX_VALUES = 20

Pair = tuple[str, str]


def transitions(corpus: Corpus, values: list[Values]) -> Counter[Pair]:
    """Raw counts on fine-tune edges: an added value a counts p -> a for every parent value p,
    a removed value r counts r -> c for every child value c."""
    counts: Counter[Pair] = Counter()
    for child, parent, relation in corpus.edges:
        if relation != FINETUNE:
            continue
        p, c = values[parent], values[child]
        if not p or not c or p == c:
            continue
        for added in c:
            if added not in p:
                counts.update((old, added) for old in p)
        for removed in p:
            if removed not in c:
                counts.update((removed, new) for new in c)
    return counts


def net(counts: Counter[Pair]) -> dict[Pair, int]:
    """For each pair, the dominant direction weighted by |w(a→b) - w(b→a)|; ties dropped."""
    result: dict[Pair, int] = {}
    for (a, b), weight in counts.items():
        if a == b:
            continue
        back = counts.get((b, a), 0)
        if weight > back:
            result[(a, b)] = weight - back
    return result


def frequent(values: list[Values], n: int) -> list[str]:
    """The n values held by most models (ties by name), ``other``/``unknown``/empty left out."""
    counts: Counter[str] = Counter(v for held in values for v in held if v.strip().lower() not in NOT_VALUES)
    return [v for v, _count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def best_order(values: list[str], weights: dict[Pair, int]) -> list[str]:
    """An order of ``values`` maximising the weight of pairs (a, b) with a before b.

    Exact, for up to ``MAX_VALUES`` values. f[S] is the best weight of an order of the set S;
    placing v after S adds the weight of every u -> v with u in S. Among tied optima the
    backtrack keeps the earliest value of ``values`` last-first, so the answer is stable.
    """
    n = len(values)
    if n > MAX_VALUES:
        raise ValueError(f"an exact ordering covers at most {MAX_VALUES} values, not {n}")
    if n < 2:
        return list(values)
    w = np.zeros((n, n), dtype=np.int64)
    for i, a in enumerate(values):
        for j, b in enumerate(values):
            w[i, j] = weights.get((a, b), 0)
    size = 1 << n
    # into[v][S]: weight of edges u -> v over u in S, built by doubling on the highest bit.
    into = np.zeros((n, size), dtype=np.int64)
    for bit in range(n):
        into[:, 1 << bit : 2 << bit] = into[:, : 1 << bit] + w[bit, :, None]
    subsets = np.arange(size, dtype=np.int64)
    popcount = np.zeros(size, dtype=np.int8)
    for bit in range(n):
        popcount += ((subsets >> bit) & 1).astype(np.int8)
    best = np.full(size, np.iinfo(np.int64).min // 2, dtype=np.int64)
    best[0] = 0
    for k in range(1, n + 1):
        layer = subsets[popcount == k]
        for v in range(n):
            with_v = layer[(layer >> v) & 1 == 1]
            before = with_v ^ (1 << v)
            best[with_v] = np.maximum(best[with_v], best[before] + into[v, before])
    order: list[int] = []
    rest = size - 1
    while rest:
        for v in range(n):
            if rest >> v & 1:
                before = rest ^ (1 << v)
                if best[before] + into[v, before] == best[rest]:
                    order.append(v)
                    rest = before
                    break
    return [values[i] for i in reversed(order)]


def ordering(corpus: Corpus, values: list[Values], n: int) -> dict[str, Any]:
    """The study's ordering of one attribute: values, order, consistent / oriented, explained."""
    counts = transitions(corpus, values)
    weights = net(counts)
    in_net = {v for pair in weights for v in pair}
    chosen = [v for v in frequent(values, n) if v in in_net]
    order = best_order(chosen, weights)
    position = {v: i for i, v in enumerate(order)}
    among = {pair: w for pair, w in weights.items() if pair[0] in position and pair[1] in position}
    consistent = sum(1 for a, b in among if position[a] < position[b])
    forward = backward = 0
    for (a, b), count in counts.items():
        if a in position and b in position and a != b:
            if position[a] < position[b]:
                forward += count
            else:
                backward += count
    return {
        "order": order,
        "consistent": consistent,
        "oriented": len(among),
        "explained": forward / (forward + backward) if forward + backward else None,
        "forward_weight": sum(w for (a, b), w in among.items() if position[a] < position[b]),
        "transitions": [[a, b, count] for (a, b), count in sorted(counts.items()) if a in position and b in position],
    }


def orderings(corpus: Corpus) -> dict[str, Any]:
    attributes = {"license": corpus.licenses, "language": corpus.languages, "task": corpus.task, "library": corpus.library}
    return {name: ordering(corpus, values, SIZES[name]) for name, values in attributes.items()}
