"""Issue 12: closes of one strategy apply in order, none is lost or silent, the reaper and
a run fence each other, and a broken signal never stops the other strategies."""

import threading
import time
from datetime import timedelta
from decimal import Decimal as D
from io import StringIO
from uuid import uuid4

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from executions import services
from executions.engine import execution_expect, execution_run, orchestration
from executions.engine.fence import close_lock, execution_claim
from executions.engine.flow import execution_flow
from executions.models import StrategyExecution, Trade
from executions.tests.factories import TradeFactory
from executions.tests.helpers import (
    BUY_WITH_STOPS,
    CLOSE,
    HOLD,
    PERIOD,
    RESOLUTION,
    SELL_WITH_STOPS,
    SYMBOL,
    make_candles,
    make_strategy,
    run_owned_elsewhere,
    source,
)
from strategies.models import Strategy
from strategies.settings_cache import strategy_settings_get
from subscriptions.tests.factories import SubscriptionFactory

Status = StrategyExecution.Status
pytestmark = pytest.mark.django_db
NEXT = CLOSE + PERIOD


def row(strategy, close=CLOSE) -> StrategyExecution:
    return StrategyExecution.objects.get(strategy=strategy, candle_close=close)


def unfinished(strategy, close=CLOSE, *, status=Status.RUNNING, deadline=None):
    """A row as a run that died (RUNNING, a token, nobody holding its lock) or a close the
    tick expected (PENDING) leaves it."""
    return StrategyExecution.objects.create(
        strategy=strategy,
        symbol=SYMBOL,
        resolution=RESOLUTION,
        candle_close=close,
        status=status,
        run_token=uuid4() if status == Status.RUNNING else None,
        deadline=deadline,
    )


# --------------------------------------------------------------------------- order


def test_a_close_arriving_after_a_later_one_applied_is_superseded():
    make_candles(count=31, candle_close=NEXT)
    strategy = make_strategy(BUY_WITH_STOPS)
    SubscriptionFactory(strategy=strategy, max_positions=1)

    later = execution_run(strategy_id=strategy.id, candle_close=NEXT)
    late = execution_run(strategy_id=strategy.id, candle_close=CLOSE)

    assert (later.status, later.trades_created) == (Status.COMPLETED, 1)
    assert late.status == Status.SKIPPED
    assert late.error_message == f"superseded by a later close ({NEXT.isoformat()})"
    assert not Trade.objects.filter(execution=late).exists()


def test_an_earlier_close_whose_run_died_is_given_up_and_its_run_fenced():
    """Close T's run died (RUNNING, its lock free); close T+1 gives it up for good, then
    applies. T's run, were it to resume, finds its row gone and writes nothing."""
    make_candles(count=31, candle_close=NEXT)
    strategy = make_strategy(BUY_WITH_STOPS)
    subscription = SubscriptionFactory(strategy=strategy)
    dead = unfinished(strategy)

    later = execution_run(strategy_id=strategy.id, candle_close=NEXT)

    dead.refresh_from_db()
    assert (dead.status, dead.error_message) == (
        Status.SKIPPED,
        f"superseded by a later close ({NEXT.isoformat()})",
    )
    assert later.status == Status.COMPLETED
    execution_flow(execution=dead, config=strategy_settings_get(strategy_id=strategy.id))
    dead.refresh_from_db()
    assert dead.status == Status.SKIPPED
    assert Trade.objects.filter(subscription=subscription).count() == 1  # T+1's only


@pytest.mark.django_db(transaction=True)
def test_a_later_close_waits_for_an_earlier_one_running_in_a_live_worker():
    make_candles(count=31, candle_close=NEXT)
    strategy = make_strategy(SELL_WITH_STOPS)
    subscription = SubscriptionFactory(strategy=strategy, max_positions=1)
    earlier = unfinished(strategy, deadline=timezone.now() + timedelta(minutes=5))
    results = []

    def deliver():
        try:
            results.append(execution_run(strategy_id=strategy.id, candle_close=NEXT))
        finally:
            connection.close()

    with run_owned_elsewhere(strategy_id=strategy.id):
        thread = threading.Thread(target=deliver)
        thread.start()
        time.sleep(1.0)
        # T+1 has run its strategy and waits for its turn: T is alive and may still trade.
        assert row(strategy, NEXT).status == Status.RUNNING
        # T ends (its trading step opened a SELL for the subscription).
        TradeFactory(
            subscription=subscription,
            execution=earlier,
            side="SELL",
            stop_loss=D(105),
            take_profit=D(90),
        )
        StrategyExecution.objects.filter(id=earlier.id).update(
            status=Status.COMPLETED, applied_at=timezone.now()
        )
    thread.join(timeout=30)

    [later] = results
    later.refresh_from_db()
    assert later.status == Status.COMPLETED
    # Judged as of its close: T's SELL was open, so maxPositions 1 refused a second one.
    assert later.trades_created == 0
    assert "max open positions reached" in later.execution_log
    assert later.applied_at > row(strategy).applied_at


