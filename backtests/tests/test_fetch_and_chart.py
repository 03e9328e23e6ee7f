"""A backtest fetches its history from the provider first, says when candles are still
missing, and its equity chart is its user's; the README's own command works on the demo."""

import re
import shlex
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from backtests.models import Backtest
from backtests.tests.helpers import SCRIPTED, run_backtest
from marketdata.models import Candle
from strategies.tests.factories import StrategyFactory

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"
START = datetime(2026, 2, 1, tzinfo=UTC)
END = START + timedelta(days=1)
CONFIG = {"symbol": "ETHUSDT", "resolution": 15, "lookbackPeriod": 20, "params": {"script": {}}}


def test_the_history_comes_from_the_synthetic_provider(settings):
    settings.MARKET_DATA_PROVIDER = "synthetic"
    strategy = StrategyFactory(strategy_code=SCRIPTED, execution_config=CONFIG)
    backtest = run_backtest(strategy, start=START, end=END)
    assert backtest.status == Backtest.Status.COMPLETED, backtest.error_message
    assert backtest.missing_candles_count == 0
    assert backtest.metrics["candles"] == 97  # the closes of a day, both ends included
    # The period and the lookback before it are stored now.
    assert Candle.objects.filter(symbol="ETHUSDT", resolution=15).count() == 97 + 19
    market = Decimal(backtest.metrics["market_change_pct"]).quantize(Decimal("0.01"))
    assert backtest.message == (
        "97 ETHUSDT 15m candles: 0 trades, - won, return 0.00 (0%), max drawdown 0%, "
        f"Sharpe - (market {market.normalize():f}%)."
    )


def test_a_csv_with_a_hole_ends_partial_naming_the_file(settings, tmp_path):
    settings.MARKET_DATA_PROVIDER = "csv"
    settings.MARKET_DATA_CSV_DIR = tmp_path
    rows = ["time,open,high,low,close,volume"]
    moment = START - timedelta(minutes=15 * 19)
    while moment < START + timedelta(hours=12):  # the first half of the day only
        rows.append(f"{moment.isoformat()},100,101,99,100,1")
        moment += timedelta(minutes=15)
    (tmp_path / "ETHUSDT-15.csv").write_text("\n".join(rows) + "\n")
    strategy = StrategyFactory(strategy_code=SCRIPTED, execution_config=CONFIG)
    backtest = run_backtest(strategy, start=START, end=END)
    assert backtest.status == Backtest.Status.PARTIAL
    assert backtest.missing_candles_count == 48
    assert backtest.missing_candles[0] == "2026-02-01T12:15:00Z"
    assert backtest.message.startswith(
        "Incomplete: 48 of 97 candles of the period are missing (the first closes at "
        f"2026-02-01T12:15:00Z): the csv market data provider has no such candles in "
        f"{tmp_path / 'ETHUSDT-15.csv'}. The figures cover the 49 candles there are."
    )


def test_the_equity_chart_is_the_users_own(settings, auth_client, other_client, api_client, user):
    settings.MARKET_DATA_PROVIDER = "synthetic"
    strategy = StrategyFactory(strategy_code=SCRIPTED, execution_config=CONFIG, user=user)
    backtest = run_backtest(strategy, start=START, end=END)
    detail = auth_client.get(
        f"/api/strategy-upload/strategies/{strategy.id}/backtests/{backtest.id}"
    ).json()["backtest"]
    assert detail["status"] == "COMPLETED"
    assert detail["message"].startswith("97 ETHUSDT 15m candles")
    assert all(moment.endswith("Z") for moment, _ in detail["equityCurve"])
    chart_url = detail["equityChartUrl"]
    for accept in ("image/svg+xml", "application/json", "*/*"):
        chart = auth_client.get(chart_url, HTTP_ACCEPT=accept)
        assert chart.status_code == 200
        assert chart["Content-Type"].startswith("image/svg+xml")
        assert chart.content.decode().lstrip().startswith("<svg")
    refused = other_client.get(chart_url)
    assert refused.status_code == 404
    assert refused["Content-Type"] == "application/json"
    assert set(refused.json()) == {"error"}
    assert api_client.get(chart_url).status_code == 401


def test_the_readme_backtest_command_works_on_the_demo(
    settings, django_capture_on_commit_callbacks
):
    settings.MARKET_DATA_PROVIDER = "synthetic"
    settings.DEBUG = True  # seed_demo's development-only guard
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    (command,) = re.findall(r"^python manage.py backtest .*$", README.read_text(), re.M)
    words = shlex.split(command)
    out = StringIO()
    call_command(*words[2:], stdout=out)
    text = out.getvalue()
    assert "COMPLETED: 10,081 BTCUSDT 1m candles:" in text
    assert "missing candles         0" in text
    assert "Incomplete" not in text
