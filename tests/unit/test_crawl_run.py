"""CrawlRun: the crawl key, the run's row and outcome, what a resumed crawl lists, and when JOBDIR's queue is trusted."""

from __future__ import annotations

import fcntl
import json
import sqlite3
from collections.abc import Callable, Iterable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from hfspider.db import DatabaseError
from hfspider.extensions.crawlrun import JOBDIR_MARK, CrawlRun, crawl_key
from hfspider.locks import LOCK_FILE, Busy
from hfspider.replica import generate
from hfspider.replica.truth import Truth, typed_parents
from hfspider.spiders.hub_index import HubIndexSpider
from hfspider.spiders.model_tree import ModelTreeSpider
from hfspider.trees import tree_path
from tests.unit.helpers import FakeEngine, db_file, rows

MakeCrawler = Callable[..., Crawler]
OTHER_KEY = "someone-else"  # another crawl's resume state, which no run of this crawl may touch


def execute(crawler: Crawler, query: str, params: Iterable[tuple[Any, ...]]) -> None:
    """Write rows with the stdlib, as another process would."""
    with closing(sqlite3.connect(db_file(crawler))) as conn, conn:
        conn.executemany(query, list(params))


def run_of(crawler: Crawler) -> CrawlRun:
    return CrawlRun.of(crawler)


def open_and_close(crawler: Crawler, reason: str) -> CrawlRun:
    """One whole run: its row opened, then closed for ``reason``."""
    run = run_of(crawler)
    run.spider_opened(crawler.spider)
    run.spider_closed(crawler.spider, reason)
    return run


def add_resume_state(crawler: Crawler, key: str) -> None:
    """A listing done, a failure and a walk position, as an unfinished crawl with ``key`` leaves them."""
    execute(crawler, "INSERT INTO crawl_state (crawl_key, model_id) VALUES (?, ?)", [(key, "org/listed")])
    execute(
        crawler,
        "INSERT INTO failures (crawl_key, url, model_id, status, error, failed_at) VALUES (?, ?, ?, ?, ?, ?)",
        [(key, "https://huggingface.co/api/models/org/x", "org/x", 503, "503", "2025-01-01T00:00:00Z")],
    )
    execute(crawler, "INSERT INTO walk_state (crawl_key, next_url) VALUES (?, ?)", [(key, "https://huggingface.co/api/models?cursor=c")])


def resume_state(crawler: Crawler, key: str) -> tuple[int, ...]:
    """Rows of the crawl with ``key`` in crawl_state, failures and walk_state."""
    return tuple(
        rows(crawler, f"SELECT COUNT(*) FROM {table} WHERE crawl_key = ?", [key])[0][0]
        for table in ("crawl_state", "failures", "walk_state")
    )


@pytest.fixture(scope="module")
def truth() -> Truth:
    return Truth(generate(200, 3))


def deepest_root(truth: Truth) -> str:
    """A parentless public model with the deepest family: depth limits then have something to cut."""
    roots = [m for m in sorted(truth.public) if m in truth.children and not truth.parents.get(m)]
    return max(roots, key=lambda m: (max(truth.down(m).values()), len(truth.down(m))))


def store_hub(crawler: Crawler, truth: Truth) -> None:
    """Every public model and the edges its tags state, as a finished index of the replica would store them."""
    execute(crawler, "INSERT INTO models (id, tags) VALUES (?, '[]')", [(m,) for m in sorted(truth.public)])
    links = [(m, p, r, "tags") for m in sorted(truth.public) for p, r in typed_parents(truth.records[m])]
    execute(crawler, "INSERT INTO edges (child_id, parent_id, relation, source) VALUES (?, ?, ?, ?)", links)


# -- the crawl key -------------------------------------------------------------


def test_crawl_key_ignores_the_order_roots_and_relations_were_given_in(hub_crawler: MakeCrawler) -> None:
    """The same crawl typed another way must find its unfinished run again."""
    one = run_of(hub_crawler(ModelTreeSpider, root="org/a,org/b", relations="finetune,adapter"))
    two = run_of(hub_crawler(ModelTreeSpider, root="org/b,org/a", relations="adapter,finetune"))
    assert one.key == two.key
    assert crawl_key("model_tree", {"roots": ["x/1", "x/2"]}) == crawl_key("model_tree", {"roots": ("x/2", "x/1")})


@pytest.mark.parametrize(
    "arguments",
    [
        {"root": "org/a,org/c"},
        {"root": "org/a"},
        {"root": "org/a,org/b", "max_depth": "2"},
        {"root": "org/a,org/b", "relations": "finetune"},
        {"root": "org/a,org/b", "direction": "up"},
    ],
)
def test_crawl_key_differs_for_other_arguments(hub_crawler: MakeCrawler, arguments: dict[str, str]) -> None:
    """Another crawl must not resume this one's state."""
    base = run_of(hub_crawler(ModelTreeSpider, root="org/a,org/b"))
    assert run_of(hub_crawler(ModelTreeSpider, **arguments)).key != base.key


def test_crawl_key_differs_between_spiders() -> None:
    assert crawl_key("model_tree", {}) != crawl_key("hub_index", {})


# -- the run's row and outcome -----------------------------------------------------


def test_run_row_is_written_at_open_as_running(hub_crawler: MakeCrawler) -> None:
    """A run killed before it closes is still on record, as running."""
    crawler = hub_crawler(ModelTreeSpider, root="org/a,org/b", max_depth="3")
    run = run_of(crawler)
    run.spider_opened(crawler.spider)
    [(run_id, spider, key, arguments, started, finished, outcome)] = rows(
        crawler, "SELECT id, spider, crawl_key, arguments, started_at, finished_at, outcome FROM crawl_runs"
    )
    assert (run_id, spider, key, outcome, finished) == (run.run_id, "model_tree", run.key, "running", None)
    assert started
    stored = json.loads(arguments)
    assert sorted(stored["roots"]) == ["org/a", "org/b"]
    assert stored["max_depth"] == 3


@pytest.mark.parametrize(
    ("reason", "stats", "expected"),
    [
        ("finished", {}, "finished"),
        ("finished", {"hfspider/failures": 2}, "incomplete"),
        ("finished", {"hfspider/root_errors": 1}, "root_errors"),
        ("finished", {"hfspider/failures": 1, "hfspider/root_errors": 1}, "incomplete"),
        ("shutdown", {}, "shutdown"),
        ("shutdown", {"hfspider/failures": 3}, "shutdown"),
        ("closespider_timeout", {}, "stopped"),
        ("cancelled", {"hfspider/root_errors": 1}, "stopped"),
    ],
)
def test_outcome_from_reason_and_stats(hub_crawler: MakeCrawler, reason: str, stats: dict[str, int], expected: str) -> None:
    """Failures left behind make a finished crawl incomplete; any other close is a pause or a stop."""
    crawler = hub_crawler(ModelTreeSpider, root="org/a")
    for name, value in stats.items():
        crawler.stats.set_value(name, value)
    run = open_and_close(crawler, reason)
    [(outcome, finished, snapshot)] = rows(crawler, "SELECT outcome, finished_at, stats FROM crawl_runs WHERE id = ?", [run.run_id])
    assert outcome == expected
    assert finished
    assert json.loads(snapshot)["hfspider/outcome"] == expected
    assert crawler.stats.get_value("hfspider/outcome") == expected


