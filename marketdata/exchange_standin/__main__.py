import argparse
import signal
import sys
import threading
from pathlib import Path

from .server import StandInExchange


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m marketdata.exchange_standin")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state", type=Path, default=None, help="journal file")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per answer")
    parser.add_argument("--rate-limit", type=float, default=None, help="requests per second")
    args = parser.parse_args()
    standin = StandInExchange(
        state_file=args.state, latency=args.latency, rate_limit=args.rate_limit, port=args.port
    )
    standin.start()
    print(standin.url, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
