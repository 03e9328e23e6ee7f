"""Orders: the entries of 1,000 subscribers through the orders worker to the stand-in
exchange, with latency, a rate limit and faults.

Usage: python bench/bench_orders.py [--subscribers 1000] [--latency 0.05] [--rate 200]
       [--threads 32] [--workers 1] [--exchange-concurrency N] [--faults 20]

The stand-in (``python -m marketdata.exchange_standin``, its own process) answers every
request after `--latency` seconds and refuses more than 1.25 x `--rate` requests per
second with a 429; the platform allows itself `--rate` (ORDERS_RATE_LIMITS). `--faults`
requests of each kind go wrong: a timeout after the order was accepted, a connection
reset after it was accepted, a 503 before, a 500 after, a 429, a partial fill, and an
order lookup answering "does not exist" for an order that does.

A throwaway database gets one strategy, one execution and `--subscribers` users, each
with a USD-M credential (sealed with a throwaway key pair) and a subscription, one open
trade and its ENTRY order NEW: what a candle close writes. Then an orders worker (``celery
-Q orders -P threads``, the only process given the private key) is started, the entries
are enqueued as the candle close's commit does, and the benchmark measures:

- ``entries acknowledged``: from the enqueue until every entry has the exchange's answer
  (an exchange order id, or a final refusal);
- ``sequential baseline``: the same number of market orders sent one after another by
  one client, as the platform placed them before (inside the candle close);
- after everything settles (partial fills completed by a price move, protections placed):
  ``duplicate orders`` (client order ids with more than one exchange order),
  ``orphan positions`` (an exchange position with no open trade, or the reverse) and
  ``book vs exchange mismatches`` (credentials whose net position per symbol differs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from _common import BENCH_BROKER_KEYS, ROOT, Timer, bench_database, free_port, header, stop
from _seed import seed_credentials

CLOSE = datetime(2026, 1, 15, 15, 0, tzinfo=UTC)
PRICE = Decimal("42000")
QUANTITY = Decimal("0.01")  # 420 USDT of notional, 42 of margin at leverage 10
FAULTS = ("timeout", "reset", "5xx", "5xx_after", "429", "partial")


def control(url: str, route: str, body: dict | None = None):
    request = urllib.request.Request(
        f"{url}/_standin/{route}",
        data=json.dumps(body or {}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def start_standin(state: Path, *, latency: float, rate: float) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "marketdata.exchange_standin",
            "--port",
            str(free_port()),
            "--state",
            str(state),
            "--latency",
            str(latency),
            "--rate-limit",
            str(rate),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    return process, process.stdout.readline().strip()


def seed(subscribers: int, url: str) -> tuple[list, dict]:
    """Users, credentials, subscriptions, trades and their NEW entries; answers the entry
    ids and {credential id: api key}."""
    from django.db import transaction

    from accounts.models import User
    from executions.models import StrategyExecution, Trade
    from executions.orders import entry_orders_create
    from strategies.models import Strategy
    from subscriptions.models import StrategySubscription

    keys = [(f"bench-key-{n:06d}", f"bench-secret-{n:06d}") for n in range(subscribers)]
    for api_key, secret in keys:
        control(url, "account", {"apiKey": api_key, "secret": secret, "balance": "100000"})
    author = User.objects.create(email="author@bench.example", password="!")
    strategy = Strategy.objects.create(
        user=author,
        name="orders",
        code="orders",
        strategy_code="def generate_signal(candles, params):\n    return {'action': 'HOLD'}\n",
        execution_config={"symbol": "BTCUSDT", "resolution": 5, "lookbackPeriod": 20},
    )
    users = User.objects.bulk_create(
        User(email=f"trader{n}@bench.example", password="!") for n in range(subscribers)
    )
    credentials = seed_credentials(users, broker_name="binanceusdm", keys=keys)
    subscriptions = StrategySubscription.objects.bulk_create(
        StrategySubscription(
            user=user,
            strategy=strategy,
            broker_credential=credential,
            capital=Decimal("10000"),
            risk_per_trade=Decimal("0.01"),
        )
        for user, credential in zip(users, credentials, strict=True)
    )
    execution = StrategyExecution.objects.create(
        strategy=strategy, symbol="BTCUSDT", resolution=5, candle_close=CLOSE, status="COMPLETED"
    )
    with transaction.atomic():
        trades = Trade.objects.bulk_create(
            Trade(
                subscription=subscription,
                execution=execution,
                symbol="BTCUSDT",
                side="BUY",
                quantity=QUANTITY,
                entry_price=PRICE,
                stop_loss=Decimal("40000"),
                take_profit=Decimal("45000"),
            )
            for subscription in subscriptions
        )
        entry_ids = entry_orders_create(
            execution=execution,
            entries=[
                (trade.id, subscription.broker_credential_id, "BUY", QUANTITY, PRICE)
                for trade, subscription in zip(trades, subscriptions, strict=True)
            ],
        )
    api_keys = {
        credential.id: api_key for credential, (api_key, _) in zip(credentials, keys, strict=True)
    }
    return entry_ids, api_keys


def start_worker(
    env: dict,
    *,
    url: str,
    rate: float,
    threads: int,
    exchange_concurrency: int,
    log: Path,
    name: str,
) -> subprocess.Popen:
    from marketdata.exchange_standin import CCXT_OPTIONS

    worker_env = {
        **env,
        "BROKER_PRIVATE_KEYS": BENCH_BROKER_KEYS[0],  # the orders worker only
        "CCXT_API_URL": url,
        "CCXT_OPTIONS": json.dumps(CCXT_OPTIONS),
        "CCXT_TIMEOUT_MS": "1000",
        "ORDERS_RATE_LIMITS": json.dumps({"binanceusdm": rate}),
        "ORDERS_LOOKUP_DELAY_SECONDS": "0.5",
        "ORDERS_EXCHANGE_CONCURRENCY": str(exchange_concurrency),
        "LOG_LEVEL": "WARNING",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("celery")),
                "-A",
                "tradeplatform",
                "worker",
                "-Q",
                "orders",
                "-P",
                "threads",
                "--concurrency",
                str(threads),
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"{name}@%h",
            ],
            cwd=ROOT,
            env=worker_env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return process


def worker_ready() -> bool:
    from django_redis import get_redis_connection

    from tradeplatform.health import HEARTBEAT_KEY

    return bool(get_redis_connection("default").exists(HEARTBEAT_KEY))


def order_states() -> str:
    from django.db.models import Count

    from executions.models import Order

    rows = Order.objects.values_list("purpose", "status").annotate(count=Count("id"))
    return ", ".join(f"{purpose} {status}: {count}" for purpose, status, count in sorted(rows))


def wait_until(predicate, *, timeout: float, what: str, every=None) -> None:
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}: {order_states()}")
        if every is not None and time.monotonic() - last > 5:
            every()
            last = time.monotonic()
        time.sleep(0.1)


def reconcile() -> None:
    """What beat does every minute: a reconciliation per credential (orders queue)."""
    from executions.tasks import orders_reconcile

    orders_reconcile.delay()


def acknowledged(entry_ids) -> bool:
    from executions.models import Order

    pending = Order.objects.filter(id__in=entry_ids, exchange_order_id="").exclude(
        status__in=Order.FINAL
    )
    return not pending.exists()


def settled() -> bool:
    """Nothing left in flight: entries final, protections resting with an exchange id."""
    from executions.models import Order

    return not (
        Order.objects.filter(status__in=(Order.Status.NEW, Order.Status.PARTIALLY_FILLED)).exists()
        or Order.objects.filter(status=Order.Status.SUBMITTED, exchange_order_id="").exists()
        or Order.objects.filter(status=Order.Status.SUBMITTED, type=Order.Type.MARKET).exists()
    )


def sequential_baseline(url: str, count: int) -> float:
    """`count` market orders one after another, one signed create_order each on its own
    account's client: what the candle close did before, inside its transaction."""
    from django.conf import settings

    from marketdata.exchange_standin import CCXT_OPTIONS
    from marketdata.exchanges import ccxt_exchange, public_exchange

    settings.CCXT_API_URL, settings.CCXT_OPTIONS = url, CCXT_OPTIONS
    markets = public_exchange("binanceusdm").load_markets()
    clients = []
    for n in range(count):
        control(url, "account", {"apiKey": f"seq-{n}", "secret": f"seq-secret-{n}"})
        client = ccxt_exchange("binanceusdm", api_key=f"seq-{n}", secret=f"seq-secret-{n}")
        client.set_markets(markets)
        clients.append(client)
    with Timer() as timer:
        for n, client in enumerate(clients):
            client.create_order(
                "BTC/USDT:USDT", "market", "buy", str(QUANTITY), None, {"clientOrderId": f"seq-{n}"}
            )
    return timer.seconds


