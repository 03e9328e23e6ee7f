"""The API under load: the strategy list and the subscription list behind gunicorn.

Usage: /tmp/venv/bin/python bench/bench_api.py [--duration 10] [--workers 3] [--connections 32]

Seeds a throwaway database (500 public strategies by 50 authors; one subscriber with 200
subscriptions, 5,000 executions and 5,000 trades of which 400 are open; 1,000 other
users with 5 subscriptions each), starts gunicorn (sync workers, as docker-compose runs it)
on a free loopback port with DEBUG off, and loads each endpoint with ``wrk`` (32
connections, 2 threads; a Python thread client when wrk is not installed). Prints p50/p99
latency, requests per second and the SQL statements one request runs (counted in-process
through Django's test client with CaptureQueriesContext, for two page sizes: the count
must not grow with the page). Cleans up: stops gunicorn, drops the database.
"""

from __future__ import annotations

import argparse
import http.client
import re
import shutil
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from _common import (
    ROOT,
    VENV_BIN,
    Timer,
    bench_database,
    free_port,
    header,
    median,
    percentile,
    stop,
)
from _seed import seed_credentials

TRADES_PER_SUBSCRIPTION = 25  # a month of history: 5,000 trades, 400 of them open

STRATEGY_SOURCE = (
    "from indicators import sma\n\n"
    "def generate_signal(candles, params):\n"
    "    fast, slow = sma(candles.close, 10), sma(candles.close, 30)\n"
    "    if fast[-1] > slow[-1]:\n"
    '        return {"action": "BUY"}\n'
    '    return {"action": "HOLD"}\n'
) + "# padding, as real strategies are longer\n" * 60


