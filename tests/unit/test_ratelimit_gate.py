"""The Hub pacing gate, driven by a fake clock so that no test really waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from hfspider.middlewares.ratelimit import MARGIN, POLL, RateLimitMiddleware

HOST = "huggingface.co"
API = f"https://{HOST}/api/models"
POLICY = '"fixed window";"api";q=500;w=300'
START = 1000.0  # far from 0, so the gate's initial last_sent=0 never looks recent


class FakeClock:
    """Monotonic time that only moves when the gate sleeps; records every sleep."""

    def __init__(self, on_sleep: Callable[[], None] | None = None) -> None:
        self.now = START
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # A zero or negative sleep would be a busy loop; a runaway count would be a loop that never ends.
        assert seconds > 0, seconds
        assert len(self.sleeps) < 100_000, "the gate never let the request go"
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep()

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def crawler(monkeypatch: pytest.MonkeyPatch) -> Crawler:
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    crawler = get_crawler(settings_dict={"HF_ENDPOINT": f"https://{HOST}"})
    crawler.crawling = True  # get_crawler's crawler is not started; the gate only waits while crawling
    return crawler


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def gate(crawler: Crawler, clock: FakeClock) -> RateLimitMiddleware:
    return RateLimitMiddleware(crawler, HOST, clock=clock, sleep=clock.sleep)


def send(gate: RateLimitMiddleware, clock: FakeClock, url: str = API) -> float:
    """Pass one request through the gate; the fake time at which it was let go."""
    asyncio.run(gate.process_request(Request(url)))
    return clock.now


def answer(
    gate: RateLimitMiddleware,
    status: int = 200,
    *,
    remaining: int | None = None,
    reset: float | None = None,
    retry_after: str | None = None,
    url: str = API,
) -> Request | Response:
    """Feed the gate a response carrying the given quota headers."""
    headers: dict[str, str] = {}
    if remaining is not None and reset is not None:
        headers["RateLimit"] = f'"api";r={remaining};t={reset:g}'
        headers["RateLimit-Policy"] = POLICY
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    request = Request(url)
    return gate.process_response(request, Response(url, status=status, headers=headers, request=request))


def test_from_crawler_uses_the_real_clock_and_the_endpoint_host(crawler: Crawler) -> None:
    """Production must keep time.monotonic/asyncio.sleep; only tests inject a clock."""
    gate = RateLimitMiddleware.from_crawler(crawler)
    assert gate.host == HOST
    assert gate.clock is time.monotonic
    assert gate.sleep is asyncio.sleep


@pytest.mark.parametrize(("remaining", "reset"), [(4, 20.0), (500, 300.0), (3, 7.0)])
def test_pacing_spreads_remaining_calls_over_time_to_reset(
    gate: RateLimitMiddleware, clock: FakeClock, remaining: int, reset: float
) -> None:
    """After r calls left for t seconds, consecutive requests are t/r apart, so the quota lasts the window."""
    assert send(gate, clock) == START  # no budget known yet: the first request goes at once
    answer(gate, remaining=remaining, reset=reset)
    interval = reset / remaining
    sent = [send(gate, clock) for _ in range(remaining)]
    # The previous request left at START, so each next one waits a full interval after the one before.
    expected = [START + interval * (i + 1) for i in range(remaining)]
    assert sent == pytest.approx(expected, abs=1e-6)
    assert sent[-1] <= START + reset + 1e-6  # all of the window's calls fit in the window


def test_never_more_in_flight_than_remaining(gate: RateLimitMiddleware, clock: FakeClock) -> None:
    """With as many calls in flight as are left, the next one waits for the window, even if the pace would allow it."""
    for _ in range(3):
        assert send(gate, clock) == START  # no budget yet, no pace: all three go at once
    reset = 10.0
    answer(gate, remaining=2, reset=reset)  # one of the three is back; two in flight, two left
    assert gate.gates["api"].in_flight == 2
    # The pace alone (reset/2 = 5 s) would send at START + 5; the in-flight limit holds it until the window ends.
    assert send(gate, clock) == pytest.approx(START + reset + MARGIN, abs=1e-6)


def test_freed_slot_lets_a_waiter_go_at_the_pace(gate: RateLimitMiddleware, clock: FakeClock) -> None:
    """A waiter re-checks while it sleeps, so a call coming back lets it go at the pace, not at the reset."""
    for _ in range(3):
        send(gate, clock)
    remaining, reset = 2, 20.0
    answer(gate, remaining=remaining, reset=reset)  # two left, two in flight: the gate is shut
    freed_at = START + 12  # after the pace allows the next call (START + reset/remaining), before the reset

    def free_a_slot() -> None:
        if clock.now >= freed_at and gate.gates["api"].in_flight == remaining:
            gate.process_exception(Request(API), OSError())

    clock.on_sleep = free_a_slot
    sent = send(gate, clock)
    assert START + reset / remaining < freed_at <= sent <= freed_at + POLL + 1e-6
    assert sent < START + reset


def test_window_end_reopens_an_exhausted_budget(gate: RateLimitMiddleware, clock: FakeClock) -> None:
    """r=0 shuts the gate until the reset; then the old budget is forgotten and requests flow again."""
    reset = 12.0
    answer(gate, remaining=0, reset=reset)
    assert send(gate, clock) == pytest.approx(START + reset + MARGIN, abs=1e-6)
    assert gate.gates["api"].remaining is None  # the new window's budget arrives with its first answer


def test_larger_remaining_starts_a_new_window(gate: RateLimitMiddleware, clock: FakeClock) -> None:
    """A budget that grew means the Hub started a new window: its end replaces the old, earlier one."""
    send(gate, clock)
    answer(gate, remaining=10, reset=100)
    clock.advance(1)
    answer(gate, remaining=5, reset=50)  # same window, narrowed: it ends at START + 51
    assert gate.gates["api"].reset_at == pytest.approx(START + 51)
    clock.advance(1)
    now = clock.now
    remaining, reset = 500, 300.0
    answer(gate, remaining=remaining, reset=reset)  # more left than before: a new window
    assert gate.gates["api"].reset_at == pytest.approx(now + reset)
    # Paced over the new window (0.6 s); kept at the old end it would be (51 - 2) / 500 s.
    first = send(gate, clock)
    second = send(gate, clock)
    assert second - first == pytest.approx(reset / remaining, abs=1e-6)


def test_answer_after_the_window_end_starts_a_new_window(gate: RateLimitMiddleware, clock: FakeClock) -> None:
    """Past the old end, an answer is a new window even with fewer calls left (others used them), not a stale end."""
    answer(gate, remaining=5, reset=10)
    clock.advance(20)  # the old window ended 10 s ago
    remaining, reset = 3, 30.0
    answer(gate, remaining=remaining, reset=reset)
    first = send(gate, clock)
    second = send(gate, clock)
    assert second - first == pytest.approx(reset / remaining, abs=1e-6)


@pytest.mark.parametrize(("retry_after", "expected"), [("30", 30.0), ("5", 5.0), ("0", 1.0)])
def test_429_waits_retry_after_at_least_a_second(gate: RateLimitMiddleware, clock: FakeClock, retry_after: str, expected: float) -> None:
    """A 429 holds every Hub request for Retry-After seconds, and never less than 1 s (a "0" must not hammer)."""
    send(gate, clock)
    answer(gate, 429, retry_after=retry_after)
    assert send(gate, clock) == pytest.approx(START + expected, abs=1e-6)


def test_429_without_retry_after_waits_for_the_window_reset(gate: RateLimitMiddleware, clock: FakeClock) -> None:
    """Without Retry-After, the RateLimit reset ``t`` says how long to wait."""
    send(gate, clock)
    clock.advance(50)  # long after the last send, so the pace (t / 1) alone would not hold the retry
    now, reset = clock.now, 17.0
    answer(gate, 429, remaining=0, reset=reset)
    assert send(gate, clock) == pytest.approx(now + reset, abs=1e-6)


def test_answers_of_one_window_keep_its_earliest_end(gate: RateLimitMiddleware, clock: FakeClock) -> None:
    """``t`` is rounded up, so a later answer of the same window may place its end later; the earlier end is kept."""
    remaining, reset = 10, 100.0
    answer(gate, remaining=remaining, reset=reset)
    end = START + reset
    clock.advance(1)
    answer(gate, remaining=remaining - 1, reset=reset)  # same window (fewer left), its end seen 1 s later
    first = send(gate, clock)
    second = send(gate, clock)
    assert second - first == pytest.approx((end - first) / (remaining - 1), abs=1e-6)


def test_429_without_any_hint_backs_off_doubling_up_to_a_minute(gate: RateLimitMiddleware, clock: FakeClock) -> None:
    """No header at all: 1, 2, 4 .. 60 s for 429s in a row, and a success starts again at 1 s."""
    waits = []
    send(gate, clock)
    for _ in range(9):
        before = clock.now
        answer(gate, 429)
        waits.append(send(gate, clock) - before)  # the same request, sent again once the gate opens
    assert waits == pytest.approx([min(2.0**n, 60.0) for n in range(9)], abs=1e-6)
    answer(gate, 200)
    send(gate, clock)
    before = clock.now
    answer(gate, 429)
    assert send(gate, clock) - before == pytest.approx(1.0, abs=1e-6)


def test_429_returns_the_same_request_unfiltered_and_counts_it(gate: RateLimitMiddleware, crawler: Crawler) -> None:
    """The 429 goes back to the scheduler as the same request, past the dupefilter; the stat counts each one."""
    assert crawler.stats is not None
    request = Request(API, meta={"model": "org/name"}, headers={"Accept": "application/json"})
    assert not request.dont_filter
    for count in (1, 2):
        result = gate.process_response(request, Response(API, status=429, request=request))
        assert isinstance(result, Request)
        assert result.dont_filter is True
        assert (result.url, result.method, result.meta, result.headers) == (request.url, request.method, request.meta, request.headers)
        assert crawler.stats.get_value("hfspider/rate_limited") == count
    ok = Response(API, status=200, request=request)
    assert gate.process_response(request, ok) is ok
    assert crawler.stats.get_value("hfspider/rate_limited") == 2


@pytest.mark.parametrize("url", ["https://example.com/x", "https://cdn-lfs.huggingface.co/file", "https://huggingface.co.evil.com/"])
def test_other_hosts_are_not_gated(gate: RateLimitMiddleware, clock: FakeClock, crawler: Crawler, url: str) -> None:
    """Only the Hub's quota is paced: other hosts pass a shut gate at once, and their 429s are left to Scrapy."""
    assert crawler.stats is not None
    answer(gate, remaining=0, reset=60)  # the Hub gate is shut for a minute
    assert send(gate, clock, url) == START
    assert clock.sleeps == []
    assert gate.gates["api"].in_flight == 0
    response = Response(url, status=429, headers={"Retry-After": "30"})
    assert gate.process_response(Request(url), response) is response
    assert crawler.stats.get_value("hfspider/rate_limited") is None
    assert send(gate, clock) > START  # while the Hub itself is held


