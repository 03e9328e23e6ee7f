"""Orchestration: which runs a candle close makes, and one run from its settings to its
row. The Celery tasks and `manage.py run_candle` call these."""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

from executions.models import StrategyExecution
from marketdata.candles import candle_close_floor
from marketdata.services import candle_ensure
from strategies.models import Strategy
from strategies.registry import (
    registry_active_candles,
    registry_ensure_built,
    registry_strategy_ids,
)
from strategies.settings_cache import strategy_settings_get

from .fence import close_lock, execution_claim, execution_expect
from .flow import execution_flow

logger = logging.getLogger(__name__)


def candle_close_prepare(*, symbol: str, resolution: int, candle_close: datetime) -> list[str]:
    """Before a candle close's runs: make sure the candle is stored and answer the ids of
    the strategies registered on it (sorted). A market data failure is logged, not
    raised: the runs still happen and SKIP with "market data missing", on the record."""
    try:
        candle_ensure(symbol=symbol, resolution=resolution, candle_close=candle_close)
    except Exception:
        logger.exception(
            "market data for %s:%s at %s could not be ensured", symbol, resolution, candle_close
        )
    return sorted(registry_strategy_ids(symbol=symbol, resolution=resolution))


def run_expiry_seconds(resolution: int) -> float:
    """How long after its close a run may still trade (its row's deadline): 80% of the
    candle period (at most 30 min for long periods), so a backlog never trades on a candle
    a newer one replaced."""
    return min(resolution * 60 * 0.8, 30 * 60)


def candle_close_fan_out(
    *, resolution: int, now: datetime, enqueue: Callable[[str, datetime], None]
) -> int:
    """The tick of a resolution: the candle that has just closed at `now` (the floor, never
    the ceiling), the registry rebuilt from the database if Redis lost it, then for every
    registered candle of this resolution the candle stored, the expected rows written
    (PENDING, with their deadline: `fence.execution_expect`) and `enqueue(strategy_id,
    candle_close)` called per registered strategy. The messages do not expire: a run that
    comes too late finds its deadline passed and says so on its row ("missed: …"), and one
    that never comes is settled by the reaper. Answers the number of runs enqueued."""
    candle_close = candle_close_floor(now, resolution)
    deadline = candle_close + timedelta(seconds=run_expiry_seconds(resolution))
    if registry_ensure_built():
        logger.warning("candle registry was missing from Redis: rebuilt from the database")
    enqueued = 0
    for key in sorted(registry_active_candles()):
        symbol, _, key_resolution = key.rpartition(":")
        if int(key_resolution) != resolution:
            continue
        strategy_ids = candle_close_prepare(
            symbol=symbol, resolution=resolution, candle_close=candle_close
        )
        execution_expect(
            strategy_ids=strategy_ids,
            symbol=symbol,
            resolution=resolution,
            candle_close=candle_close,
            deadline=deadline,
        )
        for strategy_id in strategy_ids:
            enqueue(strategy_id, candle_close)
            enqueued += 1
    return enqueued


def candle_close_run(
    *, symbol: str, resolution: int, candle_close: datetime
) -> list[tuple[str, StrategyExecution | None]]:
    """The whole candle close synchronously (`manage.py run_candle`): every registered
    strategy of the candle, one after the other; answers (strategy code, execution)."""
    registry_ensure_built()
    strategy_ids = candle_close_prepare(
        symbol=symbol.upper(), resolution=resolution, candle_close=candle_close
    )
    codes = dict(Strategy.objects.filter(id__in=strategy_ids).values_list("id", "code"))
    return [
        (codes.get(UUID(strategy_id), strategy_id), _run_alone(strategy_id, candle_close))
        for strategy_id in strategy_ids
    ]


def _run_alone(strategy_id: str, candle_close: datetime) -> StrategyExecution | None:
    """One strategy of a synchronous candle close: whatever escapes its run (the run ends
    its own row; this is for what lies around it, the settings cache or the database
    going away) is logged, and the strategies after it still run."""
    try:
        return execution_run(strategy_id=strategy_id, candle_close=candle_close)
    except Exception:
        logger.exception("strategy %s at %s could not run", strategy_id, candle_close)
        return None


def execution_run(*, strategy_id, candle_close: datetime) -> StrategyExecution | None:
    """Run one strategy for one candle close; None when another delivery owns it."""
    config = strategy_settings_get(strategy_id=strategy_id)
    if config is None:
        logger.warning("execution for unknown strategy %s at %s ignored", strategy_id, candle_close)
        return None
    candle = {"symbol": config["symbol"], "resolution": int(config["resolution"])}
    with close_lock(strategy_id=strategy_id, candle_close=candle_close) as held:
        if not held:
            return None  # its live owner runs it and writes the row
        execution = execution_claim(strategy_id=strategy_id, candle_close=candle_close, **candle)
        if execution is None:
            return None
        execution_flow(execution=execution, config=config)
        return execution
