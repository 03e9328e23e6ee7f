"""manage.py backtest, the admin page of a backtest and its equity curve SVG."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from backtests.management.commands.backtest import progress_bar
from backtests.models import Backtest
from backtests.tests.helpers import (
    SCRIPT,
    SPECIAL,
    closes,
    make_candles,
    run_backtest,
    scripted_strategy,
)

pytestmark = pytest.mark.django_db


def test_command_runs_with_a_progress_bar_and_prints_the_table():
    make_candles(10, SPECIAL)
    strategy = scripted_strategy(SCRIPT)
    out = StringIO()
    call_command(
        "backtest",
        "--strategy",
        strategy.code,
        "--start",
        closes(2).isoformat(),
        "--end",
        closes(9).isoformat(),
        "--capital",
        "10000",
        "--fee-rate",
        "0.001",
        stdout=out,
    )
    text = out.getvalue()
    assert f"\r{progress_bar(8, 8)}" in text
    assert "trades                  3" in text
    assert "total return            181.60" in text
    assert "win rate                66.67%" in text
    assert "profit factor           2.74" in text
    assert Backtest.objects.get().status == Backtest.Status.COMPLETED
    assert "COMPLETED: 8 BTCUSDT 60m candles: 3 trades, 66.67% won, return 181.60" in text
    assert "0E-8" not in text


def test_command_errors():
    with pytest.raises(CommandError, match="no strategy with the code 'nope'"):
        call_command(
            "backtest",
            "--strategy",
            "nope",
            "--start",
            "2026-01-01T00:00:00Z",
            "--end",
            "2026-01-02T00:00:00Z",
        )
    strategy = scripted_strategy({})
    with pytest.raises(CommandError, match="needs a time zone"):
        call_command(
            "backtest",
            "--strategy",
            strategy.code,
            "--start",
            "2026-01-01T00:00",
            "--end",
            "2026-01-02T00:00:00Z",
        )
    with pytest.raises(CommandError, match="The end must be after the start"):
        call_command(
            "backtest",
            "--strategy",
            strategy.code,
            "--start",
            "2026-01-02T00:00:00Z",
            "--end",
            "2026-01-01T00:00:00Z",
        )
    with pytest.raises(
        CommandError,
        match="backtest FAILED: no BTCUSDT:60 candles close between 2026-01-01T00:00:00Z",
    ):
        call_command(
            "backtest",
            "--strategy",
            strategy.code,
            "--start",
            "2026-01-01T00:00:00Z",
            "--end",
            "2026-01-02T00:00:00Z",
            stdout=StringIO(),
        )


def test_progress_bar():
    assert progress_bar(5, 10, width=10) == "[#####     ]  50% 5/10"
    assert progress_bar(0, 0, width=4) == "[####] 100% 0/0"


def test_admin_shows_metrics_and_the_equity_curve(client, staff_user):
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    make_candles(10, SPECIAL)
    backtest = run_backtest(scripted_strategy(SCRIPT), start=closes(2), end=closes(9))
    page = client.get(f"/admin/backtests/backtest/{backtest.id}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and "<polyline" in html
    assert "(dashed: the starting capital)" in html
    assert "<th>profit factor</th>" in html
    assert "TAKE_PROFIT" in html
    assert client.get("/admin/backtests/backtest/").status_code == 200
