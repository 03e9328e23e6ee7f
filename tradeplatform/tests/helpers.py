"""Helpers shared by the test suites of several apps."""

import os
import secrets
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection

from accounts.crypto import keypair_generate
from tradeplatform.api import ApplicationError


def database_url() -> str:
    """The test database as a URL, for a process started by a test."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}"
    )


THREADS = 6


def race(work) -> list:
    """Run `work()` in THREADS threads released together; each outcome is a value or an
    ApplicationError."""
    barrier = threading.Barrier(THREADS)
    outcomes: list = []
    lock = threading.Lock()

    def run():
        try:
            barrier.wait()
            outcome = work()
        except ApplicationError as exc:
            outcome = exc
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def production_env(**overrides) -> dict:
    """The environment of a production process (DEBUG off, real secrets), for settings
    checked in a fresh interpreter; `overrides` set or (None) remove variables."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "BROKER_PUBLIC_KEY": keypair_generate()[1],
        "JWT_SIGNING_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "api.example.com",
        "CORS_ALLOWED_ORIGINS": "https://app.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://app.example.com",
        "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/unused"),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    }
    env.update(overrides)
    return {key: value for key, value in env.items() if value is not None}


# Debian's chromium, driven by Playwright (never `playwright install`); without the
# background-networking flags it keeps trying hosts this machine cannot reach.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (apt-get install chromium)"
    ),
]


@contextmanager
def browser_page(*, viewport: dict | None = None, timeout_ms: int = 20_000):
    """A page of a fresh headless chromium, closed at the end. Make the rows a test needs
    before: under Playwright's event loop the ORM refuses to run."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=viewport) if viewport else browser.new_page()
            page.set_default_timeout(timeout_ms)
            yield page
        finally:
            browser.close()
