import base64
import json
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_redis import get_redis_connection

from executions.checks import execution_settings_check
from executions.models import StrategyExecution
from executions.schedule import RESOLUTION_CRONTABS
from executions.tasks import reap_stale_executions, resolution_tick, run_strategy
from executions.tests.factories import ExecutionFactory
from executions.tests.helpers import (
    BUY_WITH_STOPS,
    CLOSE,
    HOLD,
    RESOLUTION,
    SYMBOL,
    make_candles,
    make_strategy,
)
from marketdata.candles import candle_close_floor
from marketdata.services import candles_backfill
from strategies import registry
from subscriptions.tests.factories import SubscriptionFactory
from tradeplatform.celery import app as celery_app
from tradeplatform.formatting import iso_utc

Status = StrategyExecution.Status
pytestmark = pytest.mark.django_db
PERIOD_SECONDS = RESOLUTION * 60


def subscribed(code=HOLD, **kwargs):
    strategy = make_strategy(code, **kwargs)
    SubscriptionFactory(strategy=strategy)
    return strategy


def test_close_is_the_floor_never_the_ceiling():
    late_tick = CLOSE + timedelta(milliseconds=3)
    assert candle_close_floor(late_tick, RESOLUTION) == CLOSE
    assert candle_close_floor(CLOSE - timedelta(milliseconds=3), RESOLUTION) == CLOSE - timedelta(
        seconds=PERIOD_SECONDS
    )


def test_tick_runs_registered_strategies_of_its_resolution_only(monkeypatch):
    before = candle_close_floor(timezone.now(), RESOLUTION)
    # The tick fires just after the close, as beat does: later in the period the run is
    # past its deadline and rightly SKIPPED as missed.
    just_after_close = before + timedelta(seconds=2)
    monkeypatch.setattr(timezone, "now", lambda: just_after_close)
    candles_backfill(symbol=SYMBOL, resolution=RESOLUTION, end_close=before, count=30)
    registered = subscribed()
    other_resolution = make_strategy(HOLD)
    other_resolution.execution_config = {**other_resolution.execution_config, "resolution": 15}
    other_resolution.save()
    SubscriptionFactory(strategy=other_resolution)
    registry.registry_rebuild()
    unregistered = subscribed()  # in the database, but the (built) registry never heard of it

    enqueued = resolution_tick.delay(RESOLUTION).get()

    assert enqueued == 1
    execution = StrategyExecution.objects.get()
    assert execution.strategy_id == registered.id
    assert execution.candle_close == before
    assert execution.status == Status.COMPLETED, execution.error_message
    assert not StrategyExecution.objects.filter(strategy__in=[other_resolution, unregistered])


def test_tick_rebuilds_a_lost_registry_from_the_database():
    strategy = subscribed()
    registry.registry_rebuild()
    get_redis_connection("default").flushdb()  # Redis restarted without persistence
    registry._local_clear()

    resolution_tick.delay(RESOLUTION).get()

    assert get_redis_connection("default").exists(registry.BUILT_KEY)
    assert registry.registry_strategy_ids(symbol=SYMBOL, resolution=RESOLUTION) == {
        str(strategy.id)
    }
    assert StrategyExecution.objects.filter(strategy=strategy).exists()


def test_fan_out_writes_the_expected_rows_and_messages_of_ids_that_never_expire():
    strategy = subscribed()
    redis = get_redis_connection("default")
    celery_app.conf.task_always_eager = False
    try:
        close = candle_close_floor(timezone.now(), RESOLUTION)
        resolution_tick(RESOLUTION)  # the body runs here; its fan-out goes to the broker
    finally:
        celery_app.conf.task_always_eager = True
    messages = [json.loads(raw) for raw in redis.lrange("celery", 0, -1)]
    redis.delete("celery")
    runs = [m for m in messages if m["headers"]["task"] == "executions.run_strategy"]
    assert len(runs) == 1
    headers = runs[0]["headers"]
    args, kwargs, _ = json.loads(base64.b64decode(runs[0]["body"]))
    assert (args, kwargs) == ([str(strategy.id), close.isoformat()], {})
    # An expired message would vanish without a row: the row carries the deadline instead.
    assert headers["expires"] is None
    expected = StrategyExecution.objects.get(strategy=strategy, candle_close=close)
    assert expected.status == Status.PENDING
    assert close < expected.deadline <= close + timedelta(seconds=PERIOD_SECONDS)
    assert "secret" not in json.dumps(runs[0]).lower()


