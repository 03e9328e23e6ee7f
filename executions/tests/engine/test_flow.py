import threading
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import BrokerCredentialFactory
from executions.engine import execution_run
from executions.models import StrategyExecution, Trade
from executions.tests.factories import ExecutionFactory, TradeFactory
from executions.tests.helpers import (
    BUY_ATR_FALLBACK,
    BUY_WITH_STOPS,
    CLOSE,
    EXIT,
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
from executions.trading import rules
from marketdata.models import Candle
from subscriptions.tests.factories import SubscriptionFactory

Status = StrategyExecution.Status
pytestmark = pytest.mark.django_db


def open_trade(subscription, *, opened_at, side="BUY", quantity="1", entry="100", stop, tp):
    execution = StrategyExecution.objects.filter(
        strategy=subscription.strategy, candle_close=opened_at
    ).first() or ExecutionFactory(strategy=subscription.strategy, candle_close=opened_at)
    return TradeFactory(
        subscription=subscription,
        execution=execution,
        side=side,
        quantity=D(quantity),
        entry_price=D(entry),
        stop_loss=D(stop),
        take_profit=D(tp) if tp is not None else None,
    )


def trades_of(subscription):
    return list(Trade.objects.filter(subscription=subscription, status=Trade.Status.OPEN))


def test_candle_close_writes_sized_trades_for_eligible_subscriptions(run_close):
    make_candles()
    buy = make_strategy(BUY_WITH_STOPS)
    plain = SubscriptionFactory(strategy=buy)  # 10,000 x 1% / (100 - 95) = 20
    capped = SubscriptionFactory(  # risk wants 1000 x 10% / 5 = 20, leverage 1 caps at 10
        strategy=buy, capital=D("1000"), risk_per_trade=D("0.1"), leverage=1
    )
    paused = SubscriptionFactory(strategy=buy, is_paused=True)
    no_credential = SubscriptionFactory(
        strategy=buy, broker_credential=BrokerCredentialFactory(is_active=False)
    )
    full = SubscriptionFactory(strategy=buy, max_positions=1)
    open_trade(full, opened_at=CLOSE - PERIOD, stop="50", tp="500")
    losing_day = SubscriptionFactory(strategy=buy)  # 10,000 x 5% = 500 may be lost a day
    TradeFactory(
        subscription=losing_day,
        execution=ExecutionFactory(strategy=buy, candle_close=CLOSE - timedelta(hours=2)),
        status=Trade.Status.CLOSED,
        pnl=D("-500"),
        closed_at=CLOSE - timedelta(hours=1),
    )
    SubscriptionFactory(strategy=buy, is_active=False)  # cancelled: not even counted

    fallback = make_strategy(BUY_ATR_FALLBACK)
    with_multipliers = SubscriptionFactory(
        strategy=fallback, sl_atr_multiplier=D("1.5"), tp_atr_multiplier=D("3")
    )
    without_multiplier = SubscriptionFactory(strategy=fallback)

    sell = make_strategy(SELL_WITH_STOPS)
    short = SubscriptionFactory(strategy=sell, risk_per_trade=D("0.02"))  # 200 / 5 = 40

    executions = {
        s.code: run_close(strategy_id=s.id, candle_close=CLOSE) for s in (buy, fallback, sell)
    }

    first = executions[buy.code]
    first.refresh_from_db()
    assert first.status == Status.COMPLETED, first.error_message
    assert (first.subscribers_count, first.trades_created) == (6, 2)
    assert first.signal == {"action": "BUY", "stopLoss": 95.0, "takeProfit": 110.0}
    assert first.duration_ms is not None and first.completed_at is not None
    for reason in (
        "subscription paused",
        "broker credential inactive",
        "max open positions reached",
        "max daily loss reached",
    ):
        assert reason in first.execution_log
    [trade] = trades_of(plain)
    assert (trade.side, trade.quantity, trade.entry_price) == ("BUY", D("20"), D("100"))
    assert (trade.stop_loss, trade.take_profit) == (D("95"), D("110"))
    assert trade.execution_id == first.id
    assert trades_of(capped)[0].quantity == D("10")
    assert trades_of(paused) == trades_of(no_credential) == trades_of(losing_day) == []
    assert len(trades_of(full)) == 1  # only the one it already had
    plain.refresh_from_db()
    paused.refresh_from_db()
    assert (plain.total_trades, paused.total_trades) == (1, 0)

    second = executions[fallback.code]
    second.refresh_from_db()
    assert (second.status, second.trades_created) == (Status.COMPLETED, 1)
    [atr_trade] = trades_of(with_multipliers)
    # ATR(14) of the flat candles is 2: stop 100 - 1.5 x 2, target 100 + 3 x 2.
    assert (atr_trade.stop_loss, atr_trade.take_profit) == (D("97"), D("106"))
    assert atr_trade.quantity == D("33.33333333")  # 10,000 x 1% / 3, down to 8 places
    assert trades_of(without_multiplier) == []
    assert "slAtrMultiplier" in second.execution_log

    third = executions[sell.code]
    [short_trade] = trades_of(short)
    assert (short_trade.side, short_trade.quantity) == ("SELL", D("40"))
    assert third.trades_created == 1


def test_a_risk_sized_stop_out_stores_the_pnl_of_the_quantity_a_person_reads(run_close):
    """2,500 x 1% = 25 at risk on a BUY at 90,000 stopped at 81,000: 25 / 9,000 is sized down
    to 0.00277777 (8 places, as the API shows it), and the stop-out stores exactly
    0.00277777 x (81,000 - 90,000) = -24.99993. With a 12-place quantity (0.002777777777)
    it stored -24.99999999, the product rounded to 8 places: noise no shown number gives."""
    make_candles()
    Candle.objects.update(open=D("90000"), high=D("90100"), low=D("89900"), close=D("90000"))
    strategy = make_strategy(
        source(
            'return {"action": "BUY", "stopLoss": 81000.0, "takeProfit": 99000.0} '
            'if candles.close[-1] > 85000 else {"action": "HOLD"}'
        )
    )
    subscription = SubscriptionFactory(strategy=strategy, capital=D("2500"))
    run_close(strategy_id=strategy.id, candle_close=CLOSE)
    Candle.objects.create(
        symbol=SYMBOL,
        resolution=RESOLUTION,
        open_time=CLOSE,
        open=D("90000"),
        high=D("90000"),
        low=D("80000"),
        close=D("82000"),
        volume=D("10"),
    )

    run_close(strategy_id=strategy.id, candle_close=CLOSE + PERIOD)

    trade = Trade.objects.get(subscription=subscription)
    assert (trade.status, trade.exit_reason, trade.exit_price) == ("CLOSED", "STOP_LOSS", 81000)
    assert trade.pnl == D("-24.99993")
    assert trade.pnl == trade.quantity * (trade.exit_price - trade.entry_price)
    assert trade.quantity == D("0.00277777")
    subscription.refresh_from_db()
    assert subscription.total_pnl == D("-24.99993")


def test_stop_loss_and_take_profit_close_with_exact_pnl_and_counters(run_close):
    candles = make_candles()
    by_open = {candle.open_time: candle for candle in candles}
    opened_at = CLOSE - 3 * PERIOD
    # Before the trades opened: a crash that must not touch them.
    Candle.objects.filter(pk=by_open[opened_at - PERIOD].pk).update(low=D("10"))
    # The second candle after they opened spans 95 .. 112.
    wide = by_open[opened_at + PERIOD]
    Candle.objects.filter(pk=wide.pk).update(high=D("112"), low=D("95"))
    strategy = make_strategy(HOLD)
    both, target, short_target, untouched = (
        SubscriptionFactory(strategy=strategy) for _ in range(4)
    )
    open_trade(both, opened_at=opened_at, quantity="2", stop="96", tp="111")
    open_trade(target, opened_at=opened_at, quantity="3", stop="90", tp="111")
    open_trade(short_target, opened_at=opened_at, side="SELL", quantity="1.5", stop="120", tp="96")
    open_trade(untouched, opened_at=opened_at, stop="50", tp="500")

    execution = run_close(strategy_id=strategy.id, candle_close=CLOSE)

    assert execution.status == Status.COMPLETED
    assert "holding at 100.0" in execution.execution_log
    expected = {
        both: ("STOP_LOSS", D("96"), D("-8")),
        target: ("TAKE_PROFIT", D("111"), D("33")),
        short_target: ("TAKE_PROFIT", D("96"), D("6")),
    }
    for subscription, (reason, price, pnl) in expected.items():
        trade = Trade.objects.get(subscription=subscription)
        assert (trade.status, trade.exit_reason, trade.exit_price, trade.pnl) == (
            "CLOSED",
            reason,
            price,
            pnl,
        )
        assert trade.closed_at == wide.open_time + PERIOD
        subscription.refresh_from_db()
        assert subscription.total_pnl == pnl
        assert (subscription.winning_trades, subscription.losing_trades) == (
            (1, 0) if pnl > 0 else (0, 1)
        )
    assert Trade.objects.get(subscription=untouched).status == "OPEN"


def test_exit_closes_the_strategy_trades_at_the_last_close(run_close):
    make_candles()
    strategy = make_strategy(EXIT)
    long, short = SubscriptionFactory(strategy=strategy), SubscriptionFactory(strategy=strategy)
    open_trade(long, opened_at=CLOSE - PERIOD, quantity="2", entry="90", stop="50", tp="500")
    open_trade(short, opened_at=CLOSE - PERIOD, side="SELL", entry="110", stop="500", tp="50")
    other_strategy_trade = open_trade(
        SubscriptionFactory(), opened_at=CLOSE - PERIOD, stop="50", tp="500"
    )

    execution = run_close(strategy_id=strategy.id, candle_close=CLOSE)

    assert (execution.status, execution.trades_created) == (Status.COMPLETED, 0)
    assert [
        (t.exit_reason, t.exit_price, t.pnl) for t in Trade.objects.filter(subscription=long)
    ] == [("EXIT", D("100"), D("20"))]
    assert Trade.objects.get(subscription=short).pnl == D("10")
    other_strategy_trade.refresh_from_db()
    assert other_strategy_trade.status == "OPEN"
    long.refresh_from_db()
    assert (long.winning_trades, long.total_pnl) == (1, D("20"))


def test_opposite_signal_closes_then_opens(run_close):
    make_candles()
    strategy = make_strategy(SELL_WITH_STOPS)
    subscription = SubscriptionFactory(strategy=strategy, max_positions=1)
    old = open_trade(
        subscription, opened_at=CLOSE - PERIOD, quantity="2", entry="90", stop="50", tp="500"
    )

    execution = run_close(strategy_id=strategy.id, candle_close=CLOSE)

    assert (execution.status, execution.trades_created) == (Status.COMPLETED, 1)
    old.refresh_from_db()
    assert (old.status, old.exit_reason, old.pnl) == ("CLOSED", "SIGNAL", D("20"))
    [new] = trades_of(subscription)
    assert (new.side, new.entry_price, new.stop_loss) == ("SELL", D("100"), D("105"))


def test_inactive_strategy_and_missing_data_are_skipped(run_close):
    make_candles(10)
    inactive = make_strategy(BUY_WITH_STOPS, is_active=False)
    SubscriptionFactory(strategy=inactive)
    short_history = make_strategy(BUY_WITH_STOPS)
    SubscriptionFactory(strategy=short_history)

    first = run_close(strategy_id=inactive.id, candle_close=CLOSE)
    second = run_close(strategy_id=short_history.id, candle_close=CLOSE)
    stale = run_close(strategy_id=short_history.id, candle_close=CLOSE + PERIOD)

    assert (first.status, first.error_message) == (Status.SKIPPED, "strategy is not active")
    assert second.status == Status.SKIPPED
    assert second.error_message == "insufficient market data (have 10, need 20)"
    assert stale.status == Status.SKIPPED  # the window would end a candle early
    assert not Trade.objects.exists()


def test_same_close_twice_runs_once(run_close):
    make_candles()
    strategy = make_strategy(BUY_WITH_STOPS)
    SubscriptionFactory(strategy=strategy)
    assert run_close(strategy_id=strategy.id, candle_close=CLOSE) is not None
    # The lock is free again: the database row is what refuses the second run.
    assert run_close(strategy_id=strategy.id, candle_close=CLOSE) is None
    assert StrategyExecution.objects.count() == 1
    assert Trade.objects.count() == 1


def test_a_close_owned_by_a_live_run_elsewhere_is_left_to_it(run_close):
    make_candles()
    strategy = make_strategy(BUY_WITH_STOPS)
    with run_owned_elsewhere(strategy_id=strategy.id):
        assert run_close(strategy_id=strategy.id, candle_close=CLOSE) is None
    assert not StrategyExecution.objects.exists()


def test_unexpected_error_marks_failed_never_running(monkeypatch, run_close):
    make_candles()
    strategy = make_strategy(BUY_WITH_STOPS)
    SubscriptionFactory(strategy=strategy)

    def broken(**kwargs):  # fault injection: a bug anywhere in the flow
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(rules, "position_size", broken)
    execution = run_close(strategy_id=strategy.id, candle_close=CLOSE)
    execution.refresh_from_db()
    assert execution.status == Status.FAILED
    assert execution.error_message == "internal error: ZeroDivisionError: boom"
    assert execution.completed_at is not None
    assert not Trade.objects.exists()


@override_settings(SANDBOX_WALL_SECONDS=1.0, SANDBOX_CPU_SECONDS=1)
def test_hostile_strategies_fail_alone(run_close):
    make_candles()
    good = make_strategy(BUY_WITH_STOPS)
    SubscriptionFactory(strategy=good)
    hostile = {
        "loop": (source("while True: pass"), "time"),
        "raise": (source('raise RuntimeError("nope")'), "RuntimeError"),
        "garbage": (source("return 42"), "dict"),
        "bad-stop": (source('return {"action": "BUY", "stopLoss": 150.0}'), "stopLoss"),
    }
    strategies = {}
    for name, (code, _) in hostile.items():
        strategies[name] = make_strategy(code)
        SubscriptionFactory(strategy=strategies[name])

    results = {
        name: run_close(strategy_id=s.id, candle_close=CLOSE) for name, s in strategies.items()
    }
    good_run = run_close(strategy_id=good.id, candle_close=CLOSE)

    assert results["bad-stop"].signal == {"action": "BUY", "stopLoss": 150.0}
    for name, (_, words) in hostile.items():
        assert results[name].status == Status.FAILED, name
        assert words.lower() in results[name].error_message.lower(), results[name].error_message
        assert results[name].trades_created == 0
    assert Trade.objects.filter(execution__strategy__in=strategies.values()).count() == 0
    assert (good_run.status, good_run.trades_created) == (Status.COMPLETED, 1)


@pytest.mark.django_db(transaction=True)
def test_parallel_duplicate_deliveries_run_once():
    make_candles()
    strategy = make_strategy(BUY_WITH_STOPS)
    for _ in range(3):
        SubscriptionFactory(strategy=strategy)
    barrier = threading.Barrier(6)
    results, errors = [], []

    def deliver():
        try:
            barrier.wait()
            results.append(execution_run(strategy_id=strategy.id, candle_close=CLOSE))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len([r for r in results if r is not None]) == 1
    assert StrategyExecution.objects.get().status == Status.COMPLETED
    assert Trade.objects.count() == 3


def test_statements_per_close_do_not_grow_with_subscribers():
    """The candle close itself: its closes and entries are orders for the orders worker
    (sent after commit, which a test transaction never reaches)."""
    make_candles()
    statements = []
    for subscribers in (2, 25):
        strategy = make_strategy(BUY_WITH_STOPS)
        for _ in range(subscribers):
            subscription = SubscriptionFactory(strategy=strategy, max_positions=3)
            # One long stopped out by the candle (low 99), one short closed by the BUY.
            open_trade(subscription, opened_at=CLOSE - PERIOD, stop="99.5", tp="500")
            open_trade(subscription, opened_at=CLOSE - 2 * PERIOD, side="SELL", stop="500", tp="50")
        with CaptureQueriesContext(connection) as queries:
            execution = execution_run(strategy_id=strategy.id, candle_close=CLOSE)
        assert execution.trades_created == subscribers
        assert Trade.objects.filter(execution__strategy=strategy, status="CLOSING").count() == (
            2 * subscribers
        )
        statements.append(len(queries))
    assert statements[0] == statements[1], statements


def test_no_number_of_the_strategy_prices_or_sizes_a_live_trade(run_close):
    """Issue 12's attack on BTCUSDT at 42,000: entryPrice 1 with stopLoss 0.5 sized a
    1,000 x 10 subscription at 20 BTC ($840k). The stop is judged against the close and
    refused; an invented entryPrice with a sane stop is sized and filled at the close."""
    make_candles()
    Candle.objects.update(open=D(42000), high=D(42010), low=D(41990), close=D(42000))
    attack = make_strategy(source('return {"action": "BUY", "entryPrice": 1.0, "stopLoss": 0.5}'))
    SubscriptionFactory(strategy=attack, capital=D(1000), risk_per_trade=D("0.01"), leverage=10)
    invented = make_strategy(
        source('return {"action": "BUY", "entryPrice": 1.0, "stopLoss": 41900.0}')
    )
    honest = SubscriptionFactory(
        strategy=invented, capital=D(1000), risk_per_trade=D("0.01"), leverage=10
    )

    refused = run_close(strategy_id=attack.id, candle_close=CLOSE)
    traded = run_close(strategy_id=invented.id, candle_close=CLOSE)

    assert refused.status == Status.FAILED
    assert refused.error_message == (
        "invalid signal: a BUY's stopLoss must be below the price 42000 (the signal candle's "
        "close) and within 50% of it, from 21000 up to (not including) 42000; got stopLoss=0.5"
    )
    assert not Trade.objects.filter(execution=refused).exists()
    assert traded.status == Status.COMPLETED, traded.error_message
    [trade] = trades_of(honest)
    # 10 at risk over 42,000 - 41,900 = 0.1 BTC ($4,200 notional, under 1,000 x 10).
    assert (trade.quantity, trade.entry_price) == (D("0.1"), D(42000))


def test_a_gap_beyond_the_stop_fills_at_the_open_live(run_close):
    """The live path fills a gap as the backtest does: at the open, losing more than the
    sized risk (here 2 x (100 - 90) = 20 instead of 2 x (100 - 95) = 10)."""
    candles = make_candles()
    strategy = make_strategy(HOLD)
    subscription = SubscriptionFactory(strategy=strategy)
    open_trade(subscription, opened_at=CLOSE - PERIOD, quantity="2", stop="95", tp="110")
    Candle.objects.filter(pk=candles[-1].pk).update(open=D(90), high=D(92), low=D(88))

    run_close(strategy_id=strategy.id, candle_close=CLOSE)

    trade = Trade.objects.get(subscription=subscription)
    assert (trade.exit_reason, trade.exit_price, trade.pnl) == ("STOP_LOSS", D(90), D(-20))
