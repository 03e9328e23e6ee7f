"""Worker side of the sandbox: starting the confined server and talking to its children."""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Any

from . import _runtime
from ._types import SandboxLimits, SandboxResult, SeriesResult

RUNTIME_PATH = os.path.abspath(_runtime.__file__)
SANDBOX_DIR = _runtime.SANDBOX_DIR
# bwrap is looked up on a fixed system path, not the worker's PATH.
_SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
# How long a new server may take to confine itself and offer its first child.
SERVER_START_SECONDS = 10.0
# How long the server may take, after a child's pipes closed, to report how it ended.
EXIT_REPORT_SECONDS = 3.0
_READ_CHUNK = 65536


class ServerFailure(Exception):
    """The server is gone or broke the protocol; it is restarted on the next run."""


def interpreter_command(mode: str, control_fd: int, confinement: str, work_root: str) -> list[str]:
    """The real interpreter of this process, isolated mode (no PYTHON* variables, no user
    site, no script directory on sys.path) and without ``site`` (no site-packages) -
    never whatever ``python`` PATH finds."""
    command = [sys.executable, "-I", "-S", RUNTIME_PATH, mode, str(control_fd), confinement]
    return [*command, work_root] if work_root else command


# --------------------------------------------------------------------------- bubblewrap


def _bwrap_path() -> str | None:
    return shutil.which("bwrap", path=_SYSTEM_PATH)


def bwrap_command(command: list[str]) -> list[str]:
    """Wrap ``command`` in bubblewrap, an extra layer around the confinement every
    backend applies: new namespaces, only the interpreter, system libraries and this
    directory visible read-only, the sandbox dies with its parent. As root, bwrap keeps
    the capabilities the runtime needs to switch to an unprivileged id (it then drops
    them all) and makes no user namespace of its own (the runtime makes one, as nobody)."""
    bwrap = _bwrap_path()
    if bwrap is None:
        raise FileNotFoundError("bwrap is not installed")
    args = [bwrap, "--die-with-parent", "--new-session", "--clearenv"]
    if os.geteuid() == 0:
        args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
        args += ["--unshare-cgroup-try"]
    else:
        args += ["--unshare-all", "--cap-drop", "ALL"]
    # The runtime's staging mount point first: a checkout or interpreter under /tmp is
    # bound on top of it, not hidden by it.
    args += ["--tmpfs", _runtime.STAGING]
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
    args += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    args += ["--proc", "/proc", "--chdir", "/"]
    # bwrap's own root is a tmpfs: make it read-only too.
    args += ["--remount-ro", "/"]
    return [*args, "--", *command]


