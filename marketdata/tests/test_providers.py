import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from marketdata.candles import Bar
from marketdata.exchange_standin import CCXT_OPTIONS, StandInExchange
from marketdata.models import Candle
from marketdata.providers import MarketDataError, get_provider
from marketdata.providers import exchange as exchange_module
from marketdata.providers.csv_file import CsvProvider
from marketdata.providers.exchange import CcxtProvider
from marketdata.providers.synthetic import SyntheticMarket, SyntheticProvider
from marketdata.selectors import candles_window
from marketdata.services import (
    UpsertReport,
    candle_ensure,
    candles_backfill,
    candles_upsert,
)
from marketdata.tests.factories import CandleFactory

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def fixed_clock(moment):
    return lambda: moment


class RecordingProvider:
    """A real provider that also notes each call, to count provider round trips."""

    name = "recording"

    def __init__(self, inner):
        self.inner = inner
        self.calls = []

    def fetch_candles(self, **kwargs):
        self.calls.append(kwargs)
        return self.inner.fetch_candles(**kwargs)


class EmptyProvider:
    name = "empty"

    def fetch_candles(self, **kwargs):
        return []


def synthetic(symbol="BTCUSDT", resolution=1, start=T0, count=100, clock=None):
    provider = SyntheticProvider(clock=clock) if clock else SyntheticProvider()
    return provider.fetch_candles(
        symbol=symbol,
        resolution=resolution,
        start=start,
        end=start + timedelta(minutes=resolution * count),
    )


# --- synthetic provider ---------------------------------------------------------------


def test_synthetic_is_deterministic_and_each_bar_stands_alone():
    bars = synthetic(count=50)
    assert bars == synthetic(count=50)
    assert [bar.open_time for bar in bars] == [T0 + MINUTE * i for i in range(50)]
    # Any single candle is produced on its own, identical to the one in a long run.
    alone = synthetic(start=T0 + MINUTE * 37, count=1)
    assert alone == [bars[37]]


def test_synthetic_bars_are_well_formed():
    for resolution in (1, 5, 60, 240, 1440):
        bars = synthetic(resolution=resolution, count=60)
        assert len(bars) == 60
        for bar in bars:
            assert bar.high >= max(bar.open, bar.close)
            assert bar.low <= min(bar.open, bar.close)
            assert bar.low > 0
            assert bar.volume > 0
            assert bar.open.as_tuple().exponent == -2  # BTCUSDT prices in cents
            assert bar.open_time.tzinfo == UTC


def test_synthetic_opens_and_closes_agree_across_resolutions():
    one_minute = synthetic(resolution=1, count=15)
    five_minute = synthetic(resolution=5, count=3)
    for index, bar in enumerate(five_minute):
        assert bar.open == one_minute[index * 5].open
        assert bar.close == one_minute[index * 5 + 4].close


@pytest.mark.parametrize(
    ("symbol", "low", "high"),
    [("BTCUSDT", 40_000, 70_000), ("ETHUSDT", 2_000, 4_000)],
)
def test_synthetic_prices_stay_in_a_realistic_band_forever(symbol, low, high):
    market = SyntheticMarket(symbol)
    floor, ceiling = market.price_bounds()
    assert low <= floor and ceiling <= high
    # ... and actually wander within that band over the years.
    start = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp()) // 60
    prices = [market.price(start + minute) for minute in range(0, 60 * 24 * 365 * 8, 997)]
    assert floor <= min(prices) and max(prices) <= ceiling
    assert max(prices) / min(prices) > 1.2


def test_synthetic_other_symbols_get_a_stable_base_from_their_name():
    first = synthetic(symbol="FOOUSDT", count=3)
    assert first == synthetic(symbol="FOOUSDT", count=3)
    assert first[0].open != synthetic(symbol="BARUSDT", count=3)[0].open
    assert all(bar.low > 0 for bar in first)


