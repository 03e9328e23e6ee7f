"""Hostile strategies, on every backend this machine supports.

Each case is one attack of issue 11, tried for real by a strategy with one account: it
ends FAILED or harmless, and (the ``backend`` fixture) the next execution on the same
backend still runs a normal strategy and gets its own answer.
"""

import os
import signal
import site
import subprocess
import textwrap
import threading
import time
from pathlib import Path

import pytest
from billiard.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from executions.sandbox import SandboxLimits, _backends, run_strategy_series
from executions.sandbox._backends import warm_server
from executions.worker_guard import sandbox_targets

from .conftest import BACKENDS, CANDLES, LIMITS, SIMPLE, WARM_BACKENDS, run

BASE_DIR = Path(settings.BASE_DIR)
SITE_PACKAGES = Path(site.getsitepackages()[0])


def _server_pids(backend: str) -> list[int]:
    """The warm server's outer process and its children (the server, the child on
    offer): what an attacker would most like to reach."""
    if not backend.startswith("warm"):
        return []
    run(SIMPLE, backend)  # make sure it runs
    outer = warm_server(bwrap=backend == "warm-bwrap").pid
    pids = [outer]
    for pid in list(pids):
        children = Path(f"/proc/{pid}/task/{pid}/children")
        pids += [int(child) for child in children.read_text().split()]
    return pids


@pytest.fixture
def victim():
    """A process of the unprivileged id the sandbox runs as: the uid alone would let a
    strategy signal it, read its command line, trace it."""
    process = subprocess.Popen(
        ["sleep", "60"], user=65534, group=65534, extra_groups=[], stdin=subprocess.DEVNULL
    )
    yield process.pid
    process.kill()
    process.wait()


def _holds(result, key="got"):
    assert result.ok, result.error
    return result.signal[key]


# --------------------------------------------------------------------------- services


def test_tcp_to_postgresql_and_redis(backend):
    result = run(
        """
        import socket
        def generate_signal(candles, params):
            got = {}
            for host, port in params["tcp"]:
                try:
                    socket.create_connection((host, port), timeout=1).close()
                    got[f"{host}:{port}"] = "connected"
                except OSError as exc:
                    got[f"{host}:{port}"] = type(exc).__name__
            return {"action": "HOLD", "got": got}
        """,
        backend,
        params={"tcp": sandbox_targets().tcp},
    )
    got = _holds(result)
    assert len(got) == 2  # the database and Redis of this test run
    assert set(got.values()) == {"PermissionError"}  # no socket at all


def test_unix_sockets_of_postgresql_and_redis(backend):
    result = run(
        """
        import os, socket
        def generate_signal(candles, params):
            got = {}
            for path in params["paths"]:
                try:
                    with socket.socket(socket.AF_UNIX) as sock:
                        sock.connect(path)
                    got[path] = "connected"
                except OSError as exc:
                    got[path] = type(exc).__name__
                got[path + " exists"] = os.path.exists(path)
            return {"action": "HOLD", "got": got}
        """,
        backend,
        params={"paths": ["/var/run/postgresql/.s.PGSQL.5432", "/var/run/redis/redis.sock"]},
    )
    got = _holds(result)
    assert Path("/var/run/postgresql/.s.PGSQL.5432").exists()  # it is there, outside
    assert got == {
        "/var/run/postgresql/.s.PGSQL.5432": "PermissionError",
        "/var/run/postgresql/.s.PGSQL.5432 exists": False,
        "/var/run/redis/redis.sock": "PermissionError",
        "/var/run/redis/redis.sock exists": False,
    }


SOCKETS = """
import socket
def generate_signal(candles, params):
    got = []
    for family in ("AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET", "AF_VSOCK"):
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_RAW):
            try:
                socket.socket(getattr(socket, family), kind).close()
                got.append(family)
            except OSError:
                pass
    try:
        socket.socketpair()
        got.append("socketpair")
    except OSError:
        pass
    return {"action": "HOLD", "got": got}
"""


def test_no_socket_of_any_family(backend):
    assert _holds(run(SOCKETS, backend)) == []


# --------------------------------------------------------------------------- other processes


PROC = """
def generate_signal(candles, params):
    got = []
    for pid in params["pids"]:
        for name in ("environ", "mem", "cmdline", "maps"):
            try:
                with open(f"/proc/{pid}/{name}", "rb") as handle:
                    handle.read(16)
                got.append(f"{pid}/{name}")
            except OSError:
                pass
    import os
    try:
        got.append(f"listed {len(os.listdir('/proc'))}")
    except OSError:
        pass
    return {"action": "HOLD", "got": got}
"""


