from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from accounts.models import BrokerCredential, User
from executions.demo import DEMO_SYMBOLS
from marketdata.models import Candle
from strategies import registry
from strategies.examples import EXAMPLES
from strategies.models import Strategy
from subscriptions.models import StrategySubscription

pytestmark = pytest.mark.django_db


def _seed(capture) -> str:
    out = StringIO()
    with override_settings(DEBUG=True), capture(execute=True):
        call_command("seed_demo", stdout=out)
    return out.getvalue()


def _state():
    return (
        User.objects.count(),
        BrokerCredential.objects.count(),
        sorted(Strategy.objects.values_list("code", "subscriber_count", "version")),
        StrategySubscription.objects.filter(is_active=True).count(),
        Candle.objects.count(),
    )


def test_seed_demo_creates_the_demo_and_is_idempotent(django_capture_on_commit_callbacks):
    first = _seed(django_capture_on_commit_callbacks)
    users, credentials, strategies, subscriptions, _ = _state()
    assert users == 2 and credentials == 1
    assert len(strategies) == len(EXAMPLES) * len(DEMO_SYMBOLS)
    assert {count for _, count, _ in strategies} == {1}  # counted by the service
    assert subscriptions == len(strategies)
    assert User.objects.get(email="admin@example.com").is_superuser
    assert not User.objects.get(email="demo@example.com").is_staff
    assert User.objects.get(email="demo@example.com").check_password("demo-trader-2026")
    risks = set(StrategySubscription.objects.values_list("risk_per_trade", flat=True))
    assert len(risks) == len(EXAMPLES)  # different risk settings
    longest = max(example.lookback_period for example in EXAMPLES)
    for symbol in DEMO_SYMBOLS:
        assert Candle.objects.filter(symbol=symbol, resolution=1).count() >= longest
        assert f"{symbol}:1" in registry.registry_active_candles()
    assert "demo@example.com / demo-trader-2026" in first
    credential = BrokerCredential.objects.get()
    assert credential.api_key not in first and credential.api_secret not in first

    second = _seed(django_capture_on_commit_callbacks)
    assert _state()[:4] == (users, credentials, strategies, subscriptions)
    assert "created  " not in second


def test_seed_demo_refuses_to_run_without_debug():
    with override_settings(DEBUG=False), pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo", stdout=StringIO())
    assert not User.objects.exists()


def test_seed_demo_follows_an_edited_example(django_capture_on_commit_callbacks):
    _seed(django_capture_on_commit_callbacks)
    strategy = Strategy.objects.order_by("code").first()
    Strategy.objects.filter(pk=strategy.pk).update(strategy_code="# old\n" + strategy.strategy_code)
    out = _seed(django_capture_on_commit_callbacks)
    strategy.refresh_from_db()
    assert "source updated" in out
    assert not strategy.strategy_code.startswith("# old")
    assert strategy.version == "1.0.1"
