"""The replica's HTTP face: routes, errors, rate-limit headers, latency and injected faults.

What the Hub answers, and how, follows the Hub API as hfspider relies on it
(listing, model info, error table, RateLimit headers); the data and query
semantics live in `store.py`.
"""

from __future__ import annotations

import json
import math
import random
import socket
import struct
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from types import TracebackType
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from .store import BadCursor, BadRequest, Hub, ListQuery, parse_model_expand, revision_exists, sha_of
from .website import Pages, Website, card_path, not_found_page, rate_limited_page, space_record

FAULT_KINDS = ("500", "502", "503", "504", "reset", "truncate", "slow", "garbage")
#: What a "garbage" fault answers with status 200: a page from some proxy, not JSON.
GARBAGE = b"<html><body><h1>502 Bad Gateway</h1>upstream sent an invalid response</body></html>"
#: What `hostile_link` can make listing answers carry instead of the real next page.
HOSTILE_LINKS = ("file", "other-host", "endless")
#: The "file" mode's next page: a local file, which a crawler must never read.
FILE_LINK = "file:///etc/hostname"
UNLIMITED = 10**9  # the quota the headers announce when none is set
INVALID_LOGIN = "Invalid username or password."
DISABLED = "Access to this resource is disabled."

Request = tuple[str, str, int, str | None]  # method, path with query, status (0: reset), Authorization
#: The Hub's three budgets; `/robots.txt` counts in none.
BUCKETS = ("api", "pages", "resolvers")
HTML = "text/html; charset=utf-8"


@dataclass
class _Response:
    status: int
    body: object
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "application/json; charset=utf-8"


def bucket_of(path: str) -> str | None:
    """Which budget a request path spends: files (also `/api/resolve-cache/`), the API, or pages."""
    path = path.split("?", 1)[0]
    if path == "/robots.txt":
        return None
    if path.startswith("/api/resolve-cache/") or "/resolve/" in path or "/raw/" in path:
        return "resolvers"
    return "api" if path.startswith("/api/") or path == "/api" else "pages"


def _error(status: int, message: str, code: str | None = None) -> _Response:
    """An error the Hub's way: JSON body, message repeated in X-Error-Message."""
    headers = [("X-Error-Message", message)]
    if code is not None:
        headers.append(("X-Error-Code", code))
    return _Response(status, {"error": message}, headers)


