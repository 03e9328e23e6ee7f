"""Fixtures shared by the test suites of several apps (registered by the root conftest):
real Celery worker processes on the test's own database and Redis db."""

import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings

from tradeplatform.tests.helpers import database_url

CELERY = str(Path(sys.executable).with_name("celery"))
BASE_DIR = Path(settings.BASE_DIR)


@pytest.fixture
def worker_env() -> dict:
    """Extra environment of the `worker` process; a test module may override it."""
    return {}


@pytest.fixture
def worker(tmp_path, worker_env):
    """A real Celery worker process (solo pool) on this test's database and Redis db."""
    with worker_process(tmp_path, extra_env=worker_env) as started:
        yield started


@pytest.fixture
def backtest_worker(tmp_path):
    """A real worker of the `backtests` queue only, as the Procfile starts it."""
    with worker_process(tmp_path, "-Q", "backtests") as started:
        yield started


@contextmanager
def worker_process(tmp_path, *arguments, extra_env: dict | None = None):
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "DEBUG": "1",
        **(extra_env or {}),
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                CELERY,
                "-A",
                "tradeplatform",
                "worker",
                "--pool",
                "solo",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                *arguments,
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process, log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
