"""What every benchmark shares: a throwaway PostgreSQL database, Redis db 8, production-like
settings (DEBUG off, throwaway secrets), Django set up against them, and a description of
the machine.

A benchmark never touches another database: it creates ``bench_tradeplatform_<name>`` on the
server of ``DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432``), migrates it,
and drops it at the end, even after an error or Ctrl-C. Redis db ``BENCH_REDIS_DB`` (8) is
flushed before and after.
"""

from __future__ import annotations

import contextlib
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# Celery puts the working directory first on sys.path when it loads its configuration:
# run from another checkout, a benchmark would time that checkout's code.
os.chdir(ROOT)

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "8"))
VENV_BIN = Path(sys.executable).parent


def _server_url() -> str:
    url = os.environ.get("BENCH_DATABASE_SERVER") or os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        url = DEFAULT_SERVER
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def _redis_url() -> str:
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{REDIS_DB}", "", ""))


def _broker_keys() -> tuple[str, str]:
    from accounts.crypto import keypair_generate

    return keypair_generate()


# A throwaway key pair for broker credentials: every process of a benchmark gets the
# public half, only an orders worker it starts the private one (BROKER_PRIVATE_KEYS).
BENCH_BROKER_KEYS = _broker_keys()


def bench_env(name: str) -> dict[str, str]:
    """The environment of the benchmark and of every server or worker it starts:
    production settings (DEBUG off) with throwaway secrets, on loopback, without the
    HTTPS redirect."""
    database = f"bench_tradeplatform_{name}"
    return {
        "DJANGO_SETTINGS_MODULE": "tradeplatform.settings",
        "DEBUG": "0",
        "DATABASE_URL": f"{_server_url()}/{database}",
        "REDIS_URL": _redis_url(),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "JWT_SIGNING_KEY": secrets.token_urlsafe(50),
        "BROKER_PUBLIC_KEY": BENCH_BROKER_KEYS[1],
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        "SECURE_HSTS_SECONDS": "0",
        "JWT_ACCESS_MINUTES": "120",
        "LOG_LEVEL": "WARNING",
        "CELERY_TASK_ALWAYS_EAGER": "0",
    }


def _admin_connection():
    import psycopg

    return psycopg.connect(f"{_server_url()}/postgres", autocommit=True)


def _drop(connection, database: str) -> None:
    connection.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        [database],
    )
    connection.execute(f'DROP DATABASE IF EXISTS "{database}"')


def _flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


@contextlib.contextmanager
def bench_database(name: str) -> Iterator[dict[str, str]]:
    """Create the benchmark's database, point this process at it (environment and
    ``django.setup()``), migrate; drop it and flush Redis db 8 on the way out."""
    env = bench_env(name)
    database = urlsplit(env["DATABASE_URL"]).path.lstrip("/")
    os.environ.update(env)
    with _admin_connection() as connection:
        _drop(connection, database)  # a run killed with SIGKILL left it behind
        connection.execute(f'CREATE DATABASE "{database}"')
    _flush_redis(env["REDIS_URL"])
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)
        yield env
    finally:
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        with _admin_connection() as connection:
            _drop(connection, database)
        _flush_redis(env["REDIS_URL"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(process: subprocess.Popen, *, timeout: float = 15) -> None:
    """Stop a server or worker this benchmark started (and only that one)."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = "unknown memory"
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
                break
    return (
        f"{os.cpu_count()} CPUs ({model}), {memory}, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


def header(title: str) -> None:
    print(f"== {title}")
    print(f"machine: {machine()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")


class Timer:
    def __enter__(self) -> Timer:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started
