"""A family crawl under faults and kills: does one run end exact, and what do kills cost in calls?

    python -m bench.faults_and_kills [--seeds 10] [--fault-rate 0.25]

Faults: each seed crawls a 2,380-model family once, with ``--fault-rate`` of all
answers failing (500, 502, 503, 504, reset, truncated, slow, garbage, evenly);
a run counts as exact when it exits 0 with the family's truth and no failures.
Kills: a fast crawl (200 ms latency, no quota) is killed with SIGKILL after 4, 5
and 6 seconds, then run to the end; calls are the Hub calls of all four runs.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hfspider.replica import Hub, ReplicaServer, regular_family
from hfspider.replica.truth import Truth

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("500", "502", "503", "504", "reset", "truncate", "slow", "garbage")
FAMILY = "big/m"


def command(output: Path, *settings: str) -> list[str]:
    extra = [arg for setting in settings for arg in ("-s", setting)]
    return [sys.executable, "-m", "scrapy", "crawl", "model_tree", "-a", f"root={FAMILY}", "-s", f"HFSPIDER_OUTPUT={output}", *extra]


def members(output: Path) -> dict[str, int]:
    with sqlite3.connect(output / "hfspider.sqlite") as conn:
        return dict(conn.execute("SELECT model_id, depth FROM tree_members").fetchall())


def failures(output: Path) -> int:
    with sqlite3.connect(output / "hfspider.sqlite") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM failures").fetchone()[0])


def api_calls(server: ReplicaServer) -> int:
    return sum(1 for _m, path, status, _a in server.requests if path.startswith("/api/") and status != 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--fault-rate", type=float, default=0.25)
    args = parser.parse_args()
    records = regular_family("big", 13, 3)
    truth = Truth(records).down(FAMILY)
    env = {**os.environ}
    env.pop("HF_TOKEN", None)
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as work:
        exact = 0
        for seed in range(args.seeds):
            faults = dict.fromkeys(KINDS, args.fault_rate / len(KINDS))
            output = Path(work) / f"faults-{seed}"
            with ReplicaServer(Hub(records), faults=faults, faults_seed=seed, slow_seconds=0.3) as server:
                started = time.monotonic()
                done = subprocess.run(
                    command(output, "HFSPIDER_RETRY_PASS_DELAY=1", "LOG_LEVEL=WARNING"),
                    cwd=ROOT,
                    env={**env, "HF_ENDPOINT": server.url},
                    capture_output=True,
                    check=False,
                )
                ok = done.returncode == 0 and members(output) == truth and failures(output) == 0
                exact += ok
                print(
                    f"seed {seed}: exit {done.returncode}, exact {ok}, {api_calls(server)} calls, {time.monotonic() - started:.1f} s",
                    flush=True,
                )
        print(f"faults {args.fault_rate:.0%}: {exact} of {args.seeds} single runs exact")
        output = Path(work) / "kills"
        with ReplicaServer(Hub(records), latency=0.2) as server:
            for seconds in (4.0, 5.0, 6.0):
                process = subprocess.Popen(
                    command(output, "LOG_LEVEL=WARNING"), cwd=ROOT, env={**env, "HF_ENDPOINT": server.url}, stderr=subprocess.DEVNULL
                )
                time.sleep(seconds)
                process.send_signal(signal.SIGKILL)
                process.wait(30)
            done = subprocess.run(
                command(output, "LOG_LEVEL=WARNING"), cwd=ROOT, env={**env, "HF_ENDPOINT": server.url}, capture_output=True, check=False
            )
            calls = api_calls(server)
        ok = done.returncode == 0 and members(output) == truth
        print(
            f"three kills (4, 5, 6 s), then a run to the end: exit {done.returncode}, exact {ok}, "
            f"{calls} calls for {len(truth)} models ({calls / len(truth):.3f} per model)"
        )


if __name__ == "__main__":
    main()
