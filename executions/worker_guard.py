"""The sandbox confinement check a worker runs once at start.

A Celery worker runs `selftest()` of the configured sandbox backend when it starts
(connected to `worker_init` in `ExecutionsConfig.ready`), aimed at its own services: the
hosts and ports of `DATABASE_URL` and `REDIS_URL`, the PostgreSQL unix socket, the
project tree and the database file. If confinement does not hold - an attempt got
through, or a layer (user namespaces, Landlock, seccomp) cannot be applied on this
machine - the worker keeps running but refuses strategies: every execution it picks up
ends FAILED with "sandbox confinement failed: …" naming what failed (visible in the
admin and the API), and the worker logs it at ERROR level. We chose that over exiting
the worker, which a supervisor would restart in a loop and which leaves no trace on the
executions.

The one way to run strategies without the confinement is `SANDBOX_ALLOW_UNCONFINED=1`
(refused unless `DEBUG`): a developer's own code on a machine that lacks a layer. It is
logged at WARNING level, shown on `/health` and on every admin page.

Processes that never ran the check (web, `manage.py run_candle`, tests) are not gated.
"""

import ctypes
import ctypes.util
import logging
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

logger = logging.getLogger(__name__)

_state: dict[str, list[str] | None] = {"failures": None}
POSTGRES_SOCKET_DIR = "/var/run/postgresql"


def sandbox_targets():
    """What the self-test attacks: this worker's own database, Redis and project files."""
    from executions.sandbox import Targets

    database = settings.DATABASES["default"]
    tcp: list[tuple[str, int]] = []
    unix = [f"{POSTGRES_SOCKET_DIR}/.s.PGSQL.5432"]
    read = [Path(settings.BASE_DIR) / "manage.py", Path(__file__).resolve()]
    host, port = database.get("HOST") or "", int(database.get("PORT") or 5432)
    if host.startswith("/"):
        unix.append(f"{host}/.s.PGSQL.{port}")
    else:
        tcp.append((host or "127.0.0.1", port))
    redis = urlsplit(settings.REDIS_URL)
    if redis.scheme == "unix":
        unix.append(redis.path)
    else:
        tcp.append((redis.hostname or "127.0.0.1", redis.port or 6379))
    return Targets(
        tcp=tuple(dict.fromkeys(tcp)),
        unix_sockets=tuple(dict.fromkeys(unix)),
        read=tuple(str(path) for path in read),
        write_dirs=(str(Path(settings.BASE_DIR) / "var"),),
    )


def confinement_check(backend: str | None = None) -> list[str]:
    """Run the sandbox selftest for `backend` (default: the configured one) and remember it."""
    from executions.sandbox import selftest

    backend = backend or settings.SANDBOX_BACKEND
    try:
        failures = list(selftest(backend, targets=sandbox_targets()))
    except Exception as exc:  # an unknown backend, a broken interpreter …
        failures = [f"selftest could not run: {type(exc).__name__}: {exc}"]
    _state["failures"] = failures
    if failures:
        logger.error(
            "sandbox confinement FAILED for backend %r; this worker will fail every "
            "execution until restarted with a working sandbox: %s",
            backend,
            "; ".join(failures),
        )
    elif backend == "unconfined":
        logger.warning(
            "sandbox UNCONFINED (SANDBOX_ALLOW_UNCONFINED): strategies run with rlimits "
            "and seccomp only, with this worker's files and processes in reach; never "
            "run anyone else's code on this worker"
        )
    else:
        logger.info("sandbox confinement holds for backend %r", backend)
    return failures


def sandbox_status() -> str:
    """How strategies run here, for /health and the admin."""
    if settings.SANDBOX_BACKEND == "unconfined":
        return "UNCONFINED (SANDBOX_ALLOW_UNCONFINED, a developer's own code only)"
    return f"confined ({settings.SANDBOX_BACKEND})"


def admin_context(request) -> dict:
    """Template context processor: the admin shows an unconfined sandbox on every page."""
    return {"sandbox_unconfined": settings.SANDBOX_BACKEND == "unconfined"}


PR_SET_DUMPABLE = 4


def make_process_undumpable() -> bool:
    """Hide this worker's memory and `/proc/<pid>/environ` (its secrets) from processes of
    the same uid. Strategies cannot see them in any case (pid namespace, Landlock, no
    /proc in their root); this protects against the rest of the machine."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        logger.warning("could not make the worker undumpable (errno %s)", ctypes.get_errno())
        return False
    return True


def confinement_failures() -> list[str]:
    """The failures found by this process's check; empty when it held or never ran."""
    return _state["failures"] or []


def confinement_reset() -> None:
    _state["failures"] = None
