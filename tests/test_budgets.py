"""Three budgets in one crawl: pages, files and API calls each paced by their own answers' headers."""

from __future__ import annotations

import pytest

from hfspider.replica import Hub, ReplicaServer
from hfspider.replica.truth import Truth
from hfspider.replica.website import Website


@pytest.mark.serial
def test_pages_at_20_and_api_at_500_a_window_in_one_crawl(run_crawl) -> None:
    family = [{"id": "qb/base", "tags": []}]
    family += [{"id": f"qb/kid-{i:02d}", "tags": ["base_model:qb/base", "base_model:adapter:qb/base"]} for i in range(24)]
    spaces = [{"id": f"u/s-{i}", "likes": i, "models": [r["id"] for r in family[i::5]]} for i in range(5)]
    with ReplicaServer(Hub(family), site=Website(spaces=spaces), quota=500, page_quota=20, window=3) as server:
        result = run_crawl("root=qb/base", "spaces=1", spider="model_pages", endpoint=server.url)
        log = list(zip(server.requests, server.request_times, strict=True))
    assert result.returncode == 0, result.stderr[-3000:]
    assert dict(result.rows("SELECT model_id, depth FROM tree_members")) == Truth(family).down("qb/base")
    pages = [(path, status, t) for (_m, path, status, _a), t in log if not path.startswith("/api/") and path != "/robots.txt"]
    assert len([p for p in pages if p[1] == 200]) == 1 + 1 + 24  # base, one listing, 24 kids
    assert sum(1 for p in pages if p[1] == 429) <= 1  # paced by the pages budget: no 429 storm
    assert pages[-1][2] - pages[0][2] >= 1.0  # 26 pages at 20 a window: they had to wait for a window
    served = {path.lstrip("/"): t for path, status, t in pages if status == 200}
    asked = {
        path.split("models=", 1)[1].split("&", 1)[0].replace("%2F", "/"): t
        for (_m, path, _s, _a), t in log
        if path.startswith("/api/spaces")
    }
    assert set(asked) == {r["id"] for r in family}
    late = {model: round(asked[model] - served[model], 2) for model in asked if asked[model] - served[model] > 1.0}
    assert not late  # each model's API call followed its page at once, whatever the pages were waiting for
    stored = {(m, t) for m, t in result.rows("SELECT model_id, target FROM links WHERE kind = 'space'")}
    assert stored == {(m, s["id"]) for s in spaces for m in s["models"]}
