"""Every example of docs/strategy-guide.md works as the guide says: each ```python block is
a complete strategy that passes the upload checks, is uploaded through the API with the
guide's own upload body, runs in the real sandbox to a valid signal, and is backtested
with the guide's own `manage.py backtest` command, without a failed step."""

import json
import re
import shlex
from datetime import datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from backtests.models import Backtest
from executions.engine.sandbox_call import candles_payload, sandbox_limits
from executions.sandbox import run_strategy
from executions.trading.signal_parser import parse_signal
from marketdata.selectors import candles_window
from marketdata.services import candles_backfill
from strategies.models import Strategy
from strategies.validation import validate_strategy_source

pytestmark = pytest.mark.django_db

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "strategy-guide.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", GUIDE.read_text(), re.M | re.S)


PYTHON = _blocks("python")
(UPLOAD_BODY,) = _blocks("json")
(BACKTEST_COMMAND,) = _blocks("sh")


def _backtest_command() -> tuple[list[str], dict[str, str]]:
    """The guide's command: its arguments, and them as {option: value}."""
    words = shlex.split(BACKTEST_COMMAND.replace("\\\n", " "))
    assert words[:3] == ["python", "manage.py", "backtest"]
    arguments = words[3:]
    return arguments, dict(zip(arguments[::2], arguments[1::2], strict=True))


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_the_guide_has_its_examples():
    assert len(PYTHON) >= 5
    assert "generate_signal(candles, params)" in GUIDE.read_text()


@pytest.mark.parametrize("source", PYTHON, ids=[f"example-{n}" for n in range(len(PYTHON))])
def test_each_example_uploads_runs_and_backtests(source, auth_client, user):
    validate_strategy_source(source)
    body = json.loads(UPLOAD_BODY)
    body["strategyCode"] = source
    response = auth_client.post("/api/strategy-upload/strategies", body, format="json")
    assert response.status_code == 201, response.content
    strategy = Strategy.objects.get(code=body["code"])
    assert strategy.is_public is False  # as the body asks
    config = strategy.execution_config

    arguments, options = _backtest_command()
    assert options["--strategy"] == body["code"]
    start, end = _parse_time(options["--start"]), _parse_time(options["--end"])
    # The period plus the lookback before it, from the synthetic provider.
    candles_backfill(
        symbol=config["symbol"],
        resolution=config["resolution"],
        end_close=end,
        count=int((end - start).total_seconds() // 60 // config["resolution"])
        + config["lookbackPeriod"],
    )

    # One live-style run in the real sandbox: a signal the platform accepts.
    window = candles_window(
        symbol=config["symbol"],
        resolution=config["resolution"],
        candle_close=end,
        count=config["lookbackPeriod"],
    )
    result = run_strategy(
        source,
        candles_payload(window),
        config,
        limits=sandbox_limits(),
        backend=settings.SANDBOX_BACKEND,
    )
    assert result.ok, result.error
    parse_signal(result.signal, last_close=window[-1].close)

    out = StringIO()
    call_command("backtest", *arguments, stdout=out)
    backtest = Backtest.objects.get(strategy=strategy)
    assert backtest.status == Backtest.Status.COMPLETED, backtest.error_message
    assert backtest.metrics["strategy_errors"] == 0, backtest.metrics
    assert "total return" in out.getvalue()
    assert Decimal(backtest.params["capital"]) == Decimal(options["--capital"])


def test_the_guide_is_served_and_linked_from_the_landing_page_and_the_upload(api_client):
    page = api_client.get("/docs/strategy-guide")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>Writing a strategy</h1>" in html
    assert "<table>" in html and "<code>generate_signal</code>" in html
    assert 'href="/docs/strategy-guide"' in api_client.get("/").content.decode()
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    upload = schema["paths"]["/api/strategy-upload/strategies"]["post"]
    assert "[strategy guide](/docs/strategy-guide)" in upload["description"]
    assert "docs/strategy-guide.md" in (GUIDE.parents[1] / "README.md").read_text()
