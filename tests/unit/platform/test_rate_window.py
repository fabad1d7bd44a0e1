"""app.platform.rate_window: one request counted in the limiter's fixed window, on the thread's own Redis
connection, with exactly the count, key and expiry of limits' own path; memory:// and the failures go limits'
way. Runs where the tests have Redis (RATELIMIT_STORAGE_URI, as CI's PostgreSQL run), like the other tests of
limits shared across processes."""

import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from app.platform import rate_window

STORAGE = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
redis_only = pytest.mark.skipif(not STORAGE.startswith("redis"),
                                reason="needs the Redis of RATELIMIT_STORAGE_URI (README: limits across workers)")


@pytest.fixture
def key():
    """Identifiers of a window no other test uses."""
    return ("test", "webhook", "booking", uuid.uuid4().hex)


@redis_only
def test_the_window_counts_to_the_limit_and_limits_reads_the_same_count(key):
    storage, rate = storage_from_string(STORAGE), parse("5 per minute")
    answers = [rate_window.hit(storage, rate, *key) for _ in range(7)]
    assert answers == [True] * 5 + [False] * 2
    stats = FixedWindowRateLimiter(storage).get_window_stats(rate, *key)
    assert stats.remaining == 0
    assert storage.get(rate.key_for(*key)) == 7
    assert 0 < storage.get_expiry(rate.key_for(*key)) - time.time() <= 60


@redis_only
def test_threads_at_once_get_exactly_the_limit(key):
    storage, rate = storage_from_string(STORAGE), parse("50 per minute")
    barrier = threading.Barrier(8)

    def ten_hits(_):
        barrier.wait()
        return [rate_window.hit(storage, rate, *key) for _ in range(10)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = [answer for hits in pool.map(ten_hits, range(8)) for answer in hits]
    assert answers.count(True) == 50
    assert answers.count(False) == 30


@redis_only
def test_a_flushed_script_is_loaded_again(key):
    storage, rate = storage_from_string(STORAGE), parse("3 per minute")
    assert rate_window.hit(storage, rate, *key)
    storage.get_connection().script_flush()
    assert rate_window.hit(storage, rate, *key)
    assert rate_window.hit(storage, rate, *key)
    assert not rate_window.hit(storage, rate, *key)


@redis_only
def test_a_dropped_connection_is_opened_again_and_the_request_still_counts(key):
    storage, rate = storage_from_string(STORAGE), parse("3 per minute")
    assert rate_window.hit(storage, rate, *key)
    own = rate_window._connection(storage)  # noqa: SLF001 (the connection to drop, and no other test's)
    own.send_command("CLIENT", "ID")
    storage.get_connection().client_kill_filter(_id=own.read_response())
    assert rate_window.hit(storage, rate, *key)
    assert rate_window.hit(storage, rate, *key)
    assert not rate_window.hit(storage, rate, *key)
    assert storage.get(rate.key_for(*key)) == 4


def test_memory_storage_counts_through_limits(key):
    storage, rate = storage_from_string("memory://"), parse("2 per minute")
    assert [rate_window.hit(storage, rate, *key) for _ in range(3)] == [True, True, False]
    assert FixedWindowRateLimiter(storage).get_window_stats(rate, *key).remaining == 0
