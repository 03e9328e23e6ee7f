"""Parent side of the sandbox: starting, wrapping and talking to the sandboxed interpreter."""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from . import _runtime
from ._types import SandboxLimits, SandboxResult, SeriesResult

RUNTIME_PATH = os.path.abspath(_runtime.__file__)
SANDBOX_DIR = os.path.dirname(RUNTIME_PATH)
# bwrap is looked up on a fixed system path, not the worker's PATH.
_SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
# How long the warm client waits beyond the wall limit before it declares the server hung.
WARM_SERVER_GRACE_SECONDS = 3.0


def interpreter_command(mode: str) -> list[str]:
    """The real interpreter of this process, isolated mode (no PYTHON* variables, no user
    site, no script directory on sys.path) - never whatever ``python`` PATH finds."""
    return [sys.executable, "-I", RUNTIME_PATH, mode]


def _spawn(command: list[str], workdir: str, stderr: int | None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env={},  # no secret of the worker reaches the strategy
        cwd=workdir,
        close_fds=True,
        start_new_session=True,  # its own process group, killed as a whole
    )


# --------------------------------------------------------------------------- bubblewrap


def _bwrap_path() -> str | None:
    return shutil.which("bwrap", path=_SYSTEM_PATH)


def bwrap_command(command: list[str], workdir: str) -> list[str]:
    """Wrap ``command`` in bubblewrap: new namespaces (no network but a private loopback,
    own pids), no capabilities, only the interpreter, system libraries and this directory
    visible read-only, ``workdir`` the one writable place."""
    bwrap = _bwrap_path()
    if bwrap is None:
        raise FileNotFoundError("bwrap is not installed")
    args = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
    args += ["--cap-drop", "ALL"]
    # Merged-/usr systems have /lib, /bin... as symlinks into /usr: recreate them as links.
    for path in ("/bin", "/lib", "/lib32", "/lib64", "/sbin"):
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    interpreter_dir = os.path.dirname(os.path.realpath(sys.executable))
    read_only = ["/usr", sys.base_prefix, sys.prefix, interpreter_dir, SANDBOX_DIR]
    for path in dict.fromkeys(read_only):  # ordered, without duplicates
        args += ["--ro-bind", path, path]
    for path in ("/etc/ld.so.cache", "/etc/localtime"):
        args += ["--ro-bind-try", path, path]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--bind", workdir, workdir, "--chdir", workdir]
    # bwrap's own root is a tmpfs: make it read-only too, so workdir stays the only
    # writable place.
    args += ["--remount-ro", "/"]
    return [*args, "--", *command]


