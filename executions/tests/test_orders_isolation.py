"""One slow subscriber or exchange never delays another: a real orders worker (threads)
against the stand-in, where one account, or the whole exchange, hangs. The assertions are
on the order of events (the others are FILLED while the hanging one is still unanswered),
with a generous bound on the waiting only."""

import base64
import json
import os
import signal
import threading
import time
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.db import transaction
from django_redis import get_redis_connection

from accounts.models import BrokerCredential
from accounts.tests.factories import BrokerCredentialFactory
from executions.models import Order
from executions.orders import entry_orders_create, orders_enqueue
from executions.ratelimit import exchange_slot
from executions.tests.factories import TradeFactory
from marketdata.exchange_standin import CCXT_OPTIONS, Fault, StandInExchange
from subscriptions.tests.factories import SubscriptionFactory
from tradeplatform.celery import ORDERS_QUEUE
from tradeplatform.celery import app as celery_app
from tradeplatform.tests.fixtures import worker_process

ACCOUNTS = {f"isolation-key-{n}-0123456789": f"isolation-secret-{n}-0123456789" for n in range(4)}
SLOW_KEY = next(iter(ACCOUNTS))
HANG_SECONDS = 30  # longer than anything the others need: their fills come first
WAIT_SECONDS = 60


@pytest.fixture
def exchange(settings):
    with StandInExchange(accounts=ACCOUNTS) as standin:
        settings.CCXT_API_URL = standin.url
        settings.CCXT_OPTIONS = CCXT_OPTIONS
        yield standin


@pytest.fixture
def queued():
    """Tasks go to Redis, as from a candle-close worker, for the real orders worker."""
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = True


def entries(credentials) -> list[Order]:
    """One ENTRY order per credential given, as a candle close writes them."""
    orders = []
    for credential in credentials:
        subscription = SubscriptionFactory(broker_credential=credential, user=credential.user)
        trade = TradeFactory(
            subscription=subscription,
            quantity=Decimal("0.1"),
            entry_price=Decimal("42000"),
            stop_loss=Decimal("41000"),
            take_profit=Decimal("43000"),
            entry=False,
        )
        [order_id] = entry_orders_create(
            execution=trade.execution,
            entries=[(trade.id, credential.id, "BUY", Decimal("0.1"), Decimal("42000"))],
        )
        orders.append(Order.objects.get(id=order_id))
    return orders


def exchange_credential(api_key: str) -> BrokerCredential:
    return BrokerCredentialFactory(
        broker_name="binanceusdm", api_key=api_key, api_secret=ACCOUNTS[api_key]
    )


@contextmanager
def orders_worker(tmp_path, settings, exchange, *, threads: int, **env):
    environment = {
        "BROKER_PRIVATE_KEYS": settings.DEV_BROKER_PRIVATE_KEY_FILE.read_text().strip(),
        "CCXT_API_URL": exchange.url,
        "CCXT_OPTIONS": json.dumps(CCXT_OPTIONS),
        "CCXT_TIMEOUT_MS": str(2 * HANG_SECONDS * 1000),  # a hang, not a timeout
        **{name: str(value) for name, value in env.items()},
    }
    arguments = ("-Q", ORDERS_QUEUE, "-P", "threads", "--concurrency", str(threads))
    with worker_process(tmp_path, *arguments, extra_env=environment) as (process, log):
        deadline = time.monotonic() + WAIT_SECONDS
        while b"ready" not in log.read_bytes():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield log
        # Its hanging thread would hold a warm shutdown until the stand-in answers.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def wait_until_filled(orders: list[Order], log) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    ids = [order.id for order in orders]
    while Order.objects.filter(id__in=ids, status=Order.Status.FILLED).count() < len(ids):
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.1)


def signed_requests(exchange, api_key: str) -> int:
    return sum(1 for r in exchange.requests if r["headers"].get("X-MBX-APIKEY") == api_key)


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_hanging_account_delays_only_its_own_orders(exchange, queued, settings, tmp_path):
    exchange.inject(Fault("latency", api_key=SLOW_KEY, seconds=HANG_SECONDS, times=1000))
    slow, *healthy = entries([exchange_credential(key) for key in ACCOUNTS])
    with orders_worker(tmp_path, settings, exchange, threads=4) as log:
        with transaction.atomic():
            orders_enqueue([slow.id, *(order.id for order in healthy)])
        wait_until_filled(healthy, log)
        slow.refresh_from_db()
        # Its first request (the balance check) is with the exchange, still unanswered.
        assert slow.status == Order.Status.NEW and signed_requests(exchange, SLOW_KEY) >= 1
    for order in healthy:
        client_ids = [o["clientOrderId"] for o in exchange.book.orders.values()]
        assert client_ids.count(order.client_order_id) == 1


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_hanging_exchange_leaves_threads_to_the_others(exchange, queued, settings, tmp_path):
    exchange.inject(Fault("latency", seconds=HANG_SECONDS, times=1000))  # every request
    hanging = entries([exchange_credential(key) for key in ACCOUNTS])
    [paper] = entries([BrokerCredentialFactory(broker_name=BrokerCredential.PAPER)])
    with orders_worker(
        tmp_path,
        settings,
        exchange,
        threads=2,
        ORDERS_EXCHANGE_CONCURRENCY=1,
        ORDERS_EXCHANGE_RETRY_SECONDS=0.2,
    ) as log:
        with transaction.atomic():
            orders_enqueue([*(order.id for order in hanging), paper.id])
        wait_until_filled([paper], log)
        assert set(
            Order.objects.filter(id__in=[order.id for order in hanging]).values_list(
                "status", flat=True
            )
        ) == {Order.Status.NEW}
    assert not exchange.book.orders


@pytest.mark.django_db
def test_one_task_per_credential_its_orders_in_order_ids_only(
    exchange, queued, django_capture_on_commit_callbacks
):
    first, second = exchange_credential(SLOW_KEY), exchange_credential(list(ACCOUNTS)[1])
    a, b, c = entries([first, second, first])
    with django_capture_on_commit_callbacks(execute=True):
        orders_enqueue([a.id, b.id, c.id])
    messages = [json.loads(raw) for raw in get_redis_connection().lrange(ORDERS_QUEUE, 0, -1)]
    tasks = [json.loads(base64.b64decode(message["body"])) for message in messages]
    assert {message["headers"]["task"] for message in messages} == {"executions.orders_submit"}
    assert sorted(args for args, _kwargs, _embed in tasks) == sorted(
        [[[str(a.id), str(c.id)]], [[str(b.id)]]]
    )


def test_a_full_exchange_refuses_a_slot_and_a_dead_holders_lapses(settings):
    settings.ORDERS_EXCHANGE_CONCURRENCY = 1
    settings.CCXT_TIMEOUT_MS = 100  # a lease lasts three times that unrenewed
    dead = exchange_slot("binanceusdm")
    taken = []
    # Another thread (a worker killed inside the block): its lease is never released.
    holder = threading.Thread(target=lambda: taken.append(dead.__enter__()))
    holder.start()
    holder.join()
    assert taken == [True]
    with exchange_slot("binanceusdm") as held:
        assert held is False
    with exchange_slot("paper") as held:
        assert held is True  # paper makes no requests and takes no slot
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        with exchange_slot("binanceusdm") as held:
            if held:
                break
        assert time.monotonic() < deadline
        time.sleep(0.05)