@functools.cache
def bwrap_unusable_reason() -> str | None:
    """None when bubblewrap can run the interpreter here, else why not (cached)."""
    if _bwrap_path() is None:
        return "bwrap is not installed (apt-get install bubblewrap)"
    command = bwrap_command([sys.executable, "-I", "-S", "-c", "pass"])
    try:
        probe = subprocess.run(command, capture_output=True, env={}, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        return "bwrap did not start the interpreter within 30 s"
    if probe.returncode != 0:
        message = probe.stderr.decode("utf-8", "replace").strip()
        return f"bwrap cannot create the sandbox here (exit {probe.returncode}): {message}"
    return None


# --------------------------------------------------------------------------- the server


class SandboxServer:
    """One confined sandbox server (``_runtime.py``) and the protocol with it.

    The server offers one confined child at a time: a ``ready`` message carrying the
    child's request pipe, answer pipe, diagnostics pipe and a pidfd (SCM_RIGHTS). This
    side writes the request (with a fresh id) straight to the child, reads its answer and
    diagnostics (capped, within the wall clock; on overrun it SIGKILLs the child through
    the pidfd), then waits for the server's ``exited`` report of that same child. Any
    exception while this goes on - ``SoftTimeLimitExceeded`` included - kills the child
    and the whole server: the next run starts a new server, so no later run can read an
    answer meant for an earlier one. One request at a time (the lock).

    ``once``: the ``process`` backend, a fresh server for one execution.
    ``confined`` False runs strategies with rlimits and seccomp only (a developer's own
    code, SANDBOX_ALLOW_UNCONFINED).
    """

    def __init__(self, *, bwrap: bool, once: bool = False, confined: bool = True) -> None:
        self._bwrap = bwrap
        self._once = once
        self._confined = confined
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._work_root: str | None = None
        self._offered: tuple[int, list[int]] | None = None  # the next child, on offer
        self._unreported: int | None = None  # a child that answered, its end not yet read

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def run(self, request: dict[str, Any], limits: SandboxLimits) -> dict[str, Any]:
        with self._lock:
            try:
                return self._run(request, limits)
            except BaseException:
                self.close()
                raise
            finally:
                if self._once:
                    self.close()

    def _run(self, request: dict[str, Any], limits: SandboxLimits) -> dict[str, Any]:
        try:
            number, fds = self._take_child()
        except ServerFailure as exc:
            self.close()
            return {"status": "crashed", "error": str(exc)}
        request_id = uuid.uuid4().hex
        payload = json.dumps({**request, "id": request_id}).encode()
        deadline = time.monotonic() + limits.wall_seconds
        pidfd = fds[3]
        try:
            outcome = supervise(payload, *fds, limits, deadline)
            outcome["request_id"] = request_id
            if outcome["status"] == "exited" and _answers(outcome["answer"], request_id):
                # Answered and hung up: how it ends no longer matters, and the report
                # (already on its way) is read before the next child is taken.
                self._unreported = number
                outcome.update(returncode=0, cpu_seconds=0.0)
                return outcome
            if outcome["status"] == "exited" and not _ends_by(pidfd, deadline):
                outcome["status"] = "timeout"  # it closed its pipes and carried on
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        finally:
            for fd in fds[1:]:  # supervise() closes the request pipe
                os.close(fd)
        try:
            outcome.update(self._receive_exited(number))
        except ServerFailure as exc:
            self.close()
            return {"status": "crashed", "error": str(exc)}
        return outcome

    def _ensure_server(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        self.close()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            work_root = ""
            if not self._confined:
                work_root = self._work_root = tempfile.mkdtemp(prefix="sandbox-unconfined-")
            mode = "run" if self._once else "serve"
            confinement = "full" if self._confined else "none"
            command = interpreter_command(mode, theirs.fileno(), confinement, work_root)
            if self._bwrap:
                command = bwrap_command(command)
            # stderr inherited: only the server's own crash report can appear there, the
            # children's fd 2 is their diagnostics pipe.
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env={},  # no secret of the worker reaches the sandbox
                cwd="/",
                pass_fds=(theirs.fileno(),),
                start_new_session=True,  # its own process group, killed as a whole
            )
        self._control = ours

    def _receive(self, timeout: float) -> tuple[dict[str, Any], list[int]]:
        assert self._control is not None
        self._control.settimeout(timeout)
        try:
            data, fds, _, _ = socket.recv_fds(self._control, _runtime.CONTROL_MESSAGE_BYTES, 4)
        except TimeoutError:
            raise ServerFailure("the sandbox server did not answer in time") from None
        except OSError as exc:
            raise ServerFailure(f"the sandbox server failed ({exc.strerror})") from None
        if not data:
            raise ServerFailure("the sandbox server stopped; it is restarted on the next run")
        try:
            message = json.loads(data)
        except ValueError:
            message = None
        if isinstance(message, dict) and isinstance(message.get("error"), str):
            raise ServerFailure(f"sandbox confinement failed: {message['error']}")
        if not isinstance(message, dict):
            for fd in fds:
                os.close(fd)
            raise ServerFailure("the sandbox server sent an invalid message")
        return message, fds

    def _take_child(self) -> tuple[int, list[int]]:
        """Take the child on offer (and tell the server, which then makes the next one).
        A server found dead here has received nothing yet: start a new one, once."""
        try:
            return self._receive_ready()
        except ServerFailure as exc:
            if str(exc).startswith("sandbox confinement failed"):
                raise
            self.close()
            return self._receive_ready()

    def _receive_ready(self) -> tuple[int, list[int]]:
        self._ensure_server()
        if self._unreported is not None:
            number, self._unreported = self._unreported, None
            self._receive_exited(number)
        if self._offered is None:
            self._offered = self._ready(*self._receive(SERVER_START_SECONDS))
        number, fds = self._offered
        self._offered = None
        if not self._once:
            assert self._control is not None
            try:
                self._control.send(json.dumps({"take": number}).encode())
            except OSError as exc:
                for fd in fds:
                    os.close(fd)
                raise ServerFailure(f"the sandbox server failed ({exc.strerror})") from None
        return number, fds

    def _ready(self, message: dict[str, Any], fds: list[int]) -> tuple[int, list[int]]:
        number = message.get("ready")
        if type(number) is not int or len(fds) != 4:
            for fd in fds:
                os.close(fd)
            raise ServerFailure("the sandbox server sent an invalid message")
        return number, fds

    def _receive_exited(self, number: int) -> dict[str, Any]:
        message, fds = self._receive(EXIT_REPORT_SECONDS)
        if "ready" in message and self._offered is None:  # the next child, made meanwhile
            self._offered = self._ready(message, fds)
            message, fds = self._receive(EXIT_REPORT_SECONDS)
        for fd in fds:
            os.close(fd)
        returncode, cpu = message.get("returncode"), message.get("cpu_seconds")
        if (
            message.get("exited") != number
            or type(returncode) is not int
            or not isinstance(cpu, (int, float))
        ):
            raise ServerFailure("the sandbox server reported another child")
        return {"returncode": returncode, "cpu_seconds": float(cpu)}

    def close(self) -> None:
        """Kill the server, its children and its process group; forget them."""
        if self._proc is not None:
            kill_group(self._proc.pid)
            self._proc.wait()
            self._proc = None
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._offered is not None:
            for fd in self._offered[1]:
                os.close(fd)
            self._offered = None
        self._unreported = None
        if self._work_root is not None:
            shutil.rmtree(self._work_root, ignore_errors=True)
            self._work_root = None


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def supervise(
    payload: bytes,
    request_fd: int,
    answer_fd: int,
    diag_fd: int,
    pidfd: int,
    limits: SandboxLimits,
    deadline: float,
) -> dict[str, Any]:
    """Write ``payload`` to a child (then close ``request_fd``: the child reads to EOF)
    and read its answer and diagnostics until both close, at most
    ``limits.max_output_bytes`` in total and for at most ``limits.wall_seconds``; on
    overrun SIGKILL the child (pid 1 of its namespace: nothing it made survives it).
    ``deadline`` is the end of the wall clock (time.monotonic()); the caller closes the
    other fds.

    Returns ``status`` ("exited" | "timeout" | "overflow"), ``answer`` and ``diag``.
    """
    chunks: dict[int, list[bytes]] = {answer_fd: [], diag_fd: []}
    total = 0
    status = "exited"
    pending = memoryview(payload)
    os.set_blocking(request_fd, False)
    try:
        with selectors.DefaultSelector() as selector:
            for fd in chunks:
                selector.register(fd, selectors.EVENT_READ)
            selector.register(request_fd, selectors.EVENT_WRITE)
            reading = len(chunks)
            while reading and status == "exited":
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    status = "timeout"
                    break
                for key, _ in selector.select(remaining):
                    if key.fd == request_fd:
                        try:
                            pending = pending[os.write(request_fd, pending) :]
                        except BrokenPipeError:
                            pending = pending[:0]  # it died before reading: its exit says why
                        if not pending:
                            selector.unregister(request_fd)
                            os.close(request_fd)
                            request_fd = -1
                        continue
                    data = os.read(key.fd, _READ_CHUNK)
                    if not data:
                        selector.unregister(key.fd)
                        reading -= 1
                        continue
                    total += len(data)
                    if total > limits.max_output_bytes:
                        status = "overflow"
                        break
                    chunks[key.fd].append(data)
    finally:
        if request_fd >= 0:
            os.close(request_fd)
        if status != "exited":
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    return {
        "status": status,
        "answer": b"".join(chunks[answer_fd]).decode("utf-8", "replace"),
        "diag": b"".join(chunks[diag_fd]).decode("utf-8", "replace"),
    }


def _answers(answer: str, request_id: str) -> bool:
    """Whether ``answer`` is a JSON object for this request (to_result checks the rest)."""
    try:
        message = json.loads(answer)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("id") == request_id


def _ends_by(pidfd: int, deadline: float) -> bool:
    """Wait until the process of ``pidfd`` ends; False if it still runs at ``deadline``."""
    with selectors.DefaultSelector() as selector:
        selector.register(pidfd, selectors.EVENT_READ)
        return bool(selector.select(max(0.0, deadline - time.monotonic())))


class _ServerRegistry:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.servers: dict[tuple[bool, bool], SandboxServer] = {}
        # Stop the servers at exit.
        atexit.register(self.close)

    def close(self) -> None:
        # A forked child inherits this handler: it must not kill its parent's servers.
        if self.pid == os.getpid():
            for server in self.servers.values():
                server.close()


_registry = _ServerRegistry()


def warm_server(*, bwrap: bool, confined: bool = True) -> SandboxServer:
    """The warm server of this OS process. After a fork (Celery's prefork pool) the
    inherited servers belong to the parent: leave those alone, start afresh."""
    global _registry
    if _registry.pid != os.getpid():
        _registry = _ServerRegistry()
    registry = _registry
    with registry.lock:
        server = registry.servers.get((bwrap, confined))
        if server is None:
            server = registry.servers[(bwrap, confined)] = SandboxServer(
                bwrap=bwrap, confined=confined
            )
        return server


# --------------------------------------------------------------------------- results

# What a child may say in an error, beyond which its answer is not believed.
MAX_ERROR_CHARS = 4096


def _truncate(text: str, keep: int) -> str:
    if len(text) <= keep:
        return text
    return text[:keep] + f"\n[output truncated: {len(text) - keep} more characters]"


def _exit_message(outcome: dict[str, Any], limits: SandboxLimits) -> str:
    returncode = outcome["returncode"]
    if returncode == -signal.SIGKILL and outcome["cpu_seconds"] >= limits.cpu_seconds:
        return f"CPU time limit exceeded ({limits.cpu_seconds} s)"
    if returncode == _runtime.CONFINEMENT_FAILED_EXIT:
        return outcome["diag"][:MAX_ERROR_CHARS] or "sandbox confinement failed"
    if returncode < 0:
        return f"strategy was killed by signal {signal.Signals(-returncode).name}"
    return f"strategy exited with code {returncode}"


def _signal_ok(value: Any, max_bytes: int) -> bool:
    return isinstance(value, dict) and len(json.dumps(value)) <= max_bytes


def _valid_answer(answer: dict[str, Any], max_signal_bytes: int) -> bool:
    """The answer is written by the process that ran the strategy: it is checked, never
    trusted. It may set its own signal, error and output, nothing else."""
    return (
        answer.keys() == {"id", "ok", "signal", "error", "output"}
        and isinstance(answer["ok"], bool)
        and isinstance(answer["error"], str)
        and (answer["ok"] != bool(answer["error"]))
        and (
            _signal_ok(answer["signal"], max_signal_bytes)
            if answer["ok"]
            else answer["signal"] is None
        )
    )


def _valid_series_answer(answer: dict[str, Any], max_signal_bytes: int) -> bool:
    if not (
        answer.keys() == {"id", "ok", "signals", "errors", "error", "output"}
        and isinstance(answer["ok"], bool)
        and isinstance(answer["error"], str)
        and isinstance(answer["signals"], list)
        and isinstance(answer["errors"], list)
        and len(answer["signals"]) == len(answer["errors"])
    ):
        return False
    return all(
        isinstance(error, str)
        and len(error) <= MAX_ERROR_CHARS
        and (signal is None if error else _signal_ok(signal, max_signal_bytes))
        for signal, error in zip(answer["signals"], answer["errors"], strict=True)
    )


def _answer_and_output(
    outcome: dict[str, Any], limits: SandboxLimits, valid_answer, max_signal_bytes: int
) -> tuple[Any, str]:
    """The child's answer when it is valid and answers this very request (else None), and
    the output to keep."""
    answer: Any = None
    if outcome["status"] == "exited" and outcome["returncode"] == 0 and outcome["answer"]:
        try:
            answer = json.loads(outcome["answer"])
        except ValueError:
            answer = None
    if not (
        isinstance(answer, dict)
        and answer.get("id") == outcome["request_id"]
        and isinstance(answer.get("output"), str)
        and len(answer.get("error", "")) <= MAX_ERROR_CHARS
        and valid_answer(answer, max_signal_bytes)
    ):
        answer = None
    printed = _truncate(answer["output"], limits.output_keep_bytes) if answer else ""
    diag = (
        outcome.get("diag", "")
        if outcome.get("returncode") != _runtime.CONFINEMENT_FAILED_EXIT
        else ""
    )
    output = "\n".join(part for part in (printed, diag) if part)
    return answer, _truncate(output, limits.output_keep_bytes)


def to_result(
    outcome: dict[str, Any], limits: SandboxLimits, started: float, max_signal_bytes: int
) -> SandboxResult:
    duration_ms = int((time.monotonic() - started) * 1000)
    answer, output = _answer_and_output(outcome, limits, _valid_answer, max_signal_bytes)
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
    outcome: dict[str, Any], limits: SandboxLimits, started: float, max_signal_bytes: int
) -> SeriesResult:
    duration_ms = int((time.monotonic() - started) * 1000)
    answer, output = _answer_and_output(outcome, limits, _valid_series_answer, max_signal_bytes)
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
        error = _exit_message(outcome, limits)
    return error
