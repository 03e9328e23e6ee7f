"""scripts/devstack.py: the embedded PostgreSQL and Redis, and the services.env that lets
`manage.py` commands find a running stack without any variable set by hand."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.conf import settings

from tradeplatform.tests.helpers import database_url

BASE_DIR = Path(settings.BASE_DIR)
WITHOUT_SERVICES = ("DATABASE_URL", "REDIS_URL", "DEBUG", "SERVICES_ENV_FILE")

# What a manage.py process sees: its settings, and whether both services answer.
PROBE = """
import json
from django.conf import settings

from tradeplatform.tests.helpers import database_url
from django.db import connection
from django_redis import get_redis_connection
with connection.cursor() as cursor:
    cursor.execute("SELECT current_database(), version()")
    database, version = cursor.fetchone()
print(json.dumps({
    "debug": settings.DEBUG,
    "redis": settings.REDIS_URL,
    "database": database,
    "version": version,
    "ping": get_redis_connection("default").ping(),
}))
"""


def _environment(**extra) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in WITHOUT_SERVICES}
    return {**env, **extra}


def _probe(env: dict) -> dict:
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", PROBE],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def stack_dir():
    """A data directory outside pytest's own temporary root, which pytest keeps private
    (0700) and re-secures whenever a session starts: the embedded PostgreSQL runs as
    another user (as root) and must be able to reach its data."""
    path = Path(tempfile.mkdtemp(prefix="tradeplatform-devstack-"))
    yield path / "stack"
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
def test_embedded_services_start_are_found_by_manage_py_and_stop(stack_dir):
    """A command in another terminal (no variable set, not even DEBUG) reaches the running
    stack's PostgreSQL and Redis through services.env; at the end both are gone."""
    data = stack_dir
    # The command under the stack plays the other terminal: it drops the stack's
    # variables and is pointed at the stack's services.env only.
    other_terminal = (
        f"import json, os, subprocess, sys\n"
        f"env = {{k: v for k, v in os.environ.items() if k not in {WITHOUT_SERVICES!r}}}\n"
        f"env['SERVICES_ENV_FILE'] = {str(data / 'services.env')!r}\n"
        f"out = subprocess.run([sys.executable, 'manage.py', 'shell', '--no-imports', '-c',"
        f" {PROBE!r}], env=env, capture_output=True, text=True, check=True).stdout\n"
        f"print('PROBE', out.strip().splitlines()[-1])\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "scripts/devstack.py",
            "--data-dir",
            str(data),
            "--",
            sys.executable,
            "-c",
            other_terminal,
        ],
        cwd=BASE_DIR,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("PROBE "))
    seen = json.loads(line.removeprefix("PROBE "))
    assert seen["debug"] is True
    assert seen["database"] == "tradeplatform"
    assert seen["version"].startswith("PostgreSQL 18")
    assert seen["ping"] is True
    assert seen["redis"] != "redis://127.0.0.1:6379/0"  # the stack's own, not a guess
    assert not (data / "services.env").exists()
    leftovers = subprocess.run(
        ["pgrep", "-f", str(data)], capture_output=True, text=True, check=False
    ).stdout.split()
    assert leftovers == []


@pytest.mark.django_db
def test_services_env_fills_only_what_the_environment_leaves_unset(tmp_path):
    services = tmp_path / "services.env"
    services.write_text(
        f"DATABASE_URL={database_url()}\nREDIS_URL=redis://127.0.0.1:1/5\nDEBUG=1\n"
    )
    env = _environment(SERVICES_ENV_FILE=str(services), REDIS_URL=settings.REDIS_URL)
    seen = _probe(env)
    assert seen["debug"] is True  # from the file
    assert seen["database"] == settings.DATABASES["default"]["NAME"]  # from the file
    assert seen["redis"] == settings.REDIS_URL  # the environment wins


def test_a_database_url_that_is_not_postgresql_is_refused(tmp_path):
    env = _environment(
        SERVICES_ENV_FILE=str(tmp_path / "none.env"),
        DEBUG="1",
        DATABASE_URL="sqlite:////tmp/db.sqlite3",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "DATABASE_URL must name a PostgreSQL database" in result.stderr
