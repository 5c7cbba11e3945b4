"""Token-shaped strings never reach a log line or an error message, whatever their source.

The auth middleware keeps ``HF_TOKEN`` out of requests that are queued or
stored; this covers the rest: a token pasted into a roots file, a URL, a
setting or an answer from the Hub that echoes it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

#: User access tokens (``hf_...``) and legacy organisation tokens (``api_org_...``).
_TOKEN = re.compile(r"\b(hf_|api_org_)[A-Za-z0-9]{16,}")


def mask(text: str) -> str:
    """``text`` with every token-shaped string replaced by its prefix and ``***``."""
    return _TOKEN.sub(lambda m: f"{m.group(1)}***", text)


_installed = False


def mask_logs() -> None:
    """Mask tokens in every log record made from now on, in this process (idempotent)."""
    global _installed
    if _installed:
        return
    make = logging.getLogRecordFactory()

    def record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        made = make(*args, **kwargs)
        try:
            message = made.getMessage()
        except (TypeError, ValueError):  # a record whose arguments do not fit its format: leave it to logging
            return made
        masked = mask(message)
        if masked != message:
            made.msg, made.args = masked, None
        return made

    logging.setLogRecordFactory(record)
    _installed = True