def compare(url: str, api_keys: dict) -> tuple[int, int, int]:
    """(duplicate orders, orphan positions, book vs exchange mismatches)."""
    from executions.models import Trade
    from executions.orders import book_positions

    state = control(url, "state")
    ids = Counter(
        (order["apiKey"], order["clientOrderId"])
        for order in state["orders"]
        if order["apiKey"] in set(api_keys.values()) and order["origType"] == "MARKET"
    )
    ids.update((o["apiKey"], o["clientAlgoId"]) for o in state["algoOrders"])
    duplicates = sum(count - 1 for count in ids.values() if count > 1)
    open_by_credential = Counter(
        Trade.objects.filter(status=Trade.Status.OPEN).values_list(
            "subscription__broker_credential_id", flat=True
        )
    )
    orphans = mismatches = 0
    for credential_id, api_key in api_keys.items():
        held = {
            symbol: Decimal(position["amount"])
            for symbol, position in state["accounts"][api_key]["positions"].items()
            if Decimal(position["amount"])
        }
        if bool(held) != bool(open_by_credential.get(credential_id)):
            orphans += 1
        if book_positions(credential_id=credential_id) != held:
            mismatches += 1
    return duplicates, orphans, mismatches


def worker_errors(logs: list[Path]) -> None:
    """The orders workers' errors, with the traceback of the first (also when the run
    failed: the logs go with the temporary directory)."""
    lines = [line for log in logs if log.exists() for line in log.read_text().splitlines()]
    errors = [n for n, line in enumerate(lines) if "ERROR" in line]
    if errors:
        print(f"worker errors: {len(errors)}; the first:")
        print("\n".join(lines[errors[0] : errors[0] + 30]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--rate", type=float, default=200.0, help="platform requests/s")
    parser.add_argument("--threads", type=int, default=32, help="threads per worker")
    parser.add_argument("--workers", type=int, default=1, help="orders worker processes")
    parser.add_argument(
        "--exchange-concurrency",
        type=int,
        help="ORDERS_EXCHANGE_CONCURRENCY (default: every thread of every worker, the one "
        "exchange here having nobody to leave threads to)",
    )
    parser.add_argument("--faults", type=int, default=20, help="requests per fault kind")
    args = parser.parse_args()
    exchange_concurrency = args.exchange_concurrency or args.threads * args.workers
    header("orders: entries through the orders worker to the stand-in exchange")
    print(
        f"subscribers: {args.subscribers}, latency {args.latency * 1000:.0f} ms, platform rate "
        f"{args.rate:.0f}/s (exchange refuses beyond {args.rate * 1.25:.0f}/s), "
        f"{args.workers} orders worker(s) x {args.threads} threads, "
        f"{exchange_concurrency} tasks in flight on the exchange at most, "
        f"{args.faults} faults of each of {len(FAULTS) + 1} kinds"
    )
    with tempfile.TemporaryDirectory() as tmp, bench_database("orders") as env:
        standin, url = start_standin(
            Path(tmp) / "standin.jsonl", latency=args.latency, rate=args.rate * 1.25
        )
        workers, logs = [], []
        try:
            entry_ids, api_keys = seed(args.subscribers, url)
            for kind in FAULTS:
                control(
                    url,
                    "fault",
                    {"kind": kind, "path": "/fapi/v1/order", "method": "POST", "times": args.faults,
                     "seconds": 1.5, "fraction": "0.5"},
                )  # fmt: skip
            control(
                url,
                "fault",
                {
                    "kind": "not_found",
                    "path": "/fapi/v1/order",
                    "method": "GET",
                    "times": args.faults,
                },
            )
            logs = [Path(tmp) / f"worker{n}.log" for n in range(args.workers)]
            workers = [
                start_worker(
                    env,
                    url=url,
                    rate=args.rate,
                    threads=args.threads,
                    exchange_concurrency=exchange_concurrency,
                    log=log,
                    name=f"orders{n}",
                )
                for n, log in enumerate(logs)
            ]
            wait_until(worker_ready, timeout=120, what="the orders worker")
            from django.db import transaction

            from executions.orders import orders_enqueue

            with Timer() as ack:
                with transaction.atomic():
                    orders_enqueue(entry_ids)
                wait_until(lambda: acknowledged(entry_ids), timeout=600, what="acknowledgements")
            print(f"entries acknowledged: {ack.seconds:.1f} s")
            print(f"orders then: {order_states()}")
            requests_needed = args.subscribers  # one create per entry at least
            print(f"rate-limit bound: {requests_needed / args.rate:.1f} s (entries alone)")
            # Partial fills complete at the next price; then everything settles.
            time.sleep(1)
            control(url, "price", {"symbol": "BTCUSDT", "price": "42010"})
            wait_until(settled, timeout=300, what="the orders to settle", every=reconcile)
            for worker in workers:
                stop(worker)
            workers = []
            duplicates, orphans, mismatches = compare(url, api_keys)
            print(f"sequential baseline: {sequential_baseline(url, args.subscribers):.1f} s")
            print(f"duplicate orders: {duplicates}")
            print(f"orphan positions: {orphans}")
            print(f"book vs exchange mismatches: {mismatches}")
        finally:
            for worker in workers:
                stop(worker)
            stop(standin)
            worker_errors(logs)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradeplatform.settings")
    main()
