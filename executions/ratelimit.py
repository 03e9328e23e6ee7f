"""Per exchange, shared by every orders-worker thread and process: one request rate, and a
cap on the tasks in flight.

A token bucket in Redis (one Lua call per request): `ORDERS_RATE_LIMITS` gives requests
per second per exchange id (`{"binanceusdm": 20}`); an exchange it does not name gets
ccxt's own figure, 1000 / `rateLimit` (the milliseconds ccxt waits between two requests
of one client: 50 on Binance, so 20 per second). The bucket holds one second's worth, so
a burst never exceeds the rate by more than that. ccxt's per-client throttle stays off
(`enableRateLimit` False in exchanges.ccxt_exchange): with one client per credential it
would not bound what the platform as a whole sends from its one address.

`exchange_slot`: at most `ORDERS_EXCHANGE_CONCURRENCY` orders-queue tasks talk to one
exchange at a time, so an exchange that hangs (every request waiting `CCXT_TIMEOUT_MS`)
holds that many threads, never all of them. The slots are a Redis sorted set of leases
with their expiry; each signed request of the holder renews its lease for three times
`CCXT_TIMEOUT_MS` (the market list's requests, unsigned and unrenewed, come before the
first), so the lease of a killed worker lapses instead of leaking its slot.
The paper exchange makes no requests and takes no slot.
"""

import contextlib
import functools
import threading
import time
import uuid

from django.conf import settings
from django_redis import get_redis_connection

from marketdata.exchanges import PAPER

# KEYS[1] bucket; ARGV: rate per second, capacity, now (ms). Answers the ms to wait (0: go).
_TAKE = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + (now - at) * rate / 1000)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], 60000)
return wait
"""


# KEYS[1] slots; ARGV: lease, cap, now (ms), expiry (ms). Answers 1 (taken) or 0 (full).
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return 1
"""
# KEYS[1] slots; ARGV: lease, expiry (ms). Moves a lease that is still held.
_RENEW = """
if redis.call('ZADD', KEYS[1], 'XX', 'CH', ARGV[2], ARGV[1]) == 1 then
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
end
return 0
"""


@functools.cache
def _script(source: str = _TAKE):
    return get_redis_connection("default").register_script(source)


@functools.cache
def _ccxt_rate(exchange_id: str) -> float:
    import ccxt

    milliseconds = getattr(ccxt, exchange_id)().rateLimit or 50
    return 1000 / milliseconds


def exchange_rate(exchange_id: str) -> float:
    """Requests per second the platform allows itself on this exchange."""
    configured = settings.ORDERS_RATE_LIMITS.get(exchange_id)
    return float(configured) if configured else _ccxt_rate(exchange_id)


def rate_limit_wait(exchange_id: str) -> None:
    """Block until this process may send one request to `exchange_id` (and renew this
    thread's slot of it, which the request is about to use)."""
    rate = exchange_rate(exchange_id)
    capacity = max(1.0, rate)
    while True:
        wait = int(
            _script()(
                keys=[f"ratelimit:{exchange_id}"], args=[rate, capacity, int(time.time() * 1000)]
            )
        )
        if not wait:
            _slot_renew(exchange_id)
            return
        time.sleep(wait / 1000)


# The leases this thread holds: {exchange id: lease}.
_held = threading.local()


def _leases() -> dict:
    return _held.__dict__.setdefault("leases", {})


def _expiry_ms() -> int:
    return int(time.time() * 1000) + 3 * settings.CCXT_TIMEOUT_MS


def _slots_key(exchange_id: str) -> str:
    return f"exchange-slots:{exchange_id}"


@contextlib.contextmanager
def exchange_slot(exchange_id: str):
    """Hold one of `exchange_id`'s ORDERS_EXCHANGE_CONCURRENCY slots inside the block;
    yields False (and holds nothing) when they are all taken. Re-entrant in a thread."""
    leases = _leases()
    if exchange_id == PAPER or exchange_id in leases:
        yield True
        return
    lease = uuid.uuid4().hex
    now = int(time.time() * 1000)
    taken = _script(_ACQUIRE)(
        keys=[_slots_key(exchange_id)],
        args=[lease, settings.ORDERS_EXCHANGE_CONCURRENCY, now, _expiry_ms()],
    )
    if not taken:
        yield False
        return
    leases[exchange_id] = lease
    try:
        yield True
    finally:
        del leases[exchange_id]
        get_redis_connection("default").zrem(_slots_key(exchange_id), lease)


def _slot_renew(exchange_id: str) -> None:
    lease = _leases().get(exchange_id)
    if lease is not None:
        _script(_RENEW)(keys=[_slots_key(exchange_id)], args=[lease, _expiry_ms()])