def test_database_failure_makes_the_run_stopped_even_if_it_finished(hub_crawler: MakeCrawler) -> None:
    """A crawl that could not store everything must not look complete, and is asked to close once."""
    crawler = hub_crawler(ModelTreeSpider, root="org/a")
    crawler.engine = FakeEngine(crawler.spider)  # type: ignore[assignment]
    run = run_of(crawler)
    run.spider_opened(crawler.spider)
    run.database_failed(DatabaseError("database error: disk I/O error"))
    run.database_failed(DatabaseError("database error: again"))
    assert crawler.engine.closed == ["db_error"]  # type: ignore[attr-defined]
    assert crawler.stats.get_value("hfspider/db_error") == "database error: disk I/O error"
    run.spider_closed(crawler.spider, "finished")
    assert rows(crawler, "SELECT outcome FROM crawl_runs") == [("stopped",)]


@pytest.mark.parametrize(
    ("reason", "stats", "cleared"),
    [
        ("finished", {}, True),
        ("finished", {"hfspider/root_errors": 1}, True),
        ("finished", {"hfspider/failures": 1}, False),
        ("shutdown", {}, False),
        ("closespider_itemcount", {}, False),
    ],
)
def test_only_a_complete_run_clears_its_own_resume_state(
    hub_crawler: MakeCrawler, reason: str, stats: dict[str, int], cleared: bool
) -> None:
    """After a complete run the next one starts afresh; an unfinished one keeps what it resumes from; other crawls are untouched."""
    crawler = hub_crawler(ModelTreeSpider, root="org/a")
    run = run_of(crawler)
    add_resume_state(crawler, run.key)
    add_resume_state(crawler, OTHER_KEY)
    for name, value in stats.items():
        crawler.stats.set_value(name, value)
    open_and_close(crawler, reason)
    assert resume_state(crawler, run.key) == ((0, 0, 0) if cleared else (1, 1, 1))
    assert resume_state(crawler, OTHER_KEY) == (1, 1, 1)


# -- trees at close --------------------------------------------------------------


@pytest.mark.parametrize("arguments", [{}, {"max_depth": "1"}, {"relations": "finetune,quantized"}])
def test_complete_run_writes_trees_and_members(hub_crawler: MakeCrawler, truth: Truth, arguments: dict[str, str]) -> None:
    """The roots' families, as the replica's tags define them, end up in tree_members and trees/*.json."""
    root = deepest_root(truth)
    crawler = hub_crawler(ModelTreeSpider, root=f"{root},org/not-stored", **arguments)
    store_hub(crawler, truth)
    spider: ModelTreeSpider = crawler.spider  # type: ignore[assignment]
    run = run_of(crawler)
    run.write_trees_for(list(spider.args.roots), spider.args.spec)
    open_and_close(crawler, "finished")

    max_depth = int(arguments["max_depth"]) if "max_depth" in arguments else None
    relations = arguments["relations"].split(",") if "relations" in arguments else None
    expected = truth.down(root, max_depth, relations)
    assert len(expected) > 2, "the family must be big enough to show a cut"
    assert dict(rows(crawler, "SELECT model_id, depth FROM tree_members WHERE root_id = ?", [root])) == expected
    assert rows(crawler, "SELECT DISTINCT root_id FROM tree_members") == [(root,)]
    folder = Path(crawler.settings["HFSPIDER_OUTPUT"]) / "trees"
    written = json.loads(tree_path(folder, root).read_text(encoding="utf-8"))
    assert (written["root"], written["size"]) == (root, len(expected))
    assert sorted(p.name for p in folder.iterdir()) == [tree_path(folder, root).name]


@pytest.mark.parametrize("reason", ["shutdown", "closespider_timeout"])
def test_unfinished_run_writes_no_trees(hub_crawler: MakeCrawler, truth: Truth, reason: str) -> None:
    """A paused crawl's tree would look whole while it is not."""
    root = deepest_root(truth)
    crawler = hub_crawler(ModelTreeSpider, root=root)
    store_hub(crawler, truth)
    spider: ModelTreeSpider = crawler.spider  # type: ignore[assignment]
    run_of(crawler).write_trees_for([root], spider.args.spec)
    open_and_close(crawler, reason)
    assert rows(crawler, "SELECT COUNT(*) FROM tree_members") == [(0,)]
    assert not (Path(crawler.settings["HFSPIDER_OUTPUT"]) / "trees").exists()


