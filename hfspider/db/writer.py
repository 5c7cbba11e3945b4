"""Batches written by a process of their own, so that a whole-Hub listing's upserts run on a second core.

Upserting a model costs the database driver about as much CPU as reading it from
the Hub did, and threads share one core (SQLite hands the GIL back only for each
row's step). So the crawl sends each batch to a child process that owns its own
connection and writes them one after another, in order, each as one
transaction (``Database.write_batch``). A batch travels as an anonymous
in-memory file whose descriptor is passed over a Unix socket: the crawl never
waits for the child to read it, and a killed crawl leaves nothing behind.

The child dies with the crawl (a kill loses what was in flight, no more), stops
writing at the first database error (nothing after a missing batch is
committed), and after a refused model keeps the walk's resume point where it
was (as the crawl's own store does), so the same command asks for it again.
"""

from __future__ import annotations

import ctypes
import gc
import os
import pickle
import signal
import socket
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import msgspec
import orjson

from hfspider.db.database import Batch, Database, Rows
from hfspider.db.engine import DatabaseError, dispose
from hfspider.items import EdgeItem, ModelItem

#: Batches sent and not yet written before the crawl waits for the oldest: enough to keep the child busy.
IN_FLIGHT = 3
_PR_SET_PDEATHSIG = 1
_URL = "HFSPIDER_WRITER_URL"
#: The writer's CPU priority below the crawl's: its batches may wait a moment, the crawl's next request
#: (and, on one machine, the Hub replica's answer) may not. On two cores a 300,000-model walk took 10.6 s
#: instead of 11.9.
NICENESS = 10

# Decoding a batch into dicts cost the writer more than SQLite's work: msgspec reads each model straight
# into a tuple of its columns, and leaves the JSON columns as the text the database stores.
_MODEL_COLUMNS = tuple(f.name for f in fields(ModelItem))
_EDGE_COLUMNS = tuple(f.name for f in fields(EdgeItem))
_JSON_COLUMNS = ("tags", "card_data")
_ModelRow = msgspec.defstruct(
    "_ModelRow", [(name, msgspec.Raw if name in _JSON_COLUMNS else Any) for name in _MODEL_COLUMNS], forbid_unknown_fields=True
)
_EdgeRow = msgspec.defstruct("_EdgeRow", [(name, Any) for name in _EDGE_COLUMNS], forbid_unknown_fields=True)
_ROWS = msgspec.json.Decoder(tuple[list[_ModelRow], list[_EdgeRow]])  # type: ignore[valid-type]
_JSON_AT = tuple(_MODEL_COLUMNS.index(name) for name in _JSON_COLUMNS)


@dataclass(frozen=True)
class Written:
    """What the child answered for one batch, with the batch's size: models it refused (and why), or the error."""

    models: int
    edges: int
    refused: dict[str, str]
    error: str | None = None


def encode(batch: Batch, models: list[Any], edges: list[Any]) -> bytes:
    """A batch as bytes: the rows by orjson (models and edges may be dataclasses or dicts), after the rest,
    pickled, and its length. What orjson refuses (an integer past 64 bits) is pickled as dicts."""
    try:
        rows = orjson.dumps([models, edges])
    except TypeError:
        rows = b""
        batch = replace(batch, models=[_row(m) for m in models], edges=[_row(e) for e in edges])
    head = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
    return b"".join((len(head).to_bytes(8, "big"), head, rows))


def decode(data: bytes | memoryview, driver_rows: bool = False) -> Batch:
    """The batch ``encode`` made; with ``driver_rows``, whole models and edges come as ``Rows`` (SQLite's)."""
    view = memoryview(data)
    size = int.from_bytes(view[:8], "big")
    batch: Batch = pickle.loads(view[8 : 8 + size])
    rows = view[8 + size :]
    if rows:
        found = _as_rows(rows) if driver_rows else None
        batch.models, batch.edges = found or orjson.loads(rows)
    return batch


def _as_rows(data: bytes | memoryview) -> tuple[Rows, Rows] | None:
    """Models and edges as ``Rows``, or None when they are not whole items (rows of some columns only)."""
    try:
        found_models, found_edges = _ROWS.decode(data)
    except msgspec.ValidationError:
        return None
    # A model's first_seen_at is its fetched_at (kept on later writes): the last column.
    models = Rows((*_MODEL_COLUMNS, "first_seen_at"), [(*row, row[-1]) for row in map(_driver_values, found_models)])
    return models, Rows(_EDGE_COLUMNS, list(map(msgspec.structs.astuple, found_edges)))


def _driver_values(row: Any) -> tuple[Any, ...]:
    values = list(msgspec.structs.astuple(row))
    for at in _JSON_AT:
        raw = bytes(values[at])
        values[at] = None if raw == b"null" else raw.decode()  # JSON null is SQL NULL, as the column type writes it
    return tuple(values)


