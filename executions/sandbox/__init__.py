"""Runs untrusted strategy code: ``generate_signal(candles, params)`` -> signal dict.

Public API: :func:`run_strategy`, :func:`run_strategy_series` (a whole history in one
execution, for backtests), :func:`series_limits`, :func:`selftest`, :class:`SandboxLimits`,
:class:`SandboxResult`, :class:`SeriesResult`, :data:`BACKENDS`,
:func:`bwrap_unusable_reason`. This package does not import Django; the caller turns a
failed :class:`SandboxResult` into a FAILED execution.

What every backend does
-----------------------
The strategy runs in another process started from this process's own interpreter
(``sys.executable -I``: isolated mode, never ``python`` from PATH) with an **empty
environment** (no secret of the worker is visible), a **fresh temporary work directory**,
the request on stdin (not on the command line), in **its own process group**. Before the
author's code runs, that process confines itself:

* rlimits: CPU seconds (SIGXCPU, then SIGKILL), address space (``MemoryError`` is
  reported as "memory limit exceeded"), file size, open files, RLIMIT_NPROC, no core dumps;
* a seccomp filter that makes fork/vfork/clone-a-process fail with EPERM: fork bombs are
  stopped even when the worker runs as root, where RLIMIT_NPROC is not enforced;
* its prints go to a capped in-memory buffer, so they cannot corrupt the JSON answer;
  fd 1 and 2 are a separate diagnostics pipe.

The supervising side enforces the **wall clock** and reads at most ``max_output_bytes``;
on timeout or overflow it SIGKILLs the whole process group; it always kills the group at
the end, so nothing the strategy started outlives it.

Backends and what each protects against
---------------------------------------
``process`` (default)
    All of the above. Does NOT block the network (the strategy can connect to any host or
    local service the worker can reach, e.g. PostgreSQL on 127.0.0.1:5432 - it has no
    credentials, but can probe) and does NOT hide the filesystem: it can read and write
    whatever the worker's uid can (limited only by RLIMIT_FSIZE). It does NOT hide other
    processes either: a strategy running under the worker's uid can read
    ``/proc/<worker pid>/environ`` - the worker's secrets - unless the worker is not root
    and has made itself non-dumpable (``prctl(PR_SET_DUMPABLE, 0)``, e.g. in Celery's
    ``worker_process_init``). A process that escapes its group would need fork, which
    seccomp denies. For development, or where bwrap is not available.
``bwrap`` (production)
    ``process`` inside bubblewrap: new user/pid/net/ipc/uts namespaces (no network besides
    a private loopback, no other process visible), all capabilities dropped, only the
    interpreter, system libraries and this directory visible, read-only; the work directory
    is the only writable place; the sandbox dies with its parent. Does NOT protect against
    kernel exploits (a shared kernel), nor against CPU contention with other processes.
``warm`` / ``warm-bwrap``
    A long-lived sandbox server per worker process (started exactly like ``process`` /
    ``bwrap``) that has already imported everything and forks a child per execution; the
    child joins a new process group, applies the same rlimits and seccomp filter and dies
    with the server (PDEATHSIG). Same guarantees as its base backend, with two caveats:
    executions of one worker share the server's work directory one after the other (it is
    wiped after each execution), and a child starts from a copy of the server's memory
    (which holds nothing but the standard library, the indicators and the request).

Limits of all backends: RLIMIT_NPROC counts every process of the worker's uid; a
strategy sees the time and can burn its CPU budget; ``--die-with-parent`` follows the
thread that started bwrap, so start executions from a thread that outlives them.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
import uuid
from typing import Any

from ._backends import (
    SandboxServer,
    bwrap_unusable_reason,
    to_result,
    to_series_result,
    warm_server,
)
from ._selftest import PROBE_SOURCE, PROMISES, Targets, judge
from ._types import SandboxLimits, SandboxResult, SeriesResult

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "SandboxLimits",
    "SandboxResult",
    "SeriesResult",
    "Targets",
    "bwrap_unusable_reason",
    "run_strategy",
    "run_strategy_series",
    "selftest",
    "series_limits",
]

BACKENDS = ("process", "bwrap", "warm", "warm-bwrap", "unconfined")
DEFAULT_BACKEND = "warm"
# The largest signal a strategy may return, as JSON (a real one is ~60 bytes).
MAX_SIGNAL_BYTES = 4096


def run_strategy(
    source: str,
    candles: dict[str, list[Any]],
    params: dict[str, Any],
    *,
    limits: SandboxLimits | None = None,
    backend: str | None = None,
) -> SandboxResult:
    """Run ``generate_signal(candles, params)`` from ``source`` in the sandbox.

    ``candles`` is ``{"time": [iso...], "open": [...], "high", "low", "close", "volume"}``,
    oldest first; the strategy sees an object with those attributes and ``len()``.
    ``params`` must be JSON data. Never raises for anything the strategy does: a failure is
    a result with ``ok=False`` and an ``error`` written for the strategy's author.
    """
    limits = limits or SandboxLimits()
    started = time.monotonic()
    request = {"source": source, "candles": candles, "params": params}
    outcome = _dispatch(request, limits, backend)
    if outcome is None:
        return SandboxResult(False, None, _unavailable(), "", 0)
    return to_result(outcome, limits, started, MAX_SIGNAL_BYTES)


# Whole-history mode: per-candle budgets added to the base limits, for all steps together.
SERIES_STEP_WALL_SECONDS = 0.05
SERIES_STEP_CPU_SECONDS = 0.05


def series_limits(base: SandboxLimits, steps: int) -> SandboxLimits:
    """The limits of a series of ``steps`` calls: the wall clock and CPU budgets of one
    call plus 50 ms per step (10,000 one-minute candles: 505 s), and room in the answer
    pipe for ``steps`` signals of at most ``MAX_SIGNAL_BYTES``. They are budgets
    for the whole series, not per step: one slow candle may use what others left. What
    the strategy may print stays capped at ``base.max_output_bytes`` for the whole series.
    Memory is the same as one call's: the history is a few MB per 10,000 candles."""
    steps = max(0, int(steps))
    return dataclasses.replace(
        base,
        wall_seconds=base.wall_seconds + steps * SERIES_STEP_WALL_SECONDS,
        cpu_seconds=base.cpu_seconds + math.ceil(steps * SERIES_STEP_CPU_SECONDS),
        max_output_bytes=base.max_output_bytes + steps * (MAX_SIGNAL_BYTES + 64),
    )