def test_stopping_crawler_does_not_wait(gate: RateLimitMiddleware, clock: FakeClock, crawler: Crawler) -> None:
    """On shutdown a shut gate lets requests go at once, rather than holding the exit for the window."""
    answer(gate, remaining=0, reset=300)
    crawler.crawling = False
    assert send(gate, clock) == START
    assert clock.sleeps == []


def test_waiter_leaves_when_crawler_stops(gate: RateLimitMiddleware, clock: FakeClock, crawler: Crawler) -> None:
    """A request already waiting notices the stop on its next poll instead of sleeping out the window."""
    answer(gate, remaining=0, reset=300)

    def stop() -> None:
        crawler.crawling = False

    clock.on_sleep = stop
    send(gate, clock)
    assert len(clock.sleeps) == 1


PAGE = f"https://{HOST}/google/gemma-2-2b-it"
CARD = f"https://{HOST}/google/gemma-2-2b-it/resolve/main/README.md"


def test_each_budget_has_its_own_gate(gate: RateLimitMiddleware, clock: FakeClock) -> None:
    """A page 429 (no Retry-After: only t) holds pages back; API calls and files go on at once."""
    request = Request(PAGE)
    limited = Response(
        PAGE,
        status=429,
        headers={"RateLimit": '"pages";r=0;t=40', "RateLimit-Policy": '"fixed window";"pages";q=100;w=300'},
        request=request,
    )
    assert isinstance(gate.process_response(request, limited), Request)
    assert gate.gates["pages"].remaining == 0 and gate.gates["api"].remaining is None
    assert send(gate, clock, API) == START  # not held by the pages window
    assert send(gate, clock, CARD) == START
    assert send(gate, clock, PAGE) >= START + 40  # the page waits for its window's reset
    # Each budget reads only its own bucket's numbers from the headers.
    answer(gate, remaining=400, reset=100.0)
    assert gate.gates["api"].remaining == 400 and gate.gates["resolvers"].remaining is None


def test_robots_txt_counts_in_no_budget(gate: RateLimitMiddleware, clock: FakeClock) -> None:
    gate.gates["pages"].remaining, gate.gates["pages"].reset_at = 0, START + 100
    assert send(gate, clock, f"https://{HOST}/robots.txt") == START
