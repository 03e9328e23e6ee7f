"""The confinement self-test: a probe strategy that tries, for real, every way out the
sandbox promises to close, and the judge of what it reports.

:func:`executions.sandbox.selftest` runs :data:`PROBE_SOURCE` twice on a backend: the
first execution plants files, the second looks for them. Every attempt that succeeds is
a failure, named in words a worker log can show. This module does not import Django:
the worker passes its own targets (its database and Redis addresses, its project tree).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Any

from ._runtime import SANDBOX_DIR
from ._types import SandboxLimits

# Each check of the probe, by the layer that keeps it closed. A backend promises a set of
# them (PROMISES); the unconfined one keeps only what rlimits and seccomp do.
CHECKS = {
    "environment": "the environment is empty",
    "limits": "the rlimits are in place",
    "identity": "author code has no privilege (not root, no capability)",
    "processes": "no new process (fork) and no exec",
    "syscalls": "the system calls a computation never needs are denied",
    "sockets": "no socket of any family can be created",
    "network": "no TCP connection to the worker's services",
    "unix_sockets": "no connection to a unix socket (PostgreSQL, Redis)",
    "files": "nothing outside the work directory can be read or written",
    "other_processes": "no other process can be seen, signalled, traced or read",
    "workdir": "each execution starts in a fresh empty work directory",
}
_ALL = frozenset(CHECKS)
PROMISES: dict[str, frozenset[str]] = {
    "process": _ALL,
    "bwrap": _ALL,
    "warm": _ALL,
    "warm-bwrap": _ALL,
    "unconfined": frozenset({"environment", "limits", "processes", "syscalls", "sockets"}),
}


@dataclasses.dataclass(frozen=True)
class Targets:
    """What the probe attacks. The worker fills it from its settings; the defaults are
    the usual local services and what this package can find on its own."""

    tcp: tuple[tuple[str, int], ...] = (("127.0.0.1", 5432), ("127.0.0.1", 6379))
    unix_sockets: tuple[str, ...] = ("/var/run/postgresql/.s.PGSQL.5432",)
    # Files of the project and the interpreter that strategy code must not read.
    read: tuple[str, ...] = ()
    # Places strategy code must not write (a file of a fresh name is attempted in each).
    write_dirs: tuple[str, ...] = ()

    def params(self, token: str) -> dict[str, Any]:
        project = os.path.dirname(os.path.dirname(SANDBOX_DIR))
        site_packages = [path for path in sys.path if path.endswith("site-packages")]
        read = [
            os.path.join(os.path.dirname(SANDBOX_DIR), "__init__.py"),  # the project tree
            "/etc/passwd",
            *self.read,
        ]
        write_dirs = ["/tmp", "/dev/shm", project, *site_packages, *self.write_dirs]  # noqa: S108
        return {
            "tcp": [list(target) for target in self.tcp],
            "unix_sockets": list(self.unix_sockets),
            "read": read,
            "write": [os.path.join(path, f"sandbox-probe-{token}.pth") for path in write_dirs],
            "parent": os.getpid(),
            "token": token,
        }


PROBE_SOURCE = r'''
import ctypes, errno, os, resource, socket

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR = {"unshare": 272, "mount": 165, "bpf": 321, "io_uring_setup": 425,
      "userfaultfd": 323, "keyctl": 250, "memfd_create": 319, "perf_event_open": 298,
      "ptrace": 101, "process_vm_readv": 310, "setns": 308, "pivot_root": 155,
      "add_key": 248}


def attempt(action):
    """True when the action worked (a way out), False when it failed."""
    try:
        action()
    except OSError:
        return False
    return True


def syscall_works(name, *args):
    return libc.syscall(NR[name], *args) >= 0


def open_socket(family, kind):
    socket.socket(family, kind).close()


def connect_tcp(host, port):
    with socket.create_connection((host, port), timeout=1):
        pass


def connect_unix(path):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(1)
        sock.connect(path)


def read_file(path):
    with open(path, "rb") as handle:
        handle.read(1)


def write_file(path):
    with open(path, "w") as handle:
        handle.write("sandbox probe")


def fork():
    if os.fork() == 0:
        os._exit(0)
    os.wait()


def generate_signal(candles, params):
    parent = params["parent"]
    found = {"environ": sorted(os.environ), "uid": os.getuid(), "gid": os.getgid()}
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)
    caps = (ctypes.c_uint32 * 6)()
    libc.syscall(125, ctypes.byref(header), ctypes.byref(caps))  # capget
    found["capabilities"] = [caps[0], caps[1], caps[3], caps[4]]
    found["limits"] = {
        name: resource.getrlimit(getattr(resource, name))[1]
        for name in ("RLIMIT_CPU", "RLIMIT_AS", "RLIMIT_FSIZE", "RLIMIT_NOFILE",
                     "RLIMIT_NPROC", "RLIMIT_CORE")
    }
    found["fork"] = attempt(fork)
    exec_errno = None
    try:
        os.execv("/bin/sh", ["sh", "-c", "exit 0"])
    except OSError as exc:
        exec_errno = exc.errno
    found["exec"] = exec_errno != errno.EPERM
    found["syscalls"] = sorted(
        name for name, args in (
            ("unshare", (0x40000000,)), ("mount", (None, b"/", None, 0x1000, None)),
            ("bpf", (0, None, 0)), ("io_uring_setup", (1, None)), ("userfaultfd", (0,)),
            ("keyctl", (0, 0)), ("memfd_create", (b"probe", 0)),
            ("perf_event_open", (None, 0, -1, -1, 0)), ("setns", (0, 0)),
            ("pivot_root", (b".", b".")), ("add_key", (b"user", b"probe", None, 0, -3)),
        )
        if syscall_works(name, *args) or ctypes.get_errno() != errno.EPERM
    )
    found["sockets"] = sorted(
        str(family) for family, kind in (
            (socket.AF_UNIX, socket.SOCK_STREAM), (socket.AF_UNIX, socket.SOCK_DGRAM),
            (socket.AF_INET, socket.SOCK_STREAM), (socket.AF_INET, socket.SOCK_DGRAM),
            (socket.AF_INET6, socket.SOCK_STREAM), (socket.AF_NETLINK, socket.SOCK_RAW),
            (socket.AF_PACKET, socket.SOCK_RAW),
        )
        if attempt(lambda: open_socket(family, kind))
    )
    found["socketpair"] = attempt(lambda: socket.socketpair()[0].close())
    found["tcp"] = [f"{h}:{p}" for h, p in params["tcp"] if attempt(lambda: connect_tcp(h, p))]
    found["unix"] = [p for p in params["unix_sockets"] if attempt(lambda: connect_unix(p))]
    found["read"] = [p for p in params["read"] if attempt(lambda: read_file(p))]
    found["write"] = [p for p in params["write"] if attempt(lambda: write_file(p))]
    found["outside"] = attempt(lambda: write_file("../outside-" + params["token"]))
    found["proc"] = [
        p for p in (f"/proc/{parent}/environ", f"/proc/{parent}/mem", "/proc/1/cmdline",
                    f"/proc/{parent}/cmdline")
        if attempt(lambda: read_file(p))
    ]
    found["proc_listing"] = attempt(lambda: os.listdir("/proc"))
    found["signal"] = attempt(lambda: os.kill(parent, 0))
    found["ptrace"] = syscall_works("ptrace", 16, parent, None, None)  # PTRACE_ATTACH
    local = (ctypes.c_char * 8)()
    iov = (ctypes.c_void_p * 2)(ctypes.addressof(local), 8)
    found["process_vm_readv"] = syscall_works(
        "process_vm_readv", parent, ctypes.byref(iov), 1, ctypes.byref(iov), 1, 0
    )
    found["cwd"] = os.getcwd()
    found["cwd_entries"] = os.listdir(".")
    found["planted_seen"] = any(os.path.exists(p) for p in params.get("planted", ()))
    planted = os.path.abspath("planted-" + params["token"])
    write_file(planted)
    found["planted"] = planted
    return {"action": "HOLD", "probe": found}
'''


def judge(
    found: dict[str, Any],
    limits: SandboxLimits,
    promised: frozenset[str],
    *,
    worker_is_root: bool,
) -> list[str]:
    """The failures among ``promised`` checks, in words for a log."""
    mb = 1024 * 1024
    failures: dict[str, list[str]] = {name: [] for name in CHECKS}
    if found["environ"]:
        failures["environment"].append(f"variables: {', '.join(found['environ'])}")
    expected = {
        "RLIMIT_CPU": limits.cpu_seconds + 1,
        "RLIMIT_AS": limits.memory_mb * mb,
        "RLIMIT_FSIZE": limits.file_size_mb * mb,
        "RLIMIT_NOFILE": limits.open_files,
        "RLIMIT_NPROC": limits.processes,
        "RLIMIT_CORE": 0,
    }
    for name, ceiling in expected.items():
        actual = found["limits"][name]
        if actual == -1 or actual > ceiling:  # -1 is RLIM_INFINITY
            failures["limits"].append(f"{name} hard limit is {actual}, expected <= {ceiling}")
    if worker_is_root and (found["uid"] == 0 or found["gid"] == 0):
        failures["identity"].append(f"it runs as uid {found['uid']} gid {found['gid']}")
    if any(found["capabilities"]):
        failures["identity"].append(f"it holds capabilities {found['capabilities']}")
    if found["fork"]:
        failures["processes"].append("fork succeeded")
    if found["exec"]:
        failures["processes"].append("execve is not denied")
    if found["syscalls"]:
        failures["syscalls"].append(f"not denied: {', '.join(found['syscalls'])}")
    if found["sockets"] or found["socketpair"]:
        families = found["sockets"] + (["socketpair"] if found["socketpair"] else [])
        failures["sockets"].append(f"created: {', '.join(families)}")
    if found["tcp"]:
        failures["network"].append(f"connected to {', '.join(found['tcp'])}")
    if found["unix"]:
        failures["unix_sockets"].append(f"connected to {', '.join(found['unix'])}")
    for path in found["read"]:
        failures["files"].append(f"read {path}")
    for path in found["write"]:
        failures["files"].append(f"wrote {path}")
    if found["outside"]:
        failures["files"].append("wrote next to its work directory")
    for path in found["proc"]:
        failures["other_processes"].append(f"read {path}")
    for name in ("proc_listing", "signal", "ptrace", "process_vm_readv"):
        if found[name]:
            what = {"proc_listing": "listed /proc", "signal": "signalled the worker"}
            failures["other_processes"].append(what.get(name, f"{name} of the worker worked"))
    if found["cwd_entries"]:
        failures["workdir"].append(f"it is not empty: {found['cwd_entries']}")
    if found["planted_seen"]:
        failures["workdir"].append("a file planted by the previous execution is visible")
    return [
        f"{CHECKS[name]}: FAILED ({'; '.join(problems)})"
        for name, problems in failures.items()
        if problems and name in promised
    ]
