"""Fan-out: one strategy with 10,000 active subscriptions at one candle close.

Usage: /tmp/venv/bin/python bench/bench_fanout.py [--subscribers 10000] [--backend warm]

Times the per-strategy Celery task (``executions.run_strategy``, called in-process: the
task's start to the trades committed: lock, execution row, sandbox run, one subscription
query, sizing, the trade insert, counters, completion) and counts its SQL statements with
CaptureQueriesContext, for a strategy with 100 subscribers and for one with 10,000: the
count must be the same. Then the seed-style baseline (bench/baseline.py) on the same
10,000 subscriptions from the same state, and the ratio. A throwaway database, dropped at
the end; Redis db 8.
"""

from __future__ import annotations

import argparse
import os
import statistics
from datetime import UTC, datetime, timedelta

from _common import Timer, bench_database, header
from _seed import (
    LOOKBACK,
    RESOLUTION,
    analyze,
    seed_candles,
    seed_history,
    seed_strategies,
    seed_subscribers,
)
from baseline import baseline_candle_close, baseline_interpreter, close_reset

CLOSE = datetime(2026, 1, 15, 15, 0, tzinfo=UTC)
HISTORY = 5  # closed trades per subscription from the day before


def run_task(strategy_id) -> tuple[float, int, object]:
    """The task body as the worker runs it; answers (seconds, SQL statements, execution)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from executions.models import StrategyExecution
    from executions.tasks import run_strategy

    with CaptureQueriesContext(connection) as queries, Timer() as timer:
        run_strategy(str(strategy_id), CLOSE.isoformat())
    statements = len(queries)
    execution = StrategyExecution.objects.get(strategy_id=strategy_id, candle_close=CLOSE)
    return timer.seconds, statements, execution


def trades_of(strategy_id) -> int:
    from executions.models import Trade

    return Trade.objects.filter(
        execution__strategy_id=strategy_id, execution__candle_close=CLOSE
    ).count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=100, help="subscribers of the small case")
    parser.add_argument("--backend", default="warm", help="SANDBOX_BACKEND")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of the large case")
    args = parser.parse_args()
    os.environ["SANDBOX_BACKEND"] = args.backend
    header(f"Fan-out: 1 strategy x {args.subscribers:,} subscriptions, one candle close")
    with bench_database("fanout"):
        with Timer() as seeding:
            small, large = seed_strategies(2, prefix="fanout")
            seed_subscribers([(n, small) for n in range(args.small)], prefix="small")
            seed_subscribers([(n, large) for n in range(args.subscribers)], prefix="large")
            seed_candles(candle_close=CLOSE, count=LOOKBACK + 10)
            analyze()
            history = seed_history(
                [small, large], candle_close=CLOSE, closes=HISTORY, resolution=RESOLUTION
            )
        print(
            f"seeded in {seeding.seconds:.1f} s ({history:,} closed trades of the day "
            f"before); sandbox backend {args.backend!r}; lookback {LOOKBACK} candles"
        )

        # Warm-up: starts the warm sandbox server; a running platform has every strategy's
        # settings in the Redis cache.
        from strategies.settings_cache import strategy_settings_get

        strategy_settings_get(strategy_id=large.pk)
        run_task(small.pk)
        close_reset(after=CLOSE - timedelta(hours=1))
        small_seconds, small_statements, small_run = run_task(small.pk)
        timings = []
        for attempt in range(args.repeat):
            close_reset(after=CLOSE - timedelta(hours=1))
            seconds, statements, execution = run_task(large.pk)
            timings.append(seconds)
            if attempt == 0:
                large_statements, large_run = statements, execution
        trades = trades_of(large.pk)
        if large_run.status != "COMPLETED" or large_run.trades_created != args.subscribers:
            raise SystemExit(
                f"engine run did not trade every subscriber: {large_run.status} "
                f"{large_run.trades_created} {large_run.error_message}"
            )
        ours = statistics.median(timings)
        print(
            f"{'':34} {'seconds':>9} {'trades':>7} {'SQL':>5}  (SQL: statements seen by "
            "CaptureQueriesContext; the trades' COPY is not among them)"
        )
        print(
            f"{'engine, ' + format(args.small, ',') + ' subscribers':34} {small_seconds:9.3f} "
            f"{small_run.trades_created:7d} {small_statements:5d}"
        )
        print(
            f"{'engine, ' + format(args.subscribers, ',') + ' subscribers':34} {ours:9.3f} "
            f"{trades:7d} {large_statements:5d}   median of {args.repeat}: "
            + ", ".join(f"{value:.3f}" for value in timings)
        )

        close_reset(after=CLOSE - timedelta(hours=1))
        interpreter = baseline_interpreter()
        with Timer() as baseline:
            created = baseline_candle_close(
                strategy_ids=[large.pk], candle_close=CLOSE, interpreter=interpreter
            )
        if created != args.subscribers or trades_of(large.pk) != args.subscribers:
            raise SystemExit(f"baseline wrote {created} trades")
        print(
            f"{'seed-style baseline':34} {baseline.seconds:9.3f} {created:7d} "
            f"{3 + 2 + 2 * created:5d}   ({interpreter} -c, one INSERT + one UPDATE each)"
        )
        print(f"ratio baseline / engine: {baseline.seconds / ours:.1f}x")
        verdict = "met" if ours <= 1.0 else "MISSED"
        print(f"target <= 1 s for {args.subscribers:,} subscriptions: {verdict}")


if __name__ == "__main__":
    main()