class _RateLimiter:
    """One bucket counted over fixed windows aligned on the server's start."""

    def __init__(self, quota: int | None, window: float, name: str = "api") -> None:
        self.quota, self.window, self.name = quota, window, name
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._current: tuple[int, float] = (-1, window)
        self._used = 0

    def take(self) -> _Budget:
        """Count one request unless the window is spent; 429s do not count."""
        with self._lock:
            quota = UNLIMITED if self.quota is None else self.quota
            elapsed = time.monotonic() - self._start
            current = (int(elapsed // self.window), self.window)
            if current != self._current:
                self._current, self._used = current, 0
            allowed = self._used < quota
            self._used += allowed
            reset = max(1, math.ceil((current[0] + 1) * self.window - elapsed))
            return _Budget(allowed, quota - self._used, reset, quota, self.window, self.name)


@dataclass(frozen=True)
class _Budget:
    """The outcome of one `_RateLimiter.take`, as the Hub reports it (IETF ratelimit-headers draft 9)."""

    allowed: bool
    remaining: int
    reset: int
    quota: int
    window: float
    name: str = "api"

    def headers(self) -> list[tuple[str, str]]:
        return [
            ("RateLimit", f'"{self.name}";r={self.remaining};t={self.reset}'),
            ("RateLimit-Policy", f'"fixed window";"{self.name}";q={self.quota};w={self.window:g}'),
        ]


class _Faults:
    """Seeded draw of one fault (or none) per request."""

    def __init__(self, rates: Mapping[str, float] | None, seed: int) -> None:
        rates = dict(rates or {})
        unknown = set(rates) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(FAULT_KINDS)}")
        if any(rate < 0 for rate in rates.values()) or sum(rates.values()) > 1:
            raise ValueError("fault rates must be >= 0 and add up to at most 1")
        self.rates = rates
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def draw(self) -> str | None:
        if not self.rates:
            return None
        with self._lock:
            roll = self._rng.random()
        for kind, rate in self.rates.items():
            if roll < rate:
                return kind
            roll -= rate
        return None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], replica: ReplicaServer) -> None:
        self.replica = replica
        super().__init__(address, _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hanging up (or our own resets) are normal here; anything else is a bug to show."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as crawlers expect
    server_version = "hub-replica"
    timeout = 60  # let idle keep-alive threads go
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle + delayed ACK add 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self.server.replica.serve(self)

    def log_message(self, format: str, *args: object) -> None:
        """Silence the per-request stderr line: `ReplicaServer.requests` is the log."""


class ReplicaServer:
    """A Hugging Face Hub look-alike on 127.0.0.1, serving a `Hub` from a daemon thread.

    `quota`, `window`, `retry_after`, `latency`, `faults` and `hostile_link` may
    be changed while it runs. `hostile_link` makes every listing answer steer
    the crawler astray (None, the default, is the Hub's behaviour):

    - "file": `Link` points at `FILE_LINK`, a local file, on every listing page,
      last page included;
    - "other-host": `Link` points at the real next page's path and query (the
      page's own on the last page) at `other_host`: `localhost` instead of
      the numeric address, same port, never any other machine;
    - "endless": whatever its cursor, every page answers the listing's first
      page, with a `Link` to a cursor never issued before: a listing that never
      ends and brings nothing new.

    Where the contract is unsure: `limit_over_max` ("400" or "clamp"),
    `bad_cursor` ("400" or "empty": a 200 with `[]`), `default_limit` (page size
    when the request has no `limit`) and `ascending_created` (accept
    `sort=createdAt&direction=1`).
    """

    def __init__(
        self,
        hub: Hub,
        quota: int | None = None,
        window: float = 300,
        retry_after: bool = False,
        latency: float = 0.0,
        limit_over_max: str = "400",
        faults: Mapping[str, float] | None = None,
        *,
        faults_seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        default_limit: int = 500,
        bad_cursor: str = "400",
        ascending_created: bool = True,
        slow_seconds: float = 2.0,
        hostile_link: str | None = None,
        site: Website | None = None,
        page_quota: int | None = None,
        resolver_quota: int | None = None,
    ) -> None:
        if limit_over_max not in ("400", "clamp"):
            raise ValueError("limit_over_max must be '400' or 'clamp'")
        if bad_cursor not in ("400", "empty"):
            raise ValueError("bad_cursor must be '400' or 'empty'")
        if not 1 <= default_limit <= 1000:
            raise ValueError("default_limit must be between 1 and 1000")
        if not 0 <= port <= 65535:
            raise ValueError("port must be between 0 and 65535")
        self.hub = hub
        self.site = site or Website()
        self.pages = Pages(hub, self.site)
        self._limiters = {name: _RateLimiter(None, 300, name) for name in BUCKETS}
        self._limiter = self._limiters["api"]
        self.quota, self.window = quota, window
        self.page_quota, self.resolver_quota = page_quota, resolver_quota
        self.retry_after = retry_after
        self.latency = latency
        self._faults = _Faults(faults, faults_seed)
        self._faults_seed = faults_seed
        self.limit_over_max, self.bad_cursor = limit_over_max, bad_cursor
        self.default_limit, self.ascending_created = default_limit, ascending_created
        self.slow_seconds = slow_seconds
        self.hostile_link = hostile_link
        self._endless = count(1)
        self.requests: list[Request] = []
        self.request_times: list[float] = []  # time.monotonic() of each entry of `requests`
        self._log_lock = threading.Lock()
        self._address = (host, port)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def quota(self) -> int | None:
        return self._limiter.quota

    @quota.setter
    def quota(self, value: int | None) -> None:
        if value is not None and value < 1:
            raise ValueError("quota must be >= 1 or None")
        self._limiter.quota = value

    @property
    def page_quota(self) -> int | None:
        """HTML pages per window (the `pages` bucket)."""
        return self._limiters["pages"].quota

    @page_quota.setter
    def page_quota(self, value: int | None) -> None:
        if value is not None and value < 1:
            raise ValueError("page_quota must be >= 1 or None")
        self._limiters["pages"].quota = value

    @property
    def resolver_quota(self) -> int | None:
        """File downloads per window (the `resolvers` bucket)."""
        return self._limiters["resolvers"].quota

    @resolver_quota.setter
    def resolver_quota(self, value: int | None) -> None:
        if value is not None and value < 1:
            raise ValueError("resolver_quota must be >= 1 or None")
        self._limiters["resolvers"].quota = value

    @property
    def window(self) -> float:
        return self._limiter.window

    @window.setter
    def window(self, value: float) -> None:
        """One window length for the three buckets."""
        if value <= 0:
            raise ValueError("window must be > 0")
        for limiter in self._limiters.values():
            limiter.window = value

    @property
    def latency(self) -> float:
        return self._latency

    @latency.setter
    def latency(self, value: float) -> None:
        if value < 0:
            raise ValueError("latency must be >= 0")
        self._latency = value

    @property
    def faults(self) -> dict[str, float]:
        return self._faults.rates

    @faults.setter
    def faults(self, value: Mapping[str, float] | None) -> None:
        self._faults = _Faults(value, self._faults_seed)

    @property
    def hostile_link(self) -> str | None:
        return self._hostile_link

    @hostile_link.setter
    def hostile_link(self, value: str | None) -> None:
        if value is not None and value not in HOSTILE_LINKS:
            raise ValueError(f"hostile_link must be None or one of: {', '.join(HOSTILE_LINKS)}")
        self._hostile_link = value

    @property
    def other_host(self) -> str:
        """This server under another name: ``localhost`` and the same port (the server's own URL has its numeric address)."""
        if self._httpd is None:
            raise RuntimeError("the replica is not started")
        return f"http://localhost:{self._httpd.server_address[1]}"

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the replica is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ReplicaServer:
        """Bind (port 0: any free port) and serve from a daemon thread."""
        if self._httpd is not None:
            raise RuntimeError("the replica is already started")
        self._httpd = _HTTPServer(self._address, self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="hub-replica", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        assert self._thread is not None
        self._thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> ReplicaServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def reset_log(self) -> None:
        with self._log_lock:
            self.requests.clear()
            self.request_times.clear()

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        """Answer one request: latency, then the rate limit of its bucket, then maybe a fault, else the route."""
        auth = handler.headers.get("Authorization")
        if self.latency:
            time.sleep(self.latency)
        bucket = bucket_of(handler.path)
        if bucket is None:
            response = _Response(200, self.site.robots.encode(), content_type="text/plain; charset=utf-8")
            self._log(handler, response.status, auth)
            _write(handler, response, truncate=False)
            return
        budget = self._limiters[bucket].take()
        fault = None
        if not budget.allowed:
            if bucket == "pages":  # a big HTML page, no Retry-After, no error code
                response = _Response(429, rate_limited_page().encode(), content_type=HTML)
            else:
                response = _error(429, "You have exceeded our rate limit. Please retry later.")
                if self.retry_after:
                    response.headers.append(("Retry-After", str(budget.reset)))
        else:
            fault = self._faults.draw()
            if fault == "reset":
                self._log(handler, 0, auth)
                _reset(handler)
                return
            if fault is not None and fault.isdigit():
                response = _error(int(fault), "Internal Error - We're working hard to fix this as soon as possible!")
            elif fault == "garbage":
                response = _Response(200, GARBAGE)
            else:
                response = self._route(handler.path, auth)
        if fault == "slow":
            time.sleep(self.slow_seconds)
        response.headers.extend(budget.headers())
        self._log(handler, response.status, auth)
        _write(handler, response, truncate=fault == "truncate")

    def _log(self, handler: BaseHTTPRequestHandler, status: int, auth: str | None) -> None:
        # Logged before the answer goes out, so a client that has its answer sees the entry.
        with self._log_lock:
            self.requests.append((handler.command, handler.path, status, auth))
            self.request_times.append(time.monotonic())

    def _route(self, target: str, auth: str | None) -> _Response:
        parts = urlsplit(target)
        params = parse_qsl(parts.query, keep_blank_values=True)
        if auth is not None and not auth.startswith("Bearer hf_"):
            return _error(401, "Invalid credentials in Authorization header")
        path = parts.path.rstrip("/")
        if path == "/api/models":
            return self._list(params)
        if path.startswith("/api/models/"):
            return self._model(path.removeprefix("/api/models/"), params, auth is not None)
        if path == "/api/spaces":
            return self._spaces(params)
        if path.startswith("/api/resolve-cache/models/"):
            return self._cached_file(path.removeprefix("/api/resolve-cache/models/"))
        segments = [unquote(s) for s in path.split("/")[1:]]
        if "resolve" in segments[1:3] or "raw" in segments[1:3]:
            return self._card(segments, auth)
        if path == "/models":
            return self._web_listing(params)
        if path.startswith("/api") or not 1 <= len(segments) <= 2 or not all(segments):
            return _error(404, "Sorry, we can't find the page you are looking for.")
        return self._model_page("/".join(segments))

    # -- the website ---------------------------------------------------------------

    def _model_page(self, model_id: str) -> _Response:
        renamed = self.site.renames.get(model_id) or {k.lower(): v for k, v in self.site.renames.items()}.get(model_id.lower())
        if renamed is not None:
            return _Response(301, b"", [("Location", f"/{quote(renamed, safe='/')}")], content_type=HTML)
        rec = self.hub.get(model_id)
        if rec is None or rec.get("private"):
            return _Response(404, not_found_page().encode(), content_type=HTML)
        if rec.get("disabled"):
            return _Response(403, not_found_page().encode(), content_type=HTML)
        return _Response(200, self.pages.model_page(rec).encode(), content_type=HTML)

    def _web_listing(self, params: list[tuple[str, str]]) -> _Response:
        """`/models?other=base_model:R:ID&p=N` (or without `other`: every model), 30 a page."""
        values = dict(params)
        tag = values.get("other") or None
        try:
            page = int(values.get("p", "0"))
        except ValueError:
            page = 0
        return _Response(200, self.pages.listing(tag, page).encode(), content_type=HTML)

    def _card(self, segments: list[str], auth: str | None) -> _Response:
        """`/ORG/NAME/resolve/REV/README.md`: 307 to the resolve cache; `/raw/` answers the text itself."""
        at = 2 if len(segments) > 2 and segments[2] in ("resolve", "raw") else 1
        model_id, kind, rest = "/".join(segments[:at]), segments[at], segments[at + 1 :]
        rec = self.hub.get(model_id)
        if rec is None or rec.get("private"):
            return _error(404, "Repository not found", "RepoNotFound") if auth else _error(401, INVALID_LOGIN)
        if rec.get("gated"):
            message = "Access to model is restricted. You must have access to it and be authenticated to access it."
            return _error(403 if auth else 401, message, "GatedRepo")
        if len(rest) != 2 or rest[1] != "README.md" or not revision_exists(rec, rest[0]) or self.pages.card(rec) is None:
            return _error(404, "Entry not found", "EntryNotFound")
        if kind == "raw":
            return _Response(200, self.pages.card(rec).encode(), content_type="text/plain; charset=utf-8")
        return _Response(307, b"", [("Location", card_path(rec, sha_of(rec)))], content_type="text/plain; charset=utf-8")

    def _cached_file(self, rest: str) -> _Response:
        segments = [unquote(s) for s in rest.split("/")]
        if len(segments) < 3 or segments[-1] != "README.md":
            return _error(404, "Entry not found", "EntryNotFound")
        rec = self.hub.get("/".join(segments[:-2]))
        text = self.pages.card(rec) if rec is not None and not rec.get("private") else None
        if text is None or segments[-2] != sha_of(rec):
            return _error(404, "Entry not found", "EntryNotFound")
        return _Response(200, text.encode(), content_type="text/markdown; charset=utf-8")

    def _spaces(self, params: list[tuple[str, str]]) -> _Response:
        """`/api/spaces?models=ID&limit=N`: the Spaces using a model, by likes, paged by `Link`."""
        values = dict(params)
        try:
            limit = min(int(values.get("limit", "1000")), 1000)
            start = int(values.get("cursor", "0"))
        except ValueError:
            return _error(400, "Invalid limit or cursor")
        if limit < 1 or start < 0:
            return _error(400, "Invalid limit or cursor")
        model = values.get("models")
        spaces = self.site.spaces_using(self.hub, model) if model else []
        response = _Response(200, [space_record(s) for s in spaces[start : start + limit]])
        if start + limit < len(spaces):
            kept = [(k, v) for k, v in params if k != "cursor"]
            response.headers.append(("Link", f'<{self.url}/api/spaces?{urlencode([*kept, ("cursor", start + limit)])}>; rel="next"'))
        return response

    def _list(self, params: list[tuple[str, str]]) -> _Response:
        hostile = self.hostile_link
        if hostile == "endless":  # any cursor reads as the first page
            params = [(name, value) for name, value in params if name != "cursor"]
        try:
            query = ListQuery.from_params(
                params,
                default_limit=self.default_limit,
                limit_over_max=self.limit_over_max,
                ascending_created=self.ascending_created,
            )
        except BadCursor as exc:
            return _Response(200, []) if self.bad_cursor == "empty" else _error(400, str(exc))
        except BadRequest as exc:
            return _error(400, str(exc))
        items, cursor = self.hub.list_models(query)
        response = _Response(200, items)
        kept = [(name, value) for name, value in params if name != "cursor"]
        if hostile == "endless":
            cursor = f"endless-{next(self._endless)}"
        if hostile == "file":
            target: str | None = FILE_LINK
        elif hostile == "other-host":
            target = f"{self.other_host}/api/models?{urlencode([*kept, ('cursor', cursor)] if cursor else params)}"
        elif cursor is not None:
            target = f"{self.url}/api/models?{urlencode([*kept, ('cursor', cursor)])}"
        else:
            target = None
        if target is not None:
            response.headers.append(("Link", f'<{target}>; rel="next"'))
        return response

    def _model(self, rest: str, params: list[tuple[str, str]], authenticated: bool) -> _Response:
        segments = [unquote(s) for s in rest.split("/")]
        revision = None
        if len(segments) in (3, 4) and segments[-2] == "revision":
            segments, revision = segments[:-2], segments[-1]
        if len(segments) > 2 or not all(segments) or revision == "":
            return _error(404, "Sorry, we can't find the page you are looking for.")
        rec = self.hub.get("/".join(segments))
        if rec is None or rec.get("private"):
            if not authenticated:
                return _error(401, INVALID_LOGIN)
            return _error(404, "Repository not found", "RepoNotFound")
        if rec.get("disabled"):
            return _error(403, DISABLED)
        if revision is not None and not revision_exists(rec, revision):
            return _error(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        try:
            expand = parse_model_expand(params)
        except BadRequest as exc:
            return _error(400, str(exc))
        return _Response(200, self.hub.model_view(rec, expand))


def _write(handler: BaseHTTPRequestHandler, response: _Response, *, truncate: bool) -> None:
    body = response.body if isinstance(response.body, bytes) else json.dumps(response.body, separators=(",", ":")).encode()
    handler.send_response(response.status)
    for name, value in response.headers:
        handler.send_header(name, value)
    handler.send_header("Content-Type", response.content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if truncate:  # the full Content-Length announced, half the body sent
        handler.wfile.write(body[: len(body) // 2])
        handler.close_connection = True
    else:
        handler.wfile.write(body)


def _reset(handler: BaseHTTPRequestHandler) -> None:
    """Drop the connection unanswered, with a TCP RST (linger 0) rather than a polite FIN."""
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.connection.close()
    handler.close_connection = True
