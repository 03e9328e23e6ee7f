"""The crash test (bench/crash_test.py), short: real Celery workers, duplicate and late
deliveries, adjacent and out-of-order closes, SIGKILLs and a frozen worker; every
invariant must be 0. The README gives the figures of a long run."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
INVARIANTS = (
    "duplicate executions",
    "duplicate trades",
    "hedged opens",
    "opens beyond maxPositions",
    "trades closed before they opened",
    "closes applied out of order",
    "counter mismatches",
    "expected closes without a final row",
    "unfinished rows",
)


@pytest.mark.slow
@pytest.mark.worker
def test_a_short_crash_run_keeps_every_invariant():
    redis_db = urlsplit(settings.REDIS_URL).path.strip("/") or "0"
    # Its own database (created and dropped by the script) and this test run's Redis db.
    env = {**os.environ, "BENCH_REDIS_DB": redis_db}
    arguments = "--closes 100 --strategies 4 --subscriptions 5 --workers 2 --kills 6"
    arguments += " --freeze 8 --interval 0.25 --deadline 8 --seed 12"
    # Its own process group: on a timeout the script and every worker it started go, so
    # none is left consuming this test run's Redis queues.
    script = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "crash_test.py"), *arguments.split()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        stdout, stderr = script.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(script.pid, signal.SIGKILL)
        stdout, stderr = script.communicate()
        pytest.fail(f"the crash test did not finish in 240 s:\n{stdout}{stderr}")
    result = subprocess.CompletedProcess(script.args, script.returncode, stdout, stderr)
    report = dict(re.findall(r"^([^:\n]+): (.*)$", result.stdout, re.MULTILINE))
    assert result.returncode == 0, result.stdout + result.stderr
    for name in INVARIANTS:
        assert report[name] == "0", (name, result.stdout)
    assert int(report["expected closes"]) == 400
    assert int(report["trades"]) > 0
    assert report["kills"].startswith("6 ")
    assert report["freezes"] == "1"
