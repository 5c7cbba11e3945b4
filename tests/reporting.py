"""Helpers for the report and export tests: run a scrapy command, and the study's graph computed independently."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import ROOT

PRECEDENCE = ["unknown", "finetune", "quantized", "adapter", "merge"]
_BASE = re.compile(r"^base_model:(?:(finetune|quantized|adapter|merge):)?(.+)$")


def scrapy(output: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``scrapy ARGS`` as a user runs it, with ``HFSPIDER_OUTPUT`` set to ``output``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE"))}
    command = [sys.executable, "-m", "scrapy", *args, "-s", f"HFSPIDER_OUTPUT={output}"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def study_edges(records: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(child, parent) -> relation, read from the tags the way the study's notebooks do."""
    ids = {r["id"] for r in records}
    found: dict[tuple[str, str], str] = {}
    for record in records:
        for tag in record.get("tags") or []:
            match = _BASE.match(tag) if isinstance(tag, str) else None
            if not match or ":" in match.group(2) or match.group(2) not in ids or match.group(2) == record["id"]:
                continue
            pair = (record["id"], match.group(2))
            relation = match.group(1) or "unknown"
            if PRECEDENCE.index(relation) > PRECEDENCE.index(found.get(pair, "unknown")) or pair not in found:
                found[pair] = relation
    return found
