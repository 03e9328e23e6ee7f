"""The self-test a worker runs at start: it holds on every backend here, it catches real
breaches, it fails closed (naming the layer) where a layer cannot be applied; and the one
way to run unconfined, refused without DEBUG and shown wherever an operator looks."""

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from django_redis import get_redis_connection
from kombu.exceptions import ContentDisallowed
from kombu.serialization import dumps, loads

from executions import sandbox
from executions.sandbox import _backends, _selftest, selftest
from executions.tests.helpers import BUY_WITH_STOPS, CLOSE, make_candles, make_strategy
from executions.worker_guard import confinement_check, confinement_reset, sandbox_targets
from strategies.settings_cache import strategy_settings_get
from tradeplatform.celery import app as celery_app
from tradeplatform.tests.helpers import production_env

from .conftest import BACKENDS, SIMPLE, run

BASE_DIR = Path(settings.BASE_DIR)


@pytest.fixture
def confinement():
    yield
    confinement_reset()


@pytest.mark.parametrize("name", BACKENDS)
def test_the_selftest_holds_against_this_workers_own_services(name):
    targets = sandbox_targets()
    assert len(targets.tcp) == 2  # PostgreSQL and Redis of DATABASE_URL and REDIS_URL
    assert selftest(name, targets=targets) == []


def test_the_selftest_catches_real_breaches(monkeypatch):
    # The unconfined backend lacks namespaces, Landlock and the id switch: judged by what
    # the confined backends promise, the very same probe must name each hole it found.
    monkeypatch.setitem(_selftest.PROMISES, "unconfined", _selftest.PROMISES["warm"])
    failures = selftest("unconfined")
    assert any(failure.startswith(_selftest.CHECKS["files"]) for failure in failures)
    assert any("wrote /tmp/sandbox-probe-" in failure for failure in failures)
    assert any(failure.startswith(_selftest.CHECKS["other_processes"]) for failure in failures)
    if os.geteuid() == 0:
        assert any(failure.startswith(_selftest.CHECKS["identity"]) for failure in failures)


def test_unconfined_keeps_seccomp_and_rlimits():
    # What it promises: an empty environment, the rlimits, no process, no socket, none
    # of the system calls a computation never needs.
    assert _selftest.PROMISES["unconfined"] == {
        "environment",
        "limits",
        "processes",
        "syscalls",
        "sockets",
    }
    assert selftest("unconfined") == []


# A launcher that takes a system call away before starting the sandbox runtime, as a
# machine without that layer would (seccomp survives the exec).
LAUNCHER = """
import importlib.util, os, sys
spec = importlib.util.spec_from_file_location("runtime", sys.argv[2])
runtime = importlib.util.module_from_spec(spec)
spec.loader.exec_module(runtime)
runtime.install_seccomp((sys.argv[1],), threads_only=False)
os.execv(sys.argv[3], sys.argv[3:])
"""


@pytest.fixture
def machine_without(monkeypatch):
    def take_away(syscall: str) -> None:
        original = _backends.interpreter_command

        def command(*args):
            inner = original(*args)
            return [sys.executable, "-I", "-S", "-c", LAUNCHER, syscall, inner[3], *inner]

        monkeypatch.setattr(_backends, "interpreter_command", command)
        for server in _backends._registry.servers.values():
            server.close()  # the next run starts a server through the launcher

    yield take_away
    for server in _backends._registry.servers.values():
        server.close()


@pytest.mark.parametrize(
    ("syscall", "layer"),
    [
        ("unshare", "namespaces and the private root: unshare: Operation not permitted"),
        ("landlock_create_ruleset", "Landlock: ABI 0 here, 6 needed"),
    ],
)
@pytest.mark.parametrize("name", ["process", "warm"])
def test_a_missing_layer_fails_closed_and_says_which(machine_without, name, syscall, layer):
    machine_without(syscall)
    result = run(SIMPLE, name)
    assert (result.ok, result.signal) == (False, None)
    assert result.error == f"sandbox confinement failed: {layer}"
    assert selftest(name) == [f"the probe did not run: sandbox confinement failed: {layer}"]


