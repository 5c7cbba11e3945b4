"""Family crawl: hfspider against the sequential huggingface_hub loop a user would write.

``python -m bench.family_crawl [--models N] [--latency 0.04] [--seed S]``

Both crawl the same family from a synthetic Hub replica answering after
``--latency`` seconds; the replica counts their calls. Both must find exactly
the family that ``hfspider/replica/truth.py`` computes from the records.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi

from hfspider.hub.endpoint import EXPAND
from hfspider.replica import Hub, ReplicaServer, generate
from hfspider.replica.truth import Truth

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Run:
    """One crawl as the replica and the clock saw it."""

    name: str
    wall: float
    calls: int
    non_200: int
    found: set[str]

    def per_model(self) -> float:
        return self.calls / max(1, len(self.found))

    def rate(self) -> float:
        return len(self.found) / self.wall if self.wall else 0.0


@dataclass
class SpiderRun:
    """What one ``scrapy crawl model_tree`` subprocess left: exit status, timings, stats and the family it stored."""

    returncode: int
    wall: float
    stats: dict[str, Any]
    outcome: str | None
    found: set[str]
    stderr: str

    @property
    def elapsed(self) -> float:
        """The crawl's own ``elapsed_time_seconds`` (process start-up and imports excluded)."""
        return float(self.stats.get("elapsed_time_seconds") or 0.0)


def pick_family(truth: Truth, min_size: int, max_size: int) -> tuple[str, dict[str, int]]:
    """The biggest family, or when it has more than ``max_size`` models the largest one that fits.

    Sub-families below the top are tried first, then the other families.
    A family under ``min_size`` is returned anyway, with a warning on stderr.
    """
    root, family = truth.biggest_family()
    if len(family) <= max_size:
        chosen = (root, family)
    else:
        inside = sorted(m for m in family if m != root and m in truth.children)
        elsewhere = sorted(m for m in truth.public if m in truth.children and m not in family)
        chosen = (
            largest_fitting(truth, inside, min_size, max_size)
            or largest_fitting(truth, elsewhere, min_size, max_size)
            or largest_fitting(truth, inside + elsewhere, 1, max_size)
        )
        if chosen is None:
            raise SystemExit(f"no family of at most {max_size} models in this hub")
    if len(chosen[1]) < min_size:
        print(f"warning: the family of {chosen[0]} has only {len(chosen[1])} models (wanted >= {min_size})", file=sys.stderr)
    return chosen


def largest_fitting(truth: Truth, candidates: Sequence[str], min_size: int, max_size: int) -> tuple[str, dict[str, int]] | None:
    """The candidate with the largest family of ``min_size`` to ``max_size`` models, or None."""
    best: tuple[str, dict[str, int]] | None = None
    for model in candidates:
        family = truth.down(model)
        if min_size <= len(family) <= max_size and (best is None or len(family) > len(best[1])):
            best = (model, family)
    return best


def run_hfspider(
    server: ReplicaServer, root: str, output: Path, settings: dict[str, Any] | None = None, spider: str = "model_tree"
) -> SpiderRun:
    """``scrapy crawl SPIDER -a root=ROOT`` in a subprocess, HF_ENDPOINT at the replica, no token."""
    command = [sys.executable, "-m", "scrapy", "crawl", spider, "-a", f"root={root}", "-s", f"HFSPIDER_OUTPUT={output}"]
    command += [arg for key, value in (settings or {}).items() for arg in ("-s", f"{key}={value}")]
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE"))}
    environment |= {"HF_ENDPOINT": server.url, "HF_HOME": str(output.parent / "hf-home")}  # no stray token
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    stats, outcome, found = read_output(output / "hfspider.sqlite", root)
    return SpiderRun(done.returncode, wall, stats, outcome, found, done.stderr)


def read_output(db: Path, root: str) -> tuple[dict[str, Any], str | None, set[str]]:
    """The last run's stats and outcome, and the stored family of ``root``."""
    if not db.exists():
        return {}, None, set()
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT stats, outcome FROM crawl_runs ORDER BY id DESC LIMIT 1").fetchone()
        members = {m for (m,) in conn.execute("SELECT model_id FROM tree_members WHERE root_id = ?", (root,))}
    stats = json.loads(row[0]) if row and isinstance(row[0], str) else (row[0] if row and row[0] else {})
    return stats, (row[1] if row else None), members