def run_strategy_series(
    source: str,
    candles: dict[str, list[Any]],
    params: dict[str, Any],
    *,
    lookback: int,
    first_index: int | None = None,
    limits: SandboxLimits | None = None,
    backend: str | None = None,
) -> SeriesResult:
    """Call ``generate_signal`` once per candle index ``i`` in ``first_index`` (by default
    ``lookback - 1``, the first index with a full lookback) .. ``len - 1``, in ONE sandbox
    execution, each time with exactly the candles ``max(0, i - lookback + 1) .. i`` — the
    lookback it would have had live at that close, never a later candle.

    Each window is a new Candles object of fresh list copies: nothing reachable from what
    the strategy receives holds a later candle, and the module is re-run in a fresh
    namespace with a fresh copy of ``params`` at every step, so no state carries from one
    candle to the next (live, every call is a new process). The history does live in the
    same confined process, so code that deliberately digs through the interpreter (``gc``,
    stack frames) could find it: this mode protects against look-ahead by accident, not
    against an author set on faking a backtest (who could as well hard-code the past).

    ``limits`` are one call's (default ``SandboxLimits()``); ``series_limits`` scales them
    for the number of steps. Same backends and confinement as :func:`run_strategy`.
    """
    if lookback < 1:
        raise ValueError("lookback must be at least 1")
    first_index = lookback - 1 if first_index is None else max(0, int(first_index))
    base = limits or SandboxLimits()
    total = len(candles.get("close", ()))
    limits = series_limits(base, total - first_index)
    started = time.monotonic()
    request = {
        "source": source,
        "candles": candles,
        "params": params,
        "series": {
            "lookback": int(lookback),
            "first_index": first_index,
            "max_print_bytes": base.max_output_bytes,
        },
    }
    outcome = _dispatch(request, limits, backend)
    if outcome is None:
        return SeriesResult(False, [], [], _unavailable(), "", 0)
    return to_series_result(outcome, limits, started, MAX_SIGNAL_BYTES)


def _dispatch(
    request: dict[str, Any], limits: SandboxLimits, backend: str | None
) -> dict[str, Any] | None:
    """Run one request on the chosen backend; None when bwrap is wanted but unusable."""
    name = backend or DEFAULT_BACKEND
    if name not in BACKENDS:
        raise ValueError(f"unknown sandbox backend {name!r}; choose one of {BACKENDS}")
    wants_bwrap = name.endswith("bwrap")
    if wants_bwrap and bwrap_unusable_reason():
        # Never fall back silently to a weaker sandbox than the one configured.
        return None
    request["limits"] = dataclasses.asdict(limits)
    request["max_signal_bytes"] = MAX_SIGNAL_BYTES
    if name == "unconfined":
        return warm_server(bwrap=False, confined=False).run(request, limits)
    if name.startswith("warm"):
        return warm_server(bwrap=wants_bwrap).run(request, limits)
    return SandboxServer(bwrap=wants_bwrap, once=True).run(request, limits)


def _unavailable() -> str:
    return f"sandbox unavailable: {bwrap_unusable_reason()}"


def selftest(backend: str | None = None, *, targets: Targets | None = None) -> list[str]:
    """Probe the sandbox from inside, for real; return the failures of what ``backend``
    promises (``_selftest.PROMISES``), an empty list when confinement holds.

    Two executions of the probe strategy: each tries to read the environment, exceed its
    rlimits, act as root, fork and exec, make the system calls a computation never needs,
    create sockets, connect to ``targets`` (TCP and unix sockets), read the project tree
    and the interpreter's files, write in /tmp, /dev/shm, site-packages and the project,
    see, signal, trace and read the memory of the worker; the second also looks for the
    file the first planted in its work directory. A failure to run the probe at all (a
    layer that cannot be applied here) is a failure too: the worker refuses strategies.
    """
    name = backend or DEFAULT_BACKEND
    if name.endswith("bwrap") and (reason := bwrap_unusable_reason()):
        return [f"bwrap is not usable in this environment: {reason}"]
    limits = SandboxLimits()
    token = uuid.uuid4().hex
    params = (targets or Targets()).params(token)
    failures: list[str] = []
    try:
        for _ in range(2):
            result = run_strategy(PROBE_SOURCE, {}, params, limits=limits, backend=name)
            if not result.ok or result.signal is None:
                return [f"the probe did not run: {result.error}"]
            found = result.signal["probe"]
            failures += judge(found, limits, PROMISES[name], worker_is_root=os.geteuid() == 0)
            params = {**params, "planted": [found["planted"]]}
    finally:
        for path in params["write"]:
            if os.path.exists(path):
                os.unlink(path)
    return list(dict.fromkeys(failures))
