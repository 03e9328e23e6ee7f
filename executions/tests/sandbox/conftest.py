"""Shared by the sandbox tests: the backends this machine supports and a run helper.

Every test that takes the ``backend`` fixture runs on each backend: ``process`` and
``warm`` always (they are fully confined on their own), ``bwrap`` and ``warm-bwrap``
where bubblewrap can run. ``.ci/run`` installs bubblewrap and sets
SANDBOX_REQUIRE_BWRAP=1: there, a machine without a usable bwrap fails the run instead
of quietly testing fewer backends.
"""

import os
import textwrap

import pytest

from executions.sandbox import SandboxLimits, bwrap_unusable_reason, run_strategy

BWRAP_REASON = bwrap_unusable_reason()
if os.environ.get("SANDBOX_REQUIRE_BWRAP") == "1" and BWRAP_REASON is not None:
    raise pytest.UsageError(f"SANDBOX_REQUIRE_BWRAP=1 but bwrap is unusable: {BWRAP_REASON}")
BACKENDS = ["process", "warm"] + ([] if BWRAP_REASON else ["bwrap", "warm-bwrap"])
WARM_BACKENDS = [name for name in BACKENDS if name.startswith("warm")]

# Short wall clock so the suite stays fast; CPU limit above it so timeouts are reported
# as timeouts, except in the tests that lower it.
LIMITS = SandboxLimits(wall_seconds=2.0, cpu_seconds=5, memory_mb=256)
CANDLES = {
    "time": [f"2024-01-01T00:0{i}:00Z" for i in range(5)],
    "open": [100.0, 101.0, 102.0, 101.0, 103.0],
    "high": [101.0, 102.5, 103.0, 102.0, 104.0],
    "low": [99.0, 100.5, 101.0, 100.0, 102.5],
    "close": [100.5, 102.0, 101.5, 101.8, 103.5],
    "volume": [10.0, 12.0, 9.0, 11.0, 15.0],
}
SIMPLE = """
def generate_signal(candles, params):
    return {"action": "BUY", "stopLoss": candles.close[-1] - 1}
"""


def run(source: str, backend: str, params=None, limits=LIMITS):
    return run_strategy(
        textwrap.dedent(source), CANDLES, params or {}, limits=limits, backend=backend
    )


@pytest.fixture(params=BACKENDS)
def backend(request):
    """A backend that must still run a normal strategy after whatever the test did."""
    name = request.param
    yield name
    result = run(SIMPLE, name)
    assert result.ok, f"{name} is poisoned after the test: {result.error}"
    assert result.signal == {"action": "BUY", "stopLoss": 102.5}
