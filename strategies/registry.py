"""The candle registry: which strategies run at which candle close.

Redis holds, as the seed describes, one set `candle:{SYMBOL}:{RESOLUTION}:strategies` of
strategy ids per candle and the set `active:candles` of `SYMBOL:RESOLUTION` keys that have
at least one strategy. PostgreSQL is the source of truth: a strategy is registered while it
is active and has an active subscription or an open trade (`strategy_runnable`), and
`registry_rebuild()` repopulates Redis from it (after a FLUSHDB, a Redis restart, or on
demand with `manage.py rebuild_registry`).

Reads go through a short-lived in-process cache first (two-level read); writes in this
process clear it, other processes see a change within `LOCAL_TTL_SECONDS`.
"""

import threading
import time

from django_redis import get_redis_connection

from .selectors import strategy_runnable

ACTIVE_CANDLES_KEY = "active:candles"
# Set by every rebuild: its absence means Redis lost the registry (FLUSHDB, restart
# without persistence) and the next reader must rebuild it from the database.
BUILT_KEY = "registry:built"
LOCAL_TTL_SECONDS = 2.0

# Removing the last strategy of a candle must also retire the candle, atomically, or a
# concurrent register could be lost between SREM, SCARD and the second SREM.
_UNREGISTER_LUA = """
redis.call('SREM', KEYS[1], ARGV[1])
if redis.call('SCARD', KEYS[1]) == 0 then
    redis.call('SREM', KEYS[2], ARGV[2])
end
return 1
"""

_local: dict[str, tuple[float, object]] = {}
_local_lock = threading.Lock()


def candle_key(symbol: str, resolution: int) -> str:
    return f"{symbol.upper()}:{int(resolution)}"


def _strategies_key(symbol: str, resolution: int) -> str:
    return f"candle:{candle_key(symbol, resolution)}:strategies"


def _redis():
    return get_redis_connection("default")


def _local_clear() -> None:
    with _local_lock:
        _local.clear()


def _cached(key: str, load):
    now = time.monotonic()
    with _local_lock:
        hit = _local.get(key)
        if hit and hit[0] > now:
            return hit[1]
    value = load()
    with _local_lock:
        _local[key] = (now + LOCAL_TTL_SECONDS, value)
    return value


def registry_register(*, strategy_id, symbol: str, resolution: int) -> None:
    pipe = _redis().pipeline(transaction=True)
    pipe.sadd(_strategies_key(symbol, resolution), str(strategy_id))
    pipe.sadd(ACTIVE_CANDLES_KEY, candle_key(symbol, resolution))
    pipe.execute()
    _local_clear()


def registry_unregister(*, strategy_id, symbol: str, resolution: int) -> None:
    _redis().eval(
        _UNREGISTER_LUA,
        2,
        _strategies_key(symbol, resolution),
        ACTIVE_CANDLES_KEY,
        str(strategy_id),
        candle_key(symbol, resolution),
    )
    _local_clear()


def registry_move(
    *, strategy_id, old_symbol: str, old_resolution: int, symbol: str, resolution: int
) -> None:
    if candle_key(old_symbol, old_resolution) == candle_key(symbol, resolution):
        return
    registry_unregister(strategy_id=strategy_id, symbol=old_symbol, resolution=old_resolution)
    registry_register(strategy_id=strategy_id, symbol=symbol, resolution=resolution)


def registry_active_candles() -> set[str]:
    """Every `SYMBOL:RESOLUTION` with at least one registered strategy."""
    return _cached(
        ACTIVE_CANDLES_KEY,
        lambda: {member.decode() for member in _redis().smembers(ACTIVE_CANDLES_KEY)},
    )


def registry_strategy_ids(*, symbol: str, resolution: int) -> set[str]:
    key = _strategies_key(symbol, resolution)
    return _cached(key, lambda: {member.decode() for member in _redis().smembers(key)})


def registry_expected() -> dict[str, set[str]]:
    """What the registry should hold, read from the database."""
    expected: dict[str, set[str]] = {}
    rows = strategy_runnable().values_list("id", "execution_config").distinct()
    for strategy_id, config in rows:
        key = candle_key(str(config.get("symbol", "")), int(config.get("resolution", 0)))
        expected.setdefault(key, set()).add(str(strategy_id))
    return expected


def registry_rebuild() -> dict[str, set[str]]:
    """Replace the Redis registry with what the database says, in one transaction."""
    expected = registry_expected()
    connection = _redis()
    stale = list(connection.scan_iter(match="candle:*:strategies", count=1000))
    pipe = connection.pipeline(transaction=True)
    if stale:
        pipe.delete(*stale)
    pipe.delete(ACTIVE_CANDLES_KEY)
    for key, strategy_ids in expected.items():
        pipe.sadd(f"candle:{key}:strategies", *strategy_ids)
        pipe.sadd(ACTIVE_CANDLES_KEY, key)
    pipe.set(BUILT_KEY, "1")
    pipe.execute()
    _local_clear()
    return expected


def registry_ensure_built() -> bool:
    """Rebuild the registry from the database when Redis has lost it; True if rebuilt."""
    if _redis().exists(BUILT_KEY):
        return False
    registry_rebuild()
    return True