def test_synthetic_never_returns_a_candle_that_has_not_closed():
    now = T0 + MINUTE * 10 + timedelta(seconds=30)
    bars = synthetic(count=20, clock=fixed_clock(now))
    assert len(bars) == 10
    assert bars[-1].open_time + MINUTE <= now
    # Exactly at a boundary the candle that closes then is included.
    assert len(synthetic(count=20, clock=fixed_clock(T0 + MINUTE * 10))) == 10


def test_synthetic_range_is_half_open_and_starts_at_the_next_boundary():
    provider = SyntheticProvider()
    bars = provider.fetch_candles(
        symbol="BTCUSDT",
        resolution=5,
        start=T0 + timedelta(minutes=2),
        end=T0 + timedelta(minutes=20),
    )
    assert [bar.open_time for bar in bars] == [T0 + timedelta(minutes=m) for m in (5, 10, 15)]


def _sma(values, n):
    return [sum(values[i - n + 1 : i + 1]) / n for i in range(n - 1, len(values))]


def _rsi(closes, n=14):
    values = []
    for i in range(n, len(closes)):
        changes = [closes[j] - closes[j - 1] for j in range(i - n + 1, i + 1)]
        gain = sum(c for c in changes if c > 0)
        loss = -sum(c for c in changes if c < 0)
        values.append(100 if loss == 0 else 100 - 100 / (1 + gain / loss))
    return values


def _atr(bars, n=14):
    ranges = [
        max(b.high - b.low, abs(b.high - p.close), abs(b.low - p.close))
        for p, b in itertools.pairwise(bars)
    ]
    return sum(ranges[-n:]) / n


def test_synthetic_moves_enough_for_simple_strategies_to_trade():
    bars = synthetic(count=600)
    closes = [bar.close for bar in bars]
    fast, slow = _sma(closes, 5)[15:], _sma(closes, 20)
    crossings = sum(
        1 for i in range(1, len(slow)) if (fast[i] > slow[i]) != (fast[i - 1] > slow[i - 1])
    )
    assert crossings >= 10
    rsi = _rsi(closes)
    assert min(rsi) < 30 and max(rsi) > 70


def test_synthetic_stops_and_targets_are_hit_within_a_few_dozen_minutes():
    bars = synthetic(count=1200)
    resolved = []
    for entry in range(20, 1100, 25):
        atr = _atr(bars[entry - 15 : entry + 1])
        close = bars[entry].close
        stop, target = close - Decimal("1.5") * atr, close + 3 * atr
        hit = next(
            (
                i - entry
                for i in range(entry + 1, entry + 61)
                if bars[i].low <= stop or bars[i].high >= target
            ),
            None,
        )
        resolved.append(hit)
    assert sum(1 for hit in resolved if hit is not None) >= 0.9 * len(resolved)


# --- provider selection ---------------------------------------------------------------


def test_get_provider_follows_the_setting(settings, tmp_path):
    assert get_provider().name == "synthetic"
    settings.MARKET_DATA_PROVIDER = "ccxt"
    settings.MARKET_DATA_EXCHANGE = "kraken"
    provider = get_provider()
    assert isinstance(provider, CcxtProvider) and provider.exchange_id == "kraken"
    settings.MARKET_DATA_PROVIDER = "csv"
    settings.MARKET_DATA_CSV_DIR = tmp_path
    assert isinstance(get_provider(), CsvProvider)
    with pytest.raises(MarketDataError, match="Unknown market data provider"):
        get_provider("yahoo")


# --- ccxt provider against a stand-in Binance on loopback ---------------------------


def _klines(start, count, minutes=1):
    rows = []
    for i in range(count):
        base = 42_000 + i
        ms = int((start + timedelta(minutes=minutes * i)).timestamp() * 1000)
        rows.append([ms, f"{base}.10", f"{base + 5}.25", f"{base - 5}.75", f"{base}.60", "3.125"])
    return rows


