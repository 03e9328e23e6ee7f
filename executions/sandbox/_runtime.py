"""The sandbox-side runtime: the code that runs inside the sandboxed interpreter.

Run as a script by the sandbox backends (``python -I -S _runtime.py run|serve <fd>``), it
uses the standard library only: it is loaded in an interpreter with an empty environment,
in isolated mode, without ``site`` (no site-packages on ``sys.path``), possibly inside
bubblewrap. ``indicators.py`` (next to it) is the one project module it loads, by path.

Processes (``<fd>`` is a SOCK_SEQPACKET socket to the worker, made before any of them):

* the **outer** process, the one the worker started, confines itself
  (:func:`confine_process`: unprivileged id, new user/mount/network/IPC/UTS/pid
  namespaces, a root holding nothing but the standard library, this directory and an
  empty size-limited work tmpfs), forks the server as pid 1 of the new pid namespace,
  then confines itself further and only waits for it;
* the **server** (:func:`serve`) holds no tenant data, ever: for each execution it makes
  a fresh work directory, forks a child in a new pid namespace of its own, hands the
  child's request, answer and diagnostics pipes (and a pidfd of the child) to the worker
  over the socket (SCM_RIGHTS), closes its own copies, reports how the child ended and
  removes its work directory. ``run`` serves one child, ``serve`` one after the other;
* each **child** (:func:`_child_main`) confines itself completely
  (:func:`confine_child`: no capability, Landlock, the strict seccomp filter) *before* it
  reads its request from its own pipe, runs the strategy, answers on its own pipe, exits.

The worker side lives in ``_backends.py``; it imports this module for the shared constants.
"""

from __future__ import annotations

# Every import here is paid by each ``process``/``bwrap`` execution: standard library only,
# and as few modules as will do (no typing, traceback or importlib at run time).
import builtins
import ctypes
import gc
import io
import json
import os
import resource
import selectors
import signal
import socket
import sys
import types

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

STRATEGY_FILENAME = "<strategy>"
SANDBOX_DIR = os.path.dirname(os.path.realpath(__file__))
INDICATORS_PATH = os.path.join(SANDBOX_DIR, "indicators.py")
# The standard library of this interpreter (lib-dynload included): the one other tree
# strategy code may read.
STDLIB_DIR = os.path.dirname(os.path.realpath(os.__file__))
# The id author code runs as when the worker is root (nobody/nogroup on Debian).
UNPRIVILEGED_ID = 65534
# Inside the confined root: where the per-execution work directories live (a tmpfs that
# holds at most WORK_TMPFS_BYTES in WORK_TMPFS_INODES files), and the temporary mount
# point the root is built on before pivot_root.
WORK_ROOT = "/sandbox-work"
WORK_TMPFS_BYTES = 8 * 1024 * 1024
WORK_TMPFS_INODES = 256
STAGING = "/tmp"  # noqa: S108 - a mount point in this process's own mount namespace
# Largest message the server sends on the control socket (fds travel beside it).
CONTROL_MESSAGE_BYTES = 4096


class ConfinementError(Exception):
    """A layer of the confinement could not be applied; the message names it."""


# --------------------------------------------------------------------------- system calls

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]

# x86_64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl).
_NR = {
    "read": 0, "write": 1, "socket": 41, "connect": 42, "accept": 43, "sendto": 44,
    "recvfrom": 45, "sendmsg": 46, "recvmsg": 47, "shutdown": 48, "bind": 49,
    "listen": 50, "getsockname": 51, "getpeername": 52, "socketpair": 53,
    "setsockopt": 54, "getsockopt": 55, "clone": 56, "fork": 57, "vfork": 58,
    "execve": 59, "kill": 62, "shmget": 29, "shmat": 30, "shmctl": 31, "semget": 64,
    "semop": 65, "semctl": 66, "shmdt": 67, "msgget": 68, "msgsnd": 69, "msgrcv": 70,
    "msgctl": 71, "ptrace": 101, "syslog": 103, "setuid": 105, "setgid": 106,
    "setpgid": 109, "setsid": 112, "setreuid": 113, "setregid": 114, "setgroups": 116,
    "setresuid": 117, "setresgid": 119, "setfsuid": 122, "setfsgid": 123, "capset": 126,
    "rt_sigqueueinfo": 129, "uselib": 134, "mknod": 133, "personality": 135,
    "ustat": 136, "sysfs": 139, "vhangup": 153, "modify_ldt": 154, "pivot_root": 155,
    "prctl": 157, "adjtimex": 159, "chroot": 161, "acct": 163, "settimeofday": 164,
    "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169,
    "sethostname": 170, "setdomainname": 171, "iopl": 172, "ioperm": 173,
    "init_module": 175, "delete_module": 176, "quotactl": 179, "lookup_dcookie": 212,
    "clock_settime": 227, "mq_open": 240, "mq_unlink": 241, "mq_timedsend": 242,
    "mq_timedreceive": 243, "mq_notify": 244, "mq_getsetattr": 245, "mbind": 237,
    "kexec_load": 246, "add_key": 248,
    "request_key": 249, "keyctl": 250, "migrate_pages": 256, "mknodat": 259,
    "unshare": 272, "move_pages": 279, "rt_tgsigqueueinfo": 297, "perf_event_open": 298,
    "accept4": 288, "recvmmsg": 299, "fanotify_init": 300, "name_to_handle_at": 303,
    "open_by_handle_at": 304, "clock_adjtime": 305, "sendmmsg": 307, "setns": 308,
    "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312, "finit_module": 313,
    "seccomp": 317, "memfd_create": 319, "kexec_file_load": 320, "bpf": 321,
    "execveat": 322, "userfaultfd": 323, "pkey_mprotect": 329, "pidfd_send_signal": 424,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
    "fspick": 433, "pidfd_open": 434, "clone3": 435, "pidfd_getfd": 438,
    "process_madvise": 440, "mount_setattr": 442, "quotactl_fd": 443,
    "landlock_create_ruleset": 444, "landlock_add_rule": 445, "landlock_restrict_self": 446,
    "memfd_secret": 447, "process_mrelease": 448, "set_mempolicy_home_node": 450,
    "statmount": 457, "listmount": 458, "open_tree_attr": 467,
}  # fmt: skip
_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_SYSCALL_BIT = 0x40000000


