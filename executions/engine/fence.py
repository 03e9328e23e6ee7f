"""Lock and fence: a (strategy, candle close) runs at most once, however often it is
delivered.

The Redis lock `execution:{strategy}:{symbol}:{resolution}:{close}` (token-owned,
non-blocking, released only by its owner) saves a duplicate delivery the work of trying.
The fence is the database: the StrategyExecution row, unique per (strategy, close); an
INSERT that hits the constraint is a duplicate and stops there.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django_redis import get_redis_connection
from redis.exceptions import LockError, RedisError

from executions.models import StrategyExecution

logger = logging.getLogger(__name__)


def execution_lock_key(*, strategy_id, symbol: str, resolution: int, candle_close: datetime) -> str:
    return f"execution:{strategy_id}:{symbol}:{resolution}:{candle_close.isoformat()}"


@contextmanager
def execution_lock(
    *, strategy_id, symbol: str, resolution: int, candle_close: datetime
) -> Iterator[bool]:
    """Try the lock once; yields whether it was acquired, and releases it at the end."""
    lock = get_redis_connection("default").lock(
        execution_lock_key(
            strategy_id=strategy_id,
            symbol=symbol,
            resolution=resolution,
            candle_close=candle_close,
        ),
        timeout=settings.EXECUTION_LOCK_TIMEOUT,
    )
    if not lock.acquire(blocking=False):
        yield False
        return
    try:
        yield True
    finally:
        try:
            lock.release()
        except LockError:
            # Expired and possibly taken by another delivery, which the row fenced off.
            logger.warning(
                "execution lock of %s at %s expired before release", strategy_id, candle_close
            )
        except RedisError as exc:
            # Redis went away during the run. The execution is on the record in
            # PostgreSQL already; the lock expires by itself (EXECUTION_LOCK_TIMEOUT).
            logger.warning(
                "execution lock of %s at %s not released, Redis unavailable: %s",
                strategy_id,
                candle_close,
                type(exc).__name__,
            )


def execution_claim(
    *, strategy_id, symbol: str, resolution: int, candle_close: datetime
) -> StrategyExecution | None:
    """The RUNNING row of this run, or None when it exists already (a duplicate delivery:
    its owner ran it or runs it)."""
    try:
        # In autocommit (a worker) the INSERT is its own transaction: no BEGIN and
        # COMMIT around it. Inside a caller's transaction, a savepoint keeps a
        # duplicate's IntegrityError from breaking that transaction.
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            return StrategyExecution.objects.create(
                strategy_id=strategy_id,
                symbol=symbol,
                resolution=resolution,
                candle_close=candle_close,
                status=StrategyExecution.Status.RUNNING,
            )
    except IntegrityError:
        return None
