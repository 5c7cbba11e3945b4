"""Strategy: calls and wall time of model_tree by ``listing`` and by ``auto`` under a quota.

``python -m bench.strategy [--models 20000] [--quota 100] [--window 5]``

A synthetic Hub replica that allows ``--quota`` calls per ``--window`` seconds
serves three crawls, each run twice into a fresh output (``strategy=listing``,
then ``strategy=auto``): a small family, the hub's largest family, and the
families of the ``--top`` most-liked models. The replica is a scaled-down Hub,
so ``HFSPIDER_INDEX_PAGES`` is set to its page count (the default, 3,100, is
the real Hub's).
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.family_crawl import ROOT, largest_fitting, read_output, table
from hfspider.replica import Hub, ReplicaServer, generate
from hfspider.replica.truth import Truth


def crawl(server: ReplicaServer, output: Path, arguments: list[str], pages: int) -> tuple[int, float, int, str]:
    """One ``scrapy crawl model_tree`` in a subprocess: exit status, wall seconds, Hub calls, strategy used."""
    command = [sys.executable, "-m", "scrapy", "crawl", "model_tree", "-s", f"HFSPIDER_OUTPUT={output}"]
    command += ["-s", f"HFSPIDER_INDEX_PAGES={pages}", *(arg for a in arguments for arg in ("-a", a))]
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE"))}
    environment |= {"HF_ENDPOINT": server.url, "HF_HOME": str(output.parent / "hf-home")}
    before = len(server.requests)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    stats, _outcome, _found = read_output(output / "hfspider.sqlite", "")
    return done.returncode, wall, len(server.requests) - before, str(stats.get("hfspider/strategy", "?"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=20_000, help="synthetic hub size (default 20000)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic hub seed (default 0)")
    parser.add_argument("--quota", type=int, default=100, help="calls allowed per window (default 100)")
    parser.add_argument("--window", type=float, default=5, help="window length in seconds (default 5)")
    parser.add_argument("--top", type=int, default=20, help="roots for the top=N crawl (default 20)")
    args = parser.parse_args(argv)

    records = generate(args.models, args.seed)
    truth = Truth(records)
    pages = math.ceil(len(truth.public) / 1000)
    with_children = sorted(m for m in truth.public if m in truth.children)
    small_root, small = largest_fitting(truth, with_children, 20, 40) or ("", {})
    large_root, large = truth.biggest_family()
    cases = [
        (f"small family ({len(small):,} models)", [f"root={small_root}"]),
        (f"large family ({len(large):,} models)", [f"root={large_root}"]),
        (f"top={args.top} roots", [f"top={args.top}"]),
    ]
    print(f"hub: {len(records):,} synthetic models (seed {args.seed}), {pages} pages; quota {args.quota} per {args.window:g} s")
    rows, failed = [], False
    with tempfile.TemporaryDirectory(prefix="bench-strategy-") as tmp:
        for name, arguments in cases:
            for strategy in ("listing", "auto"):
                # A fresh replica per crawl: its quota windows start with it.
                with ReplicaServer(Hub(records), quota=args.quota, window=args.window) as server:
                    output = Path(tmp) / f"{len(rows)}"
                    status, wall, calls, used = crawl(server, output, [*arguments, f"strategy={strategy}"], pages)
                failed |= status != 0
                rows.append([name, strategy, used, f"{calls:,}", f"{wall:.1f}", f"{calls / args.quota * args.window:.1f}", str(status)])
    print(table(["crawl", "strategy", "took", "calls", "wall s", "floor s", "exit"], rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