def test_read_proc_of_the_worker_the_server_and_others(backend, victim):
    pids = [os.getpid(), *_server_pids(backend), victim, 1]
    assert _holds(run(PROC, backend, params={"pids": pids})) == []


PTRACE = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def generate_signal(candles, params):
    got = []
    local = (ctypes.c_char * 8)()
    iov = (ctypes.c_void_p * 2)(ctypes.addressof(local), 8)
    for pid in params["pids"]:
        for request in (16, 0x4206):  # PTRACE_ATTACH, PTRACE_SEIZE
            if libc.syscall(101, request, pid, None, None) == 0:
                got.append(f"ptrace {pid}")
        if libc.syscall(310, pid, ctypes.byref(iov), 1, ctypes.byref(iov), 1, 0) >= 0:
            got.append(f"process_vm_readv {pid}")
        if libc.syscall(311, pid, ctypes.byref(iov), 1, ctypes.byref(iov), 1, 0) >= 0:
            got.append(f"process_vm_writev {pid}")
        pidfd = libc.syscall(434, pid, 0)  # pidfd_open, then pidfd_getfd
        if pidfd >= 0:
            got.append(f"pidfd_open {pid}")
    if libc.syscall(101, 0, 0, None, None) == 0:  # PTRACE_TRACEME
        got.append("traceme")
    return {"action": "HOLD", "got": got}
"""


def test_ptrace_and_memory_of_the_worker_and_the_server(backend, victim):
    pids = [os.getpid(), *_server_pids(backend), victim]
    assert _holds(run(PTRACE, backend, params={"pids": pids})) == []


KILL = """
import ctypes, os, signal
libc = ctypes.CDLL(None, use_errno=True)

def generate_signal(candles, params):
    got = []
    for pid in params["pids"] + [-1]:
        try:
            os.kill(pid, signal.SIGKILL)
            got.append(pid)
        except OSError:
            pass
        if libc.syscall(62, pid, 9) == 0:  # kill(2) itself
            got.append(pid)
    for pgid in params["pids"]:
        try:
            os.killpg(pgid, signal.SIGKILL)
            got.append(f"group {pgid}")
        except OSError:
            pass
    return {"action": "HOLD", "got": got}
"""


def test_kill_other_processes(backend, victim):
    pids = [*_server_pids(backend), victim]
    assert _holds(run(KILL, backend, params={"pids": pids})) == []
    time.sleep(0.1)
    for pid in pids:
        os.kill(pid, 0)  # all alive


def test_escape_the_process_group(backend):
    result = run(
        """
        import os
        def generate_signal(candles, params):
            got = []
            for name, call in (("setsid", os.setsid), ("setpgid", lambda: os.setpgid(0, 0))):
                try:
                    call()
                    got.append(name)
                except OSError:
                    pass
            return {"action": "HOLD", "got": got}
        """,
        backend,
    )
    assert _holds(result) == []


# --------------------------------------------------------------------------- files


def test_read_the_project_tree_settings_and_database(backend):
    paths = [
        str(BASE_DIR / "tradeplatform" / "settings.py"),
        str(BASE_DIR / "manage.py"),
        str(BASE_DIR / "executions" / "sandbox" / ".." / "models.py"),
        str(BASE_DIR / "var" / "services.env"),  # the embedded services' URLs
        str(SITE_PACKAGES / "django" / "__init__.py"),
        "/etc/passwd",
        "/etc/shadow",
        "/root/.bash_history",
    ]
    result = run(
        """
        import os
        def generate_signal(candles, params):
            got = []
            for path in params["paths"]:
                try:
                    with open(path, "rb") as handle:
                        handle.read(1)
                    got.append(path)
                except OSError:
                    pass
            for directory in params["dirs"]:
                try:
                    got.append(f"{directory}: {os.listdir(directory)}")
                except OSError:
                    pass
            return {"action": "HOLD", "got": got}
        """,
        backend,
        params={"paths": paths, "dirs": [str(BASE_DIR), "/", "/sys", "/dev", "/etc"]},
    )
    assert _holds(result) == []


def test_only_the_standard_library_is_importable(backend):
    result = run(
        """
        import os, sys
        def generate_signal(candles, params):
            got = []
            for name in ("django", "pip", "setuptools", "psycopg", "redis", "celery"):
                try:
                    __import__(name)
                    got.append(name)
                except ImportError:
                    pass
            stdlib = os.path.dirname(os.__file__)
            got += os.listdir(os.path.join(stdlib, "site-packages"))
            import json, statistics, decimal, math  # noqa: F401 - the standard library works
            return {"action": "HOLD", "got": got, "path": sys.path}
        """,
        backend,
    )
    assert _holds(result) == []
    assert not any("site-packages" in path for path in result.signal["path"])


def test_the_sandbox_runtime_is_readable_but_not_writable(backend):
    runtime = str(BASE_DIR / "executions" / "sandbox" / "indicators.py")
    result = run(
        """
        def generate_signal(candles, params):
            with open(params["path"]) as handle:
                first = handle.readline()
            try:
                open(params["path"], "a").close()
                wrote = True
            except OSError:
                wrote = False
            return {"action": "HOLD", "got": [first.startswith('\"\"\"'), wrote]}
        """,
        backend,
        params={"path": runtime},
    )
    assert _holds(result) == [True, False]


def test_write_a_pth_into_site_packages_tmp_shm_and_the_project(backend):
    token = f"sandbox-attack-{os.getpid()}-{backend}.pth"
    targets = [
        str(SITE_PACKAGES / token),
        f"/tmp/{token}",
        f"/dev/shm/{token}",
        str(BASE_DIR / token),
        str(BASE_DIR / "var" / token),
        f"../{token}",
        f"/{token}",
    ]
    result = run(
        """
        import os
        def generate_signal(candles, params):
            got = []
            for path in params["paths"]:
                try:
                    with open(path, "w") as handle:
                        handle.write("import os; os.system('id')")
                    got.append(path)
                except OSError:
                    pass
            try:
                os.mkdir("/tmp/x")
                got.append("mkdir")
            except OSError:
                pass
            return {"action": "HOLD", "got": got}
        """,
        backend,
        params={"paths": targets},
    )
    assert _holds(result) == []
    for path in targets:
        assert not Path(path).exists()


PLANT = """
import os
def generate_signal(candles, params):
    with open("planted", "w") as handle:
        handle.write("for the next one")
    os.mkdir("locked")
    with open("locked/inside", "w") as handle:
        handle.write("x")
    os.chmod("locked", 0)
    return {"action": "HOLD", "got": os.getcwd()}