@pytest.mark.django_db
def test_a_worker_without_landlock_refuses_strategies(machine_without, confinement):
    from executions.engine import execution_run
    from executions.models import StrategyExecution, Trade
    from subscriptions.tests.factories import SubscriptionFactory

    machine_without("landlock_create_ruleset")
    make_candles()
    strategy = make_strategy(BUY_WITH_STOPS)
    SubscriptionFactory(strategy=strategy)
    assert confinement_check("warm") == [
        "the probe did not run: sandbox confinement failed: Landlock: ABI 0 here, 6 needed"
    ]
    execution = execution_run(strategy_id=strategy.id, candle_close=CLOSE)
    assert execution.status == StrategyExecution.Status.FAILED
    assert "Landlock: ABI 0 here, 6 needed" in execution.error_message
    assert not Trade.objects.exists()


# --------------------------------------------------------------------------- unconfined


def _settings_in_a_fresh_process(**environment) -> subprocess.CompletedProcess:
    env = production_env(**environment)
    code = "from django.conf import settings; print(settings.SANDBOX_BACKEND)"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "tradeplatform.settings"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_unconfined_is_refused_without_debug():
    refused = _settings_in_a_fresh_process(DEBUG="0", SANDBOX_ALLOW_UNCONFINED="1")
    assert refused.returncode != 0
    assert "SANDBOX_ALLOW_UNCONFINED is refused when DEBUG is off" in refused.stderr
    allowed = _settings_in_a_fresh_process(DEBUG="1", SANDBOX_ALLOW_UNCONFINED="1")
    assert allowed.stdout.strip() == "unconfined"
    by_name = _settings_in_a_fresh_process(DEBUG="1", SANDBOX_BACKEND="unconfined")
    assert "SANDBOX_BACKEND=unconfined needs SANDBOX_ALLOW_UNCONFINED=1" in by_name.stderr


@pytest.mark.django_db
@override_settings(SANDBOX_BACKEND="unconfined")
def test_unconfined_shows_on_health_and_in_the_admin(client, admin_client):
    assert client.get("/health").json()["sandbox"].startswith("UNCONFINED")
    page = admin_client.get("/admin/").content.decode()
    assert "The strategy sandbox is UNCONFINED" in page


@pytest.mark.django_db
def test_a_confined_sandbox_shows_no_warning(client, admin_client):
    assert client.get("/health").json()["sandbox"] == f"confined ({settings.SANDBOX_BACKEND})"
    assert "UNCONFINED" not in admin_client.get("/admin/").content.decode()


# --------------------------------------------------------------------------- no pickle


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.django_db
def test_a_pickle_written_into_the_cache_is_never_loaded(tmp_path):
    marker = tmp_path / "pwned"
    exploit = _Exploit(marker)
    strategy = make_strategy(BUY_WITH_STOPS)
    key = cache.make_key(f"strategy:{strategy.id}:settings")
    get_redis_connection("default").set(key, pickle.dumps(exploit))
    try:
        with pytest.raises(ValueError):  # not JSON: an error, never an unpickling
            strategy_settings_get(strategy_id=strategy.id)
    finally:
        get_redis_connection("default").delete(key)
    assert not marker.exists()
    # What the platform itself caches round-trips as JSON.
    assert strategy_settings_get(strategy_id=strategy.id)["id"] == str(strategy.id)
    assert strategy_settings_get(strategy_id=strategy.id)["code"] == strategy.code


def test_celery_accepts_json_only(tmp_path):
    assert celery_app.conf.accept_content == ["json"]
    assert celery_app.conf.task_serializer == "json"
    marker = tmp_path / "pwned"
    exploit = _Exploit(marker)
    content_type, encoding, body = dumps(exploit, serializer="pickle")
    with pytest.raises(ContentDisallowed):
        loads(body, content_type, encoding, accept=celery_app.conf.accept_content)
    assert not marker.exists()


def test_the_sandbox_default_is_a_confined_backend():
    assert sandbox.DEFAULT_BACKEND == "warm"
    assert _selftest.PROMISES[sandbox.DEFAULT_BACKEND] == _selftest.PROMISES["process"]
