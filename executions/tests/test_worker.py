import subprocess
import sys
import time
from decimal import Decimal

import pytest
from django.conf import settings

from backtests.models import Backtest
from backtests.services import backtest_create
from executions.engine import execution_run
from executions.models import StrategyExecution, Trade
from executions.tasks import run_strategy
from executions.tests.helpers import BUY_WITH_STOPS, CLOSE, PERIOD, make_candles, make_strategy
from executions.worker_guard import confinement_check, confinement_failures, confinement_reset
from subscriptions.tests.factories import SubscriptionFactory
from tradeplatform.celery import app as celery_app
from tradeplatform.tests.fixtures import worker_process

Status = StrategyExecution.Status


@pytest.fixture
def confinement():
    yield
    confinement_reset()


@pytest.mark.django_db
def test_the_configured_sandbox_passes_its_selftest(confinement):
    assert confinement_check("process") == []
    assert confinement_failures() == []


@pytest.mark.django_db
def test_a_worker_whose_sandbox_fails_its_selftest_refuses_strategies(confinement):
    make_candles()
    strategy = make_strategy(BUY_WITH_STOPS)
    SubscriptionFactory(strategy=strategy)
    failures = confinement_check("no-such-backend")
    assert failures and "selftest could not run" in failures[0]

    execution = execution_run(strategy_id=strategy.id, candle_close=CLOSE)

    assert execution.status == Status.FAILED
    assert execution.error_message.startswith("sandbox confinement failed: ")
    assert not Trade.objects.exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_execution(worker):
    process, log = worker
    make_candles()
    strategy = make_strategy(BUY_WITH_STOPS)
    SubscriptionFactory(strategy=strategy)

    celery_app.conf.task_always_eager = False
    try:
        run_strategy.apply_async((str(strategy.id), CLOSE.isoformat()))
    finally:
        celery_app.conf.task_always_eager = True

    deadline = time.monotonic() + 60
    execution = None
    while time.monotonic() < deadline and process.poll() is None:
        execution = StrategyExecution.objects.filter(strategy=strategy).first()
        if execution is not None and execution.status != Status.RUNNING:
            break
        time.sleep(0.2)
    output = log.read_text()
    assert execution is not None, f"the worker ran nothing; its log:\n{output}"
    assert execution.status == Status.COMPLETED, execution.error_message
    assert execution.trades_created == 1
    assert Trade.objects.filter(execution=execution).count() == 1
    assert f"sandbox confinement holds for backend {settings.SANDBOX_BACKEND!r}" in output


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_backtest_goes_to_the_backtests_queue_and_its_worker_runs_it(backtest_worker):
    process, log = backtest_worker
    make_candles(60)
    strategy = make_strategy(BUY_WITH_STOPS)
    celery_app.conf.task_always_eager = False
    try:
        # Committed (transaction=True): the on-commit hook enqueues the task, routed by
        # CELERY_TASK_ROUTES to the queue only this worker consumes.
        backtest = backtest_create(
            user=strategy.user,
            strategy_id=strategy.id,
            start=CLOSE - 30 * PERIOD,
            end=CLOSE,
            capital=Decimal("10000"),
            risk_per_trade=Decimal("0.01"),
        )
    finally:
        celery_app.conf.task_always_eager = True
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        backtest.refresh_from_db()
        if backtest.status in (Backtest.Status.COMPLETED, Backtest.Status.FAILED):
            break
        time.sleep(0.2)
    output = log.read_text()
    assert backtest.status == Backtest.Status.COMPLETED, f"{backtest.error_message}\n{output}"
    assert backtest.progress_done == backtest.progress_total == 31
    assert backtest.metrics["total_trades"] >= 1


def test_worker_process_becomes_undumpable():
    """Run in a child so the test process itself stays debuggable."""
    code = (
        "import ctypes, ctypes.util\n"
        "from executions.worker_guard import make_process_undumpable\n"
        "assert make_process_undumpable()\n"
        "libc = ctypes.CDLL(ctypes.util.find_library('c'))\n"
        "print(libc.prctl(3, 0, 0, 0, 0))\n"  # PR_GET_DUMPABLE
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "0"


def _dev_private_key() -> str:
    return settings.DEV_BROKER_PRIVATE_KEY_FILE.read_text().strip()


@pytest.mark.worker
def test_a_strategy_worker_holding_the_broker_key_refuses_to_start(tmp_path):
    with worker_process(tmp_path, extra_env={"BROKER_PRIVATE_KEYS": _dev_private_key()}) as (
        process,
        log,
    ):
        assert process.wait(timeout=60) != 0
    assert "only the orders worker (-Q orders) may hold it; not starting" in log.read_text()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_orders_worker_reconciles_submitted_orders_before_anything_else(tmp_path):
    import json

    from accounts.tests.factories import BrokerCredentialFactory
    from executions.models import Order
    from executions.orders import entry_orders_create
    from executions.tests.factories import TradeFactory
    from marketdata.exchange_standin import CCXT_OPTIONS, StandInExchange

    key, secret = "worker-key-0123456789", "worker-secret-0123456789"
    with StandInExchange(accounts={key: secret}) as exchange:
        credential = BrokerCredentialFactory(
            broker_name="binanceusdm", api_key=key, api_secret=secret
        )
        trade = TradeFactory(
            subscription=SubscriptionFactory(broker_credential=credential, user=credential.user),
            quantity=Decimal("0.5"),
            entry_price=Decimal("42000"),
            stop_loss=Decimal("41000"),
            take_profit=None,
            entry=False,
        )
        [order_id] = entry_orders_create(
            execution=trade.execution,
            entries=[(trade.id, credential.id, "BUY", Decimal("0.5"), Decimal("42000"))],
        )
        order = Order.objects.get(id=order_id)
        # Sent by a worker that died before it heard the answer.
        exchange.book.create_order(
            key,
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.5",
             "newClientOrderId": order.client_order_id},
        )  # fmt: skip
        Order.objects.filter(id=order_id).update(status=Order.Status.SUBMITTED, attempts=1)
        env = {
            "BROKER_PRIVATE_KEYS": _dev_private_key(),
            "CCXT_API_URL": exchange.url,
            "CCXT_OPTIONS": json.dumps(CCXT_OPTIONS),
        }
        with worker_process(tmp_path, "-Q", "orders", extra_env=env) as (process, log):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                order.refresh_from_db()
                if order.status == Order.Status.FILLED or process.poll() is not None:
                    break
                time.sleep(0.3)
        assert order.status == Order.Status.FILLED, log.read_text()[-3000:]
        assert order.attempts == 1 and len(exchange.book.orders) == 1
