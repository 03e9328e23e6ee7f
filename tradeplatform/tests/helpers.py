"""Helpers shared by the test suites of several apps."""

import threading

from django.db import connection

from tradeplatform.api import ApplicationError


def database_url() -> str:
    """The test database as a URL, for a process started by a test."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}"
    )


THREADS = 6


def race(work) -> list:
    """Run `work()` in THREADS threads released together; each outcome is a value or an
    ApplicationError."""
    barrier = threading.Barrier(THREADS)
    outcomes: list = []
    lock = threading.Lock()

    def run():
        try:
            barrier.wait()
            outcome = work()
        except ApplicationError as exc:
            outcome = exc
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes
