"""Settings checked in one place, so a mistyped ``-s NAME=VALUE`` is one clear line before anything runs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from hfspider.hub.endpoint import check_endpoint, endpoint
from hfspider.render import render_problem


class SettingError(ValueError):
    """A setting is wrong; the message says which and what to give instead."""


def _number(settings: Any, name: str, kind: type, minimum: float, strict: bool = False) -> None:
    raw = settings.get(name)
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        value = None
    if value is None or not math.isfinite(value) or value < minimum or (strict and value == minimum):
        what = "a whole number" if kind is int else "a number"
        bound = f"above {minimum:g}" if strict else f">= {minimum:g}"
        raise SettingError(f"-s {name}={raw}: expected {what} {bound}")


def _folder(settings: Any, name: str) -> None:
    value = settings.get(name)
    if value and Path(value).exists() and not Path(value).is_dir():
        raise SettingError(f"-s {name}={value}: that is a file; give a folder (it is created if missing)")


def check_settings(settings: Any) -> None:
    """Raise ``SettingError`` for the first setting hfspider cannot run with."""
    _number(settings, "HFSPIDER_BATCH_SIZE", int, 1)
    _number(settings, "HFSPIDER_FLUSH_SECONDS", float, 0, strict=True)
    _number(settings, "RETRY_TIMES", int, 0)
    _number(settings, "HFSPIDER_RETRY_PASSES", int, 0)
    _number(settings, "HFSPIDER_RETRY_PASS_DELAY", float, 0)
    _number(settings, "CONCURRENT_REQUESTS", int, 1)
    _number(settings, "DOWNLOAD_MAXSIZE", int, 0)
    _number(settings, "HFSPIDER_INDEX_PAGES", int, 1)
    _number(settings, "HFSPIDER_INDEX_MAX_AGE", float, 0)
    _folder(settings, "HFSPIDER_OUTPUT")
    _folder(settings, "JOBDIR")
    if settings.get("REDIS_URL"):
        if not str(settings.get("HFSPIDER_DB_URL") or "").startswith("postgresql"):
            raise SettingError(
                "-s REDIS_URL: the workers of a shared crawl need one database they all reach; "
                "add -s HFSPIDER_DB_URL=postgresql+psycopg://USER@HOST/DB (SQLite is one machine's file)"
            )
        if settings.get("JOBDIR"):
            raise SettingError("-s JOBDIR: a crawl shared through REDIS_URL keeps its queue in Redis; leave JOBDIR out")
        _number(settings, "HFSPIDER_WORKER_TIMEOUT", float, 0, strict=True)
    _number(settings, "HFSPIDER_RENDER_TIMEOUT", float, 0, strict=True)
    problem = check_endpoint(endpoint(settings.get("HF_ENDPOINT"))) or render_problem(settings)
    if problem:
        raise SettingError(problem)
