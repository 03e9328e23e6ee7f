"""One request rate per exchange, shared by every orders-worker thread and process.

A token bucket in Redis (one Lua call per request): `ORDERS_RATE_LIMITS` gives requests
per second per exchange id (`{"binanceusdm": 20}`); an exchange it does not name gets
ccxt's own figure, 1000 / `rateLimit` (the milliseconds ccxt waits between two requests
of one client: 50 on Binance, so 20 per second). The bucket holds one second's worth, so
a burst never exceeds the rate by more than that. ccxt's per-client throttle stays off
(`enableRateLimit` False in exchanges.ccxt_exchange): with one client per credential it
would not bound what the platform as a whole sends from its one address.
"""

import functools
import time

from django.conf import settings
from django_redis import get_redis_connection

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


@functools.cache
def _script():
    return get_redis_connection("default").register_script(_TAKE)


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
    """Block until this process may send one request to `exchange_id`."""
    rate = exchange_rate(exchange_id)
    capacity = max(1.0, rate)
    while True:
        wait = int(
            _script()(
                keys=[f"ratelimit:{exchange_id}"], args=[rate, capacity, int(time.time() * 1000)]
            )
        )
        if not wait:
            return
        time.sleep(wait / 1000)
