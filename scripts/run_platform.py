"""`make run`: prepare the database and start web, worker and beat under honcho."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, check=True)


def main() -> int:
    manage("migrate", "--noinput")
    manage("setup_periodic_tasks")
    manage("collectstatic", "--noinput", "--verbosity", "0")
    port = os.environ.setdefault("PORT", "8000")
    print(f"\ntradeplatform: http://127.0.0.1:{port}/  (admin: /admin/, API: /api/)\n", flush=True)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.call([str(BIN / "honcho"), "start", "-f", "Procfile"], cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
