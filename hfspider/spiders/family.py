"""What the two family spiders (``model_tree``, ``model_pages``) share: which edges they follow, when
a model is worth visiting (again), and how they take over an unfinished run's members."""

from __future__ import annotations

from collections import Counter

from scrapy import Request

from hfspider.arguments import TreeArguments
from hfspider.extensions.crawlrun import FamilyPlan
from hfspider.hub.lineage import UNKNOWN


class FamilySteps:
    """Mixed into a spider that has ``args`` (its ``TreeArguments``), ``_best`` ((walk, model) -> depth),
    ``_visits`` (models per walk in ``_best``, kept as it grows: counting it is once per answer),
    ``_stored_roots`` and ``_replay`` (stored members still to feed)."""

    args: TreeArguments
    _best: dict[tuple[str, str], int]
    _visits: Counter[str]
    _stored_roots: set[str]
    _replay: list[str]

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

    def _take_over(self, plan: FamilyPlan) -> Request:
        """Take an unfinished run's stored members as found and visited; the request that replays them for the feeds."""
        self._stored_roots |= set(plan.roots)
        self._replay += sorted(plan.depth)
        for model, depth in plan.depth.items():
            self._visit("down", model, depth)
        return self.replay_request()  # type: ignore[attr-defined]
