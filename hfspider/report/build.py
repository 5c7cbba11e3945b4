"""A report from the database: read the models, compute every measure, write the folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hfspider.analysis.corpus import Corpus
from hfspider.analysis.measures import analyse
from hfspider.db import Database
from hfspider.report.progress import Progress
from hfspider.report.writer import write_report
from hfspider.staging import staged

EVERY = 100_000  # models between two progress lines while reading


def read_corpus(db: Database, roots: Sequence[str] | None, progress: Progress) -> Corpus:
    corpus = Corpus()
    for n, row in enumerate(db.analysis_models(roots), start=1):
        corpus.add(row)
        if n % EVERY == 0:
            progress(f"{n} models read")
    progress(f"{len(corpus)} models read, linking parents")
    return corpus.link()


def build_report(db: Database, roots: Sequence[str] | None, folder: Path, progress: Progress) -> Path:
    """Write the report of these families (all stored models when ``roots`` is None) to ``folder``."""
    with staged(folder) as work:
        progress("reading models")
        corpus = read_corpus(db, roots, progress)
        members = db.family_members(roots)
        analysis = analyse(corpus, members, db.card_texts(), step=lambda name: progress(f"measuring {name}"))
        scope = f"families of {', '.join(roots)}" if roots else "every stored model"
        write_report(work, analysis, corpus, members, scope, progress)
    progress("done")
    progress.done()
    return folder / "index.html"
