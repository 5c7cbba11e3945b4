"""``trees/ORG--NAME.html``: one self-contained interactive page per family.

The script and style are read from this package and written into each page, so a
page opened from disk needs no network and no other file.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from hfspider.analysis.corpus import Corpus
from hfspider.trees import tree_path


def family_nodes(corpus: Corpus, parents: dict[int, list[tuple[int, str]]], members: Sequence[tuple[str, int]]) -> list[dict[str, Any]]:
    """Each member with the parent it hangs from on the page: an in-family parent one level up
    (smallest id), so the drawing is a tree; other in-family parents are listed as ``also``."""
    depth = {m: d for m, d in members if m in corpus.index}
    ordered = sorted(depth, key=lambda m: (depth[m], m))
    number = {m: i for i, m in enumerate(ordered)}
    nodes: list[dict[str, Any]] = []
    for model in ordered:
        i = corpus.index[model]
        inside = sorted((corpus.ids[p], r) for p, r in parents.get(i, ()) if corpus.ids[p] in depth)
        above = [(p, r) for p, r in inside if depth[p] == depth[model] - 1]
        hang, relation = above[0] if above else (None, None)
        created = corpus.created[i]
        nodes.append(
            {
                "id": model,
                "p": number[hang] if hang else -1,
                "r": relation,
                "d": depth[model],
                "lic": ", ".join(corpus.licenses[i]),
                "task": ", ".join(corpus.task[i]),
                "lib": ", ".join(corpus.library[i]),
                "dl": corpus.downloads[i],
                "lk": corpus.likes[i],
                "cr": created[:10] if created else None,
                "also": [p for p, _r in inside if p != hang],
            }
        )
    return nodes


def parents_of(corpus: Corpus) -> dict[int, list[tuple[int, str]]]:
    """Child -> [(parent, relation)], built once for every page."""
    found: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for child, parent, relation in corpus.edges:
        found[child].append((parent, relation))
    return found


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def page(root: str, nodes: list[dict[str, Any]]) -> str:
    payload = json.dumps({"root": root, "nodes": nodes}, ensure_ascii=False).replace("<", "\\u003c")
    title = html.escape(root)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} — family</title>
<style>{_asset("tree.css")}</style></head>
<body>
<header>
<h1>{title}</h1><span>{len(nodes)} models</span>
<a href="../index.html">report</a>
<label>colour by <select id="colour"><option value="relation">relation</option><option value="license">license</option></select></label>
<label>search <input id="search" type="search" placeholder="model id"></label><span id="search-status"></span>
<button id="expand" type="button">expand all</button>
<span>drag to pan, wheel to zoom, click a node to collapse or expand its branch</span>
<div id="legend"></div>
</header>
<svg id="tree" xmlns="http://www.w3.org/2000/svg"><g id="view"></g></svg>
<div id="tip" hidden></div>
<script type="application/json" id="family-data">{payload}</script>
<script>{_asset("tree.js")}</script>
</body></html>
"""


def write_pages(corpus: Corpus, members: dict[str, list[tuple[str, int]]], folder: Path) -> dict[str, str]:
    """Root -> page path relative to the report folder."""
    folder.mkdir(parents=True, exist_ok=True)
    parents = parents_of(corpus) if members else {}
    written: dict[str, str] = {}
    for root, rows in sorted(members.items()):
        path = tree_path(folder, root).with_suffix(".html")
        path.write_text(page(root, family_nodes(corpus, parents, rows)), encoding="utf-8")
        written[root] = f"{folder.name}/{path.name}"
    return written
