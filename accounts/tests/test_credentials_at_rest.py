import pytest
from cryptography.fernet import Fernet
from django.db import connection

from accounts import crypto
from accounts.models import BrokerCredential
from accounts.tests.factories import BrokerCredentialFactory

pytestmark = pytest.mark.django_db


def _raw_columns(credential_id):
    # The raw column, as stored: below the field's decryption (UUIDs differ per backend).
    db_id = BrokerCredential._meta.pk.get_db_prep_value(credential_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT api_key, api_secret FROM accounts_brokercredential WHERE id = %s",
            [db_id],
        )
        return cursor.fetchone()


def test_key_and_secret_are_encrypted_at_rest():
    credential = BrokerCredentialFactory(api_key="KEY-1234567890", api_secret="SECRET-abcdef")
    raw_key, raw_secret = _raw_columns(credential.id)
    assert "KEY-1234567890" not in raw_key
    assert "SECRET-abcdef" not in raw_secret
    reloaded = BrokerCredential.objects.get(id=credential.id)
    assert reloaded.api_key == "KEY-1234567890"
    assert reloaded.api_secret == "SECRET-abcdef"
    assert reloaded.api_key_last4 == "7890"


def test_key_rotation_keeps_old_rows_readable(settings):
    credential = BrokerCredentialFactory(api_secret="old-key-secret")
    old_keys = list(settings.FIELD_ENCRYPTION_KEYS)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *old_keys]
    crypto._fernet.cache_clear()
    try:
        assert BrokerCredential.objects.get(id=credential.id).api_secret == "old-key-secret"
        raw_secret = _raw_columns(credential.id)[1]
        rotated = crypto.rotate(raw_secret)
        settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]
        crypto._fernet.cache_clear()
        assert crypto.decrypt(rotated) == "old-key-secret"
    finally:
        crypto._fernet.cache_clear()