"""
LOOK = """
import os
def generate_signal(candles, params):
    seen = os.listdir(".")
    for path in (params["planted"] + "/planted", params["planted"] + "/locked"):
        if os.path.exists(path):
            seen.append(path)
    try:
        seen += os.listdir("..")
    except OSError:
        pass
    return {"action": "HOLD", "got": seen}
"""


def test_plant_a_file_for_the_next_execution(backend):
    planted = _holds(run(PLANT, backend))
    assert _holds(run(LOOK, backend, params={"planted": planted})) == []


def test_fill_the_work_directory(backend):
    result = run(
        """
        import os
        def generate_signal(candles, params):
            written = 0
            for number in range(64):
                try:
                    with open(f"fill-{number}", "wb") as handle:
                        handle.write(b"x" * 1024 * 1024)
                    written += 1
                except OSError:
                    break
            try:
                with open("big", "wb") as handle:
                    handle.write(b"x" * 2 * 1024 * 1024)  # more than RLIMIT_FSIZE
                big = True
            except OSError:
                big = False
            return {"action": "HOLD", "got": [written, big]}
        """,
        backend,
        limits=SandboxLimits(wall_seconds=5, cpu_seconds=5, memory_mb=256),
    )
    written, big = _holds(result)
    assert written <= 8  # the work tmpfs holds 8 MB
    assert big is False


MEMFD = """
import os
def generate_signal(candles, params):
    got = []
    try:
        fd = os.memfd_create("hoard")
        os.ftruncate(fd, 1 << 30)
        got.append("memfd")
    except OSError:
        pass
    return {"action": "HOLD", "got": got}
"""


def test_memfd_cannot_hold_anything(backend):
    assert _holds(run(MEMFD, backend)) == []


# --------------------------------------------------------------------------- the kernel


SYSCALLS = """
import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
CALLS = {
    "unshare": (272, 0x10000000), "setns": (308, 0, 0), "mount": (165, None, b"/", None, 0x1000, None),
    "pivot_root": (155, b".", b"."), "chroot": (161, b"/"), "bpf": (321, 0, None, 0),
    "perf_event_open": (298, None, 0, -1, -1, 0), "keyctl": (250, 0, 0),
    "add_key": (248, b"user", b"k", None, 0, -3), "userfaultfd": (323, 0),
    "io_uring_setup": (425, 1, None), "execve": (59, b"/bin/sh", None, None),
    "execveat": (322, -100, b"/bin/sh", None, None, 0), "vfork": (58,), "fork": (57,),
    "clone": (56, 0x11, 0, None, None, 0), "clone_newuser": (56, 0x10010f00, 0, None, None, 0),
    "shmget": (29, 0, 4096, 0o1600), "mq_open": (240, b"q", 0o100, 0o600, None),
    "kexec_load": (246, 0, 0, None, 0), "init_module": (175, None, 0, b""),
    "process_madvise": (440, 0, None, 0, 0, 0), "prctl_dumpable": (157, 4, 1, 0, 0, 0),
    "setuid": (105, 0), "capset": (126, None, None), "memfd_secret": (447, 0),
}