@functools.cache
def bwrap_unusable_reason() -> str | None:
    """None when bubblewrap can run the interpreter here, else why not (cached)."""
    if _bwrap_path() is None:
        return "bwrap is not installed (apt-get install bubblewrap)"
    with tempfile.TemporaryDirectory(prefix="sandbox-probe-") as workdir:
        command = bwrap_command([sys.executable, "-I", "-c", "pass"], workdir)
        try:
            probe = subprocess.run(
                command,
                capture_output=True,
                env={},
                cwd=workdir,
                timeout=30,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return "bwrap did not start the interpreter within 30 s"
    if probe.returncode != 0:
        message = probe.stderr.decode("utf-8", "replace").strip()
        return f"bwrap cannot create the sandbox here (exit {probe.returncode}): {message}"
    return None


# --------------------------------------------------------------------------- process


def run_process(request: dict[str, Any], limits: SandboxLimits, *, bwrap: bool) -> dict[str, Any]:
    """One fresh interpreter per execution (optionally inside bubblewrap)."""
    with tempfile.TemporaryDirectory(prefix="sandbox-") as workdir:
        command = interpreter_command("run")
        if bwrap:
            command = bwrap_command(command, workdir)
        with _spawn(command, workdir, stderr=subprocess.PIPE) as proc:
            assert proc.stdin and proc.stdout and proc.stderr
            try:
                # The request goes on stdin, never on the command line (visible in ps).
                proc.stdin.write(json.dumps(request).encode())
                proc.stdin.close()
            except BrokenPipeError:
                pass  # it died before reading; supervise() reports how it ended
            outcome = _runtime.supervise(
                proc.pid,
                proc.stdout.fileno(),
                proc.stderr.fileno(),
                limits.wall_seconds,
                limits.max_output_bytes,
                proc.wait,
            )
    if bwrap and outcome["returncode"] > 128:
        # bwrap reports a child killed by signal N as exit status 128 + N.
        outcome["returncode"] = 128 - outcome["returncode"]
    return outcome


# --------------------------------------------------------------------------- warm server


class WarmClient:
    """Talks to one warm server: a long-lived sandboxed interpreter that has already
    imported everything and forks a confined child per execution.

    The server enforces the wall clock and the output cap on its children itself; this
    client only guards against the server itself hanging or dying, and restarts it on the
    next call when it has. One request at a time (the lock).
    """

    def __init__(self, *, bwrap: bool) -> None:
        self._bwrap = bwrap
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: str | None = None

    def run(self, request: dict[str, Any], limits: SandboxLimits) -> dict[str, Any]:
        with self._lock:
            proc = self._ensure_server()
            assert proc.stdin and proc.stdout
            deadline = time.monotonic() + limits.wall_seconds + WARM_SERVER_GRACE_SECONDS
            # Answer and diagnostics are capped by the server; the frame adds JSON escaping.
            max_frame = 4 * limits.max_output_bytes + 65536
            try:
                _runtime.write_frame(proc.stdin.fileno(), request)
                return _runtime.read_frame(proc.stdout.fileno(), max_frame, deadline)
            except TimeoutError:
                self.close()
                return {"status": "timeout", "returncode": 0, "answer": "", "diag": ""}
            except (OSError, EOFError, ValueError) as exc:
                self.close()
                return {
                    "status": "crashed",
                    "error": f"the sandbox server failed ({type(exc).__name__}); "
                    "it is restarted on the next execution",
                }

    def _ensure_server(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self.close()
        self._workdir = tempfile.mkdtemp(prefix="sandbox-warm-")
        command = interpreter_command("serve")
        if self._bwrap:
            command = bwrap_command(command, self._workdir)
        # stderr inherited: only the server's own crash report can appear there, the
        # children's fd 2 goes to their diagnostics pipe.
        self._proc = _spawn(command, self._workdir, stderr=None)
        return self._proc

    def close(self) -> None:
        """Stop the server (if any) and remove its work directory."""
        if self._proc is not None:
            _runtime.kill_group(self._proc.pid)  # its children die with it (PDEATHSIG)
            self._proc.wait()
            for pipe in (self._proc.stdin, self._proc.stdout):
                if pipe is not None:
                    pipe.close()
            self._proc = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None


class _WarmRegistry:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.clients: dict[bool, WarmClient] = {}
        # Stop the servers at exit so their work directories go too.
        atexit.register(self.close)

    def close(self) -> None:
        # A forked child inherits this handler: it must not kill its parent's servers.
        if self.pid == os.getpid():
            for client in self.clients.values():
                client.close()


_registry = _WarmRegistry()


def warm_client(*, bwrap: bool) -> WarmClient:
    """The warm client of this OS process. After a fork (Celery's prefork pool) the
    inherited clients talk to the parent's servers: leave those alone, start afresh."""
    global _registry
    if _registry.pid != os.getpid():
        _registry = _WarmRegistry()
    registry = _registry
    with registry.lock:
        client = registry.clients.get(bwrap)
        if client is None:
            client = registry.clients[bwrap] = WarmClient(bwrap=bwrap)
        return client


# --------------------------------------------------------------------------- results


def _truncate(text: str, keep: int) -> str:
    if len(text) <= keep:
        return text
    return text[:keep] + f"\n[output truncated: {len(text) - keep} more characters]"


def _exit_message(returncode: int, limits: SandboxLimits) -> str:
    if returncode == -signal.SIGXCPU:
        return f"CPU time limit exceeded ({limits.cpu_seconds} s)"
    if returncode < 0:
        return f"strategy was killed by signal {signal.Signals(-returncode).name}"
    return f"strategy exited with code {returncode}"


def _valid_answer(answer: Any) -> bool:
    """The answer channel is reachable by the strategy (it runs in the same process), so
    the parent checks the shape instead of trusting it."""
    return (
        isinstance(answer, dict)
        and isinstance(answer.get("ok"), bool)
        and isinstance(answer.get("error"), str)
        and isinstance(answer.get("output"), str)
        and (isinstance(answer.get("signal"), dict) if answer["ok"] else True)
    )


def _valid_series_answer(answer: Any) -> bool:
    if not (
        isinstance(answer, dict)
        and isinstance(answer.get("ok"), bool)
        and isinstance(answer.get("error"), str)
        and isinstance(answer.get("output"), str)
        and isinstance(answer.get("signals"), list)
        and isinstance(answer.get("errors"), list)
        and len(answer["signals"]) == len(answer["errors"])
    ):
        return False
    return all(
        isinstance(error, str) and (signal is None if error else isinstance(signal, dict))
        for signal, error in zip(answer["signals"], answer["errors"], strict=True)
    )


def _answer_and_output(
    outcome: dict[str, Any], limits: SandboxLimits, valid_answer
) -> tuple[Any, str]:
    """The child's answer when it is valid (else None) and the output to keep."""
    answer: Any = None
    if outcome["status"] == "exited" and outcome["answer"]:
        try:
            answer = json.loads(outcome["answer"])
        except ValueError:
            answer = None
    if not (outcome["status"] == "exited" and outcome["returncode"] == 0 and valid_answer(answer)):
        answer = None
    output = "\n".join(
        part for part in (answer["output"] if answer else "", outcome.get("diag", "")) if part
    )
    return answer, _truncate(output, limits.output_keep_bytes)


def to_result(outcome: dict[str, Any], limits: SandboxLimits, started: float) -> SandboxResult:
    duration_ms = int((time.monotonic() - started) * 1000)
    answer, output = _answer_and_output(outcome, limits, _valid_answer)
    if answer is not None:
        return SandboxResult(
            ok=answer["ok"],
            signal=answer["signal"] if answer["ok"] else None,
            error=answer["error"],
            output=output,
            duration_ms=duration_ms,
        )
    error = _failure_message(outcome, limits)
    return SandboxResult(ok=False, signal=None, error=error, output=output, duration_ms=duration_ms)


def to_series_result(
    outcome: dict[str, Any], limits: SandboxLimits, started: float
) -> SeriesResult:
    duration_ms = int((time.monotonic() - started) * 1000)
    answer, output = _answer_and_output(outcome, limits, _valid_series_answer)
    if answer is not None and answer["ok"]:
        return SeriesResult(True, answer["signals"], answer["errors"], "", output, duration_ms)
    error = answer["error"] if answer is not None else _failure_message(outcome, limits)
    return SeriesResult(False, [], [], error, output, duration_ms)


def _failure_message(outcome: dict[str, Any], limits: SandboxLimits) -> str:
    """Why a child gave no valid answer."""
    status = outcome["status"]
    if status == "timeout":
        error = f"timed out after {limits.wall_seconds:.1f} s"
    elif status == "overflow":
        error = f"output limit exceeded ({limits.max_output_bytes} bytes)"
    elif status == "crashed":
        error = outcome["error"]
    elif outcome["returncode"] == 0:
        error = "strategy ended without a valid answer"
    else:
        error = _exit_message(outcome["returncode"], limits)
    return error
