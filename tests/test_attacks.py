"""Attacks that once beat the crawler: hostile Link headers, endless listings, stale JOBDIR queues, re-tagged models, root order.

Each test reproduces, as a user would meet it (``scrapy crawl`` in a subprocess
against an in-process replica), a failure an earlier version had; expected
values come from the records through ``Truth``, never from the crawl.
"""

from __future__ import annotations

import json
import re
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hfspider.replica import Hub, ReplicaServer, generate
from hfspider.replica.truth import Truth
from tests.conftest import CrawlResult, crawl, start_crawl, wait_for_rows

PAGE = 1000  # the page size the crawler asks for: the Hub's maximum


def family(prefix: str, fanout: int, levels: int) -> list[dict[str, Any]]:
    """A full tree below ``{prefix}/root``: ``fanout`` children per model, ``levels`` levels below the root."""
    records = [{"id": f"{prefix}/root", "tags": ["license:mit"], "likes": 3}]
    layer = [f"{prefix}/root"]
    for level in range(1, levels + 1):
        below = []
        for p, parent in enumerate(layer):
            for c in range(fanout):
                model = f"{prefix}/m{level}-{p * fanout + c:05d}"
                records.append(child(model, parent, downloads=c))
                below.append(model)
        layer = below
    return records


def child(model: str, parent: str, relation: str = "finetune", **fields: Any) -> dict[str, Any]:
    return {"id": model, "tags": [f"base_model:{parent}", f"base_model:{relation}:{parent}"], **fields}


def members(result: CrawlResult, root: str) -> dict[str, int]:
    return dict(result.rows(f"SELECT model_id, depth FROM tree_members WHERE root_id = '{root}'"))


def stored(result: CrawlResult) -> set[str]:
    return {row[0] for row in result.rows("SELECT id FROM models")}


def tree_file(result: CrawlResult, root: str) -> dict[str, int]:
    """Every model trees/ROOT.json expands (references to models expanded elsewhere left out), with its depth."""
    tree = json.loads((result.output / "trees" / f"{root.replace('/', '--')}.json").read_text(encoding="utf-8"))
    found: dict[str, int] = {}

    def visit(node: dict[str, Any]) -> None:
        if node.get("ref"):
            return
        assert node["id"] not in found
        found[node["id"]] = node["depth"]
        for below in node["children"]:
            visit(below)

    for top in tree["trees"]:
        visit(top)
    assert tree["size"] == len(found)
    return found


def listings(server: ReplicaServer) -> list[str]:
    return [path for _m, path, _s, _a in server.requests if path.startswith("/api/models?")]


def outcomes(result: CrawlResult) -> list[str]:
    return [row[0] for row in result.rows("SELECT outcome FROM crawl_runs ORDER BY id")]


PAUSED = 143  # a crawl paused by SIGTERM exits as a shell reports a process that signal ended


def stop(process: Any, timeout: float = 60) -> int:
    """SIGTERM, as a service manager stops a crawl: a clean pause; the exit status."""
    process.send_signal(signal.SIGTERM)
    try:
        process.communicate(timeout=timeout)
    finally:
        process.kill()
    return process.returncode


# --- 1. a Link to a local file or another host -------------------------------------------------------


def big_listing() -> tuple[list[dict[str, Any]], str]:
    """A root whose listing takes two pages (1,100 children), a few grandchildren on either page, and bystanders.

    Children carry ``_id``s so the order the replica lists them in (oldest ``_id`` first,
    the Hub's default) is known from the records: children 0..999 fill the first page.
    """
    root = "wide/root"
    records: list[dict[str, Any]] = [{"id": root, "tags": ["license:mit"], "_id": f"{1:024x}"}]
    for i in range(1100):
        records.append(child(f"wide/c-{i:04d}", root, _id=f"{10_000 + i:024x}"))
    for parent in ("wide/c-0000", "wide/c-0500", "wide/c-1099"):  # first page, first page, second page
        records += [child(f"{parent}-g{g}", parent, "adapter", _id=f"{20_000 + g:024x}") for g in range(3)]
    return records + generate(300, seed=5), root


