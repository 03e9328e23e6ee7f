"""The candle close when the infrastructure fails under it: Redis going away, a worker
killed in the middle of a strategy, two beat processes firing the same tick."""

import contextlib
import os
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings

from executions import services, tasks
from executions.engine import execution_run
from executions.engine.fence import owner_alive
from executions.models import StrategyExecution, Trade
from executions.tests.helpers import (
    BUY_WITH_STOPS,
    CLOSE,
    PERIOD,
    RESOLUTION,
    SYMBOL,
    make_candles,
    make_strategy,
    source,
)
from strategies import registry
from subscriptions.tests.factories import SubscriptionFactory
from tradeplatform.celery import app as celery_app
from tradeplatform.tests.helpers import THREADS, race
from tradeplatform.tests.redis_server import OwnRedis

Status = StrategyExecution.Status
NEXT_CLOSE = CLOSE + PERIOD
SLOW_BUY = source(
    "import time\n    time.sleep(1.5)\n"
    '    return {"action": "BUY", "stopLoss": 95.0, "takeProfit": 110.0}'
)


def _assert_never_half_written():
    assert not StrategyExecution.objects.filter(status=Status.RUNNING).exists()
    assert not Trade.objects.exclude(execution__status=Status.COMPLETED).exists()


@pytest.fixture
def own_redis(tmp_path, settings):
    server = OwnRedis(tmp_path)
    server.start()
    settings.CACHES = server.caches_setting(settings.CACHES)  # Django resets its caches
    registry._local_clear()
    try:
        yield server
    finally:
        server.stop()
        registry._local_clear()


@pytest.mark.slow
@pytest.mark.django_db
def test_redis_lost_during_a_candle_close_then_back_empty(own_redis):
    make_candles(count=40, candle_close=NEXT_CLOSE)
    slow, fast = make_strategy(SLOW_BUY), make_strategy(BUY_WITH_STOPS)
    for strategy in (slow, fast):
        SubscriptionFactory(strategy=strategy)
    assert registry.registry_ensure_built()

    # Redis dies while the slow strategy runs in its sandbox.
    killer = threading.Timer(0.5, own_redis.stop)
    killer.start()
    execution = execution_run(strategy_id=slow.id, candle_close=CLOSE)
    killer.join()
    # Its row was already written: it ends on the record (the work is in PostgreSQL);
    # only the lock could not be released, and it expires by itself.
    assert execution.status == Status.COMPLETED
    assert Trade.objects.filter(execution=execution).count() == 1

    # The next strategy cannot even start: no row, no trade, an error for Celery to retry.
    with pytest.raises(redis.ConnectionError):
        execution_run(strategy_id=fast.id, candle_close=CLOSE)
    assert not StrategyExecution.objects.filter(strategy=fast).exists()
    _assert_never_half_written()

    # Redis comes back empty: the registry is rebuilt from PostgreSQL at the next tick,
    # and the next candle runs both strategies normally.
    own_redis.start()
    registry._local_clear()
    assert registry.registry_strategy_ids(symbol=SYMBOL, resolution=RESOLUTION) == set()
    assert registry.registry_ensure_built()
    assert registry.registry_strategy_ids(symbol=SYMBOL, resolution=RESOLUTION) == {
        str(slow.id),
        str(fast.id),
    }
    for strategy in (slow, fast):
        after = execution_run(strategy_id=strategy.id, candle_close=NEXT_CLOSE)
        assert after.status == Status.COMPLETED, after.error_message
    _assert_never_half_written()


@pytest.mark.slow
@pytest.mark.django_db
def test_a_run_that_met_no_redis_is_retried_until_redis_is_back(own_redis, monkeypatch):
    make_candles(count=40)
    strategy = make_strategy(BUY_WITH_STOPS)
    SubscriptionFactory(strategy=strategy)
    own_redis.stop()
    attempts = []

    def execution_run_counted(**kwargs):
        attempts.append(kwargs)
        if len(attempts) == 3:
            own_redis.start()
        return execution_run(**kwargs)

    monkeypatch.setattr(tasks, "execution_run", execution_run_counted)
    # Eager Celery runs the retries at once, nested (a worker waits for the backoff).
    monkeypatch.setitem(celery_app.conf, "task_eager_propagates", False)
    tasks.run_strategy.apply((str(strategy.id), CLOSE.isoformat()))
    assert len(attempts) == 3
    assert StrategyExecution.objects.get(strategy=strategy).trades_created == 1
    _assert_never_half_written()


