"""How a crawl run ended, as stored in ``crawl_runs.outcome``."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    RUNNING = "running"  # still going, or killed if its process is gone
    FINISHED = "finished"  # everything asked for is stored
    ROOT_ERRORS = "root_errors"  # finished, but some root is not on the Hub
    INCOMPLETE = "incomplete"  # some request still failed after its retries
    SHUTDOWN = "shutdown"  # paused: Ctrl-C or SIGTERM
    STOPPED = "stopped"  # closed early for another reason (database error, CLOSESPIDER_*)

    @property
    def complete(self) -> bool:
        """After a complete run the same command starts afresh instead of resuming."""
        return self.value in COMPLETE


#: Outcomes after which the same command starts a fresh crawl.
COMPLETE: tuple[str, ...] = (Outcome.FINISHED.value, Outcome.ROOT_ERRORS.value)
