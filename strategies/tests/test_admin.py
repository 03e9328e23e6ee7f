import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from executions.models import StrategyExecution
from executions.tests.factories import ExecutionFactory
from strategies.admin import execution_outcomes
from strategies.models import Strategy
from strategies.tests.factories import StrategyFactory
from subscriptions.tests.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db

Status = StrategyExecution.Status


def _minute_strategy():
    return StrategyFactory(
        execution_config={"symbol": "BTCUSDT", "resolution": 1, "lookbackPeriod": 50}
    )


def test_execution_outcomes_count_per_hour_for_an_intraday_strategy():
    strategy = _minute_strategy()
    now = timezone.now().replace(minute=30, second=0, microsecond=0)
    two_hours_ago = now - timedelta(hours=2)
    for minute, status in [(1, Status.COMPLETED), (2, Status.COMPLETED), (3, Status.FAILED)]:
        ExecutionFactory(
            strategy=strategy,
            status=status,
            candle_close=two_hours_ago.replace(minute=minute),
        )
    ExecutionFactory(strategy=strategy, status=Status.SKIPPED, candle_close=now)
    running = now - timedelta(minutes=1)  # not an outcome
    ExecutionFactory(strategy=strategy, status=Status.RUNNING, candle_close=running)
    unit, buckets, series = execution_outcomes(strategy, now=now)
    assert unit == "hour"
    assert len(buckets) == 3  # two hours ago, one hour ago (empty), this hour
    assert series == {"COMPLETED": [2, 0, 0], "SKIPPED": [0, 0, 1], "FAILED": [1, 0, 0]}


def test_execution_outcomes_per_day_for_a_daily_strategy():
    strategy = StrategyFactory(
        execution_config={"symbol": "BTCUSDT", "resolution": 1440, "lookbackPeriod": 50}
    )
    now = timezone.now()
    ExecutionFactory(strategy=strategy, candle_close=now - timedelta(days=1))
    unit, buckets, series = execution_outcomes(strategy, now=now)
    assert unit == "day"
    assert len(buckets) == 2
    assert series["COMPLETED"] == [1, 0]


def test_change_page_shows_the_execution_chart(admin_client):
    strategy = _minute_strategy()
    now = timezone.now()
    ExecutionFactory(strategy=strategy, status=Status.COMPLETED, candle_close=now)
    ExecutionFactory(
        strategy=strategy, status=Status.FAILED, candle_close=now - timedelta(minutes=1)
    )
    response = admin_client.get(f"/admin/strategies/strategy/{strategy.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Executions per hour" in html
    assert len(re.findall(r"<rect [^>]*><title>[^<]*(COMPLETED|FAILED): 1</title>", html)) >= 1


def test_list_shows_subscriber_counts_and_last_status_without_n_plus_one(admin_client):
    strategies = [_minute_strategy() for _ in range(3)]
    for strategy in strategies:
        SubscriptionFactory(strategy=strategy)
        SubscriptionFactory(strategy=strategy, is_paused=True)
        SubscriptionFactory(strategy=strategy, is_active=False)
        ExecutionFactory(strategy=strategy, status=Status.FAILED)
    with CaptureQueriesContext(connection) as few:
        admin_client.get("/admin/strategies/strategy/")
    strategies.append(_minute_strategy())
    ExecutionFactory(strategy=strategies[-1], status=Status.SKIPPED)
    with CaptureQueriesContext(connection) as more:
        response = admin_client.get("/admin/strategies/strategy/")
    assert len(more) == len(few)
    html = response.content.decode()
    assert '<td class="field-active_subscribers">1</td>' in html
    assert '<td class="field-paused_subscribers">1</td>' in html
    assert '<td class="field-last_execution">FAILED</td>' in html
    assert '<td class="field-last_execution">SKIPPED</td>' in html
    assert admin_client.get("/admin/strategies/strategy/?last_execution=FAILED").status_code == 200


def test_strategies_are_not_added_in_the_admin(admin_client):
    # Authors upload through the API, which validates the source and the candle.
    assert admin_client.get("/admin/strategies/strategy/add/").status_code == 403


def _act(admin_client, action, *strategies):
    return admin_client.post(
        "/admin/strategies/strategy/",
        {"action": action, "_selected_action": [str(s.pk) for s in strategies]},
        follow=True,
    )


def test_actions_activate_and_deactivate_through_the_services(
    admin_client, django_capture_on_commit_callbacks
):
    followed = _minute_strategy()
    SubscriptionFactory(strategy=followed)
    idle = _minute_strategy()

    with django_capture_on_commit_callbacks(execute=True):
        response = _act(admin_client, "strategy_deactivate", followed, idle)
    html = response.content.decode()
    assert "Deactivated: 1." in html
    # An operator deactivates: the refusal says so (the API's DELETE says "delete").
    assert "Cannot deactivate a strategy with active subscriptions" in html
    assert "Cannot delete" not in html
    followed.refresh_from_db()
    idle.refresh_from_db()
    assert followed.is_active and not idle.is_active

    with django_capture_on_commit_callbacks(execute=True):
        response = _act(admin_client, "strategy_deactivate_force", followed)
    assert "Deactivated: 1." in response.content.decode()
    followed.refresh_from_db()
    assert not followed.is_active
    assert followed.subscriptions.filter(is_active=True).exists()  # they stay

    with django_capture_on_commit_callbacks(execute=True):
        _act(admin_client, "strategy_activate", followed, idle)
    assert Strategy.objects.filter(pk__in=[followed.pk, idle.pk], is_active=True).count() == 2


def test_metadata_edits_go_through_strategy_update(admin_client):
    strategy = _minute_strategy()
    url = f"/admin/strategies/strategy/{strategy.pk}/change/"
    response = admin_client.post(
        url,
        {
            "name": "Renamed",
            "description": "new words",
            "tags": " Trend , SMA ",
            "is_public": "on",
            "is_marketplace": "on",
        },
    )
    assert response.status_code == 302
    strategy.refresh_from_db()
    assert (strategy.name, strategy.tags, strategy.is_marketplace) == (
        "Renamed",
        "Trend,SMA",
        True,
    )  # normalised by the service
    html = admin_client.get(url).content.decode()
    assert 'name="strategy_code"' not in html and 'name="is_active"' not in html
