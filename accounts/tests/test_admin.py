"""A broker credential's key and secret never reach an admin page, in any view."""

import pytest

from accounts.tests.factories import BrokerCredentialFactory
from subscriptions.tests.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db


def test_no_admin_page_shows_the_key_or_the_secret(admin_client):
    subscription = SubscriptionFactory()
    credential = subscription.broker_credential
    other = BrokerCredentialFactory()
    pages = [
        "/admin/accounts/brokercredential/",
        f"/admin/accounts/brokercredential/{credential.pk}/change/",
        f"/admin/accounts/brokercredential/{other.pk}/change/",
        "/admin/accounts/brokercredential/add/",
        f"/admin/accounts/brokercredential/?q={credential.user.email}",
        f"/admin/accounts/user/{credential.user.pk}/change/",
        "/admin/subscriptions/strategysubscription/",
        f"/admin/subscriptions/strategysubscription/{subscription.pk}/change/",
    ]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
        html = response.content.decode()
        for secret in (credential.api_key, credential.api_secret, other.api_secret):
            assert secret not in html, page
    # The last four characters of the key identify it.
    listing = admin_client.get("/admin/accounts/brokercredential/").content.decode()
    assert f"…{credential.api_key[-4:]}" in listing


def test_saving_without_new_values_keeps_the_stored_ones(admin_client):
    credential = BrokerCredentialFactory()
    key, secret = credential.api_key, credential.api_secret
    response = admin_client.post(
        f"/admin/accounts/brokercredential/{credential.pk}/change/",
        {"user": credential.user.pk, "broker_name": "paper", "is_active": "on"},
    )
    assert response.status_code == 302
    credential.refresh_from_db()
    assert (credential.api_key, credential.api_secret) == (key, secret)
