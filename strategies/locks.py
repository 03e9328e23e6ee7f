"""The per-strategy lock that orders every change of a strategy's trading state.

A PostgreSQL transaction-scoped advisory lock keyed on the strategy: the engine holds it
across the trading transaction of a candle close, and a change of the strategy's candle or
its deletion takes it too, so neither ever sees the other half-done. It is released by
COMMIT or ROLLBACK (also when the holder's connection dies), never by hand.
"""

from uuid import UUID

from django.db import connection


def strategy_lock_key(*, strategy_id) -> int:
    """The lock's key: the strategy id's first 64 bits, as PostgreSQL's signed bigint."""
    return int.from_bytes(UUID(str(strategy_id)).bytes[:8], "big", signed=True)


def strategy_lock(*, strategy_id) -> None:
    """Wait for and take the strategy's lock until the current transaction ends (call it
    inside `transaction.atomic()`)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s)", [strategy_lock_key(strategy_id=strategy_id)]
        )
