"""The Celery Beat schedule of the candle-close flow, as data, applied by
`manage.py setup_periodic_tasks` (idempotent; run at every start).

One crontab per resolution, in UTC, firing at the candle boundary; each entry expires
well within its period so a backlog (beat running while workers are down) never runs a
tick for a candle a newer one has replaced. Plus the reapers of stale executions and
backtests, a periodic rebuild of the candle registry from the database, and the
reconciliation of orders and positions with the exchanges (every minute, `orders` queue).
"""

import json

from django.db import transaction

from marketdata.candles import RESOLUTIONS

# minute, hour for each resolution (day_of_week, day_of_month, month_of_year are "*").
RESOLUTION_CRONTABS = {
    1: ("*", "*"),
    5: ("*/5", "*"),
    15: ("*/15", "*"),
    30: ("*/30", "*"),
    60: ("0", "*"),
    240: ("0", "*/4"),
    1440: ("0", "0"),
}
REAPER_NAME = "executions: reap stale executions"
BACKTEST_REAPER_NAME = "backtests: reap stale backtests"
REGISTRY_RECONCILE_NAME = "strategies: reconcile the candle registry"
ORDERS_RECONCILE_NAME = "executions: reconcile orders and positions with the exchanges"
assert set(RESOLUTION_CRONTABS) == set(RESOLUTIONS)


def tick_name(resolution: int) -> str:
    return f"executions: {resolution}m candle close"


def tick_expire_seconds(resolution: int) -> int:
    """A tick older than half its period (at most 10 minutes) is stale."""
    return min(resolution * 60 // 2, 600)


def _crontab(minute: str, hour: str):
    from django_celery_beat.models import CrontabSchedule

    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="UTC",
    )
    return schedule


def _periodic_task(
    *, name: str, task: str, crontab, args: list, expire_seconds: int, description: str
):
    from django_celery_beat.models import PeriodicTask

    PeriodicTask.objects.update_or_create(
        name=name,
        defaults={
            "task": task,
            "crontab": crontab,
            "interval": None,
            "args": json.dumps(args),
            "kwargs": "{}",
            "expire_seconds": expire_seconds,
            "enabled": True,
            "description": description,
        },
    )
    return name


@transaction.atomic
def periodic_tasks_setup() -> list[str]:
    """Create or update the schedule rows; answers the names of the tasks it manages."""
    names = [
        _periodic_task(
            name=tick_name(resolution),
            task="executions.resolution_tick",
            crontab=_crontab(minute, hour),
            args=[resolution],
            expire_seconds=tick_expire_seconds(resolution),
            description=f"Run every strategy registered on a {resolution}m candle.",
        )
        for resolution, (minute, hour) in RESOLUTION_CRONTABS.items()
    ]
    # Every minute, the rows a lost worker left RUNNING become FAILED. The backtests app (a
    # floor above) has its own reaper task: named here, not imported, so the one schedule
    # lives in one place.
    names += [
        _periodic_task(
            name=name,
            task=task,
            crontab=_crontab("*", "*"),
            args=[],
            expire_seconds=50,
            description=f"Mark {rows} left RUNNING by a lost worker as FAILED.",
        )
        for name, task, rows in (
            (REAPER_NAME, "executions.reap_stale_executions", "executions"),
            (BACKTEST_REAPER_NAME, "backtests.reap_stale_backtests", "backtests"),
        )
    ]
    # A registry write that failed after its commit (Redis away) or lost a race between a
    # cancel and a subscribe is mended here: PostgreSQL is the source of truth.
    names.append(
        _periodic_task(
            name=REGISTRY_RECONCILE_NAME,
            task="strategies.registry_reconcile",
            crontab=_crontab("*/5", "*"),
            args=[],
            expire_seconds=240,
            description="Rebuild the Redis candle registry from the database.",
        )
    )
    # The book against each exchange: unfinished orders looked up, positions compared.
    names.append(
        _periodic_task(
            name=ORDERS_RECONCILE_NAME,
            task="executions.orders_reconcile",
            crontab=_crontab("*", "*"),
            args=[],
            expire_seconds=50,
            description="Look up unfinished orders and compare positions, per credential.",
        )
    )
    return names
