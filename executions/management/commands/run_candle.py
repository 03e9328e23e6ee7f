from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from executions.engine import candle_close_run
from executions.management.arguments import aware_datetime
from marketdata.candles import RESOLUTIONS, candle_close_floor, is_candle_aligned
from tradeplatform.formatting import iso_utc


class Command(BaseCommand):
    help = (
        "Run one candle close synchronously: ensure the candle, then run every strategy "
        "registered on it (the same flow as the Celery tick, without Celery)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--symbol", required=True)
        parser.add_argument("--resolution", type=int, required=True, choices=RESOLUTIONS)
        parser.add_argument("--close", help="candle close (ISO 8601, UTC); default: the last")

    def handle(self, *args, symbol, resolution, close, **options):
        if close is None:
            candle_close = candle_close_floor(timezone.now(), resolution)
        else:
            candle_close = aware_datetime(close, "--close")
            if not is_candle_aligned(candle_close, resolution):
                raise CommandError(f"{close} is not a {resolution}-minute candle boundary")
        runs = candle_close_run(symbol=symbol, resolution=resolution, candle_close=candle_close)
        self.stdout.write(f"{symbol.upper()}:{resolution} close {iso_utc(candle_close)}")
        if not runs:
            self.stdout.write("no strategy is registered on this candle")
        for code, execution in runs:
            if execution is None:
                self.stdout.write(f"{code}: already run (or running) for this close")
                continue
            action = (execution.signal or {}).get("action", "-")
            line = (
                f"{code}: {execution.status} signal={action} "
                f"trades={execution.trades_created} {execution.duration_ms}ms"
            )
            if execution.error_message:
                line += f" ({execution.error_message})"
            self.stdout.write(line)