def _row(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else dict(vars(value))


def _anonymous_file() -> int:
    """A descriptor of a file no other process can find: in memory on Linux, unlinked in the temp folder elsewhere."""
    if hasattr(os, "memfd_create"):
        return os.memfd_create("hfspider-batch", os.MFD_CLOEXEC)
    return os.dup(tempfile.TemporaryFile().fileno())


class BatchWriter:
    """The crawl's end of the writer: ``send`` batches, take what was written from ``results``."""

    def __init__(self, url: str) -> None:
        self._batches, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        results_in, results_out = os.pipe()
        command = [sys.executable, "-m", "hfspider.db.writer", str(theirs.fileno()), str(results_out), str(os.getpid())]
        # The URL in the environment, not the command line: it may hold a password, and anyone may read `ps`.
        # hfspider's folder on the path: the package is importable wherever the crawl was started.
        paths = [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")]
        env = {**os.environ, _URL: url, "PYTHONPATH": os.pathsep.join(filter(None, paths))}
        self._process = subprocess.Popen(command, pass_fds=(theirs.fileno(), results_out), stdin=subprocess.DEVNULL, env=env)
        theirs.close()
        os.close(results_out)
        self._results = Connection(results_in, writable=False)
        self._pending: deque[tuple[int, int]] = deque()

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._process.pid

    def send(self, batch: Batch, models: list[Any], edges: list[Any]) -> None:
        """Hand a batch over, without waiting for it to be written (``results`` says when). Raises
        ``DatabaseError`` if the child is gone."""
        data = encode(batch, models, edges)
        fd = _anonymous_file()
        try:
            with os.fdopen(os.dup(fd), "wb") as file:
                file.write(data)
            socket.send_fds(self._batches, [b"b"], [fd])
        except OSError:
            raise DatabaseError(self._gone()) from None
        finally:
            os.close(fd)
        self._pending.append((len(models), len(edges)))

    def results(self, wait: bool = False) -> Iterator[Written]:
        """What has been written since the last call, in the order sent; with ``wait``, everything sent.
        Beyond ``IN_FLIGHT`` unwritten batches it waits for the oldest in any case."""
        while self._pending and (wait or len(self._pending) >= IN_FLIGHT or self._results.poll()):
            try:
                refused, error = self._results.recv()
            except (EOFError, OSError):
                raise DatabaseError(self._gone()) from None
            models, edges = self._pending.popleft()
            yield Written(models, edges, refused, error)

    def close(self) -> None:
        """Let the child finish what it was sent and end; what it answers after this is not read."""
        self._batches.close()
        try:
            self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._results.close()

    def _gone(self) -> str:
        """Why the child stopped answering: it closed its end, so it has ended or is about to."""
        try:
            code: int | None = self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        return f"the database writer process stopped{f' (exit status {code})' if code is not None else ''}"


def serve(url: str, batches: socket.socket, results: Connection) -> None:
    """The child: write each batch received, answer ``(refused, error)`` for each, until the crawl closes the socket."""
    database: Database | None = None
    driver_rows = False
    failed: str | None = None
    frozen = False  # a model was refused: the walk's resume point stays before it
    try:
        database = Database(url)
        driver_rows = database.engine.dialect.paramstyle == "qmark"  # SQLite: rows go to its driver as tuples
    except DatabaseError as error:
        failed = str(error)
    while True:
        message, fds, _flags, _address = socket.recv_fds(batches, 1, 1)
        if not message:
            return
        with os.fdopen(fds[0], "rb") as file:
            file.seek(0)  # the crawl's writes left the shared offset at the end
            data = file.read()
        if failed is not None or database is None:
            results.send(({}, failed))  # after a failed batch nothing is written: what follows it would be ahead of it
            continue
        batch = decode(data, driver_rows)
        if frozen:
            batch.next_page = None
        try:
            refused = database.write_batch(batch)
        except DatabaseError as error:
            failed = str(error)
            results.send(({}, failed))
            continue
        frozen = frozen or bool(refused)
        results.send((refused, None))


def _die_with(parent: int) -> None:
    """Be killed when the crawl dies (Linux); elsewhere the closed socket ends the loop after the batch at hand."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the crawl died before the line above
        sys.exit(0)


def main(argv: list[str]) -> None:
    batches_fd, results_fd, parent = argv
    _die_with(int(parent))
    os.nice(NICENESS)
    # Ctrl-C and a stop sent to the whole process group are the crawl's to handle: it closes the socket
    # once everything it read is sent, and this process ends after writing it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with socket.socket(fileno=int(batches_fd)) as batches:
        serve(os.environ.pop(_URL), batches, Connection(int(results_fd), readable=False))
    dispose()  # closed before the freeze, which would leave them open
    gc.freeze()  # everything is written: the collections at exit would only delay the crawl's end (0.15 s)


if __name__ == "__main__":
    main(sys.argv[1:])
