"""The replica's in-memory Hub: records, indexes and the query semantics of the API.

Pure data logic, no HTTP: `server.py` turns the results and the `BadRequest`
errors raised here into responses. Records are API-shaped dicts (as
`GET /api/models/{id}` returns them); fields a record lacks are filled in
deterministically when it is rendered, so that thin records (id + tags) work.
"""

from __future__ import annotations

import base64
import binascii
import gc
import hashlib
import hmac
import json
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

SORTS = ("downloads", "likes", "lastModified", "createdAt", "trendingScore")
RELATIONS = ("adapter", "merge", "quantized", "finetune")
MAX_LIMIT = 1000
EPOCH = "2022-03-02T23:29:04.000Z"  # the createdAt the Hub shows for its oldest repos

# Properties `expand` accepts on the listing and on the single-model route.
EXPANDABLE = frozenset(
    (
        "author",
        "cardData",
        "config",
        "createdAt",
        "disabled",
        "downloads",
        "downloadsAllTime",
        "evalResults",
        "gated",
        "gguf",
        "inference",
        "inferenceProviderMapping",
        "lastModified",
        "library_name",
        "likes",
        "mask_token",
        "model-index",
        "pipeline_tag",
        "private",
        "resourceGroup",
        "safetensors",
        "sha",
        "siblings",
        "spaces",
        "tags",
        "transformersInfo",
        "trendingScore",
        "widgetData",
    )
)
SINGLE_ONLY = frozenset({"baseModels", "childrenModelCount", "usedStorage"})

# Keys in the order the Hub serves them: a listing item, with full=true, one model.
DEFAULT_ITEM_KEYS = (
    "_id",
    "id",
    "likes",
    "trendingScore",
    "private",
    "downloads",
    "tags",
    "pipeline_tag",
    "library_name",
    "createdAt",
    "modelId",
)
FULL_ITEM_KEYS = (
    "_id",
    "id",
    "author",
    "gated",
    "lastModified",
    "likes",
    "trendingScore",
    "private",
    "sha",
    "disabled",
    "downloads",
    "tags",
    "pipeline_tag",
    "library_name",
    "createdAt",
    "modelId",
    "siblings",
)
MODEL_KEYS = (
    "_id",
    "id",
    "modelId",
    "author",
    "sha",
    "lastModified",
    "createdAt",
    "private",
    "gated",
    "disabled",
    "downloads",
    "likes",
    "library_name",
    "tags",
    "pipeline_tag",
    "mask_token",
    "cardData",
    "widgetData",
    "model-index",
    "config",
    "transformersInfo",
    "siblings",
    "spaces",
    "safetensors",
    "gguf",
    "usedStorage",
)

# A filtered listing sorts its smallest index list when that list holds less
# than 1/_SORT_RATIO of the hub; otherwise it walks the hub-wide ordering.
_SORT_RATIO = 20
_CURSOR_KEY = b"hub-replica-cursor"  # fixed, so cursors survive a replica restart
_MISSING = object()


class BadRequest(ValueError):
    """A request the Hub answers with HTTP 400."""


class BadCursor(BadRequest):
    """A cursor this replica did not issue, or issued for another query."""


@contextmanager
def paused_gc() -> Iterator[None]:
    """Suspend the cycle collector while building millions of small containers, then freeze them.

    Its passes would rescan everything built so far, over and over (a third of
    the build time at 1M records), and later full passes would stall requests
    for most of a second. Nothing built here is cyclic: reference counting
    still frees it.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def object_id(model_id: str) -> str:
    """Stand-in Mongo `_id` (24 hex) for records that lack one."""
    return hashlib.md5(model_id.encode()).hexdigest()[:24]


def _namespace(model_id: str) -> str | None:
    return model_id.split("/", 1)[0] if "/" in model_id else None


def sha_of(rec: dict) -> str:
    return rec.get("sha") or hashlib.sha1(f"{rec['id']}@{_last_modified(rec)}".encode()).hexdigest()


def _object_id_of(rec: dict) -> str:
    return rec.get("_id") or object_id(rec["id"])


def _created(rec: dict) -> str:
    return rec.get("createdAt") or EPOCH


def _last_modified(rec: dict) -> str:
    return rec.get("lastModified") or _created(rec)


# Fields every rendered record has, with their fill-in when the record lacks them.
_FILLED: dict[str, Callable[[dict], object]] = {
    "_id": _object_id_of,
    "modelId": lambda r: r["id"],
    "sha": sha_of,
    "createdAt": _created,
    "lastModified": _last_modified,
    "private": lambda r: bool(r.get("private")),
    "gated": lambda r: r.get("gated") or False,
    "disabled": lambda r: bool(r.get("disabled")),
    "downloads": lambda r: r.get("downloads") or 0,
    "likes": lambda r: r.get("likes") or 0,
    "trendingScore": lambda r: r.get("trendingScore") or 0,
    "tags": lambda r: r.get("tags") or [],
    "siblings": lambda r: r.get("siblings") or [],
}


def _value(rec: dict, key: str) -> object:
    """A record's field as served, or _MISSING when the Hub would omit the key."""
    fill = _FILLED.get(key)
    if fill is not None:
        return fill(rec)
    value = _author(rec) if key == "author" else rec.get(key)
    return _MISSING if value is None else value


