"""Demo data for development: `python manage.py seed_demo` (`make run` calls it at every
start). Idempotent: what exists is kept, what is missing is created, and the candles are
topped up to the current minute; every change goes through the same services as the API,
so counters and the candle registry stay right.

Lives in executions because it touches every app (imports go one way, and executions is
the app that may import all the others).
"""

import secrets
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import BrokerCredential, User
from accounts.services import broker_credential_create
from marketdata.services import candles_backfill
from strategies.examples import EXAMPLES
from strategies.models import Strategy
from strategies.services import strategy_create, strategy_update
from subscriptions.models import StrategySubscription
from subscriptions.services import subscription_create

ADMIN_EMAIL = "admin@example.com"
DEMO_EMAIL = "demo@example.com"
DEMO_SYMBOLS = ("BTCUSDT", "ETHUSDT")
DEMO_RESOLUTION = 1
# Extra closed candles beyond the longest lookback, so the first runs have history.
CANDLE_MARGIN = 20

# Risk settings per example, so the admin shows subscriptions that differ.
RISK_PROFILES = {
    "sma-crossover": {
        "capital": Decimal("10000"),
        "risk_per_trade": Decimal("0.01"),
        "leverage": 10,
        "max_positions": 1,
    },
    "rsi-mean-reversion": {
        "capital": Decimal("5000"),
        "risk_per_trade": Decimal("0.005"),
        "leverage": 5,
        "max_positions": 2,
        "max_daily_loss": Decimal("0.03"),
    },
    "donchian-breakout": {
        "capital": Decimal("25000"),
        "risk_per_trade": Decimal("0.02"),
        "leverage": 20,
        "max_positions": 3,
        "max_daily_loss": Decimal("0.10"),
        "sl_atr_multiplier": Decimal("1.5"),
        "tp_atr_multiplier": Decimal("3"),
    },
}


@dataclass
class SeedReport:
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    candles_added: int = 0

    def note(self, created: bool, what: str) -> None:
        (self.created if created else self.kept).append(what)


def _user(*, email: str, password: str, staff: bool, report: SeedReport) -> User:
    user = User.objects.filter(email=email).first()
    if user is not None:
        report.note(False, f"user {email} (password left as it is)")
        return user
    if staff:
        user = User.objects.create_superuser(email=email, password=password)
    else:
        user = User.objects.create_user(email=email, password=password)
    report.note(True, f"user {email}")
    return user


def _paper_credential(*, user: User, report: SeedReport) -> BrokerCredential:
    credential = user.broker_credentials.filter(
        broker_name=BrokerCredential.PAPER, is_active=True
    ).first()
    if credential is not None:
        report.note(False, f"paper broker credential of {user.email}")
        return credential
    # Random and never shown: the paper broker needs no real key.
    credential = broker_credential_create(
        user=user,
        broker_name=BrokerCredential.PAPER,
        api_key=f"paper-{secrets.token_hex(16)}",
        api_secret=secrets.token_urlsafe(32),
    )
    report.note(True, f"paper broker credential of {user.email}")
    return credential


def _strategy(*, author: User, example, symbol: str, report: SeedReport) -> Strategy:
    code = f"{example.code}-{symbol.lower()}"
    config = {
        "symbol": symbol,
        "resolution": DEMO_RESOLUTION,
        "lookbackPeriod": example.lookback_period,
        "params": example.params,
    }
    strategy = Strategy.objects.filter(code=code).first()
    if strategy is None:
        strategy = strategy_create(
            user=author,
            name=f"{example.name} · {symbol}",
            code=code,
            strategy_code=example.source,
            execution_config=config,
            description=example.description,
            tags=example.tags,
            is_public=True,  # the demo user subscribes to them
        )
        report.note(True, f"strategy {code}")
    elif strategy.strategy_code != example.source:
        # The example file was edited: the demo follows it (a new patch version).
        strategy = strategy_update(strategy=strategy, data={"strategy_code": example.source})
        report.note(True, f"strategy {code} (source updated from {example.filename})")
    else:
        report.note(False, f"strategy {code}")
    return strategy


def _subscription(
    *, user: User, strategy: Strategy, credential: BrokerCredential, profile: dict, report
) -> None:
    if StrategySubscription.objects.filter(user=user, strategy=strategy, is_active=True).exists():
        report.note(False, f"subscription {user.email} → {strategy.code}")
        return
    subscription_create(
        user=user, strategy_id=strategy.id, broker_credential_id=credential.id, **profile
    )
    report.note(True, f"subscription {user.email} → {strategy.code}")


def demo_seed(*, admin_password: str, demo_password: str) -> SeedReport:
    report = SeedReport()
    with transaction.atomic():
        admin = _user(email=ADMIN_EMAIL, password=admin_password, staff=True, report=report)
        demo = _user(email=DEMO_EMAIL, password=demo_password, staff=False, report=report)
        credential = _paper_credential(user=demo, report=report)
        for example in EXAMPLES:
            for symbol in DEMO_SYMBOLS:
                strategy = _strategy(author=admin, example=example, symbol=symbol, report=report)
                _subscription(
                    user=demo,
                    strategy=strategy,
                    credential=credential,
                    profile=RISK_PROFILES[example.code],
                    report=report,
                )
    count = max(example.lookback_period for example in EXAMPLES) + CANDLE_MARGIN
    for symbol in DEMO_SYMBOLS:
        report.candles_added += candles_backfill(
            symbol=symbol, resolution=DEMO_RESOLUTION, end_close=timezone.now(), count=count
        )
    return report