# --------------------------------------------------------------------------- none lost


def test_a_run_killed_mid_way_is_run_again_by_its_redelivery():
    make_candles()
    strategy = make_strategy(BUY_WITH_STOPS)
    SubscriptionFactory(strategy=strategy)
    dead = unfinished(strategy)

    rerun = execution_run(strategy_id=strategy.id, candle_close=CLOSE)

    assert rerun.id == dead.id and rerun.run_token != dead.run_token
    assert (rerun.status, rerun.trades_created) == (Status.COMPLETED, 1)


def test_a_duplicate_while_the_owner_lives_writes_nothing():
    make_candles()
    strategy = make_strategy(BUY_WITH_STOPS)
    SubscriptionFactory(strategy=strategy)
    owned = unfinished(strategy)
    with run_owned_elsewhere(strategy_id=strategy.id):
        assert execution_run(strategy_id=strategy.id, candle_close=CLOSE) is None
    owned.refresh_from_db()
    assert (owned.status, owned.run_token) == (Status.RUNNING, owned.run_token)
    assert not Trade.objects.exists()


def test_a_run_delivered_after_its_deadline_says_it_was_missed():
    make_candles()
    strategy = make_strategy(BUY_WITH_STOPS)
    SubscriptionFactory(strategy=strategy)
    execution_expect(
        strategy_ids=[strategy.id],
        symbol=SYMBOL,
        resolution=RESOLUTION,
        candle_close=CLOSE,
        deadline=timezone.now() - timedelta(seconds=1),
    )

    late = execution_run(strategy_id=strategy.id, candle_close=CLOSE)

    behind = int((late.completed_at - CLOSE).total_seconds())
    assert late.status == Status.SKIPPED
    assert late.error_message in {
        f"missed: the queue was {behind} s behind",
        f"missed: the queue was {behind - 1} s behind",
    }
    assert not Trade.objects.exists()


def test_the_reaper_settles_every_expected_close_nobody_will_settle():
    strategy = make_strategy(HOLD)
    now = timezone.now()
    past = now - timedelta(seconds=1)
    never_started = unfinished(strategy, CLOSE, status=Status.PENDING, deadline=past)
    dead = unfinished(strategy, CLOSE + PERIOD, deadline=past)
    alive = unfinished(strategy, CLOSE + 2 * PERIOD, deadline=past)
    on_time = unfinished(strategy, CLOSE + 3 * PERIOD, status=Status.PENDING, deadline=now + PERIOD)

    with run_owned_elsewhere(strategy_id=strategy.id, candle_close=alive.candle_close):
        assert services.stale_executions_reap(now=now) == 2

    for settled in (never_started, dead):
        settled.refresh_from_db()
        assert settled.status == Status.SKIPPED
        assert settled.error_message.startswith("missed: the queue was ")
    alive.refresh_from_db()
    on_time.refresh_from_db()
    assert (alive.status, on_time.status) == (Status.RUNNING, Status.PENDING)


def test_a_reaped_run_writes_no_trade():
    """The run claimed its row; the reaper (its time limit long gone, say) fails it while
    it is in the sandbox; the run then comes back with a BUY: nothing is written."""
    make_candles()
    strategy = make_strategy(BUY_WITH_STOPS)
    SubscriptionFactory(strategy=strategy)
    with close_lock(strategy_id=strategy.id, candle_close=CLOSE):
        execution = execution_claim(
            strategy_id=strategy.id, symbol=SYMBOL, resolution=RESOLUTION, candle_close=CLOSE
        )
        later = timezone.now() + timedelta(hours=1)
        assert services.stale_executions_reap(now=later) == 1
        execution_flow(execution=execution, config=strategy_settings_get(strategy_id=strategy.id))
    execution.refresh_from_db()
    assert (execution.status, execution.error_message) == (Status.FAILED, "worker lost (reaped)")
    assert not Trade.objects.exists()


# --------------------------------------------------------------------------- signals


def test_a_nan_in_the_signal_fails_the_run_and_is_not_stored():
    make_candles()
    strategy = make_strategy(source('return {"action": "HOLD", "x": float("nan")}'))
    execution = execution_run(strategy_id=strategy.id, candle_close=CLOSE)
    execution.refresh_from_db()
    assert execution.status == Status.FAILED
    assert execution.error_message.startswith("invalid signal: x must be a finite number")
    assert execution.signal is None


