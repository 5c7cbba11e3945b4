"""The spiders' callbacks fed the replica's answers in process: what they yield for each kind of answer.

Responses come from ``hfspider.replica.Hub`` (the data behind the replica server), answered for the
very request a callback's spider built; expected models and edges come from ``Truth`` over the records.
"""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
import sqlite3
import time
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import pytest
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import TextResponse
from scrapy.utils.request import request_from_dict

from hfspider.hub.endpoint import EXPAND, SORT_CREATED, SORT_MODIFIED, children_url, listing_url, model_url
from hfspider.hub.paging import FIRST_PAGE, Pages, follow
from hfspider.hub.records import as_utc
from hfspider.items import Bundle, EdgeItem, ModelItem
from hfspider.marks import Failed, Listed, PageDone
from hfspider.replica import Hub, generate
from hfspider.replica.store import ListQuery, parse_model_expand
from hfspider.replica.truth import Truth, typed_parents
from hfspider.spiders.hub_index import HubIndexSpider
from hfspider.spiders.model_tree import ModelTreeSpider
from tests.unit.helpers import outputs

MakeCrawler = Callable[..., Crawler]
HOSTILE = ["file:///etc/passwd", "https://evil.example/api/models?cursor=x", "https://huggingface.co/api/datasets?cursor=x"]
RECORDS = generate(200, 3)
HUB = "https://huggingface.co"


def response(request: Request, body: Any, status: int = 200, link: str | None = None, raw: bytes | None = None) -> TextResponse:
    """A response to ``request`` as Scrapy hands it to the callback."""
    headers = {"Content-Type": "application/json"}
    if link:
        headers["Link"] = f'<{link}>; rel="next"'
    data = raw if raw is not None else json.dumps(body).encode()
    return TextResponse(request.url, status=status, headers=headers, body=data, request=request, encoding="utf-8")


@dataclass
class Replica:
    """The replica server's answers without HTTP: listings (with ``Link``) and model records, from a ``Hub``."""

    hub: Hub
    base: str = "https://huggingface.co"
    page_size: int | None = None  # the Hub's page size, whatever limit the request asks for

    def __call__(self, request: Request) -> TextResponse:
        parts = urlsplit(request.url)
        params = parse_qsl(parts.query, keep_blank_values=True)
        if parts.path == "/api/models":
            asked = [(k, v) for k, v in params if k != "limit" or self.page_size is None]
            query = ListQuery.from_params(asked + ([("limit", str(self.page_size))] if self.page_size else []))
            items, cursor = self.hub.list_models(query)
            kept = [(k, v) for k, v in params if k != "cursor"]
            link = f"{self.base}/api/models?{urlencode([*kept, ('cursor', cursor)])}" if cursor else None
            return response(request, items, link=link)
        record = self.hub.get(unquote(parts.path.removeprefix("/api/models/")))
        if record is None or record.get("private"):
            return response(request, {"error": "Repository not found"}, status=404)
        return response(request, self.hub.model_view(record, parse_model_expand(params)))


def call(request: Request, answer: Callable[[Request], TextResponse]) -> list[Any]:
    """Everything the request's callback yields for the answer."""
    assert request.callback is not None
    return outputs(request.callback(answer(request)))


def of_type(out: Iterable[Any], kind: type) -> list[Any]:
    """The outputs of type ``kind``, a ``Bundle``'s models and edges among them."""
    return [o for o in out for o in (o if isinstance(o, Bundle) else [o]) if type(o) is kind]


def requests_for(out: Iterable[Any], model: str) -> list[Request]:
    return [o for o in out if isinstance(o, Request) and o.meta.get("hf_model") == model]


def walk_listing(spider: ModelTreeSpider, parent: str, answer: Replica) -> tuple[list[Any], list[tuple[Request, TextResponse]]]:
    """A parent's listing from its first page to its last, following only its own next pages."""
    request = spider._listing(parent, 0)
    out: list[Any] = []
    pages: list[tuple[Request, TextResponse]] = []
    for _ in range(100):
        answered = answer(request)
        pages.append((request, answered))
        step = list(spider.parse_children(answered))
        following = [o for o in requests_for(step, parent) if o.callback == spider.parse_children]
        out += [o for o in step if o not in following]
        if not following:
            return out, pages
        [request] = following
    raise AssertionError("the listing never ended")