# -- resume plans -----------------------------------------------------------------


def test_family_plan_is_none_after_a_complete_run(hub_crawler: MakeCrawler, truth: Truth) -> None:
    root = deepest_root(truth)
    first = hub_crawler(ModelTreeSpider, root=root)
    store_hub(first, truth)
    open_and_close(first, "finished")
    again = hub_crawler(ModelTreeSpider, root=root)
    spider: ModelTreeSpider = again.spider  # type: ignore[assignment]
    assert run_of(again).family_plan([root], spider.args.spec) is None


def test_family_plan_is_none_for_a_first_run(hub_crawler: MakeCrawler, truth: Truth) -> None:
    crawler = hub_crawler(ModelTreeSpider, root=deepest_root(truth))
    spider: ModelTreeSpider = crawler.spider  # type: ignore[assignment]
    assert run_of(crawler).family_plan(list(spider.args.roots), spider.args.spec) is None


@pytest.mark.parametrize(
    ("reason", "max_depth"),
    [(None, None), ("shutdown", None), ("closespider_timeout", None), ("shutdown", 1), (None, 2)],
)
def test_family_plan_lists_stored_but_unlisted_models(
    hub_crawler: MakeCrawler, truth: Truth, max_depth: int | None, reason: str | None
) -> None:
    """After a killed, paused or stopped run: everything stored is replayed, and exactly the stored models
    whose listing was not finished (and that are above max_depth) are listed again, nearest first."""
    root = deepest_root(truth)
    arguments = {"root": root} if max_depth is None else {"root": root, "max_depth": str(max_depth)}
    first = hub_crawler(ModelTreeSpider, **arguments)
    store_hub(first, truth)
    run = run_of(first)
    run.spider_opened(first.spider)
    if reason:
        run.spider_closed(first.spider, reason)
    family = truth.down(root, max_depth)
    listed = {root} | set(sorted(m for m, d in family.items() if d == 1)[::2])  # the root and every other child
    execute(first, "INSERT INTO crawl_state (crawl_key, model_id) VALUES (?, ?)", [(run.key, m) for m in sorted(listed)])
    execute(first, "INSERT INTO crawl_state (crawl_key, model_id) VALUES (?, ?)", [(OTHER_KEY, m) for m in sorted(family)])

    again = hub_crawler(ModelTreeSpider, **arguments)
    spider: ModelTreeSpider = again.spider  # type: ignore[assignment]
    plan = run_of(again).family_plan([root], spider.args.spec)
    assert plan is not None
    assert plan.outcome == {None: "running", "shutdown": "shutdown", "closespider_timeout": "stopped"}[reason]
    assert plan.roots == {root: root}
    assert plan.depth == family
    expected = sorted(
        ((m, d) for m, d in family.items() if m not in listed and (max_depth is None or d < max_depth)), key=lambda md: (md[1], md[0])
    )
    assert plan.to_list == expected
    if max_depth is None:
        assert expected, "some stored model must be left to list"


def test_family_plan_finds_a_root_typed_in_another_case(hub_crawler: MakeCrawler, truth: Truth) -> None:
    """The Hub's ids are case-insensitive: the plan maps the root as typed to the root as stored."""
    root = deepest_root(truth)
    typed = root.upper()
    first = hub_crawler(ModelTreeSpider, root=typed)
    store_hub(first, truth)
    run_of(first).spider_opened(first.spider)
    again = hub_crawler(ModelTreeSpider, root=typed)
    spider: ModelTreeSpider = again.spider  # type: ignore[assignment]
    plan = run_of(again).family_plan([typed], spider.args.spec)
    assert plan is not None
    assert plan.roots == {typed: root}
    assert plan.depth == truth.down(root)