def first_pages(records: list[dict[str, Any]], root: str) -> set[str]:
    """The family as far as the first page of every listing reaches."""
    truth = Truth(records)
    reached, queue = {root}, [root]
    while queue:
        parent = queue.pop()
        kids = sorted((truth.records[m].get("_id", ""), m) for m, _relation in truth.children.get(parent, ()))
        for _order, model in kids[:PAGE]:
            if model not in reached:
                reached.add(model)
                queue.append(model)
    return reached


@pytest.mark.parametrize("mode", ["file", "other-host"])
def test_hostile_link_is_not_followed(mode: str, tmp_path: Path) -> None:
    records, root = big_listing()
    expected = first_pages(records, root)
    assert len(expected) == 1 + PAGE + 6 < len(Truth(records).down(root))  # a second page and its grandchildren left out
    with ReplicaServer(Hub(records), hostile_link=mode) as server:
        result = crawl(tmp_path / "out", "model_tree", f"root={root}", endpoint=server.url, settings={"LOG_LEVEL": "DEBUG"}, timeout=120)
        paths, url = listings(server), server.url
    assert result.returncode == 1, result.stderr[-3000:]
    assert stored(result) == expected  # nothing from the file, nor from a page of another host
    fetched = re.findall(r"<GET (\S+)>", result.stderr)
    assert fetched and all(u.startswith(f"{url}/") for u in fetched), {u for u in fetched if not u.startswith(f"{url}/")}
    assert all("cursor=" not in path for path in paths)  # the real next page, on the other host, was never asked for
    assert max(Counter(paths).values()) == 1  # and neither was a listing's own page there
    failures = result.rows("SELECT model_id, error FROM failures")
    assert {model for model, _error in failures} == expected  # every listing was steered, and refused
    assert all("not followed" in error for _model, error in failures)
    assert ("file:///etc/hostname" if mode == "file" else f"localhost:{url.rsplit(':', 1)[1]}/api/models?") in result.stderr


# --- 2. a listing that never ends --------------------------------------------------------------------


def test_endless_cursors_end_the_listing(tmp_path: Path) -> None:
    records = family("endless", 5, 2) + generate(200, seed=6)
    truth = Truth(records)
    root = "endless/root"
    with ReplicaServer(Hub(records), hostile_link="endless") as server:
        started = time.monotonic()
        one = crawl(tmp_path / "one", "model_tree", f"root={root}", "max_depth=1", endpoint=server.url, timeout=120)
        assert time.monotonic() - started < 60
        calls = len(listings(server))
        server.reset_log()
        whole = crawl(tmp_path / "whole", "model_tree", f"root={root}", endpoint=server.url, timeout=120)
        whole_calls = len(listings(server))
    assert one.returncode == 1, one.stderr[-3000:]
    assert 2 <= calls < 20  # followed a little, then given up
    assert stored(one) == set(truth.down(root, max_depth=1))
    failures = one.rows("SELECT model_id, error FROM failures")
    assert [model for model, _error in failures] == [root]
    assert whole.returncode == 1 and stored(whole) == set(truth.down(root))
    assert whole_calls < 10 * len(truth.down(root))
    assert {model for model, _error in whole.rows("SELECT model_id, error FROM failures")} == set(truth.down(root))


# --- 3. a JOBDIR queue left by another run -----------------------------------------------------------


def wait_for_listing(server: ReplicaServer, words: str, timeout: float = 60) -> None:
    """Block until the replica was asked for a listing whose URL holds ``words``."""
    deadline = time.monotonic() + timeout
    while not any(words in path for path in listings(server)):
        assert time.monotonic() < deadline, f"no listing with {words!r} in {timeout} s"
        time.sleep(0.02)


#: More requests in flight than the default 32, so 1,555 listings at 0.8 s each take about 20 s.
WIDE = {"CONCURRENT_REQUESTS": 64, "CONCURRENT_REQUESTS_PER_DOMAIN": 64, "AUTOTHROTTLE_TARGET_CONCURRENCY": 64}