@pytest.fixture(scope="module")
def truth() -> Truth:
    return Truth(RECORDS)


@pytest.fixture(scope="module")
def hub() -> Hub:
    return Hub(RECORDS)


def widest(truth: Truth) -> str:
    """The public model whose children come in the most relations (then the most children)."""
    return max(sorted(truth.public), key=lambda m: (len({r for _, r in truth.children.get(m, ())}), len(truth.children.get(m, ()))))


def chain(truth: Truth) -> tuple[str, str, str]:
    """Three distinct public generations: child, parent, grandparent, each named in the one below's tags."""
    for child in sorted(truth.public):
        for parent, _ in sorted(truth.parents[child]):
            for grand, _ in sorted(truth.parents.get(parent, ())):
                if parent in truth.public and grand in truth.public and len({child, parent, grand}) == 3:
                    return child, parent, grand
    raise AssertionError("the records have no three-generation chain")


def children_of(truth: Truth, parent: str, relations: Iterable[str] | None = None) -> set[str]:
    wanted = set(relations) if relations is not None else None
    return {c for c, r in truth.children.get(parent, ()) if wanted is None or r in wanted}


# -- model_tree: roots ------------------------------------------------------------------------


def test_root_yields_its_model_and_asks_for_its_children(hub_crawler: MakeCrawler, hub: Hub, truth: Truth) -> None:
    root = widest(truth)
    spider: ModelTreeSpider = hub_crawler(ModelTreeSpider, root=root).spider  # type: ignore[assignment]
    request = spider._root_request(root)
    assert request is not None and request.url == model_url(spider.hub, root, (*EXPAND, "childrenModelCount"))
    out = call(request, Replica(hub))
    assert [m.id for m in of_type(out, ModelItem)] == [root]
    assert {(e.child_id, e.parent_id, e.relation) for e in of_type(out, EdgeItem)} == {(root, p, r) for p, r in truth.parents.get(root, ())}
    [listing] = requests_for(out, root)
    assert listing.url == children_url(spider.hub, root)
    assert listing.callback == spider.parse_children
    assert (listing.meta["hf_depth"], listing.meta["hf_pages"], listing.meta["hf_seen"]) == (0, FIRST_PAGE, frozenset())


def test_root_upwards_asks_for_each_parent(hub_crawler: MakeCrawler, hub: Hub, truth: Truth) -> None:
    child, parent, _ = chain(truth)
    spider: ModelTreeSpider = hub_crawler(ModelTreeSpider, root=child, direction="up").spider  # type: ignore[assignment]
    out = call(spider._root_request(child), Replica(hub))  # type: ignore[arg-type]
    asked = {r.meta["hf_model"]: r for r in out if isinstance(r, Request)}
    assert set(asked) == {p for p, _ in truth.parents[child]}
    assert asked[parent].callback == spider.parse_parent
    assert asked[parent].meta["hf_depth"] == 1


def test_root_typed_in_another_case_takes_the_hubs_spelling(hub_crawler: MakeCrawler, hub: Hub, truth: Truth) -> None:
    """The Hub's ids are case-insensitive: the tree is written under the id the Hub answers with."""
    root = widest(truth)
    typed = root.upper()
    crawler = hub_crawler(ModelTreeSpider, root=typed)
    spider: ModelTreeSpider = crawler.spider  # type: ignore[assignment]
    spider.run.write_trees_for([typed], spider.args.spec)
    out = call(spider._root_request(typed), Replica(hub))  # type: ignore[arg-type]
    assert [m.id for m in of_type(out, ModelItem)] == [root]
    assert spider.run.roots == [root]


@pytest.mark.parametrize("status", [401, 403, 404])
def test_root_not_on_the_hub_is_a_root_error(hub_crawler: MakeCrawler, status: int, caplog: pytest.LogCaptureFixture) -> None:
    """A missing, private or disabled root is an answer, not a fault: counted, logged, nothing yielded."""
    crawler = hub_crawler(ModelTreeSpider, root="org/missing")
    spider: ModelTreeSpider = crawler.spider  # type: ignore[assignment]
    request = spider._root_request("org/missing")
    assert request is not None and status in request.meta["handle_httpstatus_list"]
    with caplog.at_level(logging.ERROR):
        out = list(spider.parse_root(response(request, {"error": "Repository not found"}, status=status)))
    assert out == []
    assert crawler.stats.get_value("hfspider/root_errors") == 1
    assert any("org/missing" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)