def test_family_plan_after_a_clean_pause_lists_only_failed_listings(hub_crawler: MakeCrawler, truth: Truth, tmp_path: Path) -> None:
    """JOBDIR's queue holds the pending listings after a clean pause; only the failed ones are not in it."""
    root = deepest_root(truth)
    jobdir = {"JOBDIR": str(tmp_path / "job")}
    first = hub_crawler(ModelTreeSpider, jobdir, root=root)
    store_hub(first, truth)
    run = open_and_close(first, "shutdown")
    (tmp_path / "job" / "requests.queue").mkdir(parents=True)
    (tmp_path / "job" / "requests.queue" / "active.json").write_text("[]")
    family = truth.down(root)
    unlisted = sorted(m for m in family if m != root)
    failed, also_listed = unlisted[0], unlisted[1]
    execute(first, "INSERT INTO crawl_state (crawl_key, model_id) VALUES (?, ?)", [(run.key, root), (run.key, also_listed)])
    execute(
        first,
        "INSERT INTO failures (crawl_key, url, model_id, status, error, failed_at) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (run.key, "u1", failed, 503, "503", run.started_at),
            (run.key, "u2", also_listed, 503, "503", run.started_at),
        ],  # the paused run's own
    )
    again = hub_crawler(ModelTreeSpider, jobdir, root=root)
    spider: ModelTreeSpider = again.spider  # type: ignore[assignment]
    resumed = run_of(again)
    assert resumed.queue_intact
    plan = resumed.family_plan([root], spider.args.spec)
    assert plan is not None
    assert plan.to_list == [(failed, family[failed])]


# -- JOBDIR ------------------------------------------------------------------------


def make_queue(jobdir: Path, active: bool = True) -> Path:
    """What Scrapy's scheduler leaves in JOBDIR: a queue folder, with active.json written on a clean stop."""
    queue = jobdir / "requests.queue"
    queue.mkdir(parents=True, exist_ok=True)
    (queue / "p0").write_bytes(b"pickled requests")
    if active:
        (queue / "active.json").write_text("[0]")
    return queue


def test_queue_of_a_clean_pause_of_this_crawl_is_kept(hub_crawler: MakeCrawler, tmp_path: Path) -> None:
    jobdir = tmp_path / "job"
    settings = {"JOBDIR": str(jobdir)}
    paused = open_and_close(hub_crawler(ModelTreeSpider, settings, root="org/a"), "shutdown")
    assert json.loads((jobdir / JOBDIR_MARK).read_text()) == {"crawl_key": paused.key, "run_id": paused.run_id, "closed": True}
    queue = make_queue(jobdir)
    resumed = run_of(hub_crawler(ModelTreeSpider, settings, root="org/a"))
    assert resumed.queue_intact
    assert (queue / "p0").exists() and (queue / "active.json").exists()


def _killed(make: MakeCrawler, settings: dict[str, str], jobdir: Path) -> None:
    """The process died: its run is still 'running' and its mark says not closed."""
    crawler = make(ModelTreeSpider, settings, root="org/a")
    run_of(crawler).spider_opened(crawler.spider)


def _other_crawl(make: MakeCrawler, settings: dict[str, str], jobdir: Path) -> None:
    """This crawl paused cleanly, then another crawl (other arguments) paused in the same JOBDIR: the queue is the other's."""
    open_and_close(make(ModelTreeSpider, settings, root="org/a"), "shutdown")
    open_and_close(make(ModelTreeSpider, settings, root="org/b"), "shutdown")


def _later_run(make: MakeCrawler, settings: dict[str, str], jobdir: Path) -> None:
    """A clean pause, then another run of the same crawl without JOBDIR: the queue is older than the database."""
    open_and_close(make(ModelTreeSpider, settings, root="org/a"), "shutdown")
    open_and_close(make(ModelTreeSpider, root="org/a"), "shutdown")


