"""Whatever the Hub sends, the crawl logs it, records it, and loses nothing else."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from hfspider.replica import Hub, ReplicaServer
from tests.conftest import UNICODE_ID


def test_wrong_types_huge_tags_and_unicode(hostile_records: list[dict[str, Any]], run_crawl) -> None:
    with ReplicaServer(Hub(hostile_records)) as server:
        result = run_crawl("root=bad/root", endpoint=server.url)
    assert result.returncode == 0, result.stderr[-2000:]
    depths = dict(result.rows("SELECT model_id, depth FROM tree_members"))
    expected = {"bad/root": 0, "bad/types": 1, "bad/huge": 1, UNICODE_ID: 1, "bad/grandchild": 2, "bad/long-author": 1, "bad/nan-card": 1}
    assert depths == expected
    # An id huggingface_hub refuses (not ASCII) is no model: skipped, not stored, not followed.
    assert result.rows("SELECT COUNT(*) FROM models WHERE id = 'bad/ünïcödé-模型'") == [(0,)]
    assert result.rows("SELECT COUNT(*) FROM models WHERE id = 'bad/under-a-bad-id'") == [(0,)]
    columns = "downloads, likes, created_at, last_modified, gated, private, card_data, num_parameters, library_name, pipeline_tag"
    row = result.rows(f"SELECT {columns} FROM models WHERE id='bad/types'")
    assert row == [(None, None, "1970-01-01T00:00:12Z", None, None, 0, None, None, None, None)]  # private: the Hub said false
    (tags,) = result.rows("SELECT tags FROM models WHERE id='bad/huge'")[0]
    assert len(json.loads(tags)) == 20_002
    (card,) = result.rows(f"SELECT card_data FROM models WHERE id='{UNICODE_ID}'")[0]
    assert json.loads(card)["description"] == "日本語 😀  end"  # NUL removed: PostgreSQL refuses it
    assert result.rows(f"SELECT license FROM models WHERE id='{UNICODE_ID}'") == [("mit",)]
    (card,) = result.rows("SELECT card_data FROM models WHERE id='bad/nan-card'")[0]
    assert json.loads(card) == {"score": None, "note": "a?b"}  # NaN is not JSON; a lone surrogate is not UTF-8


class _LoopingHub(BaseHTTPRequestHandler):
    """A Hub whose second listing page points back at itself."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/api/models/loop/root":
            body: object = {"id": "loop/root", "tags": []}
            link = None
        else:
            page = "cursor=again" in parts.query
            body = [{"id": "loop/kid-2" if page else "loop/kid-1", "tags": ["base_model:loop/root", "base_model:finetune:loop/root"]}]
            # The root's listing: every page, the second included, points at the second page again.
            looping = ("filter", "base_model:loop/root") in parse_qsl(parts.query)
            link = f"http://127.0.0.1:{self.server.server_port}{self.path.split('&cursor=')[0]}&cursor=again" if looping else None
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if link:
            self.send_header("Link", f'<{link}>; rel="next"')
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def looping_hub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LoopingHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_listing_that_loops_back_is_recorded_not_followed(looping_hub: str, run_crawl) -> None:
    result = run_crawl("root=loop/root", endpoint=looping_hub, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "run the same command again" in result.stderr.strip().splitlines()[-1]
    assert {row[0] for row in result.rows("SELECT id FROM models")} == {"loop/root", "loop/kid-1", "loop/kid-2"}
    failures = result.rows("SELECT model_id, error FROM failures")
    assert failures == [("loop/root", "listing loops back to an earlier page")]
    assert result.rows("SELECT outcome FROM crawl_runs") == [("incomplete",)]
    assert not (result.output / "trees").exists()  # an incomplete crawl writes no tree that looks whole
