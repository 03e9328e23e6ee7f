"""Sign-up, sign-in, staying signed in and signing out as the SPA does them; the error
wording it shows people."""

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.tests.factories import TEST_PASSWORD, UserFactory
from accounts.tokens import SessionToken
from strategies.tests.factories import StrategyFactory

from .client import SpaClient, assert_shape, signed_in

pytestmark = pytest.mark.django_db

USER_SHAPE = {"id": str, "email": str, "name": (str, None), "role": str, "createdAt": str}
SESSION_EXPIRED = {"error": "Your session has expired, please sign in again"}


def test_register_then_sign_in_and_read_me():
    spa = SpaClient()
    body = {"name": "Ada Lovelace", "email": "ada@example.com", "password": "Tr4ding-Platform-26"}
    registered = spa.post("/api/user/register", body)
    assert registered.status_code == 201, registered.content
    assert_shape(registered.json()["user"], USER_SHAPE)
    assert registered.json()["user"]["name"] == "Ada Lovelace"
    assert registered.json()["user"]["role"] == "REGULAR"

    login = spa.post("/api/user/login", {"email": "ada@example.com", "password": body["password"]})
    assert login.status_code == 200
    assert set(login.json()) == {"user", "token"}
    me = SpaClient(login.json()["token"]).get("/api/user/me")
    assert me.status_code == 200
    assert me.json()["user"] == login.json()["user"]


def test_staff_sign_in_as_admin():
    staff = UserFactory(is_staff=True)
    assert signed_in(staff).get("/api/user/me").json()["user"]["role"] == "ADMIN"


def test_register_twice_is_a_conflict_and_a_weak_password_names_the_field():
    spa = SpaClient()
    first = spa.post("/api/user/register", {"email": "b@example.com", "password": "Tr4ding-26!x"})
    assert first.status_code == 201
    again = spa.post("/api/user/register", {"email": "b@example.com", "password": "Tr4ding-26!x"})
    assert again.status_code == 409
    assert again.json() == {"error": "User already exists"}
    missing = spa.post("/api/user/register", {"email": "c@example.com"})
    assert missing.status_code == 400
    assert missing.json() == {
        "error": "password is required",
        "details": {"password": ["This field is required."]},
    }


def test_wrong_password_is_invalid_credentials():
    user = UserFactory()
    response = SpaClient().post("/api/user/login", {"email": user.email, "password": "nope"})
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid credentials"}


def test_the_session_token_lasts_the_spa_session_not_fifteen_minutes(settings):
    spa = signed_in(UserFactory())
    token = SessionToken(spa.token)
    assert token["exp"] - token["iat"] == settings.SPA_SESSION_HOURS * 3600
    assert settings.SPA_SESSION_HOURS * 60 > 15


def test_sign_out_ends_the_session_at_once():
    spa = signed_in(UserFactory())
    # The SPA's logout sends only the Authorization header (its API route), or `{}`.
    assert spa.post("/api/user/logout").json() == {"message": "Logged out"}
    after = spa.get("/api/user/me")
    assert after.status_code == 401
    assert after.json() == SESSION_EXPIRED
    # Signing out again, or without any token, is still fine for the SPA.
    assert spa.post("/api/user/logout", {}).status_code == 200
    assert SpaClient().post("/api/user/logout").status_code == 200


def test_an_expired_session_says_so():
    user = UserFactory()
    token = SessionToken.for_user(user)
    token.set_exp(lifetime=-SessionToken.lifetime)
    response = SpaClient(str(token)).get("/api/user/me")
    assert response.status_code == 401
    assert response.json() == SESSION_EXPIRED


def test_our_own_access_tokens_work_on_the_spa_paths_and_session_tokens_on_ours():
    user = UserFactory()
    ours = str(RefreshToken.for_user(user).access_token)
    assert SpaClient(ours).get("/api/user/me").status_code == 200
    assert signed_in(user).get("/auth/me").status_code == 200


def test_no_token_is_authentication_required():
    response = SpaClient().get("/api/user/me")
    assert response.status_code == 401
    assert response.json() == {"error": "Authentication required"}


def test_a_forged_token_is_a_session_expired():
    response = SpaClient("not.a.token").get("/api/strategies/subscriptions")
    assert response.status_code == 401
    assert response.json() == SESSION_EXPIRED


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize(
    "path", ["/api/nothing-here", "/api/marketplace/x/y", "/auth/nothing", "/api", "/api/user"]
)
def test_every_unknown_path_answers_the_json_envelope(settings, debug, path):
    settings.DEBUG = debug
    response = SpaClient().get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"error": "Not found"}