def _closed_but_not_paused(make: MakeCrawler, settings: dict[str, str], jobdir: Path) -> None:
    """The mark claims a clean close of the last run, but that run stopped for another reason."""
    run = open_and_close(make(ModelTreeSpider, settings, root="org/a"), "closespider_timeout")
    (jobdir / JOBDIR_MARK).write_text(json.dumps({"crawl_key": run.key, "run_id": run.run_id, "closed": True}))


def _no_mark(make: MakeCrawler, settings: dict[str, str], jobdir: Path) -> None:
    open_and_close(make(ModelTreeSpider, settings, root="org/a"), "shutdown")
    (jobdir / JOBDIR_MARK).unlink()


def _garbled_mark(make: MakeCrawler, settings: dict[str, str], jobdir: Path) -> None:
    open_and_close(make(ModelTreeSpider, settings, root="org/a"), "shutdown")
    (jobdir / JOBDIR_MARK).write_text('{"closed": tr')


def _mark_is_a_list(make: MakeCrawler, settings: dict[str, str], jobdir: Path) -> None:
    open_and_close(make(ModelTreeSpider, settings, root="org/a"), "shutdown")
    (jobdir / JOBDIR_MARK).write_text("[true]")


@pytest.mark.parametrize(
    "history",
    [_killed, _other_crawl, _later_run, _closed_but_not_paused, _no_mark, _garbled_mark, _mark_is_a_list],
)
def test_queue_not_from_a_clean_pause_of_this_run_is_deleted(
    hub_crawler: MakeCrawler, tmp_path: Path, history: Callable[[MakeCrawler, dict[str, str], Path], None]
) -> None:
    """A queue from another crawl, another run or a killed process would swallow or invent requests."""
    jobdir = tmp_path / "job"
    settings = {"JOBDIR": str(jobdir)}
    history(hub_crawler, settings, jobdir)
    queue = make_queue(jobdir)
    resumed = run_of(hub_crawler(ModelTreeSpider, settings, root="org/a"))
    assert not resumed.queue_intact
    assert not queue.exists()


def test_queue_without_active_json_is_deleted(hub_crawler: MakeCrawler, tmp_path: Path) -> None:
    """Scrapy writes active.json only on a clean stop: without it the queue's bookkeeping is missing."""
    jobdir = tmp_path / "job"
    settings = {"JOBDIR": str(jobdir)}
    open_and_close(hub_crawler(ModelTreeSpider, settings, root="org/a"), "shutdown")
    queue = make_queue(jobdir, active=False)
    resumed = run_of(hub_crawler(ModelTreeSpider, settings, root="org/a"))
    assert not resumed.queue_intact
    assert not queue.exists()


def test_jobdir_that_is_a_file_is_refused(hub_crawler: MakeCrawler, tmp_path: Path) -> None:
    path = tmp_path / "job"
    path.write_text("not a folder")
    with pytest.raises(ValueError, match="is a file"):
        hub_crawler(ModelTreeSpider, {"JOBDIR": str(path)}, root="org/a")


def test_walk_plan_queue_holds_next_only_after_a_clean_pause_without_failures(hub_crawler: MakeCrawler, tmp_path: Path) -> None:
    """hub_index trusts the queue for its next page only when no page of the paused run failed."""
    jobdir = tmp_path / "job"
    settings = {"JOBDIR": str(jobdir)}
    run = open_and_close(hub_crawler(HubIndexSpider, settings), "shutdown")
    make_queue(jobdir)
    resumed = run_of(hub_crawler(HubIndexSpider, settings))
    plan = resumed.walk_plan(full=False)
    assert plan.queue_holds_next
    assert plan.replay_since == rows(resumed.crawler, "SELECT started_at FROM crawl_runs WHERE id = ?", [run.run_id])[0][0]

    execute(
        resumed.crawler,
        "INSERT INTO failures (crawl_key, url, model_id, status, error, failed_at) VALUES (?, ?, ?, ?, ?, ?)",
        [(run.key, "https://huggingface.co/api/models?cursor=c", None, 503, "503", run.started_at)],  # a page of the paused run failed
    )
    assert not resumed.walk_plan(full=False).queue_holds_next


