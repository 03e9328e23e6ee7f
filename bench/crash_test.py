"""Crash test: the candle-close engine under real workers, duplicates, kills and disorder.

Usage: python bench/crash_test.py [--closes 1000] [--strategies 20] [--subscriptions 50]
       [--workers 3] [--kills 12] [--freeze 20] [--interval 0.5] [--deadline 20] [--seed 1]

What it does, on a throwaway database (bench_tradeplatform_crash_<pid>, dropped at the end)
and its own Redis db (BENCH_REDIS_DB, 11 unless set):

1. seeds one-minute candles for BTCUSDT (a random walk, some candles opening with a gap),
   `strategies` strategies whose signals are a deterministic function of their candles
   (BUY and SELL with stops, EXIT, HOLD), `subscriptions` paper subscriptions each
   (maxPositions 1-3);
2. starts `workers` real Celery workers (prefork, 2 processes each) on them;
3. plays the closes in time order, one every `interval` seconds: each close fanned out as
   the tick does it (`execution_expect`: the expected rows, with a deadline of `deadline`
   s, then one task per strategy), some twice (two beats on one tick), every run delivered
   1-3 times, a share of the duplicates held back and delivered a few closes later (late
   redeliveries: closes out of order), and now and then two closes at once (adjacent
   closes racing);
4. meanwhile SIGKILLs worker processes (`kills` of them: pool processes mid-run, and every
   fourth a whole worker, which is restarted) and freezes one worker (SIGSTOP) for
   `freeze` s before thawing it;
5. waits until every expected row is final (the reaper runs as the beat would run it),
   then checks the invariants and prints each as `name: value`.

The invariants (each must be 0): duplicate executions, duplicate trades, hedged opens (a
trade opened while its subscription held the other side), opens beyond maxPositions,
trades closed at or before the close that opened them, closes applied out of time order,
expected closes without a final row, and counter mismatches (a subscription's
total_trades, wins, losses or PnL different from its trade rows). The exit status is 1
when one is not. `executions.tests.test_crash` runs a short version in `make test`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

os.environ.setdefault("BENCH_REDIS_DB", "11")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH_BROKER_KEYS, ROOT, VENV_BIN, bench_database, header, stop

SYMBOL = "BTCUSDT"
RESOLUTION = 1
LOOKBACK = 20
FIRST_CLOSE = datetime(2026, 2, 2, tzinfo=UTC)
PERIOD = timedelta(minutes=RESOLUTION)

# Deterministic from the candles: a checksum of the last close's time picks the action;
# stops and targets 0.4 % / 0.8 % from the close (well inside SIGNAL_PRICE_BAND).
SOURCE = """
def generate_signal(candles, params):
    pick = (sum(map(ord, candles.time[-1])) * params["params"]["salt"]) % 9
    close = candles.close[-1]
    if pick < 3:
        return {"action": "BUY", "stopLoss": close * 0.996, "takeProfit": close * 1.008}
    if pick < 6:
        return {"action": "SELL", "stopLoss": close * 1.004, "takeProfit": close * 0.992}
    if pick == 6:
        return {"action": "EXIT"}
    return {"action": "HOLD"}
