"""Candles from CSV: `time,open,high,low,close,volume`.

`time` is the candle's open time, ISO 8601 (a time without an offset is UTC) or epoch
seconds (a number of 1e11 or more is read as epoch milliseconds, as exchanges export
them). A first row that names the columns is a header and may put them in any order
(`timestamp`, `date` or `open_time` are accepted for `time`); without a header the first
six columns are used in that order and further columns are ignored. Blank lines and lines
starting with `#` are skipped.

`read_candle_csv` yields, per data line, a `CsvRow` or a `CsvRejection` with the line
number and the reason, so one bad line never stops the good ones.
"""

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path

from django.utils import timezone

from marketdata.candles import Bar, candle_close_of, is_candle_aligned, resolution_delta

from .base import Clock, closed_bars_in_range, require_utc

COLUMNS = ("time", "open", "high", "low", "close", "volume")
_TIME_ALIASES = {"time", "timestamp", "date", "datetime", "open_time", "opentime"}
# The Candle columns hold 8 decimal places and at most 16 digits before the point.
DECIMAL_STEP = Decimal("0.00000001")
MAX_VALUE = Decimal(10) ** 16
_EPOCH_MS_THRESHOLD = Decimal(10) ** 11


class CsvFormatError(ValueError):
    """The file as a whole cannot be read (an unusable header)."""


@dataclass(frozen=True)
class CsvRow:
    line: int
    bar: Bar


@dataclass(frozen=True)
class CsvRejection:
    line: int
    reason: str


class _Rejected(Exception):
    pass


def parse_candle_time(text: str) -> datetime:
    """An aware UTC datetime from ISO 8601 or epoch seconds (milliseconds from 1e11 up)."""
    text = text.strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    if number is not None:
        if not number.is_finite():
            raise ValueError(f"bad time {text!r}")
        if abs(number) >= _EPOCH_MS_THRESHOLD:
            number /= 1000
        try:
            return datetime.fromtimestamp(float(number), tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"bad time {text!r}") from None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"bad time {text!r}") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True


def _decimal(name: str, text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise _Rejected(f"{name} is not a number: {text.strip()[:30]!r}") from None
    if not value.is_finite():
        raise _Rejected(f"{name} is not a finite number: {text.strip()[:30]!r}")
    if value < 0:
        raise _Rejected(f"{name} is negative")
    if value >= MAX_VALUE:
        raise _Rejected(f"{name} is too large")
    return value.quantize(DECIMAL_STEP, rounding=ROUND_HALF_EVEN)


def _header_positions(cells: list[str]) -> dict[str, int] | None:
    """Column positions when `cells` is a header row, None when it is data."""
    names = [cell.strip().lower() for cell in cells]
    if any(_is_number(name) for name in names[: len(COLUMNS)]):
        return None
    try:
        parse_candle_time(cells[0])
        return None
    except ValueError:
        pass
    positions = {}
    for index, name in enumerate(names):
        key = "time" if name in _TIME_ALIASES else name
        if key in COLUMNS and key not in positions:
            positions[key] = index
    missing = [column for column in COLUMNS if column not in positions]
    if missing:
        raise CsvFormatError(f"the header row lacks the column(s): {', '.join(missing)}")
    return positions


def _parse_row(cells: list[str], positions: dict[str, int], resolution: int, now) -> Bar:
    if len(cells) <= max(positions.values()):
        raise _Rejected(f"expected {len(COLUMNS)} columns, found {len(cells)}")
    value = {column: cells[index] for column, index in positions.items()}
    try:
        open_time = parse_candle_time(value["time"])
    except ValueError as exc:
        raise _Rejected(str(exc)[:60]) from None
    prices = {name: _decimal(name, value[name]) for name in ("open", "high", "low", "close")}
    volume = _decimal("volume", value["volume"])
    for name, price in prices.items():
        if price == 0:
            raise _Rejected(f"{name} must be positive")
    if prices["high"] < prices["low"]:
        raise _Rejected("high is below low")
    if prices["high"] < max(prices["open"], prices["close"]):
        raise _Rejected("high is below open or close")
    if prices["low"] > min(prices["open"], prices["close"]):
        raise _Rejected("low is above open or close")
    if not is_candle_aligned(open_time, resolution):
        raise _Rejected(
            f"open time {open_time.isoformat()} is not on a {resolution}-minute boundary"
        )
    if candle_close_of(open_time, resolution) > now:
        raise _Rejected(f"candle opening at {open_time.isoformat()} has not closed yet")
    return Bar(open_time=open_time, volume=volume, **prices)


def read_candle_csv(
    lines: Iterable[str], *, resolution: int, now: datetime | None = None
) -> Iterator[CsvRow | CsvRejection]:
    """Each data line of the file as a `CsvRow` or a `CsvRejection` (line numbers count
    from 1, header and blank lines included). Raises CsvFormatError for a bad header."""
    resolution_delta(resolution)
    now = require_utc(now or timezone.now(), "now")
    reader = csv.reader(lines)
    positions: dict[str, int] | None = None
    seen: dict[datetime, int] = {}
    for cells in reader:
        line = reader.line_num
        if not cells or not "".join(cells).strip() or cells[0].lstrip().startswith("#"):
            continue
        if positions is None:
            positions = _header_positions(cells)
            if positions is not None:
                continue
            positions = {column: index for index, column in enumerate(COLUMNS)}
        try:
            bar = _parse_row(cells, positions, resolution, now)
        except _Rejected as exc:
            yield CsvRejection(line=line, reason=str(exc))
            continue
        if bar.open_time in seen:
            yield CsvRejection(line=line, reason=f"duplicate of line {seen[bar.open_time]}")
            continue
        seen[bar.open_time] = line
        yield CsvRow(line=line, bar=bar)


class CsvProvider:
    """Reads `<directory>/<SYMBOL>-<RESOLUTION>.csv`; a missing file has no candles. The
    file is read in full on every call: meant for development and offline replays."""

    name = "csv"

    def __init__(self, *, directory: str | Path, clock: Clock = timezone.now):
        self.directory = Path(directory)
        self.clock = clock

    def path_for(self, symbol: str, resolution: int) -> Path:
        return self.directory / f"{symbol.replace('/', '').upper()}-{int(resolution)}.csv"

    def fetch_candles(
        self, *, symbol: str, resolution: int, start: datetime, end: datetime
    ) -> list[Bar]:
        path = self.path_for(symbol, resolution)
        if not path.is_file():
            return []
        now = require_utc(self.clock(), "now")
        with path.open(newline="", encoding="utf-8-sig") as handle:
            bars = [
                item.bar
                for item in read_candle_csv(handle, resolution=resolution, now=now)
                if isinstance(item, CsvRow)
            ]
        return closed_bars_in_range(
            bars,
            resolution=resolution,
            start=require_utc(start, "start"),
            end=require_utc(end, "end"),
            now=now,
        )
