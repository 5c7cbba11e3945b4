"""``-a cards=1`` and ``-a spaces=1`` on every spider: card text stored with pasted secrets masked,
404 and 401 recorded, every Space from the API, and the files budget paced apart from the API's."""

from __future__ import annotations

from pathlib import Path

import pytest

from hfspider.replica import Hub, ReplicaServer
from hfspider.replica.website import Website

HF_SECRET = "hf_" + "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3f"  # 34 letters and digits, as a real token
SK_SECRET = "sk-proj-" + "Xy_9-" * 6
CARD = f"""---
license: mit
base_model: cd/base
---
# A card

Use `HF_TOKEN={HF_SECRET}` and key {SK_SECRET}.
Not secrets: hf_short, task-{"x" * 30}, my_hf_transfer, sk-tiny.
"""
MASKED = CARD.replace(HF_SECRET, "hf_***").replace(SK_SECRET, "sk-***")
SPACES = [{"id": f"user-{i}/demo-{i:02d}", "likes": i % 5, "models": ["cd/base"]} for i in range(14)]
RECORDS = [
    {"id": "cd/base", "tags": ["license:mit"]},
    {"id": "cd/kid", "tags": ["base_model:cd/base", "base_model:finetune:cd/base"], "cardData": {"license": "mit"}},
    {"id": "cd/bare", "tags": ["base_model:cd/base", "base_model:adapter:cd/base"]},  # no card at all
    {"id": "cd/gated", "gated": "manual", "tags": ["base_model:cd/kid", "base_model:quantized:cd/kid"], "cardData": {}},
]


def site() -> Website:
    return Website(spaces=SPACES, cards={"cd/base": CARD})


def test_cards_are_stored_masked_with_404_and_401_recorded(run_crawl) -> None:
    with ReplicaServer(Hub(RECORDS), site=site()) as server:
        result = run_crawl("root=cd/base", "cards=1", "spaces=1", endpoint=server.url)
        log = list(server.requests)
    assert result.returncode == 0, result.stderr[-3000:]
    cards = {row[0]: row[1:] for row in result.rows("SELECT model_id, text, length, status FROM cards")}
    assert cards["cd/base"] == (MASKED, len(MASKED), 200)
    assert cards["cd/bare"] == (None, None, 404)
    assert cards["cd/gated"] == (None, None, 401)
    assert cards["cd/kid"][0].startswith('---\nlicense: "mit"\n---\n') and cards["cd/kid"][2] == 200
    # A card is two requests, the 307 and the text, both in the files budget.
    resolved = [(path, status) for _m, path, status, _a in log if "/resolve/" in path or "/resolve-cache/" in path]
    assert sorted(status for _p, status in resolved) == sorted([307, 307, 200, 200, 404, 401])
    everything = b"".join(path.read_bytes() for path in result.output.rglob("*") if path.is_file()) + result.stderr.encode()
    assert HF_SECRET.encode() not in everything and SK_SECRET.encode() not in everything
    spaces = {target for (target,) in result.rows("SELECT target FROM links WHERE model_id = 'cd/base' AND kind = 'space'")}
    assert spaces == {s["id"] for s in SPACES}  # all 14, not the page's 12
    assert result.rows("SELECT COUNT(*) FROM links WHERE model_id != 'cd/base'") == [(0,)]


def test_every_spider_takes_cards_and_spaces(run_crawl) -> None:
    with ReplicaServer(Hub(RECORDS), site=site()) as server:
        index = run_crawl("author=cd", "cards=1", spider="hub_index", endpoint=server.url)
        pages = run_crawl("root=cd/kid", "cards=1", "spaces=1", spider="model_pages", endpoint=server.url)
        wrong = run_crawl("root=cd/kid", "cards=maybe", spider="model_pages", endpoint=server.url)
    assert index.returncode == 0, index.stderr[-3000:]
    assert {row[0]: row[1] for row in index.rows("SELECT model_id, status FROM cards")} == {
        "cd/base": 200,
        "cd/kid": 200,
        "cd/bare": 404,
        "cd/gated": 401,
    }
    assert index.rows("SELECT text FROM cards WHERE model_id = 'cd/base'") == [(MASKED,)]
    assert pages.returncode == 0, pages.stderr[-3000:]
    assert {row[0]: row[1] for row in pages.rows("SELECT model_id, status FROM cards")} == {"cd/kid": 200, "cd/gated": 401}
    assert (
        wrong.returncode == 2
        and wrong.stderr.strip().splitlines()[-1]
        == "error: -a cards=maybe: use 1 to store each model's card (README.md), 0 (default) not to"
    )


@pytest.mark.serial
def test_the_files_budget_paces_cards_while_api_calls_go_on(run_crawl, tmp_path: Path) -> None:
    family = [{"id": "rs/base", "tags": []}] + [
        {"id": f"rs/kid-{i}", "tags": ["base_model:rs/base", "base_model:finetune:rs/base"], "cardData": {"license": "mit"}}
        for i in range(7)
    ]
    with ReplicaServer(Hub(family), site=Website(), resolver_quota=6, window=2) as server:
        result = run_crawl("root=rs/base", "cards=1", "spaces=1", endpoint=server.url)
        log = list(zip(server.requests, server.request_times, strict=True))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.rows("SELECT COUNT(*) FROM cards WHERE status = 200") == [(7,)]
    files = [t for (_m, path, _s, _a), t in log if "resolve" in path]
    api = [t for (_m, path, _s, _a), t in log if path.startswith("/api/") and "resolve" not in path]
    statuses = [status for (_m, path, status, _a), _t in log if "resolve" in path]
    assert len(files) == 2 * 7 + 1 and statuses.count(429) <= 1  # base has no card: one 404
    assert files[-1] - files[0] >= 2.0  # 15 file requests at 6 a window: paced over several windows
    assert max(api) < files[-1] - 1.0  # the API calls did not wait for the files' windows
