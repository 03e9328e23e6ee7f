"""The sandbox confinement check a worker runs once at start.

A Celery worker runs `selftest()` of the configured sandbox backend when it starts
(connected to `worker_init` in `ExecutionsConfig.ready`). If confinement does not hold,
the worker keeps running but refuses strategies: every execution it picks up ends FAILED
with "sandbox confinement failed: …" (visible in the admin and the API), and the worker
logs the failures at ERROR level at start. We chose that over exiting the worker, which
a supervisor would restart in a loop and which leaves no trace on the executions.

Processes that never ran the check (web, `manage.py run_candle`, tests) are not gated.
"""

import ctypes
import ctypes.util
import logging

from django.conf import settings

logger = logging.getLogger(__name__)

_state: dict[str, list[str] | None] = {"failures": None}


def confinement_check(backend: str | None = None) -> list[str]:
    """Run the sandbox selftest for `backend` (default: the configured one) and remember it."""
    from executions.sandbox import selftest

    backend = backend or settings.SANDBOX_BACKEND
    try:
        failures = list(selftest(backend))
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
    else:
        logger.info("sandbox confinement holds for backend %r", backend)
    return failures


PR_SET_DUMPABLE = 4


def make_process_undumpable() -> bool:
    """Hide this worker's memory and `/proc/<pid>/environ` (its secrets) from processes of
    the same uid, strategies run by the non-bwrap backends included. Root still sees
    them: run workers as an unprivileged user (the Dockerfile does) or use bwrap."""
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
