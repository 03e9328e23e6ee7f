"""Per-execution cost of each sandbox backend, full confinement, for a trivial strategy.

Usage: .venv/bin/python bench/bench_sandbox.py [runs [backend ...]]    (``name: value`` lines;
with backends named, only those and a fresh ``sys.executable`` for the ratio)

Every backend applies the whole confinement (namespaces, private root, Landlock, seccomp,
rlimits, unprivileged id); the warm ones fork pre-confined children from a confined
server. Targets (issue 11): warm median <= 5 ms and <= 0.3x a fresh interpreter start.

Compared with a fresh interpreter per execution as the original design spawned it:
``subprocess.run(["python", "-c", code])`` through whatever ``python`` PATH finds, and,
for an apples-to-apples figure, the same through ``sys.executable``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from executions.sandbox import BACKENDS, bwrap_unusable_reason, run_strategy
from executions.sandbox._backends import warm_server

STRATEGY = """
def generate_signal(candles, params):
    return {"action": "BUY", "stopLoss": candles.close[-1] * 0.99}
"""
BARS = 200  # a typical lookbackPeriod
CANDLES = {
    "time": [f"2024-01-01T00:00:{i % 60:02d}Z" for i in range(BARS)],
    "open": [100.0 + i for i in range(BARS)],
    "high": [101.0 + i for i in range(BARS)],
    "low": [99.0 + i for i in range(BARS)],
    "close": [100.5 + i for i in range(BARS)],
    "volume": [10.0] * BARS,
}
FRESH_CODE = (
    "import json, sys\n"
    "payload = json.load(sys.stdin)\n"
    "def generate_signal(candles, params):\n"
    "    return {'action': 'BUY', 'stopLoss': candles['close'][-1] * 0.99}\n"
    "print(json.dumps(generate_signal(payload['candles'], payload['params'])))\n"
)


def measure(call: Callable[[], None], runs: int) -> tuple[float, float]:
    call()  # warm-up: starts the warm server, fills the page cache
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def sandbox_call(backend: str) -> Callable[[], None]:
    def call() -> None:
        result = run_strategy(STRATEGY, CANDLES, {}, backend=backend)
        if not result.ok:
            raise SystemExit(f"{backend} failed: {result.error}")

    return call


def fresh_call(interpreter: str) -> Callable[[], None]:
    payload = json.dumps({"candles": CANDLES, "params": {}}).encode()

    def call() -> None:
        subprocess.run(
            [interpreter, "-c", FRESH_CODE],
            input=payload,
            capture_output=True,
            check=True,
        )

    return call


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    chosen = sys.argv[2:] or [name for name in BACKENDS if name != "unconfined"]
    unusable = bwrap_unusable_reason()
    rows: list[tuple[str, Callable[[], None]]] = [
        ("fresh_sys_executable", fresh_call(sys.executable)),
    ]
    if not sys.argv[2:]:
        rows.insert(0, ("fresh_python_from_path", fresh_call("python")))
    for backend in chosen:
        if backend.endswith("bwrap") and unusable:
            continue
        rows.append((f"sandbox_{backend.replace('-', '_')}", sandbox_call(backend)))
    print(f"runs: {runs}")
    print(f"candles: {BARS}")
    print(f"bwrap: {'usable' if unusable is None else unusable}")
    medians: dict[str, float] = {}
    for label, call in rows:
        median, p99 = measure(call, runs)
        medians[label] = median
        print(f"{label}_median_ms: {median:.2f}")
        print(f"{label}_p99_ms: {p99:.2f}")
    fresh = medians["fresh_sys_executable"]
    for label in medians:
        if label.startswith("sandbox_warm"):
            print(f"{label}_vs_fresh_interpreter: {medians[label] / fresh:.2f}")
    # CPU time per execution, this process and the warm server's tree together: what
    # the machine pays whatever else runs on it (the wall-clock figures depend on that).
    for backend in ("warm", "warm-bwrap"):
        if backend not in chosen or (backend.endswith("bwrap") and unusable):
            continue
        print(
            f"sandbox_{backend.replace('-', '_')}_cpu_ms_per_run: {cpu_per_run(backend, runs):.2f}"
        )


def _tree_cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and its descendants, reaped ones included (/proc/<pid>/stat)."""
    total = 0.0
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    total += sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as handle:
            total += sum(_tree_cpu_seconds(int(child)) for child in handle.read().split())
    return total


def cpu_per_run(backend: str, runs: int) -> float:
    call = sandbox_call(backend)
    call()
    server = warm_server(bwrap=backend.endswith("bwrap")).pid
    assert server is not None
    before = _tree_cpu_seconds(server) + time.process_time()
    for _ in range(runs):
        call()
    after = _tree_cpu_seconds(server) + time.process_time()
    return (after - before) / runs * 1000


if __name__ == "__main__":
    main()
