from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from marketdata.models import Candle

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, tzinfo=UTC)

MIXED = """time,open,high,low,close,volume
2026-01-01T00:00:00Z,100,110,95,105,10
2026-01-01T00:05:00Z,abc,110,95,105,10
2026-01-01T00:10:00Z,100,90,95,92,10
2026-01-01T00:15:00Z,100,110,95,105,-1
2026-01-01T00:20:00Z,NaN,110,95,105,10
not-a-time,100,110,95,105,10
2099-01-01T00:00:00Z,100,110,95,105,10
2026-01-01T00:07:00Z,100,110,95,105,10
2026-01-01T00:00:00Z,101,110,95,105,10
1767226500,100,110,95,105,10
2026-01-01 00:25:00,100,110,95,105.5,10

2026-01-01T00:30:00+01:00,100,110,95,105,10
2026-01-01T00:40:00Z,100,110,95,105
2026-01-01T00:45:00Z,100,110,106,105,10
"""


def run(path, symbol="BTCUSDT", resolution=5):
    out = StringIO()
    call_command("import_candles", str(path), symbol=symbol, resolution=resolution, stdout=out)
    return out.getvalue()


def test_good_rows_are_stored_and_each_bad_row_is_reported(tmp_path):
    path = tmp_path / "btc.csv"
    path.write_text(MIXED)
    output = run(path)
    assert "4 new, 0 updated, 0 unchanged, 10 rejected" in output
    for line, reason in [
        (3, "open is not a number"),
        (4, "high is below low"),
        (5, "volume is negative"),
        (6, "open is not a finite number"),
        (7, "bad time 'not-a-time'"),
        (8, "has not closed yet"),
        (9, "not on a 5-minute boundary"),
        (10, "duplicate of line 2"),
        (15, "expected 6 columns, found 5"),
        (16, "low is above open or close"),
    ]:
        reported = [row for row in output.splitlines() if row.startswith(f"line {line}: ")]
        assert len(reported) == 1 and reason in reported[0], (line, reported)
    stored = dict(
        Candle.objects.filter(symbol="BTCUSDT", resolution=5).values_list("open_time", "close")
    )
    assert stored == {
        T0: Decimal("105"),
        T0 + timedelta(minutes=15): Decimal("105"),  # epoch seconds
        T0 + timedelta(minutes=25): Decimal("105.5"),  # ISO without offset is UTC
        T0 - timedelta(minutes=30): Decimal("105"),  # +01:00 converted to UTC
    }


def test_reimport_reports_updated_and_unchanged(tmp_path):
    path = tmp_path / "btc.csv"
    path.write_text(MIXED)
    run(path)
    path.write_text(
        MIXED.replace("2026-01-01 00:25:00,100,110,95,105.5", "2026-01-01 00:25:00,100,110,95,106")
    )
    output = run(path)
    assert "0 new, 1 updated, 3 unchanged, 10 rejected" in output
    assert Candle.objects.get(open_time=T0 + timedelta(minutes=25)).close == Decimal("106")
    assert Candle.objects.count() == 4


def test_file_without_header_with_epoch_seconds_and_milliseconds(tmp_path):
    path = tmp_path / "eth.csv"
    path.write_text(
        "1767225600,3000.5,3010,2990,3005.25,12.5\n"
        "1767229200000,3005,3020,3000,3015,8,extra,columns\n"
    )
    output = run(path, symbol="ethusdt", resolution=60)
    assert "ETHUSDT:60" in output and "2 new, 0 updated, 0 unchanged, 0 rejected" in output
    candles = list(Candle.objects.filter(symbol="ETHUSDT", resolution=60))
    assert [c.open_time for c in candles] == [T0, T0 + timedelta(hours=1)]
    assert candles[0].open == Decimal("3000.5") and candles[0].volume == Decimal("12.5")


def test_header_columns_may_come_in_any_order(tmp_path):
    path = tmp_path / "btc.csv"
    # As a spreadsheet saves it: a byte-order mark before the header.
    path.write_text(
        "\ufeffTimestamp,Volume,Open,High,Low,Close\n2026-01-01T00:00:00Z,7,1,3,0.5,2\n"
    )
    assert "1 new" in run(path, resolution=1)
    candle = Candle.objects.get()
    assert (candle.open, candle.high, candle.low, candle.close, candle.volume) == (
        1,
        3,
        Decimal("0.5"),
        2,
        7,
    )


def test_unusable_files_are_command_errors(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        run(tmp_path / "missing.csv")
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("when,price\n2026-01-01T00:00:00Z,1\n")
    with pytest.raises(CommandError, match="lacks the column"):
        run(bad_header)
    with pytest.raises(CommandError):
        run(bad_header, resolution=7)
    with pytest.raises(CommandError, match="Invalid symbol"):
        run(bad_header, symbol="BTC USDT")
    assert not Candle.objects.exists()
