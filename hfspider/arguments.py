"""Spider arguments, checked in one place so a mistake is one clear line before anything runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hfspider.hub.endpoint import is_repo_id
from hfspider.hub.lineage import RELATIONS
from hfspider.secrets import mask
from hfspider.trees import TreeSpec

DIRECTIONS = ("down", "up", "both")
#: How ``model_tree`` reaches a family: list it, walk the whole Hub, or whichever costs fewer calls.
STRATEGIES = ("auto", "listing", "index")
#: Arguments every spider takes besides its own: what to fetch about each model it stores.
EXTRAS = ("cards", "spaces")


class ArgumentError(ValueError):
    """A spider argument is wrong; the message says which and what to do."""


def _int(name: str, value: Any, minimum: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ArgumentError(f"-a {name}={value!s}: expected a whole number >= {minimum}") from None
    if number < minimum:
        raise ArgumentError(f"-a {name}={number}: expected a whole number >= {minimum}")
    return number


#: A roots file is a list of model ids, not a data dump: bigger files and longer lines are mistakes.
ROOTS_FILE_MAX_BYTES = 16 * 1024 * 1024
LINE_MAX_CHARS = 1000


def _shown(value: str) -> str:
    """A value as an error message may quote it: short, and with token-shaped strings masked."""
    return repr(mask(value if len(value) <= 80 else value[:77] + "..."))


def _model_ids(values: list[str], where: str) -> list[str]:
    ids = [v.strip() for v in values if v.strip()]
    for value in ids:
        if mask(value) != value:
            raise ArgumentError(f"{where}: {_shown(value)} looks like an access token, not a model id; remove it")
        if not is_repo_id(value):
            raise ArgumentError(f"{where}: {_shown(value)} is not a model id; write it as ORG/NAME, e.g. google/gemma-2-2b-it")
    return list(dict.fromkeys(ids))


def _read_roots_file(path: str) -> list[str]:
    where = f"-a roots_file={path}"
    try:
        with Path(path).open("rb") as file:
            data = file.read(ROOTS_FILE_MAX_BYTES + 1)
    except OSError as error:
        raise ArgumentError(f"{where}: cannot read it ({error.strerror or error}); give a text file with one model id a line") from None
    if len(data) > ROOTS_FILE_MAX_BYTES:
        raise ArgumentError(f"{where}: larger than {ROOTS_FILE_MAX_BYTES // 2**20} MB; give a text file with one model id a line")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ArgumentError(f"{where}: not UTF-8 text (byte {error.start}); save it as UTF-8, one model id a line") from None
    for number, line in enumerate(text.splitlines(), 1):
        if len(line) > LINE_MAX_CHARS:
            raise ArgumentError(f"{where}: line {number} is {len(line)} characters long; write one model id a line")
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    ids = _model_ids(lines, f"-a roots_file={path}")
    if not ids:
        raise ArgumentError(f"-a roots_file={path}: no model ids in it; write one ORG/NAME a line")
    return ids


def _only_known(kwargs: Mapping[str, Any], spider: str, known: tuple[str, ...]) -> None:
    """A misspelt argument would otherwise be ignored silently (``_job`` is scrapyd's)."""
    unknown = sorted(set(kwargs) - {*known, *EXTRAS, "_job"})
    if unknown:
        raise ArgumentError(f"unknown argument -a {unknown[0]}=...; {spider} takes {', '.join((*known, *EXTRAS))}")


@dataclass(frozen=True)
class TreeArguments:
    """What ``model_tree`` was asked to crawl."""

    roots: tuple[str, ...]
    top: int | None
    max_depth: int | None
    relations: tuple[str, ...]
    direction: str
    strategy: str = "auto"
    keep_all: bool = False

    @classmethod
    def parse(cls, kwargs: Mapping[str, Any], spider: str = "model_tree") -> TreeArguments:
        known = ("root", "roots_file", "top", "max_depth", "relations", "direction")
        # model_pages reads pages: it has no strategy to choose and no walk whose rows to keep.
        _only_known(kwargs, spider, (*known, "strategy", "keep_all") if spider == "model_tree" else known)
        roots: list[str] = []
        if kwargs.get("root") is not None:
            roots += _model_ids(str(kwargs["root"]).split(","), f"-a root={kwargs['root']}")
        if kwargs.get("roots_file") is not None:
            roots += _read_roots_file(str(kwargs["roots_file"]))
        top = _int("top", kwargs["top"], 1) if kwargs.get("top") is not None else None
        if not roots and top is None:
            raise ArgumentError("no root given; use -a root=ORG/NAME (several: a,b), -a roots_file=PATH or -a top=N")
        max_depth = _int("max_depth", kwargs["max_depth"], 0) if kwargs.get("max_depth") is not None else None
        relations = tuple(
            dict.fromkeys(r.strip().lower() for r in str(kwargs.get("relations") or ",".join(RELATIONS)).split(",") if r.strip())
        )
        wrong = [r for r in relations if r not in RELATIONS]
        if wrong or not relations:
            raise ArgumentError(f"-a relations={kwargs.get('relations')}: choose from {','.join(RELATIONS)}")
        direction = str(kwargs.get("direction") or "down").strip().lower()
        if direction not in DIRECTIONS:
            raise ArgumentError(f"-a direction={kwargs.get('direction')}: choose down, up or both")
        strategy = str(kwargs.get("strategy") or "auto").strip().lower()
        if strategy not in STRATEGIES:
            raise ArgumentError(f"-a strategy={kwargs.get('strategy')}: choose auto (default), listing or index")
        keep_all = _flag("keep_all", kwargs.get("keep_all"), "1 to keep every model a walk lists, 0 (default) for the families' only")
        return cls(tuple(dict.fromkeys(roots)), top, max_depth, tuple(sorted(relations)), direction, strategy, keep_all)

    @property
    def all_relations(self) -> bool:
        """Following every relation, including edges whose relation the Hub left unknown."""
        return set(self.relations) == set(RELATIONS)

    @property
    def spec(self) -> TreeSpec:
        """The family asked for, as tree derivation takes it."""
        return TreeSpec(self.direction, self.max_depth, None if self.all_relations else self.relations)


@dataclass(frozen=True)
class IndexArguments:
    """What ``hub_index`` lists: the whole Hub, or the part these API parameters select."""

    author: str | None
    search: str | None
    pipeline_tag: str | None
    library: str | None
    filter: tuple[str, ...]

    @classmethod
    def parse(cls, kwargs: Mapping[str, Any]) -> IndexArguments:
        _only_known(kwargs, "hub_index", ("author", "search", "pipeline_tag", "library", "filter", "full"))
        text = {
            k: str(kwargs[k]).strip() or None if kwargs.get(k) is not None else None
            for k in ("author", "search", "pipeline_tag", "library")
        }
        tags = tuple(dict.fromkeys(t.strip() for t in str(kwargs.get("filter") or "").split(",") if t.strip()))
        return cls(text["author"], text["search"], text["pipeline_tag"], text["library"], tags)

    def params(self) -> list[tuple[str, str]]:
        """The listing parameters, in the Hub's own names."""
        named = [
            (k, v)
            for k, v in (("author", self.author), ("search", self.search), ("pipeline_tag", self.pipeline_tag), ("library", self.library))
            if v
        ]
        return named + [("filter", tag) for tag in self.filter]


def _flag(name: str, given: Any, meaning: str) -> bool:
    value = str("0" if given is None else given).strip().lower()
    if value not in ("0", "1", "true", "false", "yes", "no"):
        raise ArgumentError(f"-a {name}={given}: use {meaning}")
    return value in ("1", "true", "yes")


def full_flag(kwargs: Mapping[str, Any]) -> bool:
    """``-a full=1``: list everything even when an earlier run makes a refresh possible."""
    return _flag("full", kwargs.get("full"), "1 to list everything, 0 (default) to refresh")


@dataclass(frozen=True)
class Extras:
    """What to fetch about each model a spider stores: its card (``cards=1``), the Spaces using it (``spaces=1``).

    Not part of the crawl key: they add to a family crawl, they do not make it another one.
    """

    cards: bool = False
    spaces: bool = False

    @classmethod
    def parse(cls, kwargs: Mapping[str, Any]) -> Extras:
        return cls(
            _flag("cards", kwargs.get("cards"), "1 to store each model's card (README.md), 0 (default) not to"),
            _flag("spaces", kwargs.get("spaces"), "1 to store the Spaces that use each model, 0 (default) not to"),
        )
