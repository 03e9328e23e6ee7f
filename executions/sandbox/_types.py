"""Value types of the sandbox API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SandboxLimits:
    """Per-execution limits. The kernel enforces all but the wall clock, which the
    supervising process enforces by killing the execution's process group."""

    wall_seconds: float = 5.0
    cpu_seconds: int = 5
    memory_mb: int = 512  # RLIMIT_AS: address space, a little more than resident memory
    max_output_bytes: int = 1024 * 1024  # printed or piped; beyond it the execution fails
    output_keep_bytes: int = 64 * 1024  # how much of the printed output the result keeps
    file_size_mb: int = 1  # RLIMIT_FSIZE: largest file the strategy may write
    open_files: int = 64
    # RLIMIT_NPROC counts every process of the real uid (the worker's too) and is not
    # enforced for root; the seccomp filter is what really forbids fork.
    processes: int = 16


@dataclass(frozen=True)
class SandboxResult:
    ok: bool
    signal: dict[str, Any] | None  # the dict generate_signal returned, JSON round-tripped
    error: str  # for the strategy's author; empty when ok
    output: str  # what the strategy printed, truncated with a marker
    duration_ms: int


@dataclass(frozen=True)
class SeriesResult:
    """The outcome of :func:`run_strategy_series`: one entry per candle index from
    ``first_index`` on. ``signals[k]`` is None when that step failed, and ``errors[k]``
    says why (empty when it did not). ``ok`` is False when the series as a whole failed
    (time, memory, output, exit): then both lists are empty and ``error`` says why."""

    ok: bool
    signals: list[dict[str, Any] | None]
    errors: list[str]
    error: str
    output: str
    duration_ms: int
