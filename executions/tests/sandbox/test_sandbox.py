"""The sandbox's behaviour on every backend usable here: results, limits, author errors,
the warm server's life cycle; and the indicators. Attacks: test_hostile.py."""

import os
import signal
import time
from pathlib import Path

import pytest

from executions.sandbox import SandboxLimits, run_strategy, selftest
from executions.sandbox import indicators as ind
from executions.sandbox._backends import RUNTIME_PATH, warm_server

from .conftest import CANDLES, LIMITS, SIMPLE, WARM_BACKENDS, run


def _sandbox_processes() -> set[int]:
    """Pids of the processes this test process started that run the sandbox runtime
    (its warm servers and their children), found through /proc's children lists."""
    pids: set[int] = set()
    pending = [os.getpid()]
    while pending:
        pid = pending.pop()
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as handle:
                    pending += [int(child) for child in handle.read().split()]
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if RUNTIME_PATH.encode() in handle.read():
                    pids.add(pid)
        except OSError:
            continue  # it ended while we looked
    return pids


# --------------------------------------------------------------------------- happy paths


def test_trivial_strategy_buys(backend):
    result = run(SIMPLE, backend)
    assert result.ok
    assert result.signal == {"action": "BUY", "stopLoss": 102.5}
    assert result.error == ""
    assert result.duration_ms >= 0


def test_strategy_with_indicators_and_prints(backend):
    result = run(
        """
        import indicators
        from indicators import sma, crossover

        def generate_signal(candles, params):
            fast = sma(candles.close, params["fast"])
            print("bars", len(candles), "last", candles.time[-1])
            action = "BUY" if crossover(fast, indicators.sma(candles.close, 3)) else "HOLD"
            return {"action": action, "fast": fast[-1]}
        """,
        backend,
        params={"fast": 2},
    )
    assert result.ok, result.error
    assert result.signal == {"action": "BUY", "fast": 102.65}
    assert result.output == "bars 5 last 2024-01-01T00:04:00Z\n"


def test_selftest_holds(backend):
    assert selftest(backend) == []


# --------------------------------------------------------------------------- resources


def test_infinite_loop_times_out(backend):
    result = run("def generate_signal(c, p):\n    while True:\n        pass\n", backend)
    assert not result.ok
    assert result.error == "timed out after 2.0 s"
    assert result.signal is None


def test_cpu_limit(backend):
    limits = SandboxLimits(wall_seconds=5.0, cpu_seconds=1)
    result = run(
        "def generate_signal(c, p):\n    while True:\n        pass\n",
        backend,
        limits=limits,
    )
    assert not result.ok
    assert result.error == "CPU time limit exceeded (1 s)"


def test_memory_limit(backend):
    result = run("def generate_signal(c, p):\n    x = bytearray(2 * 1024**3)\n", backend)
    assert not result.ok
    assert result.error == "memory limit exceeded (256 MB)"


FORK_BOMB = """
import os

def generate_signal(candles, params):
    while True:
        try:
            os.fork()
        except OSError:
            pass
"""


def test_fork_bomb_fails_and_leaves_no_process(backend):
    run(SIMPLE, backend)  # start the warm server first: it is meant to stay
    before = len(_sandbox_processes())
    result = run(FORK_BOMB, backend)
    assert not result.ok
    assert result.error == "timed out after 2.0 s"
    # A killed bwrap takes its pid namespace down asynchronously: allow a moment.
    deadline = time.monotonic() + 2
    while len(_sandbox_processes()) > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_sandbox_processes()) <= before


def test_naive_fork_is_refused(backend):
    result = run(
        "import os\ndef generate_signal(c, p):\n    while True:\n        os.fork()\n",
        backend,
    )
    assert not result.ok
    assert result.error == (
        "generate_signal raised PermissionError: [Errno 1] Operation not permitted (line 4)"
    )


def test_threads_still_work(backend):
    result = run(
        """
        import threading
        def generate_signal(c, p):
            box = []
            worker = threading.Thread(target=lambda: box.append(1))
            worker.start()
            worker.join()
            return {"action": "HOLD", "box": box}
        """,
        backend,
    )
    assert result.ok, result.error
    assert result.signal == {"action": "HOLD", "box": [1]}


def test_printing_100_mb_hits_output_limit(backend):
    result = run(
        "def generate_signal(c, p):\n    for _ in range(100):\n        print('x' * 1024**2)\n",
        backend,
    )
    assert not result.ok
    assert result.error.startswith("output limit exceeded")
    assert len(result.output) < LIMITS.output_keep_bytes + 200
    assert "[output truncated" in result.output


def test_writing_100_mb_to_fd_1_hits_output_limit(backend):
    result = run(
        """
        import os
        def generate_signal(c, p):
            for _ in range(100):
                os.write(1, b"x" * 1024**2)
        """,
        backend,
    )
    assert not result.ok
    assert result.error == f"output limit exceeded ({LIMITS.max_output_bytes} bytes)"


# --------------------------------------------------------------------------- secrets


def test_environment_is_empty(backend, monkeypatch):
    monkeypatch.setenv("TRADEPLATFORM_TEST_SECRET", "hunter2")
    result = run(
        "import os\ndef generate_signal(c, p):\n    return {'action': 'HOLD', 'env': dict(os.environ)}\n",
        backend,
    )
    assert result.ok, result.error
    assert result.signal["env"] == {}


# --------------------------------------------------------------------------- author errors