# --- two beat processes ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_beats_firing_the_same_tick_run_each_strategy_once(monkeypatch):
    make_candles(count=40)
    strategies = [make_strategy(BUY_WITH_STOPS) for _ in range(3)]
    for strategy in strategies:
        SubscriptionFactory.create_batch(2, strategy=strategy)
    # Both ticks fire a few hundred ms after CLOSE (floor, not ceiling).
    monkeypatch.setattr(tasks.timezone, "now", lambda: CLOSE + timedelta(seconds=0.4))
    # Several beats at once (THREADS of them), each fanning out eagerly in its thread.
    outcomes = race(lambda: tasks.resolution_tick(RESOLUTION))
    assert outcomes == [3] * THREADS  # each enqueued every strategy; the fence ran it once
    for strategy in strategies:
        execution = StrategyExecution.objects.get(strategy=strategy, candle_close=CLOSE)
        assert execution.status == Status.COMPLETED
        assert Trade.objects.filter(execution=execution).count() == 2
    assert Trade.objects.count() == 6
    _assert_never_half_written()


# --- a worker killed in the middle of a strategy ------------------------------------------


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (the sandbox runs the strategy in its own session)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@pytest.fixture
def worker_env():
    """For the engine's `worker` fixture: a sandbox that lets the strategy sleep long
    enough to be killed in the middle."""
    return {
        "SANDBOX_WALL_SECONDS": "60",
        "SANDBOX_CPU_SECONDS": "60",
    }


def _wait_for(condition, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_strategy_is_reaped_and_never_trades_twice(worker):
    # `worker` (tradeplatform.tests.fixtures) with this module's `worker_env` below.
    process, log = worker
    make_candles(count=40)
    strategy = make_strategy(
        source(
            "import time\n    time.sleep(30)\n"
            '    return {"action": "BUY", "stopLoss": 95.0, "takeProfit": 110.0}'
        )
    )
    SubscriptionFactory(strategy=strategy)
    celery_app.conf.task_always_eager = False
    try:
        tasks.run_strategy.apply_async((str(strategy.id), CLOSE.isoformat()))
    finally:
        celery_app.conf.task_always_eager = True

    running = _wait_for(
        lambda: StrategyExecution.objects.filter(strategy=strategy, status=Status.RUNNING).first(),
        timeout=60,
        what=f"the worker to start the strategy; its log:\n{log.read_text()}",
    )
    assert owner_alive(running)  # the worker's session holds the close's lock
    time.sleep(0.5)  # the strategy is inside its sandbox, sleeping
    for pid in [process.pid, *_descendants(process.pid)]:
        with contextlib.suppress(ProcessLookupError):  # a sandbox child that just ended
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=10)

    # The lock died with the worker's database session: a re-delivery could take over.
    _wait_for(lambda: not owner_alive(running), timeout=10, what="the lock to die")
    # The reaper, once the task's time limit has passed, marks the row FAILED.
    later = running.started_at + timedelta(
        seconds=django_settings.CELERY_TASK_TIME_LIMIT + services.REAP_MARGIN_SECONDS + 1
    )
    assert services.stale_executions_reap(now=later) == 1
    running.refresh_from_db()
    assert running.status == Status.FAILED
    assert running.error_message == "worker lost (reaped)"

    # Running that candle again (a redelivery, run_candle) writes nothing twice.
    assert execution_run(strategy_id=strategy.id, candle_close=CLOSE) is None
    assert StrategyExecution.objects.filter(strategy=strategy).count() == 1
    assert not Trade.objects.exists()
    _assert_never_half_written()
