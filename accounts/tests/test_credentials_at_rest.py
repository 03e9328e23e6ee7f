"""Broker credentials are sealed: the row holds ciphertext bound to itself, only a process
holding the private key (the orders worker) opens it, keys rotate by key id."""

import io
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from accounts import crypto
from accounts.models import BrokerCredential
from accounts.services import broker_credential_open
from accounts.tests.factories import BrokerCredentialFactory

pytestmark = pytest.mark.django_db


def _raw_columns(credential_id):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT api_key_sealed, api_secret_sealed FROM accounts_brokercredential WHERE id = %s",
            [credential_id],
        )
        return cursor.fetchone()


def test_the_row_holds_sealed_values_only():
    credential = BrokerCredentialFactory(api_key="KEY-1234567890", api_secret="SECRET-abcdef")
    raw_key, raw_secret = _raw_columns(credential.id)
    assert raw_key.startswith(f"sealed:v1:{crypto.current_key_id()}:")
    assert "KEY-1234567890" not in raw_key and "SECRET-abcdef" not in raw_secret
    assert BrokerCredential.objects.get(id=credential.id).api_key_last4 == "7890"


def test_without_the_private_key_nothing_opens():
    """The web process and the strategy workers: the public key only."""
    credential = BrokerCredentialFactory()
    assert settings.BROKER_PRIVATE_KEYS == [] and not crypto.can_unseal()
    with pytest.raises(crypto.NoPrivateKey) as raised:
        broker_credential_open(credential=BrokerCredential.objects.get(id=credential.id))
    assert credential.api_secret not in str(raised.value)


def test_the_orders_worker_opens_them(orders_worker_keys):
    credential = BrokerCredentialFactory(api_key="KEY-1234567890", api_secret="SECRET-abcdef")
    secrets = broker_credential_open(credential=BrokerCredential.objects.get(id=credential.id))
    assert (secrets.api_key, secrets.secret) == ("KEY-1234567890", "SECRET-abcdef")
    assert "SECRET" not in repr(secrets) and "KEY-" not in repr(secrets)


def test_a_sealed_value_does_not_open_in_another_row_or_field(orders_worker_keys):
    victim, thief = BrokerCredentialFactory(), BrokerCredentialFactory()
    stolen = BrokerCredential.objects.get(id=victim.id).api_secret_sealed
    BrokerCredential.objects.filter(id=thief.id).update(api_secret_sealed=stolen)
    with pytest.raises(crypto.SealedBoxError, match="does not open"):
        broker_credential_open(credential=BrokerCredential.objects.get(id=thief.id))
    BrokerCredential.objects.filter(id=victim.id).update(api_key_sealed=stolen)
    with pytest.raises(crypto.SealedBoxError, match="does not open"):
        broker_credential_open(credential=BrokerCredential.objects.get(id=victim.id))


def test_rotation_by_key_id(orders_worker_keys, settings):
    credential = BrokerCredentialFactory(api_secret="old-key-secret")
    old_id = crypto.current_key_id()
    new_private, new_public = crypto.keypair_generate()
    settings.BROKER_PUBLIC_KEY = new_public
    settings.BROKER_PRIVATE_KEYS = [new_private, *settings.BROKER_PRIVATE_KEYS]
    assert crypto.current_key_id() != old_id
    # Before the reseal the old private key still opens the old rows.
    stored = BrokerCredential.objects.get(id=credential.id)
    assert crypto.sealed_key_id(stored.api_secret_sealed) == old_id
    assert broker_credential_open(credential=stored).secret == "old-key-secret"
    call_command("reseal_credentials", stdout=io.StringIO())
    settings.BROKER_PRIVATE_KEYS = [new_private]  # the old key retired
    stored = BrokerCredential.objects.get(id=credential.id)
    assert crypto.sealed_key_id(stored.api_secret_sealed) == crypto.current_key_id()
    assert broker_credential_open(credential=stored).secret == "old-key-secret"


def test_broker_keygen_writes_the_private_key_and_prints_only_the_public(tmp_path):
    target = tmp_path / "broker.key"
    result = subprocess.run(
        [sys.executable, "manage.py", "broker_keygen", str(target)],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    private = target.read_text().strip()
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert private not in result.stdout + result.stderr
    public = result.stdout.split("BROKER_PUBLIC_KEY=")[1].split()[0]
    assert crypto.keypair_generate()[1] != public and len(crypto.public_raw(public)) == 32


def test_legacy_fernet_values_are_read_only_for_the_migration(settings):
    from cryptography.fernet import Fernet

    token = Fernet(settings.FIELD_ENCRYPTION_KEYS[0]).encrypt(b"legacy-secret").decode()
    assert crypto.legacy_fernet_decrypt(token) == "legacy-secret"
    settings.FIELD_ENCRYPTION_KEYS = []
    with pytest.raises(Exception, match="FIELD_ENCRYPTION_KEYS must be set"):
        crypto.legacy_fernet_decrypt(token)
