import pytest
from django.contrib.auth.hashers import identify_hasher
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from accounts.tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

STRONG = "Tr4ding-Platform-2026!"


def test_register_answers_user_and_tokens(api_client):
    response = api_client.post(
        "/auth/register", {"email": "New@Example.com", "password": STRONG}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["email"] == "new@example.com"
    assert set(body) == {"user", "token", "refresh"}
    me = api_client.get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert me.status_code == 200
    assert me.json() == {"user": body["user"]}


def test_register_hashes_with_argon2(api_client, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    api_client.post("/auth/register", {"email": "a@example.com", "password": STRONG}, format="json")
    assert identify_hasher(User.objects.get(email="a@example.com").password).algorithm == "argon2"


def test_register_existing_user_answers_409(api_client, user):
    response = api_client.post(
        "/auth/register", {"email": user.email, "password": STRONG}, format="json"
    )
    assert response.status_code == 409
    assert response.json() == {"error": "User already exists"}


def test_register_weak_password_answers_400_with_details(api_client):
    response = api_client.post(
        "/auth/register", {"email": "weak@example.com", "password": "123"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "Password is too weak"
    assert body["details"]["password"]
    assert not User.objects.filter(email="weak@example.com").exists()


def test_register_invalid_email_names_the_field(api_client):
    response = api_client.post(
        "/auth/register", {"email": "not-an-email", "password": STRONG}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["details"]["email"]


def test_login_and_same_answer_for_unknown_email_and_wrong_password(api_client, user):
    ok = api_client.post("/auth/login", {"email": user.email, "password": TEST_PASSWORD})
    assert ok.status_code == 200
    assert ok.json()["user"] == {"id": str(user.id), "email": user.email}
    wrong = api_client.post("/auth/login", {"email": user.email, "password": "nope-nope"})
    unknown = api_client.post("/auth/login", {"email": "who@example.com", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"error": "Invalid credentials"}


def test_refresh_rotates_and_the_old_refresh_is_refused(api_client, user):
    refresh = str(RefreshToken.for_user(user))
    first = api_client.post("/auth/refresh", {"refresh": refresh}, format="json")
    assert first.status_code == 200
    assert set(first.json()) == {"token", "refresh"}
    again = api_client.post("/auth/refresh", {"refresh": refresh}, format="json")
    assert again.status_code == 401
    assert "error" in again.json()


def test_logout_blacklists_the_refresh_token(api_client, user):
    refresh = str(RefreshToken.for_user(user))
    response = api_client.post("/auth/logout", {"refresh": refresh}, format="json")
    assert response.status_code == 200
    assert response.json() == {"message": "Logged out"}
    after = api_client.post("/auth/refresh", {"refresh": refresh}, format="json")
    assert after.status_code == 401


def test_me_needs_a_token(api_client):
    response = api_client.get("/auth/me")
    assert response.status_code == 401
    assert response.json() == {"error": "Authentication required"}


def test_tampered_token_is_refused(api_client, user):
    token = str(RefreshToken.for_user(user).access_token)
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    response = api_client.get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {tampered}")
    assert response.status_code == 401
    assert response.json() == {"error": "Your session has expired, please sign in again"}


def test_trailing_slash_is_accepted(api_client, user):
    response = api_client.post("/auth/login/", {"email": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 200


def test_burst_of_wrong_passwords_is_throttled(api_client):
    # One email per attempt, so that the per-email lockout (test_lockout.py) stays out of
    # the way: what is measured here is the per-IP burst limit.
    statuses = [
        api_client.post(
            "/auth/login", {"email": f"sprayed{n}@example.com", "password": "wrong-pass"}
        ).status_code
        for n in range(12)
    ]
    assert statuses[:10] == [401] * 10
    assert statuses[-1] == 429
    victim = UserFactory()
    throttled = api_client.post("/auth/login", {"email": victim.email, "password": TEST_PASSWORD})
    assert throttled.status_code == 429
    assert throttled.json()["error"].startswith("Request was throttled")
    assert "Retry-After" in throttled.headers