def test_a_result_the_database_refuses_ends_failed_never_running(monkeypatch):
    """Whatever slips past the signal checks and makes PostgreSQL refuse the row's end (a
    DataError), the row ends FAILED without the signal."""
    from executions.engine import flow

    make_candles()
    strategy = make_strategy(source('return {"action": "HOLD", "x": float("nan")}'))
    real_parse = flow.parse_signal
    monkeypatch.setattr(
        flow, "parse_signal", lambda raw, **kwargs: real_parse({"action": "HOLD"}, **kwargs)
    )
    execution = execution_run(strategy_id=strategy.id, candle_close=CLOSE)
    execution.refresh_from_db()
    assert execution.status == Status.FAILED
    assert execution.error_message.startswith("internal error: DataError")
    assert execution.signal is None


def test_a_broken_strategy_never_stops_the_others_of_the_candle(monkeypatch):
    make_candles()
    broken, healthy = make_strategy(HOLD), make_strategy(BUY_WITH_STOPS)
    SubscriptionFactory(strategy=broken)
    SubscriptionFactory(strategy=healthy)
    real_run = orchestration.execution_run

    def run(*, strategy_id, candle_close):
        if str(strategy_id) == str(broken.id):
            raise RuntimeError("the settings cache went away")
        return real_run(strategy_id=strategy_id, candle_close=candle_close)

    monkeypatch.setattr(orchestration, "execution_run", run)
    out = StringIO()
    call_command(
        "run_candle",
        "--symbol",
        SYMBOL,
        "--resolution",
        str(RESOLUTION),
        "--close",
        CLOSE.isoformat(),
        stdout=out,
    )
    assert row(healthy).status == Status.COMPLETED
    assert Trade.objects.filter(execution__strategy=healthy).count() == 1


# --------------------------------------------------------------------------- open trades


def test_a_candle_changed_during_the_run_is_skipped():
    make_candles()
    strategy = make_strategy(BUY_WITH_STOPS)
    SubscriptionFactory(strategy=strategy)
    strategy_settings_get(strategy_id=strategy.id)  # the run reads the cached settings
    config = {**strategy.execution_config, "symbol": "ETHUSDT"}
    Strategy.objects.filter(id=strategy.id).update(execution_config=config)

    execution = execution_run(strategy_id=strategy.id, candle_close=CLOSE)

    assert execution.status == Status.SKIPPED
    assert execution.error_message == "the strategy's candle changed during the run"
    assert not Trade.objects.exists()


def test_the_trades_of_a_cancelled_subscription_close_at_the_next_close(run_close):
    make_candles()
    strategy = make_strategy(HOLD)
    cancelled = SubscriptionFactory(strategy=strategy, is_active=False)
    kept = SubscriptionFactory(strategy=strategy, is_active=False, keep_open_trades=True)
    earlier = unfinished(strategy, CLOSE - PERIOD, status=Status.COMPLETED)
    closing = TradeFactory(
        subscription=cancelled,
        execution=earlier,
        quantity=D(2),
        entry_price=D(90),
        stop_loss=D(50),
        take_profit=D(500),
    )
    following = TradeFactory(
        subscription=kept, execution=earlier, stop_loss=D(50), take_profit=D(500)
    )

    execution = run_close(strategy_id=strategy.id, candle_close=CLOSE)

    closing.refresh_from_db()
    following.refresh_from_db()
    assert (closing.status, closing.exit_reason, closing.exit_price) == (
        "CLOSED",
        "CANCELLED",
        D(100),
    )
    assert (closing.closed_at, closing.pnl) == (CLOSE, D(20))
    assert following.status == "OPEN"
    assert "closing 1 trade(s) of cancelled subscriptions at 100" in execution.execution_log
    cancelled.refresh_from_db()
    assert (cancelled.winning_trades, cancelled.total_pnl) == (1, D(20))


def test_a_huge_signal_fails_the_run_and_is_not_stored():
    """900 KB of signal: the live cap is the backtests' (4 KB), and nothing of it is kept."""
    make_candles()
    strategy = make_strategy(source('return {"action": "HOLD", "pad": "x" * 900_000}'))
    execution = execution_run(strategy_id=strategy.id, candle_close=CLOSE)
    execution.refresh_from_db()
    assert execution.status == Status.FAILED
    assert "4096 bytes" in execution.error_message
    assert execution.signal is None


def test_the_close_lock_names_the_instant_not_its_spelling():
    from datetime import timezone as tz

    from executions.engine import close_lock_key

    strategy_id = uuid4()
    elsewhere = CLOSE.astimezone(tz(timedelta(hours=2)))
    assert close_lock_key(strategy_id=strategy_id, candle_close=elsewhere) == close_lock_key(
        strategy_id=strategy_id, candle_close=CLOSE
    )
    assert close_lock_key(strategy_id=strategy_id, candle_close=NEXT) != close_lock_key(
        strategy_id=strategy_id, candle_close=CLOSE
    )
