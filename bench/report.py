"""``scrapy report`` and ``scrapy export`` on a large synthetic database: wall time and peak memory.

    python -m bench.report [--models 1000000] [--seed 1] [--db PATH] [--cards 0.5]

Builds the database once (kept at ``--db``, default under the system temp folder,
reused when it is there): a seeded synthetic hub (``hfspider.replica.synth``) stored
through ``hfspider.db`` exactly as the crawl's store pipeline writes it, the trees of
the three parentless models with most children, and a ``cards`` table holding a card
for a share of the models. Then runs, each in a fresh process whose peak RSS is read
from the kernel when it exits: ``scrapy report`` (every stored model) and
``scrapy export parquet`` and ``graphml``. Exits 1 when the report misses the
2-minute or 2 GB target.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from itemadapter import ItemAdapter

from hfspider.db import Batch, dispose, open_database
from hfspider.hub.records import edge_items, model_item
from hfspider.replica import generate
from hfspider.trees import TreeSpec, write_trees
from pipelines.normalize import normalize_model

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 120
TARGET_KB = 2 * 1024 * 1024
BATCH = 5000
WORDS = ("model", "fine-tuned", "dataset", "training", "license", "usage", "results", "evaluation", "the", "of")


def card_text(rng: random.Random) -> str:
    body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 150)))
    auto = "This model card was automatically generated.\n" if rng.random() < 0.3 else ""
    return f"---\nlicense: mit\n---\n# Model card\n{body}\n{auto}"


def build(db_path: Path, models: int, seed: int, cards: float) -> None:
    url = f"sqlite:///{db_path}"
    db = open_database(url)
    records = [r for r in generate(models, seed=seed) if not r.get("private")]
    children: Counter[str] = Counter()
    has_parent: set[str] = set()
    for start in range(0, len(records), BATCH):
        batch = Batch("bench")
        for record in records[start : start + BATCH]:
            item = model_item(record)
            if item is None:
                continue
            batch.models.append(dict(ItemAdapter(normalize_model(item))))
            for edge in edge_items(record):
                batch.edges.append(dict(ItemAdapter(edge)))
                children[edge.parent_id] += 1
                has_parent.add(edge.child_id)
        db.write_batch(batch)
    roots = [m for m, _n in children.most_common() if m not in has_parent][:3]
    write_trees(db, db_path.parent, roots, TreeSpec())
    rng = random.Random(seed)
    with sqlite3.connect(db_path) as conn:  # the cards table as the card-fetching crawl writes it
        columns = "model_id VARCHAR(200) PRIMARY KEY, text TEXT, length INTEGER, fetched_at VARCHAR(20)"
        conn.execute(f"CREATE TABLE IF NOT EXISTS cards ({columns})")
        rows = ((r["id"], text, len(text), "2026-01-01T00:00:00Z") for r in records if rng.random() < cards for text in [card_text(rng)])
        conn.executemany("INSERT OR REPLACE INTO cards VALUES (?, ?, ?, ?)", rows)
    dispose(url)


def measured(*args: str, output: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (kB) of ``scrapy ARGS`` in a process of
    its own. CPU time is what the command costs whatever else the machine is running."""
    command = [sys.executable, "-m", "scrapy", *args, "-s", f"HFSPIDER_OUTPUT={output}"]
    probe = (
        "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
        "use = resource.getrusage(resource.RUSAGE_CHILDREN); "
        "print(use.ru_utime + use.ru_stime, use.ru_maxrss); sys.exit(done.returncode)"
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", probe, *command], cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr[-2000:]}")
    cpu, peak = done.stdout.strip().splitlines()[-1].split()
    return wall, float(cpu), int(peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cards", type=float, default=0.5, help="share of models with a card")
    parser.add_argument("--db", type=Path, default=None, help="database file to build or reuse")
    args = parser.parse_args()
    db_path = args.db or Path(tempfile.gettempdir()) / f"hfspider-bench-report-{args.models}-{args.seed}" / "hfspider.sqlite"
    db_path.parent.mkdir(parents=True, exist_ok=True)
    if not db_path.exists():
        started = time.monotonic()
        build(db_path, args.models, args.seed, args.cards)
        print(f"built {db_path} in {time.monotonic() - started:.0f} s")
    output = db_path.parent
    with sqlite3.connect(db_path) as conn:
        counts = [conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("models", "edges", "cards")]
        families = conn.execute("SELECT COUNT(DISTINCT root_id), COUNT(*) FROM tree_members").fetchone()
    print(f"database: {counts[0]:,} models, {counts[1]:,} edges, {counts[2]:,} cards, {families[0]} families ({families[1]:,} members)")
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"{'command':28} {'wall s':>8} {'CPU s':>8} {'peak MB':>8}")
    results = {}
    for name, command in (
        ("report", ("report",)),
        ("export parquet", ("export", "parquet")),
        ("export graphml", ("export", "graphml")),
    ):
        wall, cpu, peak = measured(*command, output=output)
        results[name] = (wall, peak)
        print(f"{'scrapy ' + name:28} {wall:8.1f} {cpu:8.1f} {peak / 1024:8.0f}")
    analysis = json.loads((output / "report" / "analysis.json").read_text(encoding="utf-8"))
    print(f"report: {analysis['models']:,} models, {analysis['edge_counts']['all']:,} edges in the study's graph")
    wall, peak = results["report"]
    ok = wall <= TARGET_SECONDS and peak <= TARGET_KB
    print(f"targets: report <= {TARGET_SECONDS} s and <= 2048 MB: {'met' if ok else 'MISSED'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
