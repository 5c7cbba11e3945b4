"""A crawl that could still succeed does not stop short, and a kill costs only what was in flight."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from hfspider.replica import Hub, ReplicaServer, regular_family
from hfspider.replica.truth import Truth
from tests.conftest import crawl, start_crawl

KINDS = ("500", "502", "503", "504", "reset", "truncate", "slow", "garbage")


RECORDS = regular_family("big", 13, 3)  # 1 + 13 + 169 + 2,197 = 2,380 models
TRUTH = Truth(RECORDS)
ROOT = "big/m"


@pytest.mark.parametrize("seed", range(10))
def test_a_quarter_of_the_answers_faulty_still_ends_exact_in_one_run(seed: int, tmp_path: Path) -> None:
    """25% of all answers fail, every kind of fault; with retries and the second pass the first run is exact."""
    faults = dict.fromkeys(KINDS, 0.25 / len(KINDS))
    with ReplicaServer(Hub(RECORDS), faults=faults, faults_seed=seed, slow_seconds=0.3) as server:
        result = crawl(tmp_path / "out", "model_tree", f"root={ROOT}", endpoint=server.url, settings={"HFSPIDER_RETRY_PASS_DELAY": 1})
    assert result.returncode == 0, result.stderr[-3000:]
    assert dict(result.rows("SELECT model_id, depth FROM tree_members")) == TRUTH.down(ROOT)
    assert result.rows("SELECT COUNT(*) FROM failures") == [(0,)]


def test_three_kills_cost_only_what_was_in_flight(tmp_path: Path) -> None:
    """kill -9 three times at fixed moments of a fast crawl: what was answered before each kill was stored."""
    output = tmp_path / "out"
    with ReplicaServer(Hub(RECORDS), latency=0.2) as server:
        for seconds in (4.0, 5.0, 6.0):
            process = start_crawl(output, "model_tree", f"root={ROOT}", endpoint=server.url)
            time.sleep(seconds)
            process.send_signal(signal.SIGKILL)
            process.wait(30)
        result = crawl(output, "model_tree", f"root={ROOT}", endpoint=server.url)
        calls = sum(1 for _m, path, status, _a in server.requests if path.startswith("/api/") and status != 0)
    assert result.returncode == 0, result.stderr[-3000:]
    assert dict(result.rows("SELECT model_id, depth FROM tree_members")) == TRUTH.down(ROOT)
    assert calls <= 1.15 * len(TRUTH.down(ROOT)), f"{calls} Hub calls for {len(TRUTH.down(ROOT))} models"
