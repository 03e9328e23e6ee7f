"""`manage.py import_candles FILE --symbol BTCUSDT --resolution 5`: load candles from a
CSV file (`time,open,high,low,close,volume`, see marketdata.providers.csv_file)."""

import sys

from django.core.management.base import BaseCommand, CommandError

from marketdata.candles import RESOLUTIONS
from marketdata.providers.csv_file import CsvFormatError, CsvRejection, read_candle_csv
from marketdata.services import UpsertReport, candles_upsert

BATCH = 5000


class Command(BaseCommand):
    help = (
        "Import closed candles from a CSV file (time,open,high,low,close,volume; time in "
        "ISO 8601 or epoch seconds; header optional). Existing candles are updated; bad "
        "rows are reported with their line number and skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the CSV file, or - for standard input")
        parser.add_argument("--symbol", required=True, help="e.g. BTCUSDT")
        parser.add_argument("--resolution", required=True, type=int, choices=RESOLUTIONS)

    def handle(self, *args, file: str, symbol: str, resolution: int, **options):
        symbol = symbol.replace("/", "").strip().upper()
        if not symbol.isalnum() or len(symbol) > 30:
            raise CommandError(f"Invalid symbol {symbol!r}")
        try:
            handle = sys.stdin if file == "-" else open(file, newline="", encoding="utf-8-sig")  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from None
        totals = {"new": 0, "updated": 0, "unchanged": 0}
        rejections: list[CsvRejection] = []
        batch = []

        def flush():
            report: UpsertReport = candles_upsert(symbol=symbol, resolution=resolution, bars=batch)
            for name in totals:
                totals[name] += getattr(report, name)
            batch.clear()

        try:
            with handle:
                for item in read_candle_csv(handle, resolution=resolution):
                    if isinstance(item, CsvRejection):
                        rejections.append(item)
                        continue
                    batch.append(item.bar)
                    if len(batch) >= BATCH:
                        flush()
                flush()
        except CsvFormatError as exc:
            raise CommandError(f"{file}: {exc}") from None
        except UnicodeDecodeError:
            raise CommandError(f"{file} is not UTF-8 text") from None

        for rejection in rejections:
            self.stdout.write(f"line {rejection.line}: rejected: {rejection.reason}")
        summary = (
            f"{symbol}:{resolution} from {file}: {totals['new']} new, {totals['updated']} "
            f"updated, {totals['unchanged']} unchanged, {len(rejections)} rejected"
        )
        style = self.style.WARNING if rejections else self.style.SUCCESS
        self.stdout.write(style(summary))
