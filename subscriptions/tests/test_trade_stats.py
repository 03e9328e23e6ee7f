import pytest

from subscriptions.models import StrategySubscription
from subscriptions.tests.factories import SubscriptionFactory
from subscriptions.trade_stats import subscription_stats_apply_opened

pytestmark = pytest.mark.django_db


def _totals(*subscriptions) -> list[int]:
    return [StrategySubscription.objects.get(pk=s.pk).total_trades for s in subscriptions]


def test_opened_adds_one_to_each_listed_subscription_only():
    first, second, untouched = SubscriptionFactory.create_batch(3)
    assert subscription_stats_apply_opened(subscription_ids=[first.pk, second.pk]) == 2
    assert subscription_stats_apply_opened(subscription_ids=[first.pk]) == 1
    assert _totals(first, second, untouched) == [2, 1, 0]


def test_opened_takes_a_queryset_of_ids_as_a_subquery():
    listed, untouched = SubscriptionFactory(), SubscriptionFactory()
    ids = StrategySubscription.objects.filter(pk=listed.pk).values("id")
    assert subscription_stats_apply_opened(subscription_ids=ids) == 1
    assert _totals(listed, untouched) == [1, 0]


def test_opened_with_no_ids_changes_nothing():
    subscription = SubscriptionFactory()
    assert subscription_stats_apply_opened(subscription_ids=[]) == 0
    assert _totals(subscription) == [0]