# -- the database URL -----------------------------------------------------------------


@pytest.mark.parametrize("url", ["nope://x", "mysql://x/y", "not a url", "sqlite:////proc/hfspider-test/x.sqlite"])
def test_unusable_database_url_stops_the_crawl_before_it_starts(hub_crawler: MakeCrawler, url: str) -> None:
    """Not NotConfigured (Scrapy would just leave the extension out and crawl without storing): DatabaseError."""
    with pytest.raises(DatabaseError) as raised:
        hub_crawler(ModelTreeSpider, {"HFSPIDER_DB_URL": url}, root="org/a")
    assert not isinstance(raised.value, NotConfigured)
    assert "\n" not in str(raised.value)


# -- a clean pause after an earlier run's failure ---------------------------------------------
# Regression tests: resume plans once counted the failures of every unfinished run, so a request the
# paused run had asked again (and left in its queue) was asked a second time.

EARLIER = "2025-01-01T00:00:00Z"  # the first, incomplete run: long before the pause that follows it


def incomplete_then_paused(
    make: MakeCrawler, spider: type[Any], settings: dict[str, str], failed_model: str | None, **arguments: str
) -> str:
    """Run 1 ends incomplete with a failure; run 2 resumes it (retrying that failure) and pauses cleanly with a queue."""
    first = make(spider, settings, **arguments)
    run = run_of(first)
    run.spider_opened(first.spider)
    execute(
        first,
        "INSERT INTO failures (crawl_key, url, model_id, status, error, failed_at) VALUES (?, ?, ?, ?, ?, ?)",
        [(run.key, "https://huggingface.co/api/models?cursor=k", failed_model, 503, "HTTP 503", "2025-01-01T00:05:00Z")],
    )
    first.stats.set_value("hfspider/failures", 1)
    run.spider_closed(first.spider, "finished")
    execute(first, "UPDATE crawl_runs SET started_at = ? WHERE id = ?", [(EARLIER, run.run_id)])
    open_and_close(make(spider, settings, **arguments), "shutdown")
    make_queue(Path(settings["JOBDIR"]))
    return run.key


def test_walk_plan_trusts_a_clean_pause_despite_an_earlier_runs_failure(hub_crawler: MakeCrawler, tmp_path: Path) -> None:
    """Run 2 retried run 1's failed page by resuming from the database and was paused cleanly mid-walk: its queue holds
    the walk's next page, so run 3 must not also start one from walk_state (every later page would be fetched twice)."""
    settings = {"JOBDIR": str(tmp_path / "job")}
    incomplete_then_paused(hub_crawler, HubIndexSpider, settings, None)
    resumed = run_of(hub_crawler(HubIndexSpider, settings))
    assert resumed.queue_intact
    assert resumed.walk_plan(full=False).queue_holds_next


def test_family_plan_after_a_clean_pause_ignores_failures_the_paused_run_retried(
    hub_crawler: MakeCrawler, truth: Truth, tmp_path: Path
) -> None:
    """Run 1's failed listing was re-requested by run 2 (which lists every unlisted model); run 2 neither listed it nor
    failed it again, so the request is in its queue: run 3 must not list it a second time."""
    root = deepest_root(truth)
    settings = {"JOBDIR": str(tmp_path / "job")}
    failed = sorted(m for m, d in truth.down(root).items() if d == 1)[0]
    probe = hub_crawler(ModelTreeSpider, root=root)
    store_hub(probe, truth)
    key = incomplete_then_paused(hub_crawler, ModelTreeSpider, settings, failed, root=root)
    execute(probe, "INSERT INTO crawl_state (crawl_key, model_id) VALUES (?, ?)", [(key, root)])
    again = hub_crawler(ModelTreeSpider, settings, root=root)
    spider: ModelTreeSpider = again.spider  # type: ignore[assignment]
    resumed = run_of(again)
    assert resumed.queue_intact
    plan = resumed.family_plan([root], spider.args.spec)
    assert plan is not None
    assert plan.to_list == []


