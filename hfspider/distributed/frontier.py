"""The Redis side of a shared crawl: one generation of its frontier, who works on it, and its end.

Keys of one crawl live under ``PREFIX:CRAWLKEY:GENERATION:``. A generation
begins when the first worker finds none and ends when the crawl completes, so
the same command run again afterwards starts a new crawl, as a single process
would. Every time is the Redis server's own (``TIME``): workers on machines
whose clocks disagree still agree on who stopped answering.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any

from redis import Redis

#: What a worker tells the others: ``busy`` from the moment it takes a request; ``drained`` once it
#: has nothing left and everything it read is in the database.
BUSY, DRAINED = "busy", "drained"
#: How long the outcome of a completed generation stays readable for workers that were idle.
DONE_TTL = 24 * 3600

_JOIN = """
local generation = redis.call('GET', KEYS[1])
if generation then return {generation, 0} end
redis.call('SET', KEYS[1], ARGV[1])
return {ARGV[1], 1}
"""

# Taking a request and saying so is one step: no check can see an empty queue and an idle
# worker while that worker holds the request it just took.
_POP = """
local found = redis.call('ZRANGE', KEYS[1], 0, 0)
if #found == 0 then return false end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, 0)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return found[1]
"""

# A worker that beats on after its generation ended leaves nothing behind for long.
_BEAT = """
local now = redis.call('TIME')
redis.call('ZADD', KEYS[2], now[1] + now[2] / 1000000, ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
"""

_FINISH = """
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
for i = 3, #KEYS do redis.call('DEL', KEYS[i]) end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
"""

# No worker may decide once one has completed the generation: a worker that read no outcome just
# before the other finished would otherwise take the freed lock and complete the crawl a second time.
_LOCK = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""

_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Snapshot:
    """The frontier at one instant: requests queued, each worker's state and last heartbeat."""

    queued: int
    states: dict[str, str]
    beats: dict[str, float]
    now: float

    def dead(self, timeout: float) -> set[str]:
        """Workers whose heartbeat is older than ``timeout`` seconds (or who never sent one)."""
        return {w for w in self.states.keys() | self.beats.keys() if self.now - self.beats.get(w, 0.0) > timeout}


class Frontier:
    """One worker's handle on a shared crawl's state in Redis."""

    def __init__(self, server: Redis, prefix: str, crawl_key: str) -> None:
        self.server = server
        self.base = f"{prefix}:{crawl_key}"
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.generation = ""
        self.seeder = False  # this worker began the generation: its start requests are the crawl's
        self.state = BUSY
        self._pop = server.register_script(_POP)
        self._beat = server.register_script(_BEAT)
        self._finish = server.register_script(_FINISH)
        self._lock = server.register_script(_LOCK)
        self._unlock = server.register_script(_UNLOCK)

    def key(self, name: str) -> str:
        return f"{self.base}:{self.generation}:{name}"

    def join(self, started: str) -> None:
        """Join the crawl under way, or begin a generation (``started``: when, for the failures it counts)."""
        generation, began = self.server.register_script(_JOIN)(keys=[f"{self.base}:generation"], args=[uuid.uuid4().hex[:12]])
        self.generation, self.seeder = _text(generation), bool(began)
        if self.seeder:
            self.server.set(self.key("started"), started)
        self.beat()

    def started(self) -> str:
        """When this generation began, as the database writes times."""
        return _text(self.server.get(self.key("started")) or b"")

    # -- requests -----------------------------------------------------------

    def pop(self, queue: str) -> bytes | None:
        data = self._pop(keys=[queue, self.key("workers")], args=[self.worker, BUSY])
        if data is not None:
            self.state = BUSY
        return data

    # -- this worker's state ------------------------------------------------

    def drained(self) -> None:
        """Nothing left to do, and everything this worker read is written."""
        if self.state != DRAINED:
            self.state = DRAINED
            self.beat()

    def beat(self) -> None:
        self._beat(keys=[self.key("workers"), self.key("beats")], args=[self.worker, self.state, DONE_TTL])

    def leave(self) -> None:
        self.forget(self.worker)

    def forget(self, worker: str) -> None:
        pipe = self.server.pipeline(transaction=True)
        pipe.hdel(self.key("workers"), worker)
        pipe.zrem(self.key("beats"), worker)
        pipe.execute()

    # -- the whole crawl ----------------------------------------------------

    def snapshot(self, queue: str) -> Snapshot:
        pipe = self.server.pipeline(transaction=True)
        pipe.zcard(queue)
        pipe.hgetall(self.key("workers"))
        pipe.zrange(self.key("beats"), 0, -1, withscores=True)
        pipe.time()
        queued, states, beats, (seconds, micros) = pipe.execute()
        return Snapshot(
            queued=int(queued),
            states={_text(k): _text(v) for k, v in states.items()},
            beats={_text(k): float(v) for k, v in beats},
            now=seconds + micros / 1e6,
        )

    def lock(self, seconds: float) -> bool:
        """The right to decide whether the crawl is complete: one worker at a time, none once it is."""
        return bool(self._lock(keys=[self.key("lock"), self.key("done")], args=[self.worker, int(seconds * 1000)]))

    def unlock(self) -> None:
        self._unlock(keys=[self.key("lock")], args=[self.worker])

    def root_error(self, root: str) -> None:
        self.server.sadd(self.key("root_errors"), root)

    def root_errors(self) -> set[str]:
        return {_text(m) for m in self.server.smembers(self.key("root_errors"))}

    def outcome(self) -> dict[str, Any] | None:
        """How the generation ended, once a worker completed it; None while it goes on."""
        found = self.server.get(self.key("done"))
        return json.loads(found) if found else None

    def finish(self, outcome: dict[str, Any], queue: str, seen: list[str]) -> None:
        """End the generation: its outcome stays readable a day, everything else goes."""
        names = ("workers", "beats", "root_errors", "started", "lock")
        keys = [self.key("done"), f"{self.base}:generation", queue, *seen, *(self.key(n) for n in names)]
        self._finish(keys=keys, args=[self.generation, json.dumps(outcome), DONE_TTL])


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
