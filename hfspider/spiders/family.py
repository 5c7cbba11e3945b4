"""What the two family spiders (``model_tree``, ``model_pages``) share: which edges they follow, and
when a model is worth visiting (again)."""

from __future__ import annotations

from collections import Counter

from hfspider.arguments import TreeArguments
from hfspider.hub.lineage import UNKNOWN


class FamilySteps:
    """Mixed into a spider that has ``args`` (its ``TreeArguments``), ``_best`` ((walk, model) -> depth)
    and ``_visits`` (models per walk in ``_best``, kept as it grows: counting it is once per answer)."""

    args: TreeArguments
    _best: dict[tuple[str, str], int]
    _visits: Counter[str]

    def _follows(self, relation: str) -> bool:
        return relation in self.args.relations or (relation == UNKNOWN and self.args.all_relations)

    def _first_or_shorter(self, walk: str, model: str, depth: int) -> bool:
        """Whether to (re)visit: first time, or, under ``max_depth``, by a shorter path
        that can bring more of the family within the limit."""
        best = self._best.get((walk, model))
        if best is not None and (self.args.max_depth is None or depth >= best):
            return False
        self._visit(walk, model, depth)
        return True

    def _visit(self, walk: str, model: str, depth: int) -> None:
        """Record ``model`` as visited on ``walk`` at ``depth``."""
        if (walk, model) not in self._best:
            self._visits[walk] += 1
        self._best[(walk, model)] = depth