def test_a_field_error_is_a_sentence_naming_the_field():
    user = UserFactory()
    strategy = StrategyFactory()
    spa = signed_in(user)
    response = spa.post(
        f"/api/strategies/{strategy.id}/subscribe",
        {"capital": 0, "leverage": 500, "brokerCredentialId": "not-a-uuid"},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "capital must be greater than 0"
    assert set(body["details"]) == {"capital", "leverage", "brokerCredentialId"}
    assert body["details"]["leverage"] == ["Leverage must be at most 125"]


def test_the_session_token_is_checked_against_the_blacklist_on_every_request(
    django_assert_num_queries,
):
    spa = signed_in(UserFactory())
    with django_assert_num_queries(2):  # the blacklist, the user
        assert spa.get("/api/user/me").status_code == 200


def test_nested_field_errors_keep_the_envelope_one_level_deep():
    spa = signed_in(UserFactory())
    response = spa.post(
        "/api/strategies/subscriptions/bulk-stats", {"subscriptionIds": ["nope", "also-nope"]}
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "subscriptionIds.0: Must be a valid UUID.",
        "details": {
            "subscriptionIds.0": ["Must be a valid UUID."],
            "subscriptionIds.1": ["Must be a valid UUID."],
        },
    }


def test_a_user_without_a_name_completes_the_profile():
    spa = signed_in(UserFactory())
    assert spa.get("/api/user/me").json()["user"]["name"] is None  # the SPA asks for one
    # profile/complete/page.tsx sends {name}; settings/profile also sends phoneNumber.
    response = spa.put("/api/user/profile", {"name": "Grace Hopper", "phoneNumber": None})
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert_shape(
        body["user"],
        {**USER_SHAPE, "phoneNumber": (str, None), "canChangePassword": bool},
    )
    assert body["user"]["name"] == "Grace Hopper"
    assert spa.get("/api/user/me").json()["user"]["name"] == "Grace Hopper"
    assert spa.get("/api/user/profile").json()["user"]["name"] == "Grace Hopper"
    short = spa.put("/api/user/profile", {"name": "G"})
    assert short.status_code == 400
    assert short.json()["error"] == "name must have at least 2 characters"


def test_the_profile_page_changes_the_password_and_ends_the_other_sessions():
    me = UserFactory()
    elsewhere = signed_in(me)  # another browser
    spa = signed_in(me)
    new = "An0ther-Passphrase-2026"
    # settings/profile/page.tsx: PUT {currentPassword, newPassword}
    wrong = spa.put("/api/user/change-password", {"currentPassword": "not-it", "newPassword": new})
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "Current password is incorrect"
    weak = spa.put(
        "/api/user/change-password", {"currentPassword": TEST_PASSWORD, "newPassword": "12345678"}
    )
    assert weak.status_code == 400
    assert weak.json()["error"] == "Password is too weak"
    assert weak.json()["details"]["newPassword"]
    changed = spa.put(
        "/api/user/change-password", {"currentPassword": TEST_PASSWORD, "newPassword": new}
    )
    assert changed.status_code == 200
    assert changed.json() == {"success": True, "message": "Password changed"}
    assert spa.get("/api/user/me").status_code == 200  # this session stays
    ended = elsewhere.get("/api/user/me")
    assert ended.status_code == 401
    assert ended.json() == {"error": "Your session has expired, please sign in again"}
    old = SpaClient().post("/api/user/login", {"email": me.email, "password": TEST_PASSWORD})
    assert old.status_code == 401
    fresh = SpaClient().post("/api/user/login", {"email": me.email, "password": new})
    assert fresh.status_code == 200


def test_guessing_the_current_password_counts_toward_the_sign_in_lockout():
    """A stolen session must not be a password oracle the lockout does not see: wrong
    current passwords count as failed sign-ins, and once locked, the right one is refused
    here as at sign-in."""
    me = UserFactory()
    spa = signed_in(me)
    new = "An0ther-Passphrase-2026"
    statuses = [
        spa.put(
            "/api/user/change-password", {"currentPassword": f"guess-{n}", "newPassword": new}
        ).status_code
        for n in range(5)
    ]
    assert statuses == [400, 400, 400, 400, 429]  # as sign-in answers (test_lockout)
    locked = spa.put(
        "/api/user/change-password", {"currentPassword": TEST_PASSWORD, "newPassword": new}
    )
    assert locked.status_code == 429
    assert locked.json()["error"].startswith("Too many failed login attempts")
    me.refresh_from_db()
    assert me.check_password(TEST_PASSWORD)
    sign_in = SpaClient().post("/api/user/login", {"email": me.email, "password": TEST_PASSWORD})
    assert sign_in.status_code == 429
