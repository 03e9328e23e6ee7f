"""Forged, expired and misused JWTs answer 401 with the error envelope."""

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

pytestmark = pytest.mark.django_db


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _payload(user) -> dict:
    return dict(AccessToken.for_user(user).payload)


def _signing_key() -> str:
    return settings.SIMPLE_JWT["SIGNING_KEY"]


def _assert_refused(api_client, token: str):
    response = api_client.get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    return body


def test_a_genuine_token_is_accepted(api_client, user):
    token = str(AccessToken.for_user(user))
    response = api_client.get("/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200


def test_payload_tampered_under_a_valid_signature(api_client, user, other_user):
    header, payload, signature = str(AccessToken.for_user(user)).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["user_id"] = str(other_user.id)
    forged = ".".join([header, _b64(json.dumps(claims).encode()), signature])
    _assert_refused(api_client, forged)


def test_expired_token(api_client, user):
    token = AccessToken.for_user(user)
    token.set_exp(from_time=timezone.now() - timedelta(hours=1), lifetime=timedelta(minutes=15))
    _assert_refused(api_client, str(token))


@pytest.mark.filterwarnings("ignore:The HMAC key")
def test_token_signed_with_hs512_and_the_same_key(api_client, user):
    forged = jwt.encode(_payload(user), _signing_key(), algorithm="HS512")
    _assert_refused(api_client, forged)


@pytest.mark.parametrize("signature", ["", "hmac"])
def test_alg_none_token(api_client, user, signature):
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = _b64(json.dumps(_payload(user), default=str).encode())
    signing_input = f"{header}.{body}".encode()
    sig = ""
    if signature == "hmac":
        sig = _b64(hmac.new(_signing_key().encode(), signing_input, hashlib.sha256).digest())
    _assert_refused(api_client, f"{header}.{body}.{sig}")


def test_token_signed_with_another_key(api_client, user):
    forged = jwt.encode(_payload(user), "not-the-platform-key-" + "x" * 40, algorithm="HS256")
    _assert_refused(api_client, forged)


def test_refresh_token_is_not_an_access_token(api_client, user):
    _assert_refused(api_client, str(RefreshToken.for_user(user)))


def test_access_token_is_not_a_refresh_token(api_client, user):
    response = api_client.post(
        "/auth/refresh", {"refresh": str(AccessToken.for_user(user))}, format="json"
    )
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid or expired refresh token"}


def test_token_of_a_deactivated_user(api_client, user):
    token = str(AccessToken.for_user(user))
    refresh = str(RefreshToken.for_user(user))
    user.is_active = False
    user.save()
    _assert_refused(api_client, token)
    response = api_client.post("/auth/refresh", {"refresh": refresh}, format="json")
    assert response.status_code == 401


def test_token_of_a_deleted_user(api_client, user):
    token = str(AccessToken.for_user(user))
    user.delete()
    _assert_refused(api_client, token)


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer a b", "Bearer not-a-jwt", "Bearer ....", "Bearer \u00e9t\u00e9"]
)
def test_malformed_authorization_header(api_client, header):
    response = api_client.get("/auth/me", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert set(response.json()) == {"error"}


def test_rotated_refresh_chain(api_client, user):
    first = str(RefreshToken.for_user(user))
    second = api_client.post("/auth/refresh", {"refresh": first}, format="json").json()["refresh"]
    # The old one is refused, the new one works once, and so on down the chain.
    assert api_client.post("/auth/refresh", {"refresh": first}, format="json").status_code == 401
    third = api_client.post("/auth/refresh", {"refresh": second}, format="json")
    assert third.status_code == 200
    assert api_client.post("/auth/refresh", {"refresh": second}, format="json").status_code == 401


def test_refresh_after_logout_is_refused_and_logout_twice_too(api_client, user):
    refresh = str(RefreshToken.for_user(user))
    assert api_client.post("/auth/logout", {"refresh": refresh}, format="json").status_code == 200
    after = api_client.post("/auth/refresh", {"refresh": refresh}, format="json")
    assert after.status_code == 401
    assert after.json() == {"error": "Invalid or expired refresh token"}
    again = api_client.post("/auth/logout", {"refresh": refresh}, format="json")
    assert again.status_code == 401


def test_tampered_refresh_token_is_refused(api_client, user):
    refresh = str(RefreshToken.for_user(user))
    forged = jwt.encode(
        jwt.decode(refresh, options={"verify_signature": False}), "wrong-key-" + "y" * 40
    )
    response = api_client.post("/auth/refresh", {"refresh": forged}, format="json")
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid or expired refresh token"}
