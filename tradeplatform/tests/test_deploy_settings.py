"""Production settings: `check --deploy` is clean, missing secrets stop the start, CORS is
closed to every origin but the configured ones."""

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from tradeplatform.tests.helpers import production_env

BASE_DIR = Path(settings.BASE_DIR)


def _manage(*args, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _settings_values(env: dict, *names: str) -> dict:
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}))"
    )
    result = _manage("shell", "--no-imports", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_check_deploy_is_clean_under_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    # axes.W006 alone is silenced, with its reason, in settings.py.
    assert "System check identified no issues (1 silenced)." in result.stdout
    assert "WARNING" not in result.stderr


@pytest.mark.slow
def test_production_settings_harden_cookies_and_headers():
    values = _settings_values(
        production_env(),
        "DEBUG",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "X_FRAME_OPTIONS",
        "SECURE_CONTENT_TYPE_NOSNIFF",
        "CORS_ALLOWED_ORIGINS",
    )
    assert values == {
        "DEBUG": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "X_FRAME_OPTIONS": "DENY",
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "CORS_ALLOWED_ORIGINS": ["https://app.example.com"],
    }


@pytest.mark.slow
@pytest.mark.parametrize("missing", ["SECRET_KEY", "BROKER_PUBLIC_KEY", "JWT_SIGNING_KEY"])
def test_production_refuses_to_start_without_a_secret(missing):
    result = _manage("check", env=production_env(**{missing: None}))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{missing} must be set when DEBUG is off" in result.stderr


@pytest.mark.slow
def test_production_refuses_the_development_broker_keys():
    public = production_env(BROKER_PUBLIC_KEY=settings.DEV_BROKER_PUBLIC_KEY)
    result = _manage("check", env=public)
    assert "BROKER_PUBLIC_KEY is the development key" in result.stderr
    private = settings.DEV_BROKER_PRIVATE_KEY_FILE.read_text().strip()
    result = _manage("check", env=production_env(BROKER_PRIVATE_KEYS=private))
    assert "BROKER_PRIVATE_KEYS holds the development key" in result.stderr


@pytest.mark.slow
def test_check_deploy_refuses_a_short_jwt_signing_key():
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING", env=production_env(JWT_SIGNING_KEY="short")
    )
    assert result.returncode != 0
    assert "accounts.W001" in result.stderr
    assert "JWT_SIGNING_KEY is shorter than 50 characters" in result.stderr


@pytest.mark.slow
def test_secret_may_come_from_a_file(tmp_path):
    secret_file = tmp_path / "secret_key"
    secret_file.write_text(secrets.token_urlsafe(50) + "\n")
    env = production_env(SECRET_KEY=None, SECRET_KEY_FILE=str(secret_file))
    assert _manage("check", "--deploy", "--fail-level", "WARNING", env=env).returncode == 0


def test_development_secrets_never_reach_production():
    # The running test settings are DEBUG ones; production keys come only from the
    # environment (the subprocess tests above), never from these defaults.
    assert "dev-only" not in production_env()["SECRET_KEY"]


def _preflight(client, origin: str):
    return client.options(
        "/auth/login", HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )


@override_settings(CORS_ALLOWED_ORIGINS=["https://app.example.com"])
@pytest.mark.django_db
def test_cors_allows_only_the_configured_origin(api_client):
    allowed = _preflight(api_client, "https://app.example.com")
    assert allowed.headers.get("Access-Control-Allow-Origin") == "https://app.example.com"
    refused = _preflight(api_client, "https://evil.example.net")
    assert "Access-Control-Allow-Origin" not in refused.headers
    simple = api_client.post(
        "/auth/login",
        {"email": "x@example.com", "password": "nope-nope"},
        HTTP_ORIGIN="https://evil.example.net",
    )
    assert "Access-Control-Allow-Origin" not in simple.headers


@pytest.mark.django_db
def test_cors_is_closed_by_default(api_client):
    response = _preflight(api_client, "https://app.example.com")
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.django_db
def test_responses_forbid_framing_and_sniffing(api_client):
    response = api_client.get("/auth/me")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
