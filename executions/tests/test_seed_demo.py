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
from strategies.services import strategy_deactivate, strategy_update
from subscriptions.models import StrategySubscription
from subscriptions.services import subscription_cancel

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
    assert credential.api_key_sealed not in first and credential.api_secret_sealed not in first

    second = _seed(django_capture_on_commit_callbacks)
    assert _state()[:4] == (users, credentials, strategies, subscriptions)
    assert "created  " not in second


def test_seed_demo_refuses_to_run_without_debug():
    with override_settings(DEBUG=False), pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo", stdout=StringIO())
    assert not User.objects.exists()


def test_a_second_seed_leaves_what_the_users_changed(django_capture_on_commit_callbacks):
    """The demo user cancelled a subscription and its author deleted the strategy, another
    strategy was edited: the next `make run` neither crashes nor undoes any of it."""
    _seed(django_capture_on_commit_callbacks)
    demo = User.objects.get(email="demo@example.com")
    admin = User.objects.get(email="admin@example.com")
    cancelled = StrategySubscription.objects.filter(user=demo).order_by("strategy__code").first()
    subscription_cancel(subscription=cancelled)
    strategy_deactivate(strategy=Strategy.objects.get(pk=cancelled.strategy_id))  # DELETE
    edited = Strategy.objects.filter(is_active=True).order_by("code").first()
    edited_source = "# mine\n" + edited.strategy_code
    strategy_update(strategy=edited, data={"strategy_code": edited_source, "name": "Mine"})
    before = _state()[:4]
    candles = Candle.objects.count()

    out = _seed(django_capture_on_commit_callbacks)

    assert "demo data left as it is" in out and "created  " not in out
    assert _state()[:4] == before
    assert not StrategySubscription.objects.filter(
        user=demo, strategy_id=cancelled.strategy_id, is_active=True
    ).exists()
    assert not Strategy.objects.get(pk=cancelled.strategy_id).is_active
    edited.refresh_from_db()
    assert (edited.name, edited.strategy_code) == ("Mine", edited_source)
    assert admin.check_password("admin-demo-2026")
    assert Candle.objects.count() >= candles  # topped up to now, never removed


def test_no_demo_is_seeded_into_a_database_with_users(django_capture_on_commit_callbacks):
    User.objects.create_user(email="someone@example.com", password="x" * 12)
    out = _seed(django_capture_on_commit_callbacks)
    assert "demo data left as it is" in out
    assert User.objects.count() == 1
    assert not Strategy.objects.exists()
