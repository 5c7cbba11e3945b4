"""Whole-Hub listing at scale: models per second end to end, Hub calls and peak memory,
against ``huggingface_hub`` merely reading the same listing.

    python -m bench.hub_index [--sizes 100000 1000000] [--seed 1] [--rounds 1] [--kills 3 5 8]

Each size gets its own synthetic hub on the replica (pages of 1,000 models, so
both sides make ceil(N / 1000) calls). In each round, alternately, a fresh
process runs ``scrapy crawl hub_index`` (listing -> items -> pipelines -> SQLite
and both JSON Lines feeds) and another iterates ``HfApi.list_models`` with the
same ``expand`` set, keeping nothing. ``ratio`` is the baseline's wall time over
hfspider's: above 1.0, storing everything is faster than that reading alone.
hfspider's peak RSS is the crawl's and its writer process's together, sampled
every 50 ms; the baseline's is read from the kernel when it exits. ``--kills``
then kills walks with SIGKILL that many seconds in and counts what was lost:
models the Hub had answered (pages served, the one in flight included) and the
database does not hold, also as seconds of the walk.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from hfspider.replica import Hub, ReplicaServer, generate

ROOT = Path(__file__).resolve().parents[1]


def tree_rss_kb(pid: int) -> int:
    """Resident memory of ``pid`` and its descendants (the crawl and its writer process), in kB."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        todo += [int(child) for child in children]
    return total


def settle() -> None:
    """Put the previous run's files on disk before the next run's clock starts: the kernel writes them
    back within seconds, on the CPU of whichever run comes next (after a crawl's hundreds of MB, the baseline's)."""
    os.sync()


def start_index(endpoint: str, output: Path, stderr: Any) -> subprocess.Popen[bytes]:
    """``scrapy crawl hub_index`` into ``output`` against ``endpoint``, anonymously, in the background."""
    command = [sys.executable, "-m", "scrapy", "crawl", "hub_index", "-s", f"HFSPIDER_OUTPUT={output}", "-s", "LOG_LEVEL=WARNING"]
    env = {**os.environ, "HF_ENDPOINT": endpoint}
    env.pop("HF_TOKEN", None)
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr)


def run_index(endpoint: str, output: Path) -> tuple[float, int, dict[str, object]]:
    """Wall seconds, peak RSS (kB) of the crawl's processes together (sampled every 50 ms), and the run's stats."""
    log = output.parent / "crawl.log"
    with log.open("wb") as stderr:
        started = time.monotonic()
        process = start_index(endpoint, output, stderr)
        peak = 0
        while process.poll() is None:
            peak = max(peak, tree_rss_kb(process.pid))
            time.sleep(0.05)
        wall = time.monotonic() - started
    if process.returncode:
        raise SystemExit(f"bench: the crawl failed ({process.returncode}): {log.read_text(errors='replace')[-2000:]}")
    with sqlite3.connect(output / "hfspider.sqlite") as conn:
        stats = json.loads(conn.execute("SELECT stats FROM crawl_runs ORDER BY id DESC LIMIT 1").fetchone()[0])
    return wall, peak, stats


#: The baseline: what a huggingface_hub user writes to read the whole listing, keeping nothing.
BASELINE = """
import sys
from huggingface_hub import HfApi
from hfspider.hub.endpoint import EXPAND
count = sum(1 for _ in HfApi(endpoint=sys.argv[1], token=False).list_models(expand=list(EXPAND)))
print(count)
"""


def run_baseline(endpoint: str) -> tuple[float, int, int]:
    """Wall seconds, peak RSS (kB) and models read by ``list_models`` in a fresh process."""
    probe = (
        "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:], check=True, capture_output=True, text=True); "
        "print(done.stdout.strip()); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    env = {**os.environ, "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "0"}
    env.pop("HF_TOKEN", None)
    started = time.monotonic()
    command = [sys.executable, "-c", probe, sys.executable, "-c", BASELINE, endpoint]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    wall = time.monotonic() - started
    count, rss = done.stdout.strip().splitlines()[-2:]
    return wall, int(rss), int(count)


def kill_loss(hub: Hub, after: float) -> tuple[int, int]:
    """Kill a walk (SIGKILL) ``after`` seconds in: models the Hub had answered by then (1,000 a page served,
    the page in flight included) and models the database holds."""
    work = Path(tempfile.mkdtemp(prefix="bench-kill-"))
    try:
        with ReplicaServer(hub, default_limit=1000) as server:
            process = start_index(server.url, work / "out", subprocess.DEVNULL)
            time.sleep(after)
            process.send_signal(signal.SIGKILL)
            process.wait()
            answered = 1000 * sum(1 for _m, path, status, _a in server.requests if path.startswith("/api/models?") and status == 200)
        with closing(sqlite3.connect(work / "out" / "hfspider.sqlite")) as conn:
            stored = conn.execute("SELECT COUNT(*) FROM models").fetchone()[0]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return answered, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1, help="hfspider and baseline runs per size, alternating")
    parser.add_argument(
        "--kills", type=float, nargs="*", default=[], metavar="S", help="then, per size, walks killed S seconds in: what the kill lost"
    )
    args = parser.parse_args()
    header = (
        f"{'hub':>9} {'public':>9} {'stored':>9} {'calls':>6} {'ceil/1k':>7} {'wall s':>7} {'models/s':>9} {'peak MB':>8}"
        f" {'hf_hub s':>8} {'hf models/s':>11} {'hf MB':>6} {'ratio':>6}"
    )
    lines = []
    for size in args.sizes:
        records = generate(size, seed=args.seed)
        public = sum(1 for r in records if not r.get("private"))
        hub = Hub(records)
        del records
        for _ in range(args.rounds):
            work = Path(tempfile.mkdtemp(prefix="bench-index-"))
            try:
                with ReplicaServer(hub, default_limit=1000) as server:
                    settle()
                    wall, rss, stats = run_index(server.url, work / "out")
                    calls = len(server.requests)
                    settle()
                    base_wall, base_rss, read = run_baseline(server.url)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            stored = int(stats.get("hfspider/stored_models", 0))
            if read != public or stored != public:
                raise SystemExit(f"bench: {public} public models, hfspider stored {stored}, huggingface_hub read {read}")
            floor = math.ceil(public / 1000)
            ours = f"{size:>9} {public:>9} {stored:>9} {calls:>6} {floor:>7} {wall:>7.1f} {stored / wall:>9.0f} {rss / 1024:>8.0f}"
            theirs = f" {base_wall:>8.1f} {read / base_wall:>11.0f} {base_rss / 1024:>6.0f} {base_wall / wall:>6.2f}"
            lines.append(ours + theirs)
            print(lines[-1], file=sys.stderr, flush=True)
            pace = stored / wall
        for after in args.kills:
            answered, kept = kill_loss(hub, after)
            lost = answered - kept
            killed = f"{size:>9} killed at {after:.1f} s: {answered} answered, {kept} stored, {lost} lost = {lost / pace:.2f} s of the walk"
            lines.append(killed)
            print(killed, file=sys.stderr, flush=True)
        del hub
    print(header)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
