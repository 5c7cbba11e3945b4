"""Token-shaped strings never reach a log line or an error message, whatever their source.

The auth middleware keeps ``HF_TOKEN`` out of requests that are queued or
stored; this covers the rest: a token pasted into a roots file, a URL, a
setting or an answer from the Hub that echoes it.
"""

from __future__ import annotations

import logging
import re
import types
from typing import Any

#: User access tokens (``hf_...``) and legacy organisation tokens (``api_org_...``).
_TOKEN = re.compile(r"\b(hf_|api_org_)[A-Za-z0-9]{16,}")
#: The secrets authors paste into model cards, in the shapes hub-pages.md gives: narrower than the log
#: mask, so that card text that only looks a little like a token stays as written.
_CARD_SECRET = re.compile(r"(?<![A-Za-z0-9])(hf_)[A-Za-z0-9]{30,}|(?<![A-Za-z0-9])(sk-)[A-Za-z0-9_-]{20,}")


def _prefix(match: re.Match[str]) -> str:
    return f"{match.group(1) or match.group(2)}***"  # the second group: a card's sk- key


def mask(text: str) -> str:
    """``text`` with every token-shaped string replaced by its prefix and ``***``."""
    return _TOKEN.sub(_prefix, text)


def mask_card(text: str) -> str:
    """A card's text with each pasted secret replaced by its prefix and ``***``, and nothing else changed."""
    return _CARD_SECRET.sub(_prefix, text)


def _masked_message(record: logging.LogRecord) -> str:
    return mask(logging.LogRecord.getMessage(record))


class _MaskedRecord(logging.LogRecord):
    """A record whose message is masked when a handler formats it: no cost for records never shown."""

    def getMessage(self) -> str:
        return _masked_message(self)


_installed = False


def mask_logs() -> None:
    """Mask tokens in every log record made from now on, in this process (idempotent)."""
    global _installed
    if _installed:
        return
    make = logging.getLogRecordFactory()
    if make is logging.LogRecord:
        logging.setLogRecordFactory(_MaskedRecord)
    else:  # someone else's factory: keep it, and mask what it makes

        def record(*args: Any, **kwargs: Any) -> logging.LogRecord:
            made = make(*args, **kwargs)
            made.getMessage = types.MethodType(_masked_message, made)  # type: ignore[method-assign]
            return made

        logging.setLogRecordFactory(record)
    _installed = True