def test_root_from_the_replica_404_is_a_root_error(hub_crawler: MakeCrawler, hub: Hub) -> None:
    crawler = hub_crawler(ModelTreeSpider, root="org/not-on-the-hub")
    spider: ModelTreeSpider = crawler.spider  # type: ignore[assignment]
    assert call(spider._root_request("org/not-on-the-hub"), Replica(hub)) == []  # type: ignore[arg-type]
    assert crawler.stats.get_value("hfspider/root_errors") == 1


# -- model_tree: listings -------------------------------------------------------------------


def test_listing_yields_each_child_its_edges_and_then_listed(hub_crawler: MakeCrawler, hub: Hub, truth: Truth) -> None:
    parent = widest(truth)
    spider: ModelTreeSpider = hub_crawler(ModelTreeSpider, root=parent).spider  # type: ignore[assignment]
    out = call(spider._listing(parent, 0), Replica(hub))
    expected = children_of(truth, parent)
    assert len(expected) >= 3
    assert {m.id for m in of_type(out, ModelItem)} == expected
    to_parent = {(e.child_id, e.relation) for e in of_type(out, EdgeItem) if e.parent_id == parent}
    assert to_parent == set(truth.children[parent])
    assert {(e.child_id, e.parent_id, e.relation) for e in of_type(out, EdgeItem)} == truth.edges(expected)
    listings = {r.meta["hf_model"]: r for r in out if isinstance(r, Request)}
    assert set(listings) == expected
    assert all(r.meta["hf_depth"] == 1 and r.callback == spider.parse_children for r in listings.values())
    assert out[-1] == Listed(parent, None, frozenset(expected)), "the mark comes after every item it vouches for"
    assert len(of_type(out, Listed)) == 1


