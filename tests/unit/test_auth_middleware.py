"""The Hub token: on the Hub's own requests while they are downloaded, and nowhere else."""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from hfspider.middlewares.auth import HubAuthMiddleware

SECRET = "hf_unit_test_secret"
API = "https://huggingface.co/api/models/org/name"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No token from the developer's own environment or ~/.cache/huggingface may leak into a test."""
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    return tmp_path


def middleware(endpoint: str = "https://huggingface.co") -> HubAuthMiddleware:
    return HubAuthMiddleware.from_crawler(get_crawler(settings_dict={"HF_ENDPOINT": endpoint}))


def authorization(mw: HubAuthMiddleware, url: str = API) -> bytes | None:
    """The Authorization header a request to ``url`` carries when it goes to the downloader."""
    request = Request(url)
    mw.process_request(request)
    return request.headers.get(b"Authorization")


def test_token_from_hf_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """HF_TOKEN is the usual way to give the token; it becomes a Bearer header."""
    monkeypatch.setenv("HF_TOKEN", SECRET)
    assert authorization(middleware()) == f"Bearer {SECRET}".encode()


def test_token_from_hf_home_token_file(clean_env: Path) -> None:
    """``huggingface-cli login`` leaves the token in $HF_HOME/token; its trailing newline is not part of it."""
    (clean_env / "token").write_text(f"{SECRET}\n", encoding="utf-8")
    assert authorization(middleware()) == f"Bearer {SECRET}".encode()


def test_hf_token_wins_over_token_file(monkeypatch: pytest.MonkeyPatch, clean_env: Path) -> None:
    """As in huggingface_hub, the environment overrides a stored login."""
    (clean_env / "token").write_text("hf_stored_login", encoding="utf-8")
    monkeypatch.setenv("HF_TOKEN", SECRET)
    assert authorization(middleware()) == f"Bearer {SECRET}".encode()


def test_no_token_no_header() -> None:
    """Anonymous crawling is normal: no token anywhere means no Authorization header at all."""
    assert authorization(middleware()) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/api/models",
        "https://cdn-lfs.huggingface.co/repos/file",
        "https://huggingface.co.evil.com/api/models",
        "https://huggingface.co:8443/api/models",
    ],
)
def test_token_only_for_the_hub_host(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Other hosts, subdomains, look-alike domains and other ports must never see the token."""
    monkeypatch.setenv("HF_TOKEN", SECRET)
    mw = middleware()
    assert authorization(mw, url) is None
    assert authorization(mw) is not None  # the same middleware does authorize the Hub itself


def test_token_follows_the_configured_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a mirror as HF_ENDPOINT, the mirror gets the token and huggingface.co does not."""
    monkeypatch.setenv("HF_TOKEN", SECRET)
    mw = middleware("http://localhost:8080")
    assert authorization(mw, "http://localhost:8080/api/models") == f"Bearer {SECRET}".encode()
    assert authorization(mw) is None


def test_token_removed_after_response(monkeypatch: pytest.MonkeyPatch) -> None:
    """A request handed back (retried, redirected, queued to JOBDIR) must not carry the token."""
    monkeypatch.setenv("HF_TOKEN", SECRET)
    mw = middleware()
    request = Request(API)
    mw.process_request(request)
    assert b"Authorization" in request.headers
    response = Response(API, status=200, request=request)
    assert mw.process_response(request, response) is response
    assert b"Authorization" not in request.headers


def test_token_removed_after_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed download goes to Retry; the request it reschedules must not carry the token."""
    monkeypatch.setenv("HF_TOKEN", SECRET)
    mw = middleware()
    request = Request(API)
    mw.process_request(request)
    assert b"Authorization" in request.headers
    assert mw.process_exception(request, TimeoutError()) is None  # None: let Retry handle the failure
    assert b"Authorization" not in request.headers


def test_other_authorization_headers_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only our own header is taken off; a request that brought its own credentials keeps them."""
    monkeypatch.setenv("HF_TOKEN", SECRET)
    mw = middleware()
    request = Request("https://example.com/api", headers={"Authorization": "Basic other"})
    mw.process_request(request)
    mw.process_response(request, Response(request.url, request=request))
    assert request.headers.get(b"Authorization") == b"Basic other"


def test_token_never_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    """The middleware shows up in logs and debuggers; the token must not."""
    monkeypatch.setenv("HF_TOKEN", SECRET)
    mw = middleware()
    assert authorization(mw) is not None  # the token is loaded, so its absence below means something
    assert SECRET not in repr(mw)
    assert SECRET not in str(mw)
    assert "huggingface.co" in repr(mw)
