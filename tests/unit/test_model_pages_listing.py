"""model_pages: a relation the website cannot list in full goes to the API, however the website says so."""

from __future__ import annotations

import json
from html import escape

from scrapy import Request
from scrapy.http import HtmlResponse

from hfspider.hub.pages import web_listing_url
from hfspider.items import EdgeItem
from hfspider.spiders.model_pages import ModelPagesSpider, _Family

HUB = "https://huggingface.co"


def listing(page: int, ids: list[str], total: int) -> HtmlResponse:
    props = {"initialValues": {"models": [{"id": i} for i in ids], "numItemsPerPage": 30, "numTotalItems": total, "pageIndex": page}}
    body = f'<div data-target="ModelList" data-props="{escape(json.dumps(props), quote=True)}"></div>'
    request = Request(
        web_listing_url(HUB, "w/base", "finetune", page), meta={"hf_model": "w/base", "hf_relation": "finetune", "hf_page": page}
    )
    return HtmlResponse(request.url, body=body.encode(), encoding="utf-8", request=request)


def api_requests(out: list[object]) -> list[Request]:
    return [o for o in out if isinstance(o, Request) and "/api/models?" in o.url and "filter=base_model:finetune:w/base" in o.url]


def spider_for(hub_crawler) -> ModelPagesSpider:
    spider = hub_crawler(ModelPagesSpider, settings={"HF_ENDPOINT": HUB}, root="w/base").spider
    spider._families["w/base"] = _Family(0, ("finetune",), {"finetune"})
    return spider


def test_a_total_over_100_pages_goes_to_the_api_at_page_0(hub_crawler) -> None:
    spider = spider_for(hub_crawler)
    out = list(spider.parse_listing(listing(0, [f"w/ft-{i}" for i in range(30)], 3005)))
    assert len(api_requests(out)) == 1 and not [o for o in out if isinstance(o, Request) and "/models?" in o.url and "/api/" not in o.url]


def test_a_full_last_page_goes_to_the_api_even_when_the_total_says_3000(hub_crawler) -> None:
    spider = spider_for(hub_crawler)
    full = list(spider.parse_listing(listing(99, [f"w/ft-{i}" for i in range(30)], 3000)))
    assert len(api_requests(full)) == 1
    spider = spider_for(hub_crawler)
    short = list(spider.parse_listing(listing(99, [f"w/ft-{i}" for i in range(29)], 2999)))
    assert api_requests(short) == [] and "finetune" not in spider._families["w/base"].open


def test_a_listed_child_gets_a_listing_edge_only_when_its_page_is_stored(hub_crawler) -> None:
    spider = spider_for(hub_crawler)
    for child in ("w/gone", "w/untagged"):
        [page] = [o for o in spider._reach(child, 1, "w/base", "finetune") if isinstance(o, Request)]
        assert page.meta["hf_model"] == child
    gone = list(spider._page_done("w/gone", "w/gone", None))  # its page answered 404: nothing stored
    untagged = list(spider._page_done("w/untagged", "w/untagged", []))  # stored, but its tags name no parent
    assert [o for o in gone if isinstance(o, EdgeItem)] == []
    assert [o for o in untagged if isinstance(o, EdgeItem)] == [EdgeItem("w/untagged", "w/base", "finetune", "listing")]
    spider._families["w/other"] = _Family(0, ("finetune",), {"finetune"})
    assert [o for o in spider._reach("w/gone", 1, "w/other", "finetune") if isinstance(o, EdgeItem)] == []