def generate_signal(candles, params):
    got = {}
    for name, (number, *args) in CALLS.items():
        result = libc.syscall(number, *args)
        if result >= 0 or ctypes.get_errno() != errno.EPERM:
            got[name] = [result, ctypes.get_errno()]
    return {"action": "HOLD", "got": got}
"""


def test_system_calls_a_computation_never_needs_are_denied(backend):
    assert _holds(run(SYSCALLS, backend)) == {}


def test_exec_and_subprocess(backend):
    result = run(
        """
        import os, subprocess
        def generate_signal(candles, params):
            got = []
            for attempt in (
                lambda: os.execv("/bin/sh", ["sh"]),
                lambda: subprocess.run(["/bin/sh", "-c", "id"]),
                lambda: os.posix_spawn("/bin/sh", ["sh"], {}),
                lambda: os.system("id"),
            ):
                try:
                    if attempt() not in (None, -1, 32512):
                        got.append("ran")
                except OSError:
                    pass
            return {"action": "HOLD", "got": got}
        """,
        backend,
    )
    assert _holds(result) == []


def test_identity_is_unprivileged(backend):
    result = run(
        """
        import ctypes, os
        libc = ctypes.CDLL(None)
        def generate_signal(candles, params):
            header = (ctypes.c_uint32 * 2)(0x20080522, 0)
            caps = (ctypes.c_uint32 * 6)()
            libc.syscall(125, ctypes.byref(header), ctypes.byref(caps))
            return {"action": "HOLD", "got": [os.getuid(), os.getgid(), os.getgroups(),
                    list(caps), os.getpid()]}
        """,
        backend,
    )
    uid, gid, groups, caps, pid = _holds(result)
    if os.geteuid() == 0:
        assert (uid, gid) == (65534, 65534)
    assert groups in ([], [gid])
    assert caps == [0] * 6
    assert pid == 1  # alone in its pid namespace


# --------------------------------------------------------------------------- resources


def test_fork_bomb(backend):
    result = run(
        "import os\ndef generate_signal(c, p):\n    while True:\n        try:\n"
        "            os.fork()\n        except OSError:\n            pass\n",
        backend,
        limits=SandboxLimits(wall_seconds=1.0, cpu_seconds=5, memory_mb=256),
    )
    assert result.error == "timed out after 1.0 s"


def test_infinite_loop(backend):
    result = run("def generate_signal(c, p):\n    while True:\n        pass\n", backend)
    assert result.error == "timed out after 2.0 s"


def test_allocate_gigabytes(backend):
    result = run("def generate_signal(c, p):\n    return {'x': len(bytearray(4 << 30))}\n", backend)
    assert result.error == "memory limit exceeded (256 MB)"


def test_print_megabytes(backend):
    result = run("def generate_signal(c, p):\n    print('x' * (50 << 20))\n", backend)
    assert result.error.startswith("output limit exceeded")
    assert len(result.output) < LIMITS.output_keep_bytes + 200


@pytest.mark.parametrize(
    ("source", "error"),
    [
        (
            "import os\ndef generate_signal(c, p):\n    os._exit(0)\n",
            "strategy ended without a valid answer",
        ),
        ("def generate_signal(c, p):\n    raise SystemExit\n", "strategy exited with code 0"),
        (
            "def generate_signal(c, p):\n    return 'BUY'\n",
            "generate_signal must return a dict, got str",
        ),
        (
            "def generate_signal(c, p):\n    return {1: {2: [3] * 5000}}\n",
            "the signal is larger than 4096 bytes",
        ),
    ],
)
def test_exit_and_garbage(backend, source, error):
    result = run(source, backend)
    assert (result.ok, result.error) == (False, error)


# --------------------------------------------------------------------------- answers


FORGE = """
import gc, json, os
def generate_signal(candles, params):
    mine = [o for o in gc.get_objects() if isinstance(o, dict) and "id" in o and "source" in o]
    forged = {"id": params["id"] if params["id"] else mine[0]["id"], "ok": True,
              "signal": {"action": "SELL"}, "error": "", "output": ""}
    forged.update(params["extra"])
    os.write(3, json.dumps(forged).encode())
    if params["exit"]:
        os._exit(0)
    return {"action": "BUY"}
