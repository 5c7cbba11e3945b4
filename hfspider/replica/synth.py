"""Seeded synthetic Hub: records shaped like the real ones, at any size from 10 to 1,000,000.

Lineage follows the Hub's measured shape: about 30% of models have
parents, fan-out is heavy-tailed (Zipf), relations follow the 2025 edge mix,
chains run several levels deep, and the quirks a crawler must survive are
planted on purpose: self-loops, 2-cycles, parents missing from the hub,
private parents, odd `cardData.base_model` values and lineage written only in
`cardData`. From 5,000 models on, one base model has at least 2,500 direct
children (at 5,000 that alone lifts the child share above 30%).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from itertools import accumulate, islice

from .store import paused_gc

CHILD_SHARE = 0.30
# Per-child weights that give the Hub's edge mix (adapter 42%, finetune 33%,
# quantized 18%, merge 7%) once merges count their 2-3 parents (2.5 on average).
RELATION_WEIGHTS = {"adapter": 42.0, "finetune": 33.0, "quantized": 18.0, "merge": 7.0 / 2.5}
# Share of each relation's children that have children of their own (merge: a guess).
PARENT_RATE = {"finetune": 0.079, "quantized": 0.0095, "adapter": 0.0019, "merge": 0.05}
DEEP_SHARE = 0.09  # children below the first generation, for the rates above
DEEP_FANOUT = 3
MAX_DEPTH = 6
ZIPF_EXPONENT = 0.8  # at 1M models: about ten parents with more than 1,000 children
GIANT_FROM = 5000
GIANT_CHILDREN = 2600  # public children stay above 2,500 although ~1% of models are private
QUIRKS_FROM = 50

START = 1646263744  # 2022-03-02T23:29:04Z, the Hub's oldest createdAt
END = 1764460800  # 2025-11-30T00:00:00Z

LICENSES = ("apache-2.0", "mit", "other", "llama3.1", "cc-by-nc-4.0", "gemma", "openrail", "cc-by-4.0")
LICENSE_WEIGHTS = (40, 20, 12, 8, 8, 5, 4, 3)
ROOT_LIBRARIES = ("transformers", "diffusers", "sentence-transformers", "timm", "gguf", None)
ROOT_LIBRARY_WEIGHTS = (50, 10, 6, 4, 5, 25)
PIPELINES = ("text-generation", "text-to-image", "feature-extraction", "text-classification", "image-classification", None)
PIPELINE_WEIGHTS = (40, 12, 8, 8, 8, 24)
PARAMETERS = (124_439_808, 494_032_768, 1_235_814_400, 2_614_341_888, 7_615_616_512, 8_030_261_248, 13_015_864_320, 70_553_706_496)
NAME_SUFFIX = {None: "", "finetune": "-ft", "adapter": "-lora", "merge": "-merge", "quantized": "-4bit"}


@dataclass
class _Lineage:
    """Who descends from whom, by model index.

    A parent is another model's index, or the id (str) of a model absent from the hub.
    """

    roots: int
    relation: list[str | None]
    parents: list[tuple[int | str, ...]]
    pool: list[int]  # base models by popularity: pool[0] has the most children
    pool_weights: list[float]  # cumulative Zipf weights over `pool`
    card_only: dict[int, int] = field(default_factory=dict)  # model -> parent named only in cardData
    odd_card: dict[int, int] = field(default_factory=dict)  # model -> odd cardData.base_model form
    private: set[int] = field(default_factory=set)
    disabled: set[int] = field(default_factory=set)


def generate(n: int, seed: int = 0) -> list[dict]:
    """`n` API-shaped model records, the same for the same (n, seed)."""
    if n < 0:
        raise ValueError("n must be >= 0")
    if n == 0:
        return []
    rng = random.Random(seed)
    with paused_gc():
        return _Builder(n, rng, _plan(n, rng)).records()


def regular_family(prefix: str, fanout: int, levels: int) -> list[dict]:
    """A family as regular as a clock: every model has ``fanout`` fine-tunes, ``levels`` deep
    (1 + f + f^2 + ... models), each naming its parent the way the Hub tags it."""
    records: list[dict] = [{"id": f"{prefix}/m", "tags": []}]
    layer = [f"{prefix}/m"]
    for _ in range(levels):
        below = []
        for parent in layer:
            for i in range(fanout):
                child = f"{parent}-{i}"
                records.append({"id": child, "tags": [f"base_model:{parent}", f"base_model:finetune:{parent}"]})
                below.append(child)
        layer = below
    return records


def _zipf_weights(size: int) -> list[float]:
    return list(accumulate(1 / k**ZIPF_EXPONENT for k in range(1, size + 1)))


_RELATIONS = tuple(RELATION_WEIGHTS)
_RELATION_CUM = list(accumulate(RELATION_WEIGHTS.values()))


def _plan(n: int, rng: random.Random) -> _Lineage:
    """Lay out roots first, then generations of children (so parents are older), then plant quirks."""
    children = round(n * CHILD_SHARE)
    giant = 0
    if n >= GIANT_FROM:
        giant = GIANT_CHILDREN + rng.randrange(100)
        children = max(children, giant + n // 10)
    roots = n - children
    pool = rng.sample(range(roots), max(1, min(roots, children // 3)))
    lin = _Lineage(roots, [None] * n, [()] * n, pool, _zipf_weights(len(pool)))

    first_end = max(roots + giant, n - round(children * DEEP_SHARE))
    _attach(lin, range(roots, first_end), pool, lin.pool_weights, rng, each_once=False)
    if giant:
        _grow_giant(lin, range(roots, first_end), giant, rng)

    previous, next_slot = range(roots, first_end), first_end
    for depth in range(2, MAX_DEPTH + 1):
        chosen = [i for i in previous if rng.random() < PARENT_RATE[lin.relation[i]]]
        if not chosen and previous and n >= 100 and depth <= 4:
            chosen = [previous[rng.randrange(len(previous))]]  # keep a chain at least 4 deep
        size = min(n - next_slot, len(chosen) * DEEP_FANOUT)
        if size <= 0:
            break
        rng.shuffle(chosen)
        previous = range(next_slot, next_slot + size)
        _attach(lin, previous, chosen, _zipf_weights(len(chosen)), rng, each_once=True)
        next_slot += size
    _attach(lin, range(next_slot, n), pool, lin.pool_weights, rng, each_once=False)
    if n >= QUIRKS_FROM:
        _plant_quirks(lin, range(roots, first_end), rng)
    return lin


def _attach(lin: _Lineage, slots: range, parents: list[int], weights: list[float], rng: random.Random, *, each_once: bool) -> None:
    """Give every slot a relation and Zipf-drawn parent(s); merges add 1-2 more from the base models."""
    picks = rng.choices(parents, cum_weights=weights, k=len(slots))
    if each_once:  # every chosen parent really gets a child
        picks[: len(parents)] = parents[: len(slots)]
    relations = rng.choices(_RELATIONS, cum_weights=_RELATION_CUM, k=len(slots))
    for slot, parent, relation in zip(slots, picks, relations, strict=True):
        lin.relation[slot] = relation
        if relation != "merge":
            lin.parents[slot] = (parent,)
            continue
        extra = rng.choices(lin.pool, cum_weights=lin.pool_weights, k=rng.choice((1, 2)))
        lin.parents[slot] = tuple(dict.fromkeys((parent, *extra)))


def _grow_giant(lin: _Lineage, first: range, target: int, rng: random.Random) -> None:
    """Move first-generation children under pool[0] until it has `target` of them."""
    top = lin.pool[0]
    have = sum(top in lin.parents[i] for i in first)
    movable = [i for i in first if top not in lin.parents[i] and lin.relation[i] != "merge"]
    for i in rng.sample(movable, max(0, min(len(movable), target - have))):
        lin.parents[i] = (top,)


def _plant_quirks(lin: _Lineage, first: range, rng: random.Random) -> None:
    """Plant each quirk a few times (more on bigger hubs); never on the giant or its children."""
    k = 1 + len(lin.parents) // 2000
    top = lin.pool[0]
    rank = {model: r for r, model in enumerate(lin.pool)}
    free_roots = [i for i in range(lin.roots) if i not in rank]
    spare = iter(rng.sample(free_roots, min(len(free_roots), 4 * k)))
    for model in islice(spare, k):  # self-loops
        lin.parents[model], lin.relation[model] = (model,), "finetune"
    for model in islice(spare, 3 * k):  # lineage only in cardData
        lin.card_only[model] = lin.pool[min(len(lin.pool) - 1, rng.randrange(10))]

    singles = [i for i in first if len(lin.parents[i]) == 1 and lin.parents[i][0] != top]
    rng.shuffle(singles)
    used: set[int] = set()
    for child in singles:  # 2-cycles: an unpopular base model that names its own child as parent
        parent = lin.parents[child][0]
        if len(used) < 2 * k and rank[parent] > len(lin.pool) // 2 and not lin.parents[parent] and parent not in used:
            lin.parents[parent], lin.relation[parent] = (child,), "finetune"
            used.update((parent, child))
    ghosts = [f"org-{rng.randrange(1000):03d}/deleted-model-{j}" for j in range(k)]
    victims = [child for child in singles if child not in used and lin.parents[child][0] not in used]
    for j, child in enumerate(victims[: 3 * k]):  # parents missing from the hub
        lin.parents[child] = (ghosts[j % k],)
    for j, child in enumerate(victims[3 * k : 3 * k + max(5, 3 * k)]):  # every odd form at least once
        lin.odd_card[child] = j
    if len(lin.pool) > 1:
        lin.private.add(lin.pool[min(4, len(lin.pool) - 1)])
    if free_roots:
        lin.disabled.add(free_roots[-1])


def _odd_base_model(parent: str, variant: int) -> str | list[str]:
    """The ways cards in the wild misname a parent."""
    forms: list[str | list[str]] = [
        f"https://huggingface.co/{parent}",
        f"  {parent} ",
        parent.swapcase(),
        parent.rsplit("/", 1)[-1],
        [parent, parent],
    ]
    return forms[variant % len(forms)]


class _Builder:
    """Turns a lineage plan into records; strings repeated across records are shared to save memory."""

    def __init__(self, n: int, rng: random.Random, lin: _Lineage) -> None:
        self.n, self.rng, self.lin = n, rng, lin
        self.ids: list[str] = []
        self.orgs = [f"org-{o:03d}" for o in range(max(1, n // 25))]
        self.days: dict[int, str] = {}
        self.base_tags: dict[str, str] = {}
        self.relation_tags: dict[tuple[str, str], str] = {}
        self.license_tags = {lic: f"license:{lic}" for lic in LICENSES}
        self.children = [0] * n
        for parents in lin.parents:
            for parent in parents:
                if isinstance(parent, int):
                    self.children[parent] += 1
        giant_children = {i for i, ps in enumerate(lin.parents) if lin.pool[0] in ps}
        self.no_private = giant_children | {lin.pool[0]}

    def records(self) -> list[dict]:
        rng, orgs = self.rng, self.orgs
        for i in range(self.n):
            org = orgs[int(len(orgs) * rng.random() ** 2)]
            shape = rng.random()
            if not self.lin.parents[i] and shape < 0.002:
                self.ids.append(f"model-{i:05d}")  # legacy id without owner
            elif shape < 0.05:
                self.ids.append(f"{org}/Model_{i:05d}.v1.{i % 10}")
            else:
                self.ids.append(f"{org}/model-{i:05d}{NAME_SUFFIX[self.lin.relation[i]]}")
        # Drawn in bulk (fast); children then overwrite most of theirs with their parent's.
        self.licenses: list[str] = rng.choices(LICENSES, LICENSE_WEIGHTS, k=self.n)
        self.pipelines: list[str | None] = rng.choices(PIPELINES, PIPELINE_WEIGHTS, k=self.n)
        self.params: list[int] = rng.choices(PARAMETERS, k=self.n)
        self.libraries: list[str | None] = rng.choices(ROOT_LIBRARIES, ROOT_LIBRARY_WEIGHTS, k=self.n)
        return [self._record(i) for i in range(self.n)]

    def _iso(self, ts: int) -> str:
        day, sec = divmod(ts, 86400)
        date = self.days.get(day)
        if date is None:
            date = self.days[day] = time.strftime("%Y-%m-%d", time.gmtime(day * 86400))
        hour, rest = divmod(sec, 3600)
        return f"{date}T{hour:02d}:{rest // 60:02d}:{rest % 60:02d}.000Z"

    def _parent_tags(self, parent: str, relation: str) -> tuple[str, str]:
        base = self.base_tags.get(parent)
        if base is None:
            base = self.base_tags[parent] = f"base_model:{parent}"
        typed = self.relation_tags.get((parent, relation))
        if typed is None:
            typed = self.relation_tags[(parent, relation)] = f"base_model:{relation}:{parent}"
        return base, typed

    def _record(self, i: int) -> dict:
        rng, lin = self.rng, self.lin
        model_id = self.ids[i]
        relation = lin.relation[i]
        parents = lin.parents[i]
        names = [self.ids[p] if isinstance(p, int) else p for p in parents]
        elder = parents[0] if parents and isinstance(parents[0], int) and parents[0] < i else None

        if elder is not None and rng.random() < 0.7:
            self.licenses[i], self.pipelines[i], self.params[i] = (self.licenses[elder], self.pipelines[elder], self.params[elder])
        quantized = relation == "quantized"
        library = self.libraries[i] if relation is None else _child_library(relation, rng)
        safetensors = not quantized and library is not None and rng.random() < 0.5
        card = self._card(i, names, relation)
        license_ = self.licenses[i] if card is not None else None

        tags = [library] if library else []
        if safetensors:
            tags.append("safetensors")
        if self.pipelines[i]:
            tags.append(self.pipelines[i])
        for name in names:
            tags.extend(self._parent_tags(name, relation))
        if license_:
            tags.append(self.license_tags[license_])
        if library == "transformers":
            tags.append("endpoints_compatible")
        tags.append("region:us")

        created = START + int((i + rng.random()) * (END - START - 86400 * 200) / self.n)
        modified = created + int(rng.random() ** 3 * 200 * 86400)
        downloads = int(rng.paretovariate(1.1) * 20) - 20 + 150 * self.children[i]
        likes = int(downloads**0.5 * rng.random() * 0.5)
        gate = rng.random()
        rec: dict = {"_id": f"{created:08x}{rng.getrandbits(64):016x}", "id": model_id}
        if "/" in model_id:
            rec["author"] = model_id.split("/", 1)[0]
        if card is not None:
            rec["cardData"] = card
        rec.update(
            createdAt=self._iso(created),
            disabled=i in lin.disabled or (rng.random() < 0.001 and i != lin.pool[0]),
            downloads=downloads,
            gated="auto" if gate < 0.02 else "manual" if gate < 0.025 else False,
            lastModified=self._iso(modified),
        )
        if library:
            rec["library_name"] = library
        rec.update(likes=likes, modelId=model_id)
        if self.pipelines[i]:
            rec["pipeline_tag"] = self.pipelines[i]
        private = i in lin.private or (rng.random() < 0.01 and i not in self.no_private)
        rec.update(private=private, tags=tags, trendingScore=int(likes * rng.random() * 0.05))
        params = self.params[i] // 200 if relation == "adapter" else self.params[i]
        if safetensors:
            rec["safetensors"] = {"parameters": {"BF16": params}, "total": params}
        if library == "gguf":
            rec["gguf"] = {"total": params}
        return rec

    def _card(self, i: int, names: list[str], relation: str | None) -> dict | None:
        """cardData as authors write it: license, and base_model as a string or a list."""
        rng, lin = self.rng, self.lin
        card: dict = {"license": self.licenses[i]}
        if names:
            card["base_model"] = names[0] if len(names) == 1 and rng.random() < 0.4 else list(names)
            if i in lin.odd_card:
                card["base_model"] = _odd_base_model(names[0], lin.odd_card[i])
            if rng.random() < 0.1:
                card["base_model_relation"] = relation
        elif i in lin.card_only:
            card["base_model"] = self.ids[lin.card_only[i]]
        elif rng.random() < 0.02:
            return None
        return card


def _child_library(relation: str, rng: random.Random) -> str | None:
    if relation == "adapter":
        return "peft"
    if relation == "quantized":
        return "gguf" if rng.random() < 0.7 else "transformers"
    return "transformers" if rng.random() < 0.8 else None
