"""A broker credential's key and secret never reach an admin page, in any view; the admin
(a web process) replaces them by sealing, without being able to open them."""

import pytest

from accounts.models import BrokerCredential
from accounts.services import broker_credential_open
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
    stored = BrokerCredential.objects.get(pk=credential.pk)
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
        html = response.content.decode()
        for secret in (credential.api_key, credential.api_secret, other.api_secret):
            assert secret not in html, page
        # Not even the ciphertext: it is of no use on a page.
        assert stored.api_secret_sealed.rsplit(":", 1)[1] not in html, page
    # The last four characters of the key identify it.
    listing = admin_client.get("/admin/accounts/brokercredential/").content.decode()
    assert f"…{credential.api_key[-4:]}" in listing


def test_saving_without_new_values_keeps_the_stored_ones(admin_client):
    credential = BrokerCredentialFactory()
    before = BrokerCredential.objects.get(pk=credential.pk)
    response = admin_client.post(
        f"/admin/accounts/brokercredential/{credential.pk}/change/",
        {"user": credential.user.pk, "broker_name": "paper", "is_active": "on"},
    )
    assert response.status_code == 302
    after = BrokerCredential.objects.get(pk=credential.pk)
    assert (after.api_key_sealed, after.api_secret_sealed) == (
        before.api_key_sealed,
        before.api_secret_sealed,
    )


def test_replacing_the_key_seals_the_new_values(admin_client, settings):
    credential = BrokerCredentialFactory()
    response = admin_client.post(
        f"/admin/accounts/brokercredential/{credential.pk}/change/",
        {
            "user": credential.user.pk,
            "broker_name": "paper",
            "is_active": "on",
            "api_key": "NEW-KEY-000000-ABCD",
            "api_secret": "new-secret-value",
        },
    )
    assert response.status_code == 302
    stored = BrokerCredential.objects.get(pk=credential.pk)
    assert stored.api_key_last4 == "ABCD" and "new-secret" not in stored.api_secret_sealed
    settings.BROKER_PRIVATE_KEYS = settings.DEV_BROKER_PRIVATE_KEY_FILE.read_text().split()
    assert broker_credential_open(credential=stored).secret == "new-secret-value"