def baseline_crawl(url: str, root: str) -> dict[str, Any]:
    """Breadth-first, one call at a time, with huggingface_hub: ``model_info`` for the root, one listing per model."""
    api = HfApi(endpoint=url, token=False)
    expand: list[Any] = list(EXPAND)
    info = api.model_info(root, expand=expand)
    records: dict[str, Any] = {info.id: info}
    queue = deque([info.id])
    while queue:
        parent = queue.popleft()
        for child in api.list_models(filter=f"base_model:{parent}", expand=expand):
            if child.id not in records:
                records[child.id] = child
                queue.append(child.id)
    return records


def add_setting_option(parser: argparse.ArgumentParser) -> None:
    """``-s NAME=VALUE`` (repeatable): a Scrapy setting passed on to the hfspider run."""

    def pair(text: str) -> tuple[str, str]:
        name, sep, value = text.partition("=")
        if not sep or not name:
            raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
        return name, value

    parser.add_argument("-s", "--set", type=pair, action="append", default=[], metavar="NAME=VALUE", help="hfspider setting (repeatable)")


def counted(server: ReplicaServer) -> tuple[int, int]:
    """(calls, calls not answered 200) in the replica's log since the last reset."""
    log = list(server.requests)
    return len(log), sum(1 for entry in log if entry[2] != 200)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Rows aligned under a header: first column left, the rest right."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def compare(name: str, found: set[str], expected: set[str]) -> str | None:
    """None when equal, else one line saying what differs."""
    if found == expected:
        return None
    missing, extra = sorted(expected - found), sorted(found - expected)
    return f"{name}: {len(found)} models, {len(missing)} missing (e.g. {missing[:3]}), {len(extra)} extra (e.g. {extra[:3]})"


def main(argv: Sequence[str] | None = None) -> int:
    """Build the hub, pick the family, time both crawls, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=20_000, help="synthetic hub size (default 20000)")
    parser.add_argument("--latency", type=float, default=0.04, help="replica answer delay in seconds (default 0.04)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic hub seed (default 0)")
    parser.add_argument("--min-family", type=int, default=1000, help="warn below this family size (default 1000)")
    parser.add_argument("--max-family", type=int, default=3000, help="above this, crawl a sub-family instead (default 3000)")
    add_setting_option(parser)
    args = parser.parse_args(argv)

    records = generate(args.models, args.seed)
    truth = Truth(records)
    root, family = pick_family(truth, args.min_family, args.max_family)
    expected = set(family)
    print(
        f"hub: {len(records):,} synthetic models (seed {args.seed}), latency {args.latency * 1000:g} ms; "
        f"root {root}: {len(expected):,} models, depth {max(family.values())}"
    )

    with ReplicaServer(Hub(records), latency=args.latency) as server, tempfile.TemporaryDirectory(prefix="bench-family-") as tmp:
        spider = run_hfspider(server, root, Path(tmp) / "output", settings=dict(args.set))
        calls, errors = counted(server)
        ours = Run("hfspider (process)", spider.wall, calls, errors, spider.found)
        crawl_only = Run("hfspider (crawl only)", spider.elapsed, calls, errors, spider.found)

        server.reset_log()
        start = time.perf_counter()
        base_found = set(baseline_crawl(server.url, root))
        base_wall = time.perf_counter() - start
        calls, errors = counted(server)
        base = Run("huggingface_hub BFS", base_wall, calls, errors, base_found)

    rows = [
        [r.name, f"{r.wall:.2f}", f"{r.calls:,}", f"{r.non_200}", f"{r.per_model():.3f}", f"{r.rate():.1f}"]
        for r in (ours, crawl_only, base)
    ]
    print(table(["crawl", "wall s", "Hub calls", "non-200", "calls/model", "models/s"], rows))
    print(
        f"baseline wall / hfspider wall: {base.wall / ours.wall:.1f}x (process), {base.wall / crawl_only.wall:.1f}x (crawl only); "
        f"calls per model, baseline / hfspider: {base.per_model() / ours.per_model():.2f}"
    )

    problems = [p for p in (compare("hfspider", ours.found, expected), compare("baseline", base.found, expected)) if p]
    if spider.returncode != 0 or spider.outcome != "finished":
        problems.append(f"hfspider exited {spider.returncode}, outcome {spider.outcome}: {spider.stderr.strip()[-500:]}")
    if problems:
        print("NOT EXACT:\n  " + "\n  ".join(problems))
        return 1
    print(f"node sets: hfspider == baseline == truth ({len(expected):,} models)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
