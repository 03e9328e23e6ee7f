import pytest
from django.db import IntegrityError, transaction

from subscriptions.tests.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db


def test_database_refuses_a_second_active_subscription():
    first = SubscriptionFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        SubscriptionFactory(
            user=first.user, strategy=first.strategy, broker_credential=first.broker_credential
        )


def test_a_cancelled_subscription_does_not_block_a_new_one():
    first = SubscriptionFactory(is_active=False)
    second = SubscriptionFactory(
        user=first.user, strategy=first.strategy, broker_credential=first.broker_credential
    )
    assert second.is_active