@pytest.fixture
def binance(settings):
    klines = {("BTCUSDT", "1m"): _klines(T0, 30), ("BTCUSDT", "5m"): _klines(T0, 12, 5)}
    with StandInExchange(klines=klines) as standin:
        settings.CCXT_API_URL = standin.url
        settings.CCXT_OPTIONS = CCXT_OPTIONS
        yield standin


def test_ccxt_provider_maps_symbol_and_timeframe_and_parses_decimals(binance):
    provider = CcxtProvider(exchange_id="binance", clock=fixed_clock(T0 + timedelta(days=1)))
    start, end = T0 + timedelta(minutes=10), T0 + timedelta(hours=1)
    bars = provider.fetch_candles(symbol="BTCUSDT", resolution=5, start=start, end=end)
    assert bars[0] == Bar(
        open_time=T0 + timedelta(minutes=10),
        open=Decimal("42002.1"),
        high=Decimal("42007.25"),
        low=Decimal("41997.75"),
        close=Decimal("42002.6"),
        volume=Decimal("3.125"),
    )
    assert [bar.open_time.minute for bar in bars] == [10, 15, 20, 25, 30, 35, 40, 45, 50, 55]
    klines = [r for r in binance.requests if r["path"] == "/api/v3/klines"]
    assert "symbol=BTCUSDT" in klines[0]["query"] and "interval=5m" in klines[0]["query"]
    assert all(r["headers"].get("Host", "").startswith("127.0.0.1") for r in binance.requests)


def test_ccxt_provider_loads_the_markets_once_per_process(binance, settings):
    settings.MARKET_DATA_PROVIDER = "ccxt"
    for _ in range(2):
        bars = get_provider().fetch_candles(
            symbol="BTCUSDT", resolution=1, start=T0, end=T0 + MINUTE * 3
        )
        assert len(bars) == 3
    paths = [r["path"] for r in binance.requests]
    assert paths.count("/api/v3/exchangeInfo") == 1 and paths.count("/api/v3/klines") == 2


def test_ccxt_provider_drops_the_bar_that_is_still_forming(binance):
    now = T0 + timedelta(minutes=7, seconds=20)  # the stand-in also serves bar 07:00
    provider = CcxtProvider(exchange_id="binance", clock=fixed_clock(now))
    bars = provider.fetch_candles(symbol="BTCUSDT", resolution=1, start=T0, end=T0 + MINUTE * 30)
    assert len(bars) == 7
    assert bars[-1].open_time == T0 + MINUTE * 6


def test_ccxt_provider_pages_through_long_ranges(binance, monkeypatch):
    monkeypatch.setattr(exchange_module, "PAGE_LIMIT", 8)
    provider = CcxtProvider(exchange_id="binance", clock=fixed_clock(T0 + timedelta(days=1)))
    bars = provider.fetch_candles(symbol="BTCUSDT", resolution=1, start=T0, end=T0 + MINUTE * 20)
    assert [bar.open_time for bar in bars] == [T0 + MINUTE * i for i in range(20)]
    assert sum(1 for r in binance.requests if r["path"] == "/api/v3/klines") == 3


def test_ccxt_provider_errors_are_market_data_errors(binance):
    provider = CcxtProvider(exchange_id="binance", clock=fixed_clock(T0 + timedelta(days=1)))
    with pytest.raises(MarketDataError, match="no spot market"):
        provider.fetch_candles(symbol="NOPEUSDT", resolution=1, start=T0, end=T0 + MINUTE)
    with pytest.raises(MarketDataError, match="timeframe"):
        provider.fetch_candles(symbol="BTCUSDT", resolution=7, start=T0, end=T0 + MINUTE)
    with pytest.raises(MarketDataError, match="Unknown exchange"):
        CcxtProvider(exchange_id="nowhere").fetch_candles(
            symbol="BTCUSDT", resolution=1, start=T0, end=T0 + MINUTE
        )


