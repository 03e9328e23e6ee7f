"""The order a strategy's closes apply in: time order, each once, none applied to a later
state.

A close's trading step (stop/target fills, closes of cancelled subscriptions, the closes
and opens of its signal, the row's end) runs in one transaction holding the strategy's
advisory lock (`strategies.locks`), on its own row locked FOR UPDATE (so the reaper
waits for it, and finds it final), and only once every earlier close of the strategy is
final (`execution_in_turn`). An earlier close that may not trade any more (past its
deadline: "missed"), or that nobody runs (not started, or its run died: "superseded by a
later close") is given up for good; one still running in a live worker within its
deadline is waited for. A close that finds a later one applied (`applied_at`) is SKIPPED
"superseded by a later close". So the trades, positions and maxPositions a close sees are
exactly those as of that close.
"""

import time
from collections.abc import Callable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from executions.models import StrategyExecution
from strategies.enums import MISSED
from strategies.locks import strategy_lock

from .fence import UNFINISHED, Fenced, execution_give_up, owner_alive

Status = StrategyExecution.Status
SUPERSEDED = "superseded by a later close"
TURN_POLL_SECONDS = 0.1


def missed_message(*, candle_close: datetime, now: datetime) -> str:
    return f"{MISSED}: the queue was {int((now - candle_close).total_seconds())} s behind"


def past_deadline(row: StrategyExecution, now: datetime) -> bool:
    return row.deadline is not None and now > row.deadline


def execution_superseded(execution: StrategyExecution) -> str:
    """Why this close may no longer apply ("" when it may): a later close applied."""
    later = (
        StrategyExecution.objects.filter(
            strategy_id=execution.strategy_id,
            candle_close__gt=execution.candle_close,
            applied_at__isnull=False,
        )
        .order_by("candle_close")
        .values_list("candle_close", flat=True)
        .first()
    )
    return f"{SUPERSEDED} ({later.isoformat()})" if later else ""


def _settle_earlier(execution: StrategyExecution, now: datetime) -> bool:
    """Give up every earlier unfinished close of the strategy that may be given up;
    True when one still runs in a live worker within its deadline (wait for it)."""
    wait = False
    earlier = StrategyExecution.objects.filter(
        strategy_id=execution.strategy_id,
        candle_close__lt=execution.candle_close,
        status__in=UNFINISHED,
    ).only("id", "strategy_id", "candle_close", "status", "run_token", "deadline")
    for row in earlier:
        if past_deadline(row, now):
            execution_give_up(row, missed_message(candle_close=row.candle_close, now=now), now=now)
        elif row.status == Status.PENDING or not owner_alive(row):
            message = f"{SUPERSEDED} ({execution.candle_close.isoformat()})"
            execution_give_up(row, message, now=now)
        else:
            wait = True
    return wait


def execution_in_turn(
    *, execution: StrategyExecution, apply: Callable[[], None], skip: Callable[[str], None]
) -> None:
    """Run `apply()` as this close's trading step (see the module docstring), or
    `skip(reason)` when the close is superseded or past its deadline, in that transaction.
    Raises `Fenced` when the row is no longer this run's."""
    while True:
        with transaction.atomic():
            strategy_lock(strategy_id=execution.strategy_id)
            mine = (
                StrategyExecution.objects.select_for_update()
                .filter(id=execution.id, status=Status.RUNNING, run_token=execution.run_token)
                .exists()
            )
            if not mine:
                raise Fenced
            now = timezone.now()
            wait = _settle_earlier(execution, now)
            if past_deadline(execution, now):
                skip(missed_message(candle_close=execution.candle_close, now=now))
                return
            if not wait:
                reason = execution_superseded(execution)
                if reason:
                    skip(reason)
                else:
                    apply()
                return
        time.sleep(TURN_POLL_SECONDS)
