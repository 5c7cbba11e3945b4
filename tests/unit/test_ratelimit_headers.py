"""Reading the Hub's RateLimit, RateLimit-Policy and Retry-After headers."""

from __future__ import annotations

from email.utils import formatdate
from time import time

import pytest

from hfspider.hub.ratelimit import Budget, parse, retry_after


@pytest.mark.parametrize(
    ("ratelimit", "policy", "expected"),
    [
        ('"api";r=489;t=189', '"fixed window";"api";q=500;w=300', Budget(489, 189.0, 500, 300.0)),
        (
            '"pages";r=1;t=2, "api";r=5;t=7',
            '"fixed window";"pages";q=100;w=300, "fixed window";"api";q=1000;w=300',
            Budget(5, 7.0, 1000, 300.0),
        ),
        ('"api";r=0;t=3', None, Budget(0, 3.0, None, None)),
        ("r=5;t=7", "q=9;w=10", Budget(5, 7.0, 9, 10.0)),
        ("garbage", "", Budget()),
        (None, None, Budget()),
        ('"api";r=x;t=', None, Budget()),
    ],
)
def test_budget(ratelimit: str | None, policy: str | None, expected: Budget) -> None:
    assert parse(ratelimit, policy) == expected


def test_retry_after_seconds_and_dates() -> None:
    assert retry_after("12") == 12.0
    assert retry_after(" 0 ") == 0.0
    assert 25 <= retry_after(formatdate(time() + 30, usegmt=True)) <= 31
    assert retry_after(formatdate(time() - 30, usegmt=True)) == 0.0
    assert retry_after("soon") is None and retry_after(None) is None
