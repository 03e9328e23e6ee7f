"""The Celery Beat schedule of the candle-close flow, as data, applied by
`manage.py setup_periodic_tasks` (idempotent; run at every start).

One crontab per resolution, in UTC, firing at the candle boundary; each entry expires
well within its period so a backlog (beat running while workers are down) never runs a
tick for a candle a newer one has replaced. Plus the reaper of stale executions.
"""

import json

from django.db import transaction

from strategies.models import RESOLUTIONS

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


@transaction.atomic
def periodic_tasks_setup() -> list[str]:
    """Create or update the schedule rows; answers the names of the tasks it manages."""
    from django_celery_beat.models import PeriodicTask

    names = []
    for resolution, (minute, hour) in RESOLUTION_CRONTABS.items():
        name = tick_name(resolution)
        PeriodicTask.objects.update_or_create(
            name=name,
            defaults={
                "task": "executions.resolution_tick",
                "crontab": _crontab(minute, hour),
                "interval": None,
                "args": json.dumps([resolution]),
                "kwargs": "{}",
                "expire_seconds": tick_expire_seconds(resolution),
                "enabled": True,
                "description": f"Run every strategy registered on a {resolution}m candle.",
            },
        )
        names.append(name)
    PeriodicTask.objects.update_or_create(
        name=REAPER_NAME,
        defaults={
            "task": "executions.reap_stale_executions",
            "crontab": _crontab("*", "*"),
            "interval": None,
            "args": "[]",
            "kwargs": "{}",
            "expire_seconds": 50,
            "enabled": True,
            "description": "Mark executions left RUNNING by a lost worker as FAILED.",
        },
    )
    names.append(REAPER_NAME)
    return names
