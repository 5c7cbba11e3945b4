"""Writes a whole report into a folder: analysis.json, csv/, plots/, trees/ and index.html."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from hfspider.analysis.corpus import Corpus
from hfspider.report.familypage import write_pages
from hfspider.report.index import index
from hfspider.report.plots import draw
from hfspider.report.progress import Progress
from hfspider.report.tables import Table, tables


def _plain(value: Any) -> Any:
    """JSON has no NaN: a measure with nothing to divide is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def write_csv(folder: Path, table: Table) -> None:
    with (folder / f"{table.name}.csv").open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(table.columns)
        writer.writerows(table.rows)


def write_report(
    folder: Path, analysis: dict[str, Any], corpus: Corpus, members: dict[str, list[tuple[str, int]]], scope: str, progress: Progress
) -> None:
    """analysis.json, csv/, plots/, trees/ and index.html into ``folder``."""
    analysis = _plain(analysis)
    (folder / "analysis.json").write_text(json.dumps(analysis, ensure_ascii=False, indent=1), encoding="utf-8")
    found = tables(analysis)
    (folder / "csv").mkdir()
    for table in found:
        write_csv(folder / "csv", table)
    progress("drawing plots")
    plots = draw(analysis, folder / "plots")
    progress(f"writing {len(members)} family pages")
    pages = write_pages(corpus, members, folder / "trees")
    (folder / "index.html").write_text(index(analysis, found, plots, pages, scope), encoding="utf-8")