def _syscall(name: str, *args: Any) -> int:
    result = _libc.syscall(_NR[name], *args)
    if result < 0:
        raise OSError(ctypes.get_errno(), f"{name}: {os.strerror(ctypes.get_errno())}")
    return result


def _libc_call(name: str, *args: Any) -> None:
    if getattr(_libc, name)(*args) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{name}: {os.strerror(errno)}")


_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_CAPBSET_READ = 23
_PR_CAPBSET_DROP = 24
_PR_SET_SECCOMP = 22
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_CAP_LAST = 63  # beyond the kernel's last capability, PR_CAPBSET_READ answers EINVAL


def _prctl(option: int, arg: int = 0) -> None:
    _libc_call("prctl", option, ctypes.c_ulong(arg), 0, 0, 0)


def set_dumpable(dumpable: bool) -> None:
    _prctl(_PR_SET_DUMPABLE, int(dumpable))


# --------------------------------------------------------------------------- namespaces

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_MS_NOATIME, _MS_NODIRATIME, _MS_RELATIME = 1024, 2048, 1 << 21
_MNT_DETACH = 2
# statvfs flags of a mount that a bind of it inside a user namespace must keep.
_KEPT_MOUNT_FLAGS = (
    (os.ST_NOSUID, _MS_NOSUID),
    (os.ST_NODEV, _MS_NODEV),
    (os.ST_NOEXEC, _MS_NOEXEC),
    (os.ST_NOATIME, _MS_NOATIME),
    (os.ST_NODIRATIME, _MS_NODIRATIME),
    (os.ST_RELATIME, _MS_RELATIME),
)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    encode = lambda text: None if text is None else text.encode()  # noqa: E731
    _libc_call("mount", encode(source), target.encode(), encode(fstype), flags, encode(data))


def _unshare(flags: int) -> None:
    _libc_call("unshare", flags)


def _write_proc(proc_fd: int, name: str, text: str) -> None:
    fd = os.open(name, os.O_WRONLY, dir_fd=proc_fd)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _bind_read_only(source: str, target: str) -> None:
    os.makedirs(target, exist_ok=True)
    _mount(source, target, None, _MS_BIND)
    kept = os.statvfs(source).f_flag
    flags = _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV
    flags |= sum(ms for st, ms in _KEPT_MOUNT_FLAGS if kept & st)
    _mount(None, target, None, flags)


