"""Defaults that keep a crawl safe."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def setting(name: str) -> str:
    done = subprocess.run([sys.executable, "-m", "scrapy", "settings", "--get", name], cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_remote_control_and_telnet_are_off() -> None:
    # Scrapy 2.19 runs code sent to a local port unless this is off.
    assert setting("REMOTE_CONTROL_ENABLED") == "False"
    assert setting("TELNETCONSOLE_ENABLED") == "False"


def test_429_is_not_left_to_scrapy_retry() -> None:
    codes = setting("RETRY_HTTP_CODES")
    assert "429" not in codes and "500" in codes and "408" in codes
