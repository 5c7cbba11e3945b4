"""The measures as flat tables: one CSV each, and the tables of index.html."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hfspider.analysis.corpus import RELATIONS


@dataclass
class Table:
    name: str
    title: str
    columns: list[str]
    rows: list[list[Any]]


def _edge_counts(a: dict[str, Any]) -> Table:
    counts = a["edge_counts"]
    rows = [["all", counts["all"], 1.0 if counts["all"] else None]]
    rows += [[r, counts[r], counts["share"][r]] for r in RELATIONS]
    return Table("edge_counts", "Edges by relation", ["relation", "edges", "share"], rows)


def _children(a: dict[str, Any]) -> Table:
    rows = [[r, v["edges"], v["child_has_children"], v["share"]] for r, v in a["children_with_children"].items()]
    return Table("children_with_children", "Children with children", ["relation", "edges", "child_has_children", "share"], rows)


def _mutations(a: dict[str, Any]) -> Table:
    rows = [[k, v["mutations"], v["traffic"], v["rate"], v["edges_changed"]] for k, v in a["mutation_rates"].items()]
    return Table(
        "mutation_rates", "Mutation rates on fine-tune edges", ["attribute", "mutations", "traffic", "rate", "edges_changed"], rows
    )


def _orderings(a: dict[str, Any]) -> list[Table]:
    summary = [[k, " → ".join(v["order"]), v["consistent"], v["oriented"], v["explained"]] for k, v in a["orderings"].items()]
    positions = [[k, i + 1, value] for k, v in a["orderings"].items() for i, value in enumerate(v["order"])]
    return [
        Table("orderings", "Evolutionary orders", ["attribute", "order", "consistent", "oriented", "explained"], summary),
        Table("ordering_positions", "Order positions", ["attribute", "position", "value"], positions),
    ]


def _families(a: dict[str, Any]) -> list[Table]:
    fams = a["families"]
    rows = [[root, f["size"], f["max_depth"], f["width"], f["leaves"], *(f["edges"][r] for r in RELATIONS)] for root, f in fams.items()]
    depths = [[root, int(d), n] for root, f in fams.items() for d, n in f["by_depth"].items()]
    return [
        Table("families", "Families", ["root", "size", "max_depth", "width", "leaves", *(f"{r}_edges" for r in RELATIONS)], rows),
        Table("family_depths", "Family members by depth", ["root", "depth", "models"], depths),
    ]


def _components(a: dict[str, Any]) -> list[Table]:
    comp = a["components"]
    largest = [[i + 1, c["root"], c["size"]] for i, c in enumerate(comp["largest"])]
    sizes = [[int(size), n] for size, n in comp["sizes"].items()]
    return [
        Table("components", "Largest no-merge components", ["rank", "root", "size"], largest),
        Table("component_sizes", "Components by size", ["size", "components"], sizes),
    ]


def _top(a: dict[str, Any]) -> list[Table]:
    top = a["top"]
    tables = [
        Table(f"top_{kind}", f"Top {kind}", ["value", "models", "percent"], [[v["value"], v["models"], v["percent"]] for v in top[kind]])
        for kind in ("licenses", "tasks", "languages", "libraries")
    ]
    tables.append(
        Table("top_parents", "Parents with most children", ["model", "children"], [[v["value"], v["children"]] for v in top["parents"]])
    )
    return tables


def _languages(a: dict[str, Any]) -> Table:
    drift = a["language_count_drift"]
    scopes = [("all", drift["all"]), ("both_have_languages", drift["both_have_languages"])]
    scopes += [(r, v) for r, v in drift["by_relation"].items()]
    rows = [[scope, v["edges"], v["parent"], v["child"]] for scope, v in scopes]
    return Table("language_count_drift", "Languages per model, parent → child", ["scope", "edges", "parent", "child"], rows)


def _cards(a: dict[str, Any]) -> Table | None:
    drift = a["card_drift"]
    if "reason" in drift:
        return None
    scopes = [("all", drift["all"]), *drift["by_relation"].items()]
    rows = [
        [
            scope,
            v["length"]["edges"],
            v["length"]["parent"],
            v["length"]["child"],
            v["card_share"]["parent"],
            v["card_share"]["child"],
            v["card_share"]["change"],
            v["auto_generated_share"]["parent"],
            v["auto_generated_share"]["child"],
            v["auto_generated_share"]["change"],
        ]
        for scope, v in scopes
    ]
    columns = ["scope", "edges_both_cards", "parent_length", "child_length", "card_share_parent", "card_share_child"]
    columns += ["card_share_change", "auto_share_parent", "auto_share_child", "auto_share_change"]
    return Table("card_drift", "Cards, parent → child", columns, rows)


def _months(a: dict[str, Any]) -> Table:
    by_month = a["created_at_by_month"]
    months = sorted(set(by_month["all"]).union(*(set(v) for v in by_month["by_relation"].values())))
    rows = [[m, by_month["all"].get(m, 0), *(by_month["by_relation"][r].get(m, 0) for r in RELATIONS)] for m in months]
    return Table("created_at_by_month", "Models created per month", ["month", "all", *RELATIONS], rows)


def tables(analysis: dict[str, Any]) -> list[Table]:
    """Every table, in the order the report shows them."""
    found: list[Table] = [_edge_counts(analysis), _children(analysis), _mutations(analysis)]
    found += _orderings(analysis) + _families(analysis) + _components(analysis) + _top(analysis)
    found.append(_languages(analysis))
    cards = _cards(analysis)
    if cards is not None:
        found.append(cards)
    found.append(_months(analysis))
    return found