"""


@pytest.mark.parametrize(
    ("case", "params"),
    [
        ("another id", {"id": "0" * 32, "extra": {}, "exit": True}),
        ("extra fields", {"id": "", "extra": {"returncode": 0, "trades": 9}, "exit": True}),
        ("a frame before the real answer", {"id": "", "extra": {}, "exit": False}),
    ],
)
def test_forge_an_answer_frame(backend, case, params):
    result = run(FORGE, backend, params=params)
    assert not result.ok, case
    assert result.error == "strategy ended without a valid answer"
    assert result.signal is None


def test_a_forged_answer_can_only_set_its_own_signal(backend):
    # With its own request id (found in its own memory) and the exact fields, the forgery
    # is an answer like any other: it sets this execution's signal, nothing more.
    result = run(FORGE, backend, params={"id": "", "extra": {}, "exit": True})
    assert (result.ok, result.signal) == (True, {"action": "SELL"})


def test_the_server_holds_no_other_tenant(backend):
    secret = f"tenant-a-secret-{os.getpid()}"
    first = run(
        f"KEY = {secret!r}\ndef generate_signal(c, p):\n    print(KEY)\n"
        "    return {'action': 'BUY', 'note': p['note']}\n",
        backend,
        params={"note": secret},
    )
    assert first.ok and first.signal["note"] == secret
    result = run(
        """
        import gc, sys
        def generate_signal(candles, params):
            needle = params["prefix"]
            found = [o[:80] for o in gc.get_objects() if isinstance(o, str) and needle in o]
            for module in list(sys.modules.values()):
                for value in list(vars(module).values()):
                    if isinstance(value, str) and needle in value:
                        found.append(value[:80])
            return {"action": "HOLD", "got": found}
        """,
        backend,
        params={"prefix": "tenant-a-" + "secret"},
    )
    found = _holds(result)
    assert all(text == "tenant-a-secret" for text in found)  # its own params only


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("where", ["while the child runs", "once the child answered"])
def test_interrupted_while_waiting_then_the_next_run_gets_its_own_answer(name, where, monkeypatch):
    """The crash test: Celery's soft time limit (or any exception) hits the worker while
    it waits for an answer, or right after the answer came; every later run must still
    get its own answer, never the interrupted one's."""
    slow = (
        "import time\ndef generate_signal(c, p):\n    time.sleep(p['sleep'])\n"
        "    return {'action': 'SELL', 'who': p['who']}\n"
    )
    if where == "while the child runs":
        previous = signal.signal(signal.SIGALRM, _raise_soft_time_limit)
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        try:
            with pytest.raises(SoftTimeLimitExceeded):
                run(slow, name, params={"sleep": 1.0, "who": "first"})
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    else:
        original = _backends._answers

        def interrupted(answer, request_id):
            monkeypatch.setattr(_backends, "_answers", original)
            raise SoftTimeLimitExceeded

        monkeypatch.setattr(_backends, "_answers", interrupted)
        with pytest.raises(SoftTimeLimitExceeded):
            run(slow, name, params={"sleep": 0.0, "who": "first"})
    for who in ("second", "third"):
        result = run(slow, name, params={"sleep": 0.0, "who": who})
        assert result.ok, result.error
        assert result.signal == {"action": "SELL", "who": who}


def _raise_soft_time_limit(signum, frame):
    raise SoftTimeLimitExceeded


@pytest.mark.parametrize("name", WARM_BACKENDS)
def test_concurrent_callers_each_get_their_own_answer(name):
    source = "def generate_signal(c, p):\n    return {'action': 'HOLD', 'who': p['who']}\n"
    answers: dict[int, object] = {}

    def call(who: int) -> None:
        answers[who] = run(source, name, params={"who": who}).signal

    threads = [threading.Thread(target=call, args=(who,)) for who in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == {who: {"action": "HOLD", "who": who} for who in range(6)}


def test_a_series_is_capped_and_confined_too(backend):
    source = """
    import socket
    def generate_signal(candles, params):
        try:
            socket.socket()
            return {"action": "BUY", "net": True}
        except OSError:
            return {"action": "HOLD", "pad": "x" * (5000 if len(candles) == 2 else 0)}
    """
    result = run_strategy_series(
        textwrap.dedent(source),
        CANDLES,
        {},
        lookback=2,
        first_index=0,
        limits=LIMITS,
        backend=backend,
    )
    assert result.ok, result.error
    assert result.signals[0] == {"action": "HOLD", "pad": ""}
    assert result.signals[1] is None and "larger than 4096 bytes" in result.errors[1]
