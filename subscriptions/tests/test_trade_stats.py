from decimal import Decimal as D

import pytest

from subscriptions.models import StrategySubscription
from subscriptions.tests.factories import SubscriptionFactory
from subscriptions.trade_stats import (
    subscription_stats_apply_closed_trades,
    subscription_stats_apply_opened,
)

pytestmark = pytest.mark.django_db


def _totals(*subscriptions) -> list[int]:
    return [StrategySubscription.objects.get(pk=s.pk).total_trades for s in subscriptions]


def test_opened_adds_one_to_each_listed_subscription_only():
    first, second, untouched = SubscriptionFactory.create_batch(3)
    assert subscription_stats_apply_opened(subscription_ids=[first.pk, second.pk]) == 2
    assert subscription_stats_apply_opened(subscription_ids=[first.pk]) == 1
    assert _totals(first, second, untouched) == [2, 1, 0]


def test_opened_with_no_ids_changes_nothing():
    subscription = SubscriptionFactory()
    assert subscription_stats_apply_opened(subscription_ids=[]) == 0
    assert _totals(subscription) == [0]


def test_closed_trades_move_wins_losses_and_pnl_a_zero_pnl_is_neither():
    first, second, untouched = SubscriptionFactory.create_batch(3)
    closed = [
        (first.pk, D("12.5")),
        (first.pk, D("-2.5")),
        (first.pk, D("0")),
        (second.pk, D("-1")),
    ]
    assert subscription_stats_apply_closed_trades(closed=closed) == 2
    rows = {
        row["id"]: (row["winning_trades"], row["losing_trades"], row["total_pnl"])
        for row in StrategySubscription.objects.values(
            "id", "winning_trades", "losing_trades", "total_pnl"
        )
    }
    assert rows[first.pk] == (1, 1, D("10"))
    assert rows[second.pk] == (0, 1, D("-1"))
    assert rows[untouched.pk] == (0, 0, D("0"))


def test_no_closed_trades_changes_nothing():
    assert subscription_stats_apply_closed_trades(closed=[]) == 0
