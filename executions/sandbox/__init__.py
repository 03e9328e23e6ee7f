"""Runs untrusted strategy code: ``generate_signal(candles, params)`` -> signal dict.

Public API: :func:`run_strategy`, :func:`run_strategy_series` (a whole history in one
execution, for backtests), :func:`series_limits`, :func:`selftest`, :class:`SandboxLimits`,
:class:`SandboxResult`, :class:`SeriesResult`, :class:`Targets`, :data:`BACKENDS`,
:func:`bwrap_unusable_reason`. This package does not import Django; the caller turns a
failed :class:`SandboxResult` into a FAILED execution.

One confinement, every backend
------------------------------
The strategy runs in a process forked by a sandbox server (``_runtime.py``) started from
this process's own interpreter (``sys.executable -I -S``: isolated, no site-packages, an
empty environment). Before a child ever sees its request it is confined by:

* namespaces: user (as root, everything runs as 65534:65534, without capabilities), mount
  (a root of its own holding only the standard library and this directory, read-only, and
  an 8 MB work tmpfs), network (no interface but a down loopback), IPC and UTS - made for
  its server, empty - and a pid namespace of its own (it is pid 1: nothing else exists);
* Landlock: read the standard library and this directory, write its own fresh work
  directory, connect or bind no TCP port, signal and reach abstract sockets of no process
  outside its domain;
* seccomp (x86_64 only; any other ABI is killed): no socket of any family, no
  ptrace/process_vm_*, no exec, no fork (threads only), no namespace or mount call, no
  bpf/perf/keys/userfaultfd/io_uring/memfd/SysV or POSIX IPC/kill, and more;
* rlimits: CPU seconds, address space, file size, open files, processes, no core dump;
  no_new_privs, not dumpable.

The server is confined the same way (it keeps only what making children takes: fork,
unshare/setns of pid namespaces) and never holds a tenant's data: it hands each child's
request, answer and diagnostics pipes to this process over a socket (SCM_RIGHTS) and
closes its copies. This side writes the request with a fresh id, reads the answer
(capped, within the wall clock, SIGKILL through a pidfd on overrun) and checks it: the id
must be this request's, the fields exactly the expected ones, the signal at most
:data:`MAX_SIGNAL_BYTES`. Any exception while waiting kills the server and all its
children; the next run starts a new one. If a layer cannot be applied, the execution
fails with "sandbox confinement failed: <layer>: <why>" - never a weaker sandbox.

Backends
--------
``warm`` (default)
    A long-lived confined server per worker process, one pre-confined child per run.
``process``
    A fresh server per execution: a new interpreter each time (bench/RESULTS.md).
``bwrap`` / ``warm-bwrap``
    The same inside bubblewrap, an extra layer (its own namespaces and a filesystem of
    the interpreter and system libraries only) - not the wall.
``unconfined``
    rlimits and seccomp only, no namespace, no Landlock, no id switch: a developer's own
    code on a machine that lacks a layer (settings: SANDBOX_ALLOW_UNCONFINED, DEBUG only).

Limits of all backends: the kernel is shared (a kernel exploit is out of scope); a
strategy sees the time and can burn its CPU budget; on another architecture than x86_64
there is no seccomp filter and every execution fails closed.
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
