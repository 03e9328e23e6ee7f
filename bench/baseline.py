"""A seed-style candle close: the original design's loop, run on our data for comparison.

What it does, per strategy, one strategy after the other (no worker, no fan-out):

1. one SELECT of the strategy, one of its last ``lookbackPeriod`` candles, and one of
   its active subscribers with their credential columns;
2. one INSERT of the execution row (RUNNING);
3. a **new interpreter**: ``python -c <wrapper + strategy source>`` (the source on the
   command line), every subscriber's data on stdin next to the candles, as the original
   passed each subscriber's API key and secret to the strategy (here the stored, still
   encrypted, columns: same bytes, no decryption cost); the signal comes back on stdout;
4. per subscriber: the position size (Decimal, risk-based, leverage cap), then **one
   INSERT** of the trade and **one UPDATE** of the subscription's counter, in autocommit
   (each statement its own transaction, as a loop without ``transaction.atomic`` runs);
5. one UPDATE of the execution row (COMPLETED, trades created, duration).

Plain SQL through Django's connection, so the ORM costs nothing here. No eligibility rule,
lock, signal validation or sandbox: the baseline does *less* than the engine, which only
makes the comparison harder for us.

``python`` is looked up on PATH, as the original spawned it. Where that is a pyenv-style
shim (a shell script that picks the interpreter on every call: ~108 ms a start here
against ~21 ms for the interpreter itself), the benchmarks report the baseline both ways:
through the shim, literally as specified, and with the shim resolved once to the
interpreter it runs, which is what a production image would spawn and the fairer figure.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

WRAPPER = (
    "import json, sys\n"
    "payload = json.load(sys.stdin)\n"
    "class Candles(dict):\n"
    "    __getattr__ = dict.__getitem__\n"
    "    def __len__(self):\n"
    "        return len(self['close'])\n"
    "{source}\n"
    "signal = generate_signal(Candles(payload['candles']), payload['params'])\n"
    "print(json.dumps(signal))\n"
)


def baseline_interpreter(*, resolve: bool = True) -> str:
    """``python`` on PATH; with `resolve`, the interpreter a version-manager shim runs."""
    found = shutil.which("python") or shutil.which("python3")
    if found is None:
        raise SystemExit("no python on PATH for the seed-style baseline")
    if not resolve:
        return found
    with open(found, "rb") as head:
        is_script = head.read(2) == b"#!"
    if not is_script:
        return found
    resolved = subprocess.run(
        [found, "-c", "import sys; print(sys.executable)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return resolved or found


def _size(capital, risk, leverage, entry, stop) -> Decimal:
    distance = abs(entry - stop)
    if distance == 0:
        return Decimal(0)
    quantity = capital * risk / distance
    cap = capital * leverage / entry
    return min(quantity, cap).quantize(Decimal("0.000000000001"), rounding=ROUND_DOWN)


def baseline_run_strategy(*, strategy_id, candle_close: datetime, interpreter: str) -> int:
    """The seed-style run of one strategy at one close; answers the trades written."""
    from django.db import connection
    from django.utils import timezone

    from executions.models import StrategyExecution, Trade
    from marketdata.models import Candle
    from strategies.models import Strategy
    from subscriptions.models import StrategySubscription

    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT strategy_code, execution_config FROM {Strategy._meta.db_table} WHERE id = %s",
            [strategy_id],
        )
        source, config = cursor.fetchone()
        if isinstance(config, str):
            config = json.loads(config)
        symbol, resolution = config["symbol"].upper(), int(config["resolution"])
        lookback = int(config.get("lookbackPeriod", 100))
        cursor.execute(
            f"SELECT open_time, open, high, low, close, volume FROM {Candle._meta.db_table} "
            "WHERE symbol = %s AND resolution = %s AND open_time <= %s "
            "ORDER BY open_time DESC LIMIT %s",
            [symbol, resolution, candle_close - timedelta(minutes=resolution), lookback],
        )
        rows = cursor.fetchall()[::-1]
        candles = {
            "time": [row[0].isoformat() for row in rows],
            **{
                name: [float(row[index]) for row in rows]
                for index, name in enumerate(("open", "high", "low", "close", "volume"), 1)
            },
        }
        cursor.execute(
            "SELECT s.id, s.capital, s.risk_per_trade, s.leverage, c.api_key, c.api_secret "
            f"FROM {StrategySubscription._meta.db_table} s "
            "JOIN accounts_brokercredential c ON c.id = s.broker_credential_id "
            "WHERE s.strategy_id = %s AND s.is_active",
            [strategy_id],
        )
        subscribers = cursor.fetchall()
        execution_id = uuid.uuid4()
        cursor.execute(
            f"INSERT INTO {StrategyExecution._meta.db_table} (id, strategy_id, symbol, "
            "resolution, candle_close, started_at, status, subscribers_count, "
            "trades_created, error_message, execution_log) "
            "VALUES (%s, %s, %s, %s, %s, %s, 'RUNNING', %s, 0, '', '')",
            [
                execution_id,
                strategy_id,
                symbol,
                resolution,
                candle_close,
                timezone.now(),
                len(subscribers),
            ],
        )
        payload = {
            "candles": candles,
            "params": config,
            "subscribers": [
                {
                    "id": str(row[0]),
                    "capital": str(row[1]),
                    "riskPerTrade": str(row[2]),
                    "leverage": row[3],
                    "apiKey": row[4],
                    "apiSecret": row[5],
                }
                for row in subscribers
            ],
        }
        completed = subprocess.run(
            [interpreter, "-c", WRAPPER.format(source=source)],
            input=json.dumps(payload).encode(),
            capture_output=True,
            check=False,
        )
        signal = json.loads(completed.stdout or b"null") if completed.returncode == 0 else None
        created = 0
        if isinstance(signal, dict) and signal.get("action") in ("BUY", "SELL"):
            entry = Decimal(str(rows[-1][4]))
            stop = Decimal(str(signal["stopLoss"]))
            take = signal.get("takeProfit")
            for subscription_id, capital, risk, leverage, _key, _secret in subscribers:
                quantity = _size(capital, risk, leverage, entry, stop)
                cursor.execute(
                    f"INSERT INTO {Trade._meta.db_table} (id, subscription_id, execution_id, "
                    "symbol, side, quantity, entry_price, stop_loss, take_profit, "
                    "exit_reason, status, created_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, '', 'OPEN', %s)",
                    [
                        uuid.uuid4(),
                        subscription_id,
                        execution_id,
                        symbol,
                        signal["action"],
                        quantity,
                        entry,
                        stop,
                        None if take is None else Decimal(str(take)),
                        timezone.now(),
                    ],
                )
                cursor.execute(
                    f"UPDATE {StrategySubscription._meta.db_table} "
                    "SET total_trades = total_trades + 1 WHERE id = %s",
                    [subscription_id],
                )
                created += 1
        cursor.execute(
            f"UPDATE {StrategyExecution._meta.db_table} SET status = %s, completed_at = %s, "
            "trades_created = %s, duration_ms = %s, signal = %s WHERE id = %s",
            [
                "COMPLETED" if signal is not None else "FAILED",
                timezone.now(),
                created,
                int((time.monotonic() - started) * 1000),
                json.dumps(signal),
                execution_id,
            ],
        )
    return created


def baseline_candle_close(*, strategy_ids, candle_close: datetime, interpreter: str) -> int:
    """Every strategy of the close, sequentially; answers the trades written."""
    return sum(
        baseline_run_strategy(
            strategy_id=strategy_id, candle_close=candle_close, interpreter=interpreter
        )
        for strategy_id in strategy_ids
    )


def close_reset(*, after: datetime) -> None:
    """Between our run and the baseline's: the executions (and their trades) of closes
    after `after` are deleted and the counters set to zero, so both start from the same
    state, every subscriber eligible. Older history stays."""
    from django.db import connection

    from executions.models import StrategyExecution, Trade
    from subscriptions.models import StrategySubscription

    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {Trade._meta.db_table} WHERE execution_id IN (SELECT id FROM "
            f"{StrategyExecution._meta.db_table} WHERE candle_close > %s)",
            [after],
        )
        cursor.execute(
            f"DELETE FROM {StrategyExecution._meta.db_table} WHERE candle_close > %s",
            [after],
        )
        cursor.execute(
            f"UPDATE {StrategySubscription._meta.db_table} SET total_trades = 0, "
            "winning_trades = 0, losing_trades = 0, total_pnl = 0"
        )
        # As autovacuum would between two closes: dead rows gone, statistics current.
        for model in (Trade, StrategyExecution, StrategySubscription):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
