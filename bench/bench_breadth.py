"""Breadth: 1,000 strategies with 10 subscriptions each on one resolution, through a real
Celery worker.

Usage: /tmp/venv/bin/python bench/bench_breadth.py [--strategies 1000] [--per-strategy 10]
       [--concurrency 2] [--backend warm]

Seeds a throwaway database (1,000 BUY strategies on BTCUSDT 1-minute candles, 1,000 users
each subscribed to 10 of them), starts ``celery -A tradeplatform worker --concurrency 2``
(prefork: two processes, each with its own warm sandbox server) on Redis db 8, warms it up
(one run per process, then the slate is wiped), and then sends the resolution tick
(``executions.resolution_tick``) as beat would. Measures from sending the tick to the last
execution row COMPLETED (its ``completed_at``). Then the seed-style baseline
(bench/baseline.py) runs the same 1,000 strategies for the same close from the same
state, and the ratio is printed. Stops the worker and drops the database at the end.

The 1-minute resolution keeps the wait short: the tick is sent in the first seconds of a
minute, so its runs (which expire after 80 % of the period) have 48 s to finish.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from _common import ROOT, VENV_BIN, Timer, bench_database, header, stop
from _seed import (
    LOOKBACK,
    analyze,
    seed_candles,
    seed_history,
    seed_strategies,
    seed_subscribers,
)
from baseline import baseline_candle_close, baseline_interpreter, close_reset

RESOLUTION = 1
HISTORY = 5  # closed trades per subscription from the day before


def start_worker(env: dict, concurrency: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            str(VENV_BIN / "celery"),
            "-A",
            "tradeplatform",
            "worker",
            "--concurrency",
            str(concurrency),
            "--pool",
            "prefork",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            *os.environ.get("BENCH_WORKER_ARGS", "").split(),
        ],
        cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}, **env},
    )
    from tradeplatform.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the Celery worker exited with {process.returncode}")
        if app.control.ping(timeout=1):
            return process
    stop(process)
    raise SystemExit("the Celery worker did not answer within 60 s")


def wait_for(candle_close: datetime, expected: int, timeout: float) -> dict[str, int]:
    """Poll until `expected` execution rows of the close have left RUNNING."""
    from django.db.models import Count

    from executions.models import StrategyExecution

    deadline = time.monotonic() + timeout
    while True:
        counts = dict(
            StrategyExecution.objects.filter(candle_close=candle_close)
            .values_list("status")
            .annotate(n=Count("id"))
            .order_by()
        )
        done = sum(n for status, n in counts.items() if status != "RUNNING")
        if done >= expected or time.monotonic() > deadline:
            return counts
        time.sleep(0.05)


def warm_up(strategies: list, candle_close: datetime, processes: int) -> None:
    """One run per worker process at an earlier close: each starts its warm sandbox server
    and opens its database connection, as in a worker that has been up for a while."""
    from executions.tasks import run_strategy

    for strategy in strategies[: processes * 4]:
        run_strategy.delay(str(strategy.pk), candle_close.isoformat())
    counts = wait_for(candle_close, processes * 4, timeout=60)
    if counts.get("COMPLETED", 0) != processes * 4:
        raise SystemExit(f"warm-up runs did not complete: {counts}")


def next_tick_moment() -> None:
    """Sleep until the first second of a minute when the current one is too far gone."""
    now = datetime.now(UTC)
    if now.second > 15:
        time.sleep(60 - now.second - now.microsecond / 1e6 + 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strategies", type=int, default=1000)
    parser.add_argument("--per-strategy", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--backend", default="warm", help="SANDBOX_BACKEND")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--baseline-python",
        choices=["resolved", "path", "both"],
        default="both",
        help="the baseline's interpreter: python on PATH as found, with a shim resolved, or both",
    )
    args = parser.parse_args()
    os.environ["SANDBOX_BACKEND"] = args.backend
    header(
        f"Breadth: {args.strategies:,} strategies x {args.per_strategy} subscriptions, "
        f"one {RESOLUTION}-minute close, Celery worker --concurrency {args.concurrency}"
    )
    with bench_database("breadth") as env:
        env = {**env, "SANDBOX_BACKEND": args.backend}
        from marketdata.candles import candle_close_floor
        from strategies.registry import registry_rebuild
        from strategies.settings_cache import strategy_settings_get

        now_floor = candle_close_floor(datetime.now(UTC), RESOLUTION)
        with Timer() as seeding:
            strategies = seed_strategies(args.strategies, prefix="breadth", resolution=RESOLUTION)
            seed_subscribers(
                [
                    (user, strategies[(user + k) % len(strategies)])
                    for user in range(args.strategies)
                    for k in range(args.per_strategy)
                ]
            )
            # Candles up to 15 minutes ahead: any tick of the next quarter finds its window.
            seed_candles(
                candle_close=now_floor + timedelta(minutes=15),
                count=LOOKBACK + 30,
                resolution=RESOLUTION,
            )
            analyze()
            history = seed_history(
                strategies, candle_close=now_floor, closes=HISTORY, resolution=RESOLUTION
            )
            registry_rebuild()
            for strategy in strategies:  # a running platform has them cached
                strategy_settings_get(strategy_id=strategy.pk)
        subscriptions = args.strategies * args.per_strategy
        print(
            f"seeded in {seeding.seconds:.1f} s: {args.strategies:,} strategies, "
            f"{subscriptions:,} subscriptions, {history:,} closed trades of the day before; "
            f"sandbox backend {args.backend!r}"
        )
        from django.db import connections

        connections.close_all()
        worker = start_worker(env, args.concurrency)
        try:
            warm_up(strategies, now_floor - timedelta(minutes=5), args.concurrency)
            close_reset(after=now_floor - timedelta(hours=1))
            next_tick_moment()
            from django.utils import timezone

            from executions.tasks import resolution_tick

            sent_at = timezone.now()
            candle_close = candle_close_floor(sent_at, RESOLUTION)
            resolution_tick.delay(RESOLUTION)
            counts = wait_for(candle_close, args.strategies, timeout=55)
        finally:
            stop(worker)
        from django.db.models import Max

        from executions.models import StrategyExecution, Trade

        rows = StrategyExecution.objects.filter(candle_close=candle_close)
        last = rows.aggregate(last=Max("completed_at"))["last"]
        trades = Trade.objects.filter(execution__candle_close=candle_close).count()
        if counts.get("COMPLETED", 0) != args.strategies or last is None:
            raise SystemExit(f"not every run completed: {counts}, {trades} trades")
        ours = (last - sent_at).total_seconds()
        durations = sorted(rows.values_list("duration_ms", flat=True))
        first_start = rows.order_by("started_at").values_list("started_at", flat=True)[0]
        print(f"{'':34} {'seconds':>9} {'executions':>11} {'trades':>7}")
        print(
            f"{'engine, tick to last COMPLETED':34} {ours:9.3f} "
            f"{counts.get('COMPLETED', 0):11d} {trades:7d}"
        )
        print(
            f"  first run started {(first_start - sent_at).total_seconds():.3f} s after the "
            f"tick; each run's own duration (duration_ms) median "
            f"{durations[len(durations) // 2]} ms, p99 {durations[int(len(durations) * 0.99)]} ms"
        )
        if args.skip_baseline:
            return
        strategy_ids = list(rows.order_by("started_at").values_list("strategy_id", flat=True))
        variants = {"resolved": [True], "path": [False], "both": [True, False]}
        for resolve in variants[args.baseline_python]:
            close_reset(after=now_floor - timedelta(hours=1))
            interpreter = baseline_interpreter(resolve=resolve)
            with Timer() as baseline:
                created = baseline_candle_close(
                    strategy_ids=strategy_ids, candle_close=candle_close, interpreter=interpreter
                )
            if created != subscriptions:
                raise SystemExit(f"baseline wrote {created} trades")
            print(
                f"{'seed-style baseline (sequential)':34} {baseline.seconds:9.3f} "
                f"{len(strategy_ids):11d} {created:7d}   ({interpreter} -c per strategy)"
            )
            print(f"ratio baseline / engine: {baseline.seconds / ours:.1f}x")
        verdict = "met" if ours <= 10 else "MISSED"
        print(f"target <= 10 s for {args.strategies:,} x {args.per_strategy}: {verdict}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