def test_ccxt_provider_reports_an_unreachable_exchange(settings):
    with StandInExchange() as standin:
        url = standin.url
    settings.CCXT_API_URL = url  # the stand-in has stopped: connection refused
    settings.CCXT_OPTIONS = CCXT_OPTIONS
    provider = CcxtProvider(exchange_id="binance")
    with pytest.raises(MarketDataError, match="binance OHLCV failed"):
        provider.fetch_candles(symbol="BTCUSDT", resolution=1, start=T0, end=T0 + MINUTE)


# --- csv provider ----------------------------------------------------------------------


def test_csv_provider_reads_the_symbol_file_and_keeps_the_range(tmp_path):
    (tmp_path / "ETHUSDT-5.csv").write_text(
        "time,open,high,low,close,volume\n"
        "2026-01-01T00:00:00Z,3000,3010,2990,3005,12\n"
        "2026-01-01T00:05:00Z,3005,3020,3000,3015,8\n"
        "2026-01-01T00:10:00Z,oops,3020,3000,3015,8\n"
        "2026-01-01T00:15:00Z,3015,3030,3010,3025,9\n"
    )
    provider = CsvProvider(directory=tmp_path)
    start, end = T0 + timedelta(minutes=5), T0 + timedelta(hours=1)
    bars = provider.fetch_candles(symbol="ETHUSDT", resolution=5, start=start, end=end)
    assert [(bar.open_time.minute, bar.close) for bar in bars] == [
        (5, Decimal("3015")),
        (15, Decimal("3025")),
    ]
    assert provider.fetch_candles(symbol="BTCUSDT", resolution=5, start=T0, end=T0 + MINUTE) == []


# --- services and selector ------------------------------------------------------------


@pytest.mark.django_db
def test_upsert_counts_new_updated_and_unchanged():
    bars = synthetic(resolution=5, count=4)
    assert candles_upsert(symbol="btcusdt", resolution=5, bars=bars) == UpsertReport(new=4)
    changed = Bar(**{**bars[1].__dict__, "close": bars[1].close + 1})
    report = candles_upsert(symbol="BTCUSDT", resolution=5, bars=[bars[0], changed, *bars[2:]])
    assert report == UpsertReport(updated=1, unchanged=3)
    assert Candle.objects.get(open_time=bars[1].open_time).close == bars[1].close + 1
    assert Candle.objects.filter(symbol="BTCUSDT", resolution=5).count() == 4


@pytest.mark.django_db
def test_upsert_rounds_to_the_column_and_then_sees_no_change():
    bar = Bar(
        open_time=T0,
        open=Decimal("1.123456789"),
        high=Decimal("2"),
        low=Decimal("1"),
        close=Decimal("1.5"),
        volume=Decimal("10"),
    )
    assert candles_upsert(symbol="XUSDT", resolution=1, bars=[bar]) == UpsertReport(new=1)
    assert Candle.objects.get().open == Decimal("1.12345679")
    assert candles_upsert(symbol="XUSDT", resolution=1, bars=[bar]) == UpsertReport(unchanged=1)


@pytest.mark.django_db
def test_upsert_refuses_unclosed_and_misaligned_bars():
    future = Bar(
        open_time=datetime.now(UTC).replace(second=0, microsecond=0),
        open=Decimal(1),
        high=Decimal(1),
        low=Decimal(1),
        close=Decimal(1),
        volume=Decimal(1),
    )
    with pytest.raises(ValueError, match="has not closed"):
        candles_upsert(symbol="BTCUSDT", resolution=1, bars=[future])
    misaligned = Bar(**{**future.__dict__, "open_time": T0 + MINUTE})
    with pytest.raises(ValueError, match="boundary"):
        candles_upsert(symbol="BTCUSDT", resolution=5, bars=[misaligned])
    with pytest.raises(ValueError, match="Unsupported resolution"):
        candles_upsert(symbol="BTCUSDT", resolution=7, bars=[])
    assert not Candle.objects.exists()


