"""Health of the services the platform needs: the database, Redis and a Celery worker.

A worker proves it is alive by writing a timestamp into Redis: once when it is ready and
then on Celery's own worker heartbeat (every few seconds, from the worker's main process,
whatever the pool), at most every `HEARTBEAT_WRITE_EVERY` seconds. `/health` reads its age.
The answers name the failing service and the kind of failure, never a host or a password.
"""

import logging
import time

from django.db import DatabaseError, connections
from django_redis import get_redis_connection
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "health:worker:heartbeat"
HEARTBEAT_MAX_AGE = 90  # seconds
HEARTBEAT_WRITE_EVERY = 10  # seconds
OK = "ok"

_last_write = 0.0


def worker_heartbeat_record(*, force: bool = False) -> None:
    """Called in the worker (celery signals): stamp the heartbeat key with the time."""
    global _last_write
    now = time.time()
    if not force and now - _last_write < HEARTBEAT_WRITE_EVERY:
        return
    try:
        get_redis_connection("default").set(HEARTBEAT_KEY, f"{now:.3f}", ex=HEARTBEAT_MAX_AGE * 4)
    except RedisError as exc:
        logger.warning("worker heartbeat not recorded: %s", type(exc).__name__)
        return
    _last_write = now


def check_database() -> str:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return f"unreachable ({type(exc).__name__})"
    return OK


def check_redis() -> str:
    try:
        get_redis_connection("default").ping()
    except RedisError as exc:
        return f"unreachable ({type(exc).__name__})"
    return OK


def check_celery() -> str:
    try:
        stamp = get_redis_connection("default").get(HEARTBEAT_KEY)
    except RedisError as exc:
        return f"unknown: Redis unreachable ({type(exc).__name__})"
    if stamp is None:
        return "no worker heartbeat"
    age = time.time() - float(stamp)
    if age > HEARTBEAT_MAX_AGE:
        return f"no worker heartbeat for {int(age)} s"
    return OK


def missed_closes() -> int | None:
    """Candle closes missed in the last hour (no run traded them by their deadline);
    None when the database cannot say. A figure to watch, not a failing service."""
    from executions.selectors import executions_missed

    try:
        return executions_missed().count()
    except DatabaseError:
        return None


def health_report() -> tuple[bool, dict]:
    """The services' states; `sandbox` says how strategies run (UNCONFINED only when a
    developer allowed it, SANDBOX_ALLOW_UNCONFINED); `missedClosesLastHour` counts the
    closes missed in the last hour."""
    from executions.worker_guard import sandbox_status

    services = {
        "database": check_database(),
        "redis": check_redis(),
        "celery": check_celery(),
    }
    healthy = all(state == OK for state in services.values())
    return healthy, {
        "status": OK if healthy else "unavailable",
        "services": services,
        "sandbox": sandbox_status(),
        "missedClosesLastHour": missed_closes() if services["database"] == OK else None,
    }
