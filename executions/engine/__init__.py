"""The candle-close engine: one strategy, one candle close, exactly once, in time order.

The tick (`candle_close_fan_out`) writes one PENDING row per expected (strategy, close),
with its deadline, and enqueues one run each. `execution_run(strategy_id=…,
candle_close=…)` is what the Celery task and `manage.py run_candle` call. In order:

1. Read the strategy's settings (Redis settings cache) for its candle.
2. Take the PostgreSQL session lock of (strategy, close) (non-blocking): not acquired →
   a live run owns the close, return None (it will write the row).
3. Claim the row RUNNING under a new token (INSERT, or UPDATE of a PENDING row, or of a
   RUNNING row whose owner died: the lock says so); a final row → return None.
4. A close past its deadline is SKIPPED "missed: the queue was N s behind"; one a later
   close already applied is SKIPPED "superseded by a later close".
5. Load the last `lookbackPeriod` closed candles up to the close, run the strategy in the
   sandbox (it sees candles and its own execution config, nothing else), parse its signal.
6. In turn (`ordering`: the strategy's advisory lock, every earlier close final), in one
   transaction: stop-loss / take-profit fills since each trade opened, the trades of
   cancelled subscriptions closed at this close, then EXIT closes the strategy's open
   trades, BUY/SELL first closes the opposite side and opens one trade per eligible
   subscription (all subscriptions read in ONE query, the trades written with ONE COPY),
   the counters, and the row's end, conditional on the run's token.

`subscribers_count` is the number of active subscriptions (paused ones included) when the
signal was acted on; the execution log names, per reason, the subscriptions that got no
trade. "Today" for the daily loss limit is the UTC day of the candle close, so a replay
of an old close judges it by that day, not by the wall clock.

A missing strategy (deleted) gets no row, as there is nothing to attach it to: the run
is logged and ignored. An inactive one gets a SKIPPED row. The row always ends COMPLETED,
SKIPPED (reason) or FAILED (error): an unexpected exception is caught, logged without
secrets, and stored as FAILED. The number of SQL statements depends on the number of
strategies, not on the number of subscribers.

One module per job:

- `orchestration`: the tick's fan-out, the synchronous candle close, one run end to end;
- `fence`: who owns a close (the session lock, the token) and the conditional row writes;
- `ordering`: the order a strategy's closes apply in;
- `lifecycle`: the row's end (status, error, duration, output and notes);
- `flow`: the steps above, in order;
- `closing` and `opening`: the trades a candle or a signal closes, and the new ones;
- `book`: every read and write of trades and subscriptions (hand-written SQL);
- `sandbox_call`: what the sandbox is given (shared with the backtests).
"""

from .fence import close_lock_key, execution_expect
from .orchestration import (
    candle_close_fan_out,
    candle_close_prepare,
    candle_close_run,
    execution_run,
)

__all__ = [
    "candle_close_fan_out",
    "candle_close_prepare",
    "candle_close_run",
    "close_lock_key",
    "execution_expect",
    "execution_run",
]