def render_record(rec: dict, keys: Iterable[str]) -> dict:
    out = {}
    for key in keys:
        value = _value(rec, key)
        if value is not _MISSING:
            out[key] = value
    return out


def _sort_getter(sort: str | None) -> Callable[[dict], int | float | str]:
    """The value a sort orders by (no sort: `_id`), as one cheap call: the hub calls it millions of times."""
    if sort is None:
        return _object_id_of
    if sort == "createdAt":
        return lambda rec: _date(_created(rec))
    if sort == "lastModified":
        return lambda rec: _date(_last_modified(rec))
    return lambda rec: _number(rec.get(sort))


def _date(value: object) -> str:
    """A sortable date: junk in a date field sorts as the epoch."""
    return value if isinstance(value, str) else EPOCH


def _number(value: object) -> int | float:
    """A sortable count: a record with junk in a numeric field sorts as 0, as it cannot be compared."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def _is_true(value: str) -> bool:
    return value.lower() in ("true", "1")


@dataclass(frozen=True)
class Cursor:
    """Keyset position: the (sort value, id) of the last model served.

    Resuming strictly after that key keeps a walk exact for every model that
    did not change, however many models are added, removed or edited meanwhile.
    """

    sort: str | None
    ascending: bool
    value: int | float | str
    model_id: str

    def encode(self) -> str:
        raw = json.dumps([self.sort, self.ascending, self.value, self.model_id], separators=(",", ":"))
        body = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        return f"{body}.{_sign(body)}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        body, _, sig = text.partition(".")
        if not hmac.compare_digest(sig, _sign(body)):
            raise BadCursor("Invalid cursor")
        try:
            sort, ascending, value, model_id = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (ValueError, TypeError, binascii.Error) as exc:
            raise BadCursor("Invalid cursor") from exc
        return cls(sort, ascending, value, model_id)


def _sign(body: str) -> str:
    return hmac.new(_CURSOR_KEY, body.encode(), hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class ListQuery:
    """A validated `GET /api/models` query."""

    filters: tuple[str, ...] = ()
    search: str | None = None
    author: str | None = None
    pipeline_tag: str | None = None
    library: str | None = None
    sort: str | None = None
    ascending: bool = False
    limit: int = 500
    keys: tuple[str, ...] = DEFAULT_ITEM_KEYS
    cursor: Cursor | None = None

    @classmethod
    def from_params(
        cls,
        params: Sequence[tuple[str, str]],
        *,
        default_limit: int = 500,
        limit_over_max: str = "400",
        ascending_created: bool = True,
    ) -> ListQuery:
        """Validate query-string pairs the way the Hub does; raise BadRequest otherwise.

        `limit_over_max` ("400" or "clamp") and `ascending_created` (allow
        `sort=createdAt&direction=1`) pick a reading where the contract is unsure.
        """
        multi: dict[str, list[str]] = {}
        for name, value in params:
            multi.setdefault(name, []).append(value)

        def last(name: str) -> str | None:
            return multi[name][-1] if name in multi else None

        sort = last("sort")
        if sort is not None and sort not in SORTS:
            raise BadRequest(f"Invalid sort parameter: {sort}")
        direction = last("direction")
        if direction not in (None, "-1", "1"):
            raise BadRequest(f"Invalid direction parameter: {direction}")
        ascending = direction == "1"
        if ascending and not (sort == "createdAt" and ascending_created):
            raise BadRequest("Sorting in ascending order is not supported")

        limit = _parse_limit(last("limit"), default_limit, limit_over_max)
        full, card, config = (_is_true(last(name) or "") for name in ("full", "cardData", "config"))
        expand = tuple(dict.fromkeys(multi.get("expand", []) + multi.get("expand[]", [])))
        if expand:
            if full or card or config:
                raise BadRequest("expand cannot be combined with full, cardData or config")
            _check_expand(expand, single=False)
            keys: tuple[str, ...] = ("_id", "id", *(k for k in expand if k not in ("_id", "id")))
        else:
            keys = FULL_ITEM_KEYS if full else DEFAULT_ITEM_KEYS
            if card:
                keys += ("cardData",)
            if config:
                keys += ("config",)

        search = last("search")
        cursor_text = last("cursor")
        cursor = Cursor.decode(cursor_text) if cursor_text is not None else None
        if cursor is not None and (cursor.sort, cursor.ascending) != (sort, ascending):
            raise BadCursor("Cursor does not belong to this query")
        return cls(
            filters=tuple(dict.fromkeys(multi.get("filter", []))),
            search=search.lower() if search else None,
            author=last("author") or None,
            pipeline_tag=last("pipeline_tag") or None,
            library=last("library") or None,
            sort=sort,
            ascending=ascending,
            limit=limit,
            keys=keys,
            cursor=cursor,
        )

    @property
    def forward(self) -> bool:
        """Walk the (value, id) order upwards: for createdAt ascending, and without sort (oldest `_id` first)."""
        return self.ascending or self.sort is None

    def facets(self) -> Iterator[tuple[str, str]]:
        """The (index, value) pairs the Hub's indexes can answer directly."""
        for tag in self.filters:
            yield "filter", tag
        for name in ("author", "pipeline_tag", "library"):
            value = getattr(self, name)
            if value is not None:
                yield name, value

    def matches(self, rec: dict) -> bool:
        tags = rec.get("tags") or ()
        return (
            all(tag in tags for tag in self.filters)
            and (self.search is None or self.search in rec["id"].lower())
            and (self.author is None or _author(rec) == self.author)
            and (self.pipeline_tag is None or rec.get("pipeline_tag") == self.pipeline_tag)
            and (self.library is None or rec.get("library_name") == self.library)
        )