# -- one writer at a time --------------------------------------------------------------------


def test_a_second_live_crawl_on_the_same_output_is_refused(hub_crawler: MakeCrawler) -> None:
    """Two crawls writing one folder would interleave their feeds and trees: the second is refused until the first ends."""
    crawler = hub_crawler(ModelTreeSpider, root="org/a")
    first = run_of(crawler)
    first.spider_opened(crawler.spider)
    with pytest.raises(Busy, match="wait for it to end") as raised:
        CrawlRun.from_crawler(crawler)
    assert not isinstance(raised.value, NotConfigured)
    first.spider_closed(crawler.spider, "finished")
    after = CrawlRun.from_crawler(crawler)  # the folder is free again
    after.spider_closed(crawler.spider, "finished")  # never opened: releases its locks, writes no run
    assert rows(crawler, "SELECT COUNT(*) FROM crawl_runs") == [(1,)]


def test_a_crawl_writing_the_same_sqlite_file_from_another_output_is_refused(hub_crawler: MakeCrawler, tmp_path: Path) -> None:
    """A SQLite file shared by two outputs is locked through its own folder."""
    shared = tmp_path / "shared"
    shared.mkdir()
    with (shared / LOCK_FILE).open("a+") as other:  # another live process holds the database's folder
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(Busy, match="shared"):
            hub_crawler(ModelTreeSpider, {"HFSPIDER_DB_URL": f"sqlite:///{shared / 'hub.sqlite'}"}, root="org/a")
        fcntl.flock(other, fcntl.LOCK_UN)
    crawler = hub_crawler(ModelTreeSpider, {"HFSPIDER_DB_URL": f"sqlite:///{shared / 'hub.sqlite'}"}, root="org/a")
    assert run_of(crawler).db.url.endswith("shared/hub.sqlite")


def test_a_refused_crawl_leaves_no_lock_behind(hub_crawler: MakeCrawler, tmp_path: Path) -> None:
    """A crawl refused at start holds nothing: the next crawl on the same output starts while the error is still
    referenced (as a logged Twisted Failure or a caller's saved exception keeps it)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    with (shared / LOCK_FILE).open("a+") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(Busy) as refused:
            hub_crawler(ModelTreeSpider, {"HFSPIDER_DB_URL": f"sqlite:///{shared / 'hub.sqlite'}"}, root="org/a")
    crawler = hub_crawler(ModelTreeSpider, root="org/a")  # same output, its own database
    assert run_of(crawler).key
    assert refused.value is not None


@pytest.mark.parametrize(("sort", "full", "refreshes"), [("createdAt", False, False), ("lastModified", True, True)])
def test_an_unfinished_walk_goes_on_in_the_order_it_began_in(hub_crawler: MakeCrawler, sort: str, full: bool, refreshes: bool) -> None:
    """After a complete walk, a second one is paused; the next run's flags differ from the paused run's. A walk
    by creation date resumed as a refresh would stop at the first old model and finish with the rest unread; a
    walk by modification date resumed as a full walk would mark as gone every model modified while it ran."""
    open_and_close(hub_crawler(HubIndexSpider), "finished")
    paused = open_and_close(hub_crawler(HubIndexSpider), "shutdown")
    next_url = f"https://huggingface.co/api/models?sort={sort}&limit=1000&cursor=c7"
    execute(paused.crawler, "INSERT INTO walk_state (crawl_key, next_url) VALUES (?, ?)", [(paused.key, next_url)])
    plan = run_of(hub_crawler(HubIndexSpider)).walk_plan(full=full)
    assert plan.next_url == next_url
    assert (plan.since is not None) == refreshes
