"""The candle-close engine: one strategy, one candle close, exactly once.

`execution_run(strategy_id=…, candle_close=…)` is what the Celery task and
`manage.py run_candle` call. In order:

1. Read the strategy's settings (Redis settings cache) for its candle.
2. Take the Redis lock `execution:{strategy}:{symbol}:{resolution}:{close}` (token-owned,
   non-blocking): not acquired → someone else runs it, return None.
3. Create the StrategyExecution row RUNNING in its own transaction. Its unique
   (strategy, candle_close) constraint is the fence: an IntegrityError is a duplicate
   delivery → return None. The lock only saves the duplicate the work of trying.
4. Close open trades whose stop-loss or take-profit a candle touched since they opened.
5. Load the last `lookbackPeriod` closed candles up to the close, run the strategy in the
   sandbox (it sees candles and its own execution config, nothing else), parse its signal.
6. EXIT closes the strategy's open trades; BUY/SELL first closes the opposite side, then
   opens one trade per eligible subscription, all subscriptions read in ONE query and the
   trades written with ONE bulk insert in the same transaction as the counters and the
   execution's completion.

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
- `fence`: the Redis lock and the unique row;
- `lifecycle`: the row's end (status, error, duration, output and notes);
- `flow`: the steps above, in order;
- `closing` and `opening`: the trades a candle or a signal closes, and the new ones;
- `book`: every read and write of trades and subscriptions (hand-written SQL);
- `sandbox_call`: what the sandbox is given (shared with the backtests).
"""

from .fence import execution_lock_key
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
    "execution_lock_key",
    "execution_run",
]
