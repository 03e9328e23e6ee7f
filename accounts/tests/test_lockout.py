"""Lockout after repeated failed logins (django-axes), keyed on the email."""

import pytest
from axes.models import AccessAttempt

from accounts.tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed login attempts: this account is locked for 15 minutes"


def _login(client, email, password, **extra):
    return client.post("/auth/login", {"email": email, "password": password}, **extra)


def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(api_client):
    victim = UserFactory()
    statuses = [_login(api_client, victim.email, "wrong-pass").status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    right = _login(api_client, victim.email, TEST_PASSWORD)
    assert right.status_code == 429
    assert right.json() == {"error": LOCKED}
    assert "token" not in right.json()


def test_lockout_is_per_email_not_per_ip(api_client):
    victim, bystander = UserFactory(), UserFactory()
    for _ in range(5):
        _login(api_client, victim.email, "wrong-pass")
    # Same client, same IP: another account logs in normally.
    assert _login(api_client, bystander.email, TEST_PASSWORD).status_code == 200
    # Another IP does not unlock the victim.
    other_ip = _login(api_client, victim.email, TEST_PASSWORD, REMOTE_ADDR="10.9.8.7")
    assert other_ip.status_code == 429


def test_case_and_spaces_in_the_email_do_not_reset_the_count(api_client):
    victim = UserFactory()
    for variant in ["A", "B", "C", "D", "E"]:
        email = f" {victim.email.upper()} " if variant in "AC" else victim.email
        _login(api_client, email.strip() if variant == "E" else email, "wrong-pass")
    assert _login(api_client, victim.email, TEST_PASSWORD).status_code == 429


def test_unknown_email_is_locked_the_same_way(api_client):
    statuses = [
        _login(api_client, "nobody@example.com", "wrong-pass").status_code for _ in range(6)
    ]
    assert statuses == [401, 401, 401, 401, 429, 429]


def test_a_success_resets_the_count(api_client):
    victim = UserFactory()
    for _ in range(4):
        _login(api_client, victim.email, "wrong-pass")
    assert _login(api_client, victim.email, TEST_PASSWORD).status_code == 200
    assert not AccessAttempt.objects.filter(username=victim.email).exists()
    for _ in range(4):
        assert _login(api_client, victim.email, "wrong-pass").status_code == 401
    assert _login(api_client, victim.email, TEST_PASSWORD).status_code == 200


def test_successful_login_stamps_last_login(api_client):
    victim = UserFactory()
    assert victim.last_login is None
    _login(api_client, victim.email, TEST_PASSWORD)
    victim.refresh_from_db()
    assert victim.last_login is not None


def test_the_lock_ends_after_the_cool_off(api_client, settings):
    from datetime import timedelta

    from django.utils import timezone

    victim = UserFactory()
    for _ in range(5):
        _login(api_client, victim.email, "wrong-pass")
    AccessAttempt.objects.filter(username=victim.email).update(
        attempt_time=timezone.now() - timedelta(minutes=16)
    )
    assert _login(api_client, victim.email, TEST_PASSWORD).status_code == 200


def test_admin_login_is_locked_with_the_envelope(client):
    staff = UserFactory(is_staff=True)
    for _ in range(5):
        client.post("/admin/login/", {"username": staff.email, "password": "wrong-pass"})
    response = client.post("/admin/login/", {"username": staff.email, "password": TEST_PASSWORD})
    assert response.status_code == 429
    assert response.json() == {"error": LOCKED}


def test_failed_attempts_do_not_store_the_password(api_client):
    victim = UserFactory()
    _login(api_client, victim.email, "my-Wrong-Guess-123")
    attempt = AccessAttempt.objects.get(username=victim.email)
    assert "my-Wrong-Guess-123" not in attempt.post_data


def test_browsable_api_login_is_locked_too(client):
    victim = UserFactory()
    for _ in range(5):
        client.post("/api-auth/login/", {"username": victim.email, "password": "wrong-pass"})
    response = client.post(
        "/api-auth/login/", {"username": victim.email, "password": TEST_PASSWORD}
    )
    assert response.status_code == 429
    assert response.json() == {"error": LOCKED}
