"""accounts 0002: credentials stored under Fernet become sealed boxes while `migrate` runs
(the web service's `migrate`: it holds the public key only), and with no Fernet key or a
wrong one the migration stops and changes nothing.

The suite's database is built without migrations (`--no-migrations`), so these tests run
`manage.py migrate` for real on a scratch database of their own."""

import os
import subprocess
import sys
import uuid

import psycopg
import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.db import connection

from accounts import crypto
from accounts.models import sealed_context

pytestmark = pytest.mark.slow


@pytest.fixture
def scratch_url():
    """An empty PostgreSQL database on the suite's server, dropped afterwards."""
    params = connection.settings_dict
    server = f"postgres://{params['USER']}@{params['HOST']}:{params['PORT']}"
    name = f"tp_migration_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"{server}/{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _migrate(url: str, *target: str, fernet_keys: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": url,
        "FIELD_ENCRYPTION_KEYS": fernet_keys,
        "BROKER_PUBLIC_KEY": settings.BROKER_PUBLIC_KEY,
    }
    env.pop("BROKER_PRIVATE_KEYS", None)  # as the web service: the public key only
    env.pop("BROKER_PRIVATE_KEYS_FILE", None)
    return subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", *target],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _legacy_credential(url: str, *, fernet_key: str) -> str:
    """A user and a credential as the Fernet version stored them."""
    fernet = Fernet(fernet_key)
    user_id, credential_id = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(url) as db:
        db.execute(
            "INSERT INTO accounts_user (id, email, password, is_superuser, first_name, "
            "last_name, is_staff, is_active, date_joined) "
            "VALUES (%s, 'legacy@example.com', '!', false, '', '', false, true, now())",
            [user_id],
        )
        db.execute(
            "INSERT INTO accounts_brokercredential (id, user_id, broker_name, api_key, "
            "api_secret, api_key_last4, is_active, created_at) "
            "VALUES (%s, %s, 'binanceusdm', %s, %s, '9876', true, now())",
            [
                credential_id,
                user_id,
                fernet.encrypt(b"LEGACY-KEY-9876").decode(),
                fernet.encrypt(b"LEGACY-SECRET-xyz").decode(),
            ],
        )
    return str(credential_id)


def _row(url: str, credential_id: str) -> dict:
    with psycopg.connect(url) as db:
        cursor = db.execute(
            "SELECT * FROM accounts_brokercredential WHERE id = %s", [credential_id]
        )
        names = [column.name for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


def _applied(url: str) -> set:
    with psycopg.connect(url) as db:
        rows = db.execute("SELECT name FROM django_migrations WHERE app = 'accounts'").fetchall()
    return {name for (name,) in rows}


def test_fernet_rows_are_sealed_for_the_orders_worker_alone(scratch_url, orders_worker_keys):
    old, current = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    assert _migrate(scratch_url, "accounts", "0001", fernet_keys=old).returncode == 0
    credential_id = _legacy_credential(scratch_url, fernet_key=old)

    migrated = _migrate(scratch_url, fernet_keys=f"{current},{old}")  # rotated: old last

    assert migrated.returncode == 0, migrated.stderr
    row = _row(scratch_url, credential_id)
    assert "api_key" not in row and "api_secret" not in row  # the Fernet columns are gone
    prefix = f"sealed:v1:{crypto.current_key_id()}:"
    assert row["api_key_sealed"].startswith(prefix)
    assert row["api_secret_sealed"].startswith(prefix)
    assert "LEGACY" not in row["api_key_sealed"] + row["api_secret_sealed"] + migrated.stdout
    opened = [
        crypto.unseal(row[f"{field}_sealed"], context=sealed_context(credential_id, field))
        for field in ("api_key", "api_secret")
    ]
    assert opened == ["LEGACY-KEY-9876", "LEGACY-SECRET-xyz"]
    assert row["api_key_last4"] == "9876" and row["is_active"]


@pytest.mark.parametrize(
    ("fernet_keys", "message"),
    [("", "FIELD_ENCRYPTION_KEYS must be set"), ("wrong", "does not decrypt")],
    ids=["no-fernet-key", "wrong-fernet-key"],
)
def test_without_the_fernet_key_nothing_changes(scratch_url, fernet_keys, message):
    stored = Fernet.generate_key().decode()
    assert _migrate(scratch_url, "accounts", "0001", fernet_keys=stored).returncode == 0
    credential_id = _legacy_credential(scratch_url, fernet_key=stored)
    before = _row(scratch_url, credential_id)
    if fernet_keys == "wrong":
        fernet_keys = Fernet.generate_key().decode()

    refused = _migrate(scratch_url, fernet_keys=fernet_keys)

    assert refused.returncode != 0 and message in refused.stderr
    assert "LEGACY" not in refused.stderr + refused.stdout
    assert _applied(scratch_url) == {"0001_initial"}
    assert _row(scratch_url, credential_id) == before  # the Fernet values, untouched