def test_listing_pages_follow_link_with_the_walk_state(hub_crawler: MakeCrawler, hub: Hub, truth: Truth) -> None:
    """Each next page is the Link target, carries the walk's page state and the ids shown so far; only the last page says Listed."""
    parent = widest(truth)
    spider: ModelTreeSpider = hub_crawler(ModelTreeSpider, root=parent).spider  # type: ignore[assignment]
    out, pages = walk_listing(spider, parent, Replica(hub, page_size=3))
    expected = children_of(truth, parent)
    assert len(pages) == -(-len(expected) // 3)
    shown: set[str] = set()
    state = FIRST_PAGE
    for (request, answered), (following, _) in pairwise(pages):
        assert request.meta["hf_pages"] == state and request.meta["hf_seen"] == frozenset(shown)
        new = {r["id"] for r in json.loads(answered.body)} - shown
        state = follow(spider.hub, answered.headers, state, len(new), answered.url).pages
        shown |= new
        assert following.url == answered.headers["Link"].decode().split(">")[0][1:]
        assert following.meta["hf_depth"] == 0
    assert len(pages[-1][0].meta["hf_pages"].seen) == len(pages)  # the first page and every Link target
    assert {m.id for m in of_type(out, ModelItem)} == expected
    assert of_type(out, Listed) == [Listed(parent, None, frozenset(expected))]
    assert out[-1] == of_type(out, Listed)[0]


def test_self_loops_are_skipped(hub_crawler: MakeCrawler) -> None:
    """A model whose tags name itself shows up in its own listing: it is not its own child."""
    loop = next(r["id"] for r in RECORDS if any(t.startswith("base_model:") and t.endswith(f":{r['id']}") for t in r.get("tags") or []))
    child = {"id": "org-z/loop-child", "tags": [f"base_model:{loop}", f"base_model:finetune:{loop}"]}
    records = [*RECORDS, child]
    crawler = hub_crawler(ModelTreeSpider, root=loop)
    spider: ModelTreeSpider = crawler.spider  # type: ignore[assignment]
    out = call(spider._listing(loop, 0), Replica(Hub(records)))
    expected = children_of(Truth(records), loop)
    assert loop not in expected and child["id"] in expected
    assert {m.id for m in of_type(out, ModelItem)} == expected
    assert out[-1] == Listed(loop, None, frozenset(expected))
    assert crawler.stats.get_value("hfspider/self_loops") == 1


def test_child_listed_without_a_matching_tag_gets_a_listing_edge(hub_crawler: MakeCrawler, truth: Truth) -> None:
    """The Hub listed it under this parent, so the edge is real even if the child's tags disagree."""
    parent = widest(truth)
    stranger = next(m for m in sorted(truth.public) if m != parent and parent not in {p for p, _ in truth.parents.get(m, ())})
    spider: ModelTreeSpider = hub_crawler(ModelTreeSpider, root=parent).spider  # type: ignore[assignment]
    request = spider._listing(parent, 0)
    out = list(spider.parse_children(response(request, [truth.records[stranger]])))
    assert [m.id for m in of_type(out, ModelItem)] == [stranger]
    edges = {(e.child_id, e.parent_id, e.relation, e.source) for e in of_type(out, EdgeItem)}
    assert (stranger, parent, "unknown", "listing") in edges
    assert {(c, p, r) for c, p, r, s in edges if s != "listing"} == {(stranger, p, r) for p, r in typed_parents(truth.records[stranger])}
    assert out[-1] == Listed(parent, None, frozenset({stranger}))


def test_listing_edge_is_not_followed_when_only_some_relations_are(hub_crawler: MakeCrawler, truth: Truth) -> None:
    """An unknown relation is followed only when every relation is: the child is still shown, so the listing is complete."""
    parent = widest(truth)
    stranger = next(m for m in sorted(truth.public) if m != parent and parent not in {p for p, _ in truth.parents.get(m, ())})
    spider: ModelTreeSpider = hub_crawler(ModelTreeSpider, root=parent, relations="finetune,adapter").spider  # type: ignore[assignment]
    request = spider._listing(parent, 0)
    out = list(spider.parse_children(response(request, [truth.records[stranger]])))
    assert out == [Listed(parent, None, frozenset({stranger}))]


@pytest.mark.parametrize("relations", [("finetune",), ("adapter", "quantized"), ("finetune", "merge", "quantized")])
def test_relations_filter(hub_crawler: MakeCrawler, hub: Hub, truth: Truth, relations: tuple[str, ...]) -> None:
    """One relation: the Hub filters the listing. Several: the spider does, and Listed still names every child shown."""
    parent = widest(truth)
    spider: ModelTreeSpider = hub_crawler(ModelTreeSpider, root=parent, relations=",".join(relations)).spider  # type: ignore[assignment]
    request = spider._listing(parent, 0)
    only = relations[0] if len(relations) == 1 else None
    assert request.url == children_url(spider.hub, parent, only)
    out = call(request, Replica(hub))
    wanted = children_of(truth, parent, relations)
    assert wanted, "the filter must keep some children"
    assert {m.id for m in of_type(out, ModelItem)} == wanted
    assert {r.meta["hf_model"] for r in out if isinstance(r, Request)} == wanted
    assert out[-1] == Listed(parent, only, frozenset(children_of(truth, parent, relations if only else None)))


def test_max_depth_stops_listing_below_it(hub_crawler: MakeCrawler, hub: Hub, truth: Truth) -> None:
    parent = widest(truth)
    spider: ModelTreeSpider = hub_crawler(ModelTreeSpider, root=parent, max_depth="1").spider  # type: ignore[assignment]
    out = call(spider._listing(parent, 0), Replica(hub))
    assert {m.id for m in of_type(out, ModelItem)} == children_of(truth, parent)
    assert [o for o in out if isinstance(o, Request)] == []


@pytest.mark.parametrize("target", HOSTILE)
def test_hostile_link_fails_the_listing_instead_of_following(hub_crawler: MakeCrawler, hub: Hub, truth: Truth, target: str) -> None:
    """A Link off the Hub's listing is recorded as a failure; the listing is not marked complete."""
    parent = widest(truth)
    crawler = hub_crawler(ModelTreeSpider, root=parent)
    spider: ModelTreeSpider = crawler.spider  # type: ignore[assignment]
    request = spider._listing(parent, 0)
    records = json.loads(Replica(hub)(request).body)
    out = list(spider.parse_children(response(request, records, link=target)))
    assert {m.id for m in of_type(out, ModelItem)} == children_of(truth, parent), "what the page showed is still passed on"
    assert requests_for(out, parent) == []
    assert of_type(out, Listed) == []
    [failed] = of_type(out, Failed)
    assert (failed.url, failed.model_id, failed.status) == (request.url, parent, 200)
    assert out[-1] is failed
    assert crawler.stats.get_value("hfspider/failures") == 1


@pytest.mark.parametrize("body", [b"<html>Hub is busy</html>", b'{"error": "not a list"}', b"\xff\xfe"])
def test_unusable_listing_body_is_retried_passed_again_then_failed(hub_crawler: MakeCrawler, body: bytes) -> None:
    """A 200 whose body is not a JSON list is a fault like a 503: RETRY_TIMES retries, then HFSPIDER_RETRY_PASSES
    later passes (after the others, after a back-off, each with its retries again), then a Failed mark."""
    crawler = hub_crawler(ModelTreeSpider, root="org/base")
    spider: ModelTreeSpider = crawler.spider  # type: ignore[assignment]
    retry_times, passes = crawler.settings.getint("RETRY_TIMES"), crawler.settings.getint("HFSPIDER_RETRY_PASSES")
    delay = crawler.settings.getfloat("HFSPIDER_RETRY_PASS_DELAY")
    first = request = spider._listing("org/base", 0)
    tries: list[tuple[int, int]] = []  # (pass, retry) of every try
    for _ in range(100):
        tries.append((request.meta.get("hf_pass", 0), request.meta.get("retry_times", 0)))
        asked = time.time()
        out = list(spider.parse_children(response(request, None, raw=body)))
        if of_type(out, Failed):
            break
        [following] = out
        assert following.dont_filter and following.callback == spider.parse_children
        assert following.meta["hf_model"] == "org/base"
        if following.meta.get("hf_pass", 0) != request.meta.get("hf_pass", 0):  # a new pass
            number = following.meta["hf_pass"]
            assert "retry_times" not in following.meta, "each pass has its retries again"
            assert following.priority <= first.priority - 1000 * number, "after the others"
            assert following.meta["hf_not_before"] >= asked + delay * number
        request = following
    expected = [(p, r) for p in range(passes + 1) for r in range(retry_times + 1)]
    assert tries == expected
    [failed] = out
    assert (failed.model_id, failed.status) == ("org/base", 200)
    assert crawler.stats.get_value("hfspider/failures") == 1
    assert crawler.stats.get_value("hfspider/retry_passes") == passes
    assert crawler.stats.get_value("hfspider/bad_body") == len(expected)


@pytest.mark.parametrize(("status", "passes_again"), [(503, True), (500, True), (408, True), (404, False), (403, False), (None, True)])
def test_a_request_whose_retries_ran_out_goes_round_again_unless_the_hub_answered(
    hub_crawler: MakeCrawler, status: int | None, passes_again: bool
) -> None:
    """Server faults and lost connections go round again; a 4xx other than 408/429 is the Hub's answer, final at once."""
    crawler = hub_crawler(ModelTreeSpider, root="org/base")
    spider: ModelTreeSpider = crawler.spider  # type: ignore[assignment]
    request = spider._listing("org/base", 0)
    request.meta["retry_times"] = crawler.settings.getint("RETRY_TIMES")
    [out] = [spider.pass_again_or_fail(request, status, "boom")]
    if passes_again:
        assert isinstance(out, Request) and out.meta["hf_pass"] == 1 and out.url == request.url
        assert crawler.stats.get_value("hfspider/failures") is None
    else:
        assert isinstance(out, Failed) and (out.url, out.status) == (request.url, status)
        assert crawler.stats.get_value("hfspider/failures") == 1


def test_unusable_root_body_is_retried(hub_crawler: MakeCrawler) -> None:
    crawler = hub_crawler(ModelTreeSpider, root="org/base")
    spider: ModelTreeSpider = crawler.spider  # type: ignore[assignment]
    request = spider._root_request("org/base")
    assert request is not None
    [retry] = list(spider.parse_root(response(request, None, raw=b"[1, 2]")))
    assert isinstance(retry, Request) and retry.url == request.url and retry.meta["retry_times"] == 1
    assert crawler.stats.get_value("hfspider/root_errors") is None


# -- model_tree: parents ---------------------------------------------------------------------


def test_parent_yields_its_model_and_asks_for_the_next_generation(hub_crawler: MakeCrawler, hub: Hub, truth: Truth) -> None:
    child, parent, grand = chain(truth)
    spider: ModelTreeSpider = hub_crawler(ModelTreeSpider, root=child, direction="up").spider  # type: ignore[assignment]
    [request] = [r for r in call(spider._root_request(child), Replica(hub)) if isinstance(r, Request) and r.meta["hf_model"] == parent]  # type: ignore[arg-type]
    out = call(request, Replica(hub))
    assert [m.id for m in of_type(out, ModelItem)] == [parent]
    assert {(e.parent_id, e.relation) for e in of_type(out, EdgeItem)} == truth.parents[parent]
    asked = {r.meta["hf_model"]: r.meta["hf_depth"] for r in out if isinstance(r, Request)}
    assert asked[grand] == 2
    assert set(asked) == {p for p, _ in truth.parents[parent]} - {child}, "the child is already being walked"


def test_parent_at_max_depth_asks_for_nothing_more(hub_crawler: MakeCrawler, hub: Hub, truth: Truth) -> None:
    child, parent, _ = chain(truth)
    spider: ModelTreeSpider = hub_crawler(ModelTreeSpider, root=child, direction="up", max_depth="1").spider  # type: ignore[assignment]
    [request] = [r for r in call(spider._root_request(child), Replica(hub)) if isinstance(r, Request) and r.meta["hf_model"] == parent]  # type: ignore[arg-type]
    out = call(request, Replica(hub))
    assert [m.id for m in of_type(out, ModelItem)] == [parent]
    assert [o for o in out if isinstance(o, Request)] == []


def test_parent_in_both_directions_also_lists_its_children(hub_crawler: MakeCrawler, hub: Hub, truth: Truth) -> None:
    """Going both ways, an ancestor's other descendants belong to the family: its listing starts one generation up."""
    child, parent, _ = chain(truth)
    spider: ModelTreeSpider = hub_crawler(ModelTreeSpider, root=child, direction="both").spider  # type: ignore[assignment]
    [request] = [r for r in call(spider._root_request(child), Replica(hub)) if isinstance(r, Request) and r.meta["hf_model"] == parent]  # type: ignore[arg-type]
    out = call(request, Replica(hub))
    [listing] = [r for r in requests_for(out, parent) if r.callback == spider.parse_children]
    assert listing.url == children_url(spider.hub, parent)
    assert listing.meta["hf_depth"] == -1


def test_parent_not_on_the_hub_ends_its_branch(hub_crawler: MakeCrawler, hub: Hub) -> None:
    crawler = hub_crawler(ModelTreeSpider, root="org/child", direction="up")
    spider: ModelTreeSpider = crawler.spider  # type: ignore[assignment]
    edge = EdgeItem("org/child", "org/gone-parent", "finetune", "tags")
    [request] = list(spider._parents([edge], 1))
    assert call(request, Replica(hub)) == []
    assert crawler.stats.get_value("hfspider/missing_parents") == 1
    assert crawler.stats.get_value("hfspider/root_errors") is None


# -- hub_index -------------------------------------------------------------------------------


def index_walk(spider: HubIndexSpider, answer: Replica, first: Request) -> list[list[Any]]:
    """Every page's output, following the walk's own next-page requests."""
    outputs: list[list[Any]] = []
    request: Request | None = first
    while request is not None:
        assert len(outputs) < 100, "the walk never ended"
        out = call(request, answer)
        outputs.append(out)
        following = [o for o in out if isinstance(o, Request)]
        assert len(following) <= 1
        request = following[0] if following else None
    return outputs


def test_index_walks_every_page_and_marks_each_done(hub_crawler: MakeCrawler, hub: Hub, truth: Truth) -> None:
    """Every public model and every tag-stated edge; each page but the last asks for the next first and ends with PageDone."""
    spider: HubIndexSpider = hub_crawler(HubIndexSpider).spider  # type: ignore[assignment]
    first = spider.walk_page(listing_url(spider.hub, [("sort", SORT_CREATED)]), None, FIRST_PAGE)
    outputs = index_walk(spider, Replica(hub, page_size=40), first)
    assert len(outputs) == -(-len(truth.public) // 40)
    for number, out in enumerate(outputs[:-1]):
        assert isinstance(out[0], Request), "the next page is asked for before the page's items"
        this_page = first.url if number == 0 else outputs[number - 1][0].url
        assert out[0].meta["hf_url"] == out[0].url
        assert out[-1] == PageDone(this_page, out[0].url), "the page's mark comes after its items and names it and the page after it"
        assert len(of_type(out, PageDone)) == 1
    assert not any(isinstance(o, (Request, PageDone, Failed)) for o in outputs[-1])
    everything = [o for out in outputs for o in out]
    models = [m.id for m in of_type(everything, ModelItem)]
    assert sorted(models) == sorted(truth.public)
    edges = {(e.child_id, e.parent_id, e.relation) for e in of_type(everything, EdgeItem)}
    assert truth.edges(truth.public) <= edges
    assert {c for c, _, _ in edges} <= truth.public


def test_index_refresh_stops_at_models_older_than_since(hub_crawler: MakeCrawler, hub: Hub, truth: Truth) -> None:
    """A refresh walks newest-modified first and stops at the first model modified before the last complete run."""
    spider: HubIndexSpider = hub_crawler(HubIndexSpider).spider  # type: ignore[assignment]
    newest = sorted((as_utc(truth.records[m]["lastModified"]) or "" for m in truth.public), reverse=True)
    since = newest[25]
    first = spider.walk_page(listing_url(spider.hub, [("sort", SORT_MODIFIED)]), since, FIRST_PAGE)
    outputs = index_walk(spider, Replica(hub, page_size=10), first)
    everything = [o for out in outputs for o in out]
    expected = {m for m in truth.public if (as_utc(truth.records[m]["lastModified"]) or "") >= since}
    assert {m.id for m in of_type(everything, ModelItem)} == expected
    assert not any(isinstance(o, (Request, PageDone)) for o in outputs[-1])


@pytest.mark.parametrize("target", HOSTILE)
def test_index_hostile_link_is_a_failure_not_a_request(hub_crawler: MakeCrawler, hub: Hub, target: str) -> None:
    crawler = hub_crawler(HubIndexSpider)
    spider: HubIndexSpider = crawler.spider  # type: ignore[assignment]
    request = spider.walk_page(listing_url(spider.hub, [("sort", SORT_CREATED)]), None, FIRST_PAGE)
    records = json.loads(Replica(hub, page_size=20)(request).body)
    out = outputs(spider.parse_page(response(request, records, link=target)))
    assert [m.id for m in of_type(out, ModelItem)] == [r["id"] for r in records]
    assert not any(isinstance(o, (Request, PageDone)) for o in out)
    [failed] = of_type(out, Failed)
    assert (failed.url, failed.status) == (request.url, 200)
    assert crawler.stats.get_value("hfspider/failures") == 1


def test_index_page_linking_back_to_itself_is_a_loop(hub_crawler: MakeCrawler, hub: Hub) -> None:
    """A Hub that serves the same page again and again: followed once, then refused as a loop."""
    crawler = hub_crawler(HubIndexSpider)
    spider: HubIndexSpider = crawler.spider  # type: ignore[assignment]
    url = listing_url(spider.hub, [("sort", SORT_CREATED)])
    records = json.loads(Replica(hub, page_size=20)(spider.walk_page(url, None, FIRST_PAGE)).body)
    looped = f"{url}&cursor=same"
    out = outputs(spider.parse_page(response(spider.walk_page(url, None, FIRST_PAGE), records, link=looped)))
    [again] = [o for o in out if isinstance(o, Request)]
    assert again.url == looped
    out = outputs(spider.parse_page(response(again, records, link=looped)))
    assert not any(isinstance(o, (Request, PageDone)) for o in out)
    assert len(of_type(out, Failed)) == 1


def test_index_unusable_body_is_retried(hub_crawler: MakeCrawler) -> None:
    crawler = hub_crawler(HubIndexSpider)
    spider: HubIndexSpider = crawler.spider  # type: ignore[assignment]
    request = spider.walk_page(listing_url(spider.hub, [("sort", SORT_CREATED)]), None, FIRST_PAGE)
    [retry] = outputs(spider.parse_page(response(request, None, raw=b"<html>")))
    assert isinstance(retry, Request) and retry.url == request.url and retry.meta["retry_times"] == 1
    assert retry.callback == spider.parse_page and retry.meta["hf_pages"] == FIRST_PAGE


def test_spiders_reach_their_run(hub_crawler: MakeCrawler) -> None:
    """The spiders' ``run`` is the crawler's CrawlRun extension, with the spider's own crawl key."""
    for crawler in (hub_crawler(ModelTreeSpider, root="org/a"), hub_crawler(HubIndexSpider, author="org")):
        run = crawler.spider.run  # type: ignore[union-attr]
        assert run.crawler is crawler
        assert run.spider_name == crawler.spider.name  # type: ignore[union-attr]


def test_listing_request_survives_a_jobdir_queue(hub_crawler: MakeCrawler) -> None:
    """A paused crawl pickles its pending requests: the walk state in their meta must come back equal."""
    spider: ModelTreeSpider = hub_crawler(ModelTreeSpider, root="org/a").spider  # type: ignore[assignment]
    request = spider._listing("org/a", 2, f"{spider.hub}/api/models?cursor=c", Pages(("abc",), 1), frozenset({"org/b"}))
    restored = request_from_dict(pickle.loads(pickle.dumps(request.to_dict(spider=spider))), spider=spider)
    assert restored.callback == spider.parse_children and restored.errback == spider.failed
    assert {k: restored.meta[k] for k in request.meta} == request.meta


# -- hub_index: where a run's walk begins ---------------------------------------------------------


def started(crawler: Crawler) -> list[Any]:
    """What the spider's ``start()`` yields, after its run was opened (as the engine does before consuming it)."""
    spider: HubIndexSpider = crawler.spider  # type: ignore[assignment]
    spider.run.spider_opened(spider)

    async def collect() -> list[Any]:
        return [item async for item in spider.start()]

    return asyncio.run(collect())


def pause_walk_at(crawler: Crawler, next_url: str, reason: str | None) -> None:
    """A run of the walk that stored ``next_url`` as its resume point, then was paused (``shutdown``) or killed (None)."""
    run = crawler.spider.run  # type: ignore[union-attr]
    run.spider_opened(crawler.spider)
    with closing(sqlite3.connect(Path(crawler.settings["HFSPIDER_OUTPUT"]) / "hfspider.sqlite")) as conn, conn:
        conn.execute("INSERT INTO walk_state (crawl_key, next_url) VALUES (?, ?)", (run.key, next_url))
    if reason:
        run.spider_closed(crawler.spider, reason)


def test_index_first_run_walks_from_the_first_page(hub_crawler: MakeCrawler) -> None:
    crawler = hub_crawler(HubIndexSpider)
    [first] = started(crawler)
    assert first.url == listing_url(crawler.spider.hub, [("sort", SORT_CREATED)])  # type: ignore[union-attr]
    assert crawler.spider.run.walk_from == first.url  # type: ignore[union-attr]


def test_index_resumed_after_a_kill_walks_from_the_stored_page(hub_crawler: MakeCrawler) -> None:
    """No trustworthy queue: the walk starts again at the page the database says is next, after replaying what was stored."""
    resume_at = f"{HUB}/api/models?sort=createdAt&limit=1000&cursor=c7"
    pause_walk_at(hub_crawler(HubIndexSpider), resume_at, None)
    crawler = hub_crawler(HubIndexSpider)
    replay, page = started(crawler)
    assert replay.url == "data:,replay"
    assert page.url == resume_at and page.callback == crawler.spider.parse_page  # type: ignore[union-attr]
    assert crawler.spider.run.walk_from == resume_at  # type: ignore[union-attr]


def test_index_resumed_from_a_clean_pause_leaves_the_next_page_to_the_queue(hub_crawler: MakeCrawler, tmp_path: Path) -> None:
    """JOBDIR's queue holds the next page: start() asks for none, but the run's walk still begins where the pause left it,
    so the store can move the resume point along the queued pages."""
    settings = {"JOBDIR": str(tmp_path / "job")}
    resume_at = f"{HUB}/api/models?sort=createdAt&limit=1000&cursor=c7"
    pause_walk_at(hub_crawler(HubIndexSpider, settings), resume_at, "shutdown")
    queue = tmp_path / "job" / "requests.queue"
    queue.mkdir(parents=True)
    (queue / "active.json").write_text("[0]")
    crawler = hub_crawler(HubIndexSpider, settings)
    [replay] = started(crawler)
    assert replay.url == "data:,replay"
    assert crawler.spider.run.walk_from == resume_at  # type: ignore[union-attr]
