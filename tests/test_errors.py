"""Bad roots and bad arguments: one clear line, a non-zero exit, nothing that looks like a result."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hfspider.replica import Hub, ReplicaServer
from tests.conftest import CrawlResult

RECORDS = [
    {"id": "org/root", "tags": []},
    {"id": "org/kid", "tags": ["base_model:org/root", "base_model:finetune:org/root"]},
    {"id": "org/secret", "private": True, "tags": []},
]


@pytest.fixture(scope="module")
def server() -> Iterator[ReplicaServer]:
    with ReplicaServer(Hub(RECORDS)) as replica:
        yield replica


def last_line(result: CrawlResult) -> str:
    return result.stderr.strip().splitlines()[-1]


def assert_nothing_written(result: CrawlResult) -> None:
    written = sorted(p.name for p in result.output.rglob("*")) if result.output.exists() else []
    assert written == []


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((), "no root given"),
        (("root=../../etc",), "not a model id"),
        (("root=org/root", "roots=x/y"), "unknown argument -a roots"),
        (("root=org/root", "max_depth=-1"), "max_depth"),
        (("root=org/root", "top=zero"), "top"),
        (("root=org/root", "relations=finetune,clone"), "relations"),
        (("root=org/root", "direction=sideways"), "direction"),
        (("root=org/root", "strategy=cheapest"), "strategy"),
        (("root=org/root", "keep_all=maybe"), "keep_all"),
        (("roots_file=/nonexistent/roots.txt",), "cannot read"),
    ],
)
def test_bad_arguments(args: tuple[str, ...], words: str, run_crawl, server) -> None:
    result = run_crawl(*args, endpoint=server.url)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert last_line(result).startswith("error: ") and words in last_line(result)
    assert_nothing_written(result)


def test_roots_file_with_a_bad_line(tmp_path: Path, run_crawl, server) -> None:
    roots = tmp_path / "roots.txt"
    roots.write_text("# families to map\norg/root\n\nnot valid!\n")
    result = run_crawl(f"roots_file={roots}", endpoint=server.url)
    assert result.returncode == 2 and "'not valid!'" in last_line(result)


def test_unsupported_database_url(run_crawl, server) -> None:
    result = run_crawl("root=org/root", endpoint=server.url, settings={"HFSPIDER_DB_URL": "mssql+pyodbc://x/y"})
    assert result.returncode == 2 and "HFSPIDER_DB_URL" in last_line(result)
    assert_nothing_written(result)


@pytest.mark.parametrize(("root", "words"), [("nobody/nothing", "not found"), ("org/secret", "HF_TOKEN")])
def test_missing_or_private_root(root: str, words: str, run_crawl, server) -> None:
    result = run_crawl(f"root={root}", endpoint=server.url)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if f"root {root}" in line]
    assert len(error_lines) == 1 and words in error_lines[0]
    # Only the run's record: no model, no feed, no tree.
    assert sorted(p.name for p in result.output.iterdir()) == [".hfspider.lock", "hfspider.sqlite"]
    assert result.rows("SELECT COUNT(*) FROM models") == [(0,)]
    assert result.rows("SELECT outcome FROM crawl_runs") == [("root_errors",)]


def test_one_bad_root_among_good_ones(run_crawl, server) -> None:
    result = run_crawl("root=org/root,nobody/nothing", endpoint=server.url)
    assert result.returncode == 1
    assert result.rows("SELECT model_id, depth FROM tree_members ORDER BY depth") == [("org/root", 0), ("org/kid", 1)]
    assert result.rows("SELECT outcome FROM crawl_runs") == [("root_errors",)]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"org/root\n\xff\xfeorg/kid\n", "not UTF-8"),
        (b"org/root\n" + b"x" * 5000 + b"\n", "line 2 is 5000 characters long"),
        (b"hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345\n", "'hf_***' looks like an access token"),
        (b".\n", "'.' is not a model id"),
        (b"dots/name.\n", "'dots/name.' is not a model id"),
    ],
)
def test_roots_file_hygiene(content: bytes, words: str, tmp_path: Path, run_crawl, server) -> None:
    roots = tmp_path / "roots.txt"
    roots.write_bytes(content)
    result = run_crawl(f"roots_file={roots}", endpoint=server.url)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and len(last_line(result)) < 300
    assert words in last_line(result)
    assert "AbCdEfGhIjKlMnOpQrStUvWxYz012345" not in result.stderr + result.stdout
    assert_nothing_written(result)


def test_roots_file_with_a_byte_order_mark(tmp_path: Path, run_crawl, server) -> None:
    roots = tmp_path / "roots.txt"
    roots.write_bytes("\ufefforg/root\n".encode())
    result = run_crawl(f"roots_file={roots}", endpoint=server.url)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.rows("SELECT model_id FROM tree_members ORDER BY depth") == [("org/root",), ("org/kid",)]


@pytest.mark.parametrize(
    ("setting", "value", "words"),
    [
        ("HFSPIDER_BATCH_SIZE", "abc", "HFSPIDER_BATCH_SIZE=abc"),
        ("HFSPIDER_FLUSH_SECONDS", "-1", "HFSPIDER_FLUSH_SECONDS=-1"),
        ("HFSPIDER_FLUSH_SECONDS", "nan", "HFSPIDER_FLUSH_SECONDS=nan"),
        ("RETRY_TIMES", "many", "RETRY_TIMES=many"),
        ("JOBDIR", "FILE", "that is a file"),
    ],
)
def test_bad_settings(setting: str, value: str, words: str, tmp_path: Path, run_crawl, server) -> None:
    if value == "FILE":
        value = str(tmp_path / "a-file")
        Path(value).write_text("x")
    result = run_crawl("root=org/root", endpoint=server.url, settings={setting: value})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert last_line(result).startswith("error: ") and words in last_line(result)
    assert_nothing_written(result)


def test_top_above_what_the_hub_has_is_said(run_crawl, server) -> None:
    result = run_crawl("top=100000000000000000000000", endpoint=server.url)
    public = sum(1 for r in RECORDS if not r.get("private"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"-a top=100000000000000000000000: the Hub lists only {public} models" in result.stderr
    assert {row[0] for row in result.rows("SELECT DISTINCT root_id FROM tree_members")} == {
        r["id"] for r in RECORDS if not r.get("private")
    }


def test_an_unexpected_start_failure_is_shown_not_swallowed(run_crawl, server) -> None:
    """Not a mistake hfspider knows how to explain in one line: the whole error, and a non-zero exit."""
    result = run_crawl("root=org/root", endpoint=server.url, settings={"EXTENSIONS": '{"nope.Nope": 1}'})
    assert result.returncode == 1
    assert "the crawl could not start" in result.stderr and "No module named 'nope'" in result.stderr
