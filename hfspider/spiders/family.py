"""What the two family spiders (``model_tree``, ``model_pages``) share: which edges they follow, and
when a model is worth visiting (again)."""

from __future__ import annotations

from hfspider.arguments import TreeArguments
from hfspider.hub.lineage import UNKNOWN


class FamilySteps:
    """Mixed into a spider that has ``args`` (its ``TreeArguments``) and ``_best`` ((walk, model) -> depth)."""

    args: TreeArguments
    _best: dict[tuple[str, str], int]

    def _follows(self, relation: str) -> bool:
        return relation in self.args.relations or (relation == UNKNOWN and self.args.all_relations)

    def _first_or_shorter(self, walk: str, model: str, depth: int) -> bool:
        """Whether to (re)visit: first time, or, under ``max_depth``, by a shorter path
        that can bring more of the family within the limit."""
        key = (walk, model)
        best = self._best.get(key)
        if best is not None and (self.args.max_depth is None or depth >= best):
            return False
        self._best[key] = depth
        return True