def _parse_limit(text: str | None, default: int, over_max: str) -> int:
    if text is None:
        return default
    try:
        limit = int(text)
    except ValueError:
        raise BadRequest(f"Invalid limit parameter: {text}") from None
    if limit < 1:
        raise BadRequest(f"Invalid limit parameter: {text}")
    if limit > MAX_LIMIT:
        if over_max != "clamp":
            raise BadRequest(f"limit must be at most {MAX_LIMIT}")
        return MAX_LIMIT
    return limit


def _check_expand(names: Iterable[str], *, single: bool) -> None:
    allowed = EXPANDABLE | SINGLE_ONLY if single else EXPANDABLE
    for name in names:
        if name not in allowed:
            raise BadRequest(f"Invalid expand parameter: {name}")


def parse_model_expand(params: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """The `expand` / `expand[]` values of a single-model request, validated."""
    names = tuple(dict.fromkeys(v for k, v in params if k in ("expand", "expand[]")))
    _check_expand(names, single=True)
    return names


def revision_exists(rec: dict, revision: str) -> bool:
    """The replica keeps one revision per model: `main`, also known by its sha."""
    return revision in ("main", sha_of(rec))


def _author(rec: dict) -> str | None:
    return rec.get("author") or _namespace(rec["id"])


def _facet_values(rec: dict) -> Iterator[tuple[str, str]]:
    """The index entries of a record; a tag the record repeats comes out twice."""
    for tag in rec.get("tags") or ():
        if isinstance(tag, str):  # junk in a tag list matches no filter
            yield "filter", tag
    for facet, value in (
        ("author", _author(rec)),
        ("pipeline_tag", rec.get("pipeline_tag")),
        ("library", rec.get("library_name")),
    ):
        if isinstance(value, str):
            yield facet, value


class Hub:
    """A thread-safe in-memory Hub.

    It keeps the dicts it is given (no copy: a million records must fit), so
    callers change a model by `upsert`-ing a new dict, never by mutating one.
    Private models are stored (the single-model route must see them) but kept
    out of every listing index.
    """

    def __init__(self, records: Iterable[dict] = ()) -> None:
        self._lock = threading.RLock()
        self._by_id: dict[str, dict] = {}
        self._by_lower: dict[str, str] = {}
        self._orders: dict[str | None, list[str]] = {}
        self._facets: dict[str, dict[str, list[str]]] = {}
        with paused_gc():
            for rec in records:
                self._store(rec)
            self._build_indexes()

    @classmethod
    def from_jsonl(cls, paths: str | Path | Iterable[str | Path]) -> Hub:
        """Load one or several JSON-lines files; later records replace earlier ones by id."""
        if isinstance(paths, (str, Path)):
            paths = [paths]
        return cls(rec for path in paths for rec in read_jsonl(Path(path)))

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, model_id: str) -> dict | None:
        """The record for an id, matched exactly or else case-insensitively (as the Hub does)."""
        rec = self._by_id.get(model_id)
        if rec is None:
            canonical = self._by_lower.get(model_id.lower())
            rec = self._by_id.get(canonical) if canonical is not None else None
        return rec

    def upsert(self, record: dict) -> None:
        """Add a model, or replace the one with the same id (compared case-insensitively)."""
        if not isinstance(record.get("id"), str) or not record["id"]:
            raise ValueError("a record needs a non-empty string 'id'")
        with self._lock:
            old = self.get(record["id"])
            if old is record:
                raise ValueError("upsert a new dict: the hub indexed the fields of the one it holds")
            if old is not None:
                self._unindex(old)
            self._store(record)
            self._index(record)

    def remove(self, model_id: str) -> None:
        """Delete a model; KeyError when the hub has no such id."""
        with self._lock:
            rec = self.get(model_id)
            if rec is None:
                raise KeyError(model_id)
            self._unindex(rec)
            del self._by_id[rec["id"]]
            del self._by_lower[rec["id"].lower()]

    def list_models(self, query: ListQuery) -> tuple[list[dict], str | None]:
        """One page of a listing and the cursor of the next page (None on the last page)."""
        with self._lock:
            ids = self._candidates(query)
            key = self._key_func(query.sort)
            page: list[dict] = []
            for model_id in self._walk(ids, key, query):
                rec = self._by_id[model_id]
                if query.matches(rec):
                    page.append(rec)
                    if len(page) > query.limit:
                        break
            more = len(page) > query.limit
            page = page[: query.limit]
            items = [render_record(rec, query.keys) for rec in page]
            if not more:
                return items, None
            value, last_id = key(page[-1]["id"])
            return items, Cursor(query.sort, query.ascending, value, last_id).encode()

    def records(self) -> list[dict]:
        """Every record held, private ones included."""
        with self._lock:
            return list(self._by_id.values())

    def count_tagged(self, tag: str | None) -> int:
        """Public models with this tag (None: every public model)."""
        with self._lock:
            return len(self._orders[None]) if tag is None else len(self._facets["filter"].get(tag, ()))

    def most_liked(self, tag: str | None, offset: int, limit: int) -> list[dict]:
        """Public models with this tag (None: all), in the likes order the API walks, from ``offset``."""
        with self._lock:
            key = self._key_func("likes")
            ids = self._orders["likes"] if tag is None else sorted(self._facets["filter"].get(tag, ()), key=key)
            picked = ids[::-1][offset : offset + limit] if offset >= 0 else []
            return [self._by_id[model_id] for model_id in picked]

    def model_view(self, rec: dict, expand: Sequence[str] = ()) -> dict:
        """The body of `GET /api/models/{id}`: the full record, or `_id`, `id` and the expanded keys."""
        with self._lock:
            if not expand:
                extra = (k for k in rec if k not in MODEL_KEYS)
                return render_record(rec, (*MODEL_KEYS, *extra))
            out = render_record(rec, ("_id", "id", *(k for k in expand if k not in SINGLE_ONLY)))
            if "baseModels" in expand:
                base = self._base_models(rec)
                if base is not None:
                    out["baseModels"] = base
            if "childrenModelCount" in expand:
                out["childrenModelCount"] = self.children_count(rec["id"])
            if "usedStorage" in expand and rec.get("usedStorage") is not None:
                out["usedStorage"] = rec["usedStorage"]
            return out

    def _store(self, rec: dict) -> None:
        old = self._by_lower.get(rec["id"].lower())
        if old is not None and old != rec["id"]:
            del self._by_id[old]
        self._by_id[rec["id"]] = rec
        self._by_lower[rec["id"].lower()] = rec["id"]

    def _build_indexes(self) -> None:
        public = sorted((rec for rec in self._by_id.values() if not rec.get("private")), key=itemgetter("id"))
        ids = [rec["id"] for rec in public]
        for sort in (None, *SORTS):
            # A stable sort on the value alone keeps ties in id order: the (value, id) order, faster.
            values = list(map(_sort_getter(sort), public))
            self._orders[sort] = [ids[k] for k in sorted(range(len(ids)), key=values.__getitem__)]
        self._facets = {"filter": {}, "author": {}, "pipeline_tag": {}, "library": {}}
        for rec in public:
            self._add_facets(rec)

    def _add_facets(self, rec: dict) -> None:
        model_id = rec["id"]
        for facet, value in _facet_values(rec):
            ids = self._facets[facet].get(value)
            if ids is None:
                self._facets[facet][value] = [model_id]
            elif ids[-1] != model_id:  # a repeated tag is indexed once
                ids.append(model_id)

    def _index(self, rec: dict) -> None:
        if rec.get("private"):
            return
        for sort, order in self._orders.items():
            order.insert(bisect_left(order, (_sort_getter(sort)(rec), rec["id"]), key=self._key_func(sort)), rec["id"])
        self._add_facets(rec)

    def _unindex(self, rec: dict) -> None:
        if rec.get("private"):
            return
        for sort, order in self._orders.items():
            at = bisect_left(order, (_sort_getter(sort)(rec), rec["id"]), key=self._key_func(sort))
            del order[at]
        for facet, value in set(_facet_values(rec)):
            ids = self._facets[facet][value]
            ids.remove(rec["id"])
            if not ids:
                del self._facets[facet][value]

    def _key_func(self, sort: str | None) -> Callable[[str], tuple[int | float | str, str]]:
        by_id, value = self._by_id, _sort_getter(sort)
        return lambda model_id: (value(by_id[model_id]), model_id)

    def _candidates(self, query: ListQuery) -> list[str]:
        """The id list to walk: the hub-wide ordering, or a small index list sorted on the spot."""
        order = self._orders[query.sort]
        lists = [self._facets[facet].get(value, []) for facet, value in query.facets()]
        if not lists:
            return order
        smallest = min(lists, key=len)
        if len(smallest) * _SORT_RATIO > len(order):
            return order
        return sorted(smallest, key=self._key_func(query.sort))

    @staticmethod
    def _walk(ids: list[str], key: Callable[[str], tuple], query: ListQuery) -> Iterator[str]:
        """Ids in page order, starting just after the cursor."""
        cursor = query.cursor
        if query.forward:
            start = bisect_right(ids, (cursor.value, cursor.model_id), key=key) if cursor else 0
            yield from (ids[i] for i in range(start, len(ids)))
        else:
            stop = bisect_left(ids, (cursor.value, cursor.model_id), key=key) if cursor else len(ids)
            yield from (ids[i] for i in range(stop - 1, -1, -1))

    def _base_models(self, rec: dict) -> dict | None:
        """Immediate public parents of one relation (the first the tags name), as the Hub shows them."""
        relation = None
        models = []
        for tag in rec.get("tags") or ():
            parts = tag.split(":", 2)
            if len(parts) != 3 or parts[0] != "base_model" or parts[1] not in RELATIONS:
                continue
            relation = relation or parts[1]
            parent = self.get(parts[2])
            if parts[1] == relation and parent is not None and not parent.get("private"):
                models.append({"_id": _value(parent, "_id"), "id": parent["id"]})
        return {"relation": relation, "models": models} if models else None

    def children_count(self, model_id: str) -> dict[str, int]:
        """Public models whose tags name this one as parent, per relation (self-loops excluded)."""
        counts = {}
        for relation in RELATIONS:
            children = self._facets["filter"].get(f"base_model:{relation}:{model_id}", [])
            count = len(children) - (model_id in children)
            if count:
                counts[relation] = count
        return counts


def read_jsonl(path: Path) -> Iterator[dict]:
    """Records from a JSON-lines file; ValueError naming the line when one is not a model record."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
                raise ValueError(f"{path}:{number}: not a model record (no string 'id')")
            yield rec
