"""``index.html``: the tables, the plots and the family pages on one page, the study's figures beside them."""

from __future__ import annotations

import html
from typing import Any

from hfspider.report.plots import PLOTS
from hfspider.report.published import PUBLISHED, SOURCE
from hfspider.report.tables import Table

SHOWN_ROWS = 100  # longer tables are cut on the page; their CSV has every row

_STYLE = """
body { font: 14px system-ui, sans-serif; margin: 20px; max-width: 1400px; }
section { display: flex; gap: 24px; align-items: flex-start; margin: 18px 0; border-top: 1px solid #ddd; padding-top: 8px; }
section > div.ours { flex: 3; overflow-x: auto; }
aside { flex: 1; background: #f6f6f0; padding: 8px; font-size: 13px; }
table { border-collapse: collapse; font-size: 13px; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
img.plot { max-width: 100%; }
"""


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f'<td class="n">{value:.4g}</td>'
    if isinstance(value, int):
        return f'<td class="n">{value}</td>'
    return f"<td>{html.escape('' if value is None else str(value))}</td>"


def _aside(name: str) -> str:
    figure = PUBLISHED.get(name)
    if not figure:
        return "<aside>The study publishes no figure for this.</aside>"
    return f"<aside><b>Published</b> (whole Hub, July 2025): {html.escape(figure)}</aside>"


def _table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in table.rows[:SHOWN_ROWS])
    cut = f"<p>first {SHOWN_ROWS} of {len(table.rows)} rows</p>" if len(table.rows) > SHOWN_ROWS else ""
    return (
        f'<section id="table-{table.name}"><div class="ours"><h2>{html.escape(table.title)}</h2>'
        f'<table class="measure" data-name="{table.name}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{cut}'
        f'<p><a href="csv/{table.name}.csv">{table.name}.csv</a></p></div>{_aside(table.name)}</section>'
    )


def _plot(name: str, file: str | None, why: str) -> str:
    title = html.escape(PLOTS[name][0])
    if file is None:
        text = f'<p class="none">{html.escape(why)}</p>'
        return f'<section id="plot-{name}"><div class="ours"><h2>{title}</h2>{text}</div>{_aside(name)}</section>'
    return (
        f'<section id="plot-{name}"><div class="ours"><h2>{title}</h2>'
        f'<img class="plot" src="plots/{file}" alt="{title}"></div>{_aside(name)}</section>'
    )


def index(analysis: dict[str, Any], tables: list[Table], plots: dict[str, str | None], pages: dict[str, str], scope: str) -> str:
    no_cards = analysis["card_drift"].get("reason", "")
    why = {"card_lengths": no_cards or "no cards", "depth_histograms": "no crawled families (tree_members is empty)"}
    family_links = "".join(
        f'<li><a href="{html.escape(path)}">{html.escape(root)}</a> ({analysis["families"][root]["size"]} models)</li>'
        for root, path in pages.items()
    )
    cards = f"<p>Card drift: {html.escape(no_cards)}</p>" if no_cards else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>hfspider report</title><style>{_STYLE}</style></head>
<body>
<h1>hfspider report</h1>
<p>{html.escape(scope)}: {analysis["models"]} models, {analysis["edge_counts"]["all"]} edges.
Measures as defined by {html.escape(SOURCE)}; <a href="analysis.json">analysis.json</a>.</p>
{cards}
<h2>Families</h2><ul id="families">{family_links or "<li>no crawled families</li>"}</ul>
{"".join(_table(t) for t in tables)}
{"".join(_plot(name, file, why.get(name, "nothing to draw")) for name, file in plots.items())}
</body></html>
"""