def _build_root(exposed: list[str], owner: int) -> None:
    """Make a root holding only ``exposed`` (read-only, at their own paths) and an empty
    work tmpfs at WORK_ROOT owned by ``owner``, and pivot into it; the old root is gone."""
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    _mount("tmpfs", STAGING, "tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, "size=256k,mode=0755")
    for path in sorted(exposed):  # a parent before what lies beneath it
        _bind_read_only(path, STAGING + path)
    # The interpreter's own site-packages (pip, setuptools…) lies inside the standard
    # library directory: hide it under an empty read-only tmpfs.
    site_packages = os.path.join(STDLIB_DIR, "site-packages")
    if os.path.isdir(site_packages):
        hidden = STAGING + site_packages
        _mount(
            "tmpfs", hidden, "tmpfs", _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, "size=4k"
        )
    work = STAGING + WORK_ROOT
    os.mkdir(work)
    options = f"size={WORK_TMPFS_BYTES},nr_inodes={WORK_TMPFS_INODES},mode=0700"
    _mount("tmpfs", work, "tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, options)
    os.chown(work, owner, owner)
    os.chdir(STAGING)
    _syscall("pivot_root", b".", b".")
    _libc_call("umount2", b".", _MNT_DETACH)
    os.chdir("/")
    _mount(None, "/", None, _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)


def confine_process() -> int:
    """Confine the outer process: afterwards it runs as an unprivileged id (65534 when it
    was root) in new user, mount, network (a down loopback only), IPC, UTS and pid
    namespaces (the pid one for its children), with a root that holds the standard
    library and this directory read-only and an empty work tmpfs. Returns an fd of
    ``/proc`` of the old root, for the server to find its pid namespace; close it.

    Raises ConfinementError naming the layer that could not be applied.
    """
    exposed = [STDLIB_DIR, SANDBOX_DIR]
    proc_fd = os.open("/proc", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    namespaces = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    namespaces |= CLONE_NEWPID
    try:
        if os.geteuid() == 0:
            # Root builds the root (it can read an interpreter under a 0700 home), then
            # becomes nobody; the user namespace comes after, from nobody.
            _unshare(CLONE_NEWNS)
            _build_root(exposed, UNPRIVILEGED_ID)
            os.setgroups([])
            os.setresgid(UNPRIVILEGED_ID, UNPRIVILEGED_ID, UNPRIVILEGED_ID)
            os.setresuid(UNPRIVILEGED_ID, UNPRIVILEGED_ID, UNPRIVILEGED_ID)
            built = True
        else:
            built = False
        uid, gid = os.getuid(), os.getgid()
        set_dumpable(True)  # /proc/self/uid_map belongs to root otherwise
        _unshare(namespaces)
        _write_proc(proc_fd, "self/setgroups", "deny")
        _write_proc(proc_fd, "self/uid_map", f"{uid} {uid} 1")
        _write_proc(proc_fd, "self/gid_map", f"{gid} {gid} 1")
        set_dumpable(False)
        if not built:
            _build_root(exposed, uid)
    except OSError as exc:
        os.close(proc_fd)
        raise ConfinementError(f"namespaces and the private root: {exc.strerror}") from None
    return proc_fd


CAP_SETPCAP = 8
CAP_SYS_ADMIN = 21


def drop_capabilities(keep: tuple[int, ...] = ()) -> None:
    """Drop every capability (those of the user namespace included) but ``keep``; those
    the bounding set already lost (the server's, for its children) are skipped."""
    for cap in range(_CAP_LAST + 1):
        if cap in keep or _libc.prctl(_PR_CAPBSET_READ, cap, 0, 0, 0) != 1:  # 0 or unknown
            continue
        if _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")
    _prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL)
    mask = sum(1 << cap for cap in keep)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, self
    data = (ctypes.c_uint32 * 6)(mask, mask, 0, mask >> 32, mask >> 32, 0)
    _syscall("capset", ctypes.byref(header), ctypes.byref(data))


# --------------------------------------------------------------------------- Landlock

_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1
_LANDLOCK_MIN_ABI = 6  # signal and abstract unix socket scoping
_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1, 2, 4, 8
_FS_REMOVE_DIR, _FS_REMOVE_FILE, _FS_MAKE_DIR, _FS_MAKE_REG = 16, 32, 128, 256
_FS_TRUNCATE = 1 << 14
_FS_ALL = (1 << 16) - 1  # every filesystem right of ABI 5 and later
_NET_ALL = 3  # bind and connect TCP
_SCOPE_ALL = 3  # abstract unix sockets and signals
FS_READ = _FS_READ_FILE | _FS_READ_DIR
FS_WRITE = FS_READ | _FS_WRITE_FILE | _FS_REMOVE_DIR | _FS_REMOVE_FILE | _FS_MAKE_DIR
FS_WRITE |= _FS_MAKE_REG | _FS_TRUNCATE


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is off or absent."""
    version = _libc.syscall(
        _NR["landlock_create_ruleset"], None, 0, _LANDLOCK_CREATE_RULESET_VERSION
    )
    return max(0, version)


def restrict_files(rules: dict[str, int]) -> None:
    """Landlock: from now on this process (and what it starts) may access the filesystem
    only as ``rules`` ({path: rights}) allow, may connect or bind no TCP port, and may
    signal or reach the abstract unix sockets of no process outside its domain."""
    abi = landlock_abi()
    if abi < _LANDLOCK_MIN_ABI:
        raise ConfinementError(f"Landlock: ABI {abi} here, {_LANDLOCK_MIN_ABI} needed")
    attr = _RulesetAttr(_FS_ALL, _NET_ALL, _SCOPE_ALL)
    ruleset = _syscall("landlock_create_ruleset", ctypes.byref(attr), ctypes.sizeof(attr), 0)
    try:
        for path, rights in rules.items():
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = _PathBeneathAttr(rights, fd)
                _syscall(
                    "landlock_add_rule", ruleset, _LANDLOCK_RULE_PATH_BENEATH, ctypes.byref(rule), 0
                )
            finally:
                os.close(fd)
        _prctl(_PR_SET_NO_NEW_PRIVS, 1)
        _syscall("landlock_restrict_self", ruleset, 0)
    except OSError as exc:
        raise ConfinementError(f"Landlock: {exc.strerror}") from None
    finally:
        os.close(ruleset)


# --------------------------------------------------------------------------- seccomp

# Classic BPF opcodes and seccomp constants (linux/filter.h, linux/seccomp.h).
_BPF_LD_W_ABS = 0x20
_BPF_JEQ_K = 0x15
_BPF_JGE_K = 0x35
_BPF_JSET_K = 0x45
_BPF_RET_K = 0x06
_SECCOMP_RET_ALLOW = 0x7FFF0000
_SECCOMP_RET_ERRNO = 0x00050000
_SECCOMP_RET_KILL_PROCESS = 0x80000000
_EPERM = _SECCOMP_RET_ERRNO | 1
_ENOSYS = _SECCOMP_RET_ERRNO | 38
_SECCOMP_MODE_FILTER = 2
_CLONE_THREAD = 0x00010000
_CLONE_NEW_ANY = 0x7E020080  # every CLONE_NEW* flag (cgroup, uts, ipc, user, pid, net, ns, time)

# What a computation never needs, denied with EPERM to every process of the sandbox.
DENIED_ALWAYS = (
    "socket", "socketpair", "connect", "accept", "accept4", "bind", "listen",
    "sendto", "recvfrom", "sendmmsg", "recvmmsg", "getsockname", "getpeername",
    "setsockopt", "getsockopt", "shutdown",
    "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise",
    "process_mrelease", "pidfd_getfd", "kcmp", "execve", "execveat", "vfork",
    "mount", "umount2", "pivot_root", "chroot", "open_tree", "open_tree_attr",
    "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "statmount", "listmount", "bpf", "perf_event_open", "keyctl", "add_key",
    "request_key", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "memfd_create", "memfd_secret", "kexec_load",
    "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog", "uselib",
    "personality", "ustat", "sysfs", "vhangup", "modify_ldt", "iopl", "ioperm",
    "lookup_dcookie", "name_to_handle_at", "open_by_handle_at", "fanotify_init",
    "mknod", "mknodat", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "sethostname", "setdomainname", "mbind", "migrate_pages", "move_pages",
    "set_mempolicy_home_node", "shmget", "shmat", "shmctl", "shmdt", "semget",
    "semop", "semctl", "msgget", "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink",
    "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr", "kill",
    "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_send_signal",
)  # fmt: skip
# What the server needs to make its children, denied to them (and to the outer process).
DENIED_TO_CHILDREN = (
    "fork", "unshare", "setns", "pidfd_open", "sendmsg", "recvmsg", "prctl", "capset",
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
    "setfsuid", "setfsgid", "setpgid", "setsid",
)  # fmt: skip


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def seccomp_program(
    denied: tuple[str, ...], *, threads_only: bool
) -> list[tuple[int, int, int, int]]:
    """The BPF program: kill on any ABI but x86_64 (i386 and x32 included), EPERM for
    ``denied``; with ``threads_only``, clone only with CLONE_THREAD and no CLONE_NEW*
    flag (clone3, whose flags seccomp cannot read, answers ENOSYS so the C library falls
    back to clone). Jump offsets count from the next instruction."""
    program = [
        (_BPF_LD_W_ABS, 0, 0, 4),  # A = seccomp_data.arch
        (_BPF_JEQ_K, 1, 0, _AUDIT_ARCH_X86_64),
        (_BPF_RET_K, 0, 0, _SECCOMP_RET_KILL_PROCESS),
        (_BPF_LD_W_ABS, 0, 0, 0),  # A = seccomp_data.nr
        (_BPF_JGE_K, 0, 1, _X32_SYSCALL_BIT),
        (_BPF_RET_K, 0, 0, _SECCOMP_RET_KILL_PROCESS),
    ]
    for name in denied:
        program += [(_BPF_JEQ_K, 0, 1, _NR[name]), (_BPF_RET_K, 0, 0, _EPERM)]
    if threads_only:
        program += [
            (_BPF_JEQ_K, 0, 1, _NR["clone3"]),
            (_BPF_RET_K, 0, 0, _ENOSYS),
            (_BPF_JEQ_K, 1, 0, _NR["clone"]),
            (_BPF_RET_K, 0, 0, _SECCOMP_RET_ALLOW),
            (_BPF_LD_W_ABS, 0, 0, 16),  # A = low 32 bits of args[0], the clone flags
            (_BPF_JSET_K, 2, 0, _CLONE_NEW_ANY),
            (_BPF_JSET_K, 0, 1, _CLONE_THREAD),
            (_BPF_RET_K, 0, 0, _SECCOMP_RET_ALLOW),
            (_BPF_RET_K, 0, 0, _EPERM),
        ]
    else:
        program.append((_BPF_RET_K, 0, 0, _SECCOMP_RET_ALLOW))
    return program


class SeccompFilter:
    """A compiled filter (:func:`seccomp_program`), built once by the server for all its
    children: installing it is then a single system call."""

    def __init__(self, denied: tuple[str, ...], *, threads_only: bool) -> None:
        program = seccomp_program(denied, threads_only=threads_only)
        self._filters = (_SockFilter * len(program))(*program)
        self._prog = _SockFprog(len(program), self._filters)

    def install(self) -> None:
        if os.uname().machine != "x86_64":
            raise ConfinementError(f"seccomp: no filter for {os.uname().machine}")
        try:
            _prctl(_PR_SET_NO_NEW_PRIVS, 1)
            prog = ctypes.byref(self._prog)
            _libc_call("prctl", _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, prog, 0, 0)
        except OSError as exc:
            raise ConfinementError(f"seccomp: {exc.strerror}") from None


def install_seccomp(denied: tuple[str, ...], *, threads_only: bool) -> None:
    SeccompFilter(denied, threads_only=threads_only).install()


# The strict filter of children and of the outer process.
CHILD_FILTER = SeccompFilter(DENIED_ALWAYS + DENIED_TO_CHILDREN, threads_only=True)


def load_indicators() -> None:
    """Make ``import indicators`` work without putting this directory on sys.path (which
    would expose every module here to the strategy)."""
    module = types.ModuleType("indicators")
    module.__file__ = INDICATORS_PATH
    with open(INDICATORS_PATH, encoding="utf-8") as handle:
        code = compile(handle.read(), INDICATORS_PATH, "exec")
    # Registered before it runs, like the import system does.
    sys.modules["indicators"] = module
    exec(code, module.__dict__)  # noqa: S102 - our own module, loaded by path


# --------------------------------------------------------------------------- execution


class LimitExceeded(BaseException):
    """A limit of the execution was reached. A BaseException so that a strategy's
    ``except Exception`` does not swallow it."""


class CpuLimitExceeded(LimitExceeded):
    """Raised from the SIGXCPU handler: the soft CPU limit is reached (the hard one, a
    second later, is a SIGKILL for code that ignores it)."""


def _cpu_limit_reached(signum: int, frame: Any) -> None:
    raise CpuLimitExceeded


class OutputLimitExceeded(LimitExceeded):
    """Raised from print() once the strategy has printed more than the cap.

    A BaseException so that a strategy's ``except Exception`` does not swallow it.
    """


class CapturedOutput(io.TextIOBase):
    """Stands in for sys.stdout/sys.stderr: keeps the first ``keep`` characters of what the
    strategy prints (so its prints cannot corrupt the JSON answer) and counts the rest."""

    def __init__(self, keep: int, limit: int) -> None:
        self._keep = keep
        self._limit = limit
        self._kept: list[str] = []
        self._kept_len = 0
        self.total = 0
        self.exceeded = False

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        # len() is a lower bound of the UTF-8 size: no need to encode a huge string.
        size = len(text)
        self.total += size if size > self._limit else len(text.encode("utf-8", "replace"))
        if self._kept_len < self._keep:
            piece = text[: self._keep - self._kept_len]
            self._kept.append(piece)
            self._kept_len += len(piece)
        if self.total > self._limit:
            self.exceeded = True
            raise OutputLimitExceeded
        return size

    def getvalue(self) -> str:
        text = "".join(self._kept)
        if self.total > len(text):
            text += f"\n[output truncated: {self.total} bytes printed, first {len(text)} kept]"
        return text


class Candles:
    """What ``generate_signal`` receives: ``candles.close[-1]``, ``len(candles)``, ..."""

    __slots__ = ("close", "high", "low", "open", "time", "volume")

    def __init__(self, data: dict[str, list[Any]]) -> None:
        for field in self.__slots__:
            setattr(self, field, list(data.get(field, ())))

    def __len__(self) -> int:
        return len(self.close)

    def __repr__(self) -> str:
        return f"<Candles: {len(self)} bars>"


class StrategyError(Exception):
    """A failure to report to the author as is (the message is complete)."""


def _strategy_line(exc: BaseException) -> str:
    line = None
    tb = exc.__traceback__
    while tb is not None:  # the innermost frame of the strategy's own code
        if tb.tb_frame.f_code.co_filename == STRATEGY_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" (line {line})" if line is not None else ""


def _describe(exc: BaseException) -> str:
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _compile_strategy(source: str) -> Any:
    try:
        return compile(source, STRATEGY_FILENAME, "exec")
    except SyntaxError as exc:
        raise StrategyError(f"syntax error at line {exc.lineno}: {exc.msg}") from None


def _call_strategy(source: Any, candles: Candles, params: Any) -> Any:
    """Run the module ``source`` (text, or code from ``_compile_strategy``) in a fresh
    namespace and call its ``generate_signal(candles, params)``."""
    code = _compile_strategy(source) if isinstance(source, str) else source
    namespace: dict[str, Any] = {"__name__": "strategy", "__builtins__": builtins}
    try:
        exec(code, namespace)  # noqa: S102 - running untrusted code is this module's job
    except (SystemExit, MemoryError, LimitExceeded):
        raise
    except BaseException as exc:
        raise StrategyError(f"strategy code raised {_describe(exc)}{_strategy_line(exc)}") from None
    generate_signal = namespace.get("generate_signal")
    if generate_signal is None:
        raise StrategyError("the strategy does not define generate_signal(candles, params)")
    if not callable(generate_signal):
        raise StrategyError("generate_signal must be a function")
    try:
        return generate_signal(candles, params)
    except (SystemExit, MemoryError, LimitExceeded, StrategyError):
        raise
    except BaseException as exc:
        raise StrategyError(
            f"generate_signal raised {_describe(exc)}{_strategy_line(exc)}"
        ) from None


def _plain_signal(raw: Any, output: CapturedOutput, max_bytes: int) -> Any:
    """The strategy's return value as JSON data, or StrategyError saying what is wrong."""
    if output.exceeded:  # the strategy caught OutputLimitExceeded and carried on
        raise OutputLimitExceeded
    if not isinstance(raw, dict):
        raise StrategyError(f"generate_signal must return a dict, got {type(raw).__name__}")
    try:
        text = json.dumps(raw)
    except (TypeError, ValueError) as exc:
        raise StrategyError(f"generate_signal must return plain JSON data: {exc}") from None
    if len(text) > max_bytes:
        raise StrategyError(f"the signal is larger than {max_bytes} bytes")
    return json.loads(text)


def _failure(exc: BaseException, limits: dict[str, Any], print_limit: int) -> str:
    """What to tell the author when the run ends on one of these."""
    if isinstance(exc, CpuLimitExceeded):
        return f"CPU time limit exceeded ({limits['cpu_seconds']} s)"
    if isinstance(exc, OutputLimitExceeded):
        return f"output limit exceeded ({print_limit} bytes printed)"
    if isinstance(exc, MemoryError):
        return f"memory limit exceeded ({limits['memory_mb']} MB)"
    if isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return f"strategy exited with code {code}"
    return str(exc)


def execute(request: dict[str, Any]) -> dict[str, Any]:
    """Run the strategy in this (already confined) process and build the answer."""
    if "series" in request:
        return execute_series(request)
    limits = request["limits"]
    output = CapturedOutput(keep=limits["output_keep_bytes"], limit=limits["max_output_bytes"])
    sys.stdout = sys.stderr = output
    signal_: Any = None
    error = ""
    try:
        raw = _call_strategy(request["source"], Candles(request["candles"]), request["params"])
        signal_ = _plain_signal(raw, output, request["max_signal_bytes"])
    except (LimitExceeded, MemoryError, SystemExit, StrategyError) as exc:
        error = _failure(exc, limits, limits["max_output_bytes"])
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    if error:
        signal_ = None
    return {
        "ok": not error,
        "signal": signal_,
        "error": error,
        "output": output.getvalue(),
    }


def _window(columns: dict[str, list[Any]], start: int, stop: int) -> Candles:
    """A Candles object of fresh copies of the rows start..stop-1: it holds no reference
    to the history it was cut from, so nothing reachable from it lies in the future."""
    window = Candles.__new__(Candles)
    for field in Candles.__slots__:
        setattr(window, field, columns[field][start:stop])  # a slice is a new list
    return window


def execute_series(request: dict[str, Any]) -> dict[str, Any]:
    """Whole-history mode: call ``generate_signal`` once per candle index ``i`` from
    ``first_index`` to the end, each time with a new Candles object holding only the
    ``lookback`` candles up to and including ``i`` (what it would have had live at that
    close) and a fresh copy of ``params``, the module re-run in a fresh namespace (no
    state carries from one candle to the next, as live, where each call is a new process).

    An exception or an invalid signal fails that step only (``errors[k]``, like a FAILED
    execution live); running out of time, memory or output fails the whole series.
    """
    limits = request["limits"]
    series = request["series"]
    lookback, first_index = int(series["lookback"]), int(series["first_index"])
    candles = request.pop("candles")
    columns = {field: list(candles.get(field, ())) for field in Candles.__slots__}
    del candles
    params_text = json.dumps(request["params"])
    output = CapturedOutput(keep=limits["output_keep_bytes"], limit=series["max_print_bytes"])
    sys.stdout = sys.stderr = output
    signals: list[Any] = []
    errors: list[str] = []
    error = ""
    try:
        code = _compile_strategy(request["source"])
        for index in range(first_index, len(columns["close"])):
            window = _window(columns, max(0, index - lookback + 1), index + 1)
            try:
                raw = _call_strategy(code, window, json.loads(params_text))
                signals.append(_plain_signal(raw, output, request["max_signal_bytes"]))
                errors.append("")
            except StrategyError as exc:
                signals.append(None)
                errors.append(str(exc))
    except (LimitExceeded, MemoryError, SystemExit, StrategyError) as exc:
        error = _failure(exc, limits, series["max_print_bytes"])
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    return {
        "ok": not error,
        "signals": [] if error else signals,
        "errors": [] if error else errors,
        "error": error,
        "output": output.getvalue(),
    }


def confine_child(workdir: str) -> None:
    """Everything a child adds, before it reads its request, to the namespaces it shares
    with its server (user, mount, network, IPC, UTS: made for that server, empty) and
    its own pid namespace: no capability, Landlock (read the standard library and this
    directory, write ``workdir`` only) and the strict seccomp filter. (A network and an
    IPC namespace per child would cost several milliseconds each, on the worker's CPU;
    sockets and SysV/POSIX IPC are denied by seccomp, abstract sockets by Landlock.)"""
    try:
        drop_capabilities()
    except OSError as exc:
        raise ConfinementError(f"capabilities: {exc.strerror}") from None
    restrict_files({STDLIB_DIR: FS_READ, SANDBOX_DIR: FS_READ, workdir: FS_WRITE})
    CHILD_FILTER.install()


def apply_limits(limits: dict[str, Any]) -> None:
    """Lower this process's resource limits; the kernel enforces them on the strategy.
    The soft CPU limit raises CpuLimitExceeded (a handled SIGXCPU: as pid 1 of its
    namespace the child would ignore the default one); the hard limit a second later is
    a SIGKILL, which the worker recognises by the CPU time the child used."""
    mb = 1024 * 1024
    cpu = int(limits["cpu_seconds"])
    signal.signal(signal.SIGXCPU, _cpu_limit_reached)
    _set_limit(resource.RLIMIT_CPU, cpu, cpu + 1)
    for name, value in (
        ("RLIMIT_AS", limits["memory_mb"] * mb),
        ("RLIMIT_FSIZE", limits["file_size_mb"] * mb),
        ("RLIMIT_NOFILE", limits["open_files"]),
        ("RLIMIT_NPROC", limits["processes"]),
        ("RLIMIT_CORE", 0),
        ("RLIMIT_MEMLOCK", 0),
        ("RLIMIT_MSGQUEUE", 0),
    ):
        _set_limit(getattr(resource, name), value, value)


def _set_limit(which: int, soft: int, hard: int) -> None:
    _, current = resource.getrlimit(which)
    if current != resource.RLIM_INFINITY:
        hard = min(hard, current)  # only ever lower: it could not be raised again
        soft = min(soft, hard)
    resource.setrlimit(which, (soft, hard))


# --------------------------------------------------------------------------- warm server

# A child that could not confine itself exits with this code, its reason on fd 2.
CONFINEMENT_FAILED_EXIT = 121
_CHILD_FDS = 4  # 0 request (read), 1 and 2 diagnostics, 3 answer


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _child_main(workdir: str, fds: tuple[int, int, int], confined: bool) -> NoReturn:
    """The child: confine, then (only then) read the request, run it, answer, exit."""
    code = 70
    try:
        # Dies with the server; when confined, also as a member of its pid namespace.
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        request_fd, answer_fd, diag_fd = fds
        for target, fd in ((0, request_fd), (1, diag_fd), (2, diag_fd), (3, answer_fd)):
            os.dup2(fd, target)
        os.closerange(_CHILD_FDS, 1 << 16)
        os.chdir(workdir)
        try:
            if confined:
                confine_child(workdir)
            else:
                CHILD_FILTER.install()
        except ConfinementError as exc:
            _write_all(2, f"sandbox confinement failed: {exc}".encode())
            code = CONFINEMENT_FAILED_EXIT
            return  # the finally exits: the request is never read
        request = json.loads(_read_all(0))
        apply_limits(request["limits"])
        answer = execute(request)
        answer["id"] = request["id"]
        _write_all(3, json.dumps(answer).encode())
        # Closed now, not at exit (which tears the memory down first): the worker reads
        # the end of the answer at once. os._exit: no atexit handler or non-daemon thread
        # of the strategy runs after this.
        os.closerange(1, _CHILD_FDS)
        code = 0
    finally:
        os._exit(code)


def _remove_tree(path: str) -> None:
    """Remove a child's work directory whatever modes it left (it owns what it wrote)."""
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            os.chmod(entry.path, 0o700)
            _remove_tree(entry.path)
        else:
            os.unlink(entry.path)
    os.rmdir(path)


class _Server:
    """The warm server (see the module docstring). It never reads a request or an
    answer: those go straight between the worker and the child through the child's pipes.

    It keeps one confined child on offer: when the worker takes it (a ``take`` message)
    the next one is made while the first runs, so confining a child costs the worker
    nothing. A child ends: its work directory is removed, its end is reported."""

    def __init__(self, control: socket.socket, work_root: str, pidns_fd: int | None) -> None:
        self.control = control
        self.work_root = work_root
        self.pidns_fd = pidns_fd  # None when unconfined: children share our pid namespace
        self.number = 0
        self.children: dict[int, tuple[int, int, str]] = {}  # pidfd: (number, pid, workdir)

    def send(self, message: dict[str, Any], fds: list[int] = ()) -> None:
        socket.send_fds(self.control, [json.dumps(message).encode()], list(fds))

    def offer(self) -> None:
        """Make the next child and hand its pipes and pidfd to the worker."""
        self.number += 1
        workdir = os.path.join(self.work_root, str(self.number))
        os.mkdir(workdir, 0o700)
        request_r, request_w = os.pipe()
        answer_r, answer_w = os.pipe()
        diag_r, diag_w = os.pipe()
        if self.pidns_fd is not None:
            _unshare(CLONE_NEWPID)  # the child is pid 1 of a namespace of its own
        pid = os.fork()
        if pid == 0:
            for fd in (request_w, answer_r, diag_r, *self.children):
                os.close(fd)
            _child_main(workdir, (request_r, answer_w, diag_w), self.pidns_fd is not None)
        if self.pidns_fd is not None:
            _libc_call("setns", self.pidns_fd, CLONE_NEWPID)
        for fd in (request_r, answer_w, diag_w):
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        self.children[pidfd] = (self.number, pid, workdir)
        handed = [request_w, answer_r, diag_r, pidfd]
        try:
            self.send({"ready": self.number}, handed)
        finally:
            for fd in handed[:3]:
                os.close(fd)  # the worker's now: we never touch a tenant's channel

    def reap(self, pidfd: int) -> None:
        number, pid, workdir = self.children.pop(pidfd)
        os.close(pidfd)
        _, status, usage = os.wait4(pid, 0)
        _remove_tree(workdir)
        self.send(
            {
                "exited": number,
                "returncode": os.waitstatus_to_exitcode(status),
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
            }
        )

    def loop(self, *, once: bool) -> None:
        """Until the worker hangs up (``once``: until the one child ended)."""
        self.offer()
        control = self.control.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(control, selectors.EVENT_READ)
            while True:
                for pidfd in self.children.keys() - selector.get_map().keys():
                    selector.register(pidfd, selectors.EVENT_READ)
                for key, _ in selector.select():
                    if key.fd != control:
                        selector.unregister(key.fd)
                        self.reap(key.fd)
                        if once:
                            return
                        continue
                    data = os.read(control, CONTROL_MESSAGE_BYTES)
                    if not data:
                        return  # the worker hung up; our exit takes the children along
                    if not once and json.loads(data) == {"take": self.number}:
                        self.offer()


def _limit_server() -> None:
    """The server's own rlimits: no core, no locked memory or message queue, few files,
    no file larger than the work tmpfs (its children lower all of them further)."""
    for name, value in (
        ("RLIMIT_CORE", 0),
        ("RLIMIT_MEMLOCK", 0),
        ("RLIMIT_MSGQUEUE", 0),
        ("RLIMIT_NOFILE", 256),
        ("RLIMIT_FSIZE", WORK_TMPFS_BYTES),
    ):
        _set_limit(getattr(resource, name), value, value)


def serve(control: socket.socket, proc_fd: int | None, work_root: str, *, once: bool) -> None:
    """The server process (pid 1 of its pid namespace when confined): confine, then make
    children one after the other until the worker closes the socket (``once``: one)."""
    pidns_fd = None
    _limit_server()
    try:
        if proc_fd is not None:
            pidns_fd = os.open("self/ns/pid", os.O_RDONLY | os.O_CLOEXEC, dir_fd=proc_fd)
            os.close(proc_fd)
            try:
                drop_capabilities(keep=(CAP_SYS_ADMIN, CAP_SETPCAP))
            except OSError as exc:
                raise ConfinementError(f"capabilities: {exc.strerror}") from None
            restrict_files({STDLIB_DIR: FS_READ, SANDBOX_DIR: FS_READ, work_root: FS_WRITE})
        install_seccomp(DENIED_ALWAYS, threads_only=False)
    except ConfinementError as exc:
        socket.send_fds(control, [json.dumps({"error": str(exc)}).encode()], [])
        return
    # Everything imported so far is shared with the children: keep the collector off it,
    # so that a child's collections do not copy every page of it (copy-on-write).
    gc.freeze()
    _Server(control, work_root, pidns_fd).loop(once=once)


def main() -> None:
    """``_runtime.py run|serve <control fd> full|none [work root]``: the outer process."""
    os.environ.clear()  # the parent passes none; also drop what the interpreter itself set
    sys.dont_write_bytecode = True  # never write .pyc files next to the project's code
    mode, control_fd, confinement = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    load_indicators()
    control = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET, 0, fileno=control_fd)
    confined = confinement == "full"
    proc_fd = None
    try:
        if confined:
            proc_fd = confine_process()
    except ConfinementError as exc:
        socket.send_fds(control, [json.dumps({"error": str(exc)}).encode()], [])
        sys.exit(1)
    work_root = WORK_ROOT if confined else sys.argv[4]
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            serve(control, proc_fd, work_root, once=mode == "run")
            code = 0
        finally:
            os._exit(code)
    control.close()
    if proc_fd is not None:
        os.close(proc_fd)
    if confined:
        # Nothing left to do but wait: no capability, no file, no new process.
        drop_capabilities()
        restrict_files({})
        CHILD_FILTER.install()
    _, status = os.waitpid(pid, 0)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


if __name__ == "__main__":
    main()
