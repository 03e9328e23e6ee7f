import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from executions.engine import execution_run
from executions.models import StrategyExecution, Trade
from executions.tasks import run_strategy
from executions.tests.flow import BUY_WITH_STOPS, CLOSE, make_candles, make_strategy
from executions.worker_guard import confinement_check, confinement_failures, confinement_reset
from subscriptions.tests.factories import SubscriptionFactory
from tradeplatform.celery import app as celery_app

Status = StrategyExecution.Status
CELERY = str(Path(sys.executable).with_name("celery"))
BASE_DIR = Path(settings.BASE_DIR)


@pytest.fixture
def confinement():
    yield
    confinement_reset()


@pytest.mark.django_db
def test_the_configured_sandbox_passes_its_selftest(confinement):
    assert confinement_check("process") == []
    assert confinement_failures() == []


@pytest.mark.django_db
def test_a_worker_whose_sandbox_fails_its_selftest_refuses_strategies(confinement):
    make_candles()
    strategy = make_strategy(BUY_WITH_STOPS)
    SubscriptionFactory(strategy=strategy)
    failures = confinement_check("no-such-backend")
    assert failures and "selftest could not run" in failures[0]

    execution = execution_run(strategy_id=strategy.id, close_time=CLOSE)

    assert execution.status == Status.FAILED
    assert execution.error_message.startswith("sandbox confinement failed: ")
    assert not Trade.objects.exists()


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}"
    )


@pytest.fixture
def worker(tmp_path):
    """A real Celery worker process (solo pool) on this test's database and Redis db."""
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "DEBUG": "1",
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


@pytest.mark.worker
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the worker process needs a database it can share: PostgreSQL (SQLite's test "
    "database lives in this process's memory)",
)
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_execution(worker):
    process, log = worker
    make_candles()
    strategy = make_strategy(BUY_WITH_STOPS)
    SubscriptionFactory(strategy=strategy)

    celery_app.conf.task_always_eager = False
    try:
        run_strategy.apply_async((str(strategy.id), CLOSE.isoformat()))
    finally:
        celery_app.conf.task_always_eager = True

    deadline = time.monotonic() + 60
    execution = None
    while time.monotonic() < deadline and process.poll() is None:
        execution = StrategyExecution.objects.filter(strategy=strategy).first()
        if execution is not None and execution.status != Status.RUNNING:
            break
        time.sleep(0.2)
    output = log.read_text()
    assert execution is not None, f"the worker ran nothing; its log:\n{output}"
    assert execution.status == Status.COMPLETED, execution.error_message
    assert execution.trades_created == 1
    assert Trade.objects.filter(execution=execution).count() == 1
    assert f"sandbox confinement holds for backend {settings.SANDBOX_BACKEND!r}" in output


def test_worker_process_becomes_undumpable():
    """Run in a child so the test process itself stays debuggable."""
    code = (
        "import ctypes, ctypes.util\n"
        "from executions.worker_guard import make_process_undumpable\n"
        "assert make_process_undumpable()\n"
        "libc = ctypes.CDLL(ctypes.util.find_library('c'))\n"
        "print(libc.prctl(3, 0, 0, 0, 0))\n"  # PR_GET_DUMPABLE
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "0"
