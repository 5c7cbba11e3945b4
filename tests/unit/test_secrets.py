"""Token-shaped strings never reach a log line, whoever logs them."""

from __future__ import annotations

import io
import logging

from hfspider.secrets import mask, mask_logs

TOKEN = "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123"


def test_mask_keeps_the_prefix_and_hides_the_rest() -> None:
    assert mask(f"root {TOKEN} and api_org_ABCDEFGHIJKLMNOPQRST") == "root hf_*** and api_org_***"
    assert mask("hf_short and google/gemma-2-2b-it") == "hf_short and google/gemma-2-2b-it"  # not token-shaped


def test_every_log_line_is_masked_once_installed() -> None:
    mask_logs()
    mask_logs()  # twice is harmless
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("hfspider.test_secrets")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.error("root %s: not found", TOKEN)
        logger.info(f"as text {TOKEN}")
        logger.debug("in a url %s", f"https://x/?t={TOKEN}")
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert TOKEN not in written
    assert written.splitlines() == ["root hf_***: not found", "as text hf_***", "in a url https://x/?t=hf_***"]
