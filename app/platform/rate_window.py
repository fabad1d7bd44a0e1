"""One request counted in a fixed window of the rate limiter's storage, for callers that count their own requests
(the webhook receiver, app.webhooks.receiver).

limits' ``FixedWindowRateLimiter.hit`` on Redis is one script call (limits' own incr_expire.lua: INCRBY, and EXPIRE
on the window's first hit), but it goes through redis-py's client: the connection pool, the retry wrapper, the
deprecated-argument check and the command's observability hooks. With redis 8.1 that is about 100 µs of CPU per
call against 38 µs for the same command on one of redis-py's own connections, and under the wrk bench of issue 16
it was a tenth of the receiver's samples. So on a plain Redis storage each thread sends the same script, by its
SHA, with the same key and expiry, over a connection of its own that redis-py makes from the storage's pool
settings (address, database, password, TLS, timeouts): the count is the limiter's, exact across workers and
hosts, at one round trip. Any other storage (memory://, Sentinel, cluster, Valkey), a script Redis does not know yet and
a failed connection take limits' own path, which loads the script and retries as it always has."""

import threading
import weakref

from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

_local = threading.local()


def _connection(storage):
    """This thread's connection to the Redis of ``storage`` (made on first use; forgotten with the storage)."""
    connections = getattr(_local, "connections", None)
    if connections is None:
        connections = _local.connections = weakref.WeakKeyDictionary()
    connection = connections.get(storage)
    if connection is None:
        connection = connections[storage] = storage.get_connection().connection_pool.make_connection()
    return connection


def hit(storage, rate, *identifiers):
    """Count one request of ``identifiers`` in its window of ``rate`` (a limits RateLimitItem) in ``storage``;
    True while the window has room (the count, this request included, is at most the rate's amount)."""
    if type(storage) is not RedisStorage or storage.target_server != "redis":
        return FixedWindowRateLimiter(storage).hit(rate, *identifiers)
    connection = _connection(storage)
    key = storage.prefixed_key(rate.key_for(*identifiers))
    try:
        connection.send_command("EVALSHA", storage.lua_incr_expire.sha, 1, key, rate.get_expiry(), 1)
        count = connection.read_response()
    except NoScriptError:  # a restarted or flushed Redis: limits' path loads the script again
        return FixedWindowRateLimiter(storage).hit(rate, *identifiers)
    except (RedisConnectionError, RedisTimeoutError):
        # The next call reconnects; this one goes limits' way (with its retries). Should the lost answer's
        # increment have happened, the request counts twice: the limit errs on the strict side.
        connection.disconnect()
        return FixedWindowRateLimiter(storage).hit(rate, *identifiers)
    return int(count) <= rate.amount
