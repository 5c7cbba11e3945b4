"""The replica's website: model pages, web listings, card files and the Spaces API, per hub-pages.md.

Pure rendering over a `Hub` and a `Website` (what the website shows beyond
the API records); `server.py` routes requests here. The classes in the HTML
are the replica's own on purpose: a parser must key on hrefs, hydration props
and label words, as it must on the real, often-changing pages.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from urllib.parse import quote

from .store import Hub, render_record

#: Models a web listing shows per page, and the last page it shows (counted from 1).
PER_PAGE = 30
PAGE_CAP = 100
#: Spaces linked on a model page (wide layout; the narrow one shows half), and the count's ceiling.
SPACES_SHOWN = 12
#: What ``props.model`` of a page's ModelHeader carries, with the API's names.
PAGE_FIELDS = (
    "_id",
    "id",
    "author",
    "sha",
    "createdAt",
    "lastModified",
    "private",
    "disabled",
    "gated",
    "downloads",
    "downloadsAllTime",
    "likes",
    "trendingScore",
    "library_name",
    "pipeline_tag",
    "tags",
    "cardData",
    "safetensors",
    "gguf",
)
LISTING_FIELDS = ("id", "author", "downloads", "likes", "lastModified", "pipeline_tag")
#: Panel rows for children, in the Hub's order: (label, relation).
CHILD_ROWS = (("Adapters", "adapter"), ("Finetunes", "finetune"), ("Merges", "merge"), ("Quantizations", "quantized"))
#: An ancestor row's label: the relation of that row's model to the row above it.
HOP_LABELS = {"finetune": "Finetuned", "adapter": "Adapter", "quantized": "Quantized", "merge": "Merge"}
APPS = (("llama.cpp", "Use with llama.cpp"), ("lmstudio", "Use with LM Studio"), ("jan", "Use with Jan"), ("ollama", "Use with Ollama"))


@dataclass
class Website:
    """What the website shows beyond the API records, and how it serves it.

    - `spaces`: Space records ``{"id", "likes", "sdk", "models": [...]}``; a model
      record's own ``spaces`` list adds Spaces too (likes drawn from the id);
    - `collections`: model id -> collection ids (``OWNER/SLUG``);
    - `cards`: model id -> README text; other models with ``cardData`` or a
      ``README.md`` sibling get one made from their ``cardData``;
    - `renames`: old id -> new id: the old page answers ``301`` to the new one;
    - `panel_counts`: (parent, relation) -> the count pages show instead of the true one;
    - `client_rendered`: the Model tree and Spaces sections are built by an inline
      script after load, leaving empty hydration targets in the static HTML;
    - `robots`: the text of ``/robots.txt``.
    """

    spaces: list[dict] = field(default_factory=list)
    collections: dict[str, list[str]] = field(default_factory=dict)
    cards: dict[str, str] = field(default_factory=dict)
    renames: dict[str, str] = field(default_factory=dict)
    panel_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    client_rendered: bool = False
    robots: str = "User-agent: *\nAllow: /\n"
    _using: dict[str, list[dict]] | None = field(default=None, repr=False)

    def spaces_using(self, hub: Hub, model_id: str) -> list[dict]:
        """The Spaces that use a model, by likes, then id (built once, on first use)."""
        if self._using is None:
            using: dict[str, dict[str, dict]] = {}
            for space in self.spaces:
                for model in space.get("models", ()):
                    using.setdefault(model, {})[space["id"]] = space
            for rec in hub.records():
                for space_id in rec.get("spaces") or ():
                    if isinstance(space_id, str) and space_id not in using.get(rec["id"], {}):
                        likes = int(hashlib.md5(space_id.encode()).hexdigest()[:4], 16) % 500
                        using.setdefault(rec["id"], {})[space_id] = {"id": space_id, "likes": likes, "sdk": "gradio"}
            self._using = {m: sorted(s.values(), key=lambda s: (-s["likes"], s["id"])) for m, s in using.items()}
        return self._using.get(model_id, [])


def escape(text: str) -> str:
    """HTML text and attribute escaping, as the Hub writes it (``&#39;`` for the apostrophe)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;").replace("'", "&#39;")


def _props(target: str, props: object) -> str:
    return f'<div class="SVELTE_HYDRATER contents" data-target="{target}" data-props="{escape(json.dumps(props))}"></div>'


def _document(title: str, canonical: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        f'<link rel="canonical" href="https://huggingface.co{escape(canonical)}"></head>\n'
        '<body><nav class="hr-top"><img src="/front/assets/huggingface_logo.svg" alt="">'
        '<a href="/">Hugging Face</a> <a href="/models">Models</a> '
        '<a href="/datasets">Datasets</a> <a href="/spaces">Spaces</a> <a href="/docs">Docs</a></nav>\n'
        f"<main>{body}</main></body></html>\n"
    )


def _models(n: int) -> str:
    return f"{n:,} model" if n == 1 else f"{n:,} models"


class Pages:
    """Renders the website of one `Hub` + `Website`."""

    def __init__(self, hub: Hub, site: Website) -> None:
        self.hub = hub
        self.site = site

    # -- lineage as the website shows it ---------------------------------------------

    def _parents(self, rec: dict) -> list[tuple[str, str]]:
        """(parent id, relation) from the tags, public parents on the Hub only; a plain tag reads as finetune."""
        typed: dict[str, str] = {}
        plain: list[str] = []
        for tag in rec.get("tags") or ():
            if not isinstance(tag, str) or not tag.startswith("base_model:"):
                continue
            relation, _, parent = tag[len("base_model:") :].partition(":")
            if parent and relation in HOP_LABELS:
                typed.setdefault(parent, relation)
            elif not parent:
                plain.append(relation)
        found = dict(typed)
        for parent in plain:
            found.setdefault(parent, "finetune")
        out = []
        for parent, relation in found.items():
            other = self.hub.get(parent)
            if other is not None and not other.get("private") and other["id"] != rec["id"]:
                out.append((other["id"], relation))
        return sorted(out)

    def count(self, parent: str, relation: str) -> int:
        """The children count pages show for a parent and relation."""
        shown = self.site.panel_counts.get((parent, relation))
        return shown if shown is not None else self.hub.children_count(parent).get(relation, 0)

    def chain(self, rec: dict) -> list[tuple[str, str | None]]:
        """(model, relation to the row above), root first, ending with ``rec``; [] without a parent on the Hub.

        One parent a hop, the first by id; the chain stops at a cycle.
        """
        path, relation_up = [rec], {}
        seen = {rec["id"]}
        while parents := self._parents(path[-1]):
            parent, relation = parents[0]
            if parent in seen:
                break
            relation_up[path[-1]["id"]] = relation
            seen.add(parent)
            path.append(self.hub.get(parent) or {"id": parent})
        if len(path) == 1:
            return []
        return [(model["id"], relation_up.get(model["id"]) if i else None) for i, model in enumerate(reversed(path))]

    # -- sections --------------------------------------------------------------------

    def tree_section(self, rec: dict) -> str:
        model_id = rec["id"]
        chain = self.chain(rec)
        rows = []
        for depth, (model, relation) in enumerate(chain):
            if depth == 0:
                rows.append(_row("Base model", f'<a href="/{escape(model)}">{escape(model)}</a>'))
            elif model != model_id:
                rows.append(_row(HOP_LABELS[relation or "finetune"], f'<a href="/{escape(model)}">{escape(model)}</a>'))
            else:
                parent = chain[depth - 1][0]
                rel = relation or "finetune"
                link = f'<a href="/models?other=base_model:{rel}:{escape(parent)}">({self.count(parent, rel):,})</a>'
                rows.append(_row(HOP_LABELS[rel], f"{link} this model"))
        for label, relation in CHILD_ROWS:
            n = self.count(model_id, relation)
            if not n:
                continue
            if relation == "quantized":
                apps = "".join(
                    f'<a href="/models?apps={app}&amp;other=base_model:quantized:{escape(model_id)}" title="{title}"></a>'
                    for app, title in APPS
                )
                rows.append(f'<div class="hr-apps">{apps}</div>')
            rows.append(_row(label, f'<a href="/models?other=base_model:{relation}:{escape(model_id)}">{_models(n)}</a>'))
        if not rows:
            return ""
        return (
            f'<section class="hr-card"><h2 class="hr-h">Model tree for <span>{escape(model_id)}</span></h2>'
            '<a class="hr-help" href="/docs/hub/model-cards#specifying-a-base-model">?</a>'
            f'<dl class="hr-rows">{"".join(rows)}</dl></section>'
        )

    def spaces_section(self, rec: dict) -> str:
        spaces = self.site.spaces_using(self.hub, rec["id"])
        if not spaces:
            return ""
        n = len(spaces)
        noun = "Space" if n == 1 else "Spaces"
        lists = []
        for css, shown in (("hr-wide", SPACES_SHOWN), ("hr-narrow", SPACES_SHOWN // 2)):
            links = "".join(f'<a class="hr-space" href="/spaces/{escape(s["id"])}">{escape(s["id"])}</a>' for s in spaces[:shown])
            more = f'<button class="hr-more">+ {n - shown} Spaces</button>' if n > shown else ""
            lists.append(f'<div class="hr-list {css}">{links}{more}</div>')
        heading = f'<h2 class="hr-h">{noun} using {escape(rec["id"])}</h2><span class="hr-n">{n}</span>'
        return f'<section class="hr-card">{heading}{"".join(lists)}</section>'

    @staticmethod
    def _list_section(singular: str, plural: str, model_id: str, kind: str, targets: list[str]) -> str:
        if not targets:
            return ""
        heading = (singular if len(targets) == 1 else plural).format(model=escape(model_id))
        links = "".join(f'<li><a href="/{kind}/{escape(t)}">{escape(t)}</a></li>' for t in targets)
        return f'<section class="hr-card"><h2 class="hr-h">{heading}</h2><ul>{links}</ul></section>'

    # -- pages -----------------------------------------------------------------------

    def model_page(self, rec: dict) -> str:
        model_id = rec["id"]
        tags = [t for t in rec.get("tags") or () if isinstance(t, str)]
        datasets = [t[len("dataset:") :] for t in tags if t.startswith("dataset:")]
        papers = [t[len("arxiv:") :] for t in tags if t.startswith("arxiv:")]
        header = {
            "model": render_record(rec, PAGE_FIELDS),
            "discussionsStats": {"open": 0, "closed": 0, "total": 0},
        }
        tree, spaces = self.tree_section(rec), self.spaces_section(rec)
        if self.site.client_rendered:
            script = json.dumps({"ModelTree": tree, "SpacesList": spaces}).replace("</", "<\\/")
            tree = '<div class="SVELTE_HYDRATER contents" data-target="ModelTree"></div>'
            spaces = '<div class="SVELTE_HYDRATER contents" data-target="SpacesList"></div>'
            hydrate = (
                "<script>window.addEventListener('load',function(){setTimeout(function(){"
                f"var s={script};"
                "for(var k in s){var el=document.querySelector('[data-target=\"'+k+'\"]');"
                "if(!el)continue;if(s[k]){el.innerHTML=s[k];}else{el.remove();}}},30);});</script>"
            )
        else:
            hydrate = ""
        side = "".join(
            (
                tree,
                spaces,
                self._list_section("Dataset used to train {model}", "Datasets used to train {model}", model_id, "datasets", datasets),
                self._list_section("Paper for {model}", "Papers for {model}", model_id, "papers", papers),
                self._list_section(
                    "Collection including {model}",
                    "Collections including {model}",
                    model_id,
                    "collections",
                    self.site.collections.get(model_id, []),
                ),
            )
        )
        body = (
            _props("ModelHeader", header)
            + f'<h1 class="hr-title">{escape(model_id)}</h1>'
            + '<div class="hr-cols"><article class="hr-card-text">Model card</article>'
            + f'<aside class="hr-side">{side}</aside></div>'
            + hydrate
        )
        return _document(f"{model_id} · Hugging Face", f"/{model_id}", body)

    def listing(self, tag: str | None, page: int) -> str:
        """``/models?other=TAG&p=PAGE`` (no tag: every model), by likes; nothing past the page cap."""
        total = self.hub.count_tagged(tag)
        records = self.hub.most_liked(tag, page * PER_PAGE, PER_PAGE) if 0 <= page < PAGE_CAP else []
        props = {
            "initialValues": {
                "models": [render_record(rec, LISTING_FIELDS) for rec in records],
                "numItemsPerPage": PER_PAGE,
                "numTotalItems": total,
                "pageIndex": page,
            }
        }
        cards = "".join(
            f'<article class="hr-model"><a href="/{escape(r["id"])}" class="hr-link">'
            f'<header class="hr-head" title="{escape(r["id"])}"><h4 class="hr-name">{escape(r["id"])}</h4></header>'
            f'<div class="hr-meta">{r.get("likes") or 0} likes</div></a></article>'
            for r in records
        )
        return _document("Models - Hugging Face", "/models", _props("ModelList", props) + f'<div class="hr-grid">{cards}</div>')

    def card(self, rec: dict) -> str | None:
        """The README a model's repo holds, or None when it has none."""
        text = self.site.cards.get(rec["id"])
        if text is not None:
            return text
        siblings = {s.get("rfilename") for s in rec.get("siblings") or () if isinstance(s, dict)}
        card = rec.get("cardData")
        if not isinstance(card, dict) and "README.md" not in siblings:
            return None
        header = "".join(f"{key}: {json.dumps(value, ensure_ascii=False)}\n" for key, value in (card or {}).items())
        return f"---\n{header}---\n\n# {rec['id']}\n\nA model on the Hub.\n"


def _row(label: str, value: str) -> str:
    return f'<div class="hr-row"><dt>{label}</dt><dd>{value}</dd></div>'


def not_found_page() -> str:
    return _document("404 – Hugging Face", "/404", "<h1>404</h1><p>Sorry, we can't find the page you are looking for.</p>")


def rate_limited_page() -> str:
    """A page 429: a big HTML body, no error code; only ``RateLimit`` says when to come back."""
    filler = "".join(f"<!-- {i:05d} {'.' * 80} -->\n" for i in range(560))
    return _document("429 – Hugging Face", "/429", f"<h1>429</h1><p>You are sending requests too quickly.</p>{filler}")


def space_record(space: dict) -> dict:
    """A Space as ``/api/spaces`` lists it."""
    space_id = space["id"]
    return {
        "_id": hashlib.md5(f"space:{space_id}".encode()).hexdigest()[:24],
        "id": space_id,
        "author": space_id.split("/", 1)[0],
        "likes": space.get("likes", 0),
        "sdk": space.get("sdk", "gradio"),
    }


def card_path(rec: dict, sha: str) -> str:
    """Where a card's ``resolve`` redirect points."""
    return f"/api/resolve-cache/models/{quote(rec['id'], safe='/')}/{sha}/README.md"
