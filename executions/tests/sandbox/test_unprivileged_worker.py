"""A worker that is not root (the Docker image runs as uid 1000) confines strategies the
same way: the runtime makes its user namespace first and builds the root inside it.

The worker here is root, and its interpreter lives in a home only root can read, so the
unprivileged worker is the system's own Python 3 run as nobody, importing this very
package (it needs nothing but the standard library). Where the system has no Python 3,
the test does not exist.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from .conftest import BACKENDS

SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin")
# Only where such a worker can be made (a root test process and a system Python 3):
# elsewhere the test is not defined rather than skipped.
CASES = BACKENDS if SYSTEM_PYTHON and os.geteuid() == 0 else []

CODE = """
import json, os, sys
from executions.sandbox import run_strategy, selftest
backend = sys.argv[1]
source = (
    "import os\\n"
    "def generate_signal(candles, params):\\n"
    "    return {'action': 'HOLD', 'uid': os.getuid(), 'pid': os.getpid()}\\n"
)
result = run_strategy(source, {}, {}, backend=backend)
print(json.dumps({"worker": os.getuid(), "signal": result.signal, "error": result.error,
                  "selftest": selftest(backend)}))
"""


def _check(backend: str) -> None:
    completed = subprocess.run(
        [SYSTEM_PYTHON, "-I", "-c", f"import sys; sys.path.insert(0, '.'); {CODE}", backend],
        cwd=Path(settings.BASE_DIR),
        user=65534,
        group=65534,
        extra_groups=[],
        env={},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(completed.stdout)
    assert report["worker"] == 65534
    assert report["error"] == ""
    assert report["signal"] == {"action": "HOLD", "uid": 65534, "pid": 1}
    assert report["selftest"] == []


if CASES:

    @pytest.mark.parametrize("backend", CASES)
    def test_an_unprivileged_worker_confines_strategies_too(backend):
        _check(backend)
