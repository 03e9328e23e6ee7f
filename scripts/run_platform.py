"""`make run`: prepare the database and start web, the workers (candle closes, backtests,
orders) and beat under honcho.

Steps, each idempotent, so a second `make run` reuses the data of the first:
migrate, collectstatic, the Celery Beat schedule (`setup_periodic_tasks`), the demo data
(`seed_demo`: users, example strategies, subscriptions, candles for their lookback), the
candle registry in Redis (`rebuild_registry`: Redis may be new even when the database is
not), then `honcho start -f Procfile` until Ctrl-C.

Ctrl-C (or SIGTERM) is handed to honcho, which sends SIGTERM to each process group it
started (gunicorn, the Celery workers, Celery beat) and SIGKILL to what is left after 5 s;
this script returns when honcho has.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, check=True)


def run_honcho(env: dict) -> int:
    honcho = subprocess.Popen([str(BIN / "honcho"), "start", "-f", "Procfile"], cwd=ROOT, env=env)

    def pass_on(signum, frame):
        # honcho stops everything on the first SIGINT/SIGTERM and ignores repeats.
        if honcho.poll() is None:
            honcho.send_signal(signum)

    signal.signal(signal.SIGINT, pass_on)
    signal.signal(signal.SIGTERM, pass_on)
    return honcho.wait()


def main() -> int:
    manage("migrate", "--noinput")
    manage("collectstatic", "--noinput", "--verbosity", "0")
    manage("setup_periodic_tasks")
    manage("seed_demo")
    manage("rebuild_registry")
    host = os.environ.setdefault("HOST", "127.0.0.1")
    port = os.environ.setdefault("PORT", "8000")
    base = f"http://{host}:{port}"
    print(
        f"""
tradeplatform is starting at {base}/
  landing page   {base}/
  API docs       {base}/api/docs/   (Redoc: {base}/api/redoc/)
  browsable API  {base}/api/strategy-upload/strategies
  admin          {base}/admin/
  health         {base}/health
demo logins: see `seed_demo` above (admin@example.com for /admin/, demo@example.com for the API)
Ctrl-C stops everything.
""",
        flush=True,
    )
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return run_honcho(env)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        # Ctrl-C during the preparation steps: nothing of the platform runs yet.
        sys.exit(130)
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode)