@pytest.mark.django_db
def test_candle_ensure_fetches_a_missing_candle_once():
    provider = RecordingProvider(SyntheticProvider())
    close = T0 + timedelta(minutes=15)
    candle = candle_ensure(symbol="BTCUSDT", resolution=15, candle_close=close, provider=provider)
    assert candle.open_time == T0 and candle.resolution == 15
    assert candle.close == synthetic(resolution=15, count=1)[0].close
    again = candle_ensure(symbol="BTCUSDT", resolution=15, candle_close=close, provider=provider)
    assert again.pk == candle.pk
    assert len(provider.calls) == 1


@pytest.mark.django_db
def test_candle_ensure_uses_the_configured_provider():
    candle = candle_ensure(symbol="ETHUSDT", resolution=60, candle_close=T0 + timedelta(hours=1))
    assert candle.close == synthetic(symbol="ETHUSDT", resolution=60, count=1)[0].close


@pytest.mark.django_db
def test_candle_ensure_answers_none_for_future_or_unknown_candles():
    now = datetime.now(UTC)
    future_close = now.replace(second=0, microsecond=0) + timedelta(minutes=2)
    assert candle_ensure(symbol="BTCUSDT", resolution=1, candle_close=future_close) is None
    assert (
        candle_ensure(symbol="BTCUSDT", resolution=1, candle_close=T0, provider=EmptyProvider())
        is None
    )
    with pytest.raises(ValueError, match="boundary"):
        candle_ensure(symbol="BTCUSDT", resolution=5, candle_close=T0 + MINUTE)
    assert not Candle.objects.exists()


@pytest.mark.django_db
def test_backfill_fetches_the_gaps_in_one_call_and_keeps_stored_candles():
    keep = CandleFactory(symbol="BTCUSDT", resolution=5, open_time=T0 + timedelta(minutes=20))
    provider = RecordingProvider(SyntheticProvider())
    end_close = T0 + timedelta(minutes=50, seconds=42)  # floored to 00:50
    added = candles_backfill(
        symbol="BTCUSDT", resolution=5, end_close=end_close, count=8, provider=provider
    )
    assert added == 7
    assert len(provider.calls) == 1
    assert provider.calls[0]["start"] == T0 + timedelta(minutes=10)
    assert provider.calls[0]["end"] == T0 + timedelta(minutes=50)
    opens = list(Candle.objects.values_list("open_time", flat=True))
    assert opens == [T0 + timedelta(minutes=5 * i) for i in range(2, 10)]
    keep.refresh_from_db()
    assert keep.close == Decimal("100")  # an existing candle is not overwritten
    assert (
        candles_backfill(
            symbol="BTCUSDT", resolution=5, end_close=end_close, count=8, provider=provider
        )
        == 0
    )
    assert len(provider.calls) == 1


@pytest.mark.django_db
def test_backfill_never_asks_for_candles_that_have_not_closed():
    now = datetime.now(UTC)
    added = candles_backfill(
        symbol="BTCUSDT", resolution=1, end_close=now + timedelta(hours=1), count=3
    )
    assert added == 3
    last = Candle.objects.order_by("open_time").last()
    assert last.open_time + MINUTE <= now


@pytest.mark.django_db
def test_candles_window_is_the_last_closed_candles_oldest_first(django_assert_num_queries):
    for i in range(10):
        CandleFactory(symbol="BTCUSDT", resolution=5, open_time=T0 + timedelta(minutes=5 * i))
    CandleFactory(symbol="BTCUSDT", resolution=15, open_time=T0)
    CandleFactory(symbol="ETHUSDT", resolution=5, open_time=T0)
    candle_close = T0 + timedelta(minutes=30)  # the candle opening at 00:25 closes then
    with django_assert_num_queries(1):
        window = candles_window(symbol="btcusdt", resolution=5, candle_close=candle_close, count=4)
    assert [c.open_time for c in window] == [T0 + timedelta(minutes=m) for m in (10, 15, 20, 25)]
    short = candles_window(symbol="BTCUSDT", resolution=5, candle_close=T0 + MINUTE * 10, count=5)
    assert len(short) == 2
    assert candles_window(symbol="BTCUSDT", resolution=5, candle_close=candle_close, count=0) == []
