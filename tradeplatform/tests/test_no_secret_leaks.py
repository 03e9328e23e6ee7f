"""No broker secret anywhere: through a whole flow against a real (stand-in) exchange,
every log line at DEBUG, every API answer, the command's output and every admin page are
searched for the API key and the API secret."""

import logging
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.tests.factories import UserFactory
from executions.models import StrategyExecution, Trade
from executions.tasks import orders_reconcile
from executions.tests.helpers import CLOSE, PERIOD, RESOLUTION, SYMBOL, make_candles
from marketdata.exchange_standin import CCXT_OPTIONS, StandInExchange
from marketdata.tests.factories import CandleFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

API_KEY = "leak-canary-key-7Hq2Zr9XvB4mN1pL"
API_SECRET = "leak-canary-secret-Wd8Ks3Jf6Ty0Ua5Ge"
BUY = (
    "def generate_signal(candles, params):\n"
    '    return {"action": "BUY", "stopLoss": 95.0, "takeProfit": 110.0}\n'
)


@pytest.fixture
def exchange(settings):
    with StandInExchange(accounts={API_KEY: API_SECRET}, prices={"BTCUSDT": "100"}) as standin:
        settings.CCXT_API_URL = standin.url
        settings.CCXT_OPTIONS = CCXT_OPTIONS
        yield standin


class Seen:
    """Everything the platform showed or wrote during the flow."""

    def __init__(self):
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, text: str | bytes) -> None:
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        self.texts.append((where, text))

    def answer(self, where: str, response, status: int = 200):
        self.add(where, response.content)
        assert response.status_code == status, (where, response.content[:500])
        return response.json() if "json" in response.get("Content-Type", "") else None

    def assert_no_secret(self):
        leaks = [where for where, text in self.texts if API_KEY in text or API_SECRET in text]
        assert leaks == []


def test_no_secret_in_logs_answers_or_admin(
    exchange, caplog, orders_worker_keys, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG)  # the root logger, and with it every library's
    seen = Seen()
    owner = UserFactory()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(owner).access_token}")

    credential = seen.answer(
        "create credential",
        api.post(
            "/api/broker-credentials",
            {"brokerName": "binanceusdm", "apiKey": API_KEY, "apiSecret": API_SECRET},
            format="json",
        ),
        201,
    )["credential"]
    strategy = seen.answer(
        "create strategy",
        api.post(
            "/api/strategy-upload/strategies",
            {
                "name": "Canary",
                "code": "canary",
                "strategyCode": BUY,
                "executionConfig": {
                    "symbol": SYMBOL,
                    "resolution": RESOLUTION,
                    "lookbackPeriod": 20,
                },
            },
            format="json",
        ),
        201,
    )["strategy"]
    subscription = seen.answer(
        "subscribe",
        api.post(
            f"/api/strategies/{strategy['id']}/subscribe",
            {"capital": 10000, "riskPerTrade": 0.01, "brokerCredentialId": credential["id"]},
            format="json",
        ),
        201,
    )["subscription"]

    # A candle close with a BUY: after its commit the orders worker signs the entry with
    # the key and sends it, then the reduce-only stop-loss and take-profit.
    make_candles(count=40)
    output = []
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "run_candle",
            symbol=SYMBOL,
            resolution=RESOLUTION,
            close=CLOSE.isoformat(),
            stdout=_Sink(output),
        )
    execution = StrategyExecution.objects.get(candle_close=CLOSE)
    assert execution.status == StrategyExecution.Status.COMPLETED, execution.error_message
    assert exchange.book.orders, "the order never reached the exchange"
    trade = Trade.objects.get(execution=execution)
    assert trade.protected_on_exchange and len(exchange.book.algo_orders) == 2
    # The market reaches the take-profit on the exchange; the reconciliation books it.
    exchange.book.feed_candle(SYMBOL, "100", "120", "99", "115")
    CandleFactory(open_time=CLOSE, high=Decimal("120"), close=Decimal("115"))
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "run_candle",
            symbol=SYMBOL,
            resolution=RESOLUTION,
            close=(CLOSE + PERIOD).isoformat(),
            stdout=_Sink(output),
        )
        orders_reconcile.delay()
    trade.refresh_from_db()
    assert trade.status == Trade.Status.CLOSED and trade.exit_reason == "TAKE_PROFIT"
    seen.add("run_candle output", "".join(output))

    sub = f"/api/strategies/subscriptions/{subscription['id']}"
    strat = f"/api/strategy-upload/strategies/{strategy['id']}"
    for path in [
        "/auth/me",
        "/api/broker-credentials",
        "/api/orders",
        "/api/strategy-upload/strategies",
        strat,
        f"{strat}/executions",
        f"{strat}/backtests",
        "/api/strategies/subscriptions",
        sub,
        f"{sub}/stats",
        f"{sub}/trades",
    ]:
        seen.answer(path, api.get(path))

    staff = UserFactory(is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(staff)
    pages = ["/admin/"]
    for app, model, pk in [
        ("accounts", "brokercredential", credential["id"]),
        ("accounts", "user", owner.id),
        ("strategies", "strategy", strategy["id"]),
        ("subscriptions", "strategysubscription", subscription["id"]),
        ("executions", "strategyexecution", execution.id),
        ("executions", "trade", trade.id),
        ("executions", "order", trade.orders.first().id),
    ]:
        pages += [f"/admin/{app}/{model}/", f"/admin/{app}/{model}/{pk}/change/"]
    pages.append("/admin/accounts/brokercredential/add/")
    for page in pages:
        seen.answer(page, admin.get(page))

    for record in caplog.records:
        seen.add(f"log {record.name}", record.getMessage())
        if record.exc_info:
            seen.add(f"log {record.name}", logging.Formatter().formatException(record.exc_info))
    # DEBUG really was captured: the HTTP traffic to the exchange, among the rest.
    assert any(
        record.name.startswith("urllib3") and record.levelno == logging.DEBUG
        for record in caplog.records
    )
    seen.assert_no_secret()
    # The canary is real: the exchange did receive the key with the signed order.
    assert any(API_KEY in str(request.get("headers")) for request in exchange.requests)


class _Sink:
    def __init__(self, lines: list):
        self.lines = lines

    def write(self, text: str) -> None:
        self.lines.append(text)

    def flush(self) -> None:
        pass
