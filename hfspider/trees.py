"""Trees derived from the stored edges: who belongs to a root's family, and at what depth.

Depth is the shortest distance from the root over stored edges (negative above
it), never the order a crawl happened to discover models in. The same code
serves the crawl's close and the offline ``scrapy tree`` command.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hfspider.db import Database

Link = tuple[str, str, str]  # (from, to, relation), walking away from the root
Fetch = Callable[[Sequence[str]], Iterable[Link]]


@dataclass(frozen=True)
class TreeSpec:
    """Which family of a root: the direction, the depth limit and the relations followed (None: all)."""

    direction: str = "down"
    max_depth: int | None = None
    relations: tuple[str, ...] | None = None


@dataclass
class Tree:
    """A root's family: every member's depth, the path that reached it, and all links among members."""

    root: str
    direction: str
    max_depth: int | None
    relations: tuple[str, ...] | None
    depth: dict[str, int] = field(default_factory=dict)
    via: dict[str, tuple[str, str]] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)


def _walk(tree: Tree, fetch: Fetch, sources: dict[str, int], step: int) -> None:
    """Level-by-level shortest paths from several sources at once, each starting at its own depth."""
    pending: dict[int, dict[str, tuple[str, str] | None]] = defaultdict(dict)
    for source, start in sources.items():
        pending[start][source] = None
    while pending:
        level = min(pending, key=lambda d: d * step)
        layer = {m: v for m, v in pending.pop(level).items() if m not in tree.depth}
        for model, via in layer.items():
            tree.depth[model] = level
            if via is not None:
                tree.via[model] = via
        if tree.max_depth is not None and abs(level + step) > tree.max_depth:
            continue
        for origin, target, relation in fetch(sorted(layer)):
            tree.links.append((origin, target, relation))
            if target not in tree.depth and pending[level + step].get(target) is None:
                pending[level + step][target] = (origin, relation)


def derive(db: Database, root: str, spec: TreeSpec = TreeSpec()) -> Tree | None:
    """The family of a stored root, or None when the root is not stored.

    ``up``: ancestors at negative depths. ``both``: ancestors, then everything
    below any of them, with depths counted as generations from the root.
    """
    root_id = db.resolve_root(root)
    if root_id is None:
        return None
    direction, max_depth, relations = spec.direction, spec.max_depth, spec.relations

    def fetch(walk: str) -> Fetch:
        return lambda ids: db.links(ids, walk, relations)

    tree = Tree(root_id, direction, max_depth, relations)
    if direction == "down":
        _walk(tree, fetch("down"), {root_id: 0}, 1)
    else:
        _walk(tree, fetch("up"), {root_id: 0}, -1)
        if direction == "both":
            ancestors = _keep_stored(db, tree)
            tree = Tree(root_id, direction, max_depth, relations)
            _walk(tree, fetch("down"), ancestors, 1)
    _keep_stored(db, tree)
    return tree


def _keep_stored(db: Database, tree: Tree) -> dict[str, int]:
    """Drop members the Hub did not give us (missing or private parents); return what is left."""
    present = db.stored(sorted(tree.depth))
    tree.depth = {m: d for m, d in tree.depth.items() if m in present}
    tree.via = {m: v for m, v in tree.via.items() if m in present and v[0] in present}
    tree.links = [link for link in tree.links if link[0] in present and link[1] in present]
    return tree.depth


def nested(tree: Tree) -> dict[str, Any]:
    """The tree as nested JSON: each model expanded once, on its shortest path; other
    paths to it (merges, cycles) appear as ``{"id", "relation", "ref": true}``."""
    key = "children" if tree.direction != "up" else "parents"
    below: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for origin, target, relation in tree.links:
        below[origin].append((target, relation))

    def node(model: str, relation: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"id": model, "depth": tree.depth[model]}
        if relation:
            out["relation"] = relation
        out[key] = [
            node(target, rel) if tree.via.get(target) == (model, rel) else {"id": target, "relation": rel, "ref": True}
            for target, rel in sorted(below[model])
        ]
        return out

    tops = sorted(m for m in tree.depth if m not in tree.via)
    by_depth: dict[int, int] = defaultdict(int)
    for depth in tree.depth.values():
        by_depth[depth] += 1
    return {
        "root": tree.root,
        "direction": tree.direction,
        "max_depth": tree.max_depth,
        "relations": list(tree.relations) if tree.relations else None,
        "size": len(tree.depth),
        "by_depth": {str(d): n for d, n in sorted(by_depth.items())},
        "trees": [node(top, None) for top in tops],
    }


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)


def tree_path(folder: Path, root: str) -> Path:
    """``trees/ORG--NAME.json``: safe on every OS, and never outside ``folder``."""
    name = _UNSAFE.sub("_", root.replace("/", "--")).strip(".") or "_"
    if _RESERVED.match(name):
        name = f"_{name}"
    path = (folder / f"{name}.json").resolve()
    if path.parent != folder.resolve():
        raise ValueError(f"model id {root!r} does not make a safe file name")
    return path


def tree_folder(output: str | Path) -> Path:
    """Where tree files go under ``HFSPIDER_OUTPUT``."""
    return Path(output) / "trees"


def write_json(folder: Path, tree: Tree) -> Path:
    """Write the nested tree atomically: a reader sees the old file or the new, never half."""
    folder.mkdir(parents=True, exist_ok=True)
    path = tree_path(folder, tree.root)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(nested(tree), ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(partial, path)
    return path


def write_trees(db: Database, output: str | Path, roots: Iterable[str], spec: TreeSpec) -> tuple[list[Tree], list[str]]:
    """Derive each root's family, store it in ``tree_members`` and write its tree file.

    The crawl's close and ``scrapy tree`` both come here. Returns the trees and the roots not stored.
    """
    written: list[Tree] = []
    missing: list[str] = []
    for root in dict.fromkeys(roots):
        tree = derive(db, root, spec)
        if tree is None:
            missing.append(root)
            continue
        db.store_members(tree.root, tree.depth)
        write_json(tree_folder(output), tree)
        written.append(tree)
    return written, missing