@pytest.mark.parametrize(
    ("source", "error"),
    [
        (
            "import sys\ndef generate_signal(c, p):\n    sys.exit(3)\n",
            "strategy exited with code 3",
        ),
        (
            "import os\ndef generate_signal(c, p):\n    os._exit(3)\n",
            "strategy exited with code 3",
        ),
        (
            "def generate_signal(c, p):\n    x = 1\n    y = 0\n    return x / y\n",
            "generate_signal raised ZeroDivisionError: division by zero (line 4)",
        ),
        (
            "x = 1 / 0\n",
            "strategy code raised ZeroDivisionError: division by zero (line 1)",
        ),
        (
            "def generate_signal(c, p):\n    return [1]\n",
            "generate_signal must return a dict, got list",
        ),
        (
            "def generate_signal(c, p):\n    return {'action': object()}\n",
            (
                "generate_signal must return plain JSON data: "
                "Object of type object is not JSON serializable"
            ),
        ),
        (
            "def other(c, p):\n    pass\n",
            "the strategy does not define generate_signal(candles, params)",
        ),
        ("generate_signal = 3\n", "generate_signal must be a function"),
        (
            "def generate_signal(c, p)\n    pass\n",
            "syntax error at line 1: expected ':'",
        ),
        (
            "import ctypes\ndef generate_signal(c, p):\n    ctypes.string_at(0)\n",
            "strategy was killed by signal SIGSEGV",
        ),
        (
            "def generate_signal(c, p):\n    return {'action': 'HOLD', 'junk': 'x' * 5000}\n",
            "the signal is larger than 4096 bytes",
        ),
    ],
)
def test_author_errors(backend, source, error):
    result = run(source, backend)
    assert not result.ok
    assert result.error == error
    assert result.signal is None


def test_failed_result_keeps_the_prints(backend):
    result = run(
        "def generate_signal(c, p):\n    print('about to fail')\n    raise ValueError('no')\n",
        backend,
    )
    assert result.error == "generate_signal raised ValueError: no (line 3)"
    assert result.output == "about to fail\n"


# --------------------------------------------------------------------------- warm server


@pytest.mark.parametrize("name", WARM_BACKENDS)
def test_warm_server_restarts_after_it_is_killed(name):
    assert run(SIMPLE, name).ok
    server = warm_server(bwrap=name == "warm-bwrap")
    os.killpg(server.pid, signal.SIGKILL)
    cmdline = Path(f"/proc/{server.pid}/cmdline")
    while cmdline.exists() and cmdline.read_bytes():
        time.sleep(0.01)  # dead (a zombie has no command line) before the next run
    assert run(SIMPLE, name).ok


@pytest.mark.parametrize("name", WARM_BACKENDS)
def test_warm_server_serves_one_child_after_the_other(name):
    first = run("import os\ndef generate_signal(c, p):\n    return {'cwd': os.getcwd()}\n", name)
    second = run("import os\ndef generate_signal(c, p):\n    return {'cwd': os.getcwd()}\n", name)
    assert first.ok and second.ok, (first.error, second.error)
    # Each child has a work directory of its own, made for it by the server.
    assert first.signal["cwd"] != second.signal["cwd"]


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown sandbox backend"):
        run_strategy(SIMPLE, CANDLES, {}, backend="docker")


# --------------------------------------------------------------------------- indicators


def test_sma():
    assert ind.sma([1, 2, 3, 4, 5], 3) == [None, None, 2, 3, 4]


def test_ema_seeded_with_sma():
    # alpha = 2/3: seed (2+4)/2 = 3, then 2/3*6 + 1/3*3 = 5, 2/3*8 + 1/3*5 = 7, ...
    assert ind.ema([2, 4, 6, 8, 12], 2) == pytest.approx([None, 3, 5, 7, 31 / 3])


def test_rsi_wilder():
    # changes +1 +1 -1 +1 +1; first averages gain 1, loss 0 -> 100; then Wilder smoothing:
    # gain 0.5 loss 0.5 -> 50; gain 0.75 loss 0.25 -> 75; gain 0.875 loss 0.125 -> 87.5
    assert ind.rsi([1, 2, 3, 2, 3, 4], 2) == pytest.approx([None, None, 100, 50, 75, 87.5])
    assert ind.rsi([5, 5, 5], 2) == [None, None, 50.0]
    assert ind.rsi([1, 2], 14) == [None, None]


def test_atr_wilder():
    # true ranges: 2 (first bar: high-low), max(3, 3, 0) = 3, max(2, 0, 2) = 2
    # ATR: (2+3)/2 = 2.5, then (2.5*1 + 2)/2 = 2.25
    assert ind.atr([10, 12, 11], [8, 9, 9], [9, 11, 10], 2) == [None, 2.5, 2.25]
    # a gap: the previous close counts, 14.5 - 9 ... here |15 - 9.5| = 5.5
    assert ind.atr([10, 15], [9, 14], [9.5, 14.5], 1) == [1, 5.5]


def test_highest_lowest():
    assert ind.highest([3, 1, 4, 1, 5], 2) == [None, 3, 4, 4, 5]
    assert ind.lowest([3, 1, 4, 1, 5], 2) == [None, 1, 1, 1, 1]


def test_crossover_and_crossunder():
    assert ind.crossover([1, 3], [2, 2]) is True
    assert ind.crossover([2, 3], [2, 2]) is True  # touching then above counts
    assert ind.crossover([3, 3], [2, 2]) is False  # was already above
    assert ind.crossover([1, 3], 2) is True  # a fixed level
    assert ind.crossover([None, 3], [2, 2]) is False  # undefined: no signal
    assert ind.crossover([3], [2]) is False
    assert ind.crossunder([3, 1], 2) is True
    assert ind.crossunder([1, 1], 2) is False


def test_bad_period():
    with pytest.raises(ValueError, match="period must be a positive integer"):
        ind.sma([1, 2], 0)
