"""The per-token rate limit: a sliding window of counters, one increment per request, the same
in the in-process cache and in Redis (where every web process counts together)."""

import os
import uuid
from types import SimpleNamespace

import pytest
from django.core.cache import caches

from api import auth

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


def redis_reachable() -> bool:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping()
    except redis.exceptions.RedisError:
        return False
    return True


@pytest.fixture(params=["locmem", "redis"])
def throttle_cache(request, settings):
    if request.param == "redis" and not redis_reachable():
        pytest.skip(f"Redis injoignable à {REDIS_URL}")
    settings.CACHES = {
        **settings.CACHES,
        "throttle": {
            "BACKEND": (
                "django.core.cache.backends.redis.RedisCache"
                if request.param == "redis"
                else "django.core.cache.backends.locmem.LocMemCache"
            ),
            "LOCATION": REDIS_URL if request.param == "redis" else "throttle",
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        },
    }
    settings.API_THROTTLE_CACHE = "throttle"
    cache = caches["throttle"]
    yield cache
    if request.param == "locmem":
        cache.clear()


def caller(prefix="abcd1234"):
    return SimpleNamespace(api_token=SimpleNamespace(prefix=prefix))


def at(monkeypatch, instant: float) -> None:
    monkeypatch.setattr(auth.time, "time", lambda: instant)


def allowed(request, times: int) -> list[bool]:
    return [auth.TokenRateThrottle().allow_request(request, None) for _ in range(times)]


def test_the_limit_holds_within_a_period_and_a_refusal_is_not_counted(
    throttle_cache, settings, monkeypatch
):
    settings.API_RATE_LIMIT = "3/min"
    start = 60 * 1_000_000
    at(monkeypatch, start + 10)
    request = caller()
    assert allowed(request, 5) == [True, True, True, False, False]
    throttle = auth.TokenRateThrottle()
    assert not throttle.allow_request(request, None)
    assert 1 <= throttle.wait() <= 120
    assert allowed(caller("autre"), 1) == [True]  # counted per token
    # Half-way through the next minute, half of the three still weigh: 1.5, then 2.5, then 3.5.
    at(monkeypatch, start + 60 + 30)
    assert allowed(request, 3) == [True, True, False]


def test_the_previous_period_slides_out(throttle_cache, settings, monkeypatch):
    settings.API_RATE_LIMIT = "4/min"
    start = 60 * 2_000_000
    request = caller()
    at(monkeypatch, start + 59)
    assert allowed(request, 5) == [True] * 4 + [False]
    at(monkeypatch, start + 60 + 1)  # the four still weigh 59/60 of themselves: 3.93, then 4.93
    assert allowed(request, 1) == [True]
    throttle = auth.TokenRateThrottle()
    assert not throttle.allow_request(request, None)
    assert throttle.wait() >= 1
    at(monkeypatch, start + 60 + 59)  # they weigh 1/60 of themselves, beside this period's one
    assert allowed(request, 4) == [True, True, True, False]
    at(monkeypatch, start + 180)  # two periods on: nothing left
    assert allowed(request, 5) == [True] * 4 + [False]