"""


# --------------------------------------------------------------------------- seeding


def seed(*, closes: int, strategies: int, subscriptions: int, rng: random.Random) -> list:
    """Candles for every close (and the lookback before the first), the strategies and
    their subscriptions; answers the strategies."""
    from accounts.models import BrokerCredential, User
    from marketdata.models import Candle
    from strategies.models import Strategy
    from subscriptions.models import StrategySubscription

    candles, price = [], Decimal(42_000)
    first_open = FIRST_CLOSE - PERIOD * LOOKBACK
    for n in range(closes + LOOKBACK):
        gap = Decimal(rng.choice([0] * 9 + [rng.uniform(-150, 150)])).quantize(Decimal("0.01"))
        open_ = price + gap
        close = (open_ * Decimal(1 + rng.gauss(0, 0.003))).quantize(Decimal("0.01"))
        high = max(open_, close) + Decimal(rng.uniform(0, 80)).quantize(Decimal("0.01"))
        low = min(open_, close) - Decimal(rng.uniform(0, 80)).quantize(Decimal("0.01"))
        candles.append(
            Candle(
                symbol=SYMBOL,
                resolution=RESOLUTION,
                open_time=first_open + PERIOD * n,
                open=open_,
                high=high,
                low=low,
                close=close,
                volume=Decimal(1),
            )
        )
        price = close
    Candle.objects.bulk_create(candles)
    author = User.objects.create(email="crash-author@bench.example", password="!")
    rows = Strategy.objects.bulk_create(
        Strategy(
            user=author,
            name=f"crash {n}",
            code=f"crash-{n}",
            author=author.email,
            strategy_code=SOURCE,
            execution_config={
                "symbol": SYMBOL,
                "resolution": RESOLUTION,
                "lookbackPeriod": LOOKBACK,
                "params": {"salt": 2 * n + 1},
            },
            subscriber_count=subscriptions,
        )
        for n in range(strategies)
    )
    users = User.objects.bulk_create(
        User(email=f"crash-{n}@bench.example", password="!") for n in range(subscriptions)
    )
    credentials = BrokerCredential.objects.bulk_create(
        BrokerCredential(user=user, broker_name=BrokerCredential.PAPER, is_active=True)
        for user in users
    )
    StrategySubscription.objects.bulk_create(
        StrategySubscription(
            user=user,
            strategy=strategy,
            broker_credential=credential,
            capital=Decimal(10_000),
            risk_per_trade=Decimal("0.01"),
            leverage=10,
            max_positions=rng.randint(1, 3),
        )
        for strategy in rows
        for user, credential in zip(users, credentials, strict=True)
    )
    return rows


# --------------------------------------------------------------------------- workers


class Workers:
    """The Celery workers this test started (and only those), killed and frozen at will."""

    def __init__(self, env: dict, count: int, concurrency: int):
        self.env, self.concurrency = env, concurrency
        self.processes = [self._start() for _ in range(count)]
        # The orders worker (the only process with the broker private key) books the
        # paper fills of entries and exits; it is not killed.
        self.orders = self._start(orders=True)
        self.kills = self.whole_kills = self.freezes = 0
        self.lock = threading.Lock()

    def _start(self, *, orders: bool = False) -> subprocess.Popen:
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
        env = {**keep, **self.env}
        pool = ["--concurrency", str(self.concurrency), "--pool", "prefork"]
        if orders:
            env["BROKER_PRIVATE_KEYS"] = BENCH_BROKER_KEYS[0]
            pool = ["--concurrency", "8", "--pool", "threads", "-Q", "orders"]
        return subprocess.Popen(
            [
                str(VENV_BIN / "celery"),
                "-A",
                "tradeplatform",
                "worker",
                *pool,
                "--loglevel",
                "ERROR",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_ready(self, timeout: float = 90) -> None:
        from tradeplatform.celery import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(app.control.ping(timeout=1)) >= len(self.processes) + 1:
                return
        raise SystemExit("the Celery workers did not all answer")

    @staticmethod
    def children(process: subprocess.Popen) -> list[int]:
        path = Path(f"/proc/{process.pid}/task/{process.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except OSError:
            return []

    def kill_one(self, rng: random.Random) -> None:
        """SIGKILL a pool process; every fourth kill, a whole worker (then restarted)."""
        with self.lock:
            index = rng.randrange(len(self.processes))
            process = self.processes[index]
            if process.poll() is not None:
                return
            children = self.children(process)
            if self.kills % 4 == 3 or not children:
                process.kill()
                process.wait()
                self.processes[index] = self._start()
                self.whole_kills += 1
            else:
                os.kill(rng.choice(children), signal.SIGKILL)
            self.kills += 1

    def freeze(self, seconds: float) -> None:
        """SIGSTOP one worker and its pool for `seconds`, then SIGCONT."""
        with self.lock:
            process = self.processes[0]
            pids = [process.pid, *self.children(process)]
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
        time.sleep(seconds)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self.freezes += 1

    def stop(self) -> None:
        for process in [*self.processes, self.orders]:
            stop(process)


def orders_settle(timeout: float) -> int:
    """Wait until no order is left unfinished; answers how many are."""
    from executions.models import Order

    deadline = time.monotonic() + timeout
    while True:
        left = Order.objects.filter(status__in=Order.ACTIVE).count()
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


# --------------------------------------------------------------------------- the play


def play(args, strategies: list, workers: Workers, rng: random.Random) -> set[tuple]:
    """Fan out every close with duplicates, disorder and chaos; answers the expected
    (strategy id, close) pairs."""
    from executions.engine import execution_expect
    from executions.tasks import run_strategy

    ids = [str(strategy.id) for strategy in strategies]
    expected: set[tuple] = set()
    held_back: list[tuple[int, str, str]] = []  # (due at close n, strategy id, close iso)
    kill_every = max(1, args.closes // (args.kills + 1))
    next_kill = kill_every
    freeze_at = args.closes // 3
    freezer = None
    n = 0
    while n < args.closes:
        burst = 2 if rng.random() < 0.1 else 1  # adjacent closes fanned out together
        for close_index in range(n, min(n + burst, args.closes)):
            close = FIRST_CLOSE + PERIOD * close_index
            deadline = datetime.now(UTC) + timedelta(seconds=args.deadline)
            beats = 2 if rng.random() < 0.05 else 1  # two beats on one tick
            for _ in range(beats):
                execution_expect(
                    strategy_ids=ids,
                    symbol=SYMBOL,
                    resolution=RESOLUTION,
                    candle_close=close,
                    deadline=deadline,
                )
                for strategy_id in ids:
                    expected.add((strategy_id, close))
                    for delivery in range(rng.choice([1, 2, 2, 3])):
                        if delivery and rng.random() < 0.3:
                            due = close_index + rng.randint(1, 5)
                            held_back.append((due, strategy_id, close.isoformat()))
                        else:
                            run_strategy.delay(strategy_id, close.isoformat())
        n += burst
        for item in [item for item in held_back if item[0] < n]:
            held_back.remove(item)
            run_strategy.delay(item[1], item[2])
        if n >= next_kill and workers.kills < args.kills:
            workers.kill_one(rng)
            next_kill += kill_every
        if freezer is None and n >= freeze_at and args.freeze:
            freezer = threading.Thread(target=workers.freeze, args=(args.freeze,))
            freezer.start()
        time.sleep(args.interval * burst)
    for _, strategy_id, close_iso in held_back:
        run_strategy.delay(strategy_id, close_iso)
    if freezer is not None:
        freezer.join()
    return expected


def settle(expected_rows: int, timeout: float) -> int:
    """Wait until no expected row is PENDING or RUNNING and no trade is CLOSING (its exit
    order with the orders worker), running the reaper every few seconds as the beat does
    every minute; answers the rows (and closing trades) still unfinished."""
    from executions.models import StrategyExecution, Trade
    from executions.tasks import reap_stale_executions

    unfinished = StrategyExecution.Status.PENDING, StrategyExecution.Status.RUNNING
    deadline = time.monotonic() + timeout
    while True:
        left = StrategyExecution.objects.filter(status__in=unfinished).count()
        left += Trade.objects.filter(status=Trade.Status.CLOSING).count()
        if not left or time.monotonic() > deadline:
            return left
        reap_stale_executions()
        time.sleep(2)


# --------------------------------------------------------------------------- invariants

INVARIANTS_SQL = {
    "duplicate executions": """
        SELECT COUNT(*) - COUNT(DISTINCT (strategy_id, scheduled_time))
        FROM executions_strategyexecution""",
    "duplicate trades": """
        SELECT COUNT(*) - COUNT(DISTINCT (subscription_id, execution_id))
        FROM executions_trade""",
    # A trade opened at a close while its subscription held the other side at that close
    # (a trade closed at that very close, before the new one opened, does not count; an
    # entry that never filled, CANCELLED, never was a position).
    "hedged opens": """
        SELECT COUNT(*) FROM executions_trade t
        JOIN executions_strategyexecution e ON e.id = t.execution_id
        WHERE t.status <> 'CANCELLED' AND EXISTS (
            SELECT 1 FROM executions_trade o
            JOIN executions_strategyexecution oe ON oe.id = o.execution_id
            WHERE o.subscription_id = t.subscription_id AND o.side <> t.side
              AND o.status <> 'CANCELLED'
              AND oe.scheduled_time < e.scheduled_time
              AND (o.closed_at IS NULL OR o.closed_at > e.scheduled_time))""",
    "opens beyond maxPositions": """
        SELECT COUNT(*) FROM executions_trade t
        JOIN executions_strategyexecution e ON e.id = t.execution_id
        JOIN subscriptions_strategysubscription s ON s.id = t.subscription_id
        WHERE t.status <> 'CANCELLED' AND s.max_positions < (
            SELECT COUNT(*) FROM executions_trade o
            JOIN executions_strategyexecution oe ON oe.id = o.execution_id
            WHERE o.subscription_id = t.subscription_id AND o.status <> 'CANCELLED'
              AND oe.scheduled_time <= e.scheduled_time
              AND (o.closed_at IS NULL OR o.closed_at > e.scheduled_time))""",
    "trades closed before they opened": """
        SELECT COUNT(*) FROM executions_trade t
        JOIN executions_strategyexecution e ON e.id = t.execution_id
        WHERE t.closed_at IS NOT NULL AND t.closed_at <= e.scheduled_time""",
    # Two closes of one strategy whose trading steps committed in the other order.
    "closes applied out of order": """
        SELECT COUNT(*) FROM executions_strategyexecution a
        JOIN executions_strategyexecution b
          ON b.strategy_id = a.strategy_id AND b.scheduled_time > a.scheduled_time
        WHERE a.applied_at IS NOT NULL AND b.applied_at IS NOT NULL
          AND b.applied_at < a.applied_at""",
    "counter mismatches": """
        SELECT COUNT(*) FROM subscriptions_strategysubscription s
        LEFT JOIN LATERAL (
            -- A CANCELLED trade (its entry never filled) is no position taken.
            SELECT COUNT(*) FILTER (WHERE status <> 'CANCELLED') AS trades,
                   COUNT(*) FILTER (WHERE status = 'CLOSED' AND pnl > 0) AS wins,
                   COUNT(*) FILTER (WHERE status = 'CLOSED' AND pnl < 0) AS losses,
                   COALESCE(SUM(pnl) FILTER (WHERE status = 'CLOSED'), 0) AS pnl
            FROM executions_trade WHERE subscription_id = s.id) t ON TRUE
        WHERE s.total_trades <> t.trades OR s.winning_trades <> t.wins
           OR s.losing_trades <> t.losses OR s.total_pnl <> t.pnl""",
}


def invariants(expected: set[tuple]) -> dict[str, int]:
    from django.db import connection

    from executions.models import StrategyExecution

    found = {}
    with connection.cursor() as cursor:
        for name, sql in INVARIANTS_SQL.items():
            cursor.execute(sql)
            found[name] = cursor.fetchone()[0]
    final = {
        (str(strategy_id), close)
        for strategy_id, close in StrategyExecution.objects.exclude(
            status__in=[StrategyExecution.Status.PENDING, StrategyExecution.Status.RUNNING]
        ).values_list("strategy_id", "candle_close")
    }
    found["expected closes without a final row"] = len(expected - final)
    return found


def figures() -> dict[str, object]:
    from django.db.models import Count, Q

    from executions.models import StrategyExecution, Trade

    rows = StrategyExecution.objects.aggregate(
        executions=Count("id"),
        completed=Count("id", filter=Q(status="COMPLETED")),
        failed=Count("id", filter=Q(status="FAILED")),
        missed=Count("id", filter=Q(status="SKIPPED", error_message__startswith="missed")),
        superseded=Count("id", filter=Q(status="SKIPPED", error_message__startswith="superseded")),
    )
    top = (
        StrategyExecution.objects.filter(status="FAILED")
        .values_list("error_message")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    if top:
        rows["most frequent failure"] = f"{top[1]} x {top[0][:120]}"
    rows["trades"] = Trade.objects.count()
    rows["trades closed"] = Trade.objects.filter(status="CLOSED").count()
    rows["entries never filled"] = Trade.objects.filter(status="CANCELLED").count()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--closes", type=int, default=1000)
    parser.add_argument("--strategies", type=int, default=20)
    parser.add_argument("--subscriptions", type=int, default=50)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--kills", type=int, default=12)
    parser.add_argument("--freeze", type=float, default=20, help="seconds one worker is frozen")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between closes")
    parser.add_argument("--deadline", type=float, default=20, help="seconds a run may trade")
    parser.add_argument("--backend", default="warm", help="SANDBOX_BACKEND")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    os.environ["SANDBOX_BACKEND"] = args.backend
    rng = random.Random(args.seed)
    header(
        f"Crash test: {args.strategies} strategies x {args.subscriptions} subscriptions, "
        f"{args.closes} closes, {args.workers} workers"
    )
    with bench_database(f"crash_{os.getpid()}") as env:
        env = {**env, "SANDBOX_BACKEND": args.backend}
        strategies = seed(
            closes=args.closes,
            strategies=args.strategies,
            subscriptions=args.subscriptions,
            rng=rng,
        )
        workers = Workers(env, args.workers, args.concurrency)
        try:
            workers.wait_ready()
            started = time.monotonic()
            expected = play(args, strategies, workers, rng)
            unfinished = settle(len(expected), timeout=args.deadline * 3 + 120)
            unfinished += orders_settle(timeout=120)
            seconds = time.monotonic() - started
        finally:
            workers.stop()
        found = invariants(expected)
        for name, value in figures().items():
            print(f"{name}: {value}")
        print(f"expected closes: {len(expected)}")
        print(f"kills: {workers.kills} ({workers.whole_kills} whole workers)")
        print(f"freezes: {workers.freezes}")
        print(f"seconds: {seconds:.1f}")
        print(f"unfinished rows: {unfinished}")
        for name, value in found.items():
            print(f"{name}: {value}")
    return 1 if unfinished or any(found.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
