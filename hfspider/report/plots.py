"""The report's figures: matplotlib ``Figure`` objects saved as PNG (Agg), no pyplot state and no display."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from hfspider.analysis.corpus import RELATIONS

MAX_FAMILIES = 12  # depth histograms drawn; every family is in the CSV


def _save(fig: Figure, folder: Path, name: str) -> str:
    path = folder / f"{name}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path.name


def family_sizes(a: dict[str, Any], folder: Path) -> str:
    sizes = {int(k): v for k, v in a["components"]["sizes"].items()}
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.loglog(list(sizes), list(sizes.values()), "o", markersize=4)
    ax.set(xlabel="component size (models, no-merge graph)", ylabel="components", title="Family size distribution")
    return _save(fig, folder, "family_sizes")


def relation_mix(a: dict[str, Any], folder: Path) -> str:
    counts = a["edge_counts"]
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.bar(RELATIONS, [counts[r] for r in RELATIONS], color=[RELATION_COLOURS[r] for r in RELATIONS])
    ax.set(ylabel="edges", title=f"Relation mix ({counts['all']} edges)")
    return _save(fig, folder, "relation_mix")


def depth_histograms(a: dict[str, Any], folder: Path) -> str | None:
    fams = sorted(a["families"].items(), key=lambda kv: (-kv[1]["size"], kv[0]))[:MAX_FAMILIES]
    if not fams:
        return None
    cols = min(3, len(fams))
    rows = (len(fams) + cols - 1) // cols
    fig = Figure(figsize=(4 * cols, 2.6 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[len(fams) :]:
        ax.axis("off")
    for ax, (root, fam) in zip(axes.flat, fams, strict=False):
        depths = {int(d): n for d, n in fam["by_depth"].items()}
        ax.bar(list(depths), list(depths.values()))
        ax.set_yscale("log")
        ax.set_title(root, fontsize=8)
        ax.set_xlabel("depth", fontsize=8)
    return _save(fig, folder, "depth_histograms")


def license_transitions(a: dict[str, Any], folder: Path) -> str | None:
    order = a["orderings"]["license"]["order"]
    if len(order) < 2:
        return None
    position = {v: i for i, v in enumerate(order)}
    grid = [[0] * len(order) for _ in order]
    for source, target, count in a["orderings"]["license"]["transitions"]:
        grid[position[source]][position[target]] = count
    fig = Figure(figsize=(7, 6))
    ax = fig.subplots()
    image = ax.imshow(grid, cmap="viridis")
    ax.set_xticks(range(len(order)), order, rotation=90, fontsize=7)
    ax.set_yticks(range(len(order)), order, fontsize=7)
    ax.set(xlabel="child license", ylabel="parent license", title="License transitions on fine-tunes (in evolutionary order)")
    fig.colorbar(image, ax=ax)
    return _save(fig, folder, "license_transitions")


def created_by_month(a: dict[str, Any], folder: Path) -> str | None:
    by_month = a["created_at_by_month"]
    if not by_month["all"]:
        return None
    months = sorted(by_month["all"])
    fig = Figure(figsize=(8, 4))
    ax = fig.subplots()
    ax.plot(months, [by_month["all"][m] for m in months], label="all models", color="black")
    for relation in RELATIONS:
        series = by_month["by_relation"][relation]
        if series:
            ax.plot(months, [series.get(m, 0) for m in months], label=relation, color=RELATION_COLOURS[relation])
    step = max(1, len(months) // 12)
    ax.set_xticks(range(0, len(months), step), months[::step], rotation=45, fontsize=7)
    ax.set(ylabel="models created", title="Models created per month, by relation to their parents")
    ax.legend(fontsize=7)
    return _save(fig, folder, "created_by_month")


def card_lengths(a: dict[str, Any], folder: Path) -> str | None:
    drift = a["card_drift"]
    if "reason" in drift:
        return None
    scopes = [("all", drift["all"]), *((r, v) for r, v in drift["by_relation"].items() if v["length"]["edges"])]
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    xs = range(len(scopes))
    ax.bar([x - 0.2 for x in xs], [v["length"]["parent"] or 0 for _s, v in scopes], width=0.4, label="parent")
    ax.bar([x + 0.2 for x in xs], [v["length"]["child"] or 0 for _s, v in scopes], width=0.4, label="child")
    ax.set_xticks(list(xs), [s for s, _v in scopes])
    ax.set(ylabel="mean card length (characters)", title="Card length, parent vs child")
    ax.legend()
    return _save(fig, folder, "card_lengths")


RELATION_COLOURS = {"finetune": "#1f77b4", "quantized": "#2ca02c", "adapter": "#ff7f0e", "merge": "#d62728", "unknown": "#7f7f7f"}

PLOTS = {
    "family_sizes": ("Family size distribution (log-log)", family_sizes),
    "relation_mix": ("Relation mix", relation_mix),
    "depth_histograms": ("Depth histogram per family", depth_histograms),
    "license_transitions": ("License transition heatmap", license_transitions),
    "created_by_month": ("Models created per month by relation", created_by_month),
    "card_lengths": ("Card length, parent vs child", card_lengths),
}


def draw(analysis: dict[str, Any], folder: Path) -> dict[str, str | None]:
    """Plot name -> file name under ``folder`` (None when there is nothing to draw)."""
    folder.mkdir(parents=True, exist_ok=True)
    return {name: draw_one(analysis, folder) for name, (_title, draw_one) in PLOTS.items()}
