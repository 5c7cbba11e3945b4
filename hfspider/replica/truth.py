"""Ground truth computed straight from hub records, independently of hfspider's code.

Child of P = a public record with the tag ``base_model:R:P``; depth = BFS distance.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Iterable
from typing import Any

TYPED = re.compile(r"^base_model:(adapter|finetune|merge|quantized):(.+)$")


def typed_parents(record: dict[str, Any]) -> set[tuple[str, str]]:
    """(parent, relation) from the record's own tags, self-references left out."""
    found = set()
    for tag in record.get("tags") or []:
        match = TYPED.match(tag) if isinstance(tag, str) else None
        if match and match.group(2) != record["id"]:
            found.add((match.group(2), match.group(1)))
    return found


class Truth:
    def __init__(self, records: Iterable[dict[str, Any]]) -> None:
        self.records = {r["id"]: r for r in records}
        self.public = {i for i, r in self.records.items() if not r.get("private")}
        self.children: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self.parents: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for model in self.public:
            for parent, relation in typed_parents(self.records[model]):
                self.children[parent].add((model, relation))
                self.parents[model].add((parent, relation))

    def down(self, root: str, max_depth: int | None = None, relations: Iterable[str] | None = None) -> dict[str, int]:
        wanted = set(relations) if relations else None
        depth = {root: 0}
        queue = deque([root])
        while queue:
            model = queue.popleft()
            if max_depth is not None and depth[model] >= max_depth:
                continue
            for child, relation in self.children.get(model, ()):
                if child not in depth and (wanted is None or relation in wanted):
                    depth[child] = depth[model] + 1
                    queue.append(child)
        return depth

    def up(self, root: str, max_depth: int | None = None) -> dict[str, int]:
        depth = {root: 0}
        queue = deque([root])
        while queue:
            model = queue.popleft()
            if max_depth is not None and -depth[model] >= max_depth:
                continue
            for parent, _relation in self.parents.get(model, ()):
                if parent not in depth and parent in self.public:
                    depth[parent] = depth[model] - 1
                    queue.append(parent)
        return depth

    def edges(self, members: Iterable[str]) -> set[tuple[str, str, str]]:
        """Every (child, parent, relation) the members' own tags state."""
        return {(m, p, r) for m in members for p, r in typed_parents(self.records[m])}

    def biggest_family(self) -> tuple[str, dict[str, int]]:
        """The parentless public model with the largest family below it."""
        roots = [m for m in self.public if m in self.children and not self.parents.get(m)]
        best = max(sorted(roots), key=lambda m: len(self.down(m)))
        return best, self.down(best)