def test_stale_jobdir_queue_is_not_trusted(tmp_path: Path) -> None:
    """JOBDIR run paused, a run without JOBDIR goes further, then JOBDIR again: its queue is the first run's, stale.

    The pauses come when the replica sees the crawl reach a generation (about 2.5 s and
    3.5 s after starting, on a quiet machine): the first leaves the second generation's
    listings in JOBDIR's queue, the second leaves most of the third generation unlisted,
    which that queue knows nothing about.
    """
    records = family("jobs", 6, 4)  # 1 + 6 + 36 + 216 + 1,296 = 1,555 models
    truth = Truth(records)
    root = "jobs/root"
    expected = truth.down(root)
    output, jobdir = tmp_path / "out", tmp_path / "jobs" / "x"
    with ReplicaServer(Hub(records), latency=0.8) as server:
        for settings, generation in (({**WIDE, "JOBDIR": jobdir}, 1), (WIDE, 3)):
            process = start_crawl(output, "model_tree", f"root={root}", endpoint=server.url, settings=settings)
            wait_for_listing(server, f"base_model:jobs/m{generation}-")
            assert stop(process) == PAUSED
        paused = CrawlResult(0, "", "", output)
        assert 1 + 6 + 36 < len(stored(paused)) < len(expected) / 2
        assert (jobdir / "requests.queue").exists()  # the first run's queue, behind the second run
        result = crawl(output, "model_tree", f"root={root}", endpoint=server.url, settings={**WIDE, "JOBDIR": jobdir}, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert members(result, root) == expected
    assert outcomes(result) == ["shutdown", "shutdown", "finished"]


# --- 4. a model re-tagged to a parent outside the family ----------------------------------------------


def test_retagged_child_leaves_the_family(tmp_path: Path) -> None:
    records = [*family("retag", 4, 3), {"id": "other/base", "tags": ["license:mit"]}, *generate(200, seed=8)]
    root, moved = "retag/root", "retag/m1-00001"
    before = Truth(records).down(root)
    hub = Hub(records)
    output = tmp_path / "out"
    with ReplicaServer(hub) as server:
        first = crawl(output, "model_tree", f"root={root}", endpoint=server.url, timeout=120)
        assert first.returncode == 0, first.stderr[-3000:]
        assert members(first, root) == before
        retagged = child(moved, "other/base", "adapter")
        hub.upsert(retagged)
        records = [retagged if rec["id"] == moved else rec for rec in records]
        second = crawl(output, "model_tree", f"root={root}", endpoint=server.url, timeout=120)
    after = Truth(records).down(root)
    assert moved in before and moved not in after and len(after) == len(before) - 1 - 4 - 16
    assert second.returncode == 0, second.stderr[-3000:]
    assert members(second, root) == after
    assert tree_file(second, root) == after
    assert second.rows(f"SELECT parent_id FROM edges WHERE child_id = '{moved}' AND parent_id = '{root}'") == []
    assert second.rows(f"SELECT parent_id, relation FROM edges WHERE child_id = '{moved}'") in ([], [("other/base", "adapter")])


# --- 5. the same roots, given in another order ------------------------------------------------------


def test_roots_in_another_order_resume(tmp_path: Path) -> None:
    records = family("fa", 7, 3) + family("fb", 6, 3) + generate(300, seed=9)
    truth = Truth(records)
    a, b = "fa/root", "fb/root"
    total = len(set(truth.down(a)) | set(truth.down(b)))
    output = tmp_path / "out"
    slow = {"CONCURRENT_REQUESTS": 4, "HFSPIDER_BATCH_SIZE": 20, "HFSPIDER_FLUSH_SECONDS": 0.2}
    with ReplicaServer(Hub(records), latency=0.03) as server:
        process = start_crawl(output, "model_tree", f"root={a},{b}", endpoint=server.url, settings=slow)
        wait_for_rows(output / "hfspider.sqlite", int(total * 0.3))
        assert stop(process) == PAUSED
        result = crawl(output, "model_tree", f"root={b},{a}", endpoint=server.url, settings=slow, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming" in result.stderr
    paths = Counter(listings(server))
    assert len(paths) == total and max(paths.values()) == 1  # it went on: nothing listed in the first run was listed again
    assert members(result, a) == truth.down(a) and members(result, b) == truth.down(b)
    assert outcomes(result) == ["shutdown", "finished"]
