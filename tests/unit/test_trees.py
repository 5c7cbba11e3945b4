"""Tree derivation from stored edges: shortest depths, merges, cycles, limits, safe file names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import insert

from hfspider import trees
from hfspider.db import Database, open_database
from hfspider.db.schema import edges, models
from hfspider.trees import TreeSpec

#           r
#        /     \
#      a(ft)   b(ad)
#        \     /   \
#        m(merge)   c(q) -> d(ft) <-> e(ft) cycle
#   plus z -> r (r's own parent), and a self-loop on c
EDGES = [
    ("a", "r", "finetune"),
    ("b", "r", "adapter"),
    ("m", "a", "merge"),
    ("m", "b", "merge"),
    ("c", "b", "quantized"),
    ("d", "c", "finetune"),
    ("e", "d", "finetune"),
    ("d", "e", "finetune"),
    ("r", "z", "finetune"),
    ("c", "c", "finetune"),
    ("r", "gone", "merge"),
]
MODELS = ["r", "a", "b", "m", "c", "d", "e", "z"]


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = open_database(f"sqlite:///{tmp_path / 't.sqlite'}")
    with database.engine.begin() as conn:
        conn.execute(insert(models), [{"id": m, "tags": []} for m in MODELS])
        conn.execute(insert(edges), [{"child_id": c, "parent_id": p, "relation": r, "source": "tags"} for c, p, r in EDGES])
    return database


def test_down_depths_are_shortest_distances(db: Database) -> None:
    tree = trees.derive(db, "r")
    assert tree is not None
    assert tree.depth == {"r": 0, "a": 1, "b": 1, "m": 2, "c": 2, "d": 3, "e": 4}


def test_limits_and_relations(db: Database) -> None:
    assert trees.derive(db, "r", TreeSpec(max_depth=1)).depth == {"r": 0, "a": 1, "b": 1}
    assert trees.derive(db, "r", TreeSpec(max_depth=0)).depth == {"r": 0}
    assert trees.derive(db, "r", TreeSpec(relations=("adapter", "quantized"))).depth == {"r": 0, "b": 1, "c": 2}


def test_up_stops_at_missing_parents(db: Database) -> None:
    assert trees.derive(db, "m", TreeSpec("up")).depth == {"m": 0, "a": -1, "b": -1, "r": -2, "z": -3}
    assert trees.derive(db, "m", TreeSpec("up", max_depth=2)).depth == {"m": 0, "a": -1, "b": -1, "r": -2}


def test_both_counts_generations_from_the_root(db: Database) -> None:
    tree = trees.derive(db, "a", TreeSpec("both"))
    assert tree.depth == {"z": -2, "r": -1, "a": 0, "b": 0, "m": 1, "c": 1, "d": 2, "e": 3}


def test_unknown_root_and_case_insensitive_root(db: Database) -> None:
    assert trees.derive(db, "nobody") is None
    assert trees.derive(db, "R").root == "r"


def test_nested_json_expands_each_model_once(db: Database, tmp_path: Path) -> None:
    tree = trees.derive(db, "r")
    data = json.loads(trees.write_json(tmp_path / "trees", tree).read_text())
    expanded, refs = [], []

    def visit(node: dict) -> None:
        (refs if node.get("ref") else expanded).append(node["id"])
        for child in node.get("children", []):
            visit(child)

    for top in data["trees"]:
        visit(top)
    assert sorted(expanded) == sorted(tree.depth)  # every member once
    assert sorted(refs) == ["c", "d", "m"]  # the self-loop, the cycle back to d, the merge's second parent
    assert data["size"] == 7 and data["by_depth"] == {"0": 1, "1": 2, "2": 2, "3": 1, "4": 1}


@pytest.mark.parametrize(
    ("root", "name"),
    [("org/model.v1", "org--model.v1.json"), ("gpt2", "gpt2.json"), ("CON", "_CON.json"), ("..", "_.json"), ("a/b c", "a--b_c.json")],
)
def test_tree_file_names_are_safe(tmp_path: Path, root: str, name: str) -> None:
    path = trees.tree_path(tmp_path, root)
    assert path.name == name and path.parent == tmp_path.resolve()


def test_up_follows_a_card_parent_named_in_another_case(tmp_path: Path) -> None:
    """A card names its parent as ``Org/Base``; the Hub stores ``org/base``: the ancestor is still found, and above it."""
    database = open_database(f"sqlite:///{tmp_path / 'case.sqlite'}")
    with database.engine.begin() as conn:
        conn.execute(insert(models), [{"id": m, "tags": []} for m in ("org/child", "org/base", "org/top")])
        rows = [("org/child", "Org/Base", "finetune", "card"), ("org/base", "org/top", "finetune", "tags")]
        conn.execute(insert(edges), [{"child_id": c, "parent_id": p, "relation": r, "source": s} for c, p, r, s in rows])
    assert trees.derive(database, "org/child", TreeSpec("up")).depth == {"org/child": 0, "org/base": -1, "org/top": -2}


def test_a_model_gone_from_the_hub_leaves_the_tree_and_its_branch(db: Database) -> None:
    """After a complete walk no longer listed ``b``, it is out of every tree, and nothing is reached only through it."""
    with db.engine.begin() as conn:
        conn.execute(models.update().where(models.c.id.in_(["z", "a", "b", "m", "c", "d", "e"])).values(fetched_at="2025-01-01T00:00:00Z"))
        conn.execute(models.update().where(models.c.id == "r").values(fetched_at="2025-02-01T00:00:00Z"))
        conn.execute(models.update().where(models.c.id.in_(["a", "m", "c", "d", "e", "z"])).values(fetched_at="2025-02-02T00:00:00Z"))
    assert db.mark_gone("2025-02-01T00:00:00Z") == 1  # only b was fetched before the walk began
    assert trees.derive(db, "r").depth == {"r": 0, "a": 1, "m": 2}  # c, d, e hang below b only