def test_run_strategy_task_runs_the_execution():
    make_candles()
    strategy = subscribed(BUY_WITH_STOPS)
    assert run_strategy.delay(str(strategy.id), CLOSE.isoformat()).get() == Status.COMPLETED
    assert run_strategy.delay(str(strategy.id), CLOSE.isoformat()).get() is None


def test_reaper_fails_only_stale_running_rows():
    stale = ExecutionFactory(status=Status.RUNNING)
    fresh = ExecutionFactory(status=Status.RUNNING)
    old_completed = ExecutionFactory(status=Status.COMPLETED)
    long_ago = timezone.now() - timedelta(hours=1)
    StrategyExecution.objects.filter(pk__in=[stale.pk, old_completed.pk]).update(
        started_at=long_ago
    )

    assert reap_stale_executions.delay().get() == 1

    stale.refresh_from_db()
    fresh.refresh_from_db()
    old_completed.refresh_from_db()
    assert (stale.status, stale.error_message) == (Status.FAILED, "worker lost (reaped)")
    assert stale.completed_at is not None
    assert (fresh.status, old_completed.status) == (Status.RUNNING, Status.COMPLETED)


def test_setup_periodic_tasks_is_idempotent():
    call_command("setup_periodic_tasks", stdout=StringIO())
    call_command("setup_periodic_tasks", stdout=StringIO())

    ticks = PeriodicTask.objects.filter(task="executions.resolution_tick")
    assert ticks.count() == len(RESOLUTION_CRONTABS) == 7
    for task in ticks:
        [resolution] = json.loads(task.args)
        assert 0 < task.expire_seconds < resolution * 60
        assert str(task.crontab.timezone) == "UTC"
    four_hours = ticks.get(args="[240]").crontab
    daily = ticks.get(args="[1440]").crontab
    assert (four_hours.minute, four_hours.hour) == ("0", "*/4")
    assert (daily.minute, daily.hour) == ("0", "0")
    reaper = PeriodicTask.objects.get(task="executions.reap_stale_executions")
    assert (reaper.crontab.minute, reaper.crontab.hour) == ("*", "*")
    reconcile = PeriodicTask.objects.get(task="strategies.registry_reconcile")
    assert reconcile.crontab.minute == "*/5"
    assert reconcile.expire_seconds < 5 * 60
    orders = PeriodicTask.objects.get(task="executions.orders_reconcile")
    assert orders.crontab.minute == "*" and orders.expire_seconds < 60
    backtest_reaper = PeriodicTask.objects.get(task="backtests.reap_stale_backtests")
    assert (backtest_reaper.crontab.minute, backtest_reaper.crontab.hour) == ("*", "*")
    assert PeriodicTask.objects.count() == 11


def test_run_candle_command_prints_one_line_per_execution():
    make_candles()
    strategy = subscribed(BUY_WITH_STOPS)
    out = StringIO()

    call_command(
        "run_candle",
        "--symbol",
        "btcusdt",
        "--resolution",
        "5",
        "--close",
        "2026-01-15T15:00:00Z",
        stdout=out,
    )

    lines = out.getvalue().splitlines()
    assert lines[0] == "BTCUSDT:5 close 2026-01-15T15:00:00Z"
    assert lines[1].startswith(f"{strategy.code}: COMPLETED signal=BUY trades=1 ")


def test_run_candle_defaults_to_the_last_closed_candle():
    out = StringIO()
    call_command("run_candle", "--symbol", "ETHUSDT", "--resolution", "15", stdout=out)
    close = candle_close_floor(timezone.now(), 15)
    first, second = out.getvalue().splitlines()
    assert first in {
        f"ETHUSDT:15 close {iso_utc(close)}",
        f"ETHUSDT:15 close {iso_utc(close - timedelta(minutes=15))}",
    }
    assert second == "no strategy is registered on this candle"


class TestSettingsChecks:
    def test_defaults_pass(self):
        assert execution_settings_check() == []

    @pytest.mark.parametrize(
        ("overrides", "error_id"),
        [
            ({"CELERY_TASK_TIME_LIMIT": 3600}, "executions.E002"),
            ({"CELERY_WORKER_PREFETCH_MULTIPLIER": 4}, "executions.E003"),
            ({"SIGNAL_PRICE_BAND": Decimal(0)}, "executions.E004"),
            ({"SIGNAL_PRICE_BAND": Decimal(1)}, "executions.E004"),
        ],
    )
    def test_inconsistent_settings_fail(self, overrides, error_id):
        with override_settings(**overrides):
            assert [error.id for error in execution_settings_check()] == [error_id]
