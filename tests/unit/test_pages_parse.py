"""Reading model pages and web listings: keyed on hrefs, props and label words, never on classes."""

from __future__ import annotations

import json
from html import escape

from hfspider.hub.pages import over_cap, read_model_page, read_web_listing, web_listing_url

PROPS = {"model": {"id": "org/model", "tags": ["base_model:org/base", "base_model:quantized:org/base"], "likes": 3}, "discussionsStats": {}}


def page(sidebar: str) -> str:
    props = escape(json.dumps(PROPS), quote=True)
    header = f'<div class="SVELTE_HYDRATER contents" data-target="ModelHeader" data-props="{props}"></div>'
    return f"<html><body>{header}<aside>{sidebar}</aside></body></html>"


TREE = (
    """
<div class="x1"><h3 class="a">Model tree for <b>org/model</b></h3>
 <a href="/docs/hub/model-cards#specifying-a-base-model">i</a>
 <div><span>Base model</span> <a href="https://huggingface.co/org/root?x=1">org/root</a></div>
 <div><span>Finetuned</span><div><a href="/org/base">org/base</a></div></div>
 <div><span>Quantized</span><a href="/models?other=base_model:quantized:org/base">(1,234)</a> this model</div>
 <div><span>Adapters</span><a href="/models?other=base_model:adapter:org/model">1 model</a></div>
 <a href="/models?apps=llama.cpp&amp;other=base_model:quantized:org/model" title="Use with llama.cpp"></a>
 <div><span>Quantizations</span><a href="/models?other=base_model:quantized:org/model">2,001 models</a></div>
</div>
<section><h3>Spaces using org/model</h3><span>14</span>
 <div>"""
    + "".join(f'<a href="/spaces/u/s{i}">u/s{i}</a>' for i in range(12))
    + """<button>+ 2 Spaces</button></div>
 <div>"""
    + "".join(f'<a href="/spaces/u/s{i}">u/s{i}</a>' for i in range(6))
    + """<button>+ 8 Spaces</button></div>
</section>
<h3>Datasets used to train org/model</h3><a href="/datasets/org/data">d</a><a href="/datasets/plain">p</a>
<h3>Paper for org/model</h3><a href="/papers/2401.01234">p</a>
<h3>Collections including org/model</h3><a href="/collections/me/faves-65a1b2">c</a>
<h3>Other things</h3><a href="/spaces/not/counted">x</a>
"""
)


def test_a_server_rendered_page_is_read_whole() -> None:
    read = read_model_page(page(TREE))
    assert read.record == PROPS["model"]
    assert read.ancestors == [("org/root", None), ("org/base", "finetune")]
    assert read.own == ("quantized", "org/base", 1234)
    assert read.children == {"adapter": 1, "quantized": 2001}
    assert read.spaces_count == 14
    assert read.links == {
        "space": [f"u/s{i}" for i in range(12)],
        "dataset": ["org/data", "plain"],
        "paper": ["2401.01234"],
        "collection": ["me/faves-65a1b2"],
    }
    assert read.unseen == ()


def test_empty_hydration_targets_are_sections_left_to_the_browser() -> None:
    html = page('<div class="SVELTE_HYDRATER contents" data-target="ModelTree"></div><div data-target="SpacesList"> </div>')
    read = read_model_page(html)
    assert read.unseen == ("ModelTree", "SpacesList") and read.children == {} and not read.has_tree
    assert read_model_page(page('<div data-target="ModelTree" data-props="{}"></div>')).unseen == ()


def test_a_page_without_props_has_no_record() -> None:
    assert read_model_page("<html><body><h1>404</h1></body></html>").record is None


def test_listing_reads_props_then_cards_and_knows_the_cap() -> None:
    props = {"initialValues": {"models": [{"id": "a/one"}, {"id": "bad id"}], "numItemsPerPage": 30, "numTotalItems": 3001, "pageIndex": 0}}
    html = (
        f'<div data-target="ModelList" data-props="{escape(json.dumps(props), quote=True)}"></div>'
        '<article><a href="/a/one">a/one</a></article><article><a href="https://huggingface.co/b/two?hardware=x">b/two</a></article>'
    )
    listing = read_web_listing(html)
    assert listing.ids == ["a/one", "b/two"] and listing.total == 3001 and listing.pages == 101
    assert over_cap(listing)
    assert not over_cap(read_web_listing(html.replace("3001", "3000")))
    assert web_listing_url("https://hf.co", "o/p", "merge", 2) == "https://hf.co/models?other=base_model:merge:o/p&p=2"
