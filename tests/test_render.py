"""Client-rendered pages through a real headless Chromium (scrapy-playwright): ``HFSPIDER_RENDER``."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from scrapy.settings import Settings

from hfspider.render import chromium
from hfspider.replica import Hub, ReplicaServer
from hfspider.replica.truth import Truth
from hfspider.replica.website import Website
from tests.conftest import CrawlResult

needs_chromium = pytest.mark.skipif(chromium(Settings({"PLAYWRIGHT_LAUNCH_OPTIONS": {}})) is None, reason="no Chromium on this machine")

FAMILY = [
    {"id": "cr/base", "tags": ["dataset:cr/data"]},
    {"id": "cr/ft", "tags": ["base_model:cr/base", "base_model:finetune:cr/base"]},
    {"id": "cr/lora", "tags": ["base_model:cr/base", "base_model:adapter:cr/base"]},
    {"id": "cr/q", "tags": ["base_model:cr/ft", "base_model:quantized:cr/ft"]},
]
SPACES = [{"id": f"demo/space-{i}", "likes": i, "models": ["cr/base"]} for i in range(3)]
MODELS = {r["id"] for r in FAMILY}


def stat(result: CrawlResult, name: str) -> int:
    match = re.search(rf"'{re.escape(name)}': (\d+)", result.stderr)
    return int(match.group(1)) if match else 0


def crawl_rendered(run_crawl, mode: str) -> tuple[CrawlResult, list[str]]:
    with ReplicaServer(Hub(FAMILY), site=Website(spaces=SPACES, client_rendered=True)) as server:
        result = run_crawl("root=cr/base", spider="model_pages", endpoint=server.url, settings={"HFSPIDER_RENDER": mode})
        paths = [path for _m, path, _s, _a in server.requests]
    assert result.returncode == 0, result.stderr[-3000:]
    assert dict(result.rows("SELECT model_id, depth FROM tree_members")) == Truth(FAMILY).down("cr/base")
    assert not [p for p in paths if p.startswith("/front/")]  # images are never fetched
    return result, paths


def facts(result: CrawlResult) -> dict[str, tuple]:
    return {
        row[0]: row[1:]
        for row in result.rows("SELECT model_id, finetunes, adapters, quantizations, merges, spaces, unseen FROM page_facts")
    }


FULL = {
    "cr/base": (1, 1, None, None, 3, None),
    "cr/ft": (None, None, 1, None, None, None),
    "cr/lora": (None,) * 6,
    "cr/q": (None,) * 6,
}


def test_never_records_what_it_could_not_see(run_crawl) -> None:
    result, paths = crawl_rendered(run_crawl, "never")
    assert facts(result) == {m: (None, None, None, None, None, "ModelTree,SpacesList") for m in MODELS}
    assert result.rows("SELECT kind, target FROM links") == [("dataset", "cr/data")]
    assert stat(result, "hfspider/unseen_sections") == 2 * len(MODELS)
    # Without the panel each model's children come from one listing of every relation.
    assert Counter(p.split("?")[0] for p in paths)["/models"] == len(MODELS)


@needs_chromium
@pytest.mark.parametrize("mode", ["auto", "always"])
def test_auto_and_always_get_everything_through_chromium(run_crawl, mode: str) -> None:
    result, paths = crawl_rendered(run_crawl, mode)
    assert facts(result) == FULL
    assert {t for (t,) in result.rows("SELECT target FROM links WHERE kind = 'space'")} == {s["id"] for s in SPACES}
    pages = Counter(path for path in paths if path.lstrip("/") in MODELS)
    rendered = stat(result, "playwright/page_count")
    if mode == "auto":  # every page read twice: as HTML, then in the browser; both count in the pages budget
        assert pages == {f"/{m}": 2 for m in MODELS} and stat(result, "hfspider/rendered_pages") == len(MODELS) == rendered
    else:  # every page, listings too (one per parent and relation), only in the browser
        listings = {(parent, relation) for parent, children in Truth(FAMILY).children.items() for _child, relation in children}
        assert pages == {f"/{m}": 1 for m in MODELS} and rendered == len(MODELS) + len(listings) == 7
    assert stat(result, "playwright/page_count/closed") == rendered  # no page left open
    assert stat(result, "playwright/context_count") == 1


def test_rendering_without_a_browser_is_one_line(run_crawl, tmp_path) -> None:
    result = run_crawl(
        "root=cr/base",
        spider="model_pages",
        endpoint="http://127.0.0.1:9",
        settings={"HFSPIDER_RENDER": "auto", "PLAYWRIGHT_LAUNCH_OPTIONS": '{"executable_path": "%s"}' % (tmp_path / "no-chromium")},
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: -s HFSPIDER_RENDER=auto: no Chromium found")
    assert "Traceback" not in result.stderr
