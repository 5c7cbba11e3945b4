"""What the Hub's HTTP statuses mean for a model call."""

from __future__ import annotations

#: Statuses the Hub uses for a model we cannot see; they are answers, not faults to retry.
NOT_THERE: tuple[int, ...] = (401, 403, 404)

_WHY = {
    401: "not found on the Hub, or private: check the spelling (ORG/NAME), or set HF_TOKEN to a token that can read it",
    403: "disabled on the Hub: it cannot be crawled",
    404: "not found on the Hub: check the spelling (ORG/NAME)",
}


def why_missing(status: int) -> str:
    """A root's error line for a status the Hub answered instead of its record."""
    return _WHY.get(status, f"the Hub answered HTTP {status} without a usable record")