def seed() -> dict:
    from django.contrib.auth.hashers import make_password

    from accounts.models import BrokerCredential, User
    from executions.models import StrategyExecution, Trade
    from strategies.models import Strategy
    from subscriptions.models import StrategySubscription

    password = make_password(None)  # unusable: nobody logs in, tokens are minted
    authors = User.objects.bulk_create(
        User(email=f"author{i}@bench.example", password=password) for i in range(50)
    )
    strategies = Strategy.objects.bulk_create(
        Strategy(
            user=authors[i % len(authors)],
            name=f"Bench strategy {i}",
            code=f"bench-strategy-{i}",
            description=f"Moving-average crossover number {i} on BTCUSDT, five-minute bars.",
            author=authors[i % len(authors)].email,
            strategy_code=STRATEGY_SOURCE,
            execution_config={
                "symbol": "BTCUSDT",
                "resolution": 5,
                "lookbackPeriod": 100,
                "params": {"fast": 10, "slow": 30},
            },
            tags="trend,sma,btc",
            is_public=True,
            subscriber_count=5,
        )
        for i in range(500)
    )
    subscriber = User.objects.create(email="subscriber@bench.example", password=password)
    others = User.objects.bulk_create(
        User(email=f"other{i}@bench.example", password=password) for i in range(1000)
    )
    credentials = {
        user.pk: credential
        for user, credential in zip(
            [subscriber, *others],
            seed_credentials(
                [subscriber, *others],
                broker_name=BrokerCredential.PAPER,
                keys=[
                    (f"bench-key-{n:06d}", f"bench-secret-{n:06d}") for n in range(len(others) + 1)
                ],
            ),
            strict=True,
        )
    }

    def subscription(user, strategy) -> StrategySubscription:
        return StrategySubscription(
            user=user,
            strategy=strategy,
            broker_credential=credentials[user.pk],
            capital=Decimal("10000"),
            risk_per_trade=Decimal("0.01"),
        )

    mine = StrategySubscription.objects.bulk_create(
        subscription(subscriber, strategy) for strategy in strategies[:200]
    )
    StrategySubscription.objects.bulk_create(
        subscription(user, strategies[(n * 5 + k) % len(strategies)])
        for n, user in enumerate(others)
        for k in range(5)
    )
    close = datetime(2026, 1, 1, tzinfo=UTC)
    executions = StrategyExecution.objects.bulk_create(
        StrategyExecution(
            strategy=strategy,
            symbol="BTCUSDT",
            resolution=5,
            candle_close=close + timedelta(minutes=5 * k),
            status=StrategyExecution.Status.COMPLETED,
        )
        for strategy in strategies[:200]
        for k in range(TRADES_PER_SUBSCRIPTION)
    )
    Trade.objects.bulk_create(
        Trade(
            subscription=mine[n // TRADES_PER_SUBSCRIPTION],
            execution=execution,
            symbol="BTCUSDT",
            side=Trade.Side.BUY,
            quantity=Decimal("0.01"),
            entry_price=Decimal("50000"),
            stop_loss=Decimal("49000"),
            status=Trade.Status.OPEN if n % TRADES_PER_SUBSCRIPTION < 2 else Trade.Status.CLOSED,
        )
        for n, execution in enumerate(executions)
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would have by now
    return {"subscriber": subscriber}


def access_token(user) -> str:
    from rest_framework_simplejwt.tokens import AccessToken

    return str(AccessToken.for_user(user))


def measure_in_process(path: str, token: str | None, runs: int = 30) -> tuple[int, float]:
    """SQL statements of one request (CaptureQueriesContext) and the median time the
    application spends on it, through Django's test client: no network, no server, so
    steadier than the load figures on a shared machine."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    client.get(path, headers=headers)  # warm caches (content types, ...)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, headers=headers)
    statements = len(queries)  # now: the log is cleared when the next request starts
    if response.status_code != 200:
        raise SystemExit(f"{path}: {response.status_code} {response.content[:200]!r}")
    samples = [0.0]
    for _ in range(runs):
        with Timer() as timer:
            client.get(path, headers=headers)
        samples.append(timer.seconds * 1000)
    return statements, median(samples[1:] or samples)


def start_gunicorn(env: dict, port: int, workers: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"),
            "tradeplatform.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**_base_env(), **env},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/api/strategy-upload/strategies?limit=1")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            pass
        time.sleep(0.2)
    stop(process)
    raise SystemExit("gunicorn did not answer within 30 s")


def _base_env() -> dict:
    import os

    return {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG")}


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def load_wrk(url: str, token: str | None, connections: int, duration: int) -> dict:
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", url]
    command[1:1] = ["--timeout", "30s"]  # a slow answer is a latency, not a lost request
    if token:
        command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+(?:us|ms|s|m))\s*$", output, re.M))
    if set(latency) != {"50", "99"}:
        raise SystemExit(f"cannot read wrk's output:\n{output}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    result = {
        "p50": _ms(*re.match(r"([\d.]+)(\w+)", latency["50"]).groups()),
        "p99": _ms(*re.match(r"([\d.]+)(\w+)", latency["99"]).groups()),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "errors": (int(errors.group(1)) if errors else 0)
        + (sum(map(int, socket_errors.groups())) if socket_errors else 0),
    }
    return result


def load_threads(url: str, token: str | None, connections: int, duration: int) -> dict:
    """Fallback load client: one thread per connection, keep-alive where the server
    allows it. Slower than wrk on the client side; its figures are an upper bound."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = f"{parts.path}?{parts.query}" if parts.query else parts.path
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    samples: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def client() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        local: list[float] = []
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    errors[0] += 1
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
            except (OSError, http.client.HTTPException):
                errors[0] += 1
                connection.close()
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            local.append((time.perf_counter() - started) * 1000)
        with lock:
            samples.extend(local)

    threads = [threading.Thread(target=client) for _ in range(connections)]
    with Timer() as timer:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return {
        "p50": percentile(samples, 0.5),
        "p99": percentile(samples, 0.99),
        "rps": len(samples) / timer.seconds,
        "requests": len(samples),
        "errors": errors[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    header("API under load (gunicorn, loopback)")
    with bench_database("api") as env:
        with Timer() as seeding:
            seeded = seed()
        token = access_token(seeded["subscriber"])
        print(f"seeded in {seeding.seconds:.1f} s: 500 strategies, 5,200 subscriptions")
        endpoints = [
            ("strategies, anonymous", "/api/strategy-upload/strategies", None),
            ("strategies, signed in", "/api/strategy-upload/strategies", token),
            ("subscriptions (page of 50)", "/api/strategies/subscriptions", token),
            ("subscriptions (all 200)", "/api/strategies/subscriptions?limit=200", token),
        ]
        measured = {}
        for label, path, auth in endpoints:
            separator = "&" if "?" in path else "?"
            small = 0
            if "limit" not in path:
                small = measure_in_process(f"{path}{separator}limit=5", auth, runs=0)[0]
            measured[label] = (small, *measure_in_process(path, auth))
        from django.db import connections

        connections.close_all()  # the servers get the database to themselves

        load = load_wrk if shutil.which("wrk") else load_threads
        port = free_port()
        server = start_gunicorn(env, port, args.workers)
        try:
            tool = "wrk -t2" if load is load_wrk else "python threads"
            print(
                f"gunicorn {args.workers} sync workers; {tool}, {args.connections} "
                f"connections, {args.duration} s per endpoint; DEBUG off"
            )
            print(
                f"{'endpoint':30} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7} {'errors':>6} "
                f"{'SQL/req':>8} {'app ms':>7}"
            )
            for label, path, auth in endpoints:
                result = load(f"http://127.0.0.1:{port}{path}", auth, args.connections, 1)
                result = load(
                    f"http://127.0.0.1:{port}{path}", auth, args.connections, args.duration
                )
                small, full, app_ms = measured[label]
                counted = f"{small}/{full}" if small else f"{full}"
                print(
                    f"{label:30} {result['p50']:8.1f} {result['p99']:8.1f} "
                    f"{result['rps']:7.0f} {result['errors']:6d} {counted:>8} {app_ms:7.1f}"
                )
        finally:
            stop(server)
        print(
            "SQL/req: statements of one request with limit=5 / with the page measured; "
            "app ms: median time in the application for one request, in-process "
            "(test client, 30 runs)"
        )


if __name__ == "__main__":
    main()
