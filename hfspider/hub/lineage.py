"""Who a model's parents are, read from its tags or, failing that, its card."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from hfspider.hub.endpoint import is_repo_id

RELATIONS: tuple[str, ...] = ("adapter", "finetune", "merge", "quantized")
UNKNOWN = "unknown"

#: Where an edge was read: the Hub's computed tags, or the model card's metadata.
SOURCE_TAGS = "tags"
SOURCE_CARD = "card"
#: An edge only the listing showed: the Hub matched the child but its tags did not say how.
SOURCE_LISTING = "listing"

_HUB_URL = re.compile(r"^(?:https?://)?(?:www\.)?(?:huggingface\.co|hf\.co)/", re.IGNORECASE)
_URL_TAIL = re.compile(r"/(?:tree|blob|resolve|commit)/.*$")


class Parent(NamedTuple):
    """One parent link of a model (a tuple: made once per parent of every model of the Hub)."""

    id: str
    relation: str
    source: str


def parse_ref(value: Any) -> str | None:
    """A ``cardData.base_model`` entry as a model id, or None when it cannot name one.

    Cards hold full URLs, spaces, trailing slashes and ``models/`` prefixes; the
    Hub's own tags never do, so this is only needed for the card fallback.
    """
    if not isinstance(value, str):
        return None
    ref = _HUB_URL.sub("", value.strip())
    ref = _URL_TAIL.sub("", ref).strip().strip("/")
    if ref.startswith("models/"):
        ref = ref[len("models/") :]
    return ref if ref and is_repo_id(ref) else None


def _stated_relation(card: dict[str, Any]) -> str | None:
    stated = card.get("base_model_relation")
    if isinstance(stated, str) and stated.strip().lower() in RELATIONS:
        return stated.strip().lower()
    return None


def _relation_from_card(card: dict[str, Any], record: dict[str, Any], n_parents: int) -> str:
    """The relation a card states, or the Hub's own guess from the repo contents."""
    stated = _stated_relation(card)
    if stated:
        return stated
    if n_parents > 1:
        return "merge"
    tags = record.get("tags") if isinstance(record.get("tags"), list) else []
    if record.get("gguf") or "gguf" in tags:
        return "quantized"
    if record.get("library_name") == "peft" or "peft" in tags:
        return "adapter"
    return "finetune"


def parents(record: dict[str, Any]) -> list[Parent]:
    """Immediate parents of a Hub record, self-references dropped.

    The ``base_model:R:P`` tags are authoritative; a parent named only by a plain
    ``base_model:P`` tag takes its relation from the card. Cards are read only
    when the tags name no parent at all.
    """
    model_id = record.get("id") if isinstance(record.get("id"), str) else None
    tags = record.get("tags")
    typed: dict[str, str] = {}
    plain: list[str] = []
    if isinstance(tags, list):
        for tag in tags:
            if not isinstance(tag, str) or not tag.startswith("base_model:"):
                continue
            rest = tag[len("base_model:") :]
            relation, _, parent = rest.partition(":")
            if parent and relation in RELATIONS:
                if is_repo_id(parent):  # tags are free text to a model's author; junk names no parent
                    typed.setdefault(parent, relation)
            else:
                plain.append(rest)
    card = record.get("cardData") if isinstance(record.get("cardData"), dict) else {}
    found: dict[str, Parent] = {parent: Parent(parent, relation, SOURCE_TAGS) for parent, relation in typed.items()}
    for parent in plain:
        if parent not in found and is_repo_id(parent):  # the Hub tags a typed parent plainly too: checked once
            found[parent] = Parent(parent, _stated_relation(card) or UNKNOWN, SOURCE_TAGS)
    if not found and card.get("base_model") is not None:
        raw = card["base_model"]
        refs = raw if isinstance(raw, list) else [raw]
        ids = list(dict.fromkeys(ref for ref in map(parse_ref, refs) if ref))
        ids = [ref for ref in ids if ref.lower() != (model_id or "").lower()]
        relation = _relation_from_card(card, record, len(ids))
        found = {ref: Parent(ref, relation, SOURCE_CARD) for ref in ids}
    found.pop(model_id or "", None)
    return list(found.values())
